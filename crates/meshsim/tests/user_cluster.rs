//! What `kubectl get gateways` shows for a waypoint istiod serves: Istio's waypoint docs
//! (istio.io, "Configure waypoint proxies") show `kubectl get gtw waypoint` with an ADDRESS and
//! PROGRAMMED `True` once istiod has deployed it. Without charms.

use meshsim::cluster;
use serde_json::{json, Value};

fn store() -> kubesim::Store {
    let s = kubesim::Store::new();
    for crd in [
        kubesim::ISTIO_AUTHORIZATION_POLICY_CRD,
        kubesim::GATEWAY_CRD,
    ] {
        s.install_crd_yaml(crd).expect("CRD installs");
    }
    for ns in ["istio-system", "m"] {
        s.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .expect("namespace");
    }
    s.apply(
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "istio", "namespace": "istio-system",
                            "labels": {"app.kubernetes.io/name": "istiod"}},
               "data": {"PILOT_AUTO_ALLOW_WAYPOINT_POLICY": "true"}}),
        "test",
        true,
    )
    .expect("configmap");
    s
}

fn condition<'a>(gw: &'a Value, kind: &str) -> Option<&'a Value> {
    gw.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
}

#[test]
fn a_served_waypoint_gateway_is_accepted_and_programmed_with_its_service_address() {
    let s = store();
    s.apply(
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": "wp", "namespace": "m", "labels": {"istio.io/waypoint-for": "service"}},
               "spec": {"gatewayClassName": "istio-waypoint",
                        "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]}}),
        "beacon",
        true,
    )
    .expect("gateway");
    cluster::reconcile(&s);

    let gw = s
        .get("gateway.networking.k8s.io/v1", "Gateway", Some("m"), "wp")
        .expect("gateway");
    let svc = s.get("v1", "Service", Some("m"), "wp").expect("service");
    let ip = svc
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(!ip.is_empty(), "{svc}");
    for kind in ["Accepted", "Programmed"] {
        let c = condition(&gw, kind).cloned().unwrap_or(Value::Null);
        assert_eq!(c["status"], "True", "{kind}: {gw}");
        assert_eq!(c["reason"], kind, "{kind}: {gw}");
        // A transition that happened now, not the CRD default's "1970-01-01T00:00:00Z".
        let since = c["lastTransitionTime"].as_str().unwrap_or_default();
        assert!(since > "2020" && since.ends_with('Z'), "{kind}: {gw}");
    }
    assert_eq!(
        gw.pointer("/status/addresses/0/value"),
        Some(&json!(ip)),
        "{gw}"
    );
    // Settled: a second pass changes nothing.
    assert!(cluster::reconcile(&s).is_empty());
}
