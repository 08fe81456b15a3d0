//! What runs in the simulated cluster besides the charms: a stand-in for istiod's waypoint
//! controller and for the StatefulSet controller's pod-template roll-out, plus reading the
//! cluster into an [`authz::Snapshot`].
//!
//! Why here: kubesim simulates no controllers, and a charm only runs inside hooks, so istiod's
//! reaction to a Gateway the beacon creates in its hook cannot live in the istio-k8s charm. The
//! istio-k8s stand-in charm instead records, like the real charm configures istiod, a ConfigMap
//! `istio` labelled `app.kubernetes.io/name=istiod` in its namespace; while such a ConfigMap
//! exists, meshsim runs [`reconcile`] after every command, as istiod would run continuously.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

/// Label selecting the ConfigMap through which the istio-k8s stand-in announces istiod.
pub const ISTIOD_SELECTOR: &str = "app.kubernetes.io/name=istiod";
/// Data key of that ConfigMap holding `PILOT_AUTO_ALLOW_WAYPOINT_POLICY`.
pub const AUTO_ALLOW_KEY: &str = "PILOT_AUTO_ALLOW_WAYPOINT_POLICY";
const MANAGED_LABEL: &str = "gateway.istio.io/managed";
const MANAGED_VALUE: &str = "istio.io-mesh-controller";
const GATEWAY_NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";
const FIELD_MANAGER: &str = "istiod";
const TEMPLATE_KEYS_ANNOTATION: &str = "meshsim.local/template-labels";

/// istiod as the istio-k8s stand-in configured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Istiod {
    /// Where istio-k8s runs; Istio's root namespace.
    pub namespace: String,
    pub auto_allow_waypoint_policy: bool,
}

/// Minimal view of the kubesim store the cluster code needs (so it can be tested without HTTP).
pub trait Cluster {
    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Vec<Value>;
    fn apply(&self, obj: Value) -> Result<Value, String>;
    fn replace_status(&self, obj: Value) -> Result<Value, String>;
    fn merge_patch(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        patch: Value,
    ) -> Result<Value, String>;
    fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<(), String>;
}

