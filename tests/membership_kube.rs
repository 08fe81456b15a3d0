//! Mesh membership against the emulated API server (kubesim) through kube-rs, with in-memory hook
//! tools: what ends up in the cluster, what the status asks for, and that a pass with nothing to
//! change writes nothing.

use std::collections::BTreeMap;

use charm::testing::FakeHookTools;
use charm::{Context, HookTools};
use istio_beacon::membership::{self, Outcome, Settings};
use istio_beacon::reconcile::Reconciler;
use istio_beacon::waypoint::Identity;
use kubesim::{Server, Store};
use serde_json::{json, Value};

const MODEL: &str = "bookinfo";
const APP: &str = "beacon";
const WAYPOINT: &str = "bookinfo-beacon-waypoint";
const MANAGED_BY: &str = "charms.canonical.com/istio.io.waypoint.managed-by";

struct Env {
    server: Server,
    rt: tokio::runtime::Runtime,
    reconciler: Reconciler,
    tools: FakeHookTools,
    ctx: Context,
    identity: Identity,
}

fn start(with_gateway_crd: bool) -> Env {
    let mut crds = vec![kubesim::ISTIO_AUTHORIZATION_POLICY_CRD.to_owned()];
    if with_gateway_crd {
        crds.push(kubesim::GATEWAY_CRD.to_owned());
    }
    let server = Server::start(kubesim::Config {
        crd_yaml: crds,
        ..kubesim::Config::default()
    })
    .expect("kubesim starts");
    let store = server.store();
    // What Juju creates for a deployed application (see interfaces.md).
    store
        .create(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": MODEL, "labels": {"team": "a"}}}))
        .expect("namespace");
    store
        .create(json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": APP, "namespace": MODEL},
            "spec": {"replicas": 1, "serviceName": APP,
                "selector": {"matchLabels": {"app.kubernetes.io/name": APP}},
                "template": {"metadata": {"labels": {"app.kubernetes.io/name": APP}},
                    "spec": {"containers": [{"name": "charm", "image": "charm-base"}]}}}}))
        .expect("statefulset");
    store
        .create(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": APP, "namespace": MODEL, "labels": {"app.kubernetes.io/name": APP}},
            "spec": {"selector": {"app.kubernetes.io/name": APP}, "ports": [{"port": 65535}]}}))
        .expect("service");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let url = server.url().parse().expect("url");
    // kube's client spawns its buffer task on the current runtime.
    let client = {
        let _guard = rt.enter();
        kube::Client::try_from(kube::Config::new(url)).expect("client")
    };
    let reconciler = Reconciler::new(client, APP);
    let tools = FakeHookTools::new(&format!("{APP}/0"), "uuid-bookinfo");
    tools.set_leader(true);
    let ctx = Context::from_vars(
        |k| match k {
            "JUJU_DISPATCH_PATH" => Some("hooks/config-changed".to_owned()),
            "JUJU_UNIT_NAME" => Some(format!("{APP}/0")),
            "JUJU_MODEL_NAME" => Some(MODEL.to_owned()),
            _ => None,
        },
        "dispatch",
    )
    .expect("context");
    let identity = Identity::new(MODEL, APP).expect("identity");
    Env {
        server,
        rt,
        reconciler,
        tools,
        ctx,
        identity,
    }
}

impl Env {
    fn store(&self) -> Store {
        self.server.store()
    }

    fn pass(&self, settings: Settings, planned: u32, leader: bool) -> Outcome {
        self.rt
            .block_on(membership::reconcile_with(
                &self.reconciler,
                &self.ctx,
                &self.tools,
                &self.identity,
                settings,
                planned,
                leader,
            ))
            .expect("membership pass")
    }

    fn get(&self, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        self.store().get(api_version, kind, Some(MODEL), name).ok()
    }

    fn namespace_labels(&self) -> BTreeMap<String, String> {
        let ns = self
            .store()
            .get("v1", "Namespace", None, MODEL)
            .expect("namespace");
        serde_json::from_value(ns["metadata"]["labels"].clone()).unwrap_or_default()
    }

    fn writes(&self) -> Vec<String> {
        self.store()
            .request_log()
            .into_iter()
            .filter(|r| !matches!(r.verb.as_str(), "get" | "list" | "watch"))
            .map(|r| format!("{} {}", r.verb, r.path))
            .collect()
    }

