//! Keep a set of owned Kubernetes objects in step with a desired list, through kube-rs.
//!
//! Generic over kinds (AuthorizationPolicies here; Gateways and HPAs in the membership code):
//!
//! - objects are owned through labels (the Python beacon's `app.kubernetes.io/instance` +
//!   `kubernetes-resource-handler-scope`) and listed by that label selector, one namespace at a
//!   time: one list request per kind and namespace;
//! - desired objects are written with server-side apply, field manager = the application name
//!   (as the Python beacon), and only when the live object differs from them: a reconcile with
//!   nothing to change makes no write;
//! - new and changed objects are applied first and stale ones deleted afterwards, and nothing is
//!   deleted when any apply failed, so a change never opens a window in which traffic that is
//!   still allowed is denied;
//! - objects we already own are applied with `force` (reverting drift is the reconciler's job,
//!   and an object carrying our ownership labels is ours); an object of the same name that we
//!   do not own is applied without `force`, so a conflict with another field manager is
//!   reported instead of silently taken over.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::Value;

/// A kind of object the reconciler manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub resource: ApiResource,
}

impl Kind {
    /// `api_version` as in an object (`security.istio.io/v1`, `v1`), kind and plural.
    pub fn new(api_version: &str, kind: &str, plural: &str) -> Self {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        Kind {
            resource: ApiResource::from_gvk_with_plural(&gvk, plural),
        }
    }

    pub fn kind(&self) -> &str {
        &self.resource.kind
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.resource.kind, self.resource.api_version)
    }
}

/// A request the API server answered with a failure status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{verb} {kind} {namespace}/{name} failed: {code} {reason}: {message}")]
pub struct ApiFailure {
    pub verb: &'static str,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub code: u16,
    pub reason: String,
    pub message: String,
}

/// Errors talking to the API server. The hook reports them; nothing owned is deleted on error.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The API server does not serve the kind (404 on list): its CRD is not installed.
    #[error(
        "the Kubernetes API does not serve {kind}: is its CustomResourceDefinition installed?"
    )]
    KindNotServed { kind: String },
    /// Another field manager owns fields we want to set on an object we do not own.
    #[error("{kind} {namespace}/{name} exists and is not ours: {message}")]
    Conflict {
        kind: String,
        namespace: String,
        name: String,
        message: String,
    },
    /// The API server refused a request.
    #[error("{0}")]
    Api(Box<ApiFailure>),
    /// The request did not get an answer (connection refused, timeout, bad response).
    #[error("{verb} {kind} in namespace {namespace}: {source}")]
    Transport {
        verb: &'static str,
        kind: String,
        namespace: String,
        // Boxed: kube's error (with its TLS variants) would make every Result of this module
        // large.
        #[source]
        source: Box<kube::Error>,
    },
    /// A desired object lacks a name.
    #[error("desired {kind} object has no metadata.name")]
    Unnamed { kind: String },
    /// Several applies failed; the first few are listed.
    #[error("{} of the writes failed: {}", .0.len(), .0.iter().take(3).map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Several(Vec<ReconcileError>),
}

impl ReconcileError {
    fn from_kube(
        verb: &'static str,
        kind: &Kind,
        namespace: &str,
        name: &str,
        err: kube::Error,
    ) -> Self {
        match err {
            kube::Error::Api(status) => {
                if verb == "list" && status.code == 404 {
                    return ReconcileError::KindNotServed {
                        kind: kind.to_string(),
                    };
                }
                if verb == "apply" && status.code == 409 {
                    return ReconcileError::Conflict {
                        kind: kind.kind().to_owned(),
                        namespace: namespace.to_owned(),
                        name: name.to_owned(),
                        message: status.message.clone(),
                    };
                }
                ReconcileError::Api(Box::new(ApiFailure {
                    verb,
                    kind: kind.kind().to_owned(),
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    code: status.code,
                    reason: status.reason.clone(),
                    message: status.message.clone(),
                }))
            }
            other => ReconcileError::Transport {
                verb,
                kind: kind.kind().to_owned(),
                namespace: namespace.to_owned(),
                source: Box::new(other),
            },
        }
    }

    /// The HTTP codes of the failures inside (for [`ReconcileError::Api`] and
    /// [`ReconcileError::Several`] of them).
    fn codes(&self) -> Vec<u16> {
        match self {
            ReconcileError::Api(f) => vec![f.code],
            ReconcileError::Several(all) => all.iter().flat_map(|e| e.codes()).collect(),
            _ => vec![0],
        }
    }

    /// Did every request fail with `code` (404 for a missing namespace, 403 for a forbidden one)?
    pub fn is_all_code(&self, code: u16) -> bool {
        let codes = self.codes();
        !codes.is_empty() && codes.iter().all(|c| *c == code)
    }