impl Cluster for kubesim::Store {
    fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Vec<Value> {
        // A kind whose CRD is not installed lists as nothing (404), like an empty cluster.
        kubesim::Store::list(self, api_version, kind, namespace, selector).unwrap_or_default()
    }
    fn apply(&self, obj: Value) -> Result<Value, String> {
        kubesim::Store::apply(self, obj, FIELD_MANAGER, true).map_err(|e| e.to_string())
    }
    fn replace_status(&self, obj: Value) -> Result<Value, String> {
        kubesim::Store::replace_status(self, obj).map_err(|e| e.to_string())
    }
    fn merge_patch(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        patch: Value,
    ) -> Result<Value, String> {
        kubesim::Store::merge_patch(self, api_version, kind, Some(namespace), name, patch)
            .map_err(|e| e.to_string())
    }
    fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<(), String> {
        kubesim::Store::delete(self, api_version, kind, Some(namespace), name)
            .map_err(|e| e.to_string())
    }
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn labels(v: &Value, ptr: &str) -> BTreeMap<String, String> {
    v.pointer(ptr)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Finds istiod (the istio-k8s stand-in's ConfigMap), if istio-k8s is deployed.
pub fn istiod(c: &dyn Cluster) -> Option<Istiod> {
    let mut cms = c.list("v1", "ConfigMap", None, Some(ISTIOD_SELECTOR));
    cms.sort_by(|a, b| s(a, "/metadata/namespace").cmp(s(b, "/metadata/namespace")));
    let cm = cms.first()?;
    Some(Istiod {
        namespace: s(cm, "/metadata/namespace").to_string(),
        auto_allow_waypoint_policy: cm
            .pointer(&format!("/data/{AUTO_ALLOW_KEY}"))
            .and_then(Value::as_str)
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
    })
}

fn is_waypoint(gw: &Value) -> bool {
    s(gw, "/spec/gatewayClassName") == "istio-waypoint"
}

/// One pass of the simulated controllers. Returns the namespaces in which istiod wrote or
/// deleted something (a waypoint appeared, scaled or went), so the caller can give the charms
/// there a chance to notice (update-status). Pod label roll-outs are not reported: no charm
/// waits for them.
pub fn reconcile(c: &dyn Cluster) -> BTreeSet<String> {
    let mut rolled = BTreeSet::new();
    rollout_statefulset_labels(c, &mut rolled);
    let mut changed = BTreeSet::new();
    if istiod(c).is_some() {
        reconcile_waypoints(c, &mut changed);
    }
    changed
}

/// istiod's Gateway deployment controller for class `istio-waypoint`: a ServiceAccount,
/// Deployment (ready), Service and pods named after the Gateway; removed with the Gateway.
fn reconcile_waypoints(c: &dyn Cluster, changed: &mut BTreeSet<String>) {
    let gateways: Vec<Value> = c
        .list("gateway.networking.k8s.io/v1", "Gateway", None, None)
        .into_iter()
        .filter(is_waypoint)
        .collect();
    let hpas = c.list("autoscaling/v2", "HorizontalPodAutoscaler", None, None);
    for gw in &gateways {
        let ns = s(gw, "/metadata/namespace");
        let name = s(gw, "/metadata/name");
        // The beacon pins replicas through an HPA of the same name (min = max).
        let replicas = hpas
            .iter()
            .find(|h| {
                s(h, "/metadata/namespace") == ns && s(h, "/spec/scaleTargetRef/name") == name
            })
            .and_then(|h| h.pointer("/spec/minReplicas").and_then(Value::as_u64))
            .unwrap_or(1)
            .max(1);
        // The HPA controller's part: report the replicas it keeps.
        if let Some(h) = hpas.iter().find(|h| {
            s(h, "/metadata/namespace") == ns && s(h, "/spec/scaleTargetRef/name") == name
        }) {
            if h.pointer("/status/currentReplicas").and_then(Value::as_u64) != Some(replicas) {
                let mut h = h.clone();
                h["status"] = json!({"currentReplicas": replicas, "desiredReplicas": replicas});
                let _ = c.replace_status(h);
            }
        }
        if ensure_waypoint(c, ns, name, replicas) > 0 {
            changed.insert(ns.to_string());
        }
        report_gateway_status(c, gw, ns, name);
    }
    // Garbage-collect what belongs to Gateways that are gone (ownerReferences in a real cluster).
    for (api, kind) in [
        ("v1", "Pod"),
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("v1", "ServiceAccount"),
    ] {
        for obj in c.list(
            api,
            kind,
            None,
            Some(&format!("{MANAGED_LABEL}={MANAGED_VALUE}")),
        ) {
            let ns = s(&obj, "/metadata/namespace");
            let gw_name = labels(&obj, "/metadata/labels")
                .get(GATEWAY_NAME_LABEL)
                .cloned()
                .unwrap_or_default();
            let alive = gateways
                .iter()
                .any(|g| s(g, "/metadata/namespace") == ns && s(g, "/metadata/name") == gw_name);
            if !alive && c.delete(api, kind, ns, s(&obj, "/metadata/name")).is_ok() {
                changed.insert(ns.to_string());
            }
        }
    }
}

/// istiod's status on a waypoint Gateway it serves: Accepted and Programmed, addressed by its
/// Service's cluster IP (what `kubectl get gateways` shows as ADDRESS and PROGRAMMED). Written
/// only when it differs, so a settled cluster stays settled.
fn report_gateway_status(c: &dyn Cluster, gw: &Value, ns: &str, name: &str) {
    let ip = c
        .list(
            "v1",
            "Service",
            Some(ns),
            Some(&format!("{GATEWAY_NAME_LABEL}={name}")),
        )
        .iter()
        .find(|svc| s(svc, "/metadata/name") == name)
        .map(|svc| s(svc, "/spec/clusterIP").to_string())
        .unwrap_or_default();
    let generation = gw
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    let host = format!("{name}.{ns}.svc.cluster.local");
    let mut conditions = Vec::new();
    for (kind, message) in [
        ("Accepted", "Resource accepted".to_string()),
        (
            "Programmed",
            format!("Resource programmed, assigned to service(s) {host}:15008"),
        ),
    ] {
        // Keep the transition time of a condition already True, as controllers do (the CRD's
        // defaulted status says Unknown since 1970: that one transitions now).
        let since = gw
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|x| x["type"] == kind && x["status"] == "True")
            })
            .and_then(|x| x.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(now_rfc3339()));
        conditions.push(json!({"type": kind, "status": "True", "reason": kind,
            "message": message, "observedGeneration": generation, "lastTransitionTime": since}));
    }
    let mut addresses = Vec::new();
    if !ip.is_empty() && ip != "None" {
        addresses.push(json!({"type": "IPAddress", "value": ip}));
    }
    let status = json!({"addresses": addresses, "conditions": conditions});
    if gw.get("status") == Some(&status) {
        return;
    }
    let mut g = gw.clone();
    g["status"] = status;
    let _ = c.replace_status(g);
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn ensure_waypoint(c: &dyn Cluster, ns: &str, name: &str, replicas: u64) -> usize {
    let mut changes = 0;
    let sel = format!("{GATEWAY_NAME_LABEL}={name}");
    let managed = json!({ MANAGED_LABEL: MANAGED_VALUE, GATEWAY_NAME_LABEL: name });
    let pod_labels = json!({
        MANAGED_LABEL: MANAGED_VALUE,
        GATEWAY_NAME_LABEL: name,
        "istio.io/dataplane-mode": "none",
    });
    let existing = |api: &str, kind: &str| c.list(api, kind, Some(ns), Some(&sel));
    if existing("v1", "ServiceAccount").is_empty() {
        let _ = c.apply(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": ns, "labels": managed}}));
        changes += 1;
    }
    if existing("v1", "Service").is_empty() {
        let _ = c.apply(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": managed},
            "spec": {"selector": {GATEWAY_NAME_LABEL: name},
                     "ports": [{"name": "status-port", "port": 15021, "protocol": "TCP"},
                               {"name": "mesh", "port": 15008, "protocol": "TCP"}]}}));
        changes += 1;
    }
    let deployments = existing("apps/v1", "Deployment");
    let ready = deployments
        .first()
        .and_then(|d| d.pointer("/status/readyReplicas").and_then(Value::as_u64));
    let spec_replicas = deployments
        .first()
        .and_then(|d| d.pointer("/spec/replicas").and_then(Value::as_u64));
    if deployments.is_empty() || spec_replicas != Some(replicas) || ready != Some(replicas) {
        let applied = c.apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": managed},
            "spec": {"replicas": replicas,
                     "selector": {"matchLabels": {GATEWAY_NAME_LABEL: name}},
                     "template": {"metadata": {"labels": pod_labels},
                                  "spec": {"serviceAccountName": name,
                                           "containers": [{"name": "istio-proxy", "image": "istio/proxyv2"}]}}}}));
        if let Ok(mut d) = applied {
            d["status"] = json!({"replicas": replicas, "readyReplicas": replicas,
                                 "availableReplicas": replicas, "updatedReplicas": replicas,
                                 "observedGeneration": d.pointer("/metadata/generation").cloned().unwrap_or(json!(1))});
            let _ = c.replace_status(d);
        }
        changes += 1;
    }
    let pods = existing("v1", "Pod");
    for i in 0..replicas {
        let pod_name = format!("{name}-{i}");
        let current = pods.iter().find(|p| s(p, "/metadata/name") == pod_name);
        let running = current.is_some_and(|p| s(p, "/status/phase") == "Running");
        if running {
            continue;
        }
        let pod = match current {
            Some(p) => Ok(p.clone()),
            None => c.apply(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod_name, "namespace": ns, "labels": pod_labels},
                "spec": {"serviceAccountName": name,
                         "containers": [{"name": "istio-proxy", "image": "istio/proxyv2"}]}})),
        };
        if let Ok(mut p) = pod {
            // The kubelet's part: the pod runs and its container is ready.
            p["status"] = json!({"phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "istio-proxy", "ready": true, "restartCount": 0,
                                       "image": "istio/proxyv2", "imageID": "", "started": true,
                                       "state": {"running": {}}}]});
            let _ = c.replace_status(p);
        }
        changes += 1;
    }
    for p in &pods {
        let pn = s(p, "/metadata/name");
        let idx = pn.rsplit('-').next().and_then(|n| n.parse::<u64>().ok());
        if idx.is_none_or(|i| i >= replicas) && c.delete("v1", "Pod", ns, pn).is_ok() {
            changes += 1;
        }
    }
    changes
}

