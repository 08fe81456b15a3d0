//! The pure renderer against the Python beacon's vectors, and the security refusals.

use std::collections::BTreeSet;

use istio_beacon::inputs::{gather, RelationSnapshot};
use istio_beacon::render::{
    policy_name, render_all, render_policy, services_to_check, validate, Beacon, Candidate, Origin,
    OriginKind, Refusal, Rules, ServiceInfo, ORIGIN_ANNOTATION,
};
use serde_json::{json, Value};
use service_mesh::Policy;

const VECTORS: &str = include_str!("../data/fixtures/service-mesh-vectors.json");

fn vectors() -> Vec<Value> {
    let v: Value = serde_json::from_str(VECTORS).expect("vendored vectors are JSON");
    v["results"].as_array().expect("results list").clone()
}

fn policies_of(case: &Value) -> Vec<Policy> {
    let raw = case["policies_databag"].as_str().expect("databag string");
    serde_json::from_str(raw).expect("vector databag parses")
}

fn beacon_of(case: &Value) -> Beacon {
    Beacon::new(
        case["beacon_app"].as_str().expect("beacon_app"),
        case["beacon_model"].as_str().expect("beacon_model"),
    )
}

fn origin(endpoint: &str, id: u64, remote_app: &str, kind: OriginKind) -> Origin {
    Origin {
        endpoint: endpoint.into(),
        relation_id: id,
        remote_app: remote_app.into(),
        kind,
        cross_model: Some(false),
    }
}

#[test]
fn every_vector_renders_to_exactly_the_python_objects() {
    let cases = vectors();
    assert!(cases.len() >= 6, "all vector cases present");
    let mut rendered_count = 0;
    for case in &cases {
        let id = case["id"].as_str().unwrap_or("?");
        let beacon = beacon_of(case);
        let policies = policies_of(case);
        let expected = case["authorization_policies"].as_array().expect("list");
        let preimages = case["name_hash_preimages"].as_array().expect("list");
        assert_eq!(policies.len(), expected.len(), "{id}");
        for ((policy, want), preimage) in policies.iter().zip(expected).zip(preimages) {
            assert_eq!(
                policy.name_hash_preimage(),
                preimage.as_str().expect("string"),
                "{id}: preimage"
            );
            let got = render_policy(&beacon, policy).expect("vector renders");
            assert_eq!(&got, want, "{id}: object");
            // Byte-for-byte the same name, too (JSON equality above covers it, but the name is
            // what a refresh must keep).
            assert_eq!(
                got["metadata"]["name"], want["metadata"]["name"],
                "{id}: name"
            );
            rendered_count += 1;
        }
    }
    assert_eq!(rendered_count, 8);
}

#[test]
fn every_vector_passes_the_security_checks_in_its_natural_relation() {
    for case in vectors() {
        let beacon = beacon_of(&case);
        for policy in policies_of(&case) {
            let target = policy
                .target_app_name
                .clone()
                .expect("vectors name the target");
            // The beacon's own metrics policy is derived by the beacon; the others come from the
            // target application over service-mesh.
            let kind = if target == beacon.app {
                OriginKind::Beacon
            } else {
                OriginKind::RelationData
            };
            let c = Candidate {
                origin: origin("service-mesh", 1, &target, kind),
                policy,
            };
            // A Service other than the application's own must select the application's pods.
            let mut rules = Rules::default();
            for key in services_to_check(&beacon, &rules, std::slice::from_ref(&c)) {
                rules
                    .services
                    .insert(key, ServiceInfo::Selects(Some(target.clone())));
            }
            assert_eq!(validate(&beacon, &rules, &c), Ok(()), "{}", case["id"]);
        }
    }
}

#[test]
fn render_all_annotates_origins_and_deduplicates() {
    let case = &vectors()[0];
    let beacon = beacon_of(case);
    let p = policies_of(case).remove(0);
    let candidates = vec![
        Candidate {
            origin: origin(
                "service-mesh",
                4,
                "bookinfo-details-k8s",
                OriginKind::RelationData,
            ),
            policy: p.clone(),
        },
        Candidate {
            origin: origin(
                "service-mesh",
                7,
                "bookinfo-details-k8s",
                OriginKind::RelationData,
            ),
            policy: p,
        },
    ];
    let out = render_all(&beacon, &Rules::default(), &candidates);
    assert!(out.refusals.is_empty());
    assert_eq!(out.objects.len(), 1);
    let obj = &out.objects[0];
    assert_eq!(
        obj["metadata"]["annotations"][ORIGIN_ANNOTATION],
        json!("service-mesh:4,service-mesh:7")
    );
    // Apart from the annotation it is the vector's object.
    let mut bare = obj.clone();
    bare["metadata"]
        .as_object_mut()
        .expect("metadata")
        .remove("annotations");
    assert_eq!(&bare, &case["authorization_policies"][0]);
}

