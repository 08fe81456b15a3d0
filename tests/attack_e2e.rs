//! Attacks on the beacon policy path, run as Juju runs it (jujusim + kubesim): hostile and
//! malformed relation data, API failures at every step, config flips, and the Python vectors
//! end to end. Every hostile entry must be refused and reported, widen nothing and remove nothing else.

mod common;

use std::collections::BTreeMap;

use common::policy::*;
use common::*;
use istio_beacon::render::ORIGIN_ANNOTATION;
use jujusim::DeployArgs;
use serde_json::{json, Value};
use service_mesh::Policy;

// ------------------------------------------------------------------------------------------
// Helpers of the attacks.

/// Every AuthorizationPolicy in the cluster, any namespace, as `namespace/name`.
fn all_policies(e: &Env) -> Vec<String> {
    let mut out: Vec<String> = e
        .kube
        .store()
        .list(AP.0, AP.1, None, None)
        .expect("list")
        .into_iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["metadata"]["namespace"].as_str().unwrap_or_default(),
                o["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    out.sort();
    out
}

fn in_shop(names: &[String]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|n| format!("{MODEL}/{n}")).collect();
    v.sort();
    v
}

/// No live rule may match every source: each rule has a `from` with non-empty principals, each
/// principal a plain `cluster.local/ns/<ns>/sa/<app>`.
fn assert_no_rule_matches_everyone(e: &Env) {
    for obj in e.kube.store().list(AP.0, AP.1, None, None).expect("list") {
        let rules = obj["spec"]["rules"].as_array().expect("rules");
        assert!(!rules.is_empty(), "{obj}");
        for rule in rules {
            let from = rule["from"].as_array().expect("from");
            assert!(!from.is_empty(), "{obj}");
            for f in from {
                let ps = f["source"]["principals"].as_array().expect("principals");
                assert!(!ps.is_empty(), "{obj}");
                for p in ps {
                    let p = p.as_str().expect("string");
                    let parts: Vec<&str> = p.split('/').collect();
                    assert_eq!(parts.len(), 5, "{p}");
                    assert!(
                        parts.iter().all(|s| !s.is_empty() && !s.contains('*')),
                        "{p}"
                    );
                }
            }
        }
    }
}

fn refusals_logged(e: &Env) -> usize {
    e.ctl
        .debug_log(MODEL)
        .expect("debug-log")
        .iter()
        .filter(|l| format!("{l:?}").contains("refused policy data from relation"))
        .count()
}

/// A raw entry as JSON, starting from the consumer library's shape for `target` on `port`.
fn entry(source: &str, target: &str, port: u16) -> Value {
    serde_json::to_value(policy(source, target, port)).expect("json")
}

fn with(mut v: Value, key: &str, val: Value) -> Value {
    v[key] = val;
    v
}

// ------------------------------------------------------------------------------------------
// Hostile entries.

