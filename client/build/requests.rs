//! Lets request bodies carry what a person typed, unchecked, to the API.
//!
//! For a string with `minLength`, `maxLength` or `pattern`, progenitor
//! generates a newtype that refuses a bad value before it is sent, with a
//! message such as `doesn't match pattern "^[^\u0000-..."`. The API checks
//! the same rules (after trimming) and answers a problem whose `detail` is
//! written for that person, so the client sends the text as it is: these
//! three constraints are removed from the string properties of JSON
//! request bodies. Responses keep them, so an answer that breaks the
//! document is still caught.

use serde_json::Value;

/// Removes length and pattern constraints from the string properties of
/// every JSON request body schema (inline or `#/components/schemas/...`).
pub fn unconstrain_request_strings(document: &mut Value) {
    let mut names = Vec::new();
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in operation.values_mut() {
                let Some(schema) =
                    operation.pointer_mut("/requestBody/content/application~1json/schema")
                else {
                    continue;
                };
                match schema.get("$ref").and_then(Value::as_str) {
                    Some(reference) => names.extend(
                        reference
                            .strip_prefix("#/components/schemas/")
                            .map(str::to_owned),
                    ),
                    None => unconstrain(schema),
                }
            }
        }
    }
    for name in names {
        if let Some(schema) = document
            .get_mut("components")
            .and_then(|c| c.get_mut("schemas"))
            .and_then(|s| s.get_mut(&name))
        {
            unconstrain(schema);
        }
    }
}

fn unconstrain(schema: &mut Value) {
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for property in properties.values_mut().filter_map(Value::as_object_mut) {
        if property.get("type").is_some_and(|t| t == "string") {
            for keyword in ["minLength", "maxLength", "pattern"] {
                property.remove(keyword);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::unconstrain_request_strings;

    #[test]
    fn request_strings_lose_their_constraints_and_responses_keep_them() {
        let text = json!({"type": "string", "minLength": 1, "maxLength": 9, "pattern": "^a$"});
        let mut document = json!({
            "paths": {"/x": {
                "put": {"requestBody": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Save"},
                }}}},
                "post": {"requestBody": {"content": {"application/json": {
                    "schema": {"type": "object", "properties": {"inline": text}},
                }}}},
            }},
            "components": {"schemas": {
                "Save": {"type": "object", "properties": {"quote": text, "n": {"type": "integer", "maximum": 3}}},
                "Stored": {"type": "object", "properties": {"quote": text}},
            }},
        });
        unconstrain_request_strings(&mut document);
        let plain = json!({"type": "string"});
        assert_eq!(
            document["components"]["schemas"]["Save"]["properties"]["quote"],
            plain
        );
        assert_eq!(
            document["components"]["schemas"]["Save"]["properties"]["n"],
            json!({"type": "integer", "maximum": 3})
        );
        assert_eq!(
            document["paths"]["/x"]["post"]["requestBody"]["content"]["application/json"]["schema"]
                ["properties"]["inline"],
            plain
        );
        assert_eq!(
            document["components"]["schemas"]["Stored"]["properties"]["quote"],
            text
        );
    }
}
