//! Validation as the real API server does it: object names, labels/annotations, and custom
//! resources against their CRD's structural openAPIV3Schema (with defaulting and pruning).
//!
//! `x-kubernetes-validations` (CEL) and `format` are not evaluated (documented in docs/kubesim.md).

use crate::error::Cause;
use crate::registry::NameRule;
use regex::Regex;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

const SUBDOMAIN_FMT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const LABEL_FMT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1035_FMT: &str = r"[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT: &str = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

/// Compiled, anchored regex for `fmt`, cached (CRD patterns are checked on every write).
fn anchored(fmt: &str) -> Option<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = match cache.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    guard
        .entry(fmt.to_string())
        .or_insert_with(|| Regex::new(&format!("^(?:{fmt})$")).ok())
        .clone()
}

/// Unanchored regex as openAPI `pattern` means it.
fn pattern_regex(p: &str) -> Option<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = match cache.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    guard
        .entry(p.to_string())
        .or_insert_with(|| Regex::new(p).ok())
        .clone()
}

fn matches_fmt(fmt: &str, s: &str) -> bool {
    anchored(fmt).is_some_and(|r| r.is_match(s))
}

fn cause(reason: &str, field: &str, message: String) -> Cause {
    Cause {
        reason: reason.into(),
        message,
        field: field.into(),
    }
}

fn invalid(field: &str, value: &str, msg: &str) -> Cause {
    cause(
        "FieldValueInvalid",
        field,
        format!("Invalid value: \"{value}\": {msg}"),
    )
}

pub fn subdomain_errors(s: &str) -> Vec<String> {
    let mut e = Vec::new();
    if s.len() > 253 {
        e.push("must be no more than 253 characters".to_string());
    }
    if !matches_fmt(SUBDOMAIN_FMT, s) {
        e.push(format!("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{SUBDOMAIN_FMT}')"));
    }
    e
}

pub fn label_errors(s: &str) -> Vec<String> {
    let mut e = Vec::new();
    if s.len() > 63 {
        e.push("must be no more than 63 characters".to_string());
    }
    if !matches_fmt(LABEL_FMT, s) {
        e.push(format!("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{LABEL_FMT}')"));
    }
    e
}

fn dns1035_errors(s: &str) -> Vec<String> {
    let mut e = Vec::new();
    if s.len() > 63 {
        e.push("must be no more than 63 characters".to_string());
    }
    if !matches_fmt(DNS1035_FMT, s) {
        e.push(format!("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '{DNS1035_FMT}')"));
    }
    e
}

/// Causes for an invalid `metadata.name`.
pub fn name_causes(rule: NameRule, name: &str) -> Vec<Cause> {
    let errs = match rule {
        NameRule::Dns1123Subdomain => subdomain_errors(name),
        NameRule::Dns1123Label => label_errors(name),
        NameRule::Dns1035Label => dns1035_errors(name),
    };
    errs.iter()
        .map(|m| invalid("metadata.name", name, m))
        .collect()
}

/// Errors for a qualified name (label or annotation key), as apimachinery words them.
pub fn qualified_name_errors(key: &str) -> Vec<String> {
    let mut e = Vec::new();
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if name.matches('/').count() > 0 {
        e.push(format!("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{QUALIFIED_NAME_FMT}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"));
        return e;
    }
    if let Some(p) = prefix {
        if p.is_empty() {
            e.push("prefix part must be non-empty".into());
        } else {
            for m in subdomain_errors(p) {
                e.push(format!("prefix part {m}"));
            }
        }
    }
    if name.is_empty() {
        e.push("name part must be non-empty".into());
    } else {
        if name.len() > 63 {
            e.push("name part must be no more than 63 characters".into());
        }
        if !matches_fmt(QUALIFIED_NAME_FMT, name) {
            e.push(format!("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{QUALIFIED_NAME_FMT}')"));
        }
    }
    e
}