#[test]
fn every_hostile_entry_is_refused_and_reported_and_widens_nothing() {
    let e = env();
    setup(&e, &["catalogue", "intruder"]);
    let good = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&good)));

    let own = entry("frontend", "intruder", 8080);
    let own_unit = json!({
        "source_namespace": MODEL, "source_app_name": "frontend",
        "target_namespace": MODEL, "target_app_name": "intruder",
        "target_selector_labels": null, "target_service": null, "target_type": "unit",
        "endpoints": [{"hosts": null, "ports": [9000], "methods": null, "paths": null}]
    });
    let unit = |endpoint: Value| with(own_unit.clone(), "endpoints", json!([endpoint]));
    let hostile: Vec<(&str, Value)> = vec![
        (
            "other namespace",
            with(own.clone(), "target_namespace", json!("kube-system")),
        ),
        (
            "empty namespace",
            with(own.clone(), "target_namespace", json!("")),
        ),
        (
            "uppercase namespace",
            with(own.clone(), "target_namespace", json!("SHOP")),
        ),
        ("another app's door", entry("intruder", "catalogue", 5432)),
        ("the beacon's door", entry("intruder", BEACON, 15090)),
        (
            "wildcard target",
            with(own.clone(), "target_app_name", json!("*")),
        ),
        (
            "uppercase target",
            with(own.clone(), "target_app_name", json!("INTRUDER")),
        ),
        (
            "service only, no app",
            with(
                with(own.clone(), "target_app_name", json!(null)),
                "target_service",
                json!("intruder"),
            ),
        ),
        (
            "another app's Service",
            with(own.clone(), "target_service", json!("catalogue")),
        ),
        (
            "wildcard source",
            with(own.clone(), "source_app_name", json!("*")),
        ),
        (
            "empty source",
            with(own.clone(), "source_app_name", json!("")),
        ),
        (
            "slash source",
            with(own.clone(), "source_app_name", json!("a/b")),
        ),
        (
            "space source",
            with(own.clone(), "source_app_name", json!("front end")),
        ),
        (
            "long source",
            with(own.clone(), "source_app_name", json!("a".repeat(64))),
        ),
        (
            "huge source",
            with(own.clone(), "source_app_name", json!("a".repeat(20_000))),
        ),
        (
            "unicode source",
            with(own.clone(), "source_app_name", json!("frontënd")),
        ),
        (
            "wildcard source namespace",
            with(own.clone(), "source_namespace", json!("*")),
        ),
        (
            "empty source namespace",
            with(own.clone(), "source_namespace", json!("")),
        ),
        (
            "principal injection",
            with(own.clone(), "source_namespace", json!("shop/sa/x/ns")),
        ),
        (
            "unit policy with paths",
            unit(json!({"ports": [9000], "paths": ["/"]})),
        ),
        (
            "unit policy with methods",
            unit(json!({"ports": [9000], "methods": ["GET"]})),
        ),
        (
            "unit policy with hosts",
            unit(json!({"ports": [9000], "hosts": ["x"]})),
        ),
        (
            "unit policy selecting another app",
            with(
                with(own_unit.clone(), "target_app_name", json!(null)),
                "target_selector_labels",
                json!({"app.kubernetes.io/name": "catalogue"}),
            ),
        ),
        (
            "unit policy selecting nothing",
            with(own_unit.clone(), "target_app_name", json!(null)),
        ),
        (
            "unit policy with a Service",
            with(own_unit.clone(), "target_service", json!("intruder")),
        ),
        ("port 0", unit(json!({"ports": [0]}))),
    ];
    let mut raw: Vec<Value> = vec![own.clone(), own.clone(), own_unit.clone()];
    raw.extend(hostile.iter().map(|(_, v)| v.clone()));
    write_policies(&e, "intruder", &Value::Array(raw).to_string());

    let own_p: Policy = serde_json::from_value(own).expect("policy");
    let own_unit_p: Policy = serde_json::from_value(own_unit).expect("policy");
    assert_eq!(
        all_policies(&e),
        in_shop(&[name_of(&good), name_of(&own_p), name_of(&own_unit_p)]),
        "only the legitimate entries, once each, and only in the beacon's namespace"
    );
    assert_no_rule_matches_everyone(&e);
    let (st, msg) = unit_status(&e, "beacon/0");
    assert_eq!(st, "blocked");
    assert!(
        msg.contains(&format!("refused {} policy entries", hostile.len())),
        "{msg}"
    );
    assert!(msg.contains("(app intruder)"), "{msg}");
    assert_eq!(
        app_status(&e, BEACON),
        (st, msg),
        "the application says so too"
    );
    assert_eq!(
        refusals_logged(&e),
        hostile.len(),
        "each refusal logged once"
    );
    // No entry made the beacon read anything outside its namespace.
    let foreign_reads: Vec<_> = e
        .kube
        .store()
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains("/namespaces/kube-system"))
        .collect();
    assert!(foreign_reads.is_empty(), "{foreign_reads:?}");
}

