//! bookinfo-productpage-k8s under jujusim and kubesim: its website policy, cmr_data for the
//! models it calls into, labels, port, backends in its status, and the get-url action.

use std::collections::BTreeMap;
use std::process::ExitCode;

#[path = "../../common/harness.rs"]
mod harness;

const VISITOR_META: &str = "name: visitor
requires:
  website:
    interface: http
";

/// Stands in for a backend that offers provide-cmr-mesh (as reviews does).
const BACKEND_META: &str = "name: backend
provides:
  reviews:
    interface: bookinfo-reviews
  provide-cmr-mesh:
    interface: cross_model_mesh
";

fn productpage() {
    let e = harness::env();
    e.ctl.add_model("bookinfo").unwrap();
    let pp = e.example_charm(
        "bookinfo-productpage-k8s",
        env!("CARGO_BIN_EXE_bookinfo-productpage-k8s"),
    );
    e.deploy("bookinfo", &pp, "bookinfo-productpage-k8s", 1, true);
    e.deploy(
        "bookinfo",
        &e.stand_in("mesh", harness::MESH_META),
        "istio-beacon-k8s",
        1,
        true,
    );
    e.deploy(
        "bookinfo",
        &e.stand_in("visitor", VISITOR_META),
        "visitor",
        1,
        true,
    );
    e.deploy(
        "bookinfo",
        &e.stand_in("backend", BACKEND_META),
        "backend",
        1,
        true,
    );
    let mesh = e
        .ctl
        .integrate(
            "bookinfo",
            "bookinfo-productpage-k8s:service-mesh",
            "istio-beacon-k8s:service-mesh",
        )
        .unwrap();
    e.ctl
        .integrate(
            "bookinfo",
            "visitor:website",
            "bookinfo-productpage-k8s:website",
        )
        .unwrap();
    let cmr = e
        .ctl
        .integrate(
            "bookinfo",
            "bookinfo-productpage-k8s:require-cmr-mesh",
            "backend:provide-cmr-mesh",
        )
        .unwrap();
    e.ctl.run_until_idle().unwrap();

    assert_eq!(
        e.app_bag("bookinfo", mesh, "bookinfo-productpage-k8s")["policies"],
        r#"[{"source_namespace": "bookinfo", "source_app_name": "visitor", "target_namespace": "bookinfo", "target_app_name": "bookinfo-productpage-k8s", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": [9080], "methods": ["GET"], "paths": ["/productpage", "/static/*", "/login", "/logout", "/health"]}]}]"#
    );
    assert_eq!(
        e.app_bag("bookinfo", cmr, "bookinfo-productpage-k8s")["cmr_data"],
        r#"{"app_name": "bookinfo-productpage-k8s", "juju_model_name": "bookinfo"}"#
    );
    assert_eq!(
        e.workload("bookinfo", "bookinfo-productpage-k8s/0"),
        ("active".into(), "Ready with 0 backend services".into())
    );
    e.assert_on_mesh("bookinfo", "bookinfo-productpage-k8s");
    e.assert_port("bookinfo", "bookinfo-productpage-k8s", 9080);

    // A backend publishing its URL counts.
    e.ctl
        .integrate(
            "bookinfo",
            "bookinfo-productpage-k8s:reviews",
            "backend:reviews",
        )
        .unwrap();
    e.ctl.run_until_idle().unwrap();
    let out = e
        .ctl
        .exec(
            "bookinfo",
            "backend/0",
            &[
                "sh".into(),
                "-c".into(),
                "relation-set -r $(relation-ids reviews | head -n1) --app url=http://backend:9080"
                    .into(),
            ],
        )
        .unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        e.workload("bookinfo", "bookinfo-productpage-k8s/0"),
        ("active".into(), "Ready with 1 backend services".into())
    );

    let res = e
        .ctl
        .run_action(
            "bookinfo",
            "bookinfo-productpage-k8s/0",
            "get-url",
            &BTreeMap::new(),
        )
        .unwrap();
    assert_eq!(res.status, "completed", "{res:?}");
    assert_eq!(
        res.results["url"],
        "http://bookinfo-productpage-k8s.bookinfo.svc.cluster.local:9080/productpage?u=normal"
    );
}

fn main() -> ExitCode {
    harness::main_with(&[("productpage", productpage)])
}
