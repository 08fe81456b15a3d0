//! Each test names the Istio documentation it follows.
//!
//! - AP: <https://istio.io/latest/docs/reference/config/security/authorization-policy/>
//! - L4: <https://istio.io/latest/docs/ambient/usage/l4-policy/>
//! - L7: <https://istio.io/latest/docs/ambient/usage/l7-features/>
//! - WP: <https://istio.io/latest/docs/ambient/usage/waypoint/>
//! - ADD: <https://istio.io/latest/docs/ambient/usage/add-workloads/>
//! - PILOT: <https://istio.io/latest/docs/reference/commands/pilot-discovery/> (PILOT_AUTO_ALLOW_WAYPOINT_POLICY)

use serde_json::{json, Value};

use super::*;
use crate::policy::string_match;

fn labels(pairs: &[(&str, &str)]) -> snapshot::Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Two apps in `bookinfo` (client `pp`, server `details`) plus an off-mesh namespace `other`.
struct World {
    snap: Snapshot,
}

impl World {
    fn new() -> World {
        let mut snap = Snapshot::default();
        for (ns, l) in [
            (
                "bookinfo",
                labels(&[("istio.io/dataplane-mode", "ambient")]),
            ),
            ("other", labels(&[])),
            ("istio-system", labels(&[])),
        ] {
            snap.namespaces.push(Namespace {
                name: ns.into(),
                labels: l,
            });
        }
        for app in ["pp", "details"] {
            snap.pods.push(Pod {
                namespace: "bookinfo".into(),
                name: format!("{app}-0"),
                labels: labels(&[("app.kubernetes.io/name", app)]),
                service_account: app.into(),
                ready: true,
            });
            snap.services.push(Service {
                namespace: "bookinfo".into(),
                name: app.into(),
                labels: labels(&[]),
                selector: labels(&[("app.kubernetes.io/name", app)]),
                ports: vec![ServicePort {
                    name: None,
                    port: 9080,
                    target_port: 9080,
                }],
                headless: false,
            });
        }
        snap.pods.push(Pod {
            namespace: "other".into(),
            name: "stranger-0".into(),
            labels: labels(&[("app.kubernetes.io/name", "stranger")]),
            service_account: "stranger".into(),
            ready: true,
        });
        World { snap }
    }

    fn with_waypoint(mut self) -> World {
        self.snap.waypoints.push(Waypoint {
            namespace: "bookinfo".into(),
            name: "wp".into(),
            waypoint_for: "service".into(),
            service_account: "wp".into(),
            ready: true,
        });
        for s in &mut self.snap.services {
            s.labels.insert("istio.io/use-waypoint".into(), "wp".into());
        }
        self
    }

    fn policy(mut self, ns: &str, name: &str, spec: Value) -> World {
        self.snap.policies.push(json!({
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": spec,
        }));
        self
    }

    fn call(&self, from: Option<(&str, &str)>, host: &str, method: &str, path: &str) -> Decision {
        evaluate(
            &self.snap,
            &Request {
                source: from.map(|(ns, pod)| SourceRef {
                    namespace: ns.into(),
                    pod: pod.into(),
                }),
                host: host.into(),
                port: 9080,
                method: method.into(),
                path: path.into(),
                headers: vec![],
            },
        )
    }

    fn get(&self, from: Option<(&str, &str)>, path: &str) -> Decision {
        self.call(from, "details.bookinfo.svc.cluster.local", "GET", path)
    }
}

const PP: Option<(&str, &str)> = Some(("bookinfo", "pp-0"));
const STRANGER: Option<(&str, &str)> = Some(("other", "stranger-0"));

fn is_allowed(d: &Decision) -> bool {
    matches!(d, Decision::Allowed { .. })
}

fn l4_allow_from(principal: &str) -> Value {
    json!({
        "selector": {"matchLabels": {"app.kubernetes.io/name": "details"}},
        "rules": [{"from": [{"source": {"principals": [principal]}}]}]
    })
}

