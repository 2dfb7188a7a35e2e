//! Rewrites the API's OpenAPI 3.1 document into the OpenAPI 3.0.3 that
//! progenitor reads.
//!
//! utoipa writes 3.1; progenitor (through the `openapiv3` crate) only
//! accepts 3.0. The two differ in a few places, and this module rewrites
//! exactly those it knows, so that whatever it cannot express in 3.0 stops
//! the build with the place it was found instead of a silently wrong client:
//!
//! - the `openapi` version string becomes `3.0.3`;
//! - `info.license.identifier` (3.1 only) is dropped;
//! - in schemas, `type: [X, 'null']` becomes `type: X` with `nullable: true`;
//!   a `{type: 'null'}` branch of `oneOf`/`anyOf` is removed the same way,
//!   and a single remaining `$ref` is wrapped in `allOf` so that `nullable`
//!   is not ignored beside it;
//! - numeric `exclusiveMinimum`/`exclusiveMaximum` become `minimum`/`maximum`
//!   with the 3.0 boolean flag;
//! - `const: v` becomes `enum: [v]`, and a schema's `examples` array its
//!   first element as `example`.
//!
//! Refused (an error naming the JSON pointer): a type array with more than
//! one non-null type, a bare `type: 'null'`, and the 3.1-only top-level
//! `webhooks` and `jsonSchemaDialect`.
//!
//! This file is compiled by `build.rs` and, for its unit tests, by
//! `tests/openapi30.rs`.

use std::fmt;

use serde_json::{Map, Value, json};

/// The version written into the converted document.
pub const OPENAPI_30_VERSION: &str = "3.0.3";

/// A part of the document that has no OpenAPI 3.0 equivalent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionError {
    /// JSON pointer to the offending value, e.g. `/components/schemas/Quote/type`.
    pub pointer: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at `{}`: {}", self.pointer, self.message)
    }
}

impl std::error::Error for ConversionError {}

/// Converts an OpenAPI 3.1 (or already 3.0) document to OpenAPI 3.0.3.
pub fn to_openapi_30(mut document: Value) -> Result<Value, ConversionError> {
    let root = document
        .as_object_mut()
        .ok_or_else(|| error("", "the document is not an object"))?;
    match root.get("openapi").and_then(Value::as_str) {
        Some(version) if version.starts_with("3.1.") || version.starts_with("3.0.") => {}
        Some(version) => {
            return Err(error(
                "/openapi",
                format!("unsupported OpenAPI version {version}"),
            ));
        }
        None => return Err(error("/openapi", "missing the OpenAPI version string")),
    }
    root.insert("openapi".to_owned(), json!(OPENAPI_30_VERSION));
    for key in ["webhooks", "jsonSchemaDialect"] {
        if root.contains_key(key) {
            return Err(error(
                &format!("/{key}"),
                "OpenAPI 3.1 only; the client generator has no equivalent",
            ));
        }
    }
    if let Some(license) = root
        .get_mut("info")
        .and_then(|info| info.get_mut("license"))
        .and_then(Value::as_object_mut)
    {
        license.remove("identifier");
    }
    for (key, value) in root.iter_mut() {
        if key != "info" {
            rewrite(value, &format!("/{}", escape(key)), false)?;
        }
    }
    Ok(document)
}

/// Keys whose values are data (examples, defaults), never schemas.
const DATA_KEYS: [&str; 4] = ["example", "examples", "default", "enum"];

/// Keys whose values map names to schemas: their own keys are names (a
/// property may well be called `type` or `const`), not keywords.
const NAME_MAP_KEYS: [&str; 3] = ["properties", "schemas", "patternProperties"];

