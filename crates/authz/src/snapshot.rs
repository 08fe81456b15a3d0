//! The world the evaluator looks at: namespaces, services, pods, waypoints and policies.
//!
//! Everything here is plain data. `Snapshot::from_objects` builds it from Kubernetes JSON objects
//! (as `kubectl get -o json` or kubesim's store return them) so callers never hand-map fields.

use std::collections::BTreeMap;

use serde_json::Value;

/// Label that puts a namespace or pod on the ambient data plane.
pub const DATAPLANE_MODE_LABEL: &str = "istio.io/dataplane-mode";
/// Label naming the waypoint that a namespace, service or pod uses.
pub const USE_WAYPOINT_LABEL: &str = "istio.io/use-waypoint";
/// Label naming the namespace of that waypoint (default: the labelled object's namespace).
pub const USE_WAYPOINT_NAMESPACE_LABEL: &str = "istio.io/use-waypoint-namespace";
/// Label on a waypoint Gateway saying which traffic it serves (`service`, `workload`, `all`, `none`).
pub const WAYPOINT_FOR_LABEL: &str = "istio.io/waypoint-for";
/// Istio's default root namespace: policies there apply mesh-wide.
pub const DEFAULT_ROOT_NAMESPACE: &str = "istio-system";
/// Istio's default trust domain, first segment of every SPIFFE principal.
pub const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";

pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Namespace {
    pub name: String,
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: u16,
    /// The pod port traffic lands on (`targetPort`; a named target port is kept as the service port).
    pub target_port: u16,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    pub labels: Labels,
    /// `spec.selector`; a Service without a selector has no endpoints here.
    pub selector: Labels,
    pub ports: Vec<ServicePort>,
    /// `spec.clusterIP: None`: DNS answers the pods' addresses (and gives each pod selected
    /// a name `<pod>.<service>.<ns>.svc.cluster.local`), so traffic is pod-addressed.
    pub headless: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub labels: Labels,
    pub service_account: String,
    /// False for pods being deleted or finished; such pods are no endpoints.
    pub ready: bool,
}

/// A waypoint proxy: a Gateway of class `istio-waypoint`, with whether its Deployment is ready.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Waypoint {
    pub namespace: String,
    pub name: String,
    /// Value of `istio.io/waypoint-for` (Istio's default is `service`).
    pub waypoint_for: String,
    /// The service account the waypoint pods run as (Istio names it after the Gateway).
    pub service_account: String,
    pub ready: bool,
}

