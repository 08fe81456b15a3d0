//! The beacon binary run as Juju runs it (jujusim: hook environment, hook tools) against kubesim:
//! relate, change data, break, flip config, lose and regain leadership, API failures, missing CRD,
//! malformed and hostile data.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::policy::*;
use common::*;
use istio_beacon::render::ORIGIN_ANNOTATION;
use jujusim::DeployArgs;
use serde_json::json;

const SCRAPER: &str = "requires:\n  metrics-endpoint:\n    interface: prometheus_scrape\n";

#[test]
fn relate_change_and_break_follow_the_relation_data() {
    let e = env();
    setup(&e, &["catalogue"]);
    assert!(names(&e).is_empty(), "no policies before any data");

    let p1 = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p1)));
    let live = policies_in_cluster(&e);
    assert_eq!(live.keys().cloned().collect::<Vec<_>>(), vec![name_of(&p1)]);
    let obj = &live[&name_of(&p1)];
    assert_eq!(
        obj["spec"]["targetRefs"],
        json!([{"group": "", "kind": "Service", "name": "catalogue"}])
    );
    assert_eq!(
        obj["spec"]["rules"][0]["from"][0]["source"]["principals"],
        json!(["cluster.local/ns/shop/sa/frontend"])
    );
    assert_eq!(
        obj["metadata"]["labels"],
        json!({"app.kubernetes.io/instance": "shop-beacon", "kubernetes-resource-handler-scope": "istio-authorization-policy"})
    );
    assert!(obj["metadata"]["annotations"][ORIGIN_ANNOTATION]
        .as_str()
        .is_some_and(|s| s.starts_with("service-mesh:")));
    assert_eq!(
        unit_status(&e, "beacon/0"),
        ("active".into(), "1 authorization policy".into())
    );
    assert_eq!(
        app_status(&e, BEACON),
        ("active".into(), "1 authorization policy".into()),
        "the leader sets the application status too"
    );

    // Change: a new port is a new policy; the old one goes.
    let p2 = policy("frontend", "catalogue", 9090);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p2)));
    assert_eq!(names(&e), vec![name_of(&p2)]);

    // A hook with nothing to change writes nothing.
    e.kube.store().clear_request_log();
    e.ctl.update_status(Some(MODEL)).expect("update-status");
    e.ctl.run_until_idle().expect("idle");
    let writes: Vec<_> = e
        .kube
        .store()
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains("authorizationpolicies") && r.verb != "list" && r.verb != "get")
        .collect();
    assert!(writes.is_empty(), "no-op hook wrote: {writes:?}");

    // Break.
    e.ctl
        .remove_relation(
            MODEL,
            &format!("{BEACON}:service-mesh"),
            "catalogue:service-mesh",
        )
        .expect("remove relation");
    e.ctl.run_until_idle().expect("idle");
    assert!(names(&e).is_empty(), "policies removed with the relation");
    assert_eq!(
        unit_status(&e, "beacon/0"),
        ("active".into(), "0 authorization policies".into())
    );
}

#[test]
fn flipping_manage_authorization_policies_removes_and_restores() {
    let e = env();
    setup(&e, &["catalogue"]);
    let p = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p)));
    assert_eq!(names(&e), vec![name_of(&p)]);

    let set = |v: &str| {
        e.ctl
            .set_config(
                MODEL,
                BEACON,
                &BTreeMap::from([("manage-authorization-policies".to_owned(), v.to_owned())]),
            )
            .expect("config");
        e.ctl.run_until_idle().expect("idle");
    };
    set("false");
    assert!(names(&e).is_empty());
    let (st, msg) = unit_status(&e, "beacon/0");
    assert_eq!(st, "active");
    assert!(msg.contains("not managed"), "{msg}");
    set("true");
    assert_eq!(names(&e), vec![name_of(&p)]);
}