/// The StatefulSet controller's roll-out, reduced to labels: each pod carries its template's
/// labels; keys a previous template set and the current one dropped are removed.
fn rollout_statefulset_labels(c: &dyn Cluster, changed: &mut BTreeSet<String>) {
    for sts in c.list("apps/v1", "StatefulSet", None, None) {
        let ns = s(&sts, "/metadata/namespace");
        let template = labels(&sts, "/spec/template/metadata/labels");
        let selector = labels(&sts, "/spec/selector/matchLabels");
        if selector.is_empty() {
            continue;
        }
        let sel = selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        for pod in c.list("v1", "Pod", Some(ns), Some(&sel)) {
            let current = labels(&pod, "/metadata/labels");
            let previous: Vec<String> = s(
                &pod,
                &format!(
                    "/metadata/annotations/{}",
                    TEMPLATE_KEYS_ANNOTATION.replace('/', "~1")
                ),
            )
            .split(',')
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect();
            let mut patch = serde_json::Map::new();
            for (k, v) in &template {
                if current.get(k) != Some(v) {
                    patch.insert(k.clone(), json!(v));
                }
            }
            for k in &previous {
                if !template.contains_key(k) && current.contains_key(k) {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            let keys = template.keys().cloned().collect::<Vec<_>>().join(",");
            let keys_changed = previous.join(",") != keys;
            if patch.is_empty() && !keys_changed {
                continue;
            }
            let body = json!({"metadata": {"labels": patch, "annotations": {TEMPLATE_KEYS_ANNOTATION: keys}}});
            if c.merge_patch("v1", "Pod", ns, s(&pod, "/metadata/name"), body)
                .is_ok()
                && !patch.is_empty()
            {
                changed.insert(ns.to_string());
            }
        }
    }
}

/// Reads the cluster as the mesh sees it. Without istiod nothing is captured: no ztunnel, no
/// waypoint, no policy enforcement.
pub fn snapshot(c: &dyn Cluster) -> authz::Snapshot {
    let namespaces = c.list("v1", "Namespace", None, None);
    let services = c.list("v1", "Service", None, None);
    let pods = c.list("v1", "Pod", None, None);
    let Some(istiod) = istiod(c) else {
        let mut snap =
            authz::Snapshot::from_objects(&namespaces, &services, &pods, &[], Vec::new());
        for n in &mut snap.namespaces {
            n.labels.remove(authz::snapshot::DATAPLANE_MODE_LABEL);
        }
        for p in &mut snap.pods {
            p.labels.remove(authz::snapshot::DATAPLANE_MODE_LABEL);
        }
        return snap;
    };
    let deployments = c.list("apps/v1", "Deployment", None, None);
    let gateways: Vec<(Value, bool)> = c
        .list("gateway.networking.k8s.io/v1", "Gateway", None, None)
        .into_iter()
        .map(|g| {
            let ready = deployments.iter().any(|d| {
                s(d, "/metadata/namespace") == s(&g, "/metadata/namespace")
                    && s(d, "/metadata/name") == s(&g, "/metadata/name")
                    && d.pointer("/status/readyReplicas")
                        .and_then(Value::as_u64)
                        .unwrap_or(0)
                        > 0
            });
            (g, ready)
        })
        .collect();
    let policies = c.list("security.istio.io/v1", "AuthorizationPolicy", None, None);
    let mut snap =
        authz::Snapshot::from_objects(&namespaces, &services, &pods, &gateways, policies);
    snap.root_namespace = istiod.namespace;
    snap.auto_allow_waypoint_policy = istiod.auto_allow_waypoint_policy;
    snap
}
