//! `cargo xtask lint`: the static checks alone, which are also the first
//! steps of `cargo xtask test`: formatting, clippy (the workspace, and the
//! web app), the module layers, the documentation's links and the supply
//! chain.

use crate::process::cargo;
use crate::report::{Result, Tally, step};
use crate::{deny, layers, links, web};

pub fn run() -> Result {
    steps(&mut Tally::default())?;
    println!("\nxtask: every static check passed");
    Ok(())
}

/// The static checks, each a step of its own.
pub fn steps(tally: &mut Tally) -> Result {
    step("formatting", || {
        cargo(&["fmt", "--all", "--", "--check"])?;
        cargo(&["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"])?;
        cargo(&["fmt", "--manifest-path", "web/Cargo.toml", "--", "--check"])
    })?;
    step("lints", || {
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])?;
        web::lint()
    })?;
    step(
        "module layers (no upward imports, no cycles in any crate)",
        || layers::check(tally),
    )?;
    step("links in the documentation", || links::check(tally))?;
    step("supply chain (cargo deny)", || deny::check(tally))
}