#[test]
fn only_the_leader_reconciles_and_a_new_leader_takes_over() {
    let e = env();
    setup_with_units(&e, 2, &["catalogue"]);
    let p = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p)));
    assert_eq!(names(&e), vec![name_of(&p)]);

    let standby = (
        "active".to_owned(),
        "Backup unit; standing by for leader takeover".to_owned(),
    );
    assert_eq!(unit_status(&e, "beacon/1"), standby);
    assert_eq!(unit_status(&e, "beacon/0").0, "active");

    // The leader goes; beacon/1 is elected and keeps policies in step.
    e.ctl.remove_unit(MODEL, "beacon/0").expect("remove leader");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(
        unit_status(&e, "beacon/1"),
        ("active".into(), "1 authorization policy".into())
    );
    let p2 = policy("frontend", "catalogue", 7070);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p2)));
    assert_eq!(names(&e), vec![name_of(&p2)]);

    // A new unit joins as a non-leader and stands by.
    e.ctl.add_unit(MODEL, BEACON, 1).expect("add unit");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(unit_status(&e, "beacon/2"), standby);
    assert_eq!(names(&e), vec![name_of(&p2)]);
}

#[test]
fn a_unit_that_loses_leadership_stands_by_and_reconciles_again_when_it_regains_it() {
    let e = env();
    setup_with_units(&e, 2, &["catalogue"]);
    let p1 = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p1)));
    assert_eq!(names(&e), vec![name_of(&p1)]);
    let standby = (
        "active".to_owned(),
        "Backup unit; standing by for leader takeover".to_owned(),
    );

    // Leadership moves to beacon/1 without beacon/0 going away.
    e.ctl
        .move_leadership(MODEL, "beacon/1")
        .expect("move leadership");
    e.ctl.run_until_idle().expect("idle");
    let p2 = policy("frontend", "catalogue", 7070);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p2)));
    assert_eq!(names(&e), vec![name_of(&p2)], "the new leader reconciles");
    assert_eq!(
        unit_status(&e, "beacon/0"),
        standby,
        "the old leader stands by"
    );
    assert_eq!(
        unit_status(&e, "beacon/1"),
        ("active".into(), "1 authorization policy".into())
    );

    // And back: beacon/0 regains leadership and keeps policies in step again.
    e.ctl
        .move_leadership(MODEL, "beacon/0")
        .expect("move leadership back");
    e.ctl.run_until_idle().expect("idle");
    let p3 = policy("frontend", "catalogue", 6060);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p3)));
    assert_eq!(
        names(&e),
        vec![name_of(&p3)],
        "the regained leader reconciles"
    );
    assert_eq!(
        unit_status(&e, "beacon/0"),
        ("active".into(), "1 authorization policy".into())
    );
    assert_eq!(unit_status(&e, "beacon/1"), standby);
}

#[test]
fn an_api_failure_fails_the_hook_keeps_everything_and_the_retry_converges() {
    let e = env();
    setup(&e, &["catalogue"]);
    let p1 = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p1)));
    assert_eq!(names(&e), vec![name_of(&p1)]);

    // The next write to AuthorizationPolicies fails.
    let p2 = policy("frontend", "catalogue", 9090);
    e.kube.store().inject_fault(kubesim::Fault::status(
        "apply",
        "*authorizationpolicies*",
        1,
        500,
    ));
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p2)));
    let (st, _) = unit_status(&e, "beacon/0");
    assert_eq!(st, "error", "the hook failed");
    assert_eq!(names(&e), vec![name_of(&p1)], "nothing owned was lost");

    // Juju retries the failed hook; this time the API answers.
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(names(&e), vec![name_of(&p2)]);
    assert_eq!(
        unit_status(&e, "beacon/0"),
        ("active".into(), "1 authorization policy".into())
    );
}

