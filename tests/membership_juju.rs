//! Mesh membership with the beacon binary run as Juju runs it (jujusim: hook environment, hook
//! tools, goal-state, leadership, scaling, removal) against kubesim.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Once};

use jujusim::{Controller, ControllerOptions, DeployArgs};
use serde_json::{json, Value};

const MODEL: &str = "shop";
const BEACON: &str = "beacon";
const WAYPOINT: &str = "shop-beacon-waypoint";
const MANAGED_BY: &str = "charms.canonical.com/istio.io.waypoint.managed-by";

/// jujusim's multi-call hook tool, built next to this test binary (Cargo builds a dependency's
/// binaries only for its own tests, so build it once here; a no-op when fresh).
fn hook_tool_exe() -> PathBuf {
    static BUILD: Once = Once::new();
    let exe = std::env::current_exe().expect("test exe path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "jujusim",
            "--bin",
            "jujusim-hook-tool",
        ]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo");
        assert!(status.success(), "building jujusim-hook-tool failed");
    });
    dir.join("jujusim-hook-tool")
}

struct Env {
    ctl: Controller,
    kube: Arc<kubesim::Server>,
    dir: tempfile::TempDir,
}

fn env() -> Env {
    let kube = Arc::new(
        kubesim::Server::start(kubesim::Config {
            crd_yaml: vec![
                kubesim::ISTIO_AUTHORIZATION_POLICY_CRD.to_owned(),
                kubesim::GATEWAY_CRD.to_owned(),
            ],
            ..kubesim::Config::default()
        })
        .expect("kubesim"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let ctl = Controller::new(ControllerOptions {
        kube: kube.clone(),
        hook_tool_exe: hook_tool_exe(),
        work_dir: dir.path().join("work"),
    })
    .expect("controller");
    ctl.add_model(MODEL).expect("model");
    Env { ctl, kube, dir }
}

/// The beacon's charm directory: metadata and config from the repository, `dispatch` the binary.
fn beacon_charm(root: &Path) -> PathBuf {
    let d = root.join("charms").join("beacon");
    if d.join("dispatch").exists() {
        return d;
    }
    std::fs::create_dir_all(&d).expect("mkdir");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["metadata.yaml", "config.yaml"] {
        std::fs::copy(repo.join(f), d.join(f)).expect("copy charm file");
    }
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_istio-beacon-k8s"), d.join("dispatch"))
        .expect("dispatch link");
    d
}

/// A workload charm that only sets an active status.
fn workload_charm(root: &Path, name: &str, metadata: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = root.join("charms").join(name);
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join("metadata.yaml"), format!("name: {name}\n{metadata}")).expect("meta");
    let p = d.join("dispatch");
    std::fs::write(&p, "#!/bin/sh\nstatus-set active ready\n").expect("dispatch");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    d
}

impl Env {
    fn deploy_beacon(&self, app: &str, units: u32, config: &[(&str, &str)]) {
        let mut a = DeployArgs::new(beacon_charm(self.dir.path()));
        a.app = Some(app.to_owned());
        a.units = units;
        a.trust = true;
        a.config = config
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.ctl.deploy(MODEL, a).expect("deploy beacon");
        self.ctl.run_until_idle().expect("idle");
    }

    fn get(&self, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        self.kube
            .store()
            .get(api_version, kind, Some(MODEL), name)
            .ok()
    }

    fn hpa_replicas(&self) -> (Value, Value) {
        let hpa = self
            .get("autoscaling/v2", "HorizontalPodAutoscaler", WAYPOINT)
            .expect("waypoint HPA");
        (
            hpa["spec"]["minReplicas"].clone(),
            hpa["spec"]["maxReplicas"].clone(),
        )
    }

    /// What istiod does for the Gateway: a waypoint Deployment, with `ready` of `replicas` ready.
    fn waypoint_deployment(&self, name: &str, replicas: u32, ready: u32) {
        let store = self.kube.store();
        let labels = json!({"gateway.networking.k8s.io/gateway-name": name});
        let existing = store.get("apps/v1", "Deployment", Some(MODEL), name);
        let obj = match existing {
            Ok(o) => o,
            Err(_) => store
                .create(json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": name, "namespace": MODEL, "labels": labels},
                    "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels}, "spec": {"containers":
                            [{"name": "istio-proxy", "image": "istio/proxyv2"}]}}},
                }))
                .expect("waypoint deployment"),
        };
        let mut obj = obj;
        obj["status"] = json!({"replicas": replicas, "readyReplicas": ready});
        store.replace_status(obj).expect("deployment status");
    }

    fn unit_status(&self, app: &str, n: u32) -> (String, String) {
        let st = self.ctl.status(MODEL).expect("status");
        let unit = &st.applications[app].units[&format!("{app}/{n}")];
        (
            unit.workload_status.current.clone(),
            unit.workload_status.message.clone(),
        )
    }

    fn leader(&self, app: &str) -> String {
        let st = self.ctl.status(MODEL).expect("status");
        st.applications[app]
            .units
            .iter()
            .find(|(_, u)| u.leader)
            .map(|(k, _)| k.clone())
            .expect("a leader")
    }

    fn namespace_labels(&self) -> BTreeMap<String, String> {
        let ns = self
            .kube
            .store()
            .get("v1", "Namespace", None, MODEL)
            .expect("namespace");
        serde_json::from_value(ns["metadata"]["labels"].clone()).unwrap_or_default()
    }

    fn owned_by(&self, app: &str) -> Vec<String> {
        let selector = format!("app.kubernetes.io/instance={MODEL}-{app}");
        let mut found = Vec::new();
        for (api_version, kind) in [
            ("gateway.networking.k8s.io/v1", "Gateway"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("security.istio.io/v1", "AuthorizationPolicy"),
        ] {
            for o in self
                .kube
                .store()
                .list(api_version, kind, Some(MODEL), Some(&selector))
                .expect("list")
            {
                found.push(format!(
                    "{kind}/{}",
                    o["metadata"]["name"].as_str().unwrap_or("")
                ));
            }
        }
        if self
            .get(
                "v1",
                "ConfigMap",
                &format!("juju-service-mesh-{app}-labels"),
            )
            .is_some()
        {
            found.push(format!("ConfigMap/juju-service-mesh-{app}-labels"));
        }
        found
    }
}

