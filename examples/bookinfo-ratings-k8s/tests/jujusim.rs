//! bookinfo-ratings-k8s under jujusim and kubesim.

use std::process::ExitCode;

#[path = "../../common/harness.rs"]
mod harness;

const CALLER_META: &str = "name: caller
requires:
  ratings:
    interface: bookinfo-ratings
";

fn on_the_mesh() {
    let e = harness::env();
    e.ctl.add_model("bookinfo").unwrap();
    let ratings = e.example_charm(
        "bookinfo-ratings-k8s",
        env!("CARGO_BIN_EXE_bookinfo-ratings-k8s"),
    );
    e.deploy("bookinfo", &ratings, "bookinfo-ratings-k8s", 1, true);
    e.deploy(
        "bookinfo",
        &e.stand_in("mesh", harness::MESH_META),
        "istio-beacon-k8s",
        1,
        true,
    );
    e.deploy(
        "bookinfo",
        &e.stand_in("caller", CALLER_META),
        "bookinfo-reviews-k8s",
        1,
        true,
    );
    let caller = e
        .ctl
        .integrate(
            "bookinfo",
            "bookinfo-reviews-k8s:ratings",
            "bookinfo-ratings-k8s:ratings",
        )
        .unwrap();
    let mesh = e
        .ctl
        .integrate(
            "bookinfo",
            "bookinfo-ratings-k8s:service-mesh",
            "istio-beacon-k8s:service-mesh",
        )
        .unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        e.app_bag("bookinfo", mesh, "bookinfo-ratings-k8s")["policies"],
        r#"[{"source_namespace": "bookinfo", "source_app_name": "bookinfo-reviews-k8s", "target_namespace": "bookinfo", "target_app_name": "bookinfo-ratings-k8s", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": [9080], "methods": ["GET"], "paths": ["/health", "/ratings/*"]}]}]"#
    );
    assert_eq!(
        e.app_bag("bookinfo", caller, "bookinfo-ratings-k8s")["url"],
        "http://bookinfo-ratings-k8s.bookinfo.svc.cluster.local:9080"
    );
    assert_eq!(e.workload("bookinfo", "bookinfo-ratings-k8s/0").0, "active");
    e.assert_on_mesh("bookinfo", "bookinfo-ratings-k8s");
    e.assert_port("bookinfo", "bookinfo-ratings-k8s", 9080);
}

fn main() -> ExitCode {
    harness::main_with(&[("on_the_mesh", on_the_mesh)])
}
