//! Pure evaluator of Istio **ambient** authorization, for the simulator.
//!
//! Given a [`Snapshot`] (namespaces, services, pods, waypoints, AuthorizationPolicies) and a
//! [`Request`] (who calls which `host:port` with which method/path/headers), [`evaluate`] says what
//! the caller would see: an answer from the workload, a 403 from the waypoint, a reset from the
//! destination ztunnel, an unknown host, or a refused connection. No I/O anywhere.
//!
//! The model, with the Istio documentation it follows:
//! - Mesh membership: `istio.io/dataplane-mode=ambient` on the namespace or pod
//!   (<https://istio.io/latest/docs/ambient/usage/add-workloads/>); identity
//!   `cluster.local/ns/<ns>/sa/<sa>` (<https://istio.io/latest/docs/concepts/security/#istio-identity>).
//! - Waypoint use: `istio.io/use-waypoint` (and `istio.io/use-waypoint-namespace`) on the service
//!   or namespace for service traffic, on the pod or namespace for workload traffic, honouring the
//!   waypoint's `istio.io/waypoint-for` (<https://istio.io/latest/docs/ambient/usage/waypoint/>).
//!   Only a client whose own ztunnel captures its traffic (a client on the mesh) is sent through
//!   the waypoint; an off-mesh client reaches the pod directly and meets the destination ztunnel.
//! - Enforcement points (<https://istio.io/latest/docs/ambient/usage/l4-policy/>,
//!   <https://istio.io/latest/docs/ambient/usage/l7-features/>): policies with `targetRefs` to the
//!   Service (or to the waypoint Gateway, or GatewayClass `istio-waypoint` in the root namespace)
//!   at the waypoint with the client's identity; policies with `selector`, namespace-wide ones and
//!   root-namespace ones at the destination ztunnel, whose peer is the waypoint when there is one.
//! - Action order and matching: [`policy::decide`], [`policy::rule_matches`],
//!   [`policy::string_match`] (<https://istio.io/latest/docs/reference/config/security/authorization-policy/>).
//! - HTTP attributes at ztunnel: [`policy::ztunnel_rule`].
//! - `PILOT_AUTO_ALLOW_WAYPOINT_POLICY` (istio-k8s `auto-allow-waypoint-policy`): "zTunnel will
//!   receive synthetic authorization policies for each workload ALLOW the Waypoint's identity".

pub mod policy;
pub mod snapshot;

pub use policy::{Action, Attributes, Enforcer, Policy, Verdict};
pub use snapshot::{Namespace, Pod, Service, ServicePort, Snapshot, Waypoint};

use snapshot::{USE_WAYPOINT_LABEL, USE_WAYPOINT_NAMESPACE_LABEL};

/// The calling pod, as `namespace/name`. `None` in [`Request::source`] means a caller outside
/// the cluster's mesh with no identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    pub namespace: String,
    pub pod: String,
}

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub source: Option<SourceRef>,
    /// Host name as in the URL, without port (`svc`, `svc.ns`, `svc.ns.svc.cluster.local`, or a
    /// pod of a headless Service: `pod.svc`, `pod.svc.ns`, `pod.svc.ns.svc.cluster.local`).
    pub host: String,
    pub port: u16,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

/// What the caller experiences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The request reaches a pod of the service.
    Allowed {
        namespace: String,
        service: String,
        pod: String,
        /// The pod's `app.kubernetes.io/name` label (the Juju application), if any.
        app: Option<String>,
        /// `namespace/name` of the waypoint the request went through.
        waypoint: Option<String>,
    },
    /// The waypoint's RBAC filter answers HTTP 403 `RBAC: access denied`.
    DeniedAtWaypoint {
        waypoint: String,
        policy: Option<String>,
    },
    /// The waypoint was allowed in but the destination ztunnel refused the waypoint's
    /// connection; Envoy answers HTTP 503 to the client.
    UpstreamReset {
        waypoint: String,
        pod: String,
        policy: Option<String>,
    },
    /// The destination ztunnel refuses the connection: the client sees a reset, no HTTP answer.
    DeniedAtZtunnel { pod: String, policy: Option<String> },
    /// The service names a waypoint that does not exist or has no ready pod: the connection
    /// cannot be set up (reset), as traffic must not bypass the waypoint.
    WaypointUnavailable { waypoint: String },
    /// DNS does not resolve the host.
    UnknownHost { host: String },
    /// Nothing listens: the service lacks that port or has no ready pod.
    ConnectionRefused { reason: String },
}

impl Decision {
    /// The HTTP status the client receives, if any.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Decision::Allowed { .. } => Some(200),
            Decision::DeniedAtWaypoint { .. } => Some(403),
            Decision::UpstreamReset { .. } => Some(503),
            _ => None,
        }
    }
}