    fn owned(&self) -> Vec<String> {
        let selector = format!("app.kubernetes.io/instance={MODEL}-{APP}");
        let mut found = Vec::new();
        for (api_version, kind) in [
            ("gateway.networking.k8s.io/v1", "Gateway"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("security.istio.io/v1", "AuthorizationPolicy"),
            ("v1", "ConfigMap"),
        ] {
            for o in self
                .store()
                .list(api_version, kind, Some(MODEL), Some(&selector))
                .unwrap_or_default()
            {
                found.push(format!(
                    "{kind}/{}",
                    o["metadata"]["name"].as_str().unwrap_or("")
                ));
            }
        }
        found
    }
}

const DEFAULT: Settings = Settings {
    model_on_mesh: false,
    manage_authorization_policies: true,
};
const ON_MESH: Settings = Settings {
    model_on_mesh: true,
    manage_authorization_policies: true,
};

#[test]
fn leader_creates_the_waypoint_its_hpa_and_puts_itself_on_the_mesh() {
    let env = start(true);
    let mesh = env
        .tools
        .add_relation("service-mesh", "productpage", &["productpage/0"]);
    let outcome = env.pass(DEFAULT, 1, true);

    let gw = env
        .get("gateway.networking.k8s.io/v1", "Gateway", WAYPOINT)
        .expect("waypoint Gateway");
    let labels = &gw["metadata"]["labels"];
    assert_eq!(labels["istio.io/waypoint-for"], "service");
    assert_eq!(
        labels["charms.canonical.com/bookinfo.beacon.telemetry"],
        "aggregated"
    );
    assert_eq!(labels["app.kubernetes.io/instance"], "bookinfo-beacon");
    assert_eq!(
        labels["kubernetes-resource-handler-scope"],
        "istio-waypoint"
    );
    assert_eq!(gw["spec"]["gatewayClassName"], "istio-waypoint");
    assert_eq!(
        gw["spec"]["listeners"][0],
        json!({"name": "mesh", "port": 15008, "protocol": "HBONE",
            "allowedRoutes": {"namespaces": {"from": "All"}}})
    );

    let hpa = env
        .get("autoscaling/v2", "HorizontalPodAutoscaler", WAYPOINT)
        .expect("waypoint HPA");
    assert_eq!(hpa["spec"]["minReplicas"], 1);
    assert_eq!(hpa["spec"]["maxReplicas"], 1);
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": WAYPOINT})
    );

    // The beacon itself is on the mesh: pod template and Service.
    let sts = env.get("apps/v1", "StatefulSet", APP).expect("statefulset");
    let svc = env.get("v1", "Service", APP).expect("service");
    for labels in [
        &sts["spec"]["template"]["metadata"]["labels"],
        &svc["metadata"]["labels"],
    ] {
        assert_eq!(labels["istio.io/dataplane-mode"], "ambient");
        assert_eq!(labels["istio.io/use-waypoint"], WAYPOINT);
        assert_eq!(labels["istio.io/use-waypoint-namespace"], MODEL);
        assert_eq!(
            labels["app.kubernetes.io/name"], APP,
            "Juju's own label kept"
        );
    }
    let cm = env
        .get("v1", "ConfigMap", "juju-service-mesh-beacon-labels")
        .expect("own-labels record");
    let recorded: BTreeMap<String, String> =
        serde_json::from_str(cm["data"]["labels"].as_str().expect("labels")).expect("json");
    assert_eq!(recorded.len(), 3);

    // Consumers get the labels and mesh type, JSON-encoded as the Python provider writes them.
    let bag = env.tools.local_app_data(&mesh);
    assert_eq!(
        bag.get("labels").map(String::as_str),
        Some(
            "{\"istio.io/dataplane-mode\": \"ambient\", \"istio.io/use-waypoint\": \
             \"bookinfo-beacon-waypoint\", \"istio.io/use-waypoint-namespace\": \"bookinfo\"}"
        )
    );
    assert_eq!(bag.get("mesh_type").map(String::as_str), Some("\"istio\""));

