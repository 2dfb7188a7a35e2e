//! `cargo xtask web`: builds the single-page app in `web/` into a static
//! bundle in `web/dist/` (index.html, boot.js, style.css, the JS glue and
//! the wasm).
//!
//! The pipeline is plain: `cargo build` for wasm32, `wasm-bindgen --target
//! web`, `wasm-opt -Oz`. The toolchain is picked at build time: rustup's,
//! with the `wasm32-unknown-unknown` target added when it lacks it (a
//! normal developer machine); where rustup cannot download it, Debian's
//! wasm-capable Rust (`rustc-web`), whose standard library is built from
//! source (build-std), which also lets panics abort at once
//! (`panic = "immediate-abort"`). `wasm-bindgen-cli` must match the
//! `wasm-bindgen` version in `web/Cargo.lock` exactly; it is installed
//! when missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::assets;
use crate::paths::{cargo_home, root, target_dir};
use crate::process::{is_root, run_checked};
use crate::report::{Result, Tally, count};
use crate::tools::{cargo_tool, chromedriver, npm_ci};

/// Debian's packages that make up a wasm-capable Rust.
const DEBIAN_PACKAGES: &[&str] = &["rustc-web", "cargo-web", "rust-web-src", "lld-22"];

/// The browser's target.
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The name of the library crate, as wasm-bindgen names its output.
const CRATE: &str = "quotes_web";

/// A Rust toolchain that can build for wasm32.
#[derive(Debug)]
pub enum Toolchain {
    /// rustup's, with the target installed.
    Rustup,
    /// Debian's `rustc-web`, building std from source.
    Debian,
}

impl Toolchain {
    /// Picks the toolchain: rustup's, adding the target when it lacks it;
    /// else Debian's, installed when we may. `QUOTES_WEB_TOOLCHAIN`
    /// (`rustup` or `debian`) picks one by name, to build both ways.
    pub fn pick() -> Result<Self> {
        match Self::named()? {
            None | Some(Self::Rustup) if rustup_wasm_target() => return Ok(Self::Rustup),
            Some(Self::Rustup) => {
                return Err(format!(
                    "QUOTES_WEB_TOOLCHAIN=rustup, but rustup cannot add {WASM_TARGET}"
                ));
            }
            None | Some(Self::Debian) => {}
        }
        if debian_ready() {
            return Ok(Self::Debian);
        }
        if is_root() && Path::new("/usr/bin/apt-get").exists() {
            println!("installing Debian's wasm-capable Rust with apt-get (once; a minute or two)");
            let status = Command::new("apt-get")
                .args(["install", "-y", "-qq"])
                .args(DEBIAN_PACKAGES)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .map_err(|e| format!("cannot run apt-get: {e}"))?;
            if status.success() && debian_ready() {
                return Ok(Self::Debian);
            }
        }
        Err(format!(
            "building the web app needs a Rust that targets wasm32: \
             `rustup target add {WASM_TARGET}`, or on Debian \
             `apt-get install {}`",
            DEBIAN_PACKAGES.join(" ")
        ))
    }

    /// The toolchain `QUOTES_WEB_TOOLCHAIN` names, if it is set.
    fn named() -> Result<Option<Self>> {
        match std::env::var("QUOTES_WEB_TOOLCHAIN")
            .unwrap_or_default()
            .as_str()
        {
            "" => Ok(None),
            "rustup" => Ok(Some(Self::Rustup)),
            "debian" => Ok(Some(Self::Debian)),
            other => Err(format!(
                "QUOTES_WEB_TOOLCHAIN is `{other}`: it is `rustup`, `debian` or unset"
            )),
        }
    }

    /// `cargo` of this toolchain, in `web/`, with `subcommand` and what the
    /// toolchain needs.
    pub fn cargo(&self, subcommand: &str) -> Command {
        let mut command = match self {
            Self::Rustup => Command::new(env!("CARGO")),
            Self::Debian => {
                let mut command = Command::new("/usr/bin/cargo");
                command
                    .env("RUSTC", "/usr/bin/rustc")
                    .env("RUSTDOC", "/usr/bin/rustdoc")
                    // build-std is an unstable cargo feature.
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env_remove("RUSTUP_TOOLCHAIN")
                    .env_remove("RUSTC_WRAPPER")
                    .env_remove("RUSTC_WORKSPACE_WRAPPER");
                command
            }
        };
        command.arg(subcommand);
        if let Self::Debian = self {
            // `optimize_for_size`: the standard library picks its smaller
            // code where it has two (sorting, formatting numbers).
            command.args([
                "-Zbuild-std=std,panic_abort",
                "-Zbuild-std-features=optimize_for_size",
            ]);
        }
        command
            .arg("--target-dir")
            .arg(web_target_dir())
            .current_dir(root().join("web"));
        command
    }
}