    /// Is this (or every error inside it) a missing kind?
    pub fn is_kind_not_served(&self) -> bool {
        match self {
            ReconcileError::KindNotServed { .. } => true,
            ReconcileError::Several(all) => {
                !all.is_empty() && all.iter().all(|e| e.is_kind_not_served())
            }
            _ => false,
        }
    }
}

/// What a reconcile did, by object name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    pub deleted: Vec<String>,
    /// Stale objects kept because the caller's prune filter protected them.
    pub kept: Vec<String>,
    /// Desired objects the API server refused as such (invalid or too large: 400, 413, 422),
    /// with its message; only [`Reconciler::reconcile_skipping_rejected`] reports them.
    pub rejected: Vec<(String, String)>,
}

impl Report {
    /// Number of desired objects now in place.
    pub fn in_place(&self) -> usize {
        self.created.len() + self.updated.len() + self.unchanged.len()
    }

    /// Did this reconcile write anything?
    pub fn wrote(&self) -> bool {
        !(self.created.is_empty() && self.updated.is_empty() && self.deleted.is_empty())
    }

    pub fn merge(&mut self, other: Report) {
        self.created.extend(other.created);
        self.updated.extend(other.updated);
        self.unchanged.extend(other.unchanged);
        self.deleted.extend(other.deleted);
        self.kept.extend(other.kept);
        self.rejected.extend(other.rejected);
    }
}

/// A set of objects of one kind owned through labels, in one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedSet {
    pub kind: Kind,
    pub namespace: String,
    /// Ownership labels: put on every desired object and used as the list selector.
    pub labels: BTreeMap<String, String>,
}

impl OwnedSet {
    pub fn new(kind: Kind, namespace: impl Into<String>, labels: BTreeMap<String, String>) -> Self {
        OwnedSet {
            kind,
            namespace: namespace.into(),
            labels,
        }
    }