#[test]
fn malformed_bags_keep_what_the_relation_had_and_touch_no_other_relation() {
    let e = env();
    setup(&e, &["catalogue", "intruder"]);
    let good = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&good)));
    let own = policy("frontend", "intruder", 8080);
    write_policies(&e, "intruder", &bag(std::slice::from_ref(&own)));
    let want = in_shop(&[name_of(&good), name_of(&own)]);
    assert_eq!(all_policies(&e), want);

    let own_v = serde_json::to_value(&own).expect("json");
    let endpoint = |ep: Value| with(own_v.clone(), "endpoints", json!([ep])).to_string();
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let shapes: Vec<(&str, String)> = vec![
        ("object", r#"{"policies": []}"#.into()),
        ("string", r#""frontend""#.into()),
        ("number", "42".into()),
        ("null", "null".into()),
        ("bool", "true".into()),
        ("list of null", "[null]".into()),
        ("list of numbers", "[1, 2]".into()),
        ("list of lists", "[[]]".into()),
        ("deeply nested", deep),
        ("truncated", format!("[{}", own_v)),
        (
            "port too big",
            format!("[{}]", endpoint(json!({"ports": [70000]}))),
        ),
        (
            "negative port",
            format!("[{}]", endpoint(json!({"ports": [-1]}))),
        ),
        (
            "port as string",
            format!("[{}]", endpoint(json!({"ports": ["80"]}))),
        ),
        (
            "port as float",
            format!("[{}]", endpoint(json!({"ports": [80.5]}))),
        ),
        (
            "unknown method",
            format!(
                "[{}]",
                endpoint(json!({"ports": [80], "methods": ["FETCH"]}))
            ),
        ),
        (
            "endpoints not a list",
            format!("[{}]", with(own_v.clone(), "endpoints", json!("all"))),
        ),
        (
            "unknown target type",
            format!("[{}]", with(own_v.clone(), "target_type", json!("cluster"))),
        ),
        (
            "name is a number",
            format!("[{}]", with(own_v.clone(), "source_app_name", json!(7))),
        ),
        (
            "name is an object",
            format!(
                "[{}]",
                with(own_v.clone(), "target_app_name", json!({"a": 1}))
            ),
        ),
        (
            "labels not strings",
            format!(
                "[{}]",
                with(own_v.clone(), "target_selector_labels", json!({"a": [1]}))
            ),
        ),
        (
            "missing source",
            format!(
                "[{}]",
                json!({"target_namespace": MODEL, "target_app_name": "intruder"})
            ),
        ),
        ("NUL bytes", "[\"\\u0000\"]".into()),
    ];
    // Every shape is checked against the pure gathering in tests/attack_render.rs; through
    // the binary, a representative few (each costs a round of hooks).
    let through_juju = [
        "object",
        "null",
        "deeply nested",
        "truncated",
        "port too big",
        "unknown target type",
        "NUL bytes",
    ];
    for (what, raw) in shapes.iter().filter(|(w, _)| through_juju.contains(w)) {
        write_policies(&e, "intruder", raw);
        assert_eq!(
            all_policies(&e),
            want,
            "{what}: nothing lost, nothing added"
        );
        let (st, msg) = unit_status(&e, "beacon/0");
        assert_eq!(st, "blocked", "{what}");
        assert!(
            msg.contains("service-mesh:") && msg.contains("(app intruder)"),
            "{what}: {msg}"
        );
    }
    // The other relation still converges while the intruder's bag is junk.
    let good2 = policy("frontend", "catalogue", 8443);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&good2)));
    assert_eq!(all_policies(&e), in_shop(&[name_of(&good2), name_of(&own)]));

    // A bag mixing a new valid entry with junk: the valid one is applied, the old one kept
    // (its relation is not fully readable), the junk reported.
    let own2 = policy("frontend", "intruder", 9443);
    let raw = format!(
        "[{}, {{\"junk\": true}}]",
        serde_json::to_string(&own2).expect("json")
    );
    write_policies(&e, "intruder", &raw);
    assert_eq!(
        all_policies(&e),
        in_shop(&[name_of(&good2), name_of(&own), name_of(&own2)])
    );
    // Fixed: converges, active.
    write_policies(&e, "intruder", &bag(std::slice::from_ref(&own2)));
    assert_eq!(
        all_policies(&e),
        in_shop(&[name_of(&good2), name_of(&own2)])
    );
    assert_eq!(unit_status(&e, "beacon/0").0, "active");
}

#[test]
fn a_huge_list_is_applied_and_shrinks_back() {
    let e = env();
    setup(&e, &["catalogue"]);
    let many: Vec<Policy> = (1..=120)
        .map(|p| policy("frontend", "catalogue", p))
        .collect();
    write_policies(&e, "catalogue", &bag(&many));
    assert_eq!(names(&e).len(), 120);
    assert_eq!(
        unit_status(&e, "beacon/0"),
        ("active".into(), "120 authorization policies".into())
    );
    let one = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&one)));
    assert_eq!(names(&e), vec![name_of(&one)]);
}

