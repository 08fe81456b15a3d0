//! Pure rendering of `service-mesh` policies into Istio `AuthorizationPolicy` objects, and the
//! security checks that decide which policies may be rendered at all.
//!
//! Nothing here does I/O: the charm flow gathers [`Candidate`]s from relation data (see
//! [`crate::policy_inputs`]), [`render_all`] turns them into objects plus typed [`Refusal`]s,
//! and [`crate::reconcile`] applies the objects.
//!
//! Names, labels and specs are byte-for-byte those of the Python beacon
//! (`data/fixtures/service-mesh-vectors.json`), so that a `juju refresh` from it renames nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{json, Map, Value};
use service_mesh::{Endpoint, Policy, PolicyTargetType, PolicyValidationError};
use sha2::{Digest, Sha256};

/// API version of Istio's AuthorizationPolicy.
pub const AUTHORIZATION_POLICY_API_VERSION: &str = "security.istio.io/v1";
/// Kind of Istio's AuthorizationPolicy.
pub const AUTHORIZATION_POLICY_KIND: &str = "AuthorizationPolicy";
/// Plural (URL path segment) of Istio's AuthorizationPolicy.
pub const AUTHORIZATION_POLICY_PLURAL: &str = "authorizationpolicies";
/// Ownership scope of the policies rendered from relation data (as the Python beacon).
pub const AUTHORIZATION_POLICY_SCOPE: &str = "istio-authorization-policy";
/// Label naming the `<model>-<app>` that owns an object.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// Label naming which of the owner's object sets an object belongs to.
pub const SCOPE_LABEL: &str = "kubernetes-resource-handler-scope";
/// Label Juju puts on an application's pods; unit policies select on it.
pub const APP_NAME_LABEL: &str = "app.kubernetes.io/name";
/// Kubernetes' limit on object names (DNS subdomain).
pub const MAX_OBJECT_NAME: usize = 253;
/// How much of each variable part survives in a name that had to be shortened.
const TRUNCATED_PART: usize = 30;
/// Port on which the beacon (its metrics proxy) serves metrics to `metrics-endpoint` scrapers.
pub const METRICS_PORT: u16 = 15090;

/// The beacon application rendering the policies: its name and its model (= its namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beacon {
    pub app: String,
    pub model: String,
}

impl Beacon {
    pub fn new(app: impl Into<String>, model: impl Into<String>) -> Self {
        Beacon {
            app: app.into(),
            model: model.into(),
        }
    }

    /// The namespace the beacon lives in (Juju's namespace is the model name).
    pub fn namespace(&self) -> &str {
        &self.model
    }

    /// The labels marking an object as owned by this beacon in the given scope.
    pub fn ownership_labels(&self, scope: &str) -> BTreeMap<String, String> {
        ownership_labels(&self.app, &self.model, scope)
    }
}

/// `{app.kubernetes.io/instance: <model>-<app>, kubernetes-resource-handler-scope: <scope>}`, the
/// labels by which the Python beacon (lightkube-extensions) finds the objects it owns.
pub fn ownership_labels(app: &str, model: &str, scope: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (INSTANCE_LABEL.to_owned(), format!("{model}-{app}")),
        (SCOPE_LABEL.to_owned(), scope.to_owned()),
    ])
}

/// Where a candidate policy came from: the relation (endpoint and id) and the application at the
/// other end. Status and log messages name these so an operator can find the culprit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    /// Relation endpoint on the beacon's side (`service-mesh`, `metrics-endpoint`).
    pub endpoint: String,
    /// Juju relation id (the number in `service-mesh:3`).
    pub relation_id: u64,
    /// The application at the other end, as this model sees it (a SAAS alias for a cross-model
    /// relation).
    pub remote_app: String,
    /// Who wrote the policy: the remote charm, or the beacon itself.
    pub kind: OriginKind,
    /// Is the other end in another model? `None` when Juju could not say.
    pub cross_model: Option<bool>,
}

