//! The in-memory object store and every API semantic (create, update, patch, apply, delete, list).
//! HTTP handlers and the library API both call into `Inner`, so they behave the same.

use crate::error::{ApiError, Cause};
use crate::fields::{
    default_keys, merge_applied, remove_at, strip_added, value_at, FieldSet, Types,
};
use crate::log::{Fault, RequestRecord};
use crate::patch;
use crate::registry::{self, split_api_version, Registry, ResourceDef};
use crate::selector::{FieldSelector, LabelSelector};
use crate::validate;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// Who may do what: the scope a bearer token was issued for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TokenScope {
    /// Cluster-admin: every namespace and cluster-scoped resource.
    Cluster,
    /// Only objects in this namespace (403 Forbidden elsewhere, including cluster-scoped kinds).
    Namespace(String),
}

/// How unknown fields in a request are treated (`?fieldValidation=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently (what the real server does when the parameter is absent).
    #[default]
    Ignore,
    /// Drop them and answer a `Warning` header.
    Warn,
    /// Refuse the request with 400 BadRequest naming the field.
    Strict,
}

/// Options of a write request.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `?fieldManager=`; empty means "derive one" (the user agent over HTTP, `kubesim` in-process).
    pub field_manager: String,
    pub force: bool,
    pub field_validation: FieldValidation,
    pub dry_run: bool,
}

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    #[default]
    Background,
    Foreground,
    Orphan,
}

/// Patch body formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Strategic,
    Json,
    Apply,
}

/// Result of a write: the object and any warnings (for the `Warning` header).
#[derive(Debug, Clone)]
pub struct WriteResult {
    pub object: Value,
    pub created: bool,
    pub warnings: Vec<String>,
}

const DEFAULT_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

pub(crate) struct Inner {
    pub registry: Registry,
    /// resource key ("group/plural") -> (namespace, name) -> stored object (storage version)
    objects: HashMap<String, BTreeMap<(String, String), Value>>,
    rv: u64,
    pub log: Vec<RequestRecord>,
    pub faults: Vec<Fault>,
    pub tokens: HashMap<String, TokenScope>,
    /// Recent changes, oldest first, for watches.
    pub events: std::collections::VecDeque<Event>,
    /// Watches from a resourceVersion at or below this one are too old (410 Expired).
    pub events_dropped_up_to: u64,
    /// Wakes watches when an event is recorded.
    pub notify: tokio::sync::watch::Sender<u64>,
}

/// Change kinds as watch events name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One change of one object (storage version), with its previous state for selector transitions.
#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub key: String,
    pub event_type: EventType,
    pub object: Value,
    pub previous: Option<Value>,
}

/// How many changes are kept for watches that start from an older resourceVersion.
const EVENT_HISTORY: usize = 10_000;

/// Handle on the emulated cluster's state. Cheap to clone; all clones share the state.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Mutex<Inner>>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn random_suffix(n: usize) -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes
        .iter()
        .take(n)
        .map(|b| CHARS[(*b as usize) % CHARS.len()] as char)
        .collect()
}

struct ManagedEntry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: String,
    fields: FieldSet,
}

