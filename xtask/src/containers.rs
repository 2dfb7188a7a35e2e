//! The container files, checked without a Docker engine: the compose file
//! against the Compose specification, the Dockerfiles with hadolint.

use crate::python::PythonTools;
use crate::{Result, Tally, root, run_checked};

/// Every Dockerfile of the project.
const DOCKERFILES: &[&str] = &["api/Dockerfile"];

pub fn check(tools: &PythonTools, tally: &mut Tally) -> Result {
    run_checked(
        tools
            .tool("check-jsonschema")
            .args(["--builtin-schema", "vendor.compose-spec"])
            .arg(root().join("docker-compose.yml")),
        "check-jsonschema on docker-compose.yml",
    )?;
    tally.passed += 1;
    for dockerfile in DOCKERFILES {
        run_checked(
            tools.tool("hadolint").arg(root().join(dockerfile)),
            &format!("hadolint {dockerfile}"),
        )?;
        tally.passed += 1;
    }
    Ok(())
}