/// Who asked for a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OriginKind {
    /// A related workload wrote it into its `policies` bag on `service-mesh`.
    RelationData,
    /// The beacon derived it for access to itself (its own unit policy on `metrics-endpoint`).
    Beacon,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} (app {})",
            self.endpoint, self.relation_id, self.remote_app
        )
    }
}

/// A policy some relation asks for, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub origin: Origin,
    pub policy: Policy,
}

/// What the operator allows beyond the beacon's own namespace, and what the cluster says about
/// the Services that entries name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// Namespaces other than the beacon's own that it may write policies into, for
    /// `service-mesh` relations from other models (config `cross-model-namespaces`).
    pub extra_namespaces: BTreeSet<String>,
    /// The Services named by app policies as `target_service` (other than the application's
    /// own), by (namespace, name), as read from the cluster; see [`services_to_check`].
    pub services: BTreeMap<(String, String), ServiceInfo>,
}

/// What the cluster said about a Service an entry targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceInfo {
    /// No such Service.
    Missing,
    /// The Service exists; its selector's `app.kubernetes.io/name`, if any.
    Selects(Option<String>),
    /// It could not be read (the error).
    Unknown(String),
}

/// The (namespace, Service) pairs that must be looked up before [`validate`]: app policies
/// naming a `target_service` other than the target application's own Service. Only a Service
/// whose selector picks the application's pods (`app.kubernetes.io/name: <app>`) is its door.
///
/// Only entries that pass every other check are considered, so hostile data cannot make the
/// beacon read Services in namespaces it does not manage.
pub fn services_to_check(
    beacon: &Beacon,
    rules: &Rules,
    candidates: &[Candidate],
) -> BTreeSet<(String, String)> {
    candidates
        .iter()
        .filter(|c| c.origin.kind == OriginKind::RelationData)
        .filter(|c| {
            c.policy.validate().is_ok()
                && check_names(&c.policy).is_ok()
                && check_door(beacon, rules, &c.origin, &c.policy).is_ok()
        })
        .filter_map(|c| custom_service(&c.policy))
        .map(|(ns, svc)| (ns.to_owned(), svc.to_owned()))
        .collect()
}

/// `(namespace, service)` when an app policy targets a Service other than its application's.
fn custom_service(policy: &Policy) -> Option<(&str, &str)> {
    if policy.target_type != PolicyTargetType::App {
        return None;
    }
    let service = policy.target_service.as_deref().filter(|s| !s.is_empty())?;
    if policy.target_app_name.as_deref() == Some(service) {
        return None;
    }
    Some((policy.target_namespace.as_str(), service))
}

/// Why one policy entry is not rendered. Each refusal is reported (status and log) with the
/// [`Origin`] of the entry; other entries are unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("entry is not a valid policy: {0}")]
    Malformed(String),
    #[error("inconsistent policy: {0}")]
    Inconsistent(#[from] PolicyValidationError),
    #[error(
        "target namespace {namespace:?} is not this model's and is not listed in config \
         cross-model-namespaces"
    )]
    ForeignNamespace { namespace: String },
    #[error(
        "an application related in this model may only open its own door, in namespace \
         {own_namespace:?}; the entry targets namespace {namespace:?}"
    )]
    InModelForeignNamespace {
        namespace: String,
        own_namespace: String,
    },
    #[error("target service {service:?} is not application {app:?}'s own: {why}")]
    ForeignService {
        service: String,
        app: String,
        why: String,
    },
    #[error("target service {service:?} could not be read: {error}")]
    ServiceUnreadable { service: String, error: String },
    #[error("target application {target:?} is not the related application {remote_app:?}")]
    NotOwnDoor {
        target: Option<String>,
        remote_app: String,
    },
    #[error("{field} {value:?} is not a valid {kind}")]
    InvalidName {
        field: &'static str,
        value: String,
        kind: &'static str,
    },
    #[error("port {0} is out of range 1-65535")]
    InvalidPort(u16),
    #[error(
        "a unit policy may only restrict ports, but this one sets {0} (unit policies cannot \
         filter methods, paths or hosts)"
    )]
    UnitPolicyWithL7(&'static str),
    #[error("the rendered rule would match every source")]
    MatchesEverySource,
    #[error(
        "cmr_data claims the caller is application {app:?} of model {model:?}, but {why}; \
         ignored"
    )]
    CmrIdentityMismatch {
        app: String,
        model: String,
        why: String,
    },
}