#[test]
fn hostile_and_malformed_data_is_refused_while_other_policies_stay() {
    let e = env();
    setup(&e, &["catalogue", "intruder"]);
    let good = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&good)));
    assert_eq!(names(&e), vec![name_of(&good)]);

    // The intruder's own legitimate policy, plus entries trying to open other doors.
    let own = policy("frontend", "intruder", 8080);
    let mut other_ns = policy("frontend", "intruder", 22);
    other_ns.target_namespace = "kube-system".into();
    let other_door = policy("intruder", "catalogue", 5432);
    let mut wildcard = policy("frontend", "intruder", 443);
    wildcard.source_app_name = "*".into();
    write_policies(
        &e,
        "intruder",
        &bag(&[own.clone(), other_ns, other_door, wildcard]),
    );
    let mut want = vec![name_of(&good), name_of(&own)];
    want.sort();
    assert_eq!(names(&e), want, "only legitimate entries applied");
    assert!(e
        .kube
        .store()
        .list(AP.0, AP.1, Some("kube-system"), None)
        .map(|l| l.is_empty())
        .unwrap_or(true));
    let (st, msg) = unit_status(&e, "beacon/0");
    assert_eq!(st, "blocked");
    assert!(msg.contains("refused 3 policy entries"), "{msg}");
    assert!(msg.contains("(app intruder)"), "{msg}");
    let log = e.ctl.debug_log(MODEL).expect("debug-log");
    let refusals = log
        .iter()
        .filter(|l| format!("{l:?}").contains("refused policy data from relation service-mesh:"))
        .count();
    assert_eq!(refusals, 3, "each refusal is logged naming the relation");

    // Invalid JSON: the intruder's relation is skipped, and what it had is kept (nothing is
    // deleted because a read failed); the other relation's policy stays.
    write_policies(&e, "intruder", "[{not json");
    assert_eq!(names(&e), want);
    let (st, msg) = unit_status(&e, "beacon/0");
    assert_eq!(st, "blocked");
    assert!(msg.contains("not valid JSON"), "{msg}");

    // Meanwhile the other relation's changes still converge, stale policy pruned included.
    let good2 = policy("frontend", "catalogue", 8443);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&good2)));
    let mut want = vec![name_of(&good2), name_of(&own)];
    want.sort();
    assert_eq!(names(&e), want);

    // Fixed data: active again.
    write_policies(&e, "intruder", &bag(std::slice::from_ref(&own)));
    assert_eq!(names(&e), want);
    assert_eq!(
        unit_status(&e, "beacon/0"),
        ("active".into(), "2 authorization policies".into())
    );
}

#[test]
fn metrics_scrapers_may_reach_the_beacon_on_15090() {
    let e = env();
    setup(&e, &[]);
    let s = workload_charm(e.dir.path(), "scraper", SCRAPER);
    deploy(&e, &s, "scraper", 1, false);
    e.ctl
        .integrate(MODEL, "beacon:metrics-endpoint", "scraper:metrics-endpoint")
        .expect("integrate");
    e.ctl.run_until_idle().expect("idle");
    let live = policies_in_cluster(&e);
    assert_eq!(live.len(), 1, "{live:?}");
    let obj = live.values().next().expect("one");
    assert_eq!(
        obj["spec"]["selector"],
        json!({"matchLabels": {"app.kubernetes.io/name": "beacon"}})
    );
    assert_eq!(
        obj["spec"]["rules"][0],
        json!({"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/scraper"]}}],
               "to": [{"operation": {"ports": ["15090"]}}]})
    );
    e.ctl
        .remove_relation(MODEL, "beacon:metrics-endpoint", "scraper:metrics-endpoint")
        .expect("remove relation");
    e.ctl.run_until_idle().expect("idle");
    assert!(
        names(&e).is_empty(),
        "the scraper's access goes with its relation"
    );
}

#[test]
fn an_invalid_namespace_in_config_is_reported() {
    let e = env();
    setup(&e, &[]);
    e.ctl
        .set_config(
            MODEL,
            BEACON,
            &BTreeMap::from([(
                "cross-model-namespaces".to_owned(),
                "ok-ns, Bad_NS".to_owned(),
            )]),
        )
        .expect("config");
    e.ctl.run_until_idle().expect("idle");
    let (st, msg) = unit_status(&e, "beacon/0");
    assert_eq!(st, "blocked");
    assert!(
        msg.contains("config cross-model-namespaces: \"Bad_NS\" is not a namespace name"),
        "{msg}"
    );
}

#[test]
fn a_missing_crd_blocks_with_a_clear_message() {
    let e = env_with(vec![kubesim::GATEWAY_CRD.to_owned()]);
    setup(&e, &["catalogue"]);
    write_policies(
        &e,
        "catalogue",
        &bag(&[policy("frontend", "catalogue", 8080)]),
    );
    let (st, msg) = unit_status(&e, "beacon/0");
    assert_eq!(st, "blocked");
    assert!(msg.contains("AuthorizationPolicy CRD"), "{msg}");
}

