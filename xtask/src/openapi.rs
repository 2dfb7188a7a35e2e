//! Checks of `openapi.yaml` with the tools its users have: the spec
//! validator, schemathesis against a live server, and a client generated in
//! another language (Python) doing a round trip.

use crate::paths::{root, target_dir};
use crate::process::run_checked;
use crate::python::PythonTools;
use crate::report::{Result, Tally};
use crate::server::ApiServer;

/// The webhook secret of the schemathesis server (a test value).
const TEST_WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Examples schemathesis generates per operation and phase.
const MAX_EXAMPLES: &str = "100";

pub fn validate(tools: &PythonTools, tally: &mut Tally) -> Result {
    run_checked(
        tools
            .tool("openapi-spec-validator")
            .arg(root().join("openapi.yaml")),
        "openapi-spec-validator",
    )?;
    tally.steps += 1;
    Ok(())
}

/// schemathesis with every check, against a live server with a valid token.
pub fn schemathesis(tools: &PythonTools, tally: &mut Tally) -> Result {
    // Every documented operation switched on, `/metrics` included, so that
    // each is exercised as described.
    let server = ApiServer::start(
        "schemathesis",
        &[
            ("CLERK_WEBHOOK_SIGNING_SECRET", TEST_WEBHOOK_SECRET),
            ("METRICS_ON_API_LISTENER", "true"),
        ],
    )?;
    let token = server.dev_token("schemathesis")?;
    run_checked(
        tools
            .tool("schemathesis")
            .arg("--config-file")
            .arg(root().join("xtask/openapi/schemathesis.toml"))
            .args(["run", &format!("{}/openapi.json", server.url())])
            .args([
                "--checks",
                "all",
                "--max-examples",
                MAX_EXAMPLES,
                "--workers",
                "2",
            ])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            // Its caches stay out of the source tree.
            .current_dir(target_dir().join("xtask"))
            .env("NO_COLOR", "1"),
        "schemathesis",
    )?;
    tally.steps += 1;
    Ok(())
}

/// Generates a Python client from the committed document and runs the
/// round trip script with it.
pub fn python_client(tools: &PythonTools, tally: &mut Tally) -> Result {
    let output = target_dir().join("xtask/python-client");
    run_checked(
        tools
            .tool("openapi-python-client")
            .args(["generate", "--overwrite", "--meta", "none"])
            .arg("--path")
            .arg(root().join("openapi.yaml"))
            .arg("--config")
            .arg(root().join("xtask/openapi/python-client.yaml"))
            .arg("--output-path")
            .arg(output.join("quotes_api_client")),
        "openapi-python-client generate",
    )?;
    let server = ApiServer::start("python_client", &[])?;
    let token = server.dev_token("python_client")?;
    let read_only = server.dev_token_with("python_client", &["--scope", "quotes:read"])?;
    run_checked(
        tools
            .tool("python")
            .arg(root().join("xtask/openapi/client_roundtrip.py"))
            .env("PYTHONPATH", &output)
            .env("QUOTES_URL", server.url())
            .env("QUOTES_TOKEN", token)
            .env("QUOTES_READ_TOKEN", read_only),
        "the Python client round trip",
    )?;
    tally.steps += 1;
    Ok(())
}
