//! bookinfo-details-k8s under jujusim and kubesim: related to a caller and to a mesh, it
//! writes exactly the policies the Python charm writes, labels itself and opens its port.

use std::process::ExitCode;

#[path = "../../common/harness.rs"]
mod harness;

const VECTORS: &str = include_str!("../../../data/fixtures/service-mesh-vectors.json");

const CALLER_META: &str = "name: caller
requires:
  details:
    interface: bookinfo-details
";

fn on_the_mesh_with_python_identical_policies() {
    let e = harness::env();
    e.ctl.add_model("bookinfo").unwrap();
    let details = e.example_charm(
        "bookinfo-details-k8s",
        env!("CARGO_BIN_EXE_bookinfo-details-k8s"),
    );
    e.deploy("bookinfo", &details, "bookinfo-details-k8s", 2, true);
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
        "bookinfo-productpage-k8s",
        1,
        true,
    );
    let caller = e
        .ctl
        .integrate(
            "bookinfo",
            "bookinfo-productpage-k8s:details",
            "bookinfo-details-k8s:details",
        )
        .unwrap();
    let mesh = e
        .ctl
        .integrate(
            "bookinfo",
            "bookinfo-details-k8s:service-mesh",
            "istio-beacon-k8s:service-mesh",
        )
        .unwrap();
    e.ctl.run_until_idle().unwrap();

    let v: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    assert_eq!(v["results"][0]["id"], "in-model-app-policy");
    assert_eq!(
        e.app_bag("bookinfo", mesh, "bookinfo-details-k8s")["policies"],
        v["results"][0]["policies_databag"].as_str().unwrap()
    );
    assert_eq!(
        e.workload("bookinfo", "istio-beacon-k8s/0"),
        ("active".into(), "2 policies".into())
    );
    assert_eq!(
        e.app_bag("bookinfo", caller, "bookinfo-details-k8s")["url"],
        "http://bookinfo-details-k8s.bookinfo.svc.cluster.local:9080"
    );
    for unit in ["bookinfo-details-k8s/0", "bookinfo-details-k8s/1"] {
        assert_eq!(e.workload("bookinfo", unit).0, "active");
    }
    e.assert_on_mesh("bookinfo", "bookinfo-details-k8s");
    // The library's tracing events reached `juju debug-log` through juju-log.
    let log = e.ctl.debug_log("bookinfo").unwrap();
    let line = log
        .iter()
        .find(|l| l.message.contains("wrote 2 service mesh policies"))
        .unwrap_or_else(|| panic!("not in debug-log: {log:?}"));
    assert_eq!(line.level, "INFO");
    assert_eq!(line.module, "unit.bookinfo-details-k8s/0.juju-log");
    e.assert_port("bookinfo", "bookinfo-details-k8s", 9080);

    // The caller goes: only the peers' unit policy stays.
    e.ctl
        .remove_relation(
            "bookinfo",
            "bookinfo-productpage-k8s:details",
            "bookinfo-details-k8s:details",
        )
        .unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        e.workload("bookinfo", "istio-beacon-k8s/0"),
        ("active".into(), "1 policies".into())
    );
}

fn main() -> ExitCode {
    harness::main_with(&[(
        "on_the_mesh_with_python_identical_policies",
        on_the_mesh_with_python_identical_policies,
    )])
}