fn label_value_errors(v: &str) -> Vec<String> {
    let mut e = Vec::new();
    if v.len() > 63 {
        e.push("must be no more than 63 characters".into());
    }
    if !matches_fmt(LABEL_VALUE_FMT, v) {
        e.push(format!("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '{LABEL_VALUE_FMT}')"));
    }
    e
}

/// Causes for invalid labels and annotations of an object.
pub fn metadata_causes(meta: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    match meta.get("labels") {
        None | Some(Value::Null) => {}
        Some(Value::Object(labels)) => {
            for (k, v) in labels {
                for m in qualified_name_errors(k) {
                    out.push(invalid("metadata.labels", k, &m));
                }
                match v.as_str() {
                    Some(s) => {
                        for m in label_value_errors(s) {
                            out.push(invalid("metadata.labels", s, &m));
                        }
                    }
                    None => out.push(cause(
                        "FieldValueTypeInvalid",
                        &format!("metadata.labels.{k}"),
                        "Invalid value: must be a string".into(),
                    )),
                }
            }
        }
        Some(_) => out.push(cause(
            "FieldValueTypeInvalid",
            "metadata.labels",
            "Invalid value: must be a map of strings".into(),
        )),
    }
    match meta.get("annotations") {
        None | Some(Value::Null) => {}
        Some(Value::Object(ann)) => {
            let mut total = 0usize;
            for (k, v) in ann {
                for m in qualified_name_errors(k) {
                    out.push(invalid("metadata.annotations", k, &m));
                }
                total += k.len() + v.as_str().map(str::len).unwrap_or(0);
                if !v.is_string() {
                    out.push(cause(
                        "FieldValueTypeInvalid",
                        &format!("metadata.annotations.{k}"),
                        "Invalid value: must be a string".into(),
                    ));
                }
            }
            if total > 262_144 {
                out.push(cause(
                    "FieldValueTooLong",
                    "metadata.annotations",
                    "Too long: must have at most 262144 bytes".into(),
                ));
            }
        }
        Some(_) => out.push(cause(
            "FieldValueTypeInvalid",
            "metadata.annotations",
            "Invalid value: must be a map of strings".into(),
        )),
    }
    out
}

