//! Attacks on the reconciler against kubesim: an object the API server refuses as such.

mod common;

use common::reconcile::*;
use kubesim::Fault;
use serde_json::Value;

fn policy(name: &str, port: &str) -> Value {
    authorization_policy(name, port, false)
}

#[tokio::test]
async fn a_rejected_object_is_reported_and_the_rest_still_converges() {
    let server = start(true);
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
    assert_eq!(names_in_cluster(&server), vec!["p-keep"]);

    // The strict form (used for the beacon's own objects) still fails, deleting nothing.
    rec.reconcile(&set(), &[policy("p-old", "80")], |_| true)
        .await
        .expect("restore");
    let err = rec.reconcile(&set(), &[bad], |_| true).await;
    assert!(err.is_err());
    assert_eq!(names_in_cluster(&server), vec!["p-old"]);
}

#[tokio::test]
async fn a_server_error_is_not_a_rejection_and_deletes_nothing() {
    let server = start(true);
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
        names_in_cluster(&server),
        vec!["p-old"],
        "no window: the old one stays"
    );
}