/// Everything the evaluator needs, taken at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub namespaces: Vec<Namespace>,
    pub services: Vec<Service>,
    pub pods: Vec<Pod>,
    pub waypoints: Vec<Waypoint>,
    /// `security.istio.io` AuthorizationPolicy objects, as JSON.
    pub policies: Vec<Value>,
    pub root_namespace: String,
    pub trust_domain: String,
    /// istiod's `PILOT_AUTO_ALLOW_WAYPOINT_POLICY` (istio-k8s option `auto-allow-waypoint-policy`).
    pub auto_allow_waypoint_policy: bool,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            namespaces: Vec::new(),
            services: Vec::new(),
            pods: Vec::new(),
            waypoints: Vec::new(),
            policies: Vec::new(),
            root_namespace: DEFAULT_ROOT_NAMESPACE.to_string(),
            trust_domain: DEFAULT_TRUST_DOMAIN.to_string(),
            auto_allow_waypoint_policy: false,
        }
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn labels_at(v: &Value, path: &[&str]) -> Labels {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return Labels::new(),
        }
    }
    cur.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn port_of(v: Option<&Value>) -> Option<u16> {
    match v? {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl Namespace {
    pub fn from_object(obj: &Value) -> Option<Namespace> {
        Some(Namespace {
            name: str_at(obj, &["metadata", "name"])?.to_string(),
            labels: labels_at(obj, &["metadata", "labels"]),
        })
    }
}

impl Service {
    pub fn from_object(obj: &Value) -> Option<Service> {
        let ports = obj
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .map(|ports| {
                ports
                    .iter()
                    .filter_map(|p| {
                        let port = port_of(p.get("port"))?;
                        Some(ServicePort {
                            name: p.get("name").and_then(Value::as_str).map(str::to_string),
                            port,
                            target_port: port_of(p.get("targetPort")).unwrap_or(port),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Service {
            namespace: str_at(obj, &["metadata", "namespace"])?.to_string(),
            name: str_at(obj, &["metadata", "name"])?.to_string(),
            labels: labels_at(obj, &["metadata", "labels"]),
            selector: labels_at(obj, &["spec", "selector"]),
            ports,
            headless: str_at(obj, &["spec", "clusterIP"]) == Some("None"),
        })
    }
}

impl Pod {
    pub fn from_object(obj: &Value) -> Option<Pod> {
        let terminating = obj.pointer("/metadata/deletionTimestamp").is_some();
        let finished = matches!(
            str_at(obj, &["status", "phase"]),
            Some("Succeeded") | Some("Failed")
        );
        Some(Pod {
            namespace: str_at(obj, &["metadata", "namespace"])?.to_string(),
            name: str_at(obj, &["metadata", "name"])?.to_string(),
            labels: labels_at(obj, &["metadata", "labels"]),
            // Kubernetes runs a pod without serviceAccountName as `default`.
            service_account: str_at(obj, &["spec", "serviceAccountName"])
                .unwrap_or("default")
                .to_string(),
            ready: !terminating && !finished,
        })
    }
}

impl Waypoint {
    /// A Gateway of class `istio-waypoint`; `ready` says whether its Deployment has ready replicas.
    pub fn from_gateway(obj: &Value, ready: bool) -> Option<Waypoint> {
        if str_at(obj, &["spec", "gatewayClassName"]) != Some("istio-waypoint") {
            return None;
        }
        let name = str_at(obj, &["metadata", "name"])?.to_string();
        let labels = labels_at(obj, &["metadata", "labels"]);
        Some(Waypoint {
            namespace: str_at(obj, &["metadata", "namespace"])?.to_string(),
            service_account: name.clone(),
            name,
            waypoint_for: labels
                .get(WAYPOINT_FOR_LABEL)
                .cloned()
                .unwrap_or_else(|| "service".to_string()),
            ready,
        })
    }
}

impl Snapshot {
    /// Builds a snapshot from Kubernetes objects. `gateways` are paired with readiness of their
    /// Deployment (istiod names the Deployment after the Gateway).
    pub fn from_objects(
        namespaces: &[Value],
        services: &[Value],
        pods: &[Value],
        gateways: &[(Value, bool)],
        policies: Vec<Value>,
    ) -> Snapshot {
        Snapshot {
            namespaces: namespaces
                .iter()
                .filter_map(Namespace::from_object)
                .collect(),
            services: services.iter().filter_map(Service::from_object).collect(),
            pods: pods.iter().filter_map(Pod::from_object).collect(),
            waypoints: gateways
                .iter()
                .filter_map(|(g, ready)| Waypoint::from_gateway(g, *ready))
                .collect(),
            policies,
            ..Snapshot::default()
        }
    }

    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.name == name)
    }

    pub fn pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        self.pods
            .iter()
            .find(|p| p.namespace == namespace && p.name == name)
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
    }

    pub fn waypoint(&self, namespace: &str, name: &str) -> Option<&Waypoint> {
        self.waypoints
            .iter()
            .find(|w| w.namespace == namespace && w.name == name)
    }

    /// Istio ambient: a pod is captured when its namespace is labelled
    /// `istio.io/dataplane-mode=ambient`, unless the pod itself says `none`; a pod label
    /// `ambient` enrols the pod alone.
    pub fn on_mesh(&self, pod: &Pod) -> bool {
        match pod.labels.get(DATAPLANE_MODE_LABEL).map(String::as_str) {
            Some("ambient") => true,
            Some("none") => false,
            _ => self
                .namespace(&pod.namespace)
                .and_then(|n| n.labels.get(DATAPLANE_MODE_LABEL))
                .is_some_and(|m| m == "ambient"),
        }
    }

    /// SPIFFE-style principal Istio gives a workload: `<td>/ns/<ns>/sa/<sa>`.
    pub fn principal(&self, namespace: &str, service_account: &str) -> String {
        format!(
            "{}/ns/{}/sa/{}",
            self.trust_domain, namespace, service_account
        )
    }

    /// Pods selected by the service's selector, ready, sorted by name for determinism.
    pub fn endpoints(&self, svc: &Service) -> Vec<&Pod> {
        if svc.selector.is_empty() {
            return Vec::new();
        }
        let mut pods: Vec<&Pod> = self
            .pods
            .iter()
            .filter(|p| {
                p.namespace == svc.namespace
                    && p.ready
                    && svc.selector.iter().all(|(k, v)| p.labels.get(k) == Some(v))
            })
            .collect();
        pods.sort_by(|a, b| a.name.cmp(&b.name));
        pods
    }
}