/// Annotation recording which relations (`endpoint:id`, comma-separated) asked for a policy, so
/// that the objects of a relation whose data cannot be read in some hook are kept (nothing is
/// deleted because a read failed) while stale objects of other relations are still removed.
pub const ORIGIN_ANNOTATION: &str = "charms.canonical.com/istio-beacon-relations";

/// The outcome of rendering every candidate: the objects to apply and the refused entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    /// AuthorizationPolicies, deduplicated by (namespace, name) and sorted by them, each with
    /// the [`ORIGIN_ANNOTATION`] naming the relations that asked for it.
    pub objects: Vec<Value>,
    pub refusals: Vec<(Origin, Refusal)>,
}

/// Validate and render every candidate. One refused candidate never affects the others.
pub fn render_all(beacon: &Beacon, rules: &Rules, candidates: &[Candidate]) -> Rendered {
    let mut by_key: BTreeMap<(String, String), (Value, BTreeSet<String>)> = BTreeMap::new();
    let mut refusals = Vec::new();
    for candidate in candidates {
        match validate(beacon, rules, candidate)
            .and_then(|()| render_policy(beacon, &candidate.policy))
        {
            Ok(obj) => {
                let key = (
                    str_at(&obj, &["metadata", "namespace"]).to_owned(),
                    str_at(&obj, &["metadata", "name"]).to_owned(),
                );
                // Identical policies (from two relations, say) hash to the same name and the
                // same object: keep one, remembering every relation that wants it.
                let origin = format!(
                    "{}:{}",
                    candidate.origin.endpoint, candidate.origin.relation_id
                );
                by_key
                    .entry(key)
                    .or_insert_with(|| (obj, BTreeSet::new()))
                    .1
                    .insert(origin);
            }
            Err(refusal) => refusals.push((candidate.origin.clone(), refusal)),
        }
    }
    let objects = by_key
        .into_values()
        .map(|(mut obj, origins)| {
            let joined = origins.into_iter().collect::<Vec<_>>().join(",");
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("annotations".into(), json!({ ORIGIN_ANNOTATION: joined }));
            }
            obj
        })
        .collect();
    Rendered { objects, refusals }
}

