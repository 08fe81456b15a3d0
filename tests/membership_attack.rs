//! Attacks on mesh membership, with the beacon binary run as Juju runs it (jujusim) against
//! kubesim: leader loss, scale to 0 and back, model-on-mesh toggled among foreign labels, a
//! claimed namespace whose owner goes away, API failures in membership steps, the Gateway CRD
//! missing, removal of an untrusted beacon.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::membership::*;
use common::*;
use jujusim::DeployArgs;
use serde_json::{json, Value};

const MOO_POLICY: &str = "beacon-shop-policy-all-sources-modeloperator";
const FOREIGN: (&str, &str) = ("team.example.com/owner", "payments");

impl Env {
    fn set(&self, app: &str, key: &str, value: &str) {
        self.ctl
            .set_config(
                MODEL,
                app,
                &BTreeMap::from([(key.to_owned(), value.to_owned())]),
            )
            .expect("config");
    }

    /// Labels someone else put on the namespace (the operator, another tool).
    fn add_foreign_namespace_label(&self) {
        self.kube
            .store()
            .merge_patch(
                "v1",
                "Namespace",
                None,
                MODEL,
                json!({"metadata": {"labels": {FOREIGN.0: FOREIGN.1}}}),
            )
            .expect("label namespace");
    }

    fn fault(&self, verb: &str, path: &str, count: u32) {
        self.kube
            .store()
            .inject_fault(kubesim::Fault::status(verb, path, count, 500));
    }

    /// Hooks that failed so far, as `unit hook`.
    fn failed_hooks(&self) -> Vec<String> {
        self.ctl
            .hook_log()
            .into_iter()
            .filter(|h| h.exit_code != 0)
            .map(|h| format!("{} {}", h.unit, h.hook))
            .collect()
    }

    fn units(&self, app: &str) -> Vec<String> {
        let st = self.ctl.status(MODEL).expect("status");
        st.applications
            .get(app)
            .map(|a| a.units.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn status_of(&self, unit: &str) -> (String, String) {
        let st = self.ctl.status(MODEL).expect("status");
        let app = unit.split('/').next().unwrap_or_default();
        let u = &st.applications[app].units[unit];
        (
            u.workload_status.current.clone(),
            u.workload_status.message.clone(),
        )
    }

    fn modeloperator_policy(&self) -> Option<Value> {
        self.get("security.istio.io/v1", "AuthorizationPolicy", MOO_POLICY)
    }
}

fn our_namespace_labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_owned(), "shop.beacon".to_owned()),
        ("istio.io/use-waypoint".to_owned(), WAYPOINT.to_owned()),
        ("istio.io/dataplane-mode".to_owned(), "ambient".to_owned()),
    ])
}

/// The namespace labels other than the ones Juju/kubesim put there themselves.
fn without_builtin(mut labels: BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels.retain(|k, _| {
        !k.starts_with("kubernetes.io/")
            && !k.starts_with("app.kubernetes.io/")
            && !k.starts_with("model.juju.is/")
    });
    labels
}