#[test]
fn the_waypoint_follows_scaling_1_3_1_and_readiness_is_reported_without_blocking() {
    let e = env();
    e.deploy_beacon(BEACON, 1, &[]);
    assert!(e
        .get("gateway.networking.k8s.io/v1", "Gateway", WAYPOINT)
        .is_some());
    assert_eq!(e.hpa_replicas(), (json!(1), json!(1)));
    // No istiod: the hook did not wait, it says what is missing.
    assert_eq!(
        e.unit_status(BEACON, 0),
        (
            "waiting".to_owned(),
            format!("waypoint not ready: Deployment {WAYPOINT} not found; is istio-k8s deployed?")
        )
    );
    // The beacon put itself on the mesh.
    let sts = e
        .get("apps/v1", "StatefulSet", BEACON)
        .expect("statefulset");
    assert_eq!(
        sts["spec"]["template"]["metadata"]["labels"]["istio.io/use-waypoint"],
        WAYPOINT
    );
    let svc = e.get("v1", "Service", BEACON).expect("service");
    assert_eq!(
        svc["metadata"]["labels"]["istio.io/dataplane-mode"],
        "ambient"
    );

    // istiod brings the waypoint up; the next update-status finds it.
    e.waypoint_deployment(WAYPOINT, 1, 1);
    e.ctl.update_status(Some(MODEL)).expect("update-status");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(e.unit_status(BEACON, 0).0, "active");

    e.ctl.scale(MODEL, BEACON, 3).expect("scale to 3");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(e.hpa_replicas(), (json!(3), json!(3)));
    let leader = e.leader(BEACON);
    for n in 0..3 {
        let (current, message) = e.unit_status(BEACON, n);
        if format!("{BEACON}/{n}") == leader {
            // The Deployment still has 1 of the 3 replicas the HPA now asks for.
            assert_eq!(current, "active", "leader: {message}");
        } else {
            assert_eq!(current, "active");
            assert!(
                message.contains("standing by"),
                "non-leader says {message:?}"
            );
        }
    }

    // The scale-up reached the leader through the peers relation.
    let peer_hooks: Vec<String> = e
        .ctl
        .hook_log()
        .into_iter()
        .filter(|h| h.unit == leader && h.hook.starts_with("peers-relation-"))
        .map(|h| h.hook)
        .collect();
    assert!(!peer_hooks.is_empty(), "the leader ran no peers hook");

    // A peer change alone makes the leader reconcile: drift on the HPA is put right when a
    // non-leader writes to the peers relation.
    e.kube
        .store()
        .merge_patch(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            Some(MODEL),
            WAYPOINT,
            json!({"spec": {"minReplicas": 7, "maxReplicas": 7}}),
        )
        .expect("drift");
    let other = (0..3)
        .map(|n| format!("{BEACON}/{n}"))
        .find(|u| *u != leader)
        .expect("a non-leader");
    let ids = e
        .ctl
        .exec(MODEL, &other, &["relation-ids".into(), "peers".into()])
        .expect("relation-ids");
    let peers = ids
        .stdout
        .lines()
        .next()
        .expect("peers relation")
        .trim()
        .to_owned();
    let out = e
        .ctl
        .exec(
            MODEL,
            &other,
            &["relation-set".into(), "-r".into(), peers, "poke=1".into()],
        )
        .expect("relation-set");
    assert_eq!(out.code, 0, "{}", out.stderr);
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(
        e.hpa_replicas(),
        (json!(3), json!(3)),
        "peer change did not reconcile"
    );

    e.ctl.scale(MODEL, BEACON, 1).expect("scale to 1");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(e.hpa_replicas(), (json!(1), json!(1)));
    assert!(
        e.get("gateway.networking.k8s.io/v1", "Gateway", WAYPOINT)
            .is_some(),
        "scaling down must not remove the waypoint"
    );
}