#[test]
fn a_policy_two_relations_want_survives_one_of_them_going() {
    let e = env();
    setup(&e, &["catalogue", "twin"]);
    // Identical entries (same target, so only one of the two can own that door legitimately;
    // the other is refused). Then the same policy rendered from the beacon's own metrics path.
    let p = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p)));
    write_policies(&e, "twin", &bag(std::slice::from_ref(&p)));
    assert_eq!(names(&e), vec![name_of(&p)]);
    let origins =
        policies_in_cluster(&e)[&name_of(&p)]["metadata"]["annotations"][ORIGIN_ANNOTATION].clone();
    assert_eq!(
        origins.as_str().map(|s| s.split(',').count()),
        Some(1),
        "the twin's copy is refused, it does not co-own catalogue's policy: {origins}"
    );
    // The twin going away removes nothing of catalogue's.
    e.ctl
        .remove_relation(MODEL, "beacon:service-mesh", "twin:service-mesh")
        .expect("remove");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(names(&e), vec![name_of(&p)]);
}

// ------------------------------------------------------------------------------------------
// Cross-model identity.

#[test]
fn an_in_model_scraper_cannot_claim_another_identity_through_cmr_data() {
    let e = env();
    setup(&e, &[]);
    let meta = "requires:\n  metrics-endpoint:\n    interface: prometheus_scrape\n  require-cmr-mesh:\n    interface: cross_model_mesh\n";
    let s = workload_charm(e.dir.path(), "scraper", meta);
    deploy(&e, &s, "scraper", 1, false);
    e.ctl
        .integrate(MODEL, "beacon:metrics-endpoint", "scraper:metrics-endpoint")
        .expect("integrate");
    e.ctl
        .integrate(MODEL, "beacon:provide-cmr-mesh", "scraper:require-cmr-mesh")
        .expect("integrate");
    e.ctl.run_until_idle().expect("idle");
    let principals = |e: &Env| -> Vec<Value> {
        policies_in_cluster(e)
            .values()
            .map(|o| o["spec"]["rules"][0]["from"][0]["source"]["principals"][0].clone())
            .collect()
    };
    assert_eq!(
        principals(&e),
        vec![json!("cluster.local/ns/shop/sa/scraper")]
    );

    // The scraper is in this model: Juju already says who it is. Its cmr_data naming some other
    // application in some other namespace must not move the grant to that identity.
    set_app_data(
        &e,
        MODEL,
        "scraper/0",
        "require-cmr-mesh",
        r#"cmr_data={"app_name": "admin", "juju_model_name": "kube-system"}"#,
    );
    let got = principals(&e);
    assert!(
        !got.contains(&json!("cluster.local/ns/kube-system/sa/admin")),
        "an in-model relation's cmr_data gave port 15090 to another identity: {got:?}"
    );
    assert_eq!(got, vec![json!("cluster.local/ns/shop/sa/scraper")]);
    let (st, msg) = unit_status(&e, "beacon/0");
    assert_eq!(st, "blocked", "the spoofing attempt is reported: {msg}");
    assert!(msg.contains("provide-cmr-mesh:"), "{msg}");
}

// ------------------------------------------------------------------------------------------
// Config flips.

#[test]
fn dropping_a_namespace_from_cross_model_namespaces_removes_what_was_written_there() {
    let e = env();
    setup(&e, &[]);
    cross_model_consumer(&e, "other", "catalogue");
    let set_ns = |v: &str| {
        e.ctl
            .set_config(
                MODEL,
                BEACON,
                &BTreeMap::from([("cross-model-namespaces".to_owned(), v.to_owned())]),
            )
            .expect("config");
        e.ctl.run_until_idle().expect("idle");
    };
    set_ns("other");
    let mut p = policy("frontend", "catalogue", 8080);
    p.source_namespace = "other".into();
    p.target_namespace = "other".into();
    let raw = format!("policies={}", bag(std::slice::from_ref(&p)));
    set_app_data(&e, "other", "catalogue/0", "service-mesh", &raw);
    assert_eq!(all_policies(&e), vec![format!("other/{}", name_of(&p))]);

    // The operator withdraws the opt-in: the beacon may no longer write there, so the allow
    // rule it wrote there must not outlive the permission.
    set_ns("");
    assert_eq!(
        all_policies(&e),
        Vec::<String>::new(),
        "a policy in a namespace no longer opted in is left behind, still allowing traffic"
    );
    assert_eq!(
        unit_status(&e, "beacon/0").0,
        "blocked",
        "the entry is now refused"
    );
}

