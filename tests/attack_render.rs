//! Attacks on the pure policy path: who a `provide-cmr-mesh` caller claims to be, and the
//! rendered objects of hostile but well-formed entries.

use std::collections::BTreeMap;

use istio_beacon::inputs::{gather, RelationSnapshot};
use istio_beacon::render::{render_all, Beacon, Refusal, Rules};

fn rel(
    endpoint: &str,
    id: u64,
    app: &str,
    cross: Option<bool>,
    bag: &[(&str, &str)],
) -> RelationSnapshot {
    RelationSnapshot {
        endpoint: endpoint.into(),
        id,
        remote_app: Some(app.into()),
        cross_model: cross,
        app_data: Ok(bag
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>()),
    }
}

fn cmr(app: &str, model: &str) -> String {
    format!(r#"{{"app_name": "{app}", "juju_model_name": "{model}"}}"#)
}

/// The principals the beacon would let reach its metrics port, and the refusals.
fn scrape_principals(cross: Option<bool>, claim: &str) -> (Vec<String>, Vec<Refusal>) {
    let beacon = Beacon::new("beacon", "shop");
    let metrics = vec![rel("metrics-endpoint", 1, "scraper", cross, &[])];
    let cmr_rel = vec![rel(
        "provide-cmr-mesh",
        2,
        "scraper",
        cross,
        &[("cmr_data", claim)],
    )];
    let g = gather(&beacon, &[], &metrics, &cmr_rel);
    let out = render_all(&beacon, &Rules::default(), &g.candidates);
    let principals = out
        .objects
        .iter()
        .map(|o| {
            o["spec"]["rules"][0]["from"][0]["source"]["principals"][0]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let refusals = g
        .problems
        .into_iter()
        .chain(out.refusals)
        .map(|(_, r)| r)
        .collect();
    (principals, refusals)
}

#[test]
fn an_in_model_caller_is_who_juju_says_whatever_its_cmr_data_claims() {
    // Consistent data: fine, no report.
    let (p, r) = scrape_principals(Some(false), &cmr("scraper", "shop"));
    assert_eq!(p, vec!["cluster.local/ns/shop/sa/scraper"]);
    assert!(r.is_empty(), "{r:?}");
    // Claims to be someone else, elsewhere or here: reported, Juju's identity used.
    for claim in [cmr("admin", "kube-system"), cmr("catalogue", "shop")] {
        let (p, r) = scrape_principals(Some(false), &claim);
        assert_eq!(p, vec!["cluster.local/ns/shop/sa/scraper"], "{claim}");
        assert!(
            matches!(r.as_slice(), [Refusal::CmrIdentityMismatch { .. }]),
            "{claim}: {r:?}"
        );
    }
}

#[test]
fn a_cross_model_caller_cannot_pass_for_an_application_of_this_model() {
    // Another model: trusted as the Python beacon does (the SAAS alias hides the real name).
    let (p, r) = scrape_principals(Some(true), &cmr("prometheus-k8s", "cos"));
    assert_eq!(p, vec!["cluster.local/ns/cos/sa/prometheus-k8s"]);
    assert!(r.is_empty(), "{r:?}");
    // Claims to be this model's catalogue: refused, and nothing granted to anybody.
    let (p, r) = scrape_principals(Some(true), &cmr("catalogue", "shop"));
    assert!(p.is_empty(), "{p:?}");
    assert!(
        matches!(r.as_slice(), [Refusal::CmrIdentityMismatch { .. }]),
        "{r:?}"
    );
}

#[test]
fn an_unknown_side_may_not_claim_a_local_application_other_than_itself() {
    let (p, r) = scrape_principals(None, &cmr("catalogue", "shop"));
    assert!(p.is_empty(), "{p:?}");
    assert_eq!(r.len(), 1, "{r:?}");
    let (p, r) = scrape_principals(None, &cmr("scraper", "shop"));
    assert_eq!(p, vec!["cluster.local/ns/shop/sa/scraper"]);
    assert!(r.is_empty(), "{r:?}");
}

#[test]
fn wildcards_in_cmr_data_never_reach_a_principal() {
    for claim in [
        cmr("*", "cos"),
        cmr("prometheus", "*"),
        cmr("", "cos"),
        cmr("a/b", "cos"),
    ] {
        let (p, r) = scrape_principals(Some(true), &claim);
        assert!(p.is_empty(), "{claim}: {p:?}");
        assert!(!r.is_empty(), "{claim}: reported");
    }
}

/// Every malformed shape of a `policies` bag: the relation is reported, nothing of it is
/// rendered, and it counts as unreadable (its earlier objects are kept); the other relation's
/// entry is unaffected.
#[test]
fn every_malformed_bag_is_reported_and_makes_its_relation_unreadable() {
    let beacon = Beacon::new("beacon", "shop");
    let own = serde_json::json!({
        "source_namespace": "shop", "source_app_name": "frontend",
        "target_namespace": "shop", "target_app_name": "intruder",
        "target_selector_labels": null, "target_service": null, "target_type": "app",
        "endpoints": [{"hosts": null, "ports": [8080], "methods": null, "paths": null}]
    });
    let with = |k: &str, v: serde_json::Value| {
        let mut o = own.clone();
        o[k] = v;
        format!("[{o}]")
    };
    let ep = |v: serde_json::Value| with("endpoints", serde_json::json!([v]));
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let shapes: Vec<(&str, String)> = vec![
        ("object", r#"{"policies": []}"#.into()),
        ("string", r#""frontend""#.into()),
        ("number", "42".into()),
        ("null", "null".into()),
        ("bool", "true".into()),
        ("empty", "".into()),
        ("list of null", "[null]".into()),
        ("list of numbers", "[1, 2]".into()),
        ("list of lists", "[[]]".into()),
        ("deeply nested", deep),
        ("truncated", format!("[{own}")),
        ("port too big", ep(serde_json::json!({"ports": [70000]}))),
        ("negative port", ep(serde_json::json!({"ports": [-1]}))),
        ("port as string", ep(serde_json::json!({"ports": ["80"]}))),
        ("port as float", ep(serde_json::json!({"ports": [80.5]}))),
        (
            "unknown method",
            ep(serde_json::json!({"ports": [80], "methods": ["FETCH"]})),
        ),
        (
            "lowercase method",
            ep(serde_json::json!({"ports": [80], "methods": ["get"]})),
        ),
        (
            "endpoints not a list",
            with("endpoints", serde_json::json!("all")),
        ),
        (
            "unknown target type",
            with("target_type", serde_json::json!("cluster")),
        ),
        (
            "name is a number",
            with("source_app_name", serde_json::json!(7)),
        ),
        (
            "name is an object",
            with("target_app_name", serde_json::json!({"a": 1})),
        ),
        (
            "labels not strings",
            with("target_selector_labels", serde_json::json!({"a": [1]})),
        ),
        (
            "paths not strings",
            ep(serde_json::json!({"ports": [80], "paths": [1]})),
        ),
        (
            "missing source",
            r#"[{"target_namespace": "shop", "target_app_name": "intruder"}]"#.into(),
        ),
        ("NUL bytes", "[\"\\u0000\"]".into()),
        ("lone surrogate", r#"["\ud800"]"#.into()),
    ];
    let good = own.to_string().replace("intruder", "catalogue");
    for (what, raw) in &shapes {
        let relations = vec![
            rel(
                "service-mesh",
                1,
                "catalogue",
                Some(false),
                &[("policies", &format!("[{good}]"))],
            ),
            rel(
                "service-mesh",
                2,
                "intruder",
                Some(false),
                &[("policies", raw)],
            ),
        ];
        let g = gather(&beacon, &relations, &[], &[]);
        let apps: Vec<&str> = g
            .candidates
            .iter()
            .map(|c| c.origin.remote_app.as_str())
            .collect();
        assert_eq!(apps, vec!["catalogue"], "{what}");
        assert!(!g.problems.is_empty(), "{what}");
        assert!(
            g.problems.iter().all(|(o, _)| o.remote_app == "intruder"),
            "{what}: {:?}",
            g.problems
        );
        assert!(g.unreadable.contains("service-mesh:2"), "{what}");
        assert!(!g.unreadable.contains("service-mesh:1"), "{what}");
    }
}
