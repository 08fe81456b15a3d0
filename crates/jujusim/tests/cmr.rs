//! Cross-model relations: naming on both sides, relation-model-get, status of offers/saas.
mod common;
use common::*;

#[test]
fn cross_model_naming_on_both_sides() {
    let e = env();
    e.ctl.add_model("offerer").unwrap();
    e.ctl.add_model("consumer").unwrap();
    let record = "case \"$HOOK\" in *-relation-*) echo \"$HOOK $JUJU_RELATION_ID remote_unit=$JUJU_REMOTE_UNIT remote_app=$JUJU_REMOTE_APP\";; esac
case \"$HOOK\" in db-relation-joined) relation-set from=\"$JUJU_UNIT_NAME\"; if [ \"$(is-leader)\" = True ]; then relation-set --app model=\"$JUJU_MODEL_NAME\"; fi;; esac";
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", record);
    let r = charm(e.dir.path(), "req", REQUIRER_META, "", "", record);
    deploy(&e, "offerer", &p, "prov", 1);
    deploy(&e, "consumer", &r, "req", 2);
    assert_eq!(
        e.ctl.offer("offerer", "prov:db", Some("dbs")).unwrap(),
        "dbs"
    );
    assert_eq!(
        e.ctl
            .offer("offerer", "prov:nope", None)
            .unwrap_err()
            .to_string(),
        "cannot add application offer \"prov\": application \"prov\" has no \"nope\" relation"
    );
    assert_eq!(
        e.ctl
            .consume("consumer", "offerer.nothing", None)
            .unwrap_err()
            .to_string(),
        "application offer \"admin/offerer.nothing\" not found"
    );
    assert_eq!(
        e.ctl
            .consume("consumer", "admin/offerer.dbs", Some("remote-db"))
            .unwrap(),
        "remote-db"
    );
    let cid = e.ctl.integrate("consumer", "req", "remote-db").unwrap();
    e.ctl.run_until_idle().unwrap();

    // Offering side: the consumer is remote-<32 hex>, its units remote-<hex>/<n>.
    let st = e.ctl.status("offerer").unwrap();
    let rel = &st.applications["prov"].relations["db"][0];
    let remote = rel.related_application.clone();
    let hex = remote.strip_prefix("remote-").expect("remote- prefix");
    assert_eq!(hex.len(), 32);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
    let oid = st.relations.iter().find(|r| r.cross_model).unwrap().id;
    assert_eq!(st.offers["dbs"].total_connected_count, 1);
    assert_eq!(st.offers["dbs"].endpoints["db"].interface, "pgsql");
    let o = sh(&e, "offerer", "prov/0", &format!("relation-list -r {oid}"));
    assert_eq!(o.stdout, format!("{remote}/0\n{remote}/1\n"));
    assert_eq!(
        sh(
            &e,
            "offerer",
            "prov/0",
            &format!("relation-list -r {oid} --app")
        )
        .stdout,
        format!("{remote}\n")
    );
    assert_eq!(
        sh(
            &e,
            "offerer",
            "prov/0",
            &format!("relation-get -r {oid} --format=json - {remote}/1")
        )
        .stdout,
        "{\"from\":\"req/1\"}\n"
    );
    assert_eq!(
        sh(
            &e,
            "offerer",
            "prov/0",
            &format!("relation-get -r {oid} --app --format=json - {remote}")
        )
        .stdout,
        "{\"model\":\"consumer\"}\n"
    );
    let cuuid = e.ctl.model_uuid("consumer").unwrap();
    assert_eq!(
        sh(
            &e,
            "offerer",
            "prov/0",
            &format!("relation-model-get -r {oid} --format=json")
        )
        .stdout,
        format!("{{\"uuid\":\"{cuuid}\"}}\n")
    );
    let joined = e
        .ctl
        .hook_log()
        .into_iter()
        .find(|h| h.unit == "prov/0" && h.hook == "db-relation-joined")
        .unwrap();
    assert_eq!(joined.remote_unit, Some(format!("{remote}/0")));
    assert!(
        joined
            .stdout
            .contains(&format!("remote_unit={remote}/0 remote_app={remote}")),
        "{}",
        joined.stdout
    );

    // Consuming side: the offerer is the saas alias.
    let st = e.ctl.status("consumer").unwrap();
    assert_eq!(
        st.applications["req"].relations["db"][0].related_application,
        "remote-db"
    );
    let saas = &st.application_endpoints["remote-db"];
    assert_eq!(saas.url, "admin/offerer.dbs");
    assert_eq!(saas.relations["db"], ["req"]);
    assert_eq!(
        sh(&e, "consumer", "req/1", &format!("relation-list -r {cid}")).stdout,
        "remote-db/0\n"
    );
    assert_eq!(
        sh(
            &e,
            "consumer",
            "req/1",
            &format!("relation-get -r {cid} --app --format=json - remote-db")
        )
        .stdout,
        "{\"model\":\"offerer\"}\n"
    );
    let ouuid = e.ctl.model_uuid("offerer").unwrap();
    assert_eq!(
        sh(
            &e,
            "consumer",
            "req/0",
            &format!("relation-model-get -r {cid} --format=json")
        )
        .stdout,
        format!("{{\"uuid\":\"{ouuid}\"}}\n")
    );
    let joined = e
        .ctl
        .hook_log()
        .into_iter()
        .find(|h| h.unit == "req/0" && h.hook == "db-relation-joined")
        .unwrap();
    assert!(
        joined
            .stdout
            .contains("remote_unit=remote-db/0 remote_app=remote-db"),
        "{}",
        joined.stdout
    );
    // Each model numbers its relations itself.
    assert_eq!(
        st.relations.iter().find(|r| r.cross_model).unwrap().key,
        "req:db remote-db:db"
    );

    // Removing the saas removes the relation on both sides with -departed/-broken.
    e.ctl.remove_saas("consumer", "remote-db").unwrap();
    e.ctl.run_until_idle().unwrap();
    assert!(e
        .ctl
        .status("offerer")
        .unwrap()
        .relations
        .iter()
        .all(|r| !r.cross_model));
    let h = hooks_of(&e, "offerer", "prov/0");
    assert_eq!(h.last().unwrap(), "db-relation-broken");
    assert!(e
        .ctl
        .status("consumer")
        .unwrap()
        .application_endpoints
        .is_empty());
}

