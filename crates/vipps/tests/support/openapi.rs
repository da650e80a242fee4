//! Turns request-body schemas of the official Vipps OpenAPI 3.0 files into JSON Schemas and
//! validates JSON against them.
//!
//! A request body may be a `$ref` to `components/requestBodies` (eCom does that), and its media
//! type `application/json` with parameters (eCom's `application/json;charset=UTF-8`).
//!
//! OpenAPI 3.0 schemas are close to JSON Schema draft 4, with three differences handled here:
//! `$ref`s point into the same file or into a sibling file (`./order-management.yaml#/...`),
//! and are inlined; `nullable: true` becomes `anyOf [schema, {type: null}]`; and OpenAPI-only
//! keywords (`example`, `x-*`, ...) are dropped.

// Shared by several test binaries; not every one uses every helper.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

/// Where the OpenAPI files are.
pub const SPEC_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vipps-openapi");

/// Guards against reference cycles (none of the request bodies used has one).
const MAX_DEPTH: usize = 64;

/// All the OpenAPI files, by file name.
pub struct Specs {
    files: BTreeMap<String, Value>,
}

impl Specs {
    /// Loads every `*.yaml` in [`SPEC_DIR`].
    pub fn load() -> Self {
        let mut files = BTreeMap::new();
        let entries =
            std::fs::read_dir(SPEC_DIR).unwrap_or_else(|e| panic!("cannot read {SPEC_DIR}: {e}"));
        for entry in entries {
            let path: PathBuf = entry.expect("directory entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let doc: Value = serde_yaml_ng::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("file name")
                .to_owned();
            files.insert(name, doc);
        }
        assert!(
            files.contains_key("epayment-v1.yaml"),
            "no OpenAPI files in {SPEC_DIR}"
        );
        Self { files }
    }

    /// The JSON Schema of the JSON request body of `method path` in `file`.
    pub fn request_body(&self, file: &str, path: &str, method: &str) -> Value {
        let operation = self
            .doc(file)
            .get("paths")
            .and_then(|p| p.get(path))
            .and_then(|p| p.get(method))
            .unwrap_or_else(|| panic!("{file}: no operation {method} {path}"));
        let mut body = operation
            .get("requestBody")
            .unwrap_or_else(|| panic!("{file}: {method} {path} has no request body"));
        if let Some(Value::String(reference)) = body.get("$ref") {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{file}: unsupported request body $ref {reference}"));
            body = self
                .doc(file)
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{file}: dangling $ref {reference}"));
        }
        let schema = body
            .get("content")
            .and_then(Value::as_object)
            .and_then(|content| {
                content.iter().find_map(|(media_type, media)| {
                    let essence = media_type.split(';').next().unwrap_or_default().trim();
                    (essence == "application/json").then(|| media.get("schema"))?
                })
            })
            .unwrap_or_else(|| panic!("{file}: {method} {path} has no JSON request body"));
        self.convert(file, schema, 0)
    }

    fn doc(&self, file: &str) -> &Value {
        self.files
            .get(file)
            .unwrap_or_else(|| panic!("no OpenAPI file {file}"))
    }

    /// One OpenAPI schema node as JSON Schema, `$ref`s inlined.
    fn convert(&self, file: &str, node: &Value, depth: usize) -> Value {
        assert!(depth < MAX_DEPTH, "reference cycle in {file}");
        let Value::Object(map) = node else {
            return node.clone();
        };
        if let Some(Value::String(reference)) = map.get("$ref") {
            // In OpenAPI 3.0 the siblings of a $ref are ignored.
            let (target_file, pointer) = match reference.split_once('#') {
                Some(("", pointer)) => (file.to_owned(), pointer),
                Some((other, pointer)) => (other.trim_start_matches("./").to_owned(), pointer),
                None => panic!("{file}: unsupported $ref {reference}"),
            };
            let target = self
                .doc(&target_file)
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{file}: dangling $ref {reference}"));
            return self.convert(&target_file, target, depth + 1);
        }
        let mut out = Map::new();
        for (key, value) in map {
            let converted = match key.as_str() {
                "nullable" | "example" | "examples" | "discriminator" | "xml" | "externalDocs"
                | "deprecated" | "readOnly" | "writeOnly" => continue,
                k if k.starts_with("x-") => continue,
                "properties" | "patternProperties" => Value::Object(
                    value
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(name, schema)| (name.clone(), self.convert(file, schema, depth + 1)))
                        .collect(),
                ),
                "items" | "additionalProperties" | "not" if value.is_object() => {
                    self.convert(file, value, depth + 1)
                }
                "allOf" | "anyOf" | "oneOf" => Value::Array(
                    value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|schema| self.convert(file, schema, depth + 1))
                        .collect(),
                ),
                _ => value.clone(),
            };
            out.insert(key.clone(), converted);
        }
        if map.get("nullable") == Some(&Value::Bool(true)) {
            json!({"anyOf": [Value::Object(out), {"type": "null"}]})
        } else {
            Value::Object(out)
        }
    }
}

/// Validates `instance` against `schema`; the errors, one line each, when it does not.
pub fn validate(schema: &Value, instance: &Value) -> Result<(), Vec<String>> {
    let validator = jsonschema::draft4::new(schema)
        .unwrap_or_else(|e| panic!("the converted schema is not valid JSON Schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
