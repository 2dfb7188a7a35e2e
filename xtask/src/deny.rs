//! The supply chain, checked with cargo-deny against `deny.toml`: licences,
//! sources (crates.io only) and bans, for each lock file of the project.
//! Advisories are left out: they need the advisory database from the
//! network.

use std::path::PathBuf;
use std::process::Command;

use crate::paths::root;
use crate::process::run_checked;
use crate::report::{Result, Tally};
use crate::tools::cargo_tool;

/// The cargo-deny release `deny.toml` is written for.
const VERSION: &str = "0.20.2";

/// Every manifest with a lock file of its own.
const MANIFESTS: &[&str] = &["Cargo.toml", "web/Cargo.toml", "fuzz/Cargo.toml"];

/// Runs `cargo deny check bans licenses sources` on every manifest, with
/// every feature on and no target filter, so every crate that could be
/// built is checked.
pub fn check(tally: &mut Tally) -> Result {
    let cargo_deny = cargo_deny()?;
    let config = root().join("deny.toml");
    for manifest in MANIFESTS {
        let result = run_checked(
            Command::new(&cargo_deny)
                .arg("--all-features")
                .arg("--config")
                .arg(&config)
                .arg("--manifest-path")
                .arg(root().join(manifest))
                // Duplicate versions are only warnings; their inclusion
                // graphs would bury the result.
                .args(["check", "--hide-inclusion-graph"])
                .args(["bans", "licenses", "sources"])
                .current_dir(root()),
            &format!("cargo deny on {manifest}"),
        );
        if let Err(e) = result {
            tally.failed += 1;
            return Err(e);
        }
        tally.steps += 1;
    }
    Ok(())
}

/// `cargo-deny` of [`VERSION`], installed with cargo when missing.
fn cargo_deny() -> Result<PathBuf> {
    cargo_tool(
        "cargo-deny",
        VERSION,
        &["--locked", "cargo-deny", "--version", VERSION],
    )
}