/// Outcome of validating a custom resource against its schema.
#[derive(Debug, Default)]
pub struct SchemaReport {
    pub causes: Vec<Cause>,
    /// Paths of fields the schema does not declare (pruned from the object).
    pub unknown: Vec<String>,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn short_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Validate, default and prune a whole custom resource (everything but apiVersion/kind/metadata).
pub fn validate_custom(obj: &mut Value, schema: &Value) -> SchemaReport {
    let mut report = SchemaReport::default();
    let Value::Object(map) = obj else {
        report.causes.push(cause(
            "FieldValueTypeInvalid",
            "",
            "Invalid value: body must be an object".into(),
        ));
        return report;
    };
    let props = schema.get("properties").and_then(Value::as_object);
    let preserve = schema["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(true);
    let keys: Vec<String> = map.keys().cloned().collect();
    for k in keys {
        if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        match props.and_then(|p| p.get(&k)) {
            Some(s) => {
                if map[&k].is_null() && s["nullable"].as_bool() != Some(true) {
                    map.remove(&k);
                    continue;
                }
                if let Some(v) = map.get_mut(&k) {
                    walk(v, s, &k, &mut report);
                }
            }
            None if preserve => {}
            None => {
                map.remove(&k);
                report.unknown.push(k);
            }
        }
    }
    if let Some(p) = props {
        for (k, s) in p {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if !map.contains_key(k) {
                if let Some(d) = s.get("default") {
                    let mut d = d.clone();
                    walk(&mut d, s, k, &mut SchemaReport::default());
                    map.insert(k.clone(), d);
                }
            }
        }
    }
    for r in schema["required"].as_array().into_iter().flatten() {
        if let Some(r) = r.as_str() {
            if !map.contains_key(r) {
                report
                    .causes
                    .push(cause("FieldValueRequired", r, "Required value".into()));
            }
        }
    }
    report
}

/// Does `v` satisfy `schema` (used for oneOf/anyOf/allOf/not, which cannot prune)?
fn satisfies(v: &Value, schema: &Value) -> bool {
    let mut copy = v.clone();
    let mut r = SchemaReport::default();
    check_value(&mut copy, schema, "", &mut r, false);
    r.causes.is_empty()
}

fn walk(v: &mut Value, schema: &Value, path: &str, report: &mut SchemaReport) {
    check_value(v, schema, path, report, true)
}

fn check_value(v: &mut Value, schema: &Value, path: &str, report: &mut SchemaReport, prune: bool) {
    let int_or_string = schema["x-kubernetes-int-or-string"].as_bool() == Some(true);
    let ty = schema["type"].as_str().unwrap_or("");
    let actual = json_type(v);
    if v.is_null() {
        if schema["nullable"].as_bool() == Some(true) || (ty.is_empty() && !int_or_string) {
            return;
        }
        report.causes.push(cause(
            "FieldValueTypeInvalid",
            path,
            format!("Invalid value: \"null\": {path} in body must be of type {ty}: \"null\""),
        ));
        return;
    }
    if int_or_string {
        if actual != "integer" && actual != "string" {
            report.causes.push(cause(
                "FieldValueTypeInvalid",
                path,
                format!("Invalid value: \"{actual}\": {path} in body must be of type integer-or-string: \"{actual}\""),
            ));
            return;
        }
    } else if !ty.is_empty() {
        let ok = match ty {
            "number" => actual == "number" || actual == "integer",
            t => t == actual,
        };
        if !ok {
            report.causes.push(cause(
                "FieldValueTypeInvalid",
                path,
                format!("Invalid value: \"{actual}\": {path} in body must be of type {ty}: \"{actual}\""),
            ));
            return;
        }
    }
    if let Some(en) = schema["enum"].as_array() {
        if !en.contains(v) {
            let supported: Vec<String> = en.iter().map(short_value).collect();
            report.causes.push(cause(
                "FieldValueNotSupported",
                path,
                format!(
                    "Unsupported value: {}: supported values: {}",
                    short_value(v),
                    supported.join(", ")
                ),
            ));
        }
    }
    match v {
        Value::String(s) => {
            let chars = s.chars().count() as u64;
            if let Some(max) = schema["maxLength"].as_u64() {
                if chars > max {
                    report.causes.push(cause(
                        "FieldValueTooLong",
                        path,
                        format!("Too long: may not be more than {max} bytes"),
                    ));
                }
            }
            if let Some(min) = schema["minLength"].as_u64() {
                if chars < min {
                    report.causes.push(invalid(
                        path,
                        s,
                        &format!("{path} in body should be at least {min} chars long"),
                    ));
                }
            }
            if let Some(p) = schema["pattern"].as_str() {
                // A pattern the regex engine cannot compile is not enforced rather than
                // rejecting every object.
                if let Some(re) = pattern_regex(p) {
                    if !re.is_match(s) {
                        report.causes.push(invalid(
                            path,
                            s,
                            &format!("{path} in body should match '{p}'"),
                        ));
                    }
                }
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            if let Some(max) = schema["maximum"].as_f64() {
                let excl = schema["exclusiveMaximum"].as_bool() == Some(true);
                if x > max || (excl && x >= max) {
                    report.causes.push(cause(
                        "FieldValueInvalid",
                        path,
                        format!(
                            "Invalid value: {n}: {path} in body should be less than {}{}",
                            if excl { "" } else { "or equal to " },
                            schema["maximum"]
                        ),
                    ));
                }
            }
            if let Some(min) = schema["minimum"].as_f64() {
                let excl = schema["exclusiveMinimum"].as_bool() == Some(true);
                if x < min || (excl && x <= min) {
                    report.causes.push(cause(
                        "FieldValueInvalid",
                        path,
                        format!(
                            "Invalid value: {n}: {path} in body should be greater than {}{}",
                            if excl { "" } else { "or equal to " },
                            schema["minimum"]
                        ),
                    ));
                }
            }
        }
        Value::Array(items) => {
            let len = items.len() as u64;
            if let Some(max) = schema["maxItems"].as_u64() {
                if len > max {
                    report.causes.push(cause(
                        "FieldValueTooMany",
                        path,
                        format!("Too many: {len}: must have at most {max} items"),
                    ));
                }
            }
            if let Some(min) = schema["minItems"].as_u64() {
                if len < min {
                    report.causes.push(cause(
                        "FieldValueInvalid",
                        path,
                        format!(
                            "Invalid value: {len}: {path} in body should have at least {min} items"
                        ),
                    ));
                }
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    check_value(item, item_schema, &format!("{path}[{i}]"), report, prune);
                }
            }
            check_list_uniqueness(items, schema, path, report);
        }
        Value::Object(map) => check_object(map, schema, path, report, prune),
        _ => {}
    }
    check_combinators(v, schema, path, report);
}

fn check_list_uniqueness(items: &[Value], schema: &Value, path: &str, report: &mut SchemaReport) {
    match schema["x-kubernetes-list-type"].as_str() {
        Some("set") => {
            for (i, a) in items.iter().enumerate() {
                if items[..i].contains(a) {
                    report.causes.push(cause(
                        "FieldValueDuplicate",
                        &format!("{path}[{i}]"),
                        format!("Duplicate value: {}", short_value(a)),
                    ));
                }
            }
        }
        Some("map") => {
            let keys: Vec<&str> = schema["x-kubernetes-list-map-keys"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let key_of = |v: &Value| -> Vec<Value> {
                keys.iter()
                    .map(|k| v.get(*k).cloned().unwrap_or(Value::Null))
                    .collect()
            };
            for (i, a) in items.iter().enumerate() {
                let ka = key_of(a);
                if items[..i].iter().any(|b| key_of(b) == ka) {
                    let mut m = Map::new();
                    for (k, v) in keys.iter().zip(ka) {
                        m.insert(k.to_string(), v);
                    }
                    report.causes.push(cause(
                        "FieldValueDuplicate",
                        &format!("{path}[{i}]"),
                        format!("Duplicate value: {}", Value::Object(m)),
                    ));
                }
            }
        }
        _ => {}
    }
}

fn check_object(
    map: &mut Map<String, Value>,
    schema: &Value,
    path: &str,
    report: &mut SchemaReport,
    prune: bool,
) {
    let props = schema.get("properties").and_then(Value::as_object);
    let preserve = schema["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(true);
    let additional = schema.get("additionalProperties");
    let embedded = schema["x-kubernetes-embedded-resource"].as_bool() == Some(true);
    let keys: Vec<String> = map.keys().cloned().collect();
    for k in keys {
        let child_path = join(path, &k);
        let child_schema = props.and_then(|p| p.get(&k)).or(match additional {
            Some(Value::Object(_)) => additional,
            _ => None,
        });
        match child_schema {
            Some(s) => {
                if prune && map[&k].is_null() && s["nullable"].as_bool() != Some(true) {
                    map.remove(&k);
                    continue;
                }
                if let Some(v) = map.get_mut(&k) {
                    check_value(v, s, &child_path, report, prune);
                }
            }
            None => {
                // Structural-schema pruning: an undeclared field survives only under
                // x-kubernetes-preserve-unknown-fields or `additionalProperties: true`.
                let keep = preserve
                    || additional == Some(&Value::Bool(true))
                    || (embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
                if !keep && prune {
                    map.remove(&k);
                    report.unknown.push(child_path);
                }
            }
        }
    }
    if prune {
        if let Some(p) = props {
            for (k, s) in p {
                if !map.contains_key(k) {
                    if let Some(d) = s.get("default") {
                        let mut d = d.clone();
                        check_value(
                            &mut d,
                            s,
                            &join(path, k),
                            &mut SchemaReport::default(),
                            true,
                        );
                        map.insert(k.clone(), d);
                    }
                }
            }
        }
    }
    for r in schema["required"].as_array().into_iter().flatten() {
        if let Some(r) = r.as_str() {
            if !map.contains_key(r) {
                report.causes.push(cause(
                    "FieldValueRequired",
                    &join(path, r),
                    "Required value".into(),
                ));
            }
        }
    }
    let n = map.len() as u64;
    if let Some(max) = schema["maxProperties"].as_u64() {
        if n > max {
            report.causes.push(cause(
                "FieldValueTooMany",
                path,
                format!("Too many: {n}: must have at most {max} items"),
            ));
        }
    }
    if let Some(min) = schema["minProperties"].as_u64() {
        if n < min {
            report.causes.push(cause(
                "FieldValueInvalid",
                path,
                format!("Invalid value: {n}: {path} in body should have at least {min} properties"),
            ));
        }
    }
}

fn check_combinators(v: &Value, schema: &Value, path: &str, report: &mut SchemaReport) {
    let shown = if path.is_empty() { "body" } else { path };
    if let Some(one) = schema["oneOf"].as_array() {
        let n = one.iter().filter(|s| satisfies(v, s)).count();
        if n != 1 {
            report.causes.push(cause(
                "FieldValueInvalid",
                path,
                format!("Invalid value: \"{}\": {shown} in body must validate one and only one schema (oneOf)", json_type(v)),
            ));
        }
    }
    if let Some(any) = schema["anyOf"].as_array() {
        if !any.iter().any(|s| satisfies(v, s)) {
            report.causes.push(cause(
                "FieldValueInvalid",
                path,
                format!("Invalid value: \"{}\": {shown} in body must validate at least one schema (anyOf)", json_type(v)),
            ));
        }
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            if !satisfies(v, s) {
                report.causes.push(cause(
                    "FieldValueInvalid",
                    path,
                    format!("Invalid value: \"{}\": {shown} in body must validate all the schemas (allOf)", json_type(v)),
                ));
                break;
            }
        }
    }
    if let Some(not) = schema.get("not") {
        if satisfies(v, not) {
            report.causes.push(cause(
                "FieldValueInvalid",
                path,
                format!("Invalid value: \"{}\": {shown} in body should not be valid against the schema (not)", json_type(v)),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_labels() {
        assert!(name_causes(NameRule::Dns1123Subdomain, "a.b-c").is_empty());
        assert_eq!(name_causes(NameRule::Dns1123Subdomain, "Bad").len(), 1);
        assert!(!name_causes(NameRule::Dns1123Label, "a.b").is_empty());
        assert!(!name_causes(NameRule::Dns1035Label, "1abc").is_empty());
        assert!(qualified_name_errors("example.com/foo_bar").is_empty());
        assert!(!qualified_name_errors("-bad").is_empty());
        assert!(!qualified_name_errors("Bad_Prefix/x").is_empty());
        let c = metadata_causes(&json!({"labels": {"ok": "v", "k": "bad value"}}));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].field, "metadata.labels");
    }

    #[test]
    fn schema_rules() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["a"],
            "properties": {"a": {"type": "string", "enum": ["X", "Y"]}, "n": {"type": "integer", "default": 3},
              "p": {"x-kubernetes-int-or-string": true}, "s": {"type": "string", "maxLength": 2, "pattern": "^[a-z]+$"},
              "l": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
              "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}});
        let mut o = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {}, "spec": {"a": "Z", "p": 8, "s": "ABC", "l": ["a", "b"], "junk": 1, "free": {"any": 1}}, "top": 1});
        let r = validate_custom(&mut o, &schema);
        let fields: Vec<&str> = r.causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["spec.a", "spec.s", "spec.s", "spec.l"],
            "{:?}",
            r.causes
        );
        assert_eq!(r.unknown, vec!["spec.junk".to_string(), "top".to_string()]);
        assert_eq!(o["spec"]["n"], json!(3));
        assert_eq!(o["spec"]["free"]["any"], json!(1));
        let mut o2 = json!({"spec": {}});
        let r2 = validate_custom(&mut o2, &schema);
        assert_eq!(r2.causes[0].field, "spec.a");
        assert_eq!(r2.causes[0].reason, "FieldValueRequired");
    }
}