fn base_policy() -> Policy {
    serde_json::from_value(json!({
        "source_namespace": "shop", "source_app_name": "frontend",
        "target_namespace": "shop", "target_app_name": "catalogue",
        "target_selector_labels": null, "target_service": null, "target_type": "app",
        "endpoints": [{"hosts": null, "ports": [8080], "methods": ["GET"], "paths": ["/api/*"]}]
    }))
    .expect("policy")
}

fn check(
    policy: Policy,
    remote_app: &str,
    cross_model: Option<bool>,
    rules: &Rules,
) -> Result<(), Refusal> {
    let beacon = Beacon::new("beacon", "shop");
    let c = Candidate {
        origin: Origin {
            endpoint: "service-mesh".into(),
            relation_id: 3,
            remote_app: remote_app.into(),
            kind: OriginKind::RelationData,
            cross_model,
        },
        policy,
    };
    validate(&beacon, rules, &c).and_then(|()| render_policy(&beacon, &c.policy).map(|_| ()))
}

#[test]
fn a_valid_in_model_entry_is_accepted() {
    assert_eq!(
        check(base_policy(), "catalogue", Some(false), &Rules::default()),
        Ok(())
    );
    assert_eq!(
        check(base_policy(), "catalogue", None, &Rules::default()),
        Ok(())
    );
}

#[test]
fn another_namespace_is_refused_unless_opted_in_for_cross_model() {
    let mut p = base_policy();
    p.target_namespace = "kube-system".into();
    assert_eq!(
        check(p.clone(), "catalogue", None, &Rules::default()),
        Err(Refusal::ForeignNamespace {
            namespace: "kube-system".into()
        })
    );
    let rules = Rules {
        extra_namespaces: BTreeSet::from(["kube-system".to_owned()]),
        ..Rules::default()
    };
    // Opted in: a cross-model relation may write there...
    assert_eq!(check(p.clone(), "remote-abc", Some(true), &rules), Ok(()));
    // ...an in-model application still may not: its door is in this model.
    assert!(matches!(
        check(p, "catalogue", Some(false), &rules),
        Err(Refusal::InModelForeignNamespace { .. })
    ));
}

#[test]
fn a_charm_may_only_open_its_own_door() {
    // frontend writes a policy opening catalogue's door.
    assert_eq!(
        check(base_policy(), "frontend", Some(false), &Rules::default()),
        Err(Refusal::NotOwnDoor {
            target: Some("catalogue".into()),
            remote_app: "frontend".into()
        })
    );
    // A unit policy selecting other pods by label has no target application: refused.
    let p: Policy = serde_json::from_value(json!({
        "source_namespace": "shop", "source_app_name": "frontend", "target_namespace": "shop",
        "target_app_name": null, "target_selector_labels": {"app.kubernetes.io/name": "db"},
        "target_type": "unit", "endpoints": [{"ports": [5432]}]
    }))
    .expect("policy");
    assert!(matches!(
        check(p, "frontend", Some(false), &Rules::default()),
        Err(Refusal::NotOwnDoor { target: None, .. })
    ));
    // A cross-model application's door is never in this namespace.
    assert!(matches!(
        check(base_policy(), "catalogue", Some(true), &Rules::default()),
        Err(Refusal::NotOwnDoor { .. })
    ));
}

#[test]
fn wildcard_and_malformed_names_are_refused() {
    let cases: Vec<(&str, &str)> = vec![
        ("source_app_name", "*"),
        ("source_app_name", ""),
        ("source_app_name", "front end"),
        ("source_namespace", "*"),
        ("source_namespace", "a/b"),
        ("source_namespace", ""),
        ("target_service", "*"),
        ("target_service", "svc/x"),
        ("target_service", ""),
    ];
    for (field, value) in cases {
        let mut v = serde_json::to_value(base_policy()).expect("serialise");
        v[field] = json!(value);
        let p: Policy = serde_json::from_value(v).expect("still a policy");
        let got = check(p, "catalogue", Some(false), &Rules::default());
        assert!(
            matches!(got, Err(Refusal::InvalidName { .. })),
            "{field}={value:?} gave {got:?}"
        );
    }
    // The target application itself.
    let mut p = base_policy();
    p.target_app_name = Some("*".into());
    assert!(check(p, "*", Some(false), &Rules::default()).is_err());
}

