//! The policy path's end-to-end harness: a ready waypoint, the beacon and mesh consumers deployed
//! and related, consumer relation data written with `juju exec`, and the AuthorizationPolicies
//! and statuses read back.

use std::collections::BTreeMap;
use std::path::Path;

use istio_beacon::render::policy_name;
use jujusim::DeployArgs;
use serde_json::{json, Value};
use service_mesh::Policy;

use super::{beacon_charm, istio_crds, start, workload_charm, Env, BEACON, MODEL};

pub const AP: (&str, &str) = ("security.istio.io/v1", "AuthorizationPolicy");

pub const MESH_CONSUMER: &str = "requires:\n  service-mesh:\n    interface: service_mesh\n";

/// kubesim serving `crds`, jujusim on it, and the beacon's waypoint already ready.
pub fn env_with(crds: Vec<String>) -> Env {
    let e = start(crds);
    ready_waypoint(&e.kube);
    e
}

/// What istiod would do for the beacon's Gateway: a ready waypoint Deployment, so the unit's
/// status shows the policy path's own summary.
pub fn ready_waypoint(kube: &kubesim::Server) {
    let store = kube.store();
    let name = format!("{MODEL}-{BEACON}-waypoint");
    let labels = json!({"gateway.networking.k8s.io/gateway-name": name});
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": MODEL, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "istio-proxy", "image": "istio/proxyv2"}]}}},
    });
    let created = store.create(deployment).expect("waypoint deployment");
    let mut with_status = created;
    with_status["status"] = json!({"replicas": 1, "readyReplicas": 1, "availableReplicas": 1});
    store.replace_status(with_status).expect("waypoint status");
}

pub fn env() -> Env {
    env_with(istio_crds())
}

pub fn deploy(e: &Env, charm: &Path, app: &str, units: u32, trust: bool) {
    let mut a = DeployArgs::new(charm);
    a.app = Some(app.to_owned());
    a.units = units;
    a.trust = trust;
    e.ctl.deploy(MODEL, a).expect("deploy");
}

/// The beacon (trusted, one unit) and one mesh consumer per name in `workloads`, each related
/// to the beacon, then run until idle.
pub fn setup(e: &Env, workloads: &[&str]) {
    setup_with_units(e, 1, workloads);
}

/// As [`setup`], with `beacon_units` units of the beacon.
pub fn setup_with_units(e: &Env, beacon_units: u32, workloads: &[&str]) {
    let beacon = beacon_charm(e.dir.path());
    deploy(e, &beacon, BEACON, beacon_units, true);
    for w in workloads {
        let c = workload_charm(e.dir.path(), w, MESH_CONSUMER);
        deploy(e, &c, w, 1, false);
        e.ctl
            .integrate(
                MODEL,
                &format!("{BEACON}:service-mesh"),
                &format!("{w}:service-mesh"),
            )
            .expect("integrate");
    }
    e.ctl.run_until_idle().expect("idle");
}

/// A mesh consumer `app` deployed in a new model `model`, related across models to the beacon's
/// offered `service-mesh` endpoint (not yet run until idle). Returns the consumed offer's name.
pub fn cross_model_consumer(e: &Env, model: &str, app: &str) -> String {
    e.ctl.add_model(model).expect("model");
    let w = workload_charm(e.dir.path(), app, MESH_CONSUMER);
    let mut a = DeployArgs::new(&w);
    a.app = Some(app.into());
    e.ctl.deploy(model, a).expect("deploy");
    e.ctl
        .offer(MODEL, &format!("{BEACON}:service-mesh"), None)
        .expect("offer");
    let saas = e
        .ctl
        .consume(model, &format!("{MODEL}.{BEACON}"), None)
        .expect("consume");
    e.ctl
        .integrate(model, &saas, &format!("{app}:service-mesh"))
        .expect("integrate");
    saas
}

/// As the workload's leader: `relation-set --app policies=<raw>` on its service-mesh relation.
pub fn write_policies(e: &Env, app: &str, raw: &str) {
    let unit = format!("{app}/0");
    relation_set_app(
        e,
        MODEL,
        &unit,
        "service-mesh",
        &[format!("policies={raw}")],
    );
}

