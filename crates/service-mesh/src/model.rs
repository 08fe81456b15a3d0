//! Wire types of the `service_mesh` and `cross_model_mesh` interfaces.
//!
//! These mirror the pydantic models of the published Python library
//! (`charmlibs-interfaces-service-mesh` 1.0.x): the same field names, the same defaults, unknown
//! fields ignored. Serialising with [`to_python_json`] gives byte-for-byte what the Python library
//! writes with `json.dumps` (separators `", "` / `": "`, `ensure_ascii`), and
//! [`Policy::name_hash_preimage`] gives the `str()` of the pydantic model that the Python beacon
//! hashes into AuthorizationPolicy names.

use std::collections::BTreeMap;
use std::fmt;
use std::io;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Whether a policy opens the door of the application (its Service, L4 and L7) or of its units
/// (its pods, L4 only).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PolicyTargetType {
    /// Traffic to the application's Service (enforced at a waypoint).
    #[default]
    App,
    /// Traffic straight to the application's pods (enforced at ztunnel).
    Unit,
}

impl PolicyTargetType {
    /// The wire value (`"app"` or `"unit"`).
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyTargetType::App => "app",
            PolicyTargetType::Unit => "unit",
        }
    }

    /// The Python enum member name (the wire value for this enum).
    fn python_name(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for PolicyTargetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// HTTP methods, serialised upper-case as in the Python `Method` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Patch,
    Head,
    Options,
    Connect,
    Trace,
}

impl Method {
    /// Every method, in the Python enum's order.
    pub const ALL: [Method; 9] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Head,
        Method::Options,
        Method::Connect,
        Method::Trace,
    ];

    /// The wire value, for example `"GET"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Connect => "CONNECT",
            Method::Trace => "TRACE",
        }
    }

    /// The Python enum member name, for example `get` (used by the repr).
    fn python_name(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Delete => "delete",
            Method::Patch => "patch",
            Method::Head => "head",
            Method::Options => "options",
            Method::Connect => "connect",
            Method::Trace => "trace",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Method {
    type Err = UnknownMethod;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownMethod(s.to_string()))
    }
}

/// A string that is not one of the [`Method`] wire values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown HTTP method {0:?} (expected one of GET POST PUT DELETE PATCH HEAD OPTIONS CONNECT TRACE)")]
pub struct UnknownMethod(pub String);

/// The mesh a provider runs (`mesh_type` in the provider's bag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MeshType {
    Istio,
}

/// One reachable endpoint of a policy. `None` means "any" for that field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
    #[serde(default)]
    pub ports: Option<Vec<u16>>,
    #[serde(default)]
    pub methods: Option<Vec<Method>>,
    #[serde(default)]
    pub paths: Option<Vec<String>>,
}

/// A string-to-string map that keeps insertion order, as a Python `dict` does.
///
/// Order matters for the hash preimage of a policy (the Python repr of a dict follows insertion
/// order, which is the order of the keys in the JSON the workload wrote), so a sorted map would
/// give a different AuthorizationPolicy name than the Python beacon for unsorted labels.
/// Inserting an existing key replaces its value in place, as Python does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LabelMap(Vec<(String, String)>);

impl LabelMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Insert or replace (keeping the key's first position).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(pos).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// A sorted copy, for code that does not care about order (Kubernetes label maps).
    pub fn to_btree(&self) -> BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for LabelMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = LabelMap::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

impl From<BTreeMap<String, String>> for LabelMap {
    fn from(m: BTreeMap<String, String>) -> Self {
        m.into_iter().collect()
    }
}

impl From<LabelMap> for BTreeMap<String, String> {
    fn from(m: LabelMap) -> Self {
        m.0.into_iter().collect()
    }
}

impl IntoIterator for LabelMap {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Serialize for LabelMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for LabelMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LabelMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of strings to strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LabelMap, A::Error> {
                let mut out = LabelMap::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.insert(k, v);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// One entry of the `policies` databag: `source` may reach `target` on `endpoints`.
///
/// This is the Python library's `MeshPolicy`. `target_app_name` is optional on the wire (a unit
/// policy may name its target by `target_selector_labels` instead); use [`Policy::validate`] for
/// the library's cross-field rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Policy {
    pub source_namespace: String,
    pub source_app_name: String,
    pub target_namespace: String,
    #[serde(default)]
    pub target_app_name: Option<String>,
    #[serde(default)]
    pub target_selector_labels: Option<LabelMap>,
    #[serde(default)]
    pub target_service: Option<String>,
    #[serde(default)]
    pub target_type: PolicyTargetType,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

/// A policy that breaks the Python library's cross-field rules (`MeshPolicy._validate`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyValidationError {
    #[error(
        "neither target_app_name nor target_service specified for a policy with target_type app"
    )]
    AppWithoutTarget,
    #[error("a policy with target_type app does not support target_selector_labels")]
    AppWithSelectorLabels,
    #[error("a policy with target_type unit cannot specify both target_app_name and target_selector_labels")]
    UnitWithAppNameAndSelector,
    #[error("a policy with target_type unit does not support target_service")]
    UnitWithService,
}