// AP: "Exact match: abc will match on value abc. Prefix match: abc* ... Suffix match: *abc ...
// Presence match: * will match when value is not empty."
#[test]
fn value_matching_exact_prefix_suffix_presence() {
    assert!(string_match("abc", "abc", false));
    assert!(!string_match("abc", "abcd", false));
    assert!(string_match("abc*", "abcd", false));
    assert!(!string_match("abc*", "xabc", false));
    assert!(string_match("*abc", "xabc", false));
    assert!(!string_match("*abc", "abcx", false));
    assert!(string_match("*", "x", false));
    assert!(!string_match("*", "", false));
}

// L4: "When there is no authorization policy provisioned, the default action is ALLOW."
#[test]
fn no_policy_allows_everyone_including_off_mesh_callers() {
    let w = World::new();
    let d = w.get(PP, "/anything");
    assert_eq!(
        d,
        Decision::Allowed {
            namespace: "bookinfo".into(),
            service: "details".into(),
            pod: "details-0".into(),
            app: Some("details".into()),
            waypoint: None
        }
    );
    assert!(is_allowed(&w.get(STRANGER, "/")));
    assert!(is_allowed(&w.get(None, "/")));
}

// L4: "Once a policy is provisioned, the pods targeted by the policy only permit traffic which
// is explicitly allowed." The ztunnel denies by closing the connection.
#[test]
fn ztunnel_allow_policy_admits_only_the_named_principal() {
    let w = World::new().policy(
        "bookinfo",
        "allow-pp",
        l4_allow_from("cluster.local/ns/bookinfo/sa/pp"),
    );
    assert!(is_allowed(&w.get(PP, "/")));
    // Off-mesh namespace: plaintext, no identity, so no principal can match.
    assert_eq!(
        w.get(STRANGER, "/"),
        Decision::DeniedAtZtunnel {
            pod: "bookinfo/details-0".into(),
            policy: None
        }
    );
}

// ADD: a pod label istio.io/dataplane-mode=ambient enrols one pod; `none` opts a pod out of an
// ambient namespace. Identity: cluster.local/ns/<ns>/sa/<sa>.
#[test]
fn mesh_membership_by_namespace_or_pod_label() {
    let mut w = World::new().policy(
        "bookinfo",
        "allow-stranger",
        l4_allow_from("cluster.local/ns/other/sa/stranger"),
    );
    assert!(!is_allowed(&w.get(STRANGER, "/")));
    w.snap.pods[2]
        .labels
        .insert("istio.io/dataplane-mode".into(), "ambient".into());
    assert!(is_allowed(&w.get(STRANGER, "/")));
    // Destination opted out: no ztunnel enforces anything for it.
    w.snap.pods[1]
        .labels
        .insert("istio.io/dataplane-mode".into(), "none".into());
    w.snap.pods[2].labels.remove("istio.io/dataplane-mode");
    assert!(is_allowed(&w.get(STRANGER, "/")));
}

// AP: "The CUSTOM action is evaluated first, then DENY, then ALLOW ... If there are any DENY
// policies that match the request, deny the request."
#[test]
fn deny_wins_over_allow() {
    let w = World::new()
        .policy(
            "bookinfo",
            "allow-pp",
            l4_allow_from("cluster.local/ns/bookinfo/sa/pp"),
        )
        .policy(
            "bookinfo",
            "deny-9080",
            json!({"action": "DENY", "rules": [{"to": [{"operation": {"ports": ["9080"]}}]}]}),
        );
    assert_eq!(
        w.get(PP, "/"),
        Decision::DeniedAtZtunnel {
            pod: "bookinfo/details-0".into(),
            policy: Some("bookinfo/deny-9080".into())
        }
    );
}

// AP: rules "If not set, the match will never occur. This is equivalent to setting a default of
// deny for the target workloads if the action is ALLOW." And "An empty rule is always matched."
#[test]
fn allow_nothing_and_empty_rule() {
    let w = World::new().policy("bookinfo", "allow-nothing", json!({}));
    assert!(!is_allowed(&w.get(PP, "/")));
    let w = World::new().policy("bookinfo", "allow-all", json!({"rules": [{}]}));
    assert!(is_allowed(&w.get(STRANGER, "/")));
    // A DENY policy without rules never matches.
    let w = World::new().policy("bookinfo", "deny-none", json!({"action": "DENY"}));
    assert!(is_allowed(&w.get(PP, "/")));
}

