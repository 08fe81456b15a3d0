//! Attacks on the reconciler against kubesim: an object the API server refuses as such.

use istio_beacon::charm::authorization_policy_kind;
use istio_beacon::reconcile::{OwnedSet, Reconciler};
use istio_beacon::render::{ownership_labels, AUTHORIZATION_POLICY_SCOPE};
use kubesim::{Fault, Server};
use serde_json::{json, Value};

const NS: &str = "shop";
const APP: &str = "beacon";

fn start() -> Server {
    let server = Server::start(kubesim::Config {
        crd_yaml: vec![kubesim::ISTIO_AUTHORIZATION_POLICY_CRD.to_owned()],
        ..kubesim::Config::default()
    })
    .expect("kubesim starts");
    server
        .store()
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .expect("namespace");
    server
}

fn reconciler(server: &Server) -> Reconciler {
    let url = server.url().parse().expect("url");
    let mut config = kube::Config::new(url);
    config.default_namespace = NS.to_owned();
    Reconciler::new(kube::Client::try_from(config).expect("client"), APP)
}

fn set() -> OwnedSet {
    OwnedSet::new(
        authorization_policy_kind(),
        NS,
        ownership_labels(APP, NS, AUTHORIZATION_POLICY_SCOPE),
    )
}

fn policy(name: &str, port: &str) -> Value {
    json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "targetRefs": [{"group": "", "kind": "Service", "name": "catalogue"}],
            "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/frontend"]}}],
                       "to": [{"operation": {"ports": [port]}}]}]
        }
    })
}

fn names(server: &Server) -> Vec<String> {
    let mut n: Vec<String> = server
        .store()
        .list(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some(NS),
            None,
        )
        .expect("list")
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn a_rejected_object_is_reported_and_the_rest_still_converges() {
    let server = start();
    let rec = reconciler(&server);
    rec.reconcile(
        &set(),
        &[policy("p-old", "80"), policy("p-keep", "81")],
        |_| true,
    )
    .await
    .expect("first");
    // One desired object is invalid by the CRD's schema (rules over maxItems 512).
    let mut bad = policy("p-bad", "82");
    bad["spec"]["rules"] = Value::Array(vec![bad["spec"]["rules"][0].clone(); 600]);
    let report = rec
        .reconcile_skipping_rejected(&set(), &[policy("p-keep", "81"), bad.clone()], |_| true)
        .await
        .expect("a rejected object does not fail the reconcile");
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert_eq!(report.rejected[0].0, "p-bad");
    assert_eq!(
        report.deleted,
        vec!["p-old"],
        "stale access is still revoked"
    );
    assert_eq!(names(&server), vec!["p-keep"]);

    // The strict form (used for the beacon's own objects) still fails, deleting nothing.
    rec.reconcile(&set(), &[policy("p-old", "80")], |_| true)
        .await
        .expect("restore");
    let err = rec.reconcile(&set(), &[bad], |_| true).await;
    assert!(err.is_err());
    assert_eq!(names(&server), vec!["p-old"]);
}

#[tokio::test]
async fn a_server_error_is_not_a_rejection_and_deletes_nothing() {
    let server = start();
    let rec = reconciler(&server);
    rec.reconcile(&set(), &[policy("p-old", "80")], |_| true)
        .await
        .expect("first");
    server
        .store()
        .inject_fault(Fault::status("apply", "*authorizationpolicies*", 1, 500));
    let err = rec
        .reconcile_skipping_rejected(&set(), &[policy("p-new", "81")], |_| true)
        .await;
    assert!(err.is_err(), "a 500 may pass: fail and retry");
    assert_eq!(
        names(&server),
        vec!["p-old"],
        "no window: the old one stays"
    );
}