fn web_target_dir() -> PathBuf {
    target_dir().join("web")
}

/// Whether rustup's toolchain builds for wasm32, adding the target (once)
/// when it can: where rustup cannot download it, the answer is no.
fn rustup_wasm_target() -> bool {
    if rustup_has_wasm_target() {
        return true;
    }
    let rustup = Command::new("rustup").arg("--version").output();
    if !rustup.is_ok_and(|output| output.status.success()) {
        return false;
    }
    println!("adding rustup's {WASM_TARGET} target (once; seconds to a minute)");
    let added = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .status()
        .is_ok_and(|status| status.success());
    if !added {
        println!("rustup could not add {WASM_TARGET}; trying Debian's wasm-capable Rust");
    }
    added && rustup_has_wasm_target()
}

fn rustup_has_wasm_target() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .is_some_and(|sysroot| {
            Path::new(&sysroot)
                .join("lib/rustlib")
                .join(WASM_TARGET)
                .join("lib")
                .exists()
        })
}

fn debian_ready() -> bool {
    [
        "/usr/bin/rustc",
        "/usr/bin/cargo",
        "/usr/bin/rust-lld",
        "/usr/lib/rustlib/src/rust/library/std",
    ]
    .iter()
    .all(|path| Path::new(path).exists())
}