#[test]
fn a_cross_model_service_mesh_relation_needs_the_namespace_opted_in() {
    let e = env();
    setup(&e, &[]);
    let saas = cross_model_consumer(&e, "other", "catalogue");
    e.ctl.run_until_idle().expect("idle");

    // The consumer library in model `other` targets its own namespace.
    let mut p = policy("frontend", "catalogue", 8080);
    p.source_namespace = "other".into();
    p.target_namespace = "other".into();
    let raw = format!("policies={}", bag(std::slice::from_ref(&p)));
    set_app_data(&e, "other", "catalogue/0", "service-mesh", &raw);
    let in_other = |e: &Env| {
        e.kube
            .store()
            .list(AP.0, AP.1, Some("other"), None)
            .expect("list")
            .len()
    };
    assert_eq!(in_other(&e), 0, "not opted in: nothing written there");
    let (st, msg) = unit_status(&e, "beacon/0");
    assert_eq!(st, "blocked");
    assert!(msg.contains("cross-model-namespaces"), "{msg}");

    e.ctl
        .set_config(
            MODEL,
            BEACON,
            &BTreeMap::from([("cross-model-namespaces".to_owned(), "other".to_owned())]),
        )
        .expect("config");
    e.ctl.run_until_idle().expect("idle");
    let written = e
        .kube
        .store()
        .list(AP.0, AP.1, Some("other"), None)
        .expect("list");
    assert_eq!(written.len(), 1);
    assert_eq!(written[0]["metadata"]["name"], json!(name_of(&p)));
    assert_eq!(
        written[0]["spec"]["rules"][0]["from"][0]["source"]["principals"],
        json!(["cluster.local/ns/other/sa/frontend"])
    );
    assert_eq!(unit_status(&e, "beacon/0").0, "active");

    // A listed namespace that does not exist is reported; the other namespace is unaffected.
    e.ctl
        .set_config(
            MODEL,
            BEACON,
            &BTreeMap::from([(
                "cross-model-namespaces".to_owned(),
                "other, ghost".to_owned(),
            )]),
        )
        .expect("config");
    let mut ghost = p.clone();
    ghost.target_namespace = "ghost".into();
    let raw = format!("policies={}", bag(&[p.clone(), ghost]));
    set_app_data(&e, "other", "catalogue/0", "service-mesh", &raw);
    let (st, msg) = unit_status(&e, "beacon/0");
    assert_eq!(st, "blocked");
    assert!(msg.contains("namespace \"ghost\""), "{msg}");
    assert_eq!(in_other(&e), 1);

    // Breaking the cross-model relation removes it there too.
    e.ctl
        .remove_relation("other", &saas, "catalogue:service-mesh")
        .expect("remove relation");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(in_other(&e), 0);
}

#[test]
fn a_cross_model_scraper_is_resolved_through_provide_cmr_mesh() {
    let e = env();
    setup(&e, &[]);
    e.ctl.add_model("cos").expect("model");
    let meta = "requires:\n  metrics-endpoint:\n    interface: prometheus_scrape\n  require-cmr-mesh:\n    interface: cross_model_mesh\n";
    let s = workload_charm(e.dir.path(), "prometheus-k8s", meta);
    let mut a = DeployArgs::new(&s);
    a.app = Some("prometheus-k8s".into());
    e.ctl.deploy("cos", a).expect("deploy");
    e.ctl
        .offer(MODEL, "beacon:metrics-endpoint,provide-cmr-mesh", None)
        .expect("offer");
    let saas = e.ctl.consume("cos", "shop.beacon", None).expect("consume");
    for ep in ["metrics-endpoint", "require-cmr-mesh"] {
        let theirs = if ep == "require-cmr-mesh" {
            "provide-cmr-mesh"
        } else {
            ep
        };
        e.ctl
            .integrate(
                "cos",
                &format!("{saas}:{theirs}"),
                &format!("prometheus-k8s:{ep}"),
            )
            .expect("integrate");
    }
    e.ctl.run_until_idle().expect("idle");
    set_app_data(
        &e,
        "cos",
        "prometheus-k8s/0",
        "require-cmr-mesh",
        r#"cmr_data={"app_name": "prometheus-k8s", "juju_model_name": "cos"}"#,
    );
    // Exactly the Python beacon's object for this case (vector beacon-metrics-scrape-cross-model,
    // here with beacon app `beacon` in model `shop`).
    let live = policies_in_cluster(&e);
    let principals: Vec<_> = live
        .values()
        .map(|o| o["spec"]["rules"][0]["from"][0]["source"]["principals"][0].clone())
        .collect();
    assert_eq!(
        principals,
        vec![json!("cluster.local/ns/cos/sa/prometheus-k8s")]
    );
}

