//! Writes the app's API client from `openapi.yaml`: a Rust type for each
//! schema the app's operations use, and an `async fn` on `Client` for each
//! operation with the tag the app uses.
//!
//! The client is made for the browser: requests go out through `fetch`
//! (`src/api/client.rs` holds `Client` and what the generated methods call
//! on it), timestamps stay the RFC 3339 strings the API sends, and every
//! answer that is not a success is read as the document's `Problem`. It
//! covers the shapes the document uses, no more: a shape it does not know
//! stops the build with its place in the document, so that a change to the
//! API the app cannot follow is found when the app is built, not by a
//! person using it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// The schema every answer that is not a success is read as.
pub const PROBLEM: &str = "Problem";

/// Generates the client for the operations tagged `tag` in `document` (an
/// OpenAPI 3.1 document, read as JSON values).
pub fn generate(document: &Value, tag: &str) -> Result<String, String> {
    let mut schemas = BTreeSet::from([PROBLEM.to_owned()]);
    let operations = operations(document, tag, &mut schemas)?;
    if operations.is_empty() {
        return Err(format!("no operation is tagged `{tag}`"));
    }
    let mut code = String::from(
        "// Generated from openapi.yaml by web/build.rs (web/build/client.rs): do not edit.\n",
    );
    // Types reach others through their properties: follow them all.
    let mut written = BTreeSet::new();
    while let Some(name) = schemas.iter().find(|n| !written.contains(*n)).cloned() {
        let at = format!("#/components/schemas/{name}");
        let schema = document
            .pointer(&format!("/components/schemas/{name}"))
            .ok_or_else(|| format!("{at} is referred to but not defined"))?;
        code.push_str(&schema_type(&name, schema, &at, &mut schemas)?);
        written.insert(name);
    }
    code.push_str("\nimpl Client {");
    for operation in &operations {
        code.push('\n');
        code.push_str(&operation.method_code());
    }
    code.push_str("}\n");
    Ok(code)
}

/// One operation, as the generated method makes it.
#[derive(Debug)]
struct Operation {
    id: String,
    method: String,
    path: String,
    summary: Vec<String>,
    path_parameters: Vec<String>,
    body: Option<String>,
    /// The type of the success body; `None` for no content.
    success: Option<String>,
    success_statuses: Vec<u16>,
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

fn operations(
    document: &Value,
    tag: &str,
    schemas: &mut BTreeSet<String>,
) -> Result<Vec<Operation>, String> {
    let paths = document
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("the document has no `paths`")?;
    let mut operations = Vec::new();
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, operation) in item {
            let tagged = operation
                .get("tags")
                .and_then(Value::as_array)
                .is_some_and(|tags| tags.iter().any(|t| t == tag));
            if !METHODS.contains(&method.as_str()) || !tagged {
                continue;
            }
            let at = format!("{} {path}", method.to_uppercase());
            operations.push(
                operation_of(document, path, method, operation, schemas)
                    .map_err(|e| format!("operation {at}: {e}"))?,
            );
        }
    }
    Ok(operations)
}

fn operation_of(
    document: &Value,
    path: &str,
    method: &str,
    operation: &Value,
    schemas: &mut BTreeSet<String>,
) -> Result<Operation, String> {
    let id = operation
        .get("operationId")
        .and_then(Value::as_str)
        .ok_or("it has no operationId")?;
    identifier(id, "operationId")?;
    let mut path_parameters = Vec::new();
    for parameter in operation
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let parameter = resolve(document, parameter)?;
        let name = parameter.get("name").and_then(Value::as_str).unwrap_or("?");
        let required = parameter.get("required").and_then(Value::as_bool) == Some(true);
        match parameter.get("in").and_then(Value::as_str) {
            Some("path") => {
                identifier(name, "a path parameter's name")?;
                path_parameters.push(name.to_owned());
            }
            // Optional headers (`X-Request-Id`) are the caller's to leave out.
            Some("header") if !required => {}
            place => {
                return Err(format!(
                    "parameter `{name}` ({} in {}) is not supported by the browser client",
                    if required { "required" } else { "optional" },
                    place.unwrap_or("an unknown place")
                ));
            }
        }
    }
    let body = match operation.get("requestBody") {
        None => None,
        Some(body) => {
            let body = resolve(document, body)?;
            if body.get("required").and_then(Value::as_bool) != Some(true) {
                return Err("its request body is optional; the client sends one always".into());
            }
            let schema = body
                .pointer("/content/application~1json/schema")
                .ok_or("its request body is not application/json")?;
            Some(named_type(schema, "the request body", schemas)?)
        }
    };
    let responses = operation
        .get("responses")
        .and_then(Value::as_object)
        .ok_or("it has no responses")?;
    let mut success: Option<Option<String>> = None;
    let mut success_statuses = Vec::new();
    for (status, response) in responses {
        let Ok(code) = status.parse::<u16>() else {
            continue; // `default`, `4XX`: read as problems, like every failure
        };
        if !(200..300).contains(&code) {
            continue;
        }
        let response = resolve(document, response)?;
        let this = match response.get("content").and_then(Value::as_object) {
            None => None,
            Some(content) => {
                let schema = content
                    .get("application/json")
                    .and_then(|c| c.get("schema"))
                    .ok_or_else(|| format!("its {code} answer is not application/json"))?;
                Some(named_type(schema, &format!("its {code} answer"), schemas)?)
            }
        };
        if success.as_ref().is_some_and(|s| *s != this) {
            return Err("its success answers differ in type".into());
        }
        success = Some(this);
        success_statuses.push(code);
    }
    let success = success.ok_or("it has no success answer (2xx)")?;
    Ok(Operation {
        id: id.to_owned(),
        method: method.to_uppercase(),
        path: path.to_owned(),
        summary: ["summary", "description"]
            .iter()
            .filter_map(|key| operation.get(*key).and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        path_parameters,
        body,
        success,
        success_statuses,
    })
}