// L4: "If the policy is in the Istio root namespace (traditionally istio-system), then it
// targets all namespaces. If the policy is in any other namespace, then it targets only that
// namespace."
#[test]
fn root_namespace_policy_is_mesh_wide_namespace_policy_is_local() {
    let w = World::new().policy("istio-system", "global-allow-nothing", json!({}));
    assert!(!is_allowed(&w.get(PP, "/")));
    let w = World::new().policy("other", "ns-allow-nothing", json!({}));
    assert!(is_allowed(&w.get(PP, "/")));
    let w = World::new().policy("bookinfo", "ns-allow-nothing", json!({}));
    assert!(!is_allowed(&w.get(PP, "/")));
}

// AP selector: "If not set, the selector will match all workloads" (of the namespace); a
// selector for another app does not apply.
#[test]
fn selector_limits_the_policy_to_matching_pods() {
    let w = World::new().policy(
        "bookinfo",
        "allow-nothing-for-pp",
        json!({"selector": {"matchLabels": {"app.kubernetes.io/name": "pp"}}}),
    );
    assert!(is_allowed(&w.get(STRANGER, "/")));
}

// L7: "To attach a policy to a waypoint, it must have a targetRef which refers to the waypoint,
// or a Service which uses that waypoint." Without a waypoint nobody enforces it.
#[test]
fn targetrefs_policy_is_not_enforced_without_a_waypoint() {
    let w = World::new().policy(
        "bookinfo",
        "svc-allow-pp-get",
        json!({
            "targetRefs": [{"group": "", "kind": "Service", "name": "details"}],
            "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/bookinfo/sa/pp"]}}],
                       "to": [{"operation": {"methods": ["GET"]}}]}]
        }),
    );
    assert!(is_allowed(&w.call(
        STRANGER,
        "details.bookinfo.svc.cluster.local",
        "POST",
        "/"
    )));
}

fn tutorial_policy() -> Value {
    json!({
        "targetRefs": [{"group": "", "kind": "Service", "name": "details"}],
        "rules": [{
            "from": [{"source": {"principals": ["cluster.local/ns/bookinfo/sa/pp"]}}],
            "to": [{"operation": {"ports": ["9080"], "methods": ["GET"], "paths": ["/health", "/details/*"]}}]
        }]
    })
}

// WP + L7: a Service labelled istio.io/use-waypoint sends its traffic through the waypoint,
// which enforces targetRefs policies with HTTP attributes; Envoy's RBAC filter answers 403.
#[test]
fn waypoint_enforces_methods_and_paths_with_the_client_identity() {
    let mut w = World::new()
        .with_waypoint()
        .policy("bookinfo", "details-app", tutorial_policy());
    w.snap.auto_allow_waypoint_policy = true;
    let ok = w.get(PP, "/details/1");
    assert_eq!(
        ok,
        Decision::Allowed {
            namespace: "bookinfo".into(),
            service: "details".into(),
            pod: "details-0".into(),
            app: Some("details".into()),
            waypoint: Some("bookinfo/wp".into())
        }
    );
    assert!(is_allowed(&w.get(PP, "/health")));
    assert!(is_allowed(&w.get(PP, "/details/1?x=y")));
    let denied = Decision::DeniedAtWaypoint {
        waypoint: "bookinfo/wp".into(),
        policy: None,
    };
    assert_eq!(w.get(PP, "/"), denied);
    assert_eq!(w.get(PP, "/healthz"), denied);
    assert_eq!(
        w.call(
            PP,
            "details.bookinfo.svc.cluster.local",
            "POST",
            "/details/1"
        ),
        denied
    );
    assert_eq!(denied.http_status(), Some(403));
}

