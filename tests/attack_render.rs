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
