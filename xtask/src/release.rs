//! That a build without features has no development identity provider:
//! `quotes-api` built as a release is (without `--features dev-idp`, as
//! `api/Dockerfile` builds it by default) refuses `DEV_IDP=1` and
//! `dev-token` with one line each, and its binary holds nothing of the
//! provider. Cargo decides what is compiled in by the features, not the
//! profile, so the check builds the debug profile the test run has built
//! already (the benchmark's step builds `quotes-api` without features) and
//! does not pay for a release build of its own.

use std::process::{Command, Stdio};

use crate::paths::{root, target_dir};
use crate::process::cargo;
use crate::report::{Result, Tally};

/// Text only the provider's code holds: its sign-in page's title.
const PROVIDER_MARK: &str = "quotes dev sign-in";

pub fn check(tally: &mut Tally) -> Result {
    let result = check_build().and_then(|()| check_dockerfile());
    match result {
        Ok(()) => {
            tally.steps += 1;
            Ok(())
        }
        Err(error) => {
            tally.failed += 1;
            Err(error)
        }
    }
}

fn check_build() -> Result {
    cargo(&["build", "--quiet", "--package", "quotes-api"])?;
    let binary = target_dir().join("debug/quotes-api");
    let refusal = Command::new(&binary)
        .env_clear()
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/quotes")
        .env("DEV_IDP", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    one_line_refusal(
        &refusal,
        "DEV_IDP: this build of quotes-api has no development identity provider",
    )?;
    let token = Command::new(&binary)
        .env_clear()
        .args(["dev-token", "alice"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    one_line_refusal(
        &token,
        "dev-token: this build of quotes-api has no development identity provider",
    )?;
    let bytes = std::fs::read(&binary).map_err(|e| format!("{}: {e}", binary.display()))?;
    let mark = PROVIDER_MARK.as_bytes();
    if bytes.windows(mark.len()).any(|window| window == mark) {
        return Err(format!(
            "{} holds the development provider's code (its page title `{PROVIDER_MARK}`)",
            binary.display()
        ));
    }
    println!(
        "release build: DEV_IDP=1 and dev-token refused, and nothing of the provider in {}",
        binary.display()
    );
    Ok(())
}

/// A non-zero exit and one line on stderr, from `quotes-api`, saying
/// `expected`.
fn one_line_refusal(output: &std::process::Output, expected: &str) -> Result {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    let refused = !output.status.success()
        && lines.len() == 1
        && lines[0].starts_with("quotes-api: ")
        && lines[0].contains(expected);
    if refused {
        Ok(())
    } else {
        Err(format!(
            "expected a failure and one line saying `{expected}`, got {} and:\n{stderr}",
            output.status
        ))
    }
}

/// The release image is built with no features unless asked.
fn check_dockerfile() -> Result {
    let path = root().join("api/Dockerfile");
    let dockerfile =
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let default_empty = dockerfile
        .lines()
        .any(|line| line.trim() == "ARG FEATURES=\"\"");
    let builds_with_it = dockerfile
        .lines()
        .any(|line| line.contains("cargo build --release") && line.contains("${FEATURES}"));
    if default_empty && builds_with_it {
        println!("release image: api/Dockerfile builds with FEATURES, empty unless asked");
        Ok(())
    } else {
        Err(
            "api/Dockerfile must build quotes-api with `--features \"${FEATURES}\"` \
             and `ARG FEATURES=\"\"`, so that its image has no development provider"
                .to_owned(),
        )
    }
}
