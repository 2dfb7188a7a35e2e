//! `cargo xtask browser`: the checks in a real browser alone (all of them
//! are steps of `cargo xtask test` too): Swagger UI, the web app's
//! component tests, and the web app end to end. Debian's headless Chromium
//! runs them, driven by chromedriver for the component tests and by
//! Playwright (the npm package `playwright-core`, which downloads no
//! browser of its own) for the scripts; all are installed when missing.
//! The scripts live beside what they test, each folder with its own npm
//! lock file.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::paths::{root, target_dir};
use crate::postgres;
use crate::report::{Result, Tally, step};
use crate::server::ApiServer;
use crate::tools::{chromium, npm_ci};
use crate::web;

/// The Swagger UI script, beside the API that serves `/docs`.
const SWAGGER_UI: &str = "api/tests/browser";

/// The web app's end-to-end script, beside the app.
const WEB_APP: &str = "web/tests/e2e";

pub fn run() -> Result {
    let mut tally = Tally::default();
    postgres::check_reachable(&postgres::admin_url())?;
    steps(&mut tally)?;
    tally.print();
    Ok(())
}

/// Swagger UI, the web app's component tests and the web app end to end,
/// in Chromium.
pub fn steps(tally: &mut Tally) -> Result {
    let chromium = step("Chromium", chromium)?;
    step("Swagger UI in Chromium", || swagger_ui(&chromium, tally))?;
    step("web app component tests in Chromium", || {
        web::component_tests(tally)
    })?;
    step("the web app in Chromium", || web_app(&chromium, tally))
}

/// Swagger UI: sign in with its Authorize (PKCE at the development
/// provider) and call `GET /me/quote` from the page.
fn swagger_ui(chromium: &Path, tally: &mut Tally) -> Result {
    npm_ci(
        &root().join(SWAGGER_UI),
        &["node_modules/playwright-core"],
        ("playwright-core", "seconds"),
        &[("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")],
    )?;
    let server = ApiServer::start("swagger", &[])?;
    let token = server.dev_token("swagger_user")?;
    let status = Command::new("node")
        .arg(root().join(SWAGGER_UI).join("swagger.mjs"))
        .env("QUOTES_URL", server.url())
        .env("QUOTES_TOKEN", token)
        .env("QUOTES_USER", "swagger_user")
        .env("CHROMIUM", chromium)
        .env("OUT", target_dir().join("xtask/screenshots"))
        .status()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if status.success() {
        tally.checks += 1;
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
fn web_app(chromium: &Path, tally: &mut Tally) -> Result {
    npm_ci(
        &root().join(WEB_APP),
        &[
            "node_modules/playwright-core",
            "node_modules/@axe-core/playwright",
        ],
        ("playwright-core and axe-core", "seconds"),
        &[("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")],
    )?;
    let dist = web::build()?;
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
        .arg(root().join(WEB_APP).join("web-app.mjs"))
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
            tally.checks += n;
            Ok(())
        }
        _ => {
            tally.failed += 1;
            Err("the web app check failed".to_owned())
        }
    }
}
