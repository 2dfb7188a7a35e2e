//! The API client's generator (`build/client.rs`), on the host: what it
//! makes of the committed `openapi.yaml`, and the documents it must refuse
//! with the place that it cannot follow. That the code it makes compiles,
//! and fits the app, is checked by every build of the app.

#![cfg(not(target_arch = "wasm32"))]

#[path = "../build/client.rs"]
mod client;

use serde_json::{Value, json};

fn committed() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml"))
        .expect("the committed openapi.yaml");
    serde_yaml_ng::from_str(&text).expect("valid YAML")
}

/// A document with one `quotes` operation, `GET /items`, answering `Item`.
fn small(item: &Value) -> Value {
    json!({
        "paths": {
            "/items": {
                "get": {
                    "tags": ["quotes"],
                    "operationId": "get_item",
                    "responses": {
                        "200": {"content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Item"}}}},
                        "404": {"$ref": "#/components/responses/Error"}
                    }
                }
            }
        },
        "components": {
            "schemas": {
                "Item": item,
                "Problem": {"type": "object", "required": ["status"],
                            "properties": {"status": {"type": "integer", "format": "int32"}}}
            },
            "responses": {"Error": {"content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}}}}
        }
    })
}

#[test]
fn the_committed_document_makes_the_apps_three_calls_with_string_timestamps() {
    let code = client::generate(&committed(), "quotes").expect("generated");
    for expected in [
        "pub async fn get_quote(&self) -> Result<Quote, Problem>",
        "pub async fn put_quote(&self, body: &SaveQuote) -> Result<Quote, Problem>",
        "pub async fn delete_quote(&self) -> Result<(), Problem>",
        "200 | 201 => answer.json(),",
        "204 => Ok(()),",
        "pub updated_at: String,",
        "pub created_at: String,",
        "#[serde(rename = \"type\")]\n    pub type_: String,",
    ] {
        assert!(code.contains(expected), "no `{expected}` in\n{code}");
    }
    // Only the app's operations, and only the types they use.
    for absent in [
        "healthz",
        "clerk_webhook",
        "struct Ready",
        "struct ClerkEvent",
    ] {
        assert!(!code.contains(absent), "`{absent}` in\n{code}");
    }
}

#[test]
fn optional_and_nullable_properties_are_options_and_keywords_are_renamed() {
    let item = json!({
        "type": "object",
        "required": ["id", "note", "type"],
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            "note": {"type": ["string", "null"]},
            "type": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "size": {"$ref": "#/components/schemas/Size"}
        }
    });
    let mut document = small(&item);
    document["components"]["schemas"]["Size"] =
        json!({"type": "string", "enum": ["extra-large", "small"]});
    let code = client::generate(&document, "quotes").expect("generated");
    for expected in [
        "pub id: i64,",
        "pub note: Option<String>,",
        "pub tags: Option<Vec<String>>,",
        "pub size: Option<Size>,",
        "#[serde(rename = \"type\")]\n    pub type_: String,",
        "#[serde(rename = \"extra-large\")]\n    ExtraLarge,",
        "pub enum Size {",
    ] {
        assert!(code.contains(expected), "no `{expected}` in\n{code}");
    }
}

#[test]
fn a_path_parameter_becomes_an_argument_sent_as_one_encoded_segment() {
    let mut document = small(&json!({"type": "object"}));
    let operation = document["paths"]["/items"]["get"].take();
    document["paths"] = json!({"/items/{id}": {"get": operation}});
    document["paths"]["/items/{id}"]["get"]["parameters"] =
        json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let code = client::generate(&document, "quotes").expect("generated");
    assert!(
        code.contains("pub async fn get_item(&self, id: &str)"),
        "{code}"
    );
    assert!(
        code.contains(r#"&format!("/items/{}", encode_path_segment(id))"#),
        "{code}"
    );
}

#[test]
fn what_the_client_cannot_follow_stops_the_build_with_its_place() {
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "a query parameter",
            Box::new(|d| {
                d["paths"]["/items"]["get"]["parameters"] =
                    json!([{"name": "page", "in": "query", "schema": {"type": "integer"}}]);
            }),
            "operation GET /items: parameter `page` (optional in query) is not supported",
        ),
        (
            "a property of a type it does not know",
            Box::new(|d| {
                d["components"]["schemas"]["Item"] =
                    json!({"type": "object", "properties": {"when": {"oneOf": []}}});
            }),
            "#/components/schemas/Item/properties/when: a property of type [] is not supported",
        ),
        (
            "a schema made of others",
            Box::new(|d| {
                d["components"]["schemas"]["Item"] =
                    json!({"type": "object", "allOf": [{"$ref": "#/components/schemas/Problem"}]});
            }),
            "#/components/schemas/Item: `allOf` is not supported",
        ),
        (
            "two success types",
            Box::new(|d| {
                d["paths"]["/items"]["get"]["responses"]["201"] = json!({"content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
            }),
            "operation GET /items: its success answers differ in type",
        ),
        (
            "a reference to nothing",
            Box::new(|d| {
                d["paths"]["/items"]["get"]["responses"]["200"] = json!({"content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Gone"}}}});
            }),
            "#/components/schemas/Gone is referred to but not defined",
        ),
        (
            "a body that is not JSON",
            Box::new(|d| {
                d["paths"]["/items"]["get"]["requestBody"] = json!({"required": true, "content": {"text/plain": {"schema": {"type": "string"}}}});
            }),
            "operation GET /items: its request body is not application/json",
        ),
        (
            "no operation of the tag",
            Box::new(|d| d["paths"]["/items"]["get"]["tags"] = json!(["operations"])),
            "no operation is tagged `quotes`",
        ),
    ];
    for (case, change, expected) in cases {
        let mut document = small(&json!({"type": "object"}));
        change(&mut document);
        let error = client::generate(&document, "quotes").expect_err(case);
        assert!(error.contains(expected), "{case}: {error}");
    }
}