#[test]
fn a_refresh_from_the_python_beacon_renames_and_recreates_nothing() {
    let e = env();
    setup(&e, &["catalogue"]);
    let p = policy("frontend", "catalogue", 8080);
    // What the Python beacon applied for this data (field manager = the application name, its
    // labels, no annotation).
    let beacon = istio_beacon::render::Beacon::new(BEACON, MODEL);
    let python_obj = istio_beacon::render::render_policy(&beacon, &p).expect("render");
    e.kube
        .store()
        .apply(python_obj, BEACON, true)
        .expect("python beacon's object");
    let before = &policies_in_cluster(&e)[&name_of(&p)];
    let uid = before["metadata"]["uid"].clone();

    e.kube.store().clear_request_log();
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p)));
    let after = policies_in_cluster(&e);
    assert_eq!(after.keys().cloned().collect::<Vec<_>>(), vec![name_of(&p)]);
    assert_eq!(
        after[&name_of(&p)]["metadata"]["uid"],
        uid,
        "same object, not recreated"
    );
    let deletes = e
        .kube
        .store()
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains("authorizationpolicies") && r.verb == "delete")
        .count();
    assert_eq!(deletes, 0);
}

#[test]
fn a_target_service_of_another_application_is_refused() {
    let e = env();
    setup(&e, &["catalogue"]);
    let store = e.kube.store();
    // A second Service of catalogue's own, and the database's Service.
    for (name, app) in [
        ("catalogue-internal", "catalogue"),
        ("database", "postgresql"),
    ] {
        store
            .create(json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": MODEL},
                "spec": {"selector": {"app.kubernetes.io/name": app}, "ports": [{"port": 80}]}
            }))
            .expect("service");
    }
    let mut internal = policy("frontend", "catalogue", 8080);
    internal.target_service = Some("catalogue-internal".into());
    let mut foreign = policy("frontend", "catalogue", 5432);
    foreign.target_service = Some("database".into());
    write_policies(&e, "catalogue", &bag(&[internal.clone(), foreign]));
    let live = policies_in_cluster(&e);
    assert_eq!(
        live.keys().cloned().collect::<Vec<_>>(),
        vec![name_of(&internal)]
    );
    assert_eq!(
        live[&name_of(&internal)]["spec"]["targetRefs"][0]["name"],
        json!("catalogue-internal")
    );
    let (st, msg) = unit_status(&e, "beacon/0");
    assert_eq!(st, "blocked");
    assert!(msg.contains("\"database\""), "{msg}");
}

#[test]
fn the_binary_also_works_through_hooks_links() {
    let e = env();
    // A charm dir without `dispatch`: one `hooks/<name>` link to the binary per hook, as older
    // Juju charms are laid out.
    let d = e.dir.path().join("charms").join("beacon-hooks");
    let hooks = d.join("hooks");
    std::fs::create_dir_all(&hooks).expect("mkdir");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["metadata.yaml", "config.yaml"] {
        std::fs::copy(repo.join(f), d.join(f)).expect("copy charm file");
    }
    let mut hook_names: Vec<String> = [
        "install",
        "start",
        "leader-elected",
        "leader-settings-changed",
        "config-changed",
        "update-status",
        "upgrade-charm",
        "stop",
        "remove",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for ep in [
        "service-mesh",
        "metrics-endpoint",
        "provide-cmr-mesh",
        "peers",
        "charm-tracing",
    ] {
        for ev in ["created", "joined", "changed", "departed", "broken"] {
            hook_names.push(format!("{ep}-relation-{ev}"));
        }
    }
    for name in hook_names {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_istio-beacon-k8s"), hooks.join(name))
            .expect("hook link");
    }
    deploy(&e, &d, BEACON, 1, true);
    let c = workload_charm(e.dir.path(), "catalogue", MESH_CONSUMER);
    deploy(&e, &c, "catalogue", 1, false);
    e.ctl
        .integrate(MODEL, "beacon:service-mesh", "catalogue:service-mesh")
        .expect("integrate");
    e.ctl.run_until_idle().expect("idle");
    let p = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p)));
    assert_eq!(names(&e), vec![name_of(&p)]);
    assert_eq!(
        unit_status(&e, "beacon/0"),
        ("active".into(), "1 authorization policy".into())
    );
}
