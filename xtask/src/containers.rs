//! The container files, checked without a Docker engine: the compose files
//! against the Compose specification, the Dockerfiles with hadolint, and
//! the web image's config.json script with `sh`.

use std::process::Command;

use crate::paths::root;
use crate::process::run_checked;
use crate::python::PythonTools;
use crate::report::{Result, Tally};

/// Every compose file of the project.
const COMPOSE_FILES: &[&str] = &["docker-compose.yml", "docker-compose.replicas.yml"];

/// Every Dockerfile of the project.
const DOCKERFILES: &[&str] = &["api/Dockerfile", "web/Dockerfile"];

/// The Kubernetes manifests, validated against the API's schemas offline.
const KUBERNETES_DIR: &str = "deploy/kubernetes";

/// The script that writes the web app's config.json when its container
/// starts.
const CONFIG_JSON_SCRIPT: &str = "web/container/config-json.sh";

/// `cargo xtask containers`: these checks alone.
pub fn run() -> Result {
    let tools = PythonTools::install()?;
    let mut tally = Tally::default();
    check(&tools, &mut tally)?;
    println!("container files: {} checks passed", tally.steps);
    Ok(())
}

/// Checks every compose file, every Dockerfile and the web image's
/// config.json script.
pub fn check(tools: &PythonTools, tally: &mut Tally) -> Result {
    for compose in COMPOSE_FILES {
        run_checked(
            tools
                .tool("check-jsonschema")
                .args(["--builtin-schema", "vendor.compose-spec"])
                .arg(root().join(compose)),
            &format!("check-jsonschema on {compose}"),
        )?;
        tally.steps += 1;
    }
    for dockerfile in DOCKERFILES {
        run_checked(
            tools.tool("hadolint").arg(root().join(dockerfile)),
            &format!("hadolint {dockerfile}"),
        )?;
        tally.steps += 1;
    }
    kubernetes(tools, tally)?;
    config_json(tally)?;
    content_security_policy(tally)
}