#[test]
fn management_off_then_app_removal_leave_nothing_in_opted_in_namespaces() {
    let e = env();
    setup(&e, &[]);
    cross_model_consumer(&e, "other", "catalogue");
    let set = |k: &str, v: &str| {
        e.ctl
            .set_config(
                MODEL,
                BEACON,
                &BTreeMap::from([(k.to_owned(), v.to_owned())]),
            )
            .expect("config");
        e.ctl.run_until_idle().expect("idle");
    };
    set("cross-model-namespaces", "other");
    let mut p = policy("frontend", "catalogue", 8080);
    p.source_namespace = "other".into();
    p.target_namespace = "other".into();
    let raw = format!("policies={}", bag(std::slice::from_ref(&p)));
    set_app_data(&e, "other", "catalogue/0", "service-mesh", &raw);
    assert_eq!(all_policies(&e).len(), 1);
    set("manage-authorization-policies", "false");
    assert_eq!(all_policies(&e), Vec::<String>::new());
    set("manage-authorization-policies", "true");
    assert_eq!(all_policies(&e).len(), 1);
    e.ctl.remove_application(MODEL, BEACON).expect("remove app");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(
        all_policies(&e),
        Vec::<String>::new(),
        "removal cleans up everywhere"
    );
}

// ------------------------------------------------------------------------------------------
// API failures.

fn fault(e: &Env, verb: &str, count: u32, code: u16) {
    e.kube.store().inject_fault(kubesim::Fault::status(
        verb,
        "*authorizationpolicies*",
        count,
        code,
    ));
}

#[test]
fn a_failing_list_fails_the_hook_and_loses_nothing() {
    let e = env();
    setup(&e, &["catalogue", "reviews"]);
    let c = policy("frontend", "catalogue", 8080);
    let r = policy("frontend", "reviews", 9080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&c)));
    write_policies(&e, "reviews", &bag(std::slice::from_ref(&r)));
    let before = all_policies(&e);

    fault(&e, "list", 1, 500);
    let c2 = policy("frontend", "catalogue", 8081);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&c2)));
    assert_eq!(unit_status(&e, "beacon/0").0, "error", "the hook failed");
    assert_eq!(all_policies(&e), before, "nothing changed, nothing lost");
    // Juju retries the hook: converged, and the reviews policy was never deleted.
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(all_policies(&e), in_shop(&[name_of(&c2), name_of(&r)]));
    let deletes: Vec<_> = e
        .kube
        .store()
        .request_log()
        .into_iter()
        .filter(|x| x.verb == "delete" && x.path.contains(&name_of(&r)))
        .collect();
    assert!(deletes.is_empty(), "{deletes:?}");
}

#[test]
fn a_failing_delete_on_relation_broken_keeps_the_rest_and_the_retry_removes_it() {
    let e = env();
    setup(&e, &["catalogue", "reviews"]);
    let c = policy("frontend", "catalogue", 8080);
    let r = policy("frontend", "reviews", 9080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&c)));
    write_policies(&e, "reviews", &bag(std::slice::from_ref(&r)));

    // Every delete fails for a while: the hook errors, Juju retries, still failing.
    fault(&e, "delete", 1000, 500);
    e.ctl
        .remove_relation(MODEL, "beacon:service-mesh", "catalogue:service-mesh")
        .expect("remove");
    let _ = e.ctl.run_until_idle();
    assert_eq!(unit_status(&e, "beacon/0").0, "error");
    assert!(
        all_policies(&e).contains(&format!("{MODEL}/{}", name_of(&r))),
        "the other relation's policy stays"
    );
    // The API heals; the retried hook converges.
    e.kube.store().clear_faults();
    e.ctl.resolve(MODEL, "beacon/0").expect("resolve");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(all_policies(&e), in_shop(&[name_of(&r)]));
    assert_eq!(
        unit_status(&e, "beacon/0"),
        ("active".into(), "1 authorization policy".into())
    );
}

#[test]
fn relation_broken_while_the_api_is_unreachable_converges_later() {
    let e = env();
    setup(&e, &["catalogue", "reviews"]);
    let c = policy("frontend", "catalogue", 8080);
    let r = policy("frontend", "reviews", 9080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&c)));
    write_policies(&e, "reviews", &bag(std::slice::from_ref(&r)));

    e.kube.store().inject_fault(kubesim::Fault::drop_connection(
        "*",
        "*authorizationpolicies*",
        1000,
    ));
    e.ctl
        .remove_relation(MODEL, "beacon:service-mesh", "catalogue:service-mesh")
        .expect("remove");
    let _ = e.ctl.run_until_idle();
    assert_eq!(unit_status(&e, "beacon/0").0, "error");
    assert_eq!(all_policies(&e).len(), 2, "nothing deleted blindly");
    e.kube.store().clear_faults();
    // Not the retry of the same hook: the operator skips it; the next ordinary hook converges.
    e.ctl.resolve_no_retry(MODEL, "beacon/0").expect("resolve");
    e.ctl.update_status(Some(MODEL)).expect("update-status");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(all_policies(&e), in_shop(&[name_of(&r)]));
}