#[test]
fn leader_removed_mid_way_then_scaled_to_zero_and_back() {
    let e = env();
    e.add_foreign_namespace_label();
    e.deploy_beacon(BEACON, 3, &[("model-on-mesh", "true")]);
    assert_eq!(e.hpa_replicas(), (json!(3), json!(3)));
    e.waypoint_deployment(WAYPOINT, 3, 0);
    e.ctl.update_status(Some(MODEL)).expect("update-status");
    e.ctl.run_until_idle().expect("idle");
    let leader = e.leader(BEACON);
    assert_eq!(
        e.status_of(&leader),
        (
            "waiting".to_owned(),
            format!("waypoint not ready: 0/3 replicas of Deployment {WAYPOINT} ready")
        )
    );

    // The leader goes away; another unit takes over and the HPA follows the 2 planned units.
    e.ctl.remove_unit(MODEL, &leader).expect("remove leader");
    e.ctl.run_until_idle().expect("idle");
    assert!(!e.units(BEACON).contains(&leader), "{leader} still there");
    let new_leader = e.leader(BEACON);
    assert_ne!(new_leader, leader);
    assert_eq!(e.hpa_replicas(), (json!(2), json!(2)));
    let mut want = our_namespace_labels();
    want.insert(FOREIGN.0.to_owned(), FOREIGN.1.to_owned());
    assert_eq!(without_builtin(e.namespace_labels()), want);
    assert!(e.modeloperator_policy().is_some());
    e.waypoint_deployment(WAYPOINT, 2, 2);
    e.ctl.update_status(Some(MODEL)).expect("update-status");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(e.status_of(&new_leader).0, "active");

    // Scale to 0: the application stays, everything it owns goes; the foreign label stays.
    e.ctl.scale(MODEL, BEACON, 0).expect("scale to 0");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(e.units(BEACON), Vec::<String>::new());
    assert_eq!(e.owned_by(BEACON), Vec::<String>::new());
    assert_eq!(
        without_builtin(e.namespace_labels()),
        BTreeMap::from([(FOREIGN.0.to_owned(), FOREIGN.1.to_owned())])
    );

    // The application's StatefulSet stays (0 replicas) with its mesh labels, as documented.
    let sts = e
        .get("apps/v1", "StatefulSet", BEACON)
        .expect("statefulset kept");
    assert_eq!(
        sts["spec"]["template"]["metadata"]["labels"]["istio.io/use-waypoint"],
        WAYPOINT
    );

    // And back to 1: everything is put back.
    e.ctl.scale(MODEL, BEACON, 1).expect("scale to 1");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(e.hpa_replicas(), (json!(1), json!(1)));
    assert!(e.modeloperator_policy().is_some());
    assert_eq!(without_builtin(e.namespace_labels()), want);
}

#[test]
fn model_on_mesh_on_off_on_touches_only_our_labels() {
    let e = env();
    e.add_foreign_namespace_label();
    e.deploy_beacon(BEACON, 1, &[]);
    let foreign_only = BTreeMap::from([(FOREIGN.0.to_owned(), FOREIGN.1.to_owned())]);
    assert_eq!(without_builtin(e.namespace_labels()), foreign_only);
    assert!(e.modeloperator_policy().is_none());

    let mut with_ours = our_namespace_labels();
    with_ours.insert(FOREIGN.0.to_owned(), FOREIGN.1.to_owned());
    let mut foreign_only = foreign_only;
    for round in 0..2 {
        e.set(BEACON, "model-on-mesh", "true");
        e.ctl.run_until_idle().expect("idle");
        assert_eq!(
            without_builtin(e.namespace_labels()),
            with_ours,
            "round {round}"
        );
        let moo = e.modeloperator_policy().expect("modeloperator policy");
        assert_eq!(
            moo["spec"],
            json!({"selector": {"matchLabels": {"juju-modeloperator": "modeloperator"}}, "rules": [{}]})
        );
        assert_eq!(
            moo["metadata"]["labels"]["kubernetes-resource-handler-scope"],
            "modeloperator-authorization-policy"
        );
        // Someone adds another label while we are on: it must survive turning off.
        e.kube
            .store()
            .merge_patch(
                "v1",
                "Namespace",
                None,
                MODEL,
                json!({"metadata": {"labels": {"extra.example.com/round": round.to_string()}}}),
            )
            .expect("label");
        e.set(BEACON, "model-on-mesh", "false");
        e.ctl.run_until_idle().expect("idle");
        foreign_only.insert("extra.example.com/round".into(), round.to_string());
        with_ours.insert("extra.example.com/round".into(), round.to_string());
        assert_eq!(
            without_builtin(e.namespace_labels()),
            foreign_only,
            "round {round}"
        );
        assert!(e.modeloperator_policy().is_none(), "round {round}");
    }
    // The beacon itself stays on the mesh throughout.
    let sts = e
        .get("apps/v1", "StatefulSet", BEACON)
        .expect("statefulset");
    assert_eq!(
        sts["spec"]["template"]["metadata"]["labels"]["istio.io/dataplane-mode"],
        "ambient"
    );
}

