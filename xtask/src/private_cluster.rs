//! `cargo xtask run`'s database start with no server to hand, checked as
//! a new user meets it: from a checkout under a folder only its owner may
//! enter (as root's home, or a `mktemp -d` folder, is), a private cluster
//! comes up, the API serves from it, and a saved quote is still there
//! after the cluster and the API are stopped and started again.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::net::{free_port, http_request};
use crate::paths::target_dir;
use crate::postgres::{Server, discard_private_cluster};
use crate::report::{Result, Tally};
use crate::server::ApiServer;

pub fn check(tally: &mut Tally) -> Result {
    // As root the cluster runs as user postgres, who cannot enter this
    // folder: neither its files nor its programs' working folder may be
    // in it.
    let closed = target_dir().join("xtask/private-cluster");
    // Absolute, as the working folder changes below.
    let closed = std::path::absolute(&closed).map_err(|e| format!("{}: {e}", closed.display()))?;
    let checkout = closed.join("checkout");
    std::fs::create_dir_all(&checkout).map_err(|e| format!("{}: {e}", checkout.display()))?;
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("{}: {e}", closed.display()))?;
    let dir = checkout.join("target/postgres");
    // A cluster of a check that was killed: this one starts from nothing.
    discard_private_cluster(&dir)?;
    // Nothing listens on a free port: the start finds no server there.
    let probe = format!("127.0.0.1:{}", free_port()?);
    let server = from_folder(&checkout, || Server::find(None, &probe, &dir))?;
    if !server.is_private() {
        return Err(format!(
            "something answers at {probe}; a private cluster was expected"
        ));
    }
    let mut api = ApiServer::start_on(&server.admin_url, "private_cluster", &[], &[])?;
    let token = api.dev_token("user_private_cluster")?;
    let body = r#"{"quote": "Kept across restarts."}"#;
    match http_request(&api.addr, "PUT", "/me/quote", &token, body) {
        Some((201, _)) => {}
        other => return Err(format!("saving a quote: {other:?}")),
    }
    api.stop()?;
    drop(server);
    let server = from_folder(&checkout, || Server::find(None, &probe, &dir))?;
    api.start_again()?;
    let read = http_request(&api.addr, "GET", "/me/quote", &token, "");
    drop(api);
    drop(server);
    discard_private_cluster(&dir)?;
    let _ = std::fs::remove_dir_all(&closed);
    match read {
        Some((200, body)) if body.contains("Kept across restarts.") => {
            println!("a private cluster served the API and kept its data across a restart");
            tally.steps += 1;
            Ok(())
        }
        other => {
            tally.failed += 1;
            Err(format!("after the restart: {other:?}"))
        }
    }
}

/// `run` with `folder` as the working folder, as when the task is started
/// from inside that checkout; the working folder is restored after.
fn from_folder<T>(folder: &Path, run: impl FnOnce() -> Result<T>) -> Result<T> {
    let before = std::env::current_dir().map_err(|e| format!("the working folder: {e}"))?;
    std::env::set_current_dir(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    let result = run();
    std::env::set_current_dir(&before).map_err(|e| format!("{}: {e}", before.display()))?;
    result
}