#[test]
fn management_off_while_deletes_fail_converges_and_on_again_restores() {
    let e = env();
    setup(&e, &["catalogue"]);
    let c = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&c)));
    fault(&e, "delete", 1000, 500);
    e.ctl
        .set_config(
            MODEL,
            BEACON,
            &BTreeMap::from([(
                "manage-authorization-policies".to_owned(),
                "false".to_owned(),
            )]),
        )
        .expect("config");
    let _ = e.ctl.run_until_idle();
    assert_eq!(unit_status(&e, "beacon/0").0, "error");
    assert_eq!(names(&e), vec![name_of(&c)]);
    e.kube.store().clear_faults();
    e.ctl.resolve(MODEL, "beacon/0").expect("resolve");
    e.ctl.run_until_idle().expect("idle");
    assert!(names(&e).is_empty());
    e.ctl
        .set_config(
            MODEL,
            BEACON,
            &BTreeMap::from([(
                "manage-authorization-policies".to_owned(),
                "true".to_owned(),
            )]),
        )
        .expect("config");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(names(&e), vec![name_of(&c)]);
}

#[test]
fn a_leader_change_while_data_changes_converges_on_the_new_leader() {
    let e = env();
    setup_with_units(&e, 2, &["catalogue"]);
    let p = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&p)));
    // The leader's next write fails, then the leader goes away before the retry.
    fault(&e, "apply", 1, 500);
    let p2 = policy("frontend", "catalogue", 9090);
    let unit = "catalogue/0";
    let id = relation_id(&e, MODEL, unit, "service-mesh");
    let out = e
        .ctl
        .exec(
            MODEL,
            unit,
            &[
                "relation-set".into(),
                "-r".into(),
                id,
                "--app".into(),
                format!("policies={}", bag(std::slice::from_ref(&p2))),
            ],
        )
        .expect("relation-set");
    assert_eq!(out.code, 0);
    e.ctl.remove_unit(MODEL, "beacon/0").expect("remove leader");
    e.ctl.run_until_idle().expect("idle");
    // Whichever unit met the fault is in error; Juju retries it.
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(names(&e), vec![name_of(&p2)]);
    assert_eq!(
        unit_status(&e, "beacon/1"),
        ("active".into(), "1 authorization policy".into())
    );
}

// ------------------------------------------------------------------------------------------
// The Python vectors, end to end: the bag a workload writes, byte for byte from the vector,
// becomes exactly the Python beacon's objects in the cluster.

const VECTORS: &str = include_str!("../data/fixtures/service-mesh-vectors.json");