#[test]
fn a_claimed_namespace_is_taken_over_once_its_beacon_is_gone() {
    let e = env();
    e.deploy_beacon("other", 1, &[("model-on-mesh", "true")]);
    let theirs = e.namespace_labels();
    assert_eq!(theirs[MANAGED_BY], "shop.other");
    e.deploy_beacon(BEACON, 1, &[("model-on-mesh", "true")]);
    let (current, message) = e.status_of("beacon/0");
    assert_eq!(current, "blocked", "{message}");
    assert!(message.contains("shop.other"), "{message}");
    assert_eq!(e.namespace_labels(), theirs);
    assert!(e.modeloperator_policy().is_none());
    // Consumers of the blocked beacon get no labels pointing at a namespace it does not hold?
    // (It still has its own waypoint, so per-application labels would work; just recorded.)

    e.ctl
        .remove_application(MODEL, "other")
        .expect("remove other");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(e.owned_by("other"), Vec::<String>::new());
    assert!(!e.namespace_labels().contains_key(MANAGED_BY));
    // The next update-status finds the namespace free and takes it.
    e.ctl.update_status(Some(MODEL)).expect("update-status");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(
        without_builtin(e.namespace_labels()),
        our_namespace_labels()
    );
    assert!(e.modeloperator_policy().is_some());
    let (current, message) = e.status_of("beacon/0");
    assert_ne!(current, "blocked", "{message}");
}

#[test]
fn api_failures_in_membership_steps_fail_the_hook_lose_nothing_and_converge() {
    let e = env();
    e.deploy_beacon(BEACON, 1, &[]);
    let gateway = e
        .get("gateway.networking.k8s.io/v1", "Gateway", WAYPOINT)
        .expect("gateway");

    // Turning model-on-mesh on, the namespace patch fails.
    e.fault("patch", "/api/v1/namespaces/shop", 1);
    e.set(BEACON, "model-on-mesh", "true");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(e.status_of("beacon/0").0, "error");
    assert!(e
        .get("gateway.networking.k8s.io/v1", "Gateway", WAYPOINT)
        .is_some());
    assert_eq!(e.hpa_replicas(), (json!(1), json!(1)));
    e.ctl.run_until_idle().expect("idle");
    assert_ne!(e.status_of("beacon/0").0, "error");
    assert_eq!(
        without_builtin(e.namespace_labels()),
        our_namespace_labels()
    );
    assert!(e.modeloperator_policy().is_some());

    // Scaling up, the HPA apply fails: the hook fails, the waypoint is neither changed nor
    // deleted, and the retried hook scales the HPA.
    e.fault("patch", "*/horizontalpodautoscalers/*", 1);
    let failed_before = e.failed_hooks().len();
    e.ctl.scale(MODEL, BEACON, 2).expect("scale");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(
        e.failed_hooks().len(),
        failed_before + 1,
        "{:?}",
        e.failed_hooks()
    );
    let after = e
        .get("gateway.networking.k8s.io/v1", "Gateway", WAYPOINT)
        .expect("gateway kept");
    assert_eq!(after["spec"], gateway["spec"]);
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(e.hpa_replicas(), (json!(2), json!(2)));
    for u in e.units(BEACON) {
        assert_ne!(e.status_of(&u).0, "error", "{u}");
    }

    // The own-labels step fails (StatefulSet read): the hook fails, then converges.
    e.fault("get", "*/statefulsets/beacon", 1);
    e.set(BEACON, "model-on-mesh", "false");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(
        e.failed_hooks().len(),
        failed_before + 2,
        "{:?}",
        e.failed_hooks()
    );
    e.ctl.run_until_idle().expect("idle");
    assert!(!e.namespace_labels().contains_key(MANAGED_BY));
    assert!(e.modeloperator_policy().is_none());

    // Removal: deleting the HPA fails once; the retried teardown still removes everything.
    e.fault("delete", "*/horizontalpodautoscalers/*", 1);
    e.ctl.remove_application(MODEL, BEACON).expect("remove");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(
        e.failed_hooks().len(),
        failed_before + 3,
        "{:?}",
        e.failed_hooks()
    );
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(e.owned_by(BEACON), Vec::<String>::new());
    assert!(!e
        .ctl
        .status(MODEL)
        .expect("status")
        .applications
        .contains_key(BEACON));
}