/// As the workload's leader: `relation-set --app --file` (for bags too big for an argument).
pub fn write_policies_file(e: &Env, app: &str, raw: &str) {
    let unit = format!("{app}/0");
    let path = e.dir.path().join(format!("{app}-bag.json"));
    std::fs::write(&path, json!({ "policies": raw }).to_string()).expect("write bag file");
    relation_set_app(
        e,
        MODEL,
        &unit,
        "service-mesh",
        &["--file".into(), path.display().to_string()],
    );
}

/// The workload's relation ids on `endpoint` in `model` (as its unit sees them).
pub fn relation_id(e: &Env, model: &str, unit: &str, endpoint: &str) -> String {
    let out = e
        .ctl
        .exec(model, unit, &["relation-ids".into(), endpoint.into()])
        .expect("relation-ids");
    out.stdout
        .lines()
        .next()
        .expect("one relation")
        .trim()
        .to_owned()
}

/// As `unit`: `relation-set --app <kv>` on its (first) `endpoint` relation, then run until idle.
pub fn set_app_data(e: &Env, model: &str, unit: &str, endpoint: &str, kv: &str) {
    relation_set_app(e, model, unit, endpoint, &[kv.to_owned()]);
}

/// As `unit`: `relation-set -r <id> --app <args>` on its (first) `endpoint` relation; it must
/// succeed; then run until idle.
pub fn relation_set_app(e: &Env, model: &str, unit: &str, endpoint: &str, args: &[String]) {
    let id = relation_id(e, model, unit, endpoint);
    let mut argv: Vec<String> = vec!["relation-set".into(), "-r".into(), id, "--app".into()];
    argv.extend_from_slice(args);
    let out = e.ctl.exec(model, unit, &argv).expect("relation-set");
    assert_eq!(out.code, 0, "relation-set: {}", out.stderr);
    e.ctl.run_until_idle().expect("idle");
}

/// The policy the consumer library writes for `target` opening `port` to `source`.
pub fn policy(source: &str, target: &str, port: u16) -> Policy {
    serde_json::from_value(json!({
        "source_namespace": MODEL, "source_app_name": source,
        "target_namespace": MODEL, "target_app_name": target,
        "target_selector_labels": null, "target_service": null, "target_type": "app",
        "endpoints": [{"hosts": null, "ports": [port], "methods": ["GET"], "paths": ["/api/*"]}]
    }))
    .expect("policy")
}

pub fn bag(policies: &[Policy]) -> String {
    service_mesh::to_python_json(policies).expect("json")
}

pub fn name_of(p: &Policy) -> String {
    policy_name(BEACON, MODEL, p)
}

pub fn policies_in_cluster(e: &Env) -> BTreeMap<String, Value> {
    policies_by_name(&e.kube, Some(MODEL))
}

/// The AuthorizationPolicies in namespace `ns` (all namespaces if `None`), by name.
pub fn policies_by_name(kube: &kubesim::Server, ns: Option<&str>) -> BTreeMap<String, Value> {
    kube.store()
        .list(AP.0, AP.1, ns, None)
        .expect("list")
        .into_iter()
        .map(|o| {
            (
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                o,
            )
        })
        .collect()
}

pub fn names(e: &Env) -> Vec<String> {
    policies_in_cluster(e).into_keys().collect()
}

pub fn unit_status(e: &Env, unit: &str) -> (String, String) {
    let st = serde_json::to_value(e.ctl.status(MODEL).expect("status")).expect("json");
    let app = unit.split('/').next().unwrap_or_default();
    let u = &st["applications"][app]["units"][unit];
    let ws = &u["workload-status"];
    (
        ws["current"].as_str().unwrap_or_default().to_owned(),
        ws["message"].as_str().unwrap_or_default().to_owned(),
    )
}

pub fn app_status(e: &Env, app: &str) -> (String, String) {
    let st = serde_json::to_value(e.ctl.status(MODEL).expect("status")).expect("json");
    let s = &st["applications"][app]["application-status"];
    (
        s["current"].as_str().unwrap_or_default().to_owned(),
        s["message"].as_str().unwrap_or_default().to_owned(),
    )
}