#[test]
fn the_vectors_written_as_relation_data_become_exactly_the_python_objects() {
    let vectors: Value = serde_json::from_str(VECTORS).expect("vectors");
    let mut checked = 0;
    for case in vectors["results"].as_array().expect("list") {
        let id = case["id"].as_str().unwrap_or("?");
        if id == "beacon-metrics-scrape-cross-model" {
            // Not relation data of service-mesh; covered by policy_e2e's cross-model scraper.
            continue;
        }
        if id == "long-names-truncated" {
            // Its ownership label value is over 63 characters: no API server accepts the
            // object. See `a_model_and_app_name_over_62_characters_can_still_hold_policies`.
            continue;
        }
        let model = case["beacon_model"].as_str().expect("model");
        let beacon_app = case["beacon_app"].as_str().expect("app");
        let raw = case["policies_databag"].as_str().expect("bag");
        let entries: Vec<Value> = serde_json::from_str(raw).expect("bag json");
        let target = entries[0]["target_app_name"].as_str().expect("target");
        assert!(
            entries.iter().all(|e| e["target_app_name"] == target),
            "{id}"
        );

        let Env { kube, dir, ctl } = start_in(model, istio_crds());
        let mut a = DeployArgs::new(beacon_charm(dir.path()));
        a.app = Some(beacon_app.to_owned());
        a.trust = true;
        ctl.deploy(model, a).expect("deploy beacon");
        let mut a = DeployArgs::new(workload_charm(dir.path(), target, MESH_CONSUMER));
        a.app = Some(target.to_owned());
        ctl.deploy(model, a).expect("deploy workload");
        ctl.integrate(
            model,
            &format!("{beacon_app}:service-mesh"),
            &format!("{target}:service-mesh"),
        )
        .expect("integrate");
        // A target_service must be the application's own Service.
        for svc in entries.iter().filter_map(|e| e["target_service"].as_str()) {
            kube.store()
                .create(json!({
                    "apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": svc, "namespace": model},
                    "spec": {"selector": {"app.kubernetes.io/name": target}, "ports": [{"port": 80}]}
                }))
                .expect("service");
        }
        ctl.run_until_idle().expect("idle");
        let unit = format!("{target}/0");
        let rid = ctl
            .exec(
                model,
                &unit,
                &["relation-ids".into(), "service-mesh".into()],
            )
            .expect("relation-ids")
            .stdout
            .trim()
            .to_owned();
        let out = ctl
            .exec(
                model,
                &unit,
                &[
                    "relation-set".into(),
                    "-r".into(),
                    rid,
                    "--app".into(),
                    format!("policies={raw}"),
                ],
            )
            .expect("relation-set");
        assert_eq!(out.code, 0, "{id}: {}", out.stderr);
        ctl.run_until_idle().expect("idle");

        let live = policies_by_name(&kube, None);
        let want = case["authorization_policies"].as_array().expect("objects");

        assert_eq!(live.len(), want.len(), "{id}: {:?}", live.keys());
        for w in want {
            let name = w["metadata"]["name"].as_str().expect("name");
            let got = live
                .get(name)
                .unwrap_or_else(|| panic!("{id}: {name} missing; have {:?}", live.keys()));
            for field in ["apiVersion", "kind", "spec"] {
                assert_eq!(got[field], w[field], "{id}: {name}: {field}");
            }
            for field in ["namespace", "labels"] {
                assert_eq!(
                    got["metadata"][field], w["metadata"][field],
                    "{id}: {name}: {field}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked, 6,
        "every appliable service-mesh vector object checked"
    );
}

#[test]
#[ignore = "defect (open, needs a decision): the ownership label app.kubernetes.io/instance=<model>-<app> \
            is over 63 characters when model and app names together exceed 62, so the API server \
            rejects every owned object (422) and every hook fails; the vectors (long-names-truncated) \
            require that label verbatim, as the Python beacon writes it (and fails the same way)"]
fn a_model_and_app_name_over_62_characters_can_still_hold_policies() {
    let vectors: Value = serde_json::from_str(VECTORS).expect("vectors");
    let case = vectors["results"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["id"] == "long-names-truncated")
        .expect("vector")
        .clone();
    let label = case["authorization_policies"][0]["metadata"]["labels"]
        ["app.kubernetes.io/instance"]
        .as_str()
        .expect("label")
        .to_owned();
    // What a workload in such a model asks for, rendered by the beacon, applied as the
    // beacon applies it: the API server must accept it.
    let kube = kubesim::Server::start(kubesim::Config {
        crd_yaml: vec![kubesim::ISTIO_AUTHORIZATION_POLICY_CRD.to_owned()],
        ..kubesim::Config::default()
    })
    .expect("kubesim");
    let model = case["beacon_model"].as_str().expect("model");
    kube.store()
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": model}}))
        .expect("namespace");
    let beacon =
        istio_beacon::render::Beacon::new(case["beacon_app"].as_str().expect("app"), model);
    let policies: Vec<Policy> =
        serde_json::from_str(case["policies_databag"].as_str().expect("bag")).expect("bag");
    let obj = istio_beacon::render::render_policy(&beacon, &policies[0]).expect("render");
    let applied = kube.store().apply(obj, beacon.app.as_str(), true);
    assert!(
        applied.is_ok(),
        "instance label {label:?} ({} chars) is refused: {applied:?}",
        label.len()
    );
}

#[test]
fn an_entry_the_api_server_refuses_does_not_wedge_the_beacon() {
    let e = env();
    setup(&e, &["catalogue", "intruder", "reviews"]);
    let c = policy("frontend", "catalogue", 8080);
    let r = policy("frontend", "reviews", 9080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&c)));
    write_policies(&e, "reviews", &bag(std::slice::from_ref(&r)));

    // Its own door, valid in every field, but an object no API server stores (over the request
    // size limit).
    let mut huge = policy("frontend", "intruder", 8080);
    huge.endpoints[0].paths = Some((0..30_000).map(|i| format!("/{i:0>99}")).collect());
    write_policies_file(&e, "intruder", &bag(std::slice::from_ref(&huge)));
    // Juju retries a failed hook; give it a few rounds.
    for _ in 0..3 {
        let _ = e.ctl.run_until_idle();
    }
    // Meanwhile another relation goes away: its access must be revoked, not kept because one
    // unrelated object cannot be written.
    e.ctl
        .remove_relation(MODEL, "beacon:service-mesh", "catalogue:service-mesh")
        .expect("remove");
    for _ in 0..3 {
        let _ = e.ctl.run_until_idle();
    }
    assert_eq!(
        all_policies(&e),
        in_shop(&[name_of(&r)]),
        "catalogue's access revoked, reviews' kept, the huge one absent"
    );
    let (st, msg) = unit_status(&e, "beacon/0");
    assert_eq!(st, "blocked", "{msg}");
    assert!(
        msg.contains("the API server refused 1 authorization policy asked for by service-mesh:")
            && msg.contains("(app intruder)"),
        "{msg}"
    );
}