// L4: "the destination ztunnel ... sees traffic from the waypoint's identity" — a selector ALLOW
// policy naming only the client identity refuses the waypoint's connection (Envoy returns 503);
// PILOT: auto-allow "ALLOW the Waypoint's identity" fixes exactly that.
#[test]
fn waypoint_to_pod_leg_carries_the_waypoint_identity() {
    let w = World::new().with_waypoint().policy(
        "bookinfo",
        "allow-pp",
        l4_allow_from("cluster.local/ns/bookinfo/sa/pp"),
    );
    assert_eq!(
        w.get(PP, "/"),
        Decision::UpstreamReset {
            waypoint: "bookinfo/wp".into(),
            pod: "bookinfo/details-0".into(),
            policy: None
        }
    );
    let mut w = w;
    w.snap.auto_allow_waypoint_policy = true;
    assert!(is_allowed(&w.get(PP, "/")));
    // The waypoint's principal is explicit too.
    let w = World::new().with_waypoint().policy(
        "bookinfo",
        "allow-wp",
        l4_allow_from("cluster.local/ns/bookinfo/sa/wp"),
    );
    assert!(is_allowed(&w.get(PP, "/")));
}

// PILOT: "Unless other ALLOW policies are created, this effectively denies traffic that doesn't
// go through the waypoint." Off-mesh callers are not steered to the waypoint.
#[test]
fn auto_allow_denies_callers_that_bypass_the_waypoint() {
    let mut w = World::new().with_waypoint();
    w.snap.auto_allow_waypoint_policy = true;
    assert!(matches!(
        w.get(STRANGER, "/"),
        Decision::DeniedAtZtunnel { .. }
    ));
    assert!(is_allowed(&w.get(PP, "/")));
}

// L4 / Istio's ztunnel conversion status: "Within an ALLOW policy, rules matching HTTP attributes
// are omitted. This will be more restrictive than requested."
#[test]
fn allow_rule_with_http_fields_at_ztunnel_is_dropped_whole() {
    let w = World::new().policy(
        "bookinfo",
        "l7-at-ztunnel",
        json!({
            "selector": {"matchLabels": {"app.kubernetes.io/name": "details"}},
            "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/bookinfo/sa/pp"]}}],
                       "to": [{"operation": {"methods": ["GET"]}}]}]
        }),
    );
    assert!(matches!(
        w.get(PP, "/"),
        Decision::DeniedAtZtunnel { policy: None, .. }
    ));
    // A second, L4-only rule of the same policy still applies.
    let w = World::new().policy(
        "bookinfo",
        "mixed",
        json!({
            "selector": {"matchLabels": {"app.kubernetes.io/name": "details"}},
            "rules": [{"to": [{"operation": {"paths": ["/x"]}}]},
                      {"from": [{"source": {"principals": ["cluster.local/ns/bookinfo/sa/pp"]}}]}]
        }),
    );
    assert!(is_allowed(&w.get(PP, "/")));
}

// Same source: "DENY policy with HTTP attributes is enforced without the HTTP rules. This will
// be more restrictive than requested."
#[test]
fn deny_rule_with_http_fields_at_ztunnel_drops_only_the_http_part() {
    let w = World::new().policy(
        "bookinfo",
        "deny-post",
        json!({
            "action": "DENY",
            "selector": {"matchLabels": {"app.kubernetes.io/name": "details"}},
            "rules": [{"from": [{"source": {"namespaces": ["bookinfo"]}}],
                       "to": [{"operation": {"methods": ["POST"]}}]}]
        }),
    );
    // Even a GET from bookinfo is refused: the method condition is gone.
    assert!(matches!(
        w.get(PP, "/"),
        Decision::DeniedAtZtunnel {
            policy: Some(_),
            ..
        }
    ));
    // The L4 part still limits it: a source outside `bookinfo` is not matched.
    let mut w = w;
    w.snap.pods[2]
        .labels
        .insert("istio.io/dataplane-mode".into(), "ambient".into());
    assert!(is_allowed(&w.get(STRANGER, "/")));
}