#[test]
fn without_the_gateway_crd_the_beacon_blocks_and_recovers_once_it_is_installed() {
    let e = env_with(false);
    e.deploy_beacon(BEACON, 1, &[]);
    let (current, message) = e.status_of("beacon/0");
    assert_eq!(current, "blocked", "{message}");
    assert!(message.contains("Gateway API CRD"), "{message}");

    e.kube
        .store()
        .install_crd_yaml(kubesim::GATEWAY_CRD)
        .expect("install CRD");
    e.ctl.update_status(Some(MODEL)).expect("update-status");
    e.ctl.run_until_idle().expect("idle");
    assert!(e
        .get("gateway.networking.k8s.io/v1", "Gateway", WAYPOINT)
        .is_some());
    assert_eq!(
        e.status_of("beacon/0"),
        (
            "waiting".to_owned(),
            format!("waypoint not ready: Deployment {WAYPOINT} not found; is istio-k8s deployed?")
        )
    );
}

#[test]
fn an_untrusted_beacon_can_be_removed() {
    let e = env();
    let mut a = DeployArgs::new(reused_beacon_charm(e.dir.path()));
    a.app = Some(BEACON.to_owned());
    a.trust = false;
    e.ctl.deploy(MODEL, a).expect("deploy beacon");
    e.ctl.run_until_idle().expect("idle");
    e.ctl.remove_application(MODEL, BEACON).expect("remove");
    e.ctl.run_until_idle().expect("idle");
    let st = e.ctl.status(MODEL).expect("status");
    assert!(
        !st.applications.contains_key(BEACON),
        "removal is stuck: {:?}",
        st.applications.get(BEACON).map(|a| a
            .units
            .values()
            .map(|u| (u.workload_status.clone(), u.juju_status.clone()))
            .collect::<Vec<_>>())
    );
}

/// A beacon blocked on a namespace another beacon holds must not tell its consumers "no labels
/// needed, the namespace does it": their traffic would then go through the other beacon's
/// waypoint (or none), where this beacon's policies are not enforced. It offers its own mesh
/// labels instead, as with model-on-mesh off.
#[test]
fn a_blocked_beacon_still_puts_its_consumers_behind_its_own_waypoint() {
    let e = env();
    e.deploy_beacon("other", 1, &[("model-on-mesh", "true")]);
    e.deploy_beacon(BEACON, 1, &[("model-on-mesh", "true")]);
    assert_eq!(e.unit_status(BEACON, 0).0, "blocked");
    let rel = e.relate_consumer("shopfront");
    let labels = |e: &Env| -> BTreeMap<String, String> {
        let (apps, _) = e.ctl.relation_data(MODEL, rel).expect("relation data");
        serde_json::from_str(apps[BEACON].get("labels").expect("labels")).expect("labels JSON")
    };
    assert_eq!(
        labels(&e).get("istio.io/use-waypoint").map(String::as_str),
        Some(WAYPOINT),
        "a consumer of the blocked beacon is not behind its waypoint"
    );

    // Once the namespace is ours, the namespace labels do the work and consumers need none.
    e.ctl
        .remove_application(MODEL, "other")
        .expect("remove other");
    e.ctl.run_until_idle().expect("idle");
    e.ctl.update_status(Some(MODEL)).expect("update-status");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(labels(&e), BTreeMap::new());
}