/// Builds the bundle into `web/dist/` and returns that folder.
pub fn build() -> Result<PathBuf> {
    let toolchain = Toolchain::pick()?;
    println!("building the web app with {toolchain:?}'s Rust");
    let mut cargo = toolchain.cargo("build");
    cargo.args(["--release", "--locked"]);
    let mut rustflags = short_source_paths();
    if let Toolchain::Debian = toolchain {
        // A panic stops the app at once, without formatting a message: no
        // panic machinery in the bundle (about 7% less gzip). It needs a
        // standard library built for it, which only build-std gives.
        // Without panic messages, source locations and `Debug` output are
        // dead weight too (3% more): `{:?}` prints nothing in this build,
        // so what people read is written with `Display` (it already is).
        cargo.args([
            "-Zpanic-immediate-abort",
            "--config",
            "profile.release.panic=\"immediate-abort\"",
        ]);
        rustflags.extend([
            "-Zlocation-detail=none".to_owned(),
            "-Zfmt-debug=none".to_owned(),
        ]);
    }
    // A list of strings in TOML is written as Rust's `Debug` writes one.
    cargo.arg("--config").arg(format!(
        "target.wasm32-unknown-unknown.rustflags={rustflags:?}"
    ));
    run_checked(&mut cargo, "cargo build (web)")?;
    let wasm_bindgen = wasm_bindgen()?;
    let dist = root().join("web/dist");
    if dist.exists() {
        std::fs::remove_dir_all(&dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    }
    std::fs::create_dir_all(&dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    let wasm = web_target_dir().join(format!("wasm32-unknown-unknown/release/{CRATE}.wasm"));
    run_checked(
        Command::new(&wasm_bindgen)
            .args(["--target", "web", "--no-typescript", "--out-dir"])
            .arg(&dist)
            .arg(&wasm),
        "wasm-bindgen",
    )?;
    let bundle_wasm = dist.join(format!("{CRATE}_bg.wasm"));
    optimize(&bundle_wasm)?;
    for file in ["index.html", "boot.js", "style.css", "favicon.svg"] {
        std::fs::copy(root().join("web/static").join(file), dist.join(file))
            .map_err(|e| format!("copying {file}: {e}"))?;
    }
    minify(&[dist.join(format!("{CRATE}.js")), dist.join("style.css")])?;
    assets::fingerprint(&dist, &format!("{CRATE}.js"), &format!("{CRATE}_bg.wasm"))?;
    report_size(&dist, &assets::precompress(&dist)?);
    Ok(dist)
}

/// Source paths as panics name them, without this machine's folders
/// (`yew-0.23.0/src/…` after the registry's index, `web/src/…`): no
/// build machine's paths in what is served, and shorter strings.
fn short_source_paths() -> Vec<String> {
    let mut prefixes = vec![root()];
    prefixes.extend(cargo_home().map(|home| home.join("registry/src")));
    prefixes
        .iter()
        .map(|prefix| format!("--remap-path-prefix={}/=", prefix.display()))
        .collect()
}

/// The oldest binaryen that reads what Rust 1.82 and later emit for
/// wasm32 (reference types and bulk memory, on by default).
const MIN_BINARYEN: u32 = 116;

/// `wasm-opt -Oz` in place; the bundle still works without it, only larger.
fn optimize(wasm: &Path) -> Result {
    let Some(wasm_opt) = wasm_opt() else {
        println!(
            "warning: no wasm-opt of binaryen {MIN_BINARYEN} or later (Node.js and npm install \
             one); the bundle is left unoptimized"
        );
        return Ok(());
    };
    run_checked(
        Command::new(wasm_opt)
            .args(["-Oz", "--strip-debug", "--strip-producers", "-o"])
            .arg(wasm)
            .arg(wasm),
        "wasm-opt",
    )
}

/// A `wasm-opt` new enough: the one on PATH (as the web image builds it),
/// else binaryen from npm, at the version `xtask/binaryen/package-lock.json`
/// pins, installed once. Debian bookworm's package (108) is too old.
fn wasm_opt() -> Option<PathBuf> {
    let on_path = Command::new("wasm-opt")
        .arg("--version")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| binaryen_version(&String::from_utf8_lossy(&output.stdout)));
    if on_path.is_some_and(|version| version >= MIN_BINARYEN) {
        return Some(PathBuf::from("wasm-opt"));
    }
    let folder = root().join("xtask/binaryen");
    let from_npm = "node_modules/.bin/wasm-opt";
    npm_ci(
        &folder,
        &[from_npm],
        ("binaryen's wasm-opt", "seconds"),
        &[],
    )
    .inspect_err(|e| println!("warning: {e}"))
    .ok()?;
    Some(folder.join(from_npm))
}

/// esbuild's `--minify` in place, on the JavaScript wasm-bindgen writes
/// (44 KB to 22 KB; 2 KB less gzip) and on the style sheet, with esbuild
/// from npm at the version `xtask/esbuild/package-lock.json` pins,
/// installed once. The bundle works without it, only larger.
fn minify(files: &[PathBuf]) -> Result {
    let folder = root().join("xtask/esbuild");
    let esbuild = "node_modules/.bin/esbuild";
    if let Err(e) = npm_ci(&folder, &[esbuild], ("esbuild", "seconds"), &[]) {
        println!("warning: {e}; the JavaScript and the style sheet are left unminified");
        return Ok(());
    }
    for file in files {
        let mut command = Command::new(folder.join(esbuild));
        command
            .arg(file)
            .args(["--minify", "--log-level=warning", "--allow-overwrite"])
            .arg(format!("--outfile={}", file.display()));
        if file.extension().is_some_and(|extension| extension == "js") {
            command.arg("--format=esm");
        }
        run_checked(&mut command, "esbuild")?;
    }
    Ok(())
}

/// The release in `wasm-opt --version`'s `wasm-opt version 116 (…)`.
fn binaryen_version(output: &str) -> Option<u32> {
    output
        .trim()
        .strip_prefix("wasm-opt version ")?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The version of `wasm-bindgen` in `web/Cargo.lock`.
fn locked_wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("web/Cargo.lock"))
        .map_err(|e| format!("web/Cargo.lock: {e}"))?;
    locked_version(&lock, "wasm-bindgen")
        .ok_or_else(|| "web/Cargo.lock has no wasm-bindgen".to_owned())
}

/// The version of `package` in a Cargo.lock's text.
fn locked_version(lock: &str, package: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{package}\"") {
            return lines
                .next()?
                .trim()
                .strip_prefix("version = \"")?
                .strip_suffix('"')
                .map(str::to_owned);
        }
    }
    None
}

/// `wasm-bindgen` of the locked version, installed with cargo when missing.
fn wasm_bindgen() -> Result<PathBuf> {
    wasm_bindgen_tool("wasm-bindgen")
}

/// `tool` from `wasm-bindgen-cli` of the locked version (`wasm-bindgen`,
/// `wasm-bindgen-test-runner`), installed with cargo when missing.
fn wasm_bindgen_tool(tool: &str) -> Result<PathBuf> {
    let version = locked_wasm_bindgen_version()?;
    // Without --locked: its lock file pins a crate version crates.io lacks.
    cargo_tool(tool, &version, &["wasm-bindgen-cli", "--version", &version])
}

/// Prints each file's size as built, gzip and brotli, and the whole
/// bundle's: what a first visit costs on the wire.
fn report_size(dist: &Path, sizes: &[assets::Sizes]) {
    let width = sizes.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for size in sizes {
        println!(
            "  {:<width$} {:>8} bytes, gzip {:>7}, brotli {:>7}",
            size.name, size.bytes, size.gzip, size.brotli
        );
    }
    let total = |f: fn(&assets::Sizes) -> u64| sizes.iter().map(f).sum::<u64>().div_ceil(1024);
    println!(
        "web bundle: {} ({} KB, {} KB gzip, {} KB brotli)",
        dist.display(),
        total(|s| s.bytes),
        total(|s| s.gzip),
        total(|s| s.brotli)
    );
}