// AP: CUSTOM is evaluated before DENY and ALLOW; the simulator has no external authorizer, so a
// matching CUSTOM policy at the waypoint denies. AUDIT never decides.
#[test]
fn custom_first_and_audit_never_decides() {
    let w = World::new()
        .with_waypoint()
        .policy(
            "bookinfo",
            "ext",
            json!({"action": "CUSTOM", "provider": {"name": "x"},
                   "targetRefs": [{"group": "", "kind": "Service", "name": "details"}],
                   "rules": [{"to": [{"operation": {"paths": ["/admin*"]}}]}]}),
        )
        .policy(
            "bookinfo",
            "audit",
            json!({"action": "AUDIT", "targetRefs": [{"group": "", "kind": "Service", "name": "details"}], "rules": [{}]}),
        );
    assert!(matches!(
        w.get(PP, "/admin/x"),
        Decision::DeniedAtWaypoint { policy: Some(p), .. } if p == "bookinfo/ext"
    ));
    assert!(is_allowed(&w.get(PP, "/public")));
}

// AP Source/Operation fields: notPrincipals, namespaces, notPorts, hosts (case-insensitive),
// and `when` conditions on request headers.
#[test]
fn negative_fields_namespaces_hosts_and_headers() {
    let w = World::new().with_waypoint().policy(
        "bookinfo",
        "p",
        json!({
            "targetRefs": [{"group": "", "kind": "Service", "name": "details"}],
            "rules": [{
                "from": [{"source": {"namespaces": ["bookinfo"], "notPrincipals": ["*/sa/details"]}}],
                "to": [{"operation": {"hosts": ["DETAILS.bookinfo.svc.cluster.local:9080"], "notPorts": ["1"]}}],
                "when": [{"key": "request.headers[x-token]", "values": ["ok*"]}]
            }]
        }),
    );
    let mut w = w;
    w.snap.auto_allow_waypoint_policy = true;
    let req = |headers: Vec<(String, String)>| Request {
        source: Some(SourceRef {
            namespace: "bookinfo".into(),
            pod: "pp-0".into(),
        }),
        host: "details.bookinfo.svc.cluster.local".into(),
        port: 9080,
        method: "GET".into(),
        path: "/".into(),
        headers,
    };
    assert!(is_allowed(&evaluate(
        &w.snap,
        &req(vec![("X-Token".into(), "okay".into())])
    )));
    assert!(matches!(
        evaluate(&w.snap, &req(vec![])),
        Decision::DeniedAtWaypoint { .. }
    ));
    // An explicit Host header is what `hosts` sees.
    assert!(matches!(
        evaluate(
            &w.snap,
            &req(vec![
                ("X-Token".into(), "okay".into()),
                ("Host".into(), "elsewhere".into())
            ])
        ),
        Decision::DeniedAtWaypoint { .. }
    ));
}

// WP: "istio.io/use-waypoint-namespace" points at a waypoint in another namespace; the value
// `none` on a service opts it out of its namespace's waypoint.
#[test]
fn waypoint_binding_labels() {
    let mut w = World::new();
    w.snap.waypoints.push(Waypoint {
        namespace: "istio-system".into(),
        name: "shared".into(),
        waypoint_for: "service".into(),
        service_account: "shared".into(),
        ready: true,
    });
    w.snap.namespaces[0]
        .labels
        .insert("istio.io/use-waypoint".into(), "shared".into());
    w.snap.namespaces[0].labels.insert(
        "istio.io/use-waypoint-namespace".into(),
        "istio-system".into(),
    );
    assert!(matches!(
        w.get(PP, "/"),
        Decision::Allowed { waypoint: Some(ref x), .. } if x == "istio-system/shared"
    ));
    w.snap.services[1]
        .labels
        .insert("istio.io/use-waypoint".into(), "none".into());
    assert!(matches!(
        w.get(PP, "/"),
        Decision::Allowed { waypoint: None, .. }
    ));
}