    // No istiod has made the waypoint Deployment: waiting, naming what is missing.
    assert!(outcome.blocked.is_empty(), "{outcome:?}");
    assert_eq!(
        outcome.waiting,
        vec![format!(
            "waypoint not ready: Deployment {WAYPOINT} not found; is istio-k8s deployed?"
        )]
    );
    // The namespace is not touched while model-on-mesh is off.
    assert_eq!(
        env.namespace_labels(),
        BTreeMap::from([("team".into(), "a".into())])
    );
}

#[test]
fn a_pass_with_nothing_to_change_writes_nothing_and_readiness_is_read_once() {
    let env = start(true);
    env.pass(ON_MESH, 2, true);
    // istiod's part, played by the test: the waypoint Deployment, not ready yet.
    env.store()
        .create(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": WAYPOINT, "namespace": MODEL},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"gw": WAYPOINT}},
                "template": {"metadata": {"labels": {"gw": WAYPOINT}},
                    "spec": {"containers": [{"name": "istio-proxy", "image": "proxyv2"}]}}}}))
        .expect("deployment");
    let mut dep = env
        .get("apps/v1", "Deployment", WAYPOINT)
        .expect("deployment");
    dep["status"] = json!({"replicas": 2, "readyReplicas": 1});
    env.store().replace_status(dep).expect("status");

    env.store().clear_request_log();
    let outcome = env.pass(ON_MESH, 2, true);
    assert_eq!(env.writes(), Vec::<String>::new(), "a no-op pass wrote");
    assert_eq!(
        outcome.waiting,
        vec![format!(
            "waypoint not ready: 1/2 replicas of Deployment {WAYPOINT} ready"
        )]
    );
    let deployment_reads = env
        .store()
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with(&format!("/deployments/{WAYPOINT}")))
        .count();
    assert_eq!(
        deployment_reads, 1,
        "the Deployment is read exactly once, no polling"
    );

    let mut dep = env
        .get("apps/v1", "Deployment", WAYPOINT)
        .expect("deployment");
    dep["status"] = json!({"replicas": 2, "readyReplicas": 2});
    env.store().replace_status(dep).expect("status");
    let outcome = env.pass(ON_MESH, 2, true);
    assert_eq!(
        outcome.status(),
        None,
        "ready and nothing to report: {outcome:?}"
    );
    assert!(!outcome.report.wrote());
}

#[test]
fn hpa_follows_the_planned_units() {
    let env = start(true);
    for units in [1, 3, 1] {
        env.pass(DEFAULT, units, true);
        let hpa = env
            .get("autoscaling/v2", "HorizontalPodAutoscaler", WAYPOINT)
            .expect("hpa");
        assert_eq!(hpa["spec"]["minReplicas"], units, "min at {units} units");
        assert_eq!(hpa["spec"]["maxReplicas"], units, "max at {units} units");
    }
}

#[test]
fn model_on_mesh_labels_the_namespace_and_lets_the_controller_reach_the_model_operator() {
    let env = start(true);
    env.pass(ON_MESH, 1, true);
    let labels = env.namespace_labels();
    assert_eq!(labels["istio.io/dataplane-mode"], "ambient");
    assert_eq!(labels["istio.io/use-waypoint"], WAYPOINT);
    assert_eq!(labels[MANAGED_BY], "bookinfo.beacon");
    assert_eq!(labels["team"], "a");

    let policy = env
        .get(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            "beacon-bookinfo-policy-all-sources-modeloperator",
        )
        .expect("modeloperator policy");
    assert_eq!(
        policy["metadata"]["labels"]["kubernetes-resource-handler-scope"],
        "modeloperator-authorization-policy"
    );
    assert_eq!(
        policy["spec"],
        json!({"selector": {"matchLabels": {"juju-modeloperator": "modeloperator"}}, "rules": [{}]})
    );

    // Consumers get no labels: the namespace does the work.
    let mesh = env
        .tools
        .add_relation("service-mesh", "productpage", &["productpage/0"]);
    env.pass(ON_MESH, 1, true);
    assert_eq!(
        env.tools
            .local_app_data(&mesh)
            .get("labels")
            .map(String::as_str),
        Some("{}")
    );

    // As the Python beacon: with manage-authorization-policies off, no model-operator policy
    // either (the operator manages policies), while the namespace stays on the mesh.
    env.pass(
        Settings {
            model_on_mesh: true,
            manage_authorization_policies: false,
        },
        1,
        true,
    );
    assert_eq!(env.namespace_labels()[MANAGED_BY], "bookinfo.beacon");
    assert!(env
        .get(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            "beacon-bookinfo-policy-all-sources-modeloperator"
        )
        .is_none());
    env.pass(ON_MESH, 1, true);

    // Turning it off removes only our labels, and the model-operator policy.
    env.pass(DEFAULT, 1, true);
    assert_eq!(
        env.namespace_labels(),
        BTreeMap::from([("team".into(), "a".into())])
    );
    assert!(env
        .get(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            "beacon-bookinfo-policy-all-sources-modeloperator"
        )
        .is_none());
}