/// Lints the app with clippy: for wasm32 when rustup has (or can add) the
/// target, otherwise for the host (clippy is not packaged with Debian's
/// wasm Rust).
pub fn lint() -> Result {
    let debian = matches!(Toolchain::named()?, Some(Toolchain::Debian));
    let mut command = if !debian && rustup_wasm_target() {
        Toolchain::Rustup.cargo("clippy")
    } else {
        let mut command = Command::new(env!("CARGO"));
        command
            .args(["clippy", "--target", host_target().as_str()])
            .arg("--target-dir")
            .arg(target_dir().join("web-host"))
            .current_dir(root().join("web"));
        command
    };
    run_checked(
        command.args(["--all-targets", "--locked", "--", "-D", "warnings"]),
        "cargo clippy (web)",
    )
}

/// The app's unit tests (configuration, PKCE, error messages), on the
/// host: they touch no browser API.
pub fn test(tally: &mut Tally) -> Result {
    let mut child = Command::new(env!("CARGO"))
        .args(["test", "--locked", "--color", "never", "--target"])
        .arg(host_target())
        .arg("--target-dir")
        .arg(target_dir().join("web-host"))
        .current_dir(root().join("web"))
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut failed = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(summary) = line.strip_prefix("test result: ") {
            tally.tests += count(summary, "passed");
            failed += count(summary, "failed");
        }
    }
    tally.failed += failed;
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} web app tests failed", failed.max(1)))
    }
}

/// The component tests (`web/tests/components`): the app's components
/// rendered in headless Chromium, driven by chromedriver through
/// `wasm-bindgen-test-runner`, built for wasm32 with the picked toolchain.
pub fn component_tests(tally: &mut Tally) -> Result {
    let toolchain = Toolchain::pick()?;
    let runner = wasm_bindgen_tool("wasm-bindgen-test-runner")?;
    let chromedriver = chromedriver()?;
    let mut command = toolchain.cargo("test");
    command
        .args(["--locked", "--color", "never", "--target"])
        .arg(WASM_TARGET)
        .args(["--test", "components"])
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", &runner)
        .env("CHROMEDRIVER", &chromedriver)
        .env(
            "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
            root().join("web/webdriver.json"),
        )
        // Only Chromium: the runner would take another driver it finds first.
        .env_remove("GECKODRIVER")
        .env_remove("SAFARIDRIVER")
        .env_remove("MSEDGEDRIVER")
        // Debug info makes test builds several times larger and slower to
        // process, and the runner shows no source lines anyway.
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .stdout(Stdio::piped());
    if std::env::var_os("WASM_BINDGEN_TEST_TIMEOUT").is_none() {
        // The default (20 s) is tight for a debug build on a busy machine.
        command.env("WASM_BINDGEN_TEST_TIMEOUT", "120");
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut failed = 0;
    let mut summaries = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(summary) = line.trim().strip_prefix("test result: ") {
            summaries += 1;
            tally.tests += count(summary, "passed");
            failed += count(summary, "failed");
        }
    }
    tally.failed += failed;
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() && summaries > 0 {
        Ok(())
    } else if status.success() {
        Err("the component tests printed no summary".to_owned())
    } else {
        Err(format!("{} component tests failed", failed.max(1)))
    }
}

fn host_target() -> String {
    Command::new("rustc")
        .arg("-vV")
        .output()
        .ok()
        .and_then(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .find_map(|line| line.strip_prefix("host: ").map(str::to_owned))
        })
        .unwrap_or_else(|| "x86_64-unknown-linux-gnu".to_owned())
}

#[cfg(test)]
mod tests {
    use super::locked_version;

    #[test]
    fn binaryens_release_is_read_from_its_version_line() {
        assert_eq!(
            super::binaryen_version("wasm-opt version 132 (version_132)\n"),
            Some(132)
        );
        assert_eq!(super::binaryen_version("wasm-opt version 108\n"), Some(108));
        assert_eq!(super::binaryen_version("something else"), None);
    }

    #[test]
    fn the_locked_version_is_found() {
        let lock = "[[package]]\nname = \"wasm-bindgen-macro\"\nversion = \"0.2.1\"\n\n\
                    [[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n";
        assert_eq!(
            locked_version(lock, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(locked_version(lock, "yew"), None);
    }
}