/// What the script must make of an environment: this config.json, or a
/// refusal naming this variable.
enum Expected {
    Json(&'static str),
    Refused(&'static str),
}

/// Environments the web image's config.json script will meet, and what it
/// must make of them.
const CONFIG_JSON_CASES: &[(&[(&str, &str)], Expected)] = &[
    (
        &[
            ("API_BASE", "http://127.0.0.1:8080"),
            ("AUTH_ISSUER", "http://127.0.0.1:8080/dev-idp"),
        ],
        Expected::Json(
            r#"{"api_base": "http://127.0.0.1:8080", "provider": {"kind": "oidc", "issuer": "http://127.0.0.1:8080/dev-idp", "client_id": "quotes-web", "scopes": "openid profile quotes:read quotes:write"}}"#,
        ),
    ),
    (
        &[
            ("API_BASE", "https://api.example.com"),
            ("AUTH_ISSUER", "https://id.example.com/"),
            ("AUTH_CLIENT_ID", "web"),
            ("AUTH_SCOPES", "openid email"),
            ("AUTH_AUDIENCE", "https://api.example.com,https://other"),
        ],
        Expected::Json(
            r#"{"api_base": "https://api.example.com", "provider": {"kind": "oidc", "issuer": "https://id.example.com/", "client_id": "web", "scopes": "openid email", "audience": "https://api.example.com"}}"#,
        ),
    ),
    (
        &[
            ("API_BASE", "https://api.example.com"),
            ("CLERK_PUBLISHABLE_KEY", "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"),
        ],
        Expected::Json(
            r#"{"api_base": "https://api.example.com", "provider": {"kind": "clerk", "publishable_key": "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"}}"#,
        ),
    ),
    (
        &[
            ("API_BASE", "https://api.example.com"),
            ("AUTH_ISSUER", "https://id.example.com"),
            ("AUTH_CLIENT_ID", r#"a"b\c"#),
        ],
        Expected::Json(
            r#"{"api_base": "https://api.example.com", "provider": {"kind": "oidc", "issuer": "https://id.example.com", "client_id": "a\"b\\c", "scopes": "openid profile quotes:read quotes:write"}}"#,
        ),
    ),
    (
        &[("AUTH_ISSUER", "https://id.example.com")],
        Expected::Refused("API_BASE"),
    ),
    (
        &[
            ("API_BASE", "/api"),
            ("AUTH_ISSUER", "https://id.example.com"),
        ],
        Expected::Refused("API_BASE"),
    ),
    (
        &[("API_BASE", "https://api.example.com")],
        Expected::Refused("AUTH_ISSUER"),
    ),
    (
        &[
            ("API_BASE", "https://api.example.com"),
            ("AUTH_ISSUER", "https://id.example.com\n"),
        ],
        Expected::Refused("AUTH_ISSUER"),
    ),
    (
        &[
            ("API_BASE", "https://api.example.com"),
            ("AUTH_PROVIDER", "clerk"),
        ],
        Expected::Refused("CLERK_PUBLISHABLE_KEY"),
    ),
    (
        &[
            ("API_BASE", "https://api.example.com"),
            ("AUTH_PROVIDER", "saml"),
        ],
        Expected::Refused("AUTH_PROVIDER"),
    ),
];

/// Runs the web image's config.json script on every case.
fn config_json(tally: &mut Tally) -> Result {
    for (env, expected) in CONFIG_JSON_CASES {
        let output = Command::new("sh")
            .arg(root().join(CONFIG_JSON_SCRIPT))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .output()
            .map_err(|e| format!("cannot run sh {CONFIG_JSON_SCRIPT}: {e}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let fine = match expected {
            Expected::Json(json) => output.status.success() && stdout.trim_end() == *json,
            Expected::Refused(variable) => {
                !output.status.success() && stdout.is_empty() && stderr.contains(variable)
            }
        };
        if !fine {
            return Err(format!(
                "{CONFIG_JSON_SCRIPT} with {env:?}: {}, stdout {stdout:?}, stderr {stderr:?}",
                output.status
            ));
        }
        tally.steps += 1;
    }
    Ok(())
}

/// An environment, as pairs of variable and value.
type Env = &'static [(&'static str, &'static str)];

/// Environments and what the policy the script writes for them must say.
const POLICY_CASES: &[(Env, &[&str])] = &[
    (
        &[
            ("API_BASE", "https://api.example.com/v1"),
            ("AUTH_ISSUER", "https://id.example.com/realms/quotes"),
        ],
        &[
            "frame-ancestors 'none'",
            "script-src 'self' 'wasm-unsafe-eval';",
            "connect-src 'self' https://api.example.com https://id.example.com https:;",
        ],
    ),
    (
        &[
            ("API_BASE", "https://api.example.com"),
            ("CLERK_PUBLISHABLE_KEY", "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k"),
        ],
        &[
            "frame-ancestors 'none'",
            "script-src 'self' 'wasm-unsafe-eval' https://clerk.example.com https://challenges.cloudflare.com;",
            "connect-src 'self' https://api.example.com https://clerk.example.com;",
            "img-src 'self' data: https://img.clerk.com;",
        ],
    ),
];

/// Runs the script's `--csp` on every case, and on a key that names no host.
fn content_security_policy(tally: &mut Tally) -> Result {
    let run = |env: &[(&str, &str)]| {
        Command::new("sh")
            .arg(root().join(CONFIG_JSON_SCRIPT))
            .arg("--csp")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .output()
            .map_err(|e| format!("cannot run sh {CONFIG_JSON_SCRIPT}: {e}"))
    };
    for (env, expected) in POLICY_CASES {
        let output = run(env)?;
        let policy = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || !expected.iter().all(|part| policy.contains(part)) {
            return Err(format!(
                "{CONFIG_JSON_SCRIPT} --csp with {env:?}: {}, policy {policy:?}, expected {expected:?}",
                output.status
            ));
        }
        tally.steps += 1;
    }
    let bad_key = [
        ("API_BASE", "https://api.example.com"),
        ("CLERK_PUBLISHABLE_KEY", "pk_test_!!!"),
    ];
    let output = run(&bad_key)?;
    if output.status.success()
        || !String::from_utf8_lossy(&output.stderr).contains("CLERK_PUBLISHABLE_KEY")
    {
        return Err(format!(
            "{CONFIG_JSON_SCRIPT} --csp accepted a key that names no host"
        ));
    }
    tally.steps += 1;
    Ok(())
}

/// Every manifest in `deploy/kubernetes` against Kubernetes' own schemas
/// (strict: no unknown fields), and the pod's grace period long enough for
/// the drain and the requests in flight.
fn kubernetes(tools: &PythonTools, tally: &mut Tally) -> Result {
    let dir = root().join(KUBERNETES_DIR);
    let mut manifests: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    manifests.sort();
    run_checked(
        tools
            .tool("kubernetes-validate")
            .args(["--strict", "--quiet"])
            .args(&manifests),
        "kubernetes-validate",
    )?;
    tally.steps += 1;

    let read = |file: &str| {
        std::fs::read_to_string(dir.join(file)).map_err(|e| format!("{KUBERNETES_DIR}/{file}: {e}"))
    };
    let (api, config) = (read("api.yaml")?, read("config.yaml")?);
    let grace = setting(&api, "terminationGracePeriodSeconds")?;
    let drain = setting(&config, "SHUTDOWN_DRAIN_SECS")?;
    let finish = setting(&config, "SHUTDOWN_TIMEOUT_SECS")?;
    if grace <= drain + finish {
        return Err(format!(
            "{KUBERNETES_DIR}: terminationGracePeriodSeconds ({grace}) must exceed \
             SHUTDOWN_DRAIN_SECS + SHUTDOWN_TIMEOUT_SECS ({drain} + {finish}), or the pod \
             is killed with requests in flight"
        ));
    }
    println!("kubernetes: grace period {grace} s > drain {drain} s + finish {finish} s");
    tally.steps += 1;
    Ok(())
}

/// The number after `key:` in a manifest (quoted or not).
fn setting(manifest: &str, key: &str) -> Result<u64> {
    manifest
        .lines()
        .find_map(|line| line.trim().strip_prefix(key)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_matches('"').parse().ok())
        .ok_or_else(|| format!("{KUBERNETES_DIR}: no number for {key}"))
}