#[test]
fn consumers_get_the_mesh_labels_and_mesh_type() {
    let e = env();
    e.deploy_beacon(BEACON, 1, &[]);
    let app = workload_charm(
        e.dir.path(),
        "shopfront",
        "requires:\n  service-mesh:\n    interface: service_mesh\n",
    );
    let mut a = DeployArgs::new(app);
    a.app = Some("shopfront".into());
    e.ctl.deploy(MODEL, a).expect("deploy workload");
    let rel = e
        .ctl
        .integrate(MODEL, "beacon:service-mesh", "shopfront:service-mesh")
        .expect("integrate");
    e.ctl.run_until_idle().expect("idle");
    let (apps, _) = e.ctl.relation_data(MODEL, rel).expect("relation data");
    let bag = &apps[BEACON];
    let labels: BTreeMap<String, String> =
        serde_json::from_str(bag.get("labels").expect("labels")).expect("labels JSON");
    assert_eq!(
        labels,
        BTreeMap::from([
            ("istio.io/dataplane-mode".to_owned(), "ambient".to_owned()),
            ("istio.io/use-waypoint".to_owned(), WAYPOINT.to_owned()),
            (
                "istio.io/use-waypoint-namespace".to_owned(),
                MODEL.to_owned()
            ),
        ])
    );
    assert_eq!(bag.get("mesh_type").map(String::as_str), Some("\"istio\""));

    // With the whole model on the mesh, consumers need no labels of their own.
    e.ctl
        .set_config(
            MODEL,
            BEACON,
            &BTreeMap::from([("model-on-mesh".to_owned(), "true".to_owned())]),
        )
        .expect("config");
    e.ctl.run_until_idle().expect("idle");
    let (apps, _) = e.ctl.relation_data(MODEL, rel).expect("relation data");
    assert_eq!(apps[BEACON].get("labels").map(String::as_str), Some("{}"));
    assert_eq!(e.namespace_labels()[MANAGED_BY], "shop.beacon");
}