// WP: a service bound to a waypoint that is not there cannot be reached through it.
#[test]
fn missing_or_unready_waypoint() {
    let mut w = World::new().with_waypoint();
    w.snap.waypoints[0].ready = false;
    assert_eq!(
        w.get(PP, "/"),
        Decision::WaypointUnavailable {
            waypoint: "bookinfo/wp".into()
        }
    );
    w.snap.waypoints.clear();
    assert!(matches!(
        w.get(PP, "/"),
        Decision::WaypointUnavailable { .. }
    ));
}

// Kubernetes DNS: <svc>.<ns>.svc.cluster.local, short names in the caller's namespace.
#[test]
fn name_resolution_ports_and_endpoints() {
    let mut w = World::new();
    assert!(is_allowed(&w.call(PP, "details", "GET", "/")));
    assert!(is_allowed(&w.call(PP, "details.bookinfo", "GET", "/")));
    assert!(matches!(
        w.call(PP, "nope.bookinfo.svc.cluster.local", "GET", "/"),
        Decision::UnknownHost { .. }
    ));
    assert!(matches!(
        w.call(STRANGER, "details", "GET", "/"),
        Decision::UnknownHost { .. }
    ));
    let d = evaluate(
        &w.snap,
        &Request {
            source: None,
            host: "details.bookinfo.svc.cluster.local".into(),
            port: 80,
            method: "GET".into(),
            path: "/".into(),
            headers: vec![],
        },
    );
    assert!(matches!(d, Decision::ConnectionRefused { .. }));
    w.snap.pods.retain(|p| p.name != "details-0");
    assert!(matches!(w.get(PP, "/"), Decision::ConnectionRefused { .. }));
}

#[test]
fn snapshot_from_kubernetes_objects() {
    let snap = Snapshot::from_objects(
        &[json!({"metadata": {"name": "m", "labels": {"istio.io/dataplane-mode": "ambient"}}})],
        &[json!({"metadata": {"name": "a", "namespace": "m"},
                 "spec": {"selector": {"app.kubernetes.io/name": "a"}, "ports": [{"port": 80, "targetPort": 8080}]}})],
        &[
            json!({"metadata": {"name": "a-0", "namespace": "m", "labels": {"app.kubernetes.io/name": "a"}},
                 "spec": {"serviceAccountName": "a"}}),
        ],
        &[(
            json!({"metadata": {"name": "w", "namespace": "m", "labels": {"istio.io/waypoint-for": "service"}},
                   "spec": {"gatewayClassName": "istio-waypoint"}}),
            true,
        )],
        vec![],
    );
    assert_eq!(snap.services[0].ports[0].target_port, 8080);
    assert!(snap.on_mesh(&snap.pods[0]));
    assert_eq!(snap.pods[0].service_account, "a");
    assert_eq!(snap.waypoints[0].service_account, "w");
    // Policies are matched against the pod port, not the service port.
    let mut snap = snap;
    snap.policies
        .push(json!({"metadata": {"name": "p", "namespace": "m"},
        "spec": {"rules": [{"to": [{"operation": {"ports": ["8080"]}}]}]}}));
    let d = evaluate(
        &snap,
        &Request {
            source: None,
            host: "a.m".into(),
            port: 80,
            method: "GET".into(),
            path: "/".into(),
            headers: vec![],
        },
    );
    assert!(is_allowed(&d));
}

impl World {
    /// Juju's headless `<app>-endpoints` Service for `details`.
    fn with_headless_details(mut self) -> World {
        self.snap.services.push(Service {
            namespace: "bookinfo".into(),
            name: "details-endpoints".into(),
            labels: labels(&[]),
            selector: labels(&[("app.kubernetes.io/name", "details")]),
            ports: vec![ServicePort {
                name: None,
                port: 9080,
                target_port: 9080,
            }],
            headless: true,
        });
        self
    }
}