/// A name cluster DNS may answer: a Service, or one pod of a headless Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DnsName<'a> {
    Service {
        ns: &'a str,
        svc: &'a str,
    },
    Pod {
        ns: &'a str,
        svc: &'a str,
        pod: &'a str,
    },
}

/// The names a host may stand for, in the order the pod's resolver tries them: with
/// `ndots:5` a short name is first tried under the search path `<ns>.svc.cluster.local`,
/// `svc.cluster.local`, `cluster.local`, then as given. So `a.b` is first pod `a` of the
/// headless Service `b` in the caller's namespace, then Service `a` in namespace `b`.
fn dns_candidates<'a>(host: &'a str, default_ns: &'a str) -> Vec<DnsName<'a>> {
    use DnsName::{Pod, Service};
    let host = host.trim_end_matches('.');
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [svc] => vec![Service {
            ns: default_ns,
            svc,
        }],
        [a, b] => vec![
            Pod {
                ns: default_ns,
                svc: b,
                pod: a,
            },
            Service { ns: b, svc: a },
        ],
        [a, b, c] => {
            let mut v = vec![Pod {
                ns: c,
                svc: b,
                pod: a,
            }];
            if *c == "svc" {
                v.push(Service { ns: b, svc: a });
            }
            v
        }
        [pod, svc, ns, "svc"] | [pod, svc, ns, "svc", "cluster", "local"] => {
            vec![Pod { ns, svc, pod }]
        }
        [svc, ns, "svc", "cluster", "local"] => vec![Service { ns, svc }],
        _ => Vec::new(),
    }
}

/// What a host name reaches: the Service it names (with whether the pod was addressed
/// directly, as for a headless Service) and, for a pod name, that pod.
struct Resolved<'a> {
    svc: &'a Service,
    pod: Option<&'a Pod>,
}

fn resolve<'a>(snap: &'a Snapshot, host: &str, default_ns: &str) -> Option<Resolved<'a>> {
    dns_candidates(host, default_ns)
        .into_iter()
        .find_map(|name| match name {
            DnsName::Service { ns, svc } => {
                snap.service(ns, svc).map(|svc| Resolved { svc, pod: None })
            }
            DnsName::Pod { ns, svc, pod } => {
                let svc = snap.service(ns, svc).filter(|s| s.headless)?;
                // A pod has a name under the headless Service only if the Service selects it.
                let pod = snap.pod(ns, pod).filter(|p| {
                    !svc.selector.is_empty() && labels_select(&svc.selector, &p.labels)
                })?;
                Some(Resolved {
                    svc,
                    pod: Some(pod),
                })
            }
        })
}

/// A waypoint binding read from labels: (namespace, name), or `None` if unbound.
fn binding(
    labels: &snapshot::Labels,
    own_ns: &str,
    ns_labels: Option<&snapshot::Labels>,
) -> Option<(String, String)> {
    // The object's own label wins over its namespace's; `none` opts out explicitly.
    if let Some(name) = labels.get(USE_WAYPOINT_LABEL) {
        if name == "none" {
            return None;
        }
        let ns = labels
            .get(USE_WAYPOINT_NAMESPACE_LABEL)
            .cloned()
            .unwrap_or_else(|| own_ns.to_string());
        return Some((ns, name.clone()));
    }
    let nsl = ns_labels?;
    let name = nsl.get(USE_WAYPOINT_LABEL)?;
    if name == "none" {
        return None;
    }
    let ns = nsl
        .get(USE_WAYPOINT_NAMESPACE_LABEL)
        .cloned()
        .unwrap_or_else(|| own_ns.to_string());
    Some((ns, name.clone()))
}

fn serves(w: &Waypoint, kind: &str) -> bool {
    w.waypoint_for == kind || w.waypoint_for == "all"
}

/// The waypoint service traffic to `svc` goes through (`Err` names a binding to a missing one).
pub fn service_waypoint<'a>(
    snap: &'a Snapshot,
    svc: &Service,
) -> Result<Option<&'a Waypoint>, String> {
    let ns_labels = snap.namespace(&svc.namespace).map(|n| &n.labels);
    match binding(&svc.labels, &svc.namespace, ns_labels) {
        None => Ok(None),
        Some((ns, name)) => match snap.waypoint(&ns, &name) {
            Some(w) if serves(w, "service") => Ok(Some(w)),
            // A workload-only waypoint does not take service traffic.
            Some(_) => Ok(None),
            None => Err(format!("{ns}/{name}")),
        },
    }
}

/// The waypoint workload-addressed traffic to `pod` goes through.
pub fn workload_waypoint<'a>(
    snap: &'a Snapshot,
    pod: &Pod,
) -> Result<Option<&'a Waypoint>, String> {
    let ns_labels = snap.namespace(&pod.namespace).map(|n| &n.labels);
    match binding(&pod.labels, &pod.namespace, ns_labels) {
        None => Ok(None),
        Some((ns, name)) => match snap.waypoint(&ns, &name) {
            Some(w) if serves(w, "workload") => Ok(Some(w)),
            Some(_) => Ok(None),
            None => Err(format!("{ns}/{name}")),
        },
    }
}

