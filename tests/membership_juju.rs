//! Mesh membership with the beacon binary run as Juju runs it (jujusim: hook environment, hook
//! tools, goal-state, leadership, scaling, removal) against kubesim.

mod common;

use std::collections::BTreeMap;

use common::membership::*;
use common::*;
use jujusim::DeployArgs;
use serde_json::json;

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
    let rel = e.relate_consumer("shopfront");
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
    let mut a = DeployArgs::new(reused_beacon_charm(e.dir.path()));
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