    /// `k1=v1,k2=v2`.
    pub fn selector(&self) -> String {
        self.labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Server-side-apply reconciler with one field manager.
#[derive(Clone)]
pub struct Reconciler {
    client: kube::Client,
    field_manager: String,
}

impl Reconciler {
    /// `field_manager` is the application name, as the Python beacon's lightkube client used.
    pub fn new(client: kube::Client, field_manager: impl Into<String>) -> Self {
        Reconciler {
            client,
            field_manager: field_manager.into(),
        }
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    fn api(&self, set: &OwnedSet) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &set.namespace, &set.kind.resource)
    }

    /// The objects of `set` that exist now (one list request).
    pub async fn list_owned(&self, set: &OwnedSet) -> Result<Vec<DynamicObject>, ReconcileError> {
        let lp = ListParams::default().labels(&set.selector());
        let list = self
            .api(set)
            .list(&lp)
            .await
            .map_err(|e| ReconcileError::from_kube("list", &set.kind, &set.namespace, "", e))?;
        Ok(list.items)
    }

    /// Make `set` hold exactly `desired` (plus any stale object `may_delete` protects): apply
    /// new and changed objects, then delete stale ones, unless an apply failed.
    pub async fn reconcile(
        &self,
        set: &OwnedSet,
        desired: &[Value],
        may_delete: impl Fn(&DynamicObject) -> bool,
    ) -> Result<Report, ReconcileError> {
        self.reconcile_inner(set, desired, may_delete, false).await
    }

    /// As [`Reconciler::reconcile`], except that a desired object the API server refuses as
    /// such (400, 413, 422: no retry can store it) is reported in [`Report::rejected`] instead
    /// of failing the reconcile. For objects rendered from data others wrote: one object that
    /// can never be stored must not hold back every other change, in particular the removal of
    /// access that is no longer wanted.
    pub async fn reconcile_skipping_rejected(
        &self,
        set: &OwnedSet,
        desired: &[Value],
        may_delete: impl Fn(&DynamicObject) -> bool,
    ) -> Result<Report, ReconcileError> {
        self.reconcile_inner(set, desired, may_delete, true).await
    }

    async fn reconcile_inner(
        &self,
        set: &OwnedSet,
        desired: &[Value],
        may_delete: impl Fn(&DynamicObject) -> bool,
        skip_rejected: bool,
    ) -> Result<Report, ReconcileError> {
        let live = self.list_owned(set).await?;
        let live_by_name: BTreeMap<String, &DynamicObject> = live
            .iter()
            .filter_map(|o| o.metadata.name.clone().map(|n| (n, o)))
            .collect();

        let mut report = Report::default();
        let mut errors = Vec::new();
        let mut desired_names = BTreeSet::new();
        for obj in desired {
            let obj = self.prepare(set, obj)?;
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            desired_names.insert(name.clone());
            let existing = live_by_name.get(&name);
            if let Some(existing) = existing {
                if is_applied(&obj, existing) {
                    report.unchanged.push(name);
                    continue;
                }
            }
            match self.apply(set, &name, &obj, existing.is_some()).await {
                Ok(()) if existing.is_some() => report.updated.push(name),
                Ok(()) => report.created.push(name),
                Err(ReconcileError::Api(f))
                    if skip_rejected && matches!(f.code, 400 | 413 | 422) =>
                {
                    report.rejected.push((name, f.message.clone()));
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            // Nothing stale is deleted: its replacement may be among the failed writes.
            return Err(if errors.len() == 1 {
                errors.remove(0)
            } else {
                ReconcileError::Several(errors)
            });
        }

        for obj in &live {
            let Some(name) = obj.metadata.name.clone() else {
                continue;
            };
            if desired_names.contains(&name) {
                continue;
            }
            if !may_delete(obj) {
                report.kept.push(name);
                continue;
            }
            self.delete(set, obj).await?;
            report.deleted.push(name);
        }
        Ok(report)
    }

    /// Delete every object of `set` (one list, then one delete per object).
    pub async fn delete_all(&self, set: &OwnedSet) -> Result<Report, ReconcileError> {
        self.reconcile(set, &[], |_| true).await
    }

    /// Set namespace and ownership labels on a desired object.
    fn prepare(&self, set: &OwnedSet, obj: &Value) -> Result<Value, ReconcileError> {
        let mut obj = obj.clone();
        if obj["metadata"]["name"].as_str().is_none_or(str::is_empty) {
            return Err(ReconcileError::Unnamed {
                kind: set.kind.kind().to_owned(),
            });
        }
        let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
            return Err(ReconcileError::Unnamed {
                kind: set.kind.kind().to_owned(),
            });
        };
        meta.insert("namespace".into(), Value::String(set.namespace.clone()));
        let labels = meta
            .entry("labels")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(labels) = labels.as_object_mut() {
            for (k, v) in &set.labels {
                labels.insert(k.clone(), Value::String(v.clone()));
            }
        }
        if let Some(o) = obj.as_object_mut() {
            o.insert(
                "apiVersion".into(),
                Value::String(set.kind.resource.api_version.clone()),
            );
            o.insert("kind".into(), Value::String(set.kind.resource.kind.clone()));
        }
        Ok(obj)
    }

    async fn apply(
        &self,
        set: &OwnedSet,
        name: &str,
        obj: &Value,
        owned: bool,
    ) -> Result<(), ReconcileError> {
        let mut pp = PatchParams::apply(&self.field_manager);
        if owned {
            pp = pp.force();
        }
        tracing::debug!(kind = set.kind.kind(), namespace = %set.namespace, name, force = owned, "server-side apply");
        self.api(set)
            .patch(name, &pp, &Patch::Apply(obj))
            .await
            .map(|_| ())
            .map_err(|e| ReconcileError::from_kube("apply", &set.kind, &set.namespace, name, e))
    }

    async fn delete(&self, set: &OwnedSet, obj: &DynamicObject) -> Result<(), ReconcileError> {
        let name = obj.metadata.name.clone().unwrap_or_default();
        // Only the object we listed: a same-named object created since is someone else's.
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: obj.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        tracing::debug!(kind = set.kind.kind(), namespace = %set.namespace, name, "delete stale");
        match self.api(set).delete(&name, &dp).await {
            Ok(_) => Ok(()),
            // Already gone is what we wanted.
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(ReconcileError::from_kube(
                "delete",
                &set.kind,
                &set.namespace,
                &name,
                e,
            )),
        }
    }
}

/// Is every field of `desired` already in `live` with the same value? Fields the server or other
/// managers added are ignored (server-side apply would not remove them either), so "unchanged"
/// means exactly "an apply would change nothing we set".
pub fn is_applied(desired: &Value, live: &DynamicObject) -> bool {
    if live.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let Ok(live) = serde_json::to_value(live) else {
        return false;
    };
    let mut desired = desired.clone();
    if let Some(meta) = desired.get_mut("metadata").and_then(Value::as_object_mut) {
        // Identity fields were matched by the list; compare what we set.
        meta.retain(|k, _| k == "labels" || k == "annotations");
    }
    is_subset(&desired, &live)
}

/// `a` ⊆ `b`: objects key by key, arrays element by element (same length), scalars equal.
pub fn is_subset(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .all(|(k, va)| b.get(k).is_some_and(|vb| is_subset(va, vb))),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| is_subset(x, y))
        }
        (a, b) => a == b,
    }
}
