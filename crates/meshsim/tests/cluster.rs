//! The simulated cluster controllers (istiod's waypoint deployment, the StatefulSet label
//! roll-out) and the mesh snapshot, against a kubesim store, without charms.

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
    s
}

fn istiod(s: &kubesim::Store, auto_allow: bool) {
    s.apply(
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "istio", "namespace": "istio-system",
                            "labels": {"app.kubernetes.io/name": "istiod"}},
               "data": {"PILOT_AUTO_ALLOW_WAYPOINT_POLICY": auto_allow.to_string()}}),
        "test",
        true,
    )
    .expect("configmap");
}

fn gateway(s: &kubesim::Store, name: &str) {
    s.apply(
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": {"name": name, "namespace": "m", "labels": {"istio.io/waypoint-for": "service"}},
               "spec": {"gatewayClassName": "istio-waypoint",
                        "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]}}),
        "beacon",
        true,
    )
    .expect("gateway");
}

fn names(s: &kubesim::Store, api: &str, kind: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .list(api, kind, Some("m"), None)
        .unwrap_or_default()
        .iter()
        .filter_map(|o| {
            o.pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn istiod_deploys_waypoints_only_while_istio_k8s_is_there() {
    let s = store();
    gateway(&s, "wp");
    // No istiod yet: the Gateway stays unserved, nobody is on the mesh.
    assert!(cluster::istiod(&s).is_none());
    cluster::reconcile(&s);
    assert!(names(&s, "apps/v1", "Deployment").is_empty());

    istiod(&s, true);
    let changed = cluster::reconcile(&s);
    assert!(changed.contains("m"));
    assert_eq!(names(&s, "apps/v1", "Deployment"), ["wp"]);
    assert_eq!(names(&s, "v1", "ServiceAccount"), ["wp"]);
    assert_eq!(names(&s, "v1", "Service"), ["wp"]);
    assert_eq!(names(&s, "v1", "Pod"), ["wp-0"]);
    let d = s
        .get("apps/v1", "Deployment", Some("m"), "wp")
        .expect("deployment");
    assert_eq!(d.pointer("/status/readyReplicas"), Some(&json!(1)));
    let pod = s.get("v1", "Pod", Some("m"), "wp-0").expect("pod");
    assert_eq!(pod.pointer("/spec/serviceAccountName"), Some(&json!("wp")));
    // A second pass has nothing to do.
    assert!(cluster::reconcile(&s).is_empty());

    // The beacon's HPA pins the replicas.
    s.apply(
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": "wp", "namespace": "m"},
               "spec": {"minReplicas": 3, "maxReplicas": 3,
                        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "wp"}}}),
        "beacon",
        true,
    )
    .expect("hpa");
    cluster::reconcile(&s);
    assert_eq!(names(&s, "v1", "Pod"), ["wp-0", "wp-1", "wp-2"]);

    // The snapshot sees a ready waypoint and istiod's settings.
    let snap = cluster::snapshot(&s);
    assert!(snap.auto_allow_waypoint_policy);
    assert_eq!(snap.root_namespace, "istio-system");
    assert!(snap.waypoint("m", "wp").is_some_and(|w| w.ready));

    // Gateway gone: everything istiod made for it goes too.
    s.delete("gateway.networking.k8s.io/v1", "Gateway", Some("m"), "wp")
        .expect("delete");
    cluster::reconcile(&s);
    assert!(names(&s, "apps/v1", "Deployment").is_empty());
    assert!(names(&s, "v1", "Pod").is_empty());
    assert!(names(&s, "v1", "ServiceAccount").is_empty());
}

#[test]
fn without_istiod_no_workload_is_on_the_mesh() {
    let s = store();
    s.merge_patch(
        "v1",
        "Namespace",
        None,
        "m",
        json!({"metadata": {"labels": {"istio.io/dataplane-mode": "ambient"}}}),
    )
    .expect("label");
    let snap = cluster::snapshot(&s);
    assert!(snap
        .namespace("m")
        .is_some_and(|n| !n.labels.contains_key("istio.io/dataplane-mode")));
    istiod(&s, false);
    let snap = cluster::snapshot(&s);
    assert!(!snap.auto_allow_waypoint_policy);
    assert_eq!(
        snap.namespace("m")
            .and_then(|n| n.labels.get("istio.io/dataplane-mode")),
        Some(&"ambient".to_string())
    );
}

#[test]
fn statefulset_template_labels_roll_out_to_pods() {
    let s = store();
    let sts = |labels: Value| {
        s.apply(
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                   "metadata": {"name": "app", "namespace": "m"},
                   "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "app"}},
                            "serviceName": "app",
                            "template": {"metadata": {"labels": labels},
                                         "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
            "juju",
            true,
        )
        .expect("statefulset")
    };
    sts(json!({"app.kubernetes.io/name": "app"}));
    s.create(json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "app-0", "namespace": "m",
                                 "labels": {"app.kubernetes.io/name": "app", "extra": "kept"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]}}))
        .expect("pod");
    sts(json!({"app.kubernetes.io/name": "app", "istio.io/dataplane-mode": "ambient"}));
    cluster::reconcile(&s);
    let labels = |s: &kubesim::Store| {
        s.get("v1", "Pod", Some("m"), "app-0")
            .expect("pod")
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(labels(&s)["istio.io/dataplane-mode"], "ambient");
    assert_eq!(labels(&s)["extra"], "kept");
    // The template drops the label: so does the pod; labels that never came from it stay.
    sts(json!({"app.kubernetes.io/name": "app"}));
    cluster::reconcile(&s);
    assert!(labels(&s).get("istio.io/dataplane-mode").is_none());
    assert_eq!(labels(&s)["extra"], "kept");
}
