//! The in-process Store API (what jujusim and meshsim use directly).

use kubesim::{Store, ISTIO_AUTHORIZATION_POLICY_CRD};
use serde_json::json;

fn store() -> Store {
    let s = Store::new();
    s.install_crd_yaml(ISTIO_AUTHORIZATION_POLICY_CRD)
        .expect("install CRD");
    s.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "m"}}))
        .expect("namespace");
    s
}

fn policy(name: &str, action: &str) -> serde_json::Value {
    json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
           "metadata": {"name": name, "namespace": "m", "labels": {"app": name}},
           "spec": {"action": action, "rules": [{"from": [{"source": {"principals": ["a"]}}]}]}})
}

#[test]
fn create_get_list_delete_with_metadata() {
    let s = store();
    let created = s.create(policy("p1", "ALLOW")).expect("create");
    let meta = &created["metadata"];
    assert!(meta["uid"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(meta["creationTimestamp"].as_str().is_some());
    assert_eq!(meta["generation"], json!(1));
    assert!(meta["resourceVersion"].as_str().is_some());
    let dup = s.create(policy("p1", "ALLOW")).expect_err("duplicate");
    assert_eq!((dup.code, dup.reason.as_str()), (409, "AlreadyExists"));
    s.create(policy("p2", "DENY")).expect("create p2");
    let got = s
        .get(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some("m"),
            "p1",
        )
        .expect("get");
    assert_eq!(got["spec"]["action"], json!("ALLOW"));
    let sel = s
        .list(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some("m"),
            Some("app in (p2,zz)"),
        )
        .expect("list");
    assert_eq!(sel.len(), 1);
    assert_eq!(sel[0]["metadata"]["name"], json!("p2"));
    assert_eq!(
        s.list(
            "security.istio.io/v1beta1",
            "AuthorizationPolicy",
            None,
            None
        )
        .expect("all")[0]["apiVersion"],
        json!("security.istio.io/v1beta1")
    );
    s.delete(
        "security.istio.io/v1",
        "AuthorizationPolicy",
        Some("m"),
        "p1",
    )
    .expect("delete");
    let e = s
        .get(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some("m"),
            "p1",
        )
        .expect_err("gone");
    assert_eq!(e.code, 404);
    assert_eq!(
        e.message,
        "authorizationpolicies.security.istio.io \"p1\" not found"
    );
}

#[test]
fn missing_namespace_and_invalid_enum() {
    let s = store();
    let mut p = policy("p", "ALLOW");
    p["metadata"]["namespace"] = json!("nope");
    let e = s.create(p).expect_err("missing ns");
    assert_eq!(
        (e.code, e.message.as_str()),
        (404, "namespaces \"nope\" not found")
    );
    let e = s.create(policy("p", "ALLOWW")).expect_err("invalid");
    assert_eq!(e.code, 422);
    assert_eq!(e.causes[0].field, "spec.action");
    assert!(
        e.message.contains("Unsupported value: \"ALLOWW\""),
        "{}",
        e.message
    );
}

#[test]
fn apply_conflicts_and_removal() {
    let s = store();
    s.apply(policy("p", "ALLOW"), "alice", false)
        .expect("apply");
    let e = s
        .apply(policy("p", "DENY"), "bob", false)
        .expect_err("conflict");
    assert_eq!(e.code, 409);
    assert_eq!(e.causes[0].field, ".spec.action");
    assert_eq!(
        e.causes[0].message,
        "conflict with \"alice\" using security.istio.io/v1"
    );
    let forced = s.apply(policy("p", "DENY"), "bob", true).expect("force");
    assert_eq!(forced["spec"]["action"], json!("DENY"));
    // alice stops applying her label: it is removed; bob still applies his copy of it.
    let mut a = policy("p", "DENY");
    a["metadata"]["labels"] = json!({"other": "x"});
    let out = s.apply(a, "alice", false).expect("re-apply");
    assert_eq!(out["metadata"]["labels"], json!({"app": "p", "other": "x"}));
    let mut b = policy("p", "DENY");
    b["metadata"]["labels"] = json!({});
    let out = s.apply(b, "bob", false).expect("bob drops label");
    assert_eq!(out["metadata"]["labels"], json!({"other": "x"}));
}

#[test]
fn namespace_delete_cascades_and_dump_restore() {
    let s = store();
    s.create(policy("p", "ALLOW")).expect("create");
    let dump = s.dump();
    s.delete("v1", "Namespace", None, "m").expect("delete ns");
    assert!(s
        .list("security.istio.io/v1", "AuthorizationPolicy", None, None)
        .expect("list")
        .is_empty());
    s.restore(dump).expect("restore");
    assert_eq!(
        s.list("security.istio.io/v1", "AuthorizationPolicy", None, None)
            .expect("list")
            .len(),
        1
    );
}

#[test]
fn patch_with_options_and_orphaning_delete() {
    use kubesim::{PatchType, Propagation, WriteOptions};
    let s = store();
    let opts = WriteOptions {
        field_manager: "mgr".into(),
        ..Default::default()
    };
    let applied = s
        .patch(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some("m"),
            "p",
            PatchType::Apply,
            policy("p", "ALLOW"),
            &opts,
        )
        .expect("apply via patch");
    assert_eq!(
        applied["metadata"]["managedFields"][0]["manager"],
        json!("mgr")
    );
    let dry = WriteOptions {
        dry_run: true,
        ..Default::default()
    };
    let out = s
        .patch(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some("m"),
            "p",
            PatchType::Merge,
            json!({"spec": {"action": "DENY"}}),
            &dry,
        )
        .expect("dry run");
    assert_eq!(out["spec"]["action"], json!("DENY"));
    let live = s
        .get(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some("m"),
            "p",
        )
        .expect("get");
    assert_eq!(
        live["spec"]["action"],
        json!("ALLOW"),
        "dry run stores nothing"
    );
    let owner = s
        .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner", "namespace": "m"}}))
        .expect("owner");
    let uid = owner["metadata"]["uid"].clone();
    s.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "child", "namespace": "m",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]}}))
        .expect("child");
    s.delete_with("v1", "ConfigMap", Some("m"), "owner", Propagation::Orphan)
        .expect("orphan");
    let child = s
        .get("v1", "ConfigMap", Some("m"), "child")
        .expect("child stays");
    assert!(child["metadata"]
        .get("ownerReferences")
        .and_then(|r| r.as_array())
        .is_none_or(|r| r.is_empty()));
}