impl Operation {
    fn method_code(&self) -> String {
        let mut code = String::new();
        for (i, text) in self.summary.iter().enumerate() {
            if i > 0 {
                code.push_str("    ///\n");
            }
            code.push_str(&doc(text, "    "));
        }
        code.push_str("    ///\n");
        let _ = writeln!(code, "    /// `{} {}`", self.method, self.path);
        let mut arguments = String::from("&self");
        for name in &self.path_parameters {
            let _ = write!(arguments, ", {name}: &str");
        }
        if let Some(body) = &self.body {
            let _ = write!(arguments, ", body: &{body}");
        }
        let success = self.success.as_deref().unwrap_or("()");
        let _ = writeln!(
            code,
            "    pub async fn {}({arguments}) -> Result<{success}, {PROBLEM}> {{",
            self.id
        );
        let path = if self.path_parameters.is_empty() {
            format!("{:?}", self.path)
        } else {
            let mut path = self.path.clone();
            let mut values = String::new();
            for name in &self.path_parameters {
                path = path.replace(&format!("{{{name}}}"), "{}");
                let _ = write!(values, ", encode_path_segment({name})");
            }
            format!("&format!({path:?}{values})")
        };
        let body = if self.body.is_some() {
            "Some(Body::json(body)?)"
        } else {
            "None"
        };
        let _ = writeln!(
            code,
            "        let answer = self.send({:?}, {path}, {body}).await?;",
            self.method
        );
        let statuses: Vec<String> = self.success_statuses.iter().map(u16::to_string).collect();
        let read = if self.success.is_some() {
            "answer.json()"
        } else {
            "Ok(())"
        };
        let _ = writeln!(code, "        match answer.status() {{");
        let _ = writeln!(code, "            {} => {read},", statuses.join(" | "));
        let _ = writeln!(code, "            _ => Err(answer.problem()),");
        code.push_str("        }\n    }\n");
        code
    }
}

/// A schema that is a reference to a named one, as that name.
fn named_type(
    schema: &Value,
    what: &str,
    schemas: &mut BTreeSet<String>,
) -> Result<String, String> {
    let name = reference(schema, "#/components/schemas/")
        .ok_or_else(|| format!("{what} is not a reference to a named schema"))?;
    schemas.insert(name.to_owned());
    Ok(name.to_owned())
}

/// Follows a `$ref` to `#/components/...`, once.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> Result<&'a Value, String> {
    match value.get("$ref").and_then(Value::as_str) {
        None => Ok(value),
        Some(target) => target
            .strip_prefix('#')
            .and_then(|pointer| document.pointer(pointer))
            .ok_or_else(|| format!("`{target}` does not resolve in the document")),
    }
}

fn reference<'a>(schema: &'a Value, prefix: &str) -> Option<&'a str> {
    schema.get("$ref")?.as_str()?.strip_prefix(prefix)
}