fn rewrite(value: &mut Value, pointer: &str, names: bool) -> Result<(), ConversionError> {
    match value {
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                rewrite(item, &format!("{pointer}/{index}"), false)?;
            }
        }
        Value::Object(object) => {
            if !names {
                rewrite_schema_keywords(object, pointer)?;
            }
            for (key, child) in object.iter_mut() {
                if names || !DATA_KEYS.contains(&key.as_str()) {
                    let child_names = !names && NAME_MAP_KEYS.contains(&key.as_str());
                    rewrite(child, &format!("{pointer}/{}", escape(key)), child_names)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Rewrites the 3.1 keywords of one object. Only values of the 3.1 shape
/// are touched (an array `type`, a numeric `exclusiveMinimum`, ...), so
/// the 3.0 parts of the document pass through unchanged.
fn rewrite_schema_keywords(
    object: &mut Map<String, Value>,
    pointer: &str,
) -> Result<(), ConversionError> {
    if let Some(Value::Array(types)) = object.get("type") {
        let type_pointer = format!("{pointer}/type");
        let nullable = types.iter().any(|t| t == "null");
        let mut others = types.iter().filter(|t| *t != "null");
        let single = match (others.next(), others.next()) {
            (Some(single), None) => single.clone(),
            (None, _) => return Err(error(&type_pointer, "a schema whose only type is null")),
            (Some(_), Some(_)) => {
                return Err(error(
                    &type_pointer,
                    format!(
                        "several types {}; OpenAPI 3.0 allows one (use oneOf)",
                        Value::Array(types.clone())
                    ),
                ));
            }
        };
        object.insert("type".to_owned(), single);
        if nullable {
            object.insert("nullable".to_owned(), Value::Bool(true));
        }
    } else if object.get("type").is_some_and(|t| t == "null") {
        return Err(error(
            &format!("{pointer}/type"),
            "`type: null` outside oneOf/anyOf has no OpenAPI 3.0 equivalent",
        ));
    }

    for keyword in ["oneOf", "anyOf"] {
        let Some(Value::Array(branches)) = object.get_mut(keyword) else {
            continue;
        };
        let before = branches.len();
        branches.retain(|branch| !is_null_schema(branch));
        if branches.len() == before {
            continue;
        }
        if branches.is_empty() {
            return Err(error(&format!("{pointer}/{keyword}"), "only null branches"));
        }
        if branches.len() == 1 {
            // `nullable` beside a `$ref` is ignored in 3.0; inside `allOf`
            // it is not.
            let only = branches.remove(0);
            object.remove(keyword);
            object.insert("allOf".to_owned(), Value::Array(vec![only]));
        }
        object.insert("nullable".to_owned(), Value::Bool(true));
    }

    for (exclusive, inclusive) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(bound) = object.get(exclusive).filter(|v| v.is_number()).cloned() {
            object.insert(inclusive.to_owned(), bound);
            object.insert(exclusive.to_owned(), Value::Bool(true));
        }
    }

    if let Some(constant) = object.remove("const") {
        object.insert("enum".to_owned(), Value::Array(vec![constant]));
    }

    if let Some(Value::Array(examples)) = object.get("examples") {
        let first = examples.first().cloned();
        object.remove("examples");
        if let Some(first) = first {
            object.entry("example").or_insert(first);
        }
    }
    Ok(())
}

fn is_null_schema(schema: &Value) -> bool {
    schema
        .as_object()
        .is_some_and(|object| object.get("type").is_some_and(|t| t == "null"))
}

/// Escapes a key for a JSON pointer (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn error(pointer: &str, message: impl Into<String>) -> ConversionError {
    ConversionError {
        pointer: pointer.to_owned(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{OPENAPI_30_VERSION, to_openapi_30};

    fn document(schemas: &Value) -> Value {
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "t",
                "version": "1",
                "license": {"name": "MIT", "identifier": "MIT"},
            },
            "paths": {},
            "components": {"schemas": schemas},
        })
    }

    fn converted_schemas(schemas: &Value) -> Value {
        to_openapi_30(document(schemas)).expect("converts")["components"]["schemas"].clone()
    }

    #[test]
    fn the_version_and_license_become_30() {
        let converted = to_openapi_30(document(&json!({}))).expect("converts");
        assert_eq!(converted["openapi"], OPENAPI_30_VERSION);
        assert_eq!(converted["info"]["license"], json!({"name": "MIT"}));
    }

    #[test]
    fn type_arrays_with_null_become_nullable() {
        let schemas = converted_schemas(&json!({
            "A": {"type": "object", "properties": {
                "name": {"type": ["string", "null"], "maxLength": 3},
                "count": {"type": ["integer"]},
            }},
        }));
        let properties = &schemas["A"]["properties"];
        assert_eq!(
            properties["name"],
            json!({"type": "string", "nullable": true, "maxLength": 3})
        );
        assert_eq!(properties["count"], json!({"type": "integer"}));
    }

    #[test]
    fn a_null_branch_of_one_of_becomes_nullable() {
        let schemas = converted_schemas(&json!({
            "A": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/B"}]},
            "C": {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
        }));
        assert_eq!(
            schemas["A"],
            json!({"allOf": [{"$ref": "#/components/schemas/B"}], "nullable": true})
        );
        assert_eq!(
            schemas["C"],
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": true})
        );
    }

    #[test]
    fn other_31_keywords_are_rewritten() {
        let schemas = converted_schemas(&json!({
            "A": {"type": "integer", "exclusiveMinimum": 0, "examples": [5, 6]},
            "B": {"type": "string", "const": "fixed"},
        }));
        assert_eq!(
            schemas["A"],
            json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true, "example": 5})
        );
        assert_eq!(schemas["B"], json!({"type": "string", "enum": ["fixed"]}));
    }

    #[test]
    fn properties_named_like_keywords_and_examples_are_left_alone() {
        let schemas = json!({
            "Problem": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "const": {"type": "string"},
                    "examples": {"type": "array", "items": {"type": "string"}},
                },
                "example": {"type": ["not", "a", "schema"]},
            },
        });
        assert_eq!(converted_schemas(&schemas), schemas);
    }

    #[test]
    fn what_30_cannot_express_is_refused_with_its_place() {
        let several = to_openapi_30(document(&json!({
            "A": {"properties": {"x": {"type": ["string", "integer"]}}},
        })))
        .expect_err("refused");
        assert_eq!(several.pointer, "/components/schemas/A/properties/x/type");
        assert!(several.message.contains("several types"), "{several}");

        let bare_null =
            to_openapi_30(document(&json!({"N": {"type": "null"}}))).expect_err("refused");
        assert_eq!(bare_null.pointer, "/components/schemas/N/type");

        let mut with_webhooks = document(&json!({}));
        with_webhooks["webhooks"] = json!({});
        assert_eq!(
            to_openapi_30(with_webhooks).expect_err("refused").pointer,
            "/webhooks"
        );

        let mut version_2 = document(&json!({}));
        version_2["openapi"] = json!("2.0");
        assert_eq!(
            to_openapi_30(version_2).expect_err("refused").pointer,
            "/openapi"
        );
    }

    #[test]
    fn the_committed_document_converts() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
        let text = std::fs::read_to_string(path).expect("openapi.yaml is readable");
        let document: Value = serde_yaml_ng::from_str(&text).expect("openapi.yaml is YAML");
        let converted = to_openapi_30(document).expect("converts");
        assert_eq!(converted["openapi"], OPENAPI_30_VERSION);
        assert!(
            !serde_json::to_string(&converted)
                .expect("serializes")
                .contains("\"null\""),
            "no null type is left"
        );
    }
}