fn labels_select(selector: &snapshot::Labels, labels: &snapshot::Labels) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Policies the waypoint enforces for traffic to `svc`: `targetRefs` to the Service (in its
/// namespace), to the waypoint Gateway (in the waypoint's namespace), or to GatewayClass
/// `istio-waypoint` (root namespace).
///
/// `svc` is `None` for pod-addressed traffic (through a workload waypoint): no Service is
/// the destination, so `targetRefs` to a Service do not apply.
pub fn waypoint_policies<'a>(
    snap: &Snapshot,
    policies: &'a [Policy],
    svc: Option<&Service>,
    w: &Waypoint,
) -> Vec<&'a Policy> {
    policies
        .iter()
        .filter(|p| {
            p.target_refs.iter().any(|t| {
                let ns = t.namespace.as_deref().unwrap_or(&p.namespace);
                svc.is_some_and(|svc| {
                    t.kind == "Service"
                        && t.group.is_empty()
                        && ns == svc.namespace
                        && p.namespace == svc.namespace
                        && t.name == svc.name
                }) || (t.kind == "Gateway"
                    && t.group == "gateway.networking.k8s.io"
                    && ns == w.namespace
                    && p.namespace == w.namespace
                    && t.name == w.name)
                    || (t.kind == "GatewayClass"
                        && t.group == "gateway.networking.k8s.io"
                        && p.namespace == snap.root_namespace
                        && t.name == "istio-waypoint")
            })
        })
        .collect()
}

/// Policies the destination ztunnel enforces for `pod`: no `targetRefs`; in the pod's namespace
/// with a matching selector or none; in the root namespace, mesh-wide or by selector.
pub fn ztunnel_policies<'a>(snap: &Snapshot, policies: &'a [Policy], pod: &Pod) -> Vec<&'a Policy> {
    policies
        .iter()
        .filter(|p| {
            !p.is_targeted()
                && (p.namespace == pod.namespace || p.namespace == snap.root_namespace)
                && p.selector
                    .as_ref()
                    .is_none_or(|sel| labels_select(sel, &pod.labels))
        })
        .collect()
}

/// Synthetic policies istiod gives ztunnel when `PILOT_AUTO_ALLOW_WAYPOINT_POLICY` is on: for a
/// workload bound to a waypoint (through a service selecting it or its own binding), ALLOW the
/// waypoint's identity.
pub fn auto_allow_policies(snap: &Snapshot, pod: &Pod) -> Vec<Policy> {
    if !snap.auto_allow_waypoint_policy {
        return Vec::new();
    }
    let mut ws: Vec<&Waypoint> = Vec::new();
    for svc in snap
        .services
        .iter()
        .filter(|s| s.namespace == pod.namespace && !s.selector.is_empty())
    {
        if labels_select(&svc.selector, &pod.labels) {
            if let Ok(Some(w)) = service_waypoint(snap, svc) {
                ws.push(w);
            }
        }
    }
    if let Ok(Some(w)) = workload_waypoint(snap, pod) {
        ws.push(w);
    }
    ws.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    ws.dedup_by(|a, b| a.namespace == b.namespace && a.name == b.name);
    ws.into_iter()
        .map(|w| Policy {
            namespace: snap.root_namespace.clone(),
            name: format!("istio_allow_waypoint_{}_{}", w.namespace, w.name),
            action: Action::Allow,
            selector: None,
            target_refs: Vec::new(),
            rules: Some(vec![serde_json::json!({
                "from": [{"source": {"principals": [snap.principal(&w.namespace, &w.service_account)]}}]
            })]),
        })
        .collect()
}

