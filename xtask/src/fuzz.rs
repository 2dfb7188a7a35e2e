//! Bounded fuzzing of the token verifier and the JWKS parser with
//! cargo-fuzz (libFuzzer), starting from the committed seed corpus.

use std::process::Command;

use crate::paths::root;
use crate::report::{Result, Tally};

/// Fuzz targets under `fuzz/fuzz_targets`.
const TARGETS: [&str; 2] = ["verify_token", "parse_jwks"];

/// Seconds each target runs.
const SECONDS_PER_TARGET: u32 = 20;

pub fn run(tally: &mut Tally) -> Result {
    let root = root();
    let toolchain = nightly_toolchain()?;
    ensure_cargo_fuzz()?;
    for target in TARGETS {
        // New inputs go to a scratch folder; the committed seeds stay as they are.
        let scratch = root.join("fuzz/target/corpus").join(target);
        std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
        let status = Command::new("cargo")
            .arg(&toolchain)
            .args(["fuzz", "run", target])
            .arg(&scratch)
            .arg(root.join("fuzz/corpus").join(target))
            .args([
                "--",
                &format!("-max_total_time={SECONDS_PER_TARGET}"),
                "-rss_limit_mb=2048",
            ])
            .current_dir(&root)
            .status()
            .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
        if status.success() {
            tally.steps += 1;
            println!("fuzz: {target} ran {SECONDS_PER_TARGET} s without a crash");
        } else {
            tally.failed += 1;
            return Err(format!(
                "{target} found a crash (see fuzz/artifacts/{target})"
            ));
        }
    }
    Ok(())
}

/// libFuzzer's instrumentation needs a nightly compiler.
fn nightly_toolchain() -> Result<String> {
    let has_nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if has_nightly {
        Ok("+nightly".to_owned())
    } else {
        Err("fuzzing needs a nightly toolchain: `rustup toolchain install nightly`".to_owned())
    }
}

fn ensure_cargo_fuzz() -> Result {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if installed {
        return Ok(());
    }
    println!("installing cargo-fuzz (once; about a minute)");
    let status = Command::new("cargo")
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("`cargo install cargo-fuzz --locked` failed".to_owned())
    }
}
