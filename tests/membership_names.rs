//! The waypoint name, `<model>.<app>` identity and telemetry label reproduce the vectors the
//! Python libraries produced (`data/fixtures/waypoint-name-vectors.json`), so that a refresh from
//! the Python beacon renames nothing.

use istio_beacon::names;
use istio_beacon::waypoint::Identity;
use serde_json::Value;

const VECTORS: &str = include_str!("../data/fixtures/waypoint-name-vectors.json");

fn vectors() -> Vec<Value> {
    let doc: Value = serde_json::from_str(VECTORS).expect("vendored vectors are JSON");
    assert_eq!(doc["rule"], "charm_kubernetes_label");
    doc["vectors"].as_array().cloned().expect("vectors array")
}

#[test]
fn every_vector_is_reproduced() {
    let vectors = vectors();
    assert!(vectors.len() >= 6, "expected the vendored vectors");
    for v in vectors {
        let model = v["model"].as_str().expect("model");
        let app = v["app"].as_str().expect("app");
        assert_eq!(
            names::waypoint_name(model, app).expect("waypoint name"),
            v["waypoint_name"].as_str().expect("waypoint_name"),
            "waypoint name of {model}/{app}"
        );
        assert_eq!(
            names::app_identity(model, app).expect("identity"),
            v["app_identity"].as_str().expect("app_identity"),
            "identity of {model}/{app}"
        );
        let telemetry = names::telemetry_labels(model, app).expect("telemetry");
        let expected: std::collections::BTreeMap<String, String> =
            serde_json::from_value(v["telemetry_labels"].clone()).expect("telemetry_labels");
        assert_eq!(telemetry, expected, "telemetry label of {model}/{app}");

        // The rendered objects carry the same names.
        let id = Identity::new(model, app).expect("identity");
        let gateway = id.gateway();
        assert_eq!(gateway["metadata"]["name"], v["waypoint_name"]);
        for (k, val) in &expected {
            assert_eq!(gateway["metadata"]["labels"][k], val.as_str());
        }
        assert_eq!(
            id.hpa(1)["spec"]["scaleTargetRef"]["name"],
            v["waypoint_name"]
        );
        assert_eq!(
            id.namespace_labels()["charms.canonical.com/istio.io.waypoint.managed-by"],
            v["app_identity"].as_str().expect("app_identity")
        );
    }
}