/// The operator put the namespace on the ambient mesh by hand (no beacon's managed-by label):
/// model-on-mesh blocks naming nobody and leaves the label; turning it off unblocks, and the
/// operator's label is still there.
#[test]
fn hand_made_mesh_labels_on_the_namespace_block_and_survive_model_on_mesh_off() {
    let e = env();
    e.kube
        .store()
        .merge_patch(
            "v1",
            "Namespace",
            None,
            MODEL,
            json!({"metadata": {"labels": {"istio.io/dataplane-mode": "ambient"}}}),
        )
        .expect("label namespace");
    e.deploy_beacon(BEACON, 1, &[("model-on-mesh", "true")]);
    let (current, message) = e.status_of("beacon/0");
    assert_eq!(current, "blocked", "{message}");
    assert!(message.contains("not set by a beacon"), "{message}");
    let by_hand = BTreeMap::from([("istio.io/dataplane-mode".to_owned(), "ambient".to_owned())]);
    assert_eq!(without_builtin(e.namespace_labels()), by_hand);
    assert!(e.modeloperator_policy().is_none());

    e.set(BEACON, "model-on-mesh", "false");
    e.ctl.run_until_idle().expect("idle");
    let (current, message) = e.status_of("beacon/0");
    assert_eq!(current, "waiting", "{message}");
    assert_eq!(without_builtin(e.namespace_labels()), by_hand);
}

/// `juju refresh` to a charm whose containers differ makes Juju rewrite the StatefulSet; the
/// beacon's own mesh labels are still (or again) on its pod template and Service afterwards, and
/// its waypoint is untouched.
#[test]
fn refresh_keeps_the_beacon_on_the_mesh() {
    let e = env();
    e.deploy_beacon(BEACON, 1, &[]);
    let gateway = e
        .get("gateway.networking.k8s.io/v1", "Gateway", WAYPOINT)
        .expect("gateway");
    // The same charm without the metrics-proxy container.
    let new = e.dir.path().join("charms").join("beacon-v2");
    std::fs::create_dir_all(&new).expect("mkdir");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let meta = std::fs::read_to_string(repo.join("metadata.yaml")).expect("metadata");
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&meta).expect("yaml");
    if let Some(m) = doc.as_mapping_mut() {
        m.remove("containers");
        m.remove("resources");
    }
    std::fs::write(
        new.join("metadata.yaml"),
        serde_yaml::to_string(&doc).expect("yaml"),
    )
    .expect("write metadata");
    std::fs::copy(repo.join("config.yaml"), new.join("config.yaml")).expect("config");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_istio-beacon-k8s"), new.join("dispatch"))
        .expect("dispatch link");
    e.ctl.refresh(MODEL, BEACON, &new).expect("refresh");
    e.ctl.run_until_idle().expect("idle");
    let sts = e
        .get("apps/v1", "StatefulSet", BEACON)
        .expect("statefulset");
    let containers: Vec<&str> = sts["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(!containers.contains(&"metrics-proxy"), "{containers:?}");
    assert_eq!(
        sts["spec"]["template"]["metadata"]["labels"]["istio.io/use-waypoint"],
        WAYPOINT
    );
    let svc = e.get("v1", "Service", BEACON).expect("service");
    assert_eq!(
        svc["metadata"]["labels"]["istio.io/dataplane-mode"],
        "ambient"
    );
    let after = e
        .get("gateway.networking.k8s.io/v1", "Gateway", WAYPOINT)
        .expect("gateway");
    assert_eq!(after["metadata"]["uid"], gateway["metadata"]["uid"]);
    assert_eq!(e.status_of("beacon/0").0, "waiting");
}