impl Policy {
    /// The cross-field rules the Python model enforces on validation. Empty strings and empty
    /// maps count as absent, as Python's truthiness does.
    pub fn validate(&self) -> Result<(), PolicyValidationError> {
        let has_app = self
            .target_app_name
            .as_deref()
            .is_some_and(|s| !s.is_empty());
        let has_service = self
            .target_service
            .as_deref()
            .is_some_and(|s| !s.is_empty());
        let has_labels = self
            .target_selector_labels
            .as_ref()
            .is_some_and(|l| !l.is_empty());
        match self.target_type {
            PolicyTargetType::App => {
                if !has_app && !has_service {
                    return Err(PolicyValidationError::AppWithoutTarget);
                }
                if has_labels {
                    return Err(PolicyValidationError::AppWithSelectorLabels);
                }
            }
            PolicyTargetType::Unit => {
                if has_app && has_labels {
                    return Err(PolicyValidationError::UnitWithAppNameAndSelector);
                }
                if has_service {
                    return Err(PolicyValidationError::UnitWithService);
                }
            }
        }
        Ok(())
    }

    /// The `str()` of the Python pydantic model, which the Python beacon hashes (sha256, first 8
    /// hex digits) into the AuthorizationPolicy name.
    pub fn name_hash_preimage(&self) -> String {
        let mut s = String::new();
        s.push_str("source_namespace=");
        py_str(&mut s, &self.source_namespace);
        s.push_str(" source_app_name=");
        py_str(&mut s, &self.source_app_name);
        s.push_str(" target_namespace=");
        py_str(&mut s, &self.target_namespace);
        s.push_str(" target_app_name=");
        py_opt(&mut s, self.target_app_name.as_ref(), |s, v| py_str(s, v));
        s.push_str(" target_selector_labels=");
        py_opt(&mut s, self.target_selector_labels.as_ref(), py_dict);
        s.push_str(" target_service=");
        py_opt(&mut s, self.target_service.as_ref(), |s, v| py_str(s, v));
        s.push_str(" target_type=");
        py_enum(
            &mut s,
            "PolicyTargetType",
            self.target_type.python_name(),
            self.target_type.as_str(),
        );
        s.push_str(" endpoints=");
        py_list(&mut s, &self.endpoints, py_endpoint);
        s
    }
}

/// `cmr_data` on a `cross_model_mesh` relation: who the caller really is across the model border.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CmrData {
    pub app_name: String,
    pub juju_model_name: String,
}

/// The provider's application bag on `service-mesh` (each field JSON-encoded under its own key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderAppData {
    pub labels: LabelMap,
    pub mesh_type: MeshType,
}

/// Key of the consumer's policies in its application bag on `service-mesh`.
pub const POLICIES_KEY: &str = "policies";
/// Key of the provider's labels in its application bag on `service-mesh`.
pub const LABELS_KEY: &str = "labels";
/// Key of the provider's mesh type in its application bag on `service-mesh`.
pub const MESH_TYPE_KEY: &str = "mesh_type";
/// Key of [`CmrData`] in the requirer's application bag on `cross_model_mesh`.
pub const CMR_DATA_KEY: &str = "cmr_data";

/// Serialise as Python's `json.dumps(value)` with default arguments: separators `", "` and
/// `": "`, every character outside printable ASCII escaped as `\uXXXX`.
pub fn to_python_json<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, PythonFormatter);
    value.serialize(&mut ser)?;
    // The formatter only ever writes ASCII, and serde_json writes valid UTF-8 otherwise.
    String::from_utf8(buf).map_err(|e| serde_json::Error::io(io::Error::other(e)))
}

/// Parse a `policies` databag value (a JSON list of [`Policy`]).
pub fn parse_policies(raw: &str) -> Result<Vec<Policy>, serde_json::Error> {
    serde_json::from_str(raw)
}