fn parse_managed(obj: &Value) -> Vec<ManagedEntry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| ManagedEntry {
                    manager: e["manager"].as_str().unwrap_or_default().to_string(),
                    operation: e["operation"].as_str().unwrap_or_default().to_string(),
                    api_version: e["apiVersion"].as_str().unwrap_or_default().to_string(),
                    time: e["time"].as_str().unwrap_or_default().to_string(),
                    subresource: e["subresource"].as_str().unwrap_or_default().to_string(),
                    fields: FieldSet::from_json(&e["fieldsV1"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn managed_json(entries: &[ManagedEntry]) -> Value {
    Value::Array(
        entries
            .iter()
            .filter(|e| !e.fields.is_empty())
            .map(|e| {
                let mut m = Map::new();
                m.insert("manager".into(), json!(e.manager));
                m.insert("operation".into(), json!(e.operation));
                m.insert("apiVersion".into(), json!(e.api_version));
                m.insert("time".into(), json!(e.time));
                m.insert("fieldsType".into(), json!("FieldsV1"));
                m.insert("fieldsV1".into(), e.fields.to_json());
                if !e.subresource.is_empty() {
                    m.insert("subresource".into(), json!(e.subresource));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

const SYSTEM_META: [&str; 10] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// The part of an object whose fields are owned by managers at this endpoint.
fn owned_view(obj: &Value, has_status: bool, status_sub: bool) -> Value {
    let mut v = obj.clone();
    if let Value::Object(m) = &mut v {
        m.remove("apiVersion");
        m.remove("kind");
        if status_sub {
            m.retain(|k, _| k == "status");
        } else {
            if has_status {
                m.remove("status");
            }
            if let Some(Value::Object(meta)) = m.get_mut("metadata") {
                for k in SYSTEM_META {
                    meta.remove(k);
                }
                if meta.is_empty() {
                    m.remove("metadata");
                }
            }
        }
    }
    v
}

/// Everything except metadata and status: a change here bumps metadata.generation.
fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Value::Object(m) = &mut v {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    v
}

fn without_managed(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(Value::Object(meta)) = v.get_mut("metadata") {
        meta.remove("managedFields");
        meta.remove("resourceVersion");
    }
    v
}

enum Ownership {
    /// A non-apply write by this manager.
    Update { manager: String },
    /// Entries already computed by server-side apply.
    Applied(Vec<ManagedEntry>),
}

impl Store {
    pub fn new() -> Store {
        let mut inner = Inner {
            registry: Registry::with_builtins(),
            objects: HashMap::new(),
            rv: 0,
            log: Vec::new(),
            faults: Vec::new(),
            tokens: HashMap::new(),
            events: std::collections::VecDeque::new(),
            events_dropped_up_to: 0,
            notify: tokio::sync::watch::channel(0).0,
        };
        for ns in DEFAULT_NAMESPACES {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            // Built-in names are valid: a failure here would be a bug in the store itself.
            if let Err(e) = inner.create("/namespaces", "v1", None, obj, &WriteOptions::default()) {
                tracing::error!("creating default namespace {ns}: {e}");
            }
        }
        Store {
            inner: Arc::new(Mutex::new(inner)),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            // A panic while holding the lock leaves consistent maps (every write is a single
            // insert), so keep serving.
            Err(p) => p.into_inner(),
        }
    }

    fn resolve(inner: &Inner, api_version: &str, kind: &str) -> Result<(String, String), ApiError> {
        inner
            .registry
            .by_kind(api_version, kind)
            .map(|(d, v)| (d.key(), v))
            .ok_or_else(|| ApiError::not_found_kind(api_version, kind))
    }

    fn obj_ns(obj: &Value) -> Option<String> {
        obj.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(String::from)
    }

    /// Where an object given whole belongs: its resource key and version, its namespace
    /// (`default` when unset, ignored for cluster-scoped kinds) and its name.
    fn locate(inner: &Inner, obj: &Value) -> Result<(String, String, String, String), ApiError> {
        let (key, ver) = Self::resolve(
            inner,
            obj["apiVersion"].as_str().unwrap_or(""),
            obj["kind"].as_str().unwrap_or(""),
        )?;
        let ns = Self::obj_ns(obj).unwrap_or_else(|| "default".into());
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        Ok((key, ver, ns, name))
    }

    /// Create an object (like POST). Namespaced kinds without `metadata.namespace` go to `default`.
    pub fn create(&self, obj: Value) -> Result<Value, ApiError> {
        let mut g = self.lock();
        let (key, ver, ns, _) = Self::locate(&g, &obj)?;
        g.create(&key, &ver, Some(&ns), obj, &WriteOptions::default())
    }

    /// Replace an object (like PUT); a `metadata.resourceVersion` that is not current is a 409 Conflict.
    pub fn update(&self, obj: Value) -> Result<Value, ApiError> {
        let mut g = self.lock();
        let (key, ver, ns, name) = Self::locate(&g, &obj)?;
        g.update(
            &key,
            &ver,
            Some(&ns),
            &name,
            obj,
            &WriteOptions::default(),
            false,
        )
    }

    /// Server-side apply of `obj` as `field_manager`.
    pub fn apply(&self, obj: Value, field_manager: &str, force: bool) -> Result<Value, ApiError> {
        let mut g = self.lock();
        let (key, ver, ns, name) = Self::locate(&g, &obj)?;
        let opts = WriteOptions {
            field_manager: field_manager.to_string(),
            force,
            ..Default::default()
        };
        g.patch(
            &key,
            &ver,
            Some(&ns),
            &name,
            PatchType::Apply,
            obj,
            &opts,
            false,
        )
        .map(|r| r.object)
    }

    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let g = self.lock();
        let (key, ver) = Self::resolve(&g, api_version, kind)?;
        g.get(&key, &ver, namespace.or(Some("default")), name)
    }

    /// List objects; `namespace: None` lists every namespace.
    pub fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        let g = self.lock();
        let (key, ver) = Self::resolve(&g, api_version, kind)?;
        let ls = LabelSelector::parse(label_selector.unwrap_or(""))?;
        g.list(&key, &ver, namespace, &ls, &FieldSelector::default())
            .map(|(items, _)| items)
    }

    pub fn merge_patch(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        patch: Value,
    ) -> Result<Value, ApiError> {
        self.patch(
            api_version,
            kind,
            namespace,
            name,
            PatchType::Merge,
            patch,
            &WriteOptions::default(),
        )
    }

    /// Strategic merge patch (built-in kinds only, as on the real server).
    pub fn strategic_merge_patch(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        patch: Value,
    ) -> Result<Value, ApiError> {
        self.patch(
            api_version,
            kind,
            namespace,
            name,
            PatchType::Strategic,
            patch,
            &WriteOptions::default(),
        )
    }

    /// Replace the status subresource (PUT .../status): only `status` of `obj` is taken.
    pub fn replace_status(&self, obj: Value) -> Result<Value, ApiError> {
        let mut g = self.lock();
        let (key, ver, ns, name) = Self::locate(&g, &obj)?;
        g.update(
            &key,
            &ver,
            Some(&ns),
            &name,
            obj,
            &WriteOptions::default(),
            true,
        )
    }

    /// Delete with background propagation (dependents by ownerReferences go too).
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(), ApiError> {
        let mut g = self.lock();
        let (key, ver) = Self::resolve(&g, api_version, kind)?;
        g.delete(
            &key,
            &ver,
            namespace.or(Some("default")),
            name,
            Propagation::Background,
            None,
        )
        .map(|_| ())
    }

    /// Any patch type with explicit options (field manager, force, field validation, dry run),
    /// exactly as `PATCH` over HTTP. `PatchType::Apply` needs `opts.field_manager`.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        patch: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let mut g = self.lock();
        let (key, ver) = Self::resolve(&g, api_version, kind)?;
        g.patch(
            &key,
            &ver,
            namespace.or(Some("default")),
            name,
            patch_type,
            patch,
            opts,
            false,
        )
        .map(|r| r.object)
    }

    /// Delete with an explicit propagation policy; returns the object as the server answers it
    /// (with `deletionTimestamp` if finalizers hold it).
    pub fn delete_with(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        propagation: Propagation,
    ) -> Result<Value, ApiError> {
        let mut g = self.lock();
        let (key, ver) = Self::resolve(&g, api_version, kind)?;
        g.delete(
            &key,
            &ver,
            namespace.or(Some("default")),
            name,
            propagation,
            None,
        )
    }

    /// Install (create, or replace if present) every CustomResourceDefinition in a multi-document YAML.
    pub fn install_crd_yaml(&self, yaml: &str) -> Result<(), ApiError> {
        for doc in serde_yaml::Deserializer::from_str(yaml) {
            let v: Value = serde::Deserialize::deserialize(doc)
                .map_err(|e| ApiError::bad_request(format!("invalid CRD YAML: {e}")))?;
            if v.is_null() {
                continue;
            }
            if v["kind"].as_str() != Some("CustomResourceDefinition") {
                return Err(ApiError::bad_request(format!(
                    "expected a CustomResourceDefinition, got kind {}",
                    v["kind"]
                )));
            }
            let name = v
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let mut g = self.lock();
            let key = "apiextensions.k8s.io/customresourcedefinitions";
            let opts = WriteOptions::default();
            match g.create(key, "v1", None, v.clone(), &opts) {
                Ok(_) => {}
                Err(e) if e.code == 409 => {
                    let mut v = v;
                    if let Some(Value::Object(meta)) = v.get_mut("metadata") {
                        meta.remove("resourceVersion");
                    }
                    g.update(key, "v1", None, &name, v, &opts, false)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Whole state (objects, resourceVersion counter, tokens) as JSON, for `restore`.
    pub fn dump(&self) -> Value {
        let g = self.lock();
        let mut objects = Vec::new();
        // CRDs first so restore can serve their kinds before their objects arrive.
        let crd_key = "apiextensions.k8s.io/customresourcedefinitions";
        if let Some(m) = g.objects.get(crd_key) {
            objects.extend(m.values().cloned());
        }
        let mut keys: Vec<&String> = g.objects.keys().filter(|k| *k != crd_key).collect();
        keys.sort();
        for k in keys {
            objects.extend(g.objects[k].values().cloned());
        }
        let tokens: BTreeMap<&String, &TokenScope> = g.tokens.iter().collect();
        json!({"resourceVersion": g.rv, "objects": objects, "tokens": tokens})
    }

    /// Replace the whole state with one produced by `dump`.
    pub fn restore(&self, v: Value) -> Result<(), ApiError> {
        let objects = v["objects"]
            .as_array()
            .ok_or_else(|| ApiError::bad_request("state has no \"objects\" array"))?;
        let tokens: HashMap<String, TokenScope> = serde_json::from_value(v["tokens"].clone())
            .map_err(|e| ApiError::bad_request(format!("state has invalid tokens: {e}")))?;
        let mut g = self.lock();
        g.objects.clear();
        g.events.clear();
        g.registry = Registry::with_builtins();
        for obj in objects {
            let (key, ns, name) = {
                let api_version = obj["apiVersion"].as_str().unwrap_or("");
                let kind = obj["kind"].as_str().unwrap_or("");
                let (def, _) = g
                    .registry
                    .by_kind(api_version, kind)
                    .ok_or_else(|| ApiError::not_found_kind(api_version, kind))?;
                let ns = Self::obj_ns(obj)
                    .filter(|_| def.namespaced)
                    .unwrap_or_default();
                let name = obj
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                (def.key(), ns, name)
            };
            if kind_is_crd(obj) {
                g.registry.insert(registry::from_crd(obj)?);
            }
            g.objects
                .entry(key)
                .or_default()
                .insert((ns, name), obj.clone());
        }
        g.rv = v["resourceVersion"].as_u64().unwrap_or(g.rv);
        // Watches cannot resume across a restore.
        g.events_dropped_up_to = g.rv;
        g.tokens.extend(tokens);
        Ok(())
    }

    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.lock().log.clone()
    }

    pub fn clear_request_log(&self) {
        self.lock().log.clear();
    }

    /// Make the next `fault.count` HTTP requests matching verb and path pattern misbehave.
    pub fn inject_fault(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Register a bearer token (used by `Server::issue_token`).
    pub fn add_token(&self, token: &str, scope: TokenScope) {
        self.lock().tokens.insert(token.to_string(), scope);
    }
}

fn kind_is_crd(obj: &Value) -> bool {
    obj["kind"].as_str() == Some("CustomResourceDefinition")
        && obj["apiVersion"].as_str() == Some("apiextensions.k8s.io/v1")
}

impl ApiError {
    pub(crate) fn not_found_kind(api_version: &str, kind: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource (no kind \"{kind}\" is served in version \"{api_version}\")"),
        )
    }
}

impl Inner {
    pub fn def(&self, key: &str) -> Result<std::sync::Arc<ResourceDef>, ApiError> {
        self.registry.get(key).ok_or_else(|| {
            ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )
        })
    }

    fn ns_key(def: &ResourceDef, ns: Option<&str>) -> String {
        if def.namespaced {
            ns.unwrap_or_default().to_string()
        } else {
            String::new()
        }
    }

    fn require_namespace(&self, def: &ResourceDef, ns: Option<&str>) -> Result<(), ApiError> {
        if !def.namespaced {
            return Ok(());
        }
        let ns = ns.unwrap_or_default();
        if ns.is_empty() {
            return Err(ApiError::bad_request(
                "the namespace of the object is required",
            ));
        }
        let exists = self
            .objects
            .get("/namespaces")
            .is_some_and(|m| m.contains_key(&(String::new(), ns.to_string())));
        if !exists {
            return Err(ApiError::not_found("", "namespaces", ns));
        }
        Ok(())
    }

    /// The stored object as served at `version`.
    fn present(def: &ResourceDef, version: &str, obj: &Value) -> Value {
        let mut o = obj.clone();
        o["apiVersion"] = json!(def.api_version(version));
        o["kind"] = json!(def.kind);
        o
    }

    fn lookup(&self, def: &ResourceDef, ns: Option<&str>, name: &str) -> Option<&Value> {
        self.objects
            .get(&def.key())
            .and_then(|m| m.get(&(Self::ns_key(def, ns), name.to_string())))
    }

    pub fn get(
        &self,
        key: &str,
        version: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let def = self.def(key)?;
        self.lookup(&def, ns, name)
            .map(|o| Self::present(&def, version, o))
            .ok_or_else(|| ApiError::not_found(&def.group, &def.plural, name))
    }

    /// Items and the list resourceVersion.
    pub fn list(
        &self,
        key: &str,
        version: &str,
        ns: Option<&str>,
        ls: &LabelSelector,
        fs: &FieldSelector,
    ) -> Result<(Vec<Value>, String), ApiError> {
        let def = self.def(key)?;
        let out = self
            .list_refs(&def, ns, ls, fs)
            .into_iter()
            .map(|o| Self::present(&def, version, o))
            .collect();
        Ok((out, self.rv.to_string()))
    }

    /// Matching stored objects (storage version), without copying them.
    pub fn list_refs(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        ls: &LabelSelector,
        fs: &FieldSelector,
    ) -> Vec<&Value> {
        let Some(m) = self.objects.get(&def.key()) else {
            return Vec::new();
        };
        let iter: Box<dyn Iterator<Item = &Value>> = match ns.filter(|_| def.namespaced) {
            Some(n) => Box::new(
                m.range((n.to_string(), String::new())..)
                    .take_while(move |((k, _), _)| k == n)
                    .map(|(_, v)| v),
            ),
            None => Box::new(m.values()),
        };
        iter.filter(|o| ls.matches(o) && fs.matches(o)).collect()
    }

    fn check_kind(def: &ResourceDef, version: &str, obj: &Value) -> Result<(), ApiError> {
        let want = def.api_version(version);
        if let Some(av) = obj["apiVersion"].as_str() {
            let (g, v) = split_api_version(av);
            if g != def.group || !def.serves(v) {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({av}) does not match the expected API version ({want})"
                )));
            }
        }
        if let Some(k) = obj["kind"].as_str() {
            if k != def.kind {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    def.kind
                )));
            }
        }
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        Ok(())
    }

    fn set_namespace(def: &ResourceDef, ns: Option<&str>, obj: &mut Value) -> Result<(), ApiError> {
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        let body_ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(String::from);
        if def.namespaced {
            let ns = ns.unwrap_or_default();
            if let Some(b) = body_ns.filter(|b| !b.is_empty()) {
                if b != ns {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
            }
            obj["metadata"]["namespace"] = json!(ns);
        } else if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        Ok(())
    }

    pub fn create(
        &mut self,
        key: &str,
        version: &str,
        ns: Option<&str>,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.create_http(key, version, ns, obj, opts)
            .map(|r| r.object)
    }

    pub fn create_http(
        &mut self,
        key: &str,
        version: &str,
        ns: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<WriteResult, ApiError> {
        let def = self.def(key)?;
        Self::check_kind(&def, version, &obj)?;
        Self::set_namespace(&def, ns, &mut obj)?;
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name = if name.is_empty() {
            match obj
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
            {
                Some(g) if !g.is_empty() => format!("{g}{}", random_suffix(5)),
                _ => {
                    return Err(ApiError::invalid(
                        &def.kind,
                        &def.group,
                        "",
                        vec![Cause {
                            reason: "FieldValueRequired".into(),
                            message: "Required value: name or generateName is required".into(),
                            field: "metadata.name".into(),
                        }],
                    ))
                }
            }
        } else {
            name
        };
        obj["metadata"]["name"] = json!(name);
        let ownership = Ownership::Update {
            manager: manager_or_default(opts),
        };
        let mut warnings = Vec::new();
        let object = self.commit_with_warnings(
            &def,
            version,
            ns,
            None,
            obj,
            opts,
            ownership,
            false,
            &mut warnings,
        )?;
        Ok(WriteResult {
            object,
            created: true,
            warnings,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        key: &str,
        version: &str,
        ns: Option<&str>,
        name: &str,
        obj: Value,
        opts: &WriteOptions,
        status_sub: bool,
    ) -> Result<Value, ApiError> {
        self.update_http(key, version, ns, name, obj, opts, status_sub)
            .map(|r| r.object)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn update_http(
        &mut self,
        key: &str,
        version: &str,
        ns: Option<&str>,
        name: &str,
        mut obj: Value,
        opts: &WriteOptions,
        status_sub: bool,
    ) -> Result<WriteResult, ApiError> {
        let def = self.def(key)?;
        if status_sub && !def.has_status {
            return Err(ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ));
        }
        Self::check_kind(&def, version, &obj)?;
        Self::set_namespace(&def, ns, &mut obj)?;
        let body_name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if body_name.is_empty() {
            obj["metadata"]["name"] = json!(name);
        } else if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        self.require_namespace(&def, ns)?;
        let old = self
            .lookup(&def, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&def.group, &def.plural, name))?;
        if let Some(rv) = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            if !rv.is_empty()
                && Some(rv)
                    != old
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
            {
                return Err(ApiError::conflict(
                    &def.group,
                    &def.plural,
                    name,
                    "the object has been modified; please apply your changes to the latest version and try again",
                ));
            }
        }
        let ownership = Ownership::Update {
            manager: manager_or_default(opts),
        };
        let mut warnings = Vec::new();
        let object = self.commit_with_warnings(
            &def,
            version,
            ns,
            Some(&old),
            obj,
            opts,
            ownership,
            status_sub,
            &mut warnings,
        )?;
        Ok(WriteResult {
            object,
            created: false,
            warnings,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &mut self,
        key: &str,
        version: &str,
        ns: Option<&str>,
        name: &str,
        ptype: PatchType,
        body: Value,
        opts: &WriteOptions,
        status_sub: bool,
    ) -> Result<WriteResult, ApiError> {
        let def = self.def(key)?;
        if status_sub && !def.has_status {
            return Err(ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ));
        }
        self.require_namespace(&def, ns)?;
        let old = self.lookup(&def, ns, name).cloned();
        if ptype == PatchType::Apply {
            return self.apply(&def, version, ns, name, old, body, opts, status_sub);
        }
        let old = old.ok_or_else(|| ApiError::not_found(&def.group, &def.plural, name))?;
        let mut new = Self::present(&def, version, &old);
        match ptype {
            PatchType::Merge => patch::merge_patch(&mut new, &body),
            PatchType::Strategic => {
                if def.custom {
                    return Err(ApiError::unsupported_media_type(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                    ));
                }
                let types = Types { schema: None };
                patch::strategic_merge_patch(&mut new, &body, types, &mut Vec::new())?
            }
            PatchType::Json => patch::json_patch(&mut new, &body)?,
            PatchType::Apply => {}
        }
        // A patch may not rename or move the object.
        if new.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
            return Err(ApiError::bad_request(
                "metadata.name cannot be changed by a patch",
            ));
        }
        // Patches are based on the current object: a stale resourceVersion in the patch conflicts.
        if let Some(rv) = body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            if Some(rv)
                != old
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
            {
                return Err(ApiError::conflict(&def.group, &def.plural, name,
                    "the object has been modified; please apply your changes to the latest version and try again"));
            }
        }
        Self::check_kind(&def, version, &new)?;
        let ownership = Ownership::Update {
            manager: manager_or_default(opts),
        };
        let mut warnings = Vec::new();
        let object = self.commit_with_warnings(
            &def,
            version,
            ns,
            Some(&old),
            new,
            opts,
            ownership,
            status_sub,
            &mut warnings,
        )?;
        Ok(WriteResult {
            object,
            created: false,
            warnings,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        def: &ResourceDef,
        version: &str,
        ns: Option<&str>,
        name: &str,
        old: Option<Value>,
        mut applied: Value,
        opts: &WriteOptions,
        status_sub: bool,
    ) -> Result<WriteResult, ApiError> {
        let manager = opts.field_manager.clone();
        if manager.is_empty() {
            return Err(ApiError::bad_request(
                "PATCH, application/apply-patch+yaml requires fieldManager parameter",
            ));
        }
        if !applied.is_object() {
            return Err(ApiError::bad_request(
                "the applied configuration must be an object",
            ));
        }
        if applied["apiVersion"].as_str().unwrap_or("").is_empty() {
            return Err(ApiError::bad_request(
                "apiVersion must be set in the applied configuration",
            ));
        }
        if applied["kind"].as_str().unwrap_or("").is_empty() {
            return Err(ApiError::bad_request(
                "kind must be set in the applied configuration",
            ));
        }
        Self::check_kind(def, version, &applied)?;
        Self::set_namespace(def, ns, &mut applied)?;
        let body_name = applied
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if body_name.is_empty() {
            applied["metadata"]["name"] = json!(name);
        } else if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let mut warnings = Vec::new();
        // Unknown fields are not owned by anyone: prune the applied configuration first.
        if let Some(schema) = def.custom.then(|| def.schemas.get(version)).flatten() {
            let raw = applied.clone();
            let report = validate::validate_custom(&mut applied, schema);
            unknown_fields(
                def,
                version,
                &report.unknown,
                opts.field_validation,
                &mut warnings,
            )?;
            // Schema defaults are the server's, not the manager's: they are filled in when the
            // merged object is stored, so they neither conflict nor get removed with the config.
            strip_added(&mut applied, &raw);
        }
        let types = Types {
            schema: def
                .custom
                .then(|| def.schemas.get(def.storage_version()))
                .flatten(),
        };
        let defaulted_keys = default_keys(&mut applied, types, &mut Vec::new());
        let applied_view = owned_view(&applied, def.has_status, status_sub);
        let mut new_set = FieldSet::from_value(&applied_view, types, &mut Vec::new());
        if !defaulted_keys.is_empty() {
            let mut unowned = FieldSet::default();
            for p in &defaulted_keys {
                insert_path(&mut unowned, p);
            }
            new_set = new_set.difference(&unowned);
        }
        let api_version = def.api_version(version);
        let sub = if status_sub { "status" } else { "" };
        let Some(old) = old else {
            if status_sub {
                return Err(ApiError::not_found(&def.group, &def.plural, name));
            }
            let entries = vec![ManagedEntry {
                manager,
                operation: "Apply".into(),
                api_version,
                time: now(),
                subresource: String::new(),
                fields: new_set,
            }];
            let mut obj = applied;
            if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
                meta.remove("managedFields");
            }
            let object = self.commit_with_warnings(
                def,
                version,
                ns,
                None,
                obj,
                opts,
                Ownership::Applied(entries),
                false,
                &mut warnings,
            )?;
            return Ok(WriteResult {
                object,
                created: true,
                warnings,
            });
        };
        let mut entries = parse_managed(&old);
        let live_view = owned_view(&old, def.has_status, status_sub);
        // Conflicts: fields another manager owns whose value this apply would change.
        let mut conflicts: Vec<(usize, Vec<String>)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            if e.manager == manager {
                continue;
            }
            let both = new_set.intersection(&e.fields);
            for (p, has_children) in both.leaves() {
                if !has_children && value_at(&live_view, &p) != value_at(&applied_view, &p) {
                    conflicts.push((i, p));
                }
            }
        }
        if !conflicts.is_empty() {
            if !opts.force {
                return Err(conflict_error(def, name, &entries, &conflicts));
            }
            for (i, p) in &conflicts {
                let mut one = FieldSet::default();
                insert_path(&mut one, p);
                entries[*i].fields = entries[*i].fields.difference(&one);
            }
        }
        let self_idx = entries
            .iter()
            .position(|e| e.manager == manager && e.operation == "Apply" && e.subresource == sub);
        let previous = self_idx
            .map(|i| entries[i].fields.clone())
            .unwrap_or_default();
        let mut others = FieldSet::default();
        for (i, e) in entries.iter().enumerate() {
            if Some(i) != self_idx && e.subresource == sub {
                others.union(&e.fields);
            }
        }
        let to_remove = previous.difference(&new_set).difference(&others);
        let mut merged = Self::present(def, version, &old);
        merge_applied(&mut merged, &applied_view, types, &mut Vec::new());
        // Shallow paths first: a removed list item goes as a whole (deeper paths inside it then
        // find nothing), rather than having its key fields stripped first.
        let mut removals = to_remove.leaves();
        removals.sort_by_key(|(p, _)| p.len());
        // A keyed item in which another manager still owns a field stays (with its key fields);
        // only this manager's own fields in it go.
        let kept_items: Vec<Vec<String>> = removals
            .iter()
            .filter(|(p, _)| p.last().is_some_and(|e| e.starts_with("k:")))
            .filter(|(p, _)| subtree(&others, p).is_some_and(|t| !t.is_empty()))
            .map(|(p, _)| p.clone())
            .collect();
        for (p, _) in removals {
            if kept_items.contains(&p) {
                continue;
            }
            // Key fields go only with their item (whose removal, shallower, came first).
            if let Some((field, item)) = p.split_last() {
                if is_key_field(item, field) {
                    continue;
                }
            }
            remove_at(&mut merged, &p);
        }
        let entry = ManagedEntry {
            manager,
            operation: "Apply".into(),
            api_version,
            time: now(),
            subresource: sub.into(),
            fields: new_set,
        };
        match self_idx {
            Some(i) => entries[i] = entry,
            None => entries.push(entry),
        }
        let object = self.commit_with_warnings(
            def,
            version,
            ns,
            Some(&old),
            merged,
            opts,
            Ownership::Applied(entries),
            status_sub,
            &mut warnings,
        )?;
        Ok(WriteResult {
            object,
            created: false,
            warnings,
        })
    }

    /// Common path of every write: system fields, validation, ownership, generation, storage.
    #[allow(clippy::too_many_arguments)]
    fn commit_with_warnings(
        &mut self,
        def: &ResourceDef,
        version: &str,
        ns: Option<&str>,
        old: Option<&Value>,
        mut new: Value,
        opts: &WriteOptions,
        ownership: Ownership,
        status_sub: bool,
        warnings: &mut Vec<String>,
    ) -> Result<Value, ApiError> {
        self.require_namespace(def, ns)?;
        let name = new
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        new["apiVersion"] = json!(def.api_version(version));
        new["kind"] = json!(def.kind);
        match old {
            None => {
                if self.lookup(def, ns, &name).is_some() {
                    return Err(ApiError::already_exists(&def.group, &def.plural, &name));
                }
                if let Some(n) = ns.filter(|_| def.namespaced) {
                    let terminating = self
                        .objects
                        .get("/namespaces")
                        .and_then(|m| m.get(&(String::new(), n.to_string())))
                        .is_some_and(|o| o.pointer("/metadata/deletionTimestamp").is_some());
                    if terminating {
                        let mut e = ApiError::forbidden(format!(
                            "{} \"{name}\" is forbidden: unable to create new content in namespace {n} because it is being terminated",
                            crate::error::qualified(&def.group, &def.plural)
                        ));
                        e.details = Some(Box::new(crate::error::StatusDetails {
                            name: name.clone(),
                            group: def.group.clone(),
                            kind: def.plural.clone(),
                        }));
                        return Err(e);
                    }
                }
                if def.has_status {
                    // Status is set through the status subresource only (as the real server does).
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                    if def.kind == "Namespace" {
                        new["status"] = json!({"phase": "Active"});
                    }
                }
                let meta = &mut new["metadata"];
                meta["uid"] = json!(uuid::Uuid::new_v4().to_string());
                meta["creationTimestamp"] = json!(now());
                if let Some(m) = meta.as_object_mut() {
                    m.remove("deletionTimestamp");
                    m.remove("resourceVersion");
                    if def.tracks_generation {
                        m.insert("generation".into(), json!(1));
                    } else {
                        m.remove("generation");
                    }
                }
            }
            Some(old) => {
                if status_sub {
                    // Only status changes through the status subresource.
                    let status = new.get("status").cloned();
                    let mut base = Self::present(def, version, old);
                    match status {
                        Some(s) => base["status"] = s,
                        None => {
                            if let Some(m) = base.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                    new = base;
                } else if def.has_status {
                    match old.get("status") {
                        Some(s) => new["status"] = s.clone(),
                        None => {
                            if let Some(m) = new.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                }
                let meta = &mut new["metadata"];
                for k in [
                    "uid",
                    "creationTimestamp",
                    "generation",
                    "deletionTimestamp",
                ] {
                    match old["metadata"].get(k) {
                        Some(v) => meta[k] = v.clone(),
                        None => {
                            if let Some(m) = meta.as_object_mut() {
                                m.remove(k);
                            }
                        }
                    }
                }
                if def.tracks_generation && spec_part(old) != spec_part(&new) {
                    let g = old
                        .pointer("/metadata/generation")
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                    new["metadata"]["generation"] = json!(g + 1);
                }
            }
        }
        if def.kind == "Service" && !def.custom && !status_sub {
            self.default_service(&mut new, old);
        }
        if !def.custom && !status_sub {
            // The server defaults list-map key fields (a container port's protocol), so every
            // stored item has the full key server-side apply matches on.
            default_keys(&mut new, Types { schema: None }, &mut Vec::new());
        }
        // Validation.
        let mut causes = Vec::new();
        if old.is_none() {
            causes.extend(validate::name_causes(def.name_rule, &name));
            if def.kind == "CustomResourceDefinition" {
                causes.extend(crd_causes(&new));
            }
        }
        causes.extend(validate::metadata_causes(&new["metadata"]));
        if def.custom {
            if let Some(schema) = def.schemas.get(version) {
                let report = validate::validate_custom(&mut new, schema);
                causes.extend(report.causes);
                unknown_fields(
                    def,
                    version,
                    &report.unknown,
                    opts.field_validation,
                    warnings,
                )?;
            }
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(&def.kind, &def.group, &name, causes));
        }
        // Field ownership.
        let entries = match ownership {
            Ownership::Applied(e) => e,
            Ownership::Update { manager } => {
                let types = Types {
                    schema: def
                        .custom
                        .then(|| def.schemas.get(def.storage_version()))
                        .flatten(),
                };
                let mut entries = old.map(parse_managed).unwrap_or_default();
                let new_view = owned_view(&new, def.has_status, status_sub);
                let old_view = old
                    .map(|o| owned_view(o, def.has_status, status_sub))
                    .unwrap_or(Value::Null);
                let new_fs = FieldSet::from_value(&new_view, types, &mut Vec::new());
                let old_fs = FieldSet::from_value(&old_view, types, &mut Vec::new());
                let old_fs = if old.is_some() {
                    old_fs
                } else {
                    FieldSet::default()
                };
                let mut changed = FieldSet::default();
                for (p, has_children) in new_fs.leaves() {
                    let differs = if has_children {
                        value_at(&old_view, &p).is_none()
                    } else {
                        value_at(&old_view, &p) != value_at(&new_view, &p)
                    };
                    if differs {
                        insert_path(&mut changed, &p);
                    }
                }
                let removed = old_fs.difference(&new_fs);
                let sub = if status_sub { "status" } else { "" };
                for e in entries.iter_mut() {
                    if e.subresource == sub {
                        e.fields = e.fields.difference(&changed).difference(&removed);
                    }
                }
                if !changed.is_empty() {
                    match entries.iter_mut().find(|e| {
                        e.manager == manager && e.operation == "Update" && e.subresource == sub
                    }) {
                        Some(e) => {
                            e.fields.union(&changed);
                            e.time = now();
                            e.api_version = def.api_version(version);
                        }
                        None => entries.push(ManagedEntry {
                            manager,
                            operation: "Update".into(),
                            api_version: def.api_version(version),
                            time: now(),
                            subresource: sub.into(),
                            fields: changed,
                        }),
                    }
                }
                entries
            }
        };
        // No-op writes keep the resourceVersion (and ownership timestamps), as on the real server.
        if let Some(old) = old {
            let old_sets: Vec<(String, String, String, FieldSet)> = parse_managed(old)
                .into_iter()
                .filter(|e| !e.fields.is_empty())
                .map(|e| (e.manager, e.operation, e.subresource, e.fields))
                .collect();
            let new_sets: Vec<(String, String, String, FieldSet)> = entries
                .iter()
                .filter(|e| !e.fields.is_empty())
                .map(|e| {
                    (
                        e.manager.clone(),
                        e.operation.clone(),
                        e.subresource.clone(),
                        e.fields.clone(),
                    )
                })
                .collect();
            if old_sets == new_sets
                && without_managed(old)
                    == without_managed(&Self::present(def, def.storage_version(), &new))
            {
                return Ok(Self::present(def, version, old));
            }
        }
        let mj = managed_json(&entries);
        if mj.as_array().is_some_and(|a| !a.is_empty()) {
            new["metadata"]["managedFields"] = mj;
        } else if let Some(m) = new["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
        if def.kind == "CustomResourceDefinition" {
            let served = registry::from_crd(&new)?;
            let names = new["spec"]["names"].clone();
            new["status"] = json!({
                "acceptedNames": names,
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now()},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now()}
                ],
                "storedVersions": [served.storage_version()],
            });
            if !opts.dry_run {
                self.registry.insert(served);
            }
        }
        if opts.dry_run {
            return Ok(new);
        }
        self.rv += 1;
        new["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let stored = Self::present(def, def.storage_version(), &new);
        let previous = self
            .objects
            .entry(def.key())
            .or_default()
            .insert((Self::ns_key(def, ns), name.clone()), stored.clone());
        let event_type = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(def, event_type, &stored, previous);
        // A deleting object whose last finalizer was just removed goes now.
        if new.pointer("/metadata/deletionTimestamp").is_some()
            && !Self::has_finalizers(&new)
            && def.kind != "Namespace"
        {
            self.delete_one(def, ns, &name, Propagation::Background);
        }
        Ok(new)
    }

    /// Delete an object and, unless orphaning, its dependents (by ownerReferences); deleting a
    /// namespace deletes everything in it; deleting a CRD stops serving its kind.
    pub fn delete(
        &mut self,
        key: &str,
        version: &str,
        ns: Option<&str>,
        name: &str,
        prop: Propagation,
        preconditions: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let def = self.def(key)?;
        self.require_namespace(&def, ns)?;
        let obj = self
            .lookup(&def, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&def.group, &def.plural, name))?;
        if let Some(pre) = preconditions {
            for (field, ptr) in [
                ("uid", "/metadata/uid"),
                ("resourceVersion", "/metadata/resourceVersion"),
            ] {
                if let Some(want) = pre.get(field).and_then(Value::as_str) {
                    if obj.pointer(ptr).and_then(Value::as_str) != Some(want) {
                        return Err(ApiError::conflict(&def.group, &def.plural, name, &format!(
                            "Precondition failed: {field} in precondition: {want}, {field} in object meta: {}",
                            obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
                        )));
                    }
                }
            }
        }
        let after = self.delete_one(&def, ns, name, prop).unwrap_or(obj);
        Ok(Self::present(&def, version, &after))
    }

    fn has_finalizers(obj: &Value) -> bool {
        obj.pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    }

    fn namespace_has_content(&self, ns: &str) -> bool {
        self.objects.values().any(|m| {
            m.range((ns.to_string(), String::new())..)
                .next()
                .is_some_and(|((n, _), _)| n == ns)
        })
    }

    /// Store a changed object in place with a new resourceVersion.
    fn store_in_place(
        &mut self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
        mut obj: Value,
    ) -> Value {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let previous = self
            .objects
            .entry(def.key())
            .or_default()
            .insert((Self::ns_key(def, ns), name.to_string()), obj.clone());
        self.record(def, EventType::Modified, &obj, previous);
        obj
    }

    /// Delete honouring finalizers: an object with finalizers only gets a deletionTimestamp and
    /// goes when its last finalizer is removed; a namespace deletes its content and stays
    /// `Terminating` while finalized objects remain in it. Returns the object after the call.
    fn delete_one(
        &mut self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
        prop: Propagation,
    ) -> Option<Value> {
        let mut obj = self.lookup(def, ns, name)?.clone();
        if def.kind == "Namespace" {
            let contents: Vec<(String, String)> = self
                .objects
                .iter()
                .flat_map(|(key, m)| {
                    m.range((name.to_string(), String::new())..)
                        .take_while(|((n, _), _)| n == name)
                        .map(|((_, nm), _)| (key.clone(), nm.clone()))
                        .collect::<Vec<_>>()
                })
                .collect();
            for (key, nm) in contents {
                if let Some(d) = self.registry.get(&key) {
                    self.delete_one(&d, Some(name), &nm, prop);
                }
            }
            if self.namespace_has_content(name) {
                if obj.pointer("/metadata/deletionTimestamp").is_none() {
                    obj["metadata"]["deletionTimestamp"] = json!(now());
                    obj["status"] = json!({"phase": "Terminating"});
                    obj = self.store_in_place(def, None, name, obj);
                }
                return Some(obj);
            }
            self.remove_object(def, None, name, prop);
            return Some(obj);
        }
        if Self::has_finalizers(&obj) {
            if obj.pointer("/metadata/deletionTimestamp").is_none() {
                obj["metadata"]["deletionTimestamp"] = json!(now());
                obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                obj = self.store_in_place(def, ns, name, obj);
            }
            return Some(obj);
        }
        self.remove_object(def, ns, name, prop);
        if let Some(n) = ns.filter(|_| def.namespaced) {
            self.finish_namespace_if_empty(n);
        }
        Some(obj)
    }

    /// Remember a change for watches and wake them.
    fn record(
        &mut self,
        def: &ResourceDef,
        event_type: EventType,
        object: &Value,
        previous: Option<Value>,
    ) {
        self.events.push_back(Event {
            rv: self.rv,
            key: def.key(),
            event_type,
            object: object.clone(),
            previous,
        });
        while self.events.len() > EVENT_HISTORY {
            if let Some(e) = self.events.pop_front() {
                self.events_dropped_up_to = e.rv;
            }
        }
        self.notify.send_replace(self.rv);
    }

    /// A Terminating namespace goes once nothing is left in it.
    fn finish_namespace_if_empty(&mut self, ns: &str) {
        let terminating = self
            .objects
            .get("/namespaces")
            .and_then(|m| m.get(&(String::new(), ns.to_string())))
            .is_some_and(|o| o.pointer("/metadata/deletionTimestamp").is_some());
        if terminating && !self.namespace_has_content(ns) {
            if let Some(d) = self.registry.get("/namespaces") {
                self.remove_object(&d, None, ns, Propagation::Background);
            }
        }
    }

    fn remove_object(
        &mut self,
        def: &ResourceDef,
        ns: Option<&str>,
        name: &str,
        prop: Propagation,
    ) {
        let Some(obj) = self
            .objects
            .get_mut(&def.key())
            .and_then(|m| m.remove(&(Self::ns_key(def, ns), name.to_string())))
        else {
            return;
        };
        self.rv += 1;
        let mut gone = obj.clone();
        gone["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(def, EventType::Deleted, &gone, Some(obj.clone()));
        let uid = obj
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if def.kind == "Namespace" {
            for (_, m) in self.objects.iter_mut() {
                m.retain(|(n, _), _| n != name);
            }
        }
        if def.kind == "CustomResourceDefinition" {
            if let Ok(served) = registry::from_crd(&obj) {
                self.objects.remove(&served.key());
                self.registry.remove(&served.key());
            }
        }
        // Garbage collection of dependents.
        let mut dependents = Vec::new();
        for (key, m) in self.objects.iter() {
            for ((dns, dname), o) in m.iter() {
                let owned = o
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| {
                        refs.iter().any(|r| r["uid"].as_str() == Some(uid.as_str()))
                    });
                if owned {
                    dependents.push((key.clone(), dns.clone(), dname.clone(), o.clone()));
                }
            }
        }
        for (key, dns, dname, mut o) in dependents {
            let Some(d) = self.registry.get(&key) else {
                continue;
            };
            let n = (!dns.is_empty()).then_some(dns.as_str());
            if prop == Propagation::Orphan {
                if let Some(refs) = o
                    .pointer_mut("/metadata/ownerReferences")
                    .and_then(Value::as_array_mut)
                {
                    refs.retain(|r| r["uid"].as_str() != Some(uid.as_str()));
                }
                self.store_in_place(&d, n, &dname, o);
            } else {
                self.delete_one(&d, n, &dname, prop);
            }
        }
    }

    /// What the real API server itself (not a controller) does to a Service: defaults and a
    /// cluster IP from 10.152.183.0/24 upwards (the MicroK8s range Juju users see), kept on update.
    fn default_service(&self, svc: &mut Value, old: Option<&Value>) {
        if !svc["spec"].is_object() {
            svc["spec"] = json!({});
        }
        let spec = &mut svc["spec"];
        if spec["type"].as_str().unwrap_or("").is_empty() {
            spec["type"] = json!("ClusterIP");
        }
        if spec["sessionAffinity"].is_null() {
            spec["sessionAffinity"] = json!("None");
        }
        if let Some(ports) = spec["ports"].as_array_mut() {
            for p in ports.iter_mut().filter(|p| p.is_object()) {
                if p["protocol"].is_null() {
                    p["protocol"] = json!("TCP");
                }
                if p["targetPort"].is_null() {
                    p["targetPort"] = p["port"].clone();
                }
            }
        }
        if spec["type"] == json!("ExternalName") {
            return;
        }
        let old_ip = old.and_then(|o| o.pointer("/spec/clusterIP")).cloned();
        let ip = match (spec["clusterIP"].as_str(), old_ip) {
            (Some(ip), _) if !ip.is_empty() => ip.to_string(),
            (_, Some(Value::String(ip))) if !ip.is_empty() => ip,
            _ => self.free_cluster_ip(),
        };
        spec["clusterIP"] = json!(ip);
        spec["clusterIPs"] = json!([ip]);
        if ip != "None" {
            if spec["ipFamilies"].is_null() {
                spec["ipFamilies"] = json!(["IPv4"]);
            }
            if spec["ipFamilyPolicy"].is_null() {
                spec["ipFamilyPolicy"] = json!("SingleStack");
            }
        }
        if spec["internalTrafficPolicy"].is_null() {
            spec["internalTrafficPolicy"] = json!("Cluster");
        }
    }

    fn free_cluster_ip(&self) -> String {
        let used: std::collections::HashSet<&str> = self
            .objects
            .get("/services")
            .map(|m| {
                m.values()
                    .filter_map(|s| s.pointer("/spec/clusterIP").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        let base: u32 = (10 << 24) | (152 << 16) | (183 << 8);
        (1..(1u32 << 16))
            .map(|n| base + n)
            .filter(|ip| ip & 0xff != 0 && ip & 0xff != 255)
            .map(|ip| {
                format!(
                    "{}.{}.{}.{}",
                    ip >> 24,
                    (ip >> 16) & 0xff,
                    (ip >> 8) & 0xff,
                    ip & 0xff
                )
            })
            .find(|ip| !used.contains(ip.as_str()))
            .unwrap_or_else(|| "None".to_string())
    }

    pub fn current_rv(&self) -> String {
        self.rv.to_string()
    }
}

fn manager_or_default(opts: &WriteOptions) -> String {
    if opts.field_manager.is_empty() {
        "kubesim".to_string()
    } else {
        opts.field_manager.clone()
    }
}

/// The part of a field set at a path.
fn subtree<'f>(fs: &'f FieldSet, path: &[String]) -> Option<&'f FieldSet> {
    let mut cur = fs;
    for p in path {
        cur = cur.children.get(p)?;
    }
    Some(cur)
}

/// Is `field` (`f:name`) one of the key fields in the item element `k:{...}` ending `item`?
fn is_key_field(item: &[String], field: &str) -> bool {
    let (Some(k), Some(f)) = (
        item.last().and_then(|e| e.strip_prefix("k:")),
        field.strip_prefix("f:"),
    ) else {
        return false;
    };
    serde_json::from_str::<serde_json::Map<String, Value>>(k).is_ok_and(|m| m.contains_key(f))
}

fn insert_path(fs: &mut FieldSet, path: &[String]) {
    let mut cur = fs;
    for p in path {
        cur = cur.children.entry(p.clone()).or_default();
    }
    cur.owned = true;
}

fn unknown_fields(
    def: &ResourceDef,
    version: &str,
    unknown: &[String],
    fv: FieldValidation,
    warnings: &mut Vec<String>,
) -> Result<(), ApiError> {
    if unknown.is_empty() {
        return Ok(());
    }
    match fv {
        FieldValidation::Ignore => Ok(()),
        FieldValidation::Warn => {
            warnings.extend(unknown.iter().map(|u| format!("unknown field \"{u}\"")));
            Ok(())
        }
        FieldValidation::Strict => {
            let list: Vec<String> = unknown
                .iter()
                .map(|u| format!("unknown field \"{u}\""))
                .collect();
            let mut e = ApiError::bad_request(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                list.join(", "),
                kind = def.kind
            ));
            e.causes = unknown
                .iter()
                .map(|u| Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("unknown field \"{u}\""),
                    field: u.clone(),
                })
                .collect();
            Err(e)
        }
    }
}

fn conflict_error(
    def: &ResourceDef,
    name: &str,
    entries: &[ManagedEntry],
    conflicts: &[(usize, Vec<String>)],
) -> ApiError {
    let causes: Vec<Cause> = conflicts
        .iter()
        .map(|(i, p)| Cause {
            reason: "FieldManagerConflict".into(),
            message: format!(
                "conflict with \"{}\" using {}",
                entries[*i].manager, entries[*i].api_version
            ),
            field: crate::fields::path_string(p),
        })
        .collect();
    let msg = if causes.len() == 1 {
        format!(
            "Apply failed with 1 conflict: {}: {}",
            causes[0].message, causes[0].field
        )
    } else {
        let mut by_mgr: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for c in &causes {
            by_mgr
                .entry(c.message.as_str())
                .or_default()
                .push(c.field.as_str());
        }
        let parts: Vec<String> = by_mgr
            .iter()
            .map(|(m, fs)| {
                let m = m.replacen("conflict with", "conflicts with", 1);
                format!("{m}:\n- {}", fs.join("\n- "))
            })
            .collect();
        format!(
            "Apply failed with {} conflicts: {}",
            causes.len(),
            parts.join("\n")
        )
    };
    let mut e = ApiError::new(409, "Conflict", msg);
    e.causes = causes;
    e.details = Some(Box::new(crate::error::StatusDetails {
        name: name.to_string(),
        group: def.group.clone(),
        kind: def.plural.clone(),
    }));
    e
}

fn crd_causes(crd: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let plural = crd
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name != format!("{plural}.{group}") {
        out.push(Cause {
            reason: "FieldValueInvalid".into(),
            message: format!(
                "Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
            ),
            field: "metadata.name".into(),
        });
    }
    if crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .is_none_or(|v| v.is_empty())
    {
        out.push(Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value: must have exactly one version marked as storage version"
                .into(),
            field: "spec.versions".into(),
        });
    }
    out
}
