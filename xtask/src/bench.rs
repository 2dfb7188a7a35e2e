//! `cargo xtask bench`: the load benchmark on release builds (see
//! `bench/src/main.rs`), with wrk installed when missing.

use std::process::Command;

use crate::paths::target_dir;
use crate::process::cargo;
use crate::report::{Result, Tally};

/// The benchmark proper: release builds, 1000 users, 10 s per run.
pub fn run() -> Result {
    measure(Profile::Release, &[])
}

/// The same pipeline on debug builds for a second per run, so that `cargo
/// xtask test` keeps the benchmark working; its figures mean nothing.
pub fn smoke(tally: &mut Tally) -> Result {
    measure(
        Profile::Debug,
        &[("BENCH_SECONDS", "1"), ("BENCH_USERS", "20")],
    )?;
    tally.steps += 1;
    Ok(())
}

#[derive(Clone, Copy)]
enum Profile {
    Release,
    Debug,
}

fn measure(profile: Profile, env: &[(&str, &str)]) -> Result {
    ensure_wrk()?;
    let (flag, folder) = match profile {
        Profile::Release => (Some("--release"), "release"),
        Profile::Debug => (None, "debug"),
    };
    println!("==> building {folder} binaries");
    let mut args = vec![
        "build",
        "--package",
        "quotes-api",
        "--package",
        "quotes-bench",
    ];
    args.extend(flag);
    cargo(&args)?;
    println!("==> measuring");
    let status = Command::new(target_dir().join(folder).join("quotes-bench"))
        .env(
            "QUOTES_API_BIN",
            target_dir().join(folder).join("quotes-api"),
        )
        .envs(env.iter().copied())
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
    println!("installing wrk with apt-get (once; seconds)");
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
