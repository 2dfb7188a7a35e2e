//! The OpenAPI description as the code makes it: committed, complete,
//! consistent with the server's own rules.

use std::fmt::Write as _;

use quotes_test_support::committed_openapi;
use serde_json::Value;

/// A readable line diff, so a drift shows what changed.
fn diff(expected: &str, actual: &str) -> String {
    let expected: Vec<&str> = expected.lines().collect();
    let actual: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for index in 0..expected.len().max(actual.len()) {
        let (old, new) = (expected.get(index), actual.get(index));
        if old != new {
            let _ = writeln!(
                out,
                "line {}:\n  - {}\n  + {}",
                index + 1,
                old.unwrap_or(&"<none>"),
                new.unwrap_or(&"<none>")
            );
        }
    }
    out
}

/// The quote's pattern, as the description states it.
fn quote_pattern() -> regress::Regex {
    let document: Value = serde_json::to_value(quotes_api::openapi::document()).unwrap();
    let pattern = document["components"]["schemas"]["SaveQuote"]["properties"]["quote"]["pattern"]
        .as_str()
        .expect("the quote has a pattern")
        .to_owned();
    // ECMAScript's dialect, as JSON Schema and every generated client use it.
    regress::Regex::new(&pattern).expect("an ECMAScript pattern")
}

/// Every `$ref` in `value`, wherever it is.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                found.push(reference.clone());
            }
            map.values().for_each(|inner| references(inner, found));
        }
        Value::Array(items) => items.iter().for_each(|inner| references(inner, found)),
        _ => {}
    }
}

#[test]
fn the_committed_openapi_yaml_matches_the_code() {
    let generated = quotes_api::openapi::yaml().unwrap();
    let committed = committed_openapi();
    assert!(
        generated == committed,
        "openapi.yaml is out of date; run `cargo run -q -p quotes-api -- openapi > openapi.yaml`\n{}",
        diff(&committed, &generated)
    );
}

/// A signed-in operation names the scopes the route list gives it, in
/// both schemes.
fn assert_scoped(operation: &Value, endpoint: &quotes_api::routes::Endpoint) {
    let scopes: Vec<&str> = endpoint
        .scopes
        .iter()
        .map(quotes_core::auth::Scope::as_str)
        .collect();
    assert_eq!(
        operation["security"],
        serde_json::json!([{"oauth2": scopes}, {"bearer": scopes}]),
        "{endpoint:?}"
    );
}

#[test]
fn every_operation_is_documented_with_its_problems() {
    let document: Value = serde_json::to_value(quotes_api::openapi::document()).unwrap();
    let paths = &document["paths"];
    let endpoints = quotes_api::routes::endpoints();
    // Each operation in the document is an endpoint of the route table, and
    // each endpoint the public description lists (all but the operators'
    // `/metrics`) is in the document.
    let documented: usize = paths
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    let described: Vec<_> = endpoints.iter().filter(|e| e.described).collect();
    assert_eq!(documented, described.len(), "{endpoints:?}");
    assert!(
        paths.get("/metrics").is_none(),
        "/metrics is the operators'"
    );
    for endpoint in described {
        let path = endpoint.path.as_str();
        let method = endpoint.method.as_str().to_lowercase();
        let method = method.as_str();
        // What every operation answers: signed-in ones may be refused a
        // token or find the keys or the database away; those that read a
        // body may find it malformed, too large or of the wrong type.
        let mut statuses = vec![];
        if endpoint.signed_in {
            statuses.extend(["401", "403", "503"]);
            assert_scoped(&paths[path][method], endpoint);
        }
        if matches!(method, "put" | "post") {
            statuses.extend(["400", "413"]);
        }
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        for status in statuses {
            let response = &operation["responses"][status];
            assert!(response.is_object(), "{method} {path} lacks {status}");
            if status.starts_with(['4', '5']) {
                assert!(
                    response["content"]["application/problem+json"].is_object(),
                    "{method} {path} {status} is not a problem"
                );
            }
        }
        // Public operations say so with `security: []`.
        let requirements = operation["security"]
            .as_array()
            .expect("security is stated");
        assert_eq!(
            !requirements.is_empty(),
            path.starts_with("/me/"),
            "{method} {path} security"
        );
        for status in ["405", "default"] {
            assert!(
                operation["responses"][status]["$ref"].is_string(),
                "{method} {path} lacks {status}"
            );
        }
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{method} {path} has no success"
        );
        for (status, response) in responses {
            if response.get("$ref").is_some() {
                continue;
            }
            if status.starts_with(['4', '5']) {
                assert!(
                    response["content"]["application/problem+json"].is_object(),
                    "{method} {path} {status} is not a problem"
                );
            }
            let headers = &response["headers"];
            assert!(
                headers["X-Request-Id"].is_object(),
                "{method} {path} {status}: X-Request-Id"
            );
            if status == "503" {
                assert!(
                    headers["Retry-After"].is_object(),
                    "{method} {path} 503: Retry-After"
                );
            }
            if let Some(problem) = response["content"].get("application/problem+json") {
                let kind = problem["example"]["type"].as_str();
                assert!(
                    kind.is_some_and(|kind| quotes_api::http::error::ProblemType::ALL
                        .iter()
                        .any(|t| t.uri() == kind)),
                    "{method} {path} {status}: example problem type {kind:?}"
                );
            }
        }
    }
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_schema_accepts_every_quote_the_server_accepts() {
    use quotes_core::quotes::QuoteText;
    let pattern = quote_pattern();
    let matches = |text: &str| pattern.find(text).is_some();
    // Characters that meet at the edges of the rule: spaces the server
    // trims and JavaScript does or does not count as `\s`, controls,
    // invisible formatting, marks, and visible text.
    let pieces = [
        "a", "👍", " ", "\t", "\n", "\r", "\u{b}", "\u{85}", "\u{a0}", "\u{3000}", "\u{feff}",
        "\u{200b}", "\u{ad}", "\u{0}", "\u{1b}", "\u{9f}", "\u{301}", "\u{202e}", "\u{1c}",
    ];
    let mut checked = 0;
    for a in pieces {
        for b in pieces {
            for c in pieces {
                let text = format!("{a}{b}{c}");
                if QuoteText::parse(&text).is_ok() {
                    assert!(
                        matches(&text),
                        "the server accepts {text:?}, the schema does not"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "{checked}");
    for refused_by_both in ["", " \n ", "\u{feff}", "\u{200b}\u{200d}", "a\u{0}b"] {
        assert!(
            QuoteText::parse(refused_by_both).is_err(),
            "{refused_by_both:?}"
        );
        assert!(!matches(refused_by_both), "{refused_by_both:?}");
    }
    let long = format!("  {}  \r\n", "👍".repeat(1000));
    assert!(QuoteText::parse(&long).is_ok());
    assert!(matches(&long), "1000 emoji between spaces");
}

#[test]
fn every_reference_in_the_description_resolves() {
    // A response type names its body's schema; the schema must also be
    // registered, or clients get a dangling reference.
    let document = serde_json::to_value(quotes_api::openapi::document()).unwrap();
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(found.len() > 20, "{found:?}");
    for reference in found {
        let pointer = reference.trim_start_matches('#');
        assert!(
            document.pointer(pointer).is_some(),
            "{reference} does not resolve"
        );
    }
}
