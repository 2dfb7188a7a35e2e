//! `cargo xtask bench`: the load benchmark on release builds (see
//! `bench/src/main.rs`), with wrk installed when missing.

use std::process::Command;

use crate::{Result, cargo, target_dir};

pub fn run() -> Result {
    ensure_wrk()?;
    println!("==> building release binaries");
    cargo(&[
        "build",
        "--release",
        "--package",
        "quotes-api",
        "--package",
        "quotes-bench",
    ])?;
    println!("==> measuring (about a minute)");
    let status = Command::new(target_dir().join("release/quotes-bench"))
        .env("QUOTES_API_BIN", target_dir().join("release/quotes-api"))
        .status()
        .map_err(|e| format!("cannot run the benchmark: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the benchmark failed ({status})"))
    }
}

fn ensure_wrk() -> Result {
    let installed = Command::new("wrk").arg("--version").output().is_ok();
    if installed {
        return Ok(());
    }
    println!("installing wrk with apt-get (once)");
    let status = Command::new("apt-get")
        .args(["install", "-y", "-qq", "wrk"])
        .status()
        .map_err(|e| format!("the benchmark needs wrk (`apt-get install wrk`): {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("the benchmark needs wrk: `apt-get install wrk`".to_owned())
    }
}