#[test]
fn a_namespace_claimed_by_another_beacon_is_left_alone_and_blocks() {
    let env = start(true);
    let theirs = json!({"metadata": {"labels": {
        "istio.io/dataplane-mode": "ambient",
        "istio.io/use-waypoint": "bookinfo-other-waypoint",
        MANAGED_BY: "bookinfo.other",
    }}});
    env.store()
        .merge_patch("v1", "Namespace", None, MODEL, theirs)
        .expect("other beacon's labels");
    let before = env.store().get("v1", "Namespace", None, MODEL).expect("ns");

    let outcome = env.pass(ON_MESH, 1, true);
    assert_eq!(outcome.blocked.len(), 1, "{outcome:?}");
    assert!(
        outcome.blocked[0].contains("bookinfo.other"),
        "the blocked status names the other beacon: {}",
        outcome.blocked[0]
    );
    let after = env.store().get("v1", "Namespace", None, MODEL).expect("ns");
    assert_eq!(before, after, "the namespace was touched");
    assert!(env
        .get(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            "beacon-bookinfo-policy-all-sources-modeloperator"
        )
        .is_none());

    // Off: still not ours to remove.
    let outcome = env.pass(DEFAULT, 1, true);
    assert!(outcome.blocked.is_empty());
    assert_eq!(
        env.store().get("v1", "Namespace", None, MODEL).expect("ns"),
        after
    );
}

#[test]
fn removal_at_zero_planned_units_leaves_nothing_owned_on_any_unit() {
    let env = start(true);
    env.pass(ON_MESH, 2, true);
    assert!(
        env.owned().len() >= 3,
        "set-up made objects: {:?}",
        env.owned()
    );
    env.store()
        .create(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "not-ours", "namespace": MODEL}, "data": {}}))
        .expect("unrelated configmap");

    // The last unit going away need not be the leader.
    let outcome = env.pass(ON_MESH, 0, false);
    assert!(outcome.removed);
    assert_eq!(env.owned(), Vec::<String>::new());
    assert!(env
        .get("v1", "ConfigMap", "juju-service-mesh-beacon-labels")
        .is_none());
    assert!(
        env.get("v1", "ConfigMap", "not-ours").is_some(),
        "only ours removed"
    );
    assert_eq!(
        env.namespace_labels(),
        BTreeMap::from([("team".into(), "a".into())])
    );

    // Running it again (another unit's remove hook) is fine.
    let outcome = env.pass(ON_MESH, 0, true);
    assert!(outcome.removed && outcome.blocked.is_empty());
}

#[test]
fn a_non_leader_stands_by_without_touching_the_cluster() {
    let env = start(true);
    env.store().clear_request_log();
    let outcome = env.pass(ON_MESH, 3, false);
    assert_eq!(outcome, Outcome::default());
    assert!(
        env.store().request_log().is_empty(),
        "a non-leader called the API"
    );
    assert_eq!(env.tools.count("relation-set"), 0);
}

#[test]
fn a_missing_gateway_crd_blocks_with_what_to_do() {
    let env = start(false);
    let outcome = env.pass(DEFAULT, 1, true);
    assert_eq!(
        outcome.blocked,
        vec![
            "Gateway API CRD (gateway.networking.k8s.io/v1) not installed: deploy istio-k8s"
                .to_owned()
        ]
    );
}

#[test]
fn goal_state_gives_the_planned_units() {
    let tools = FakeHookTools::new("beacon/0", "uuid");
    let gs = tools.goal_state().expect("goal-state");
    // The fake knows one unit (itself); the count comes from the same parser the hook uses.
    assert_eq!(membership::planned_units(&gs).ok(), Some(1));
}