// Kubernetes DNS: a pod selected by a headless Service is `<pod>.<svc>.<ns>.svc.cluster.local`;
// the resolver's search path (`<ns>.svc.cluster.local`, `svc.cluster.local`) also finds the
// short forms.
#[test]
fn pod_names_under_a_headless_service_resolve_to_that_pod() {
    let w = World::new().with_headless_details();
    for host in [
        "details-0.details-endpoints.bookinfo.svc.cluster.local",
        "details-0.details-endpoints.bookinfo.svc",
        "details-0.details-endpoints.bookinfo",
        "details-0.details-endpoints",
    ] {
        assert_eq!(
            w.call(PP, host, "GET", "/"),
            Decision::Allowed {
                namespace: "bookinfo".into(),
                service: "details-endpoints".into(),
                pod: "details-0".into(),
                app: Some("details".into()),
                waypoint: None
            },
            "{host}"
        );
    }
    // `svc.ns` still means a Service when no headless Service `ns` exists.
    assert!(is_allowed(&w.call(PP, "details.bookinfo", "GET", "/")));
    for host in [
        // No such pod.
        "details-1.details-endpoints.bookinfo.svc.cluster.local",
        // A pod the headless Service does not select.
        "pp-0.details-endpoints.bookinfo.svc.cluster.local",
        // `details` has a cluster IP: no per-pod names.
        "details-0.details.bookinfo.svc.cluster.local",
    ] {
        assert_eq!(
            w.call(PP, host, "GET", "/"),
            Decision::UnknownHost { host: host.into() },
            "{host}"
        );
    }
    // Pod-addressed traffic reaches only the pod's own ports.
    let d = evaluate(
        &w.snap,
        &Request {
            source: Some(SourceRef {
                namespace: "bookinfo".into(),
                pod: "pp-0".into(),
            }),
            host: "details-0.details-endpoints.bookinfo.svc.cluster.local".into(),
            port: 9081,
            method: "GET".into(),
            path: "/".into(),
            headers: vec![],
        },
    );
    assert!(matches!(d, Decision::ConnectionRefused { .. }), "{d:?}");
}

// WP: a waypoint with `istio.io/waypoint-for: service` handles traffic addressed to the
// Service only; traffic to a pod's own address meets the destination ztunnel, which enforces
// selector, namespace-wide and root-namespace policies with the caller's identity (L4).
#[test]
fn pod_addressed_traffic_skips_a_service_waypoint_and_is_judged_at_ztunnel() {
    let mut w = World::new().with_headless_details().with_waypoint().policy(
        "bookinfo",
        "details-peers",
        json!({
            "selector": {"matchLabels": {"app.kubernetes.io/name": "details"}},
            "rules": [{
                "from": [{"source": {"principals": ["cluster.local/ns/bookinfo/sa/details"]}}],
                "to": [{"operation": {"ports": ["9080"]}}]
            }]
        }),
    );
    // The namespace is bound to the waypoint too: still not for pod-addressed traffic.
    w.snap.namespaces[0]
        .labels
        .insert("istio.io/use-waypoint".into(), "wp".into());
    let pod_host = "details-0.details-endpoints.bookinfo.svc.cluster.local";
    let details = Some(("bookinfo", "details-0"));
    assert_eq!(
        w.call(details, pod_host, "GET", "/health"),
        Decision::Allowed {
            namespace: "bookinfo".into(),
            service: "details-endpoints".into(),
            pod: "details-0".into(),
            app: Some("details".into()),
            waypoint: None
        }
    );
    assert_eq!(
        w.call(PP, pod_host, "GET", "/health"),
        Decision::DeniedAtZtunnel {
            pod: "bookinfo/details-0".into(),
            policy: None
        }
    );
    // The headless Service's own name resolves to the pod addresses as well.
    assert!(matches!(
        w.call(PP, "details-endpoints.bookinfo", "GET", "/"),
        Decision::DeniedAtZtunnel { .. }
    ));
    // Addressed to the Service, the same caller goes through the waypoint (whose identity the
    // selector policy does not allow: the waypoint's upstream connection is reset).
    assert!(matches!(
        w.get(PP, "/health"),
        Decision::UpstreamReset { .. }
    ));

    // A waypoint for workloads takes pod-addressed traffic.
    w.snap.waypoints[0].waypoint_for = "all".into();
    assert!(matches!(
        w.call(PP, pod_host, "GET", "/health"),
        Decision::UpstreamReset { ref waypoint, .. } if waypoint == "bookinfo/wp"
    ));
}
