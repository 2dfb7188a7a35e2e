//! The programs checks and builds need beyond cargo, found on this
//! machine or installed once: cargo-installed tools, npm packages from a
//! lock file, Debian packages, and Chromium with its chromedriver.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::paths::{cargo_home, root};
use crate::process::{is_root, run_checked};
use crate::report::Result;

/// `binary` of exactly `version` (as its `--version` prints it), from PATH
/// or cargo's bin folder, else installed with `cargo install` and `args`
/// (the package, its version and any flags).
pub fn cargo_tool(binary: &str, version: &str, args: &[&str]) -> Result<PathBuf> {
    let installed = cargo_home().map(|home| home.join("bin").join(binary));
    let candidates = [Some(PathBuf::from(binary)), installed];
    let wanted = format!("{binary} {version}");
    let matching = |path: &PathBuf| {
        Command::new(path)
            .arg("--version")
            .output()
            .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == wanted)
    };
    let found = || {
        candidates
            .iter()
            .flatten()
            .find(|path| matching(path))
            .cloned()
    };
    if let Some(found) = found() {
        return Ok(found);
    }
    println!("installing {} (once; a few minutes)", args.join(" "));
    run_checked(
        Command::new(env!("CARGO")).arg("install").args(args),
        &format!("cargo install {}", args.join(" ")),
    )?;
    found().ok_or_else(|| format!("{wanted} was installed but is not on PATH"))
}

/// `npm ci` in `folder`, from its lock file, once: nothing happens while
/// every path of `installed` (inside the folder) is there. `what` is
/// what gets installed, `how_long` about how long it takes.
pub fn npm_ci(
    folder: &Path,
    installed: &[&str],
    (what, how_long): (&str, &str),
    env: &[(&str, &str)],
) -> Result {
    if installed.iter().all(|path| folder.join(path).exists()) {
        return Ok(());
    }
    println!("installing {what} with npm (once; {how_long})");
    run_checked(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(folder)
            .envs(env.iter().copied()),
        &format!(
            "npm ci in {} (Node.js 20 or newer is needed)",
            folder.strip_prefix(root()).unwrap_or(folder).display()
        ),
    )
}

/// The program named by `variable`, or the first of `paths` that exists,
/// or the first of `paths` once apt has installed `package`.
pub fn installed(variable: &str, paths: &[&str], package: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        return Some(PathBuf::from(path));
    }
    let find = || paths.iter().map(PathBuf::from).find(|path| path.exists());
    if let Some(path) = find() {
        return Some(path);
    }
    if is_root() && PathBuf::from("/usr/bin/apt-get").exists() {
        println!("installing {package} with apt-get (once; under a minute)");
        let updated = Command::new("apt-get").args(["update", "-qq"]).status();
        let installed = Command::new("apt-get")
            .args(["install", "-y", "-qq", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
        if updated.is_ok_and(|s| s.success()) && installed.is_ok_and(|s| s.success()) {
            return find();
        }
    }
    None
}

/// Chromium, installed with apt when missing and we may (CI runs as root).
pub fn chromium() -> Result<PathBuf> {
    installed(
        "CHROMIUM",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        "chromium",
    )
    .ok_or_else(|| {
        "the browser checks need Chromium: install it (`apt-get install chromium`) \
         or set CHROMIUM to a Chromium or Chrome executable"
            .to_owned()
    })
}

/// chromedriver for Chromium (the component tests drive the browser
/// through it): `CHROMEDRIVER`, then `chromedriver` on `PATH`, then
/// Debian's, installed with apt when missing and we may.
pub fn chromedriver() -> Result<PathBuf> {
    chromium()?;
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|folder| folder.join("chromedriver"))
            .find(|candidate| candidate.is_file())
    });
    if let (None, Some(found)) = (std::env::var_os("CHROMEDRIVER"), on_path) {
        return Ok(found);
    }
    installed(
        "CHROMEDRIVER",
        &["/usr/bin/chromedriver"],
        "chromium-driver",
    )
    .ok_or_else(|| {
        "the component tests need chromedriver: install it (`apt-get install \
         chromium-driver`) or set CHROMEDRIVER to one that matches your Chromium or Chrome"
            .to_owned()
    })
}