#[test]
fn save_and_load_round_trip() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", "true");
    deploy(&e, "m", &p, "prov", 2);
    e.ctl.run_until_idle().unwrap();
    sh(&e, "m", "prov/0", "relation-set -r 0 k=v");
    let state = e.dir.path().join("state");
    e.ctl.save(&state).unwrap();
    let before = serde_json::to_value(e.ctl.status("m").unwrap().applications).unwrap();

    let e2 = env();
    e2.ctl.load(&state).unwrap();
    assert_eq!(
        serde_json::to_value(e2.ctl.status("m").unwrap().applications).unwrap(),
        before
    );
    assert_eq!(
        sh(&e2, "m", "prov/1", "relation-get -r 0 k prov/0").stdout,
        "v\n"
    );
}

#[test]
fn removing_the_offer_breaks_the_relation_on_both_sides() {
    let e = env();
    e.ctl.add_model("a").unwrap();
    e.ctl.add_model("b").unwrap();
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", "true");
    let r = charm(e.dir.path(), "req", REQUIRER_META, "", "", "true");
    deploy(&e, "a", &p, "prov", 1);
    deploy(&e, "b", &r, "req", 1);
    e.ctl.offer("a", "prov:db", None).unwrap();
    assert_eq!(e.ctl.consume("b", "a.prov", None).unwrap(), "prov");
    e.ctl.integrate("b", "req:db", "prov").unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        e.ctl.status("a").unwrap().offers["prov"].active_connected_count,
        1
    );
    e.ctl.remove_offer("a", "prov").unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        hooks_of(&e, "b", "req/0").last().unwrap(),
        "db-relation-broken"
    );
    assert_eq!(
        hooks_of(&e, "a", "prov/0").last().unwrap(),
        "db-relation-broken"
    );
    assert!(e.ctl.status("b").unwrap().application_endpoints.is_empty());
    assert!(e.ctl.status("a").unwrap().offers.is_empty());
}

/// `juju offer prov:db,metrics`: one offer with several endpoints, each usable by a consumer.
#[test]
fn offer_with_several_endpoints() {
    let e = env();
    e.ctl.add_model("a").unwrap();
    e.ctl.add_model("b").unwrap();
    let meta =
        "provides:\n  db:\n    interface: pgsql\n  metrics:\n    interface: prometheus_scrape\n";
    let p = charm(e.dir.path(), "prov", meta, "", "", "true");
    let r = charm(e.dir.path(), "req", REQUIRER_META, "", "", "true");
    let scraper_meta = "requires:\n  metrics:\n    interface: prometheus_scrape\n";
    let s = charm(e.dir.path(), "scraper", scraper_meta, "", "", "true");
    deploy(&e, "a", &p, "prov", 1);
    deploy(&e, "b", &r, "req", 1);
    deploy(&e, "b", &s, "scraper", 1);
    assert_eq!(e.ctl.offer("a", "prov:db,metrics", None).unwrap(), "prov");
    let offers = e.ctl.status("a").unwrap().offers;
    let eps: Vec<&String> = offers["prov"].endpoints.keys().collect();
    assert_eq!(eps, ["db", "metrics"]);
    assert_eq!(e.ctl.consume("b", "a.prov", None).unwrap(), "prov");
    e.ctl.integrate("b", "req:db", "prov").unwrap();
    e.ctl.integrate("b", "scraper", "prov:metrics").unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        e.ctl.status("a").unwrap().offers["prov"].active_connected_count,
        2
    );
    assert!(hooks_of(&e, "a", "prov/0").contains(&"metrics-relation-joined".to_string()));
    assert!(hooks_of(&e, "a", "prov/0").contains(&"db-relation-joined".to_string()));
}
