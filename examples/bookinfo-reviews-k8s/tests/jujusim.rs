//! bookinfo-reviews-k8s under jujusim and kubesim, deployed without `--trust` as in the
//! cross-model tutorial: it still labels itself (its namespace-scoped access suffices), and its
//! policies fold in the cross-model caller's identity from `provide-cmr-mesh`.

use std::collections::BTreeMap;
use std::process::ExitCode;

#[path = "../../common/harness.rs"]
mod harness;

const VECTORS: &str = include_str!("../../../data/fixtures/service-mesh-vectors.json");

/// A stand-in for the productpage side: calls reviews and says who it is on `require-cmr-mesh`.
const CALLER_META: &str = "name: caller
requires:
  reviews:
    interface: bookinfo-reviews
  require-cmr-mesh:
    interface: cross_model_mesh
";

fn untrusted_cross_model_reviews() {
    let e = harness::env();
    e.ctl.add_model("bookinfo").unwrap();
    e.ctl.add_model("bookinfo-2").unwrap();
    let reviews = e.example_charm(
        "bookinfo-reviews-k8s",
        env!("CARGO_BIN_EXE_bookinfo-reviews-k8s"),
    );
    e.deploy("bookinfo-2", &reviews, "bookinfo-reviews-k8s", 1, false);
    e.deploy(
        "bookinfo-2",
        &e.stand_in("mesh", harness::MESH_META),
        "istio-beacon-k8s",
        1,
        true,
    );
    let mesh = e
        .ctl
        .integrate(
            "bookinfo-2",
            "bookinfo-reviews-k8s:service-mesh",
            "istio-beacon-k8s:service-mesh",
        )
        .unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        e.workload("bookinfo-2", "bookinfo-reviews-k8s/0"),
        ("active".into(), "Running version v1".into())
    );
    e.assert_on_mesh("bookinfo-2", "bookinfo-reviews-k8s");
    e.assert_port("bookinfo-2", "bookinfo-reviews-k8s", 9080);

    // The caller, cross-model, with its cmr_data: the policy names it exactly as Python does.
    e.deploy(
        "bookinfo",
        &e.stand_in("caller", CALLER_META),
        "bookinfo-productpage-k8s",
        1,
        true,
    );
    e.ctl
        .offer(
            "bookinfo-2",
            "bookinfo-reviews-k8s:reviews,provide-cmr-mesh",
            None,
        )
        .unwrap();
    e.ctl
        .consume("bookinfo", "bookinfo-2.bookinfo-reviews-k8s", None)
        .unwrap();
    e.ctl
        .integrate(
            "bookinfo",
            "bookinfo-productpage-k8s:require-cmr-mesh",
            "bookinfo-reviews-k8s:provide-cmr-mesh",
        )
        .unwrap();
    e.ctl.run_until_idle().unwrap();
    // The stand-in caller is not built on the library: write its cmr_data as its leader would.
    let cmr = r#"{"app_name": "bookinfo-productpage-k8s", "juju_model_name": "bookinfo"}"#;
    let out = e
        .ctl
        .exec(
            "bookinfo",
            "bookinfo-productpage-k8s/0",
            &[
                "sh".into(),
                "-c".into(),
                format!(
                    "relation-set -r $(relation-ids require-cmr-mesh | head -n1) --app 'cmr_data={cmr}'"
                ),
            ],
        )
        .unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    e.ctl
        .integrate(
            "bookinfo",
            "bookinfo-productpage-k8s:reviews",
            "bookinfo-reviews-k8s:reviews",
        )
        .unwrap();
    e.ctl.run_until_idle().unwrap();
    let v: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    assert_eq!(v["results"][1]["id"], "cross-model-app-policy");
    assert_eq!(
        e.app_bag("bookinfo-2", mesh, "bookinfo-reviews-k8s")["policies"],
        v["results"][1]["policies_databag"].as_str().unwrap()
    );

    // An invalid version blocks with the reason.
    let mut kv = BTreeMap::new();
    kv.insert("version".to_string(), "v9".to_string());
    e.ctl
        .set_config("bookinfo-2", "bookinfo-reviews-k8s", &kv)
        .unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        e.workload("bookinfo-2", "bookinfo-reviews-k8s/0"),
        ("blocked".into(), "Invalid version: v9".into())
    );
}

fn main() -> ExitCode {
    harness::main_with(&[(
        "untrusted_cross_model_reviews",
        untrusted_cross_model_reviews,
    )])
}