/// Evaluates one request against the snapshot.
pub fn evaluate(snap: &Snapshot, req: &Request) -> Decision {
    let src_pod = req
        .source
        .as_ref()
        .and_then(|s| snap.pod(&s.namespace, &s.pod));
    let src_ns = req
        .source
        .as_ref()
        .map(|s| s.namespace.as_str())
        .unwrap_or("default");
    let src_on_mesh = src_pod.is_some_and(|p| snap.on_mesh(p));
    let src_principal = src_pod
        .filter(|_| src_on_mesh)
        .map(|p| snap.principal(&p.namespace, &p.service_account));

    let Some(Resolved {
        svc,
        pod: named_pod,
    }) = resolve(snap, &req.host, src_ns)
    else {
        return Decision::UnknownHost {
            host: req.host.clone(),
        };
    };
    // A headless Service's name resolves to its pods' addresses: like a pod's own name, the
    // traffic is addressed to the pod, not to a Service (no service waypoint, no port mapping).
    let pod_addressed = named_pod.is_some() || svc.headless;
    let port_match = |p: &&ServicePort| {
        if pod_addressed {
            p.target_port == req.port
        } else {
            p.port == req.port
        }
    };
    let Some(sport) = svc.ports.iter().find(port_match) else {
        return Decision::ConnectionRefused {
            reason: match named_pod {
                Some(p) => format!("pod {}/{} has no port {}", p.namespace, p.name, req.port),
                None => format!(
                    "service {}/{} has no port {}",
                    svc.namespace, svc.name, req.port
                ),
            },
        };
    };
    let pod = match named_pod {
        Some(p) if p.ready => p,
        Some(p) => {
            return Decision::ConnectionRefused {
                reason: format!("pod {}/{} is not running", p.namespace, p.name),
            }
        }
        // Deterministic: the first ready pod by name answers.
        None => match snap.endpoints(svc).first().copied() {
            Some(p) => p,
            None => {
                return Decision::ConnectionRefused {
                    reason: format!("service {}/{} has no ready pod", svc.namespace, svc.name),
                }
            }
        },
    };

    let policies: Vec<Policy> = snap
        .policies
        .iter()
        .filter_map(Policy::from_object)
        .collect();
    // The Host header curl sends (`host[:port]`), unless the request sets its own.
    let host_header = match req
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
    {
        Some((_, v)) => v.clone(),
        None if req.port == 80 => req.host.clone(),
        None => format!("{}:{}", req.host, req.port),
    };
    let attrs = |principal: Option<String>| Attributes {
        principal,
        port: sport.target_port,
        host: host_header.clone(),
        method: req.method.clone(),
        path: req.path.clone(),
        headers: req.headers.clone(),
    };

    // Only a client whose ztunnel captures its traffic is steered to the waypoint; traffic
    // addressed to a pod only to a waypoint serving workloads (`waypoint-for: workload|all`).
    let waypoint = if src_on_mesh && pod_addressed {
        match workload_waypoint(snap, pod) {
            Ok(w) => w,
            Err(missing) => return Decision::WaypointUnavailable { waypoint: missing },
        }
    } else if src_on_mesh {
        match service_waypoint(snap, svc) {
            Ok(Some(w)) => Some(w),
            Ok(None) => match workload_waypoint(snap, pod) {
                Ok(w) => w,
                Err(missing) => return Decision::WaypointUnavailable { waypoint: missing },
            },
            Err(missing) => return Decision::WaypointUnavailable { waypoint: missing },
        }
    } else {
        None
    };

    let dest_on_mesh = snap.on_mesh(pod);
    let ztunnel_verdict = |principal: Option<String>| -> Verdict {
        if !dest_on_mesh {
            // No ztunnel captures the destination: nothing is enforced.
            return Verdict::Allow(None);
        }
        let synthetic = auto_allow_policies(snap, pod);
        let mut applicable = ztunnel_policies(snap, &policies, pod);
        applicable.extend(synthetic.iter());
        decide(&applicable, &attrs(principal), Enforcer::Ztunnel)
    };

    let allowed = |w: Option<&Waypoint>| Decision::Allowed {
        namespace: svc.namespace.clone(),
        service: svc.name.clone(),
        pod: pod.name.clone(),
        app: pod.labels.get("app.kubernetes.io/name").cloned(),
        waypoint: w.map(|w| format!("{}/{}", w.namespace, w.name)),
    };

    match waypoint {
        Some(w) => {
            let wname = format!("{}/{}", w.namespace, w.name);
            if !w.ready {
                return Decision::WaypointUnavailable { waypoint: wname };
            }
            let at_waypoint =
                waypoint_policies(snap, &policies, Some(svc).filter(|_| !pod_addressed), w);
            if let Verdict::Deny(policy) = decide(
                &at_waypoint,
                &attrs(src_principal.clone()),
                Enforcer::Waypoint,
            ) {
                return Decision::DeniedAtWaypoint {
                    waypoint: wname,
                    policy,
                };
            }
            // Waypoint-to-pod traffic carries the waypoint's own identity.
            let wp = snap.principal(&w.namespace, &w.service_account);
            match ztunnel_verdict(Some(wp)) {
                Verdict::Allow(_) => allowed(Some(w)),
                Verdict::Deny(policy) => Decision::UpstreamReset {
                    waypoint: wname,
                    pod: format!("{}/{}", pod.namespace, pod.name),
                    policy,
                },
            }
        }
        None => match ztunnel_verdict(src_principal) {
            Verdict::Allow(_) => allowed(None),
            Verdict::Deny(policy) => Decision::DeniedAtZtunnel {
                pod: format!("{}/{}", pod.namespace, pod.name),
                policy,
            },
        },
    }
}

use policy::decide;

#[cfg(test)]
mod tests;