/// A named schema as a Rust struct (an object) or enum (strings).
fn schema_type(
    name: &str,
    schema: &Value,
    at: &str,
    schemas: &mut BTreeSet<String>,
) -> Result<String, String> {
    identifier(name, "a schema's name")?;
    let mut code = String::from("\n");
    if let Some(description) = schema.get("description").and_then(Value::as_str) {
        code.push_str(&doc(description, ""));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if types_of(schema) != ["string"] {
            return Err(format!("{at}: only enums of strings are supported"));
        }
        code.push_str(
            "#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]\n",
        );
        let _ = writeln!(code, "pub enum {name} {{");
        for value in values {
            let value = value
                .as_str()
                .ok_or_else(|| format!("{at}: an enum value is not a string"))?;
            let _ = writeln!(code, "    #[serde(rename = {value:?})]");
            let _ = writeln!(code, "    {},", variant(value, at)?);
        }
        code.push_str("}\n");
        return Ok(code);
    }
    if types_of(schema) != ["object"] {
        return Err(format!(
            "{at}: only objects and enums of strings are supported as named schemas"
        ));
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        if schema.get(keyword).is_some() {
            return Err(format!("{at}: `{keyword}` is not supported"));
        }
    }
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let empty = Map::new();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    code.push_str("#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]\n");
    let _ = writeln!(code, "pub struct {name} {{");
    let fields: BTreeMap<&String, &Value> = properties.iter().collect();
    for (property, property_schema) in fields {
        let at = format!("{at}/properties/{property}");
        if let Some(description) = property_schema.get("description").and_then(Value::as_str) {
            code.push_str(&doc(description, "    "));
        }
        let (rust, nullable) = property_type(property_schema, &at, schemas)?;
        let optional = nullable || !required.contains(property.as_str());
        let field = field_name(property, &at)?;
        if field != *property {
            let _ = writeln!(code, "    #[serde(rename = {property:?})]");
        }
        if optional {
            code.push_str("    #[serde(default, skip_serializing_if = \"Option::is_none\")]\n");
            let _ = writeln!(code, "    pub {field}: Option<{rust}>,");
        } else {
            let _ = writeln!(code, "    pub {field}: {rust},");
        }
    }
    code.push_str("}\n");
    Ok(code)
}

/// A property's Rust type, and whether `null` is allowed.
fn property_type(
    schema: &Value,
    at: &str,
    schemas: &mut BTreeSet<String>,
) -> Result<(String, bool), String> {
    if let Some(name) = reference(schema, "#/components/schemas/") {
        schemas.insert(name.to_owned());
        return Ok((name.to_owned(), false));
    }
    let types = types_of(schema);
    let nullable = types.contains(&"null");
    let types: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
    let format = schema.get("format").and_then(Value::as_str);
    let rust = match (types.as_slice(), format) {
        // RFC 3339 timestamps (`date-time`) too: the browser reads them.
        (["string"], _) => "String".to_owned(),
        (["integer"], Some("int32")) => "i32".to_owned(),
        (["integer"], _) => "i64".to_owned(),
        (["number"], _) => "f64".to_owned(),
        (["boolean"], _) => "bool".to_owned(),
        (["array"], _) => {
            let items = schema
                .get("items")
                .ok_or_else(|| format!("{at}: an array without `items`"))?;
            let (item, item_nullable) = property_type(items, &format!("{at}/items"), schemas)?;
            if item_nullable {
                format!("Vec<Option<{item}>>")
            } else {
                format!("Vec<{item}>")
            }
        }
        (["object"], _) => "serde_json::Map<String, serde_json::Value>".to_owned(),
        _ => {
            return Err(format!(
                "{at}: a property of type {types:?} is not supported; name the schema in components"
            ));
        }
    };
    Ok((rust, nullable))
}

/// `type`, as a list (OpenAPI 3.1 allows `[string, "null"]`).
fn types_of(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
    "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
    "try", "type", "unsafe", "use", "where", "while", "yield",
];

/// A property's name as a field: as it is when it can be, `type_` for a
/// keyword.
fn field_name(property: &str, at: &str) -> Result<String, String> {
    identifier(property, at)?;
    if KEYWORDS.contains(&property) {
        Ok(format!("{property}_"))
    } else {
        Ok(property.to_owned())
    }
}

/// An enum value as a variant: `signing-keys` becomes `SigningKeys`.
fn variant(value: &str, at: &str) -> Result<String, String> {
    let name: String = value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    identifier(&name, at)
        .map_err(|_| format!("{at}: the enum value {value:?} makes no Rust name"))?;
    Ok(name)
}

/// Checks that `name` can be used as a Rust name as it is.
fn identifier(name: &str, what: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let starts = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if starts && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!("{what} `{name}` is not usable as a Rust name"))
    }
}

/// `text` as doc comment lines (`#[doc]` keeps any character safe).
fn doc(text: &str, indent: &str) -> String {
    let mut lines = String::new();
    for line in text.lines() {
        let _ = writeln!(
            lines,
            "{indent}#[doc = {:?}]",
            format!(" {line}").trim_end()
        );
    }
    lines
}