#[test]
fn a_beacon_never_deletes_another_beacons_policies_in_an_opted_in_namespace() {
    // Ownership labels are the Python beacon's `app.kubernetes.io/instance: <model>-<app>`:
    // beacon `c` of model `a-b` and beacon `b-c` of model `a` both own "a-b-c".
    let e = env();
    e.ctl.add_model("a").expect("model");
    e.ctl.add_model("a-b").expect("model");
    let beacon = beacon_charm(e.dir.path());
    for (model, app) in [("a", "b-c"), ("a-b", "c")] {
        let mut d = DeployArgs::new(&beacon);
        d.app = Some(app.to_owned());
        d.trust = true;
        e.ctl.deploy(model, d).expect("deploy beacon");
    }
    let w = workload_charm(e.dir.path(), "catalogue", MESH_CONSUMER);
    let mut d = DeployArgs::new(&w);
    d.app = Some("catalogue".into());
    e.ctl.deploy("a", d).expect("deploy");
    e.ctl
        .integrate("a", "b-c:service-mesh", "catalogue:service-mesh")
        .expect("integrate");
    e.ctl.run_until_idle().expect("idle");
    let mut p = policy("frontend", "catalogue", 8080);
    p.source_namespace = "a".into();
    p.target_namespace = "a".into();
    let raw = format!("policies={}", bag(std::slice::from_ref(&p)));
    set_app_data(&e, "a", "catalogue/0", "service-mesh", &raw);
    let in_a = |e: &Env| {
        e.kube
            .store()
            .list(AP.0, AP.1, Some("a"), None)
            .expect("list")
            .len()
    };
    assert_eq!(in_a(&e), 1, "b-c's policy for catalogue");

    // The other beacon is allowed to write into `a` for its own cross-model consumers.
    e.ctl
        .set_config(
            "a-b",
            "c",
            &BTreeMap::from([("cross-model-namespaces".to_owned(), "a".to_owned())]),
        )
        .expect("config");
    e.ctl.run_until_idle().expect("idle");
    e.ctl.update_status(None).expect("update-status");
    e.ctl.run_until_idle().expect("idle");
    assert_eq!(in_a(&e), 1, "beacon c deleted beacon b-c's policy");
}

#[test]
fn a_huge_hostile_value_is_reported_without_breaking_the_hook() {
    let e = env();
    setup(&e, &["catalogue", "intruder"]);
    let c = policy("frontend", "catalogue", 8080);
    write_policies(&e, "catalogue", &bag(std::slice::from_ref(&c)));
    // First in the bag, so it is quoted in the status message.
    let mut huge = policy("frontend", "intruder", 8080);
    huge.source_app_name = "x".repeat(300_000);
    write_policies_file(&e, "intruder", &bag(std::slice::from_ref(&huge)));
    let (st, msg) = unit_status(&e, "beacon/0");
    assert_eq!(st, "blocked", "{}", &msg[..msg.len().min(300)]);
    assert!(msg.len() < 2_000, "status message of {} bytes", msg.len());
    assert!(msg.contains("(app intruder)"), "{msg}");
    assert_eq!(names(&e), vec![name_of(&c)]);
}
