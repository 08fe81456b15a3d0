//! The kinds the emulated server serves: built-ins plus those of installed CRDs.

use crate::error::ApiError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One served resource (a group + plural, possibly served at several versions).
#[derive(Debug, Clone)]
pub struct ResourceDef {
    pub group: String,
    /// Served versions, storage version first.
    pub versions: Vec<String>,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    pub has_status: bool,
    /// Custom resource: validated against `schemas`, no strategic merge patch.
    pub custom: bool,
    /// version -> openAPIV3Schema (custom resources only)
    pub schemas: BTreeMap<String, Value>,
    /// version -> additionalPrinterColumns (custom resources only)
    pub printer_columns: BTreeMap<String, Vec<Value>>,
    /// Whether metadata.generation is maintained for this kind.
    pub tracks_generation: bool,
    /// Name format rule.
    pub name_rule: NameRule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    Dns1123Subdomain,
    Dns1123Label,
    Dns1035Label,
}

impl ResourceDef {
    pub fn key(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }
    pub fn storage_version(&self) -> &str {
        &self.versions[0]
    }
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }
    pub fn serves(&self, version: &str) -> bool {
        self.versions.iter().any(|v| v == version)
    }
}

#[allow(clippy::too_many_arguments)]
fn builtin(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    short: &[&str],
    namespaced: bool,
    has_status: bool,
    tracks_generation: bool,
    name_rule: NameRule,
) -> ResourceDef {
    ResourceDef {
        group: group.into(),
        versions: vec![version.into()],
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: Vec::new(),
        namespaced,
        has_status,
        custom: false,
        schemas: BTreeMap::new(),
        printer_columns: BTreeMap::new(),
        tracks_generation,
        name_rule,
    }
}

pub fn builtins() -> Vec<ResourceDef> {
    use NameRule::*;
    let mut v = vec![
        builtin(
            "",
            "v1",
            "Namespace",
            "namespaces",
            &["ns"],
            false,
            true,
            false,
            Dns1123Label,
        ),
        builtin(
            "",
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            &["sa"],
            true,
            false,
            false,
            Dns1123Subdomain,
        ),
        builtin(
            "",
            "v1",
            "Service",
            "services",
            &["svc"],
            true,
            true,
            false,
            Dns1035Label,
        ),
        builtin(
            "",
            "v1",
            "ConfigMap",
            "configmaps",
            &["cm"],
            true,
            false,
            false,
            Dns1123Subdomain,
        ),
        builtin(
            "",
            "v1",
            "Secret",
            "secrets",
            &[],
            true,
            false,
            false,
            Dns1123Subdomain,
        ),
        builtin(
            "",
            "v1",
            "Pod",
            "pods",
            &["po"],
            true,
            true,
            true,
            Dns1123Subdomain,
        ),
        builtin(
            "apps",
            "v1",
            "StatefulSet",
            "statefulsets",
            &["sts"],
            true,
            true,
            true,
            Dns1123Subdomain,
        ),
        builtin(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            &["deploy"],
            true,
            true,
            true,
            Dns1123Subdomain,
        ),
        builtin(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            &["hpa"],
            true,
            true,
            true,
            Dns1123Subdomain,
        ),
        builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            &["crd", "crds"],
            false,
            true,
            true,
            Dns1123Subdomain,
        ),
    ];
    for d in v.iter_mut() {
        if matches!(
            d.kind.as_str(),
            "Pod" | "Service" | "StatefulSet" | "Deployment"
        ) {
            d.categories = vec!["all".into()];
        }
    }
    v
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Build the served resource from a CustomResourceDefinition object (already validated).
pub fn from_crd(crd: &Value) -> Result<ResourceDef, ApiError> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let group = spec["group"].as_str().unwrap_or_default().to_string();
    let kind = names["kind"].as_str().unwrap_or_default().to_string();
    let plural = names["plural"].as_str().unwrap_or_default().to_string();
    if group.is_empty() || kind.is_empty() || plural.is_empty() {
        return Err(ApiError::bad_request(
            "CustomResourceDefinition needs spec.group, spec.names.kind and spec.names.plural",
        ));
    }
    let mut versions = Vec::new();
    let mut schemas = BTreeMap::new();
    let mut printer_columns = BTreeMap::new();
    let mut has_status = false;
    for ver in spec["versions"].as_array().into_iter().flatten() {
        let Some(name) = ver["name"].as_str() else {
            continue;
        };
        if ver["served"].as_bool() != Some(true) {
            continue;
        }
        if ver["storage"].as_bool() == Some(true) {
            versions.insert(0, name.to_string());
        } else {
            versions.push(name.to_string());
        }
        if let Some(s) = ver.pointer("/schema/openAPIV3Schema") {
            schemas.insert(name.to_string(), s.clone());
        }
        if let Some(cols) = ver["additionalPrinterColumns"].as_array() {
            printer_columns.insert(name.to_string(), cols.clone());
        }
        if ver.pointer("/subresources/status").is_some() {
            has_status = true;
        }
    }
    if versions.is_empty() {
        return Err(ApiError::bad_request(
            "CustomResourceDefinition serves no version",
        ));
    }
    Ok(ResourceDef {
        list_kind: names["listKind"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| format!("{kind}List")),
        singular: names["singular"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| kind.to_lowercase()),
        short_names: str_list(&names["shortNames"]),
        categories: str_list(&names["categories"]),
        namespaced: spec["scope"].as_str() != Some("Cluster"),
        has_status,
        custom: true,
        schemas,
        printer_columns,
        tracks_generation: true,
        name_rule: NameRule::Dns1123Subdomain,
        group,
        versions,
        kind,
        plural,
    })
}

/// All served resources, indexed for lookups by path and by kind.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    // Arc: handlers take a copy of the definition per request, and CRD schemas are large.
    defs: BTreeMap<String, Arc<ResourceDef>>,
}

impl Registry {
    pub fn with_builtins() -> Self {
        let mut r = Registry::default();
        for d in builtins() {
            r.defs.insert(d.key(), Arc::new(d));
        }
        r
    }
    pub fn insert(&mut self, d: ResourceDef) {
        self.defs.insert(d.key(), Arc::new(d));
    }
    pub fn remove(&mut self, key: &str) {
        self.defs.remove(key);
    }
    pub fn get(&self, key: &str) -> Option<Arc<ResourceDef>> {
        self.defs.get(key).cloned()
    }
    pub fn all(&self) -> impl Iterator<Item = &ResourceDef> {
        self.defs.values().map(|d| d.as_ref())
    }
    /// Lookup by URL segments (group, version, plural).
    pub fn by_path(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceDef>> {
        self.defs
            .get(&format!("{group}/{plural}"))
            .filter(|d| d.serves(version))
            .cloned()
    }
    /// Lookup by apiVersion + kind.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<(&ResourceDef, String)> {
        let (group, version) = split_api_version(api_version);
        self.defs
            .values()
            .find(|d| d.group == group && d.kind == kind && d.serves(version))
            .map(|d| (d.as_ref(), version.to_string()))
    }
    /// Group -> versions served (for discovery), sorted by group name.
    pub fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in self.defs.values() {
            let e = out.entry(d.group.clone()).or_default();
            for v in &d.versions {
                if !e.contains(v) {
                    e.push(v.clone());
                }
            }
        }
        for vs in out.values_mut() {
            vs.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        out
    }
}

/// "group/version" -> (group, version); "v1" -> ("", "v1").
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let major: u32 = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        (3, major, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, major, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, major, n.parse().unwrap_or(0))
    } else {
        (0, major, 0)
    }
}
