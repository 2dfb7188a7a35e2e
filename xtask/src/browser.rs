//! Checks in a real browser: Debian's headless Chromium driven by
//! Playwright (the npm package `playwright-core`, which downloads no browser
//! of its own). Both are installed here when missing.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::server::ApiServer;
use crate::{Result, Tally, root, target_dir};

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
    if crate::is_root() && PathBuf::from("/usr/bin/apt-get").exists() {
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

/// `npm ci` for the browser scripts, once (again when a package is added).
pub fn node_modules() -> Result {
    crate::npm_ci(
        &root().join("xtask/browser"),
        &[
            "node_modules/playwright-core",
            "node_modules/@axe-core/playwright",
        ],
        ("playwright-core and axe-core", "seconds"),
        &[("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")],
    )
}

/// Swagger UI: authorize with a token and call `GET /me/quote` from the page.
pub fn swagger_ui(chromium: &PathBuf, tally: &mut Tally) -> Result {
    node_modules()?;
    let server = ApiServer::start("swagger", &[])?;
    let token = server.dev_token("swagger_user")?;
    let status = Command::new("node")
        .arg(root().join("xtask/browser/swagger.mjs"))
        .env("QUOTES_URL", server.url())
        .env("QUOTES_TOKEN", token)
        .env("CHROMIUM", chromium)
        .env("OUT", target_dir().join("xtask/screenshots"))
        .status()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if status.success() {
        tally.passed += 1;
        Ok(())
    } else {
        tally.failed += 1;
        Err("the Swagger UI check failed".to_owned())
    }
}

/// The web app end to end: the real API with its development provider
/// serving the bundle, driven through sign-in, save, replace, refuse,
/// delete and sign-out for two users, and through an outage of the API;
/// screenshots at two widths in light and dark. A second server issues
/// access tokens that live 20 seconds, for the checks of renewal and of a
/// refused renewal (the first one's outage would end its sessions).
///
/// The script asks for the outage on its standard output (`web app:
/// control stop-api` / `start-api`) and waits for `ok` on its standard
/// input, so the API really goes away and comes back.
pub fn web_app(chromium: &PathBuf, tally: &mut Tally) -> Result {
    node_modules()?;
    let dist = crate::web::build()?;
    let dist = dist.to_string_lossy();
    let mut server = ApiServer::start_with_args("web_app", &[], &["--web-dir", &dist])?;
    let short_lived = ApiServer::start_with_args(
        "web_app_short",
        &[("DEV_IDP_TOKEN_TTL_SECS", "20")],
        &["--web-dir", &dist],
    )?;
    // The Clerk stand-in hands out tokens the API accepts; the script signs
    // an expired one with the provider's key.
    let clerk_token = server.dev_token("clerk_carol")?;
    let mut child = Command::new("node")
        .arg(root().join("xtask/browser/web-app.mjs"))
        .env("QUOTES_URL", server.url())
        .env("QUOTES_SHORT_TOKENS_URL", short_lived.url())
        .env("CHROMIUM", chromium)
        .env("OUT", target_dir().join("xtask/screenshots"))
        .env("QUOTES_CLERK_TOKEN", clerk_token)
        .env("QUOTES_DEV_IDP_KEY_FILE", server.key_file())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run node: {e}"))?;
    let mut control = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut passed = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        let answer = match line.strip_prefix("web app: control ") {
            Some("stop-api") => server.stop(),
            Some("start-api") => server.start_again(),
            Some(other) => Err(format!("unknown control request `{other}`")),
            None => {
                println!("{line}");
                // The script's last line: `web app: N checks passed`.
                if let Some(n) = line
                    .strip_prefix("web app: ")
                    .and_then(|rest| rest.strip_suffix(" checks passed"))
                {
                    passed = n.parse::<u64>().ok();
                }
                continue;
            }
        };
        let reply = answer.map_or_else(|error| format!("error {error}\n"), |()| "ok\n".to_owned());
        control
            .write_all(reply.as_bytes())
            .map_err(|e| format!("cannot answer the web app script: {e}"))?;
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    match passed {
        Some(n) if status.success() => {
            tally.passed += n;
            Ok(())
        }
        _ => {
            tally.failed += 1;
            Err("the web app check failed".to_owned())
        }
    }
}