#[test]
fn a_namespace_claimed_by_another_beacon_blocks_the_second_and_stays_as_it_is() {
    let e = env();
    e.deploy_beacon(BEACON, 1, &[("model-on-mesh", "true")]);
    let first = e.namespace_labels();
    assert_eq!(first[MANAGED_BY], "shop.beacon");
    assert_eq!(first["istio.io/use-waypoint"], WAYPOINT);
    assert!(e
        .get(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            "beacon-shop-policy-all-sources-modeloperator"
        )
        .is_some());

    e.deploy_beacon("beacon2", 1, &[("model-on-mesh", "true")]);
    let (current, message) = e.unit_status("beacon2", 0);
    assert_eq!(current, "blocked", "{message}");
    assert!(
        message.contains("shop.beacon"),
        "names the other beacon: {message}"
    );
    assert_eq!(e.namespace_labels(), first, "the namespace was touched");
    assert!(e
        .get(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            "beacon2-shop-policy-all-sources-modeloperator"
        )
        .is_none());

    // Removing the second beacon leaves the first one's labels alone.
    e.ctl.remove_application(MODEL, "beacon2").expect("remove");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(e.namespace_labels(), first);
    assert_eq!(e.owned_by("beacon2"), Vec::<String>::new());
}

#[test]
fn removing_the_application_leaves_nothing_owned_behind() {
    let e = env();
    e.deploy_beacon(BEACON, 2, &[("model-on-mesh", "true")]);
    // A scraper on metrics-endpoint makes the policy path own a policy too.
    let scraper = workload_charm(
        e.dir.path(),
        "scraper",
        "requires:\n  metrics-endpoint:\n    interface: prometheus_scrape\n",
    );
    let mut a = DeployArgs::new(scraper);
    a.app = Some("scraper".into());
    e.ctl.deploy(MODEL, a).expect("deploy scraper");
    e.ctl
        .integrate(MODEL, "beacon:metrics-endpoint", "scraper:metrics-endpoint")
        .expect("integrate");
    e.ctl.run_until_idle().expect("idle");
    let before = e.owned_by(BEACON);
    for expected in [
        format!("Gateway/{WAYPOINT}"),
        format!("HorizontalPodAutoscaler/{WAYPOINT}"),
        "AuthorizationPolicy/beacon-shop-policy-all-sources-modeloperator".to_owned(),
        "ConfigMap/juju-service-mesh-beacon-labels".to_owned(),
    ] {
        assert!(
            before.contains(&expected),
            "{expected} missing from {before:?}"
        );
    }
    assert!(
        before.len() >= 5,
        "the scraper's metrics policy is owned too: {before:?}"
    );
    assert_eq!(e.namespace_labels()[MANAGED_BY], "shop.beacon");

    e.ctl.remove_application(MODEL, BEACON).expect("remove");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(e.owned_by(BEACON), Vec::<String>::new());
    let labels = e.namespace_labels();
    for key in [
        MANAGED_BY,
        "istio.io/use-waypoint",
        "istio.io/dataplane-mode",
    ] {
        assert!(
            !labels.contains_key(key),
            "{key} left on the namespace: {labels:?}"
        );
    }
}

#[test]
fn deployed_without_trust_the_beacon_blocks_with_what_to_do_and_recovers_when_trusted() {
    let e = env();
    let mut a = DeployArgs::new(beacon_charm(e.dir.path()));
    a.app = Some(BEACON.to_owned());
    a.trust = false;
    a.config = BTreeMap::from([("model-on-mesh".to_owned(), "true".to_owned())]);
    e.ctl.deploy(MODEL, a).expect("deploy beacon");
    e.ctl.run_until_idle().expect("idle");
    let (current, message) = e.unit_status(BEACON, 0);
    assert_eq!(current, "blocked", "{message}");
    assert!(
        message.contains("juju trust beacon --scope=cluster"),
        "says what to do: {message}"
    );
    assert!(!e.namespace_labels().contains_key(MANAGED_BY));

    e.ctl.trust(MODEL, BEACON, true).expect("trust");
    e.ctl.run_until_idle().expect("idle");
    let (current, message) = e.unit_status(BEACON, 0);
    assert_eq!(current, "waiting", "{message}");
    assert_eq!(e.namespace_labels()[MANAGED_BY], "shop.beacon");
}