/// The relations recorded in an object's [`ORIGIN_ANNOTATION`], if it has one.
pub fn origins_of(annotations: Option<&BTreeMap<String, String>>) -> Option<BTreeSet<String>> {
    let raw = annotations?.get(ORIGIN_ANNOTATION)?;
    Some(
        raw.split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or_default()
}

/// The security checks of a candidate in the context of the relation it came from. These are
/// stricter than the Python beacon, which writes wherever the data says.
pub fn validate(beacon: &Beacon, rules: &Rules, candidate: &Candidate) -> Result<(), Refusal> {
    let policy = &candidate.policy;
    let origin = &candidate.origin;
    policy.validate()?;
    check_names(policy)?;

    if origin.kind == OriginKind::Beacon {
        // The beacon's own policies target itself in its own namespace by construction.
        return Ok(());
    }
    check_door(beacon, rules, origin, policy)?;
    check_service(rules, policy)
}

/// A Service named by an app policy must be the target application's: its selector picks the
/// application's pods. Otherwise a charm could open another application's Service.
fn check_service(rules: &Rules, policy: &Policy) -> Result<(), Refusal> {
    let Some((ns, service)) = custom_service(policy) else {
        return Ok(());
    };
    let app = policy.target_app_name.clone().unwrap_or_default();
    let refuse = |why: String| {
        Err(Refusal::ForeignService {
            service: service.to_owned(),
            app: app.clone(),
            why,
        })
    };
    match rules.services.get(&(ns.to_owned(), service.to_owned())) {
        Some(ServiceInfo::Selects(Some(selected))) if *selected == app => Ok(()),
        Some(ServiceInfo::Selects(other)) => refuse(format!(
            "its selector picks app.kubernetes.io/name={}",
            other.as_deref().unwrap_or("(none)")
        )),
        Some(ServiceInfo::Missing) => refuse(format!("no Service {service:?} in namespace {ns:?}")),
        Some(ServiceInfo::Unknown(e)) => Err(Refusal::ServiceUnreadable {
            service: service.to_owned(),
            error: e.clone(),
        }),
        None => refuse("it was not looked up".to_owned()),
    }
}

fn check_door(
    beacon: &Beacon,
    rules: &Rules,
    origin: &Origin,
    policy: &Policy,
) -> Result<(), Refusal> {
    let own = beacon.namespace();
    if policy.target_namespace != own {
        if origin.cross_model == Some(false) {
            // An application of this model has its door in this model's namespace only.
            return Err(Refusal::InModelForeignNamespace {
                namespace: policy.target_namespace.clone(),
                own_namespace: own.to_owned(),
            });
        }
        if !rules.extra_namespaces.contains(&policy.target_namespace) {
            return Err(Refusal::ForeignNamespace {
                namespace: policy.target_namespace.clone(),
            });
        }
        // Allowed by the operator for service-mesh relations from other models. The beacon
        // cannot tell the real name of a cross-model application (it sees a SAAS alias), so
        // within an opted-in namespace the operator's trust in that model is what counts.
        return Ok(());
    }
    // In the beacon's own namespace a charm may only open its own door: the consumer library
    // always sets target_app_name to the application itself. A cross-model application's door
    // is not here at all; its SAAS alias never matches, so it is refused by the same check.
    if policy.target_app_name.as_deref() != Some(origin.remote_app.as_str())
        || origin.cross_model == Some(true)
    {
        return Err(Refusal::NotOwnDoor {
            target: policy.target_app_name.clone(),
            remote_app: origin.remote_app.clone(),
        });
    }
    Ok(())
}

/// Every name that ends up in a principal, a selector, a target or the object name must be a
/// plain Juju/Kubernetes name: no wildcards, slashes, spaces or empty strings.
fn check_names(policy: &Policy) -> Result<(), Refusal> {
    check(
        is_dns_label(&policy.source_namespace),
        "source_namespace",
        &policy.source_namespace,
        "namespace (model) name",
    )?;
    check(
        is_app_name(&policy.source_app_name),
        "source_app_name",
        &policy.source_app_name,
        "Juju application name",
    )?;
    check(
        is_dns_label(&policy.target_namespace),
        "target_namespace",
        &policy.target_namespace,
        "namespace (model) name",
    )?;
    if let Some(app) = &policy.target_app_name {
        check(
            is_app_name(app),
            "target_app_name",
            app,
            "Juju application name",
        )?;
    }
    if let Some(service) = &policy.target_service {
        check(
            is_dns1035_label(service),
            "target_service",
            service,
            "Kubernetes Service name",
        )?;
    }
    if let Some(labels) = &policy.target_selector_labels {
        for (k, v) in labels.iter() {
            check(
                is_label_key(k),
                "target_selector_labels key",
                k,
                "Kubernetes label key",
            )?;
            check(
                is_label_value(v) && !v.is_empty(),
                "target_selector_labels value",
                v,
                "non-empty Kubernetes label value",
            )?;
        }
    }
    for endpoint in &policy.endpoints {
        for port in endpoint.ports.iter().flatten() {
            if *port == 0 {
                return Err(Refusal::InvalidPort(*port));
            }
        }
    }
    Ok(())
}

fn check(ok: bool, field: &'static str, value: &str, kind: &'static str) -> Result<(), Refusal> {
    if ok {
        Ok(())
    } else {
        Err(Refusal::InvalidName {
            field,
            value: value.to_owned(),
            kind,
        })
    }
}

/// RFC 1123 label: lowercase alphanumerics and `-`, alphanumeric at both ends, 1-63 characters.
/// Namespaces (Juju model names) are such labels.
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// RFC 1035 label (Service names): an RFC 1123 label that starts with a letter.
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// A Juju application name: lowercase letters, digits and single hyphens, starting with a
/// letter, no segment made of digits only (Juju's rule), and short enough to be a label value.
pub fn is_app_name(s: &str) -> bool {
    is_dns1035_label(s)
        && s.split('-')
            .all(|seg| !seg.is_empty() && seg.bytes().any(|c| c.is_ascii_lowercase()))
}

/// A label value: at most 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends (may be empty).
pub fn is_label_value(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return true;
    }
    b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a non-empty name as a label value.
pub fn is_label_key(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix {
        let ok = !p.is_empty() && p.len() <= 253 && p.split('.').all(is_dns_label);
        if !ok {
            return false;
        }
    }
    !name.is_empty() && is_label_value(name)
}

/// `<app>-<model>-policy-<source app>-<source namespace>-<target>-<hash>`, where `target` is the
/// target application, else the target Service, else `custom-selector`, and `hash` the first 8
/// hex digits of the sha256 of the policy's Python repr. Over 253 characters, the three variable
/// parts are cut to 30 characters each (as the Python beacon does).
pub fn policy_name(app: &str, model: &str, policy: &Policy) -> String {
    let target = policy
        .target_app_name
        .as_deref()
        .filter(|s| !s.is_empty())
        .or(policy.target_service.as_deref().filter(|s| !s.is_empty()))
        .unwrap_or("custom-selector");
    let digest = Sha256::digest(policy.name_hash_preimage().as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let source_app = policy.source_app_name.as_str();
    let source_ns = policy.source_namespace.as_str();
    let name = [app, model, "policy", source_app, source_ns, target, &hash].join("-");
    if name.chars().count() <= MAX_OBJECT_NAME {
        return name;
    }
    let cut = |s: &str| s.chars().take(TRUNCATED_PART).collect::<String>();
    [
        app,
        model,
        "policy",
        &cut(source_app),
        &cut(source_ns),
        &cut(target),
        &hash,
    ]
    .join("-")
}

/// `cluster.local/ns/<namespace>/sa/<app>`: Juju gives every application a ServiceAccount named
/// after it, so this is the application's mesh identity.
pub fn principal(namespace: &str, app: &str) -> String {
    format!("cluster.local/ns/{namespace}/sa/{app}")
}

/// Render one (already validated) policy. Still refuses what can never be rendered safely, so
/// that this function on its own never produces an over-broad rule.
pub fn render_policy(beacon: &Beacon, policy: &Policy) -> Result<Value, Refusal> {
    if policy.source_namespace.is_empty() || policy.source_app_name.is_empty() {
        return Err(Refusal::MatchesEverySource);
    }
    let from = json!([{ "source": { "principals": [principal(&policy.source_namespace, &policy.source_app_name)] } }]);
    let mut spec = Map::new();
    let to: Vec<Value> = match policy.target_type {
        PolicyTargetType::App => {
            let service = policy
                .target_service
                .as_deref()
                .filter(|s| !s.is_empty())
                .or(policy.target_app_name.as_deref())
                .ok_or(Refusal::Inconsistent(
                    PolicyValidationError::AppWithoutTarget,
                ))?;
            spec.insert(
                "targetRefs".into(),
                json!([{ "group": "", "kind": "Service", "name": service }]),
            );
            policy.endpoints.iter().map(app_operation).collect()
        }
        PolicyTargetType::Unit => {
            let match_labels: BTreeMap<String, String> = match (
                policy
                    .target_selector_labels
                    .as_ref()
                    .filter(|l| !l.is_empty()),
                policy.target_app_name.as_deref().filter(|s| !s.is_empty()),
            ) {
                (Some(labels), _) => labels.to_btree(),
                (None, Some(app)) => BTreeMap::from([(APP_NAME_LABEL.to_owned(), app.to_owned())]),
                // No selector would select every workload in the namespace.
                (None, None) => {
                    return Err(Refusal::InvalidName {
                        field: "target_app_name",
                        value: String::new(),
                        kind: "Juju application name",
                    })
                }
            };
            for endpoint in &policy.endpoints {
                if endpoint.methods.as_ref().is_some_and(|m| !m.is_empty()) {
                    return Err(Refusal::UnitPolicyWithL7("methods"));
                }
                if endpoint.paths.as_ref().is_some_and(|m| !m.is_empty()) {
                    return Err(Refusal::UnitPolicyWithL7("paths"));
                }
                if endpoint.hosts.as_ref().is_some_and(|m| !m.is_empty()) {
                    return Err(Refusal::UnitPolicyWithL7("hosts"));
                }
            }
            spec.insert("selector".into(), json!({ "matchLabels": match_labels }));
            policy
                .endpoints
                .iter()
                .map(|e| json!({ "operation": { "ports": ports(e) } }))
                .collect()
        }
    };
    spec.insert("rules".into(), json!([{ "from": from, "to": to }]));

    Ok(json!({
        "apiVersion": AUTHORIZATION_POLICY_API_VERSION,
        "kind": AUTHORIZATION_POLICY_KIND,
        "metadata": {
            "name": policy_name(&beacon.app, &beacon.model, policy),
            "namespace": policy.target_namespace,
            "labels": beacon.ownership_labels(AUTHORIZATION_POLICY_SCOPE),
        },
        "spec": Value::Object(spec),
    }))
}

/// Ports as strings, always present (possibly empty), as the Python beacon writes them.
fn ports(e: &Endpoint) -> Vec<String> {
    e.ports.iter().flatten().map(|p| p.to_string()).collect()
}

/// One `to.operation` of an app policy: ports always, hosts/methods/paths only when non-empty.
fn app_operation(e: &Endpoint) -> Value {
    let mut op = Map::new();
    if let Some(hosts) = e.hosts.as_ref().filter(|h| !h.is_empty()) {
        op.insert("hosts".into(), json!(hosts));
    }
    op.insert("ports".into(), json!(ports(e)));
    if let Some(methods) = e.methods.as_ref().filter(|m| !m.is_empty()) {
        let methods: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
        op.insert("methods".into(), json!(methods));
    }
    if let Some(paths) = e.paths.as_ref().filter(|p| !p.is_empty()) {
        op.insert("paths".into(), json!(paths));
    }
    json!({ "operation": op })
}

/// The beacon's own unit policy for an application related on `metrics-endpoint`: it may scrape
/// the beacon's pods on [`METRICS_PORT`]. `source` is the caller's (app, model), resolved through
/// `provide-cmr-mesh` for a cross-model caller.
pub fn metrics_policy(beacon: &Beacon, source_app: &str, source_model: &str) -> Policy {
    Policy {
        source_namespace: source_model.to_owned(),
        source_app_name: source_app.to_owned(),
        target_namespace: beacon.model.clone(),
        target_app_name: Some(beacon.app.clone()),
        target_selector_labels: None,
        target_service: None,
        target_type: PolicyTargetType::Unit,
        endpoints: vec![Endpoint {
            hosts: None,
            ports: Some(vec![METRICS_PORT]),
            methods: None,
            paths: None,
        }],
    }
}