#[test]
fn a_unit_policy_with_l7_fields_is_refused_not_trimmed() {
    for (field, value) in [
        ("methods", json!(["GET"])),
        ("paths", json!(["/x"])),
        ("hosts", json!(["a.example"])),
    ] {
        let mut v = serde_json::to_value(base_policy()).expect("serialise");
        v["target_type"] = json!("unit");
        v["endpoints"] = json!([{ "ports": [8080], field: value }]);
        let p: Policy = serde_json::from_value(v).expect("policy");
        assert_eq!(
            check(p, "catalogue", Some(false), &Rules::default()),
            Err(Refusal::UnitPolicyWithL7(match field {
                "methods" => "methods",
                "paths" => "paths",
                _ => "hosts",
            }))
        );
    }
}

#[test]
fn no_rendered_rule_matches_every_source() {
    for case in vectors() {
        let beacon = beacon_of(&case);
        for policy in policies_of(&case) {
            let obj = render_policy(&beacon, &policy).expect("renders");
            for rule in obj["spec"]["rules"].as_array().expect("rules") {
                let principals = rule["from"][0]["source"]["principals"]
                    .as_array()
                    .expect("every rule names its source");
                assert!(!principals.is_empty());
                for p in principals {
                    let p = p.as_str().expect("string");
                    assert!(!p.contains('*') && p.starts_with("cluster.local/ns/"));
                }
            }
            assert!(obj["spec"].get("action").is_none(), "ALLOW is the default");
        }
    }
}

#[test]
fn names_over_253_characters_are_truncated_as_python_does() {
    let long = "a".repeat(63);
    let p: Policy = serde_json::from_value(json!({
        "source_namespace": long, "source_app_name": long, "target_namespace": "m",
        "target_app_name": long, "target_type": "app", "endpoints": []
    }))
    .expect("policy");
    let name = policy_name(&long, &long, &p);
    let a30 = "a".repeat(30);
    assert!(name.starts_with(&format!("{long}-{long}-policy-{a30}-{a30}-{a30}-")));
    assert_eq!(name.len(), 63 + 1 + 63 + 8 + 3 * 31 + 8);
    // Not over the limit: nothing cut.
    let short = policy_name("b", "m", &base_policy());
    assert!(short.starts_with("b-m-policy-frontend-shop-catalogue-"));
}