/// serde_json formatter reproducing Python `json.dumps` defaults.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Python's ensure_ascii escapes everything outside ' '..='~' (DEL and non-ASCII
        // included); serde_json has already escaped quotes, backslashes and control characters.
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if (' '..='~').contains(&c) {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{:04x}", unit)?;
            }
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

// ---- Python repr helpers -------------------------------------------------------------------

/// Python's `repr(str)`: single quotes unless the string holds a `'` and no `"`.
pub fn python_str_repr(value: &str) -> String {
    let mut s = String::new();
    py_str(&mut s, value);
    s
}

fn py_str(out: &mut String, value: &str) {
    let quote = if value.contains('\'') && !value.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if py_printable(c) => out.push(c),
            c => {
                let n = c as u32;
                if n < 0x100 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
        }
    }
    out.push(quote);
}

/// An approximation of Python's `str.isprintable` per character: control characters, the
/// Latin-1 no-break space and soft hyphen, separators and unassigned-looking private/surrogate
/// areas are escaped. Exact for ASCII and Latin-1, which is all Juju names and paths use.
fn py_printable(c: char) -> bool {
    let n = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(n, 0xad | 0x2028 | 0x2029 | 0x200b..=0x200f | 0x2060..=0x2064 | 0xfeff | 0xe000..=0xf8ff | 0xfff9..=0xfffb)
}

fn py_opt<T>(out: &mut String, value: Option<&T>, f: impl FnOnce(&mut String, &T)) {
    match value {
        None => out.push_str("None"),
        Some(v) => f(out, v),
    }
}

fn py_list<T>(out: &mut String, items: &[T], f: impl Fn(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        f(out, item);
    }
    out.push(']');
}

fn py_dict(out: &mut String, map: &LabelMap) {
    out.push('{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        py_str(out, k);
        out.push_str(": ");
        py_str(out, v);
    }
    out.push('}');
}

fn py_enum(out: &mut String, class: &str, member: &str, value: &str) {
    out.push('<');
    out.push_str(class);
    out.push('.');
    out.push_str(member);
    out.push_str(": ");
    py_str(out, value);
    out.push('>');
}

