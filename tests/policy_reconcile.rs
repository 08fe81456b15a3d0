//! The server-side-apply reconciler against kubesim, through kube-rs over HTTP.

mod common;

use std::collections::BTreeMap;

use common::reconcile::*;
use istio_beacon::reconcile::{ReconcileError, Reconciler};
use kubesim::{Fault, Server};
use serde_json::{json, Value};

fn policy(name: &str, port: &str) -> Value {
    authorization_policy(name, port, true)
}

/// Requests by verb since the log was last cleared.
fn verbs(server: &Server) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in server.store().request_log() {
        if r.path.contains("authorizationpolicies") {
            *out.entry(r.verb.clone()).or_default() += 1;
        }
    }
    out
}

#[tokio::test]
async fn creates_then_a_noop_reconcile_only_lists() {
    let server = start(true);
    let rec = Reconciler::new(client(&server), APP);
    let desired = vec![policy("p-a", "80"), policy("p-b", "81")];
    let report = rec
        .reconcile(&set(), &desired, |_| true)
        .await
        .expect("reconcile");
    assert_eq!(report.created, vec!["p-a", "p-b"]);
    assert_eq!(names_in_cluster(&server), vec!["p-a", "p-b"]);
    // Written with server-side apply by field manager = the app name.
    let live = server
        .store()
        .get(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some(NS),
            "p-a",
        )
        .expect("get");
    let managers: Vec<_> = live["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .map(|m| (m["manager"].clone(), m["operation"].clone()))
        .collect();
    assert_eq!(managers, vec![(json!(APP), json!("Apply"))]);

    server.store().clear_request_log();
    let report = rec
        .reconcile(&set(), &desired, |_| true)
        .await
        .expect("again");
    assert!(!report.wrote());
    assert_eq!(report.unchanged.len(), 2);
    assert_eq!(verbs(&server), BTreeMap::from([("list".to_owned(), 1)]));
}

#[tokio::test]
async fn a_change_applies_the_new_object_before_deleting_the_old() {
    let server = start(true);
    let rec = Reconciler::new(client(&server), APP);
    rec.reconcile(&set(), &[policy("p-old", "80")], |_| true)
        .await
        .expect("first");
    server.store().clear_request_log();
    let report = rec
        .reconcile(&set(), &[policy("p-new", "8080")], |_| true)
        .await
        .expect("second");
    assert_eq!(report.created, vec!["p-new"]);
    assert_eq!(report.deleted, vec!["p-old"]);
    assert_eq!(names_in_cluster(&server), vec!["p-new"]);
    let order: Vec<String> = server
        .store()
        .request_log()
        .into_iter()
        .filter(|r| r.verb != "list")
        .map(|r| r.verb)
        .collect();
    assert_eq!(order, vec!["apply", "delete"]);
}

#[tokio::test]
async fn an_api_failure_deletes_nothing_and_the_next_reconcile_converges() {
    let server = start(true);
    let rec = Reconciler::new(client(&server), APP);
    rec.reconcile(&set(), &[policy("p-old", "80")], |_| true)
        .await
        .expect("first");
    server
        .store()
        .inject_fault(Fault::status("*", "*authorizationpolicies/p-new*", 1, 500));
    let err = rec
        .reconcile(&set(), &[policy("p-new", "8080")], |_| true)
        .await
        .expect_err("the injected 500 fails the reconcile");
    assert!(
        matches!(&err, ReconcileError::Api(f) if f.code == 500),
        "{err}"
    );
    // The old policy is still there: its replacement failed, so nothing was pruned.
    assert_eq!(names_in_cluster(&server), vec!["p-old"]);

    rec.reconcile(&set(), &[policy("p-new", "8080")], |_| true)
        .await
        .expect("converges");
    assert_eq!(names_in_cluster(&server), vec!["p-new"]);
}

#[tokio::test]
async fn a_missing_crd_is_reported_as_such() {
    let server = start(false);
    let rec = Reconciler::new(client(&server), APP);
    let err = rec
        .reconcile(&set(), &[policy("p", "80")], |_| true)
        .await
        .expect_err("no CRD");
    assert!(err.is_kind_not_served(), "{err}");
}

#[tokio::test]
async fn protected_stale_objects_are_kept() {
    let server = start(true);
    let rec = Reconciler::new(client(&server), APP);
    rec.reconcile(&set(), &[policy("p-a", "80"), policy("p-b", "81")], |_| {
        true
    })
    .await
    .expect("first");
    let report = rec
        .reconcile(&set(), &[], |o| o.metadata.name.as_deref() != Some("p-b"))
        .await
        .expect("second");
    assert_eq!(report.deleted, vec!["p-a"]);
    assert_eq!(report.kept, vec!["p-b"]);
    assert_eq!(names_in_cluster(&server), vec!["p-b"]);
}

#[tokio::test]
async fn drift_on_an_owned_object_is_reverted() {
    let server = start(true);
    let rec = Reconciler::new(client(&server), APP);
    rec.reconcile(&set(), &[policy("p-a", "80")], |_| true)
        .await
        .expect("first");
    // Someone widens our rule by hand (another field manager).
    let mut edited = policy("p-a", "80");
    edited["spec"]["rules"][0]["to"][0]["operation"]["ports"] = json!(["80", "22"]);
    server
        .store()
        .apply(edited, "kubectl", true)
        .expect("hand edit");
    let report = rec
        .reconcile(&set(), &[policy("p-a", "80")], |_| true)
        .await
        .expect("revert");
    assert_eq!(report.updated, vec!["p-a"]);
    let live = server
        .store()
        .get(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some(NS),
            "p-a",
        )
        .expect("get");
    assert_eq!(
        live["spec"]["rules"][0]["to"][0]["operation"]["ports"],
        json!(["80"])
    );
}

#[tokio::test]
async fn a_same_named_object_of_another_manager_is_not_taken_over() {
    let server = start(true);
    // Not ours: no ownership labels, another manager, different spec.
    let mut foreign = policy("p-a", "443");
    foreign["metadata"]
        .as_object_mut()
        .expect("metadata")
        .remove("labels");
    server
        .store()
        .apply(foreign, "someone-else", false)
        .expect("foreign object");
    let rec = Reconciler::new(client(&server), APP);
    let err = rec
        .reconcile(&set(), &[policy("p-a", "80")], |_| true)
        .await
        .expect_err("conflict");
    assert!(matches!(err, ReconcileError::Conflict { .. }), "{err}");
    let live = server
        .store()
        .get(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some(NS),
            "p-a",
        )
        .expect("get");
    assert_eq!(
        live["spec"]["rules"][0]["to"][0]["operation"]["ports"],
        json!(["443"])
    );
}

#[tokio::test]
async fn delete_all_removes_every_owned_object_and_nothing_else() {
    let server = start(true);
    let mut other = policy("not-ours", "80");
    other["metadata"]["labels"] = json!({"app.kubernetes.io/instance": "shop-other"});
    server.store().apply(other, "other", false).expect("other");
    let rec = Reconciler::new(client(&server), APP);
    rec.reconcile(&set(), &[policy("p-a", "80")], |_| true)
        .await
        .expect("first");
    let report = rec.delete_all(&set()).await.expect("delete all");
    assert_eq!(report.deleted, vec!["p-a"]);
    assert_eq!(names_in_cluster(&server), vec!["not-ours"]);
}
