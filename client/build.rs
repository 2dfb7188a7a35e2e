//! Generates the typed client from the API's committed `openapi.yaml`.
//!
//! The document is converted to the OpenAPI 3.0.3 that progenitor reads
//! (`build/openapi30.rs`), request strings are left for the API to judge
//! (`build/requests.rs`), and the result is given to progenitor's generator, and the code is
//! written to `$OUT_DIR/quotes_client.rs` for `src/lib.rs` to include. Any
//! step that fails stops the build with the place in the document that
//! caused it, so a change to the API that the client cannot follow is
//! found at compile time.

#[path = "build/openapi30.rs"]
mod openapi30;
#[path = "build/requests.rs"]
mod requests;

use std::fmt::Display;
use std::path::PathBuf;

use serde_json::Value;

const DOCUMENT: &str = "../openapi.yaml";
const OUTPUT: &str = "quotes_client.rs";

fn main() {
    println!("cargo:rerun-if-changed={DOCUMENT}");
    println!("cargo:rerun-if-changed=build");

    let text = std::fs::read_to_string(DOCUMENT)
        .unwrap_or_else(|e| fail(format!("cannot read {DOCUMENT}: {e}")));
    let document: Value = serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|e| fail(format!("{DOCUMENT} is not valid YAML: {e}")));
    let mut document = openapi30::to_openapi_30(document)
        .unwrap_or_else(|e| fail(format!("{DOCUMENT} cannot be converted to OpenAPI 3.0 {e}")));
    requests::unconstrain_request_strings(&mut document);
    leave_out_what_the_client_does_not_use(&mut document);
    let spec = parse(&document).unwrap_or_else(|e| fail(e));
    let tokens = generate(&spec).unwrap_or_else(|e| {
        fail(format!(
            "progenitor cannot generate a client: {e}{}",
            failing_operations(&document)
        ))
    });
    let file = syn::parse2(tokens)
        .unwrap_or_else(|e| fail(format!("progenitor generated invalid Rust: {e}")));

    let out_dir = std::env::var_os("OUT_DIR").unwrap_or_else(|| fail("OUT_DIR is not set"));
    let output = PathBuf::from(out_dir).join(OUTPUT);
    std::fs::write(&output, prettyplease::unparse(&file))
        .unwrap_or_else(|e| fail(format!("cannot write {}: {e}", output.display())));
}

/// Two things of the document the client leaves out:
///
/// - `default` responses: progenitor counts them among the possible
///   successes and gives up when their type (a problem) differs. Statuses
///   the document does not list come back as unexpected responses, which
///   `problem` reads the same way, so nothing is lost.
/// - the optional `X-Request-Id` request header: the server makes an id
///   when none is sent, and an argument on every method for it would only
///   be `None`.
fn leave_out_what_the_client_does_not_use(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for operation in item.values_mut().filter_map(Value::as_object_mut) {
            if let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            {
                responses.remove("default");
            }
            if let Some(parameters) = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
            {
                parameters.retain(|parameter| {
                    parameter.get("$ref").and_then(Value::as_str)
                        != Some("#/components/parameters/X-Request-Id")
                });
            }
        }
    }
}

fn generator() -> progenitor::Generator {
    progenitor::Generator::new(
        progenitor::GenerationSettings::default()
            .with_interface(progenitor::InterfaceStyle::Positional)
            .with_tag(progenitor::TagStyle::Merged)
            // The client carries its token source (`src/auth.rs`), whose
            // hooks set the token and retry an expired one once.
            .with_inner_type(
                "crate::auth::Bearer"
                    .parse()
                    .expect("a type path is a token stream"),
            )
            .with_hooks(progenitor::HooksMode::Expected),
    )
}

/// Runs progenitor, which reports some documents it cannot handle by
/// panicking (e.g. `assertion failed: response_types.len() <= 1` for two
/// success types); both kinds of failure come back as the message.
fn generate(spec: &openapiv3::OpenAPI) -> Result<proc_macro2::TokenStream, String> {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(|| generator().generate_tokens(spec));
    std::panic::set_hook(quiet);
    match result {
        Ok(Ok(tokens)) => Ok(tokens),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(panic
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "progenitor panicked".to_owned())),
    }
}

/// Reads the converted document as progenitor's `OpenAPI` type; an error
/// names the field that does not fit.
fn parse(document: &Value) -> Result<openapiv3::OpenAPI, String> {
    serde_path_to_error::deserialize(document).map_err(|e| {
        format!(
            "the converted document does not parse as OpenAPI 3.0 at `{}`: {}",
            e.path(),
            e.inner()
        )
    })
}

/// Generates each operation on its own to name those progenitor rejects;
/// progenitor's own errors do not always say where they come from.
fn failing_operations(document: &Value) -> String {
    let Some(paths) = document.get("paths").and_then(Value::as_object) else {
        return String::new();
    };
    let mut failures = Vec::new();
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, operation) in item {
            let Some(operation_id) = operation.get("operationId").and_then(Value::as_str) else {
                continue; // not an operation (`parameters`, `summary`, ...)
            };
            let mut alone = document.clone();
            let mut only_item = item.clone();
            only_item.retain(|key, value| key == method || value.get("operationId").is_none());
            alone["paths"] = serde_json::json!({ path: only_item });
            let result = parse(&alone).and_then(|spec| generate(&spec).map(drop));
            if let Err(e) = result {
                failures.push(format!(
                    "\n  - operation {operation_id} ({} {path}): {e}",
                    method.to_uppercase()
                ));
            }
        }
    }
    if failures.is_empty() {
        String::new()
    } else {
        format!("\nfailing operations:{}", failures.concat())
    }
}

fn fail(message: impl Display) -> ! {
    panic!("quotes-client: cannot generate the API client from {DOCUMENT}: {message}")
}