fn py_endpoint(out: &mut String, e: &Endpoint) {
    out.push_str("Endpoint(hosts=");
    py_opt(out, e.hosts.as_ref(), |o, v| {
        py_list(o, v, |o, s| py_str(o, s))
    });
    out.push_str(", ports=");
    py_opt(out, e.ports.as_ref(), |o, v| {
        py_list(o, v, |o, p| o.push_str(&p.to_string()))
    });
    out.push_str(", methods=");
    py_opt(out, e.methods.as_ref(), |o, v| {
        py_list(o, v, |o, m| {
            py_enum(o, "Method", m.python_name(), m.as_str())
        })
    });
    out.push_str(", paths=");
    py_opt(out, e.paths.as_ref(), |o, v| {
        py_list(o, v, |o, s| py_str(o, s))
    });
    out.push(')');
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = include_str!("../../../data/fixtures/service-mesh-vectors.json");

    fn vectors() -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        v["results"].as_array().unwrap().clone()
    }

    #[test]
    fn every_vector_round_trips_byte_for_byte() {
        let cases = vectors();
        assert!(cases.len() >= 6);
        for case in cases {
            let raw = case["policies_databag"].as_str().unwrap();
            let policies = parse_policies(raw).unwrap();
            assert!(!raw.is_empty());
            assert_eq!(
                to_python_json(&policies).unwrap(),
                raw,
                "case {}",
                case["id"]
            );
        }
    }

    #[test]
    fn every_vector_preimage_matches() {
        for case in vectors() {
            let policies = parse_policies(case["policies_databag"].as_str().unwrap()).unwrap();
            let expected: Vec<String> =
                serde_json::from_value(case["name_hash_preimages"].clone()).unwrap();
            let got: Vec<String> = policies.iter().map(Policy::name_hash_preimage).collect();
            assert_eq!(got, expected, "case {}", case["id"]);
            for p in &policies {
                p.validate().unwrap();
            }
        }
    }

    #[test]
    fn unknown_fields_are_ignored_and_defaults_apply() {
        let raw = r#"[{"source_namespace": "a", "source_app_name": "b", "target_namespace": "a",
            "target_app_name": "c", "future_field": {"x": 1},
            "endpoints": [{"ports": [1], "weight": 3}]}]"#;
        let p = parse_policies(raw).unwrap();
        assert_eq!(p[0].target_type, PolicyTargetType::App);
        assert_eq!(p[0].target_service, None);
        assert_eq!(p[0].endpoints[0].ports, Some(vec![1]));
        assert_eq!(p[0].endpoints[0].methods, None);
        let minimal =
            r#"[{"source_namespace": "a", "source_app_name": "b", "target_namespace": "a"}]"#;
        let p = parse_policies(minimal).unwrap();
        assert!(p[0].endpoints.is_empty());
        assert_eq!(p[0].target_app_name, None);
        assert_eq!(
            p[0].validate(),
            Err(PolicyValidationError::AppWithoutTarget)
        );
    }

    #[test]
    fn malformed_bags_are_errors() {
        for raw in [
            "not json",
            "{}",
            r#"[{"source_app_name": "b", "target_namespace": "a"}]"#,
            r#"[{"source_namespace": "a", "source_app_name": "b", "target_namespace": "a", "target_type": "pod"}]"#,
            r#"[{"source_namespace": "a", "source_app_name": "b", "target_namespace": "a", "endpoints": [{"methods": ["get"]}]}]"#,
            r#"[{"source_namespace": "a", "source_app_name": "b", "target_namespace": "a", "endpoints": [{"ports": [70000]}]}]"#,
            r#"[{"source_namespace": "a", "source_app_name": "b", "target_namespace": "a", "endpoints": null}]"#,
        ] {
            assert!(parse_policies(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn python_json_escapes_like_ensure_ascii() {
        let v = serde_json::json!({"k": "é\u{7f}\"\\\n😀", "l": [1, 2]});
        assert_eq!(
            to_python_json(&v).unwrap(),
            r#"{"k": "\u00e9\u007f\"\\\n\ud83d\ude00", "l": [1, 2]}"#
        );
        let cmr = CmrData {
            app_name: "bookinfo-productpage-k8s".into(),
            juju_model_name: "bookinfo".into(),
        };
        assert_eq!(
            to_python_json(&cmr).unwrap(),
            r#"{"app_name": "bookinfo-productpage-k8s", "juju_model_name": "bookinfo"}"#
        );
    }

    #[test]
    fn repr_quoting_follows_python() {
        assert_eq!(python_str_repr("abc"), "'abc'");
        assert_eq!(python_str_repr("it's"), "\"it's\"");
        assert_eq!(python_str_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(python_str_repr("a\\b\n\u{1}"), "'a\\\\b\\n\\x01'");
        assert_eq!(python_str_repr("é"), "'é'");
    }

    #[test]
    fn selector_labels_keep_wire_order_in_json_and_repr() {
        let raw = r#"[{"source_namespace": "a", "source_app_name": "b", "target_namespace": "a", "target_app_name": null, "target_selector_labels": {"z": "1", "a": "2"}, "target_service": null, "target_type": "unit", "endpoints": []}]"#;
        let p = parse_policies(raw).unwrap();
        assert_eq!(to_python_json(&p).unwrap(), raw);
        assert!(p[0]
            .name_hash_preimage()
            .contains("target_selector_labels={'z': '1', 'a': '2'}"));
        p[0].validate().unwrap();
    }

    #[test]
    fn validation_rules() {
        let base = Policy {
            source_namespace: "a".into(),
            source_app_name: "b".into(),
            target_namespace: "a".into(),
            target_app_name: Some("c".into()),
            target_selector_labels: None,
            target_service: None,
            target_type: PolicyTargetType::App,
            endpoints: vec![],
        };
        let mut p = base.clone();
        p.target_selector_labels = Some([("x", "y")].into_iter().collect());
        assert_eq!(
            p.validate(),
            Err(PolicyValidationError::AppWithSelectorLabels)
        );
        p.target_type = PolicyTargetType::Unit;
        assert_eq!(
            p.validate(),
            Err(PolicyValidationError::UnitWithAppNameAndSelector)
        );
        let mut p = base.clone();
        p.target_type = PolicyTargetType::Unit;
        p.target_service = Some("svc".into());
        assert_eq!(p.validate(), Err(PolicyValidationError::UnitWithService));
        let mut p = base;
        p.target_app_name = None;
        p.target_service = Some("svc".into());
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn method_parsing() {
        for m in Method::ALL {
            assert_eq!(m.as_str().parse::<Method>(), Ok(m));
        }
        assert!("get".parse::<Method>().is_err());
    }
}