fn snapshot(
    endpoint: &str,
    id: u64,
    app: &str,
    data: Result<Vec<(&str, &str)>, &str>,
) -> RelationSnapshot {
    RelationSnapshot {
        endpoint: endpoint.into(),
        id,
        remote_app: Some(app.into()),
        cross_model: Some(false),
        app_data: data
            .map(|d| {
                d.into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .map_err(str::to_owned),
    }
}

#[test]
fn gathering_skips_bad_relations_and_keeps_the_others() {
    let beacon = Beacon::new("beacon", "shop");
    let good = serde_json::to_string(&vec![base_policy()]).expect("json");
    let relations = vec![
        snapshot(
            "service-mesh",
            1,
            "catalogue",
            Ok(vec![("policies", good.as_str())]),
        ),
        snapshot(
            "service-mesh",
            2,
            "broken",
            Ok(vec![("policies", "{not json")]),
        ),
        snapshot("service-mesh", 3, "unreadable", Err("permission denied")),
        snapshot("service-mesh", 4, "quiet", Ok(vec![])),
        snapshot(
            "service-mesh",
            5,
            "half",
            Ok(vec![("policies", r#"[{"source_namespace": 3}]"#)]),
        ),
    ];
    let g = gather(&beacon, &relations, &[], &[]);
    assert_eq!(g.candidates.len(), 1);
    assert_eq!(g.candidates[0].origin.remote_app, "catalogue");
    let problem_apps: Vec<_> = g
        .problems
        .iter()
        .map(|(o, _)| o.remote_app.as_str())
        .collect();
    assert_eq!(problem_apps, vec!["broken", "unreadable", "half"]);
    assert_eq!(
        g.unreadable,
        BTreeSet::from([
            "service-mesh:2".to_owned(),
            "service-mesh:3".to_owned(),
            "service-mesh:5".to_owned()
        ])
    );
}

#[test]
fn metrics_scrapers_get_the_beacons_own_unit_policy_resolving_cross_model_callers() {
    let beacon = Beacon::new("istio-beacon-k8s", "bookinfo");
    // remote-1234 is the other model's application, as this model sees it.
    let cross = |mut s: RelationSnapshot| {
        s.cross_model = Some(true);
        s
    };
    let metrics = vec![
        cross(snapshot("metrics-endpoint", 8, "remote-1234", Ok(vec![]))),
        snapshot("metrics-endpoint", 9, "local-scraper", Ok(vec![])),
    ];
    let cmr = vec![cross(snapshot(
        "provide-cmr-mesh",
        10,
        "remote-1234",
        Ok(vec![(
            "cmr_data",
            r#"{"app_name": "prometheus-k8s", "juju_model_name": "cos"}"#,
        )]),
    ))];
    let g = gather(&beacon, &[], &metrics, &cmr);
    assert!(g.problems.is_empty());
    let out = render_all(&beacon, &Rules::default(), &g.candidates);
    assert!(out.refusals.is_empty(), "{:?}", out.refusals);
    let names: Vec<_> = out
        .objects
        .iter()
        .map(|o| {
            o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    // The cross-model caller renders exactly the vector's object.
    let vector = vectors()
        .into_iter()
        .find(|c| c["id"] == "beacon-metrics-scrape-cross-model")
        .expect("vector");
    let want = &vector["authorization_policies"][0];
    assert!(names.contains(
        &want["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    ));
    let local = out
        .objects
        .iter()
        .find(|o| {
            o["spec"]["rules"][0]["from"][0]["source"]["principals"][0]
                == "cluster.local/ns/bookinfo/sa/local-scraper"
        })
        .expect("local scraper policy");
    assert_eq!(
        local["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "istio-beacon-k8s"
    );
    assert_eq!(
        local["spec"]["rules"][0]["to"][0]["operation"]["ports"],
        json!(["15090"])
    );
}

#[test]
fn a_target_service_must_be_the_applications_own() {
    let beacon = Beacon::new("beacon", "shop");
    let mut p = base_policy();
    p.target_service = Some("database".into());
    let c = Candidate {
        origin: origin("service-mesh", 3, "catalogue", OriginKind::RelationData),
        policy: p,
    };
    let key = ("shop".to_owned(), "database".to_owned());
    assert_eq!(
        services_to_check(&beacon, &Rules::default(), std::slice::from_ref(&c)),
        BTreeSet::from([key.clone()])
    );
    let with = |info: ServiceInfo| Rules {
        services: [(key.clone(), info)].into(),
        ..Rules::default()
    };
    // Another application's Service.
    assert!(matches!(
        validate(
            &beacon,
            &with(ServiceInfo::Selects(Some("postgresql".into()))),
            &c
        ),
        Err(Refusal::ForeignService { .. })
    ));
    // No such Service (yet).
    assert!(matches!(
        validate(&beacon, &with(ServiceInfo::Missing), &c),
        Err(Refusal::ForeignService { .. })
    ));
    // Could not be read: its own refusal, which the flow treats as a read failure.
    assert!(matches!(
        validate(&beacon, &with(ServiceInfo::Unknown("timeout".into())), &c),
        Err(Refusal::ServiceUnreadable { .. })
    ));
    // A Service selecting catalogue's pods is catalogue's door.
    assert_eq!(
        validate(
            &beacon,
            &with(ServiceInfo::Selects(Some("catalogue".into()))),
            &c
        ),
        Ok(())
    );
    // Entries refused anyway are never looked up: hostile data makes no reads elsewhere.
    let mut hostile = c.clone();
    hostile.policy.target_namespace = "kube-system".into();
    assert!(services_to_check(&beacon, &Rules::default(), &[hostile]).is_empty());
    // The application's own Service needs no lookup.
    let mut own = c;
    own.policy.target_service = Some("catalogue".into());
    assert!(services_to_check(&beacon, &Rules::default(), &[own]).is_empty());
}

#[test]
fn an_unreadable_cmr_data_keeps_the_scrapers_objects_instead_of_guessing() {
    let beacon = Beacon::new("istio-beacon-k8s", "bookinfo");
    let metrics = vec![
        snapshot("metrics-endpoint", 8, "remote-1234", Ok(vec![])),
        snapshot("metrics-endpoint", 9, "local-scraper", Ok(vec![])),
    ];
    let cmr = vec![snapshot(
        "provide-cmr-mesh",
        10,
        "remote-1234",
        Ok(vec![("cmr_data", "{\"app_name\": ")]),
    )];
    let g = gather(&beacon, &[], &metrics, &cmr);
    // The caller whose identity is unknown gets no policy rendered under a guessed name, and
    // what it had is kept; the other scraper is unaffected.
    assert_eq!(g.candidates.len(), 1);
    assert_eq!(g.candidates[0].policy.source_app_name, "local-scraper");
    assert_eq!(
        g.unreadable,
        BTreeSet::from(["metrics-endpoint:8".to_owned()])
    );
    assert_eq!(g.problems.len(), 1);
    assert_eq!(g.problems[0].0.remote_app, "remote-1234");
    assert!(matches!(g.problems[0].1, Refusal::Malformed(_)));
}
