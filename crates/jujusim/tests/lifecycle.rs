//! Hook order, Kubernetes side effects, leadership, failure and retry, quiescence.
mod common;
use common::*;

const NOOP: &str = "true";

#[test]
fn hook_order_and_kubernetes_objects() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", NOOP);
    let r = charm(e.dir.path(), "req", REQUIRER_META, "", "", NOOP);
    deploy(&e, "m", &p, "prov", 2);
    deploy(&e, "m", &r, "req", 1);
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        hooks_of(&e, "m", "prov/0"),
        [
            "install",
            "cluster-relation-created",
            "leader-elected",
            "config-changed",
            "start",
            "cluster-relation-joined",
            "cluster-relation-changed"
        ]
    );
    assert_eq!(
        hooks_of(&e, "m", "prov/1")[..5],
        [
            "install",
            "cluster-relation-created",
            "leader-settings-changed",
            "config-changed",
            "start"
        ]
    );
    let id = e.ctl.integrate("m", "req", "prov").unwrap();
    e.ctl.run_until_idle().unwrap();
    let h = hooks_of(&e, "m", "req/0");
    assert_eq!(
        h[4..],
        [
            "db-relation-created",
            "db-relation-joined",
            "db-relation-changed",
            "db-relation-joined",
            "db-relation-changed"
        ]
    );
    let runs: Vec<_> = e
        .ctl
        .hook_log()
        .into_iter()
        .filter(|r| r.unit == "req/0" && r.hook == "db-relation-joined")
        .map(|r| (r.relation_id, r.remote_unit, r.remote_app))
        .collect();
    assert_eq!(
        runs,
        [
            (Some(id), Some("prov/0".into()), Some("prov".into())),
            (Some(id), Some("prov/1".into()), Some("prov".into()))
        ]
    );

    // Kubernetes objects as Juju creates them.
    let store = e.kube.store();
    let svc = store.get("v1", "Service", Some("m"), "prov").unwrap();
    assert_eq!(svc["spec"]["selector"]["app.kubernetes.io/name"], "prov");
    store
        .get("v1", "ServiceAccount", Some("m"), "prov")
        .unwrap();
    let sts = store
        .get("apps/v1", "StatefulSet", Some("m"), "prov")
        .unwrap();
    assert_eq!(sts["spec"]["replicas"], 2);
    let pod = store.get("v1", "Pod", Some("m"), "prov-1").unwrap();
    assert_eq!(pod["metadata"]["labels"]["app.kubernetes.io/name"], "prov");
    assert_eq!(pod["spec"]["serviceAccountName"], "prov");
    store.get("v1", "Namespace", None, "m").unwrap();
    // Juju's model operator runs in every model namespace.
    let mo = store
        .get("v1", "Pod", Some("m"), "modeloperator-0")
        .unwrap();
    assert_eq!(
        mo["metadata"]["labels"]["juju-modeloperator"],
        "modeloperator"
    );
    assert_eq!(
        store
            .get("v1", "Service", Some("m"), "modeloperator")
            .unwrap()["spec"]["ports"][0]["port"],
        17071
    );

    // Removal: departed/broken on both sides, then stop/remove; pod goes.
    e.ctl.remove_relation("m", "prov:db", "req").unwrap();
    e.ctl.run_until_idle().unwrap();
    let h = hooks_of(&e, "m", "req/0");
    assert_eq!(
        h[h.len() - 3..],
        [
            "db-relation-departed",
            "db-relation-departed",
            "db-relation-broken"
        ]
    );
    e.ctl.remove_unit("m", "prov/1").unwrap();
    e.ctl.run_until_idle().unwrap();
    let h = hooks_of(&e, "m", "prov/1");
    assert_eq!(
        h[h.len() - 4..],
        [
            "cluster-relation-departed",
            "cluster-relation-broken",
            "stop",
            "remove"
        ]
    );
    assert_eq!(
        store
            .get("v1", "Pod", Some("m"), "prov-1")
            .unwrap_err()
            .code,
        404
    );
    assert_eq!(
        store
            .get("apps/v1", "StatefulSet", Some("m"), "prov")
            .unwrap()["spec"]["replicas"],
        1
    );
    let st = e.ctl.status("m").unwrap();
    assert_eq!(st.applications["prov"].units.len(), 1);
    e.ctl.remove_application("m", "req").unwrap();
    e.ctl.run_until_idle().unwrap();
    assert!(!e.ctl.status("m").unwrap().applications.contains_key("req"));
    assert_eq!(
        store
            .get("v1", "Service", Some("m"), "req")
            .unwrap_err()
            .code,
        404
    );
    e.ctl.destroy_model("m").unwrap();
    assert!(e.ctl.models().is_empty());
    assert_eq!(
        store.get("v1", "Namespace", None, "m").unwrap_err().code,
        404
    );
    assert!(store
        .list("v1", "Pod", Some("m"), None)
        .unwrap_or_default()
        .is_empty());
}

#[test]
fn leader_change_on_removal() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", NOOP);
    deploy(&e, "m", &p, "prov", 3);
    e.ctl.run_until_idle().unwrap();
    assert_eq!(sh(&e, "m", "prov/0", "is-leader").stdout, "True\n");
    assert_eq!(
        sh(&e, "m", "prov/1", "is-leader --format=json").stdout,
        "false\n"
    );
    e.ctl.remove_unit("m", "prov/0").unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        sh(&e, "m", "prov/1", "is-leader --format=json").stdout,
        "true\n"
    );
    assert!(hooks_of(&e, "m", "prov/1").contains(&"leader-elected".to_string()));
    let st = e.ctl.status("m").unwrap();
    assert!(st.applications["prov"].units["prov/1"].leader);
    // goal-state shows the planned units only (prov/0 is gone).
    let gs = sh(&e, "m", "prov/1", "goal-state --format=json").stdout;
    let v: serde_json::Value = serde_json::from_str(&gs).unwrap();
    let units: Vec<_> = v["units"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(units, ["prov/1", "prov/2"]);
    assert!(v["relations"]["cluster"]["prov/2"].is_object());
}

#[test]
fn leadership_moves_without_removal_and_back() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", NOOP);
    deploy(&e, "m", &p, "prov", 2);
    e.ctl.run_until_idle().unwrap();
    e.ctl.move_leadership("m", "prov/1").unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        sh(&e, "m", "prov/0", "is-leader --format=json").stdout,
        "false\n"
    );
    assert_eq!(
        sh(&e, "m", "prov/1", "is-leader --format=json").stdout,
        "true\n"
    );
    assert!(hooks_of(&e, "m", "prov/1").contains(&"leader-elected".to_string()));
    e.ctl.move_leadership("m", "prov/0").unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        sh(&e, "m", "prov/0", "is-leader --format=json").stdout,
        "true\n"
    );
    assert!(e.ctl.status("m").unwrap().applications["prov"].units["prov/0"].leader);
    assert!(e.ctl.move_leadership("m", "prov/7").is_err());
}

#[test]
fn failed_hook_discards_changes_and_is_retried() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let marker = e.dir.path().join("fixed");
    let p = charm(
        e.dir.path(),
        "prov",
        PROVIDER_META,
        "",
        "",
        &format!(
            "case \"$HOOK\" in db-relation-joined)
  relation-set color=blue
  state-set seen=1
  open-port 9080/tcp
  test -e {m} || exit 3;;
esac",
            m = marker.display()
        ),
    );
    let r = charm(e.dir.path(), "req", REQUIRER_META, "", "", NOOP);
    deploy(&e, "m", &p, "prov", 1);
    deploy(&e, "m", &r, "req", 1);
    let id = e.ctl.integrate("m", "prov", "req").unwrap();
    e.ctl.run_until_idle().unwrap();
    let st = e.ctl.status("m").unwrap();
    let ws = &st.applications["prov"].units["prov/0"].workload_status;
    assert_eq!(
        (ws.current.as_str(), ws.message.as_str()),
        ("error", "hook failed: \"db-relation-joined\"")
    );
    assert_eq!(st.applications["prov"].application_status.current, "error");
    let (_, units) = e.ctl.relation_data("m", id).unwrap();
    assert!(units.get("prov/0").is_none_or(|b| b.is_empty()));
    assert_eq!(
        sh(&e, "m", "prov/0", "state-get --format=json").stdout,
        "{}\n"
    );
    assert_eq!(sh(&e, "m", "prov/0", "opened-ports").stdout, "");
    let svc = e
        .kube
        .store()
        .get("v1", "Service", Some("m"), "prov")
        .unwrap();
    assert_eq!(svc["spec"]["ports"][0]["port"], 65535);
    // The next run retries once (and fails again, still no changes).
    e.ctl.run_until_idle().unwrap();
    let fails = e
        .ctl
        .hook_log()
        .iter()
        .filter(|h| h.hook == "db-relation-joined" && h.exit_code == 3)
        .count();
    assert_eq!(fails, 2);
    assert_eq!(
        e.ctl.resolve("m", "req/0").unwrap_err().to_string(),
        "unit \"req/0\" is not in an error state"
    );
    std::fs::write(&marker, "").unwrap();
    e.ctl.resolve("m", "prov/0").unwrap();
    e.ctl.run_until_idle().unwrap();
    let st = e.ctl.status("m").unwrap();
    assert_eq!(
        st.applications["prov"].units["prov/0"]
            .workload_status
            .current,
        "unknown"
    );
    let (_, units) = e.ctl.relation_data("m", id).unwrap();
    assert_eq!(units["prov/0"]["color"], "blue");
    assert_eq!(sh(&e, "m", "prov/0", "state-get seen").stdout, "1\n");
    assert_eq!(sh(&e, "m", "prov/0", "opened-ports").stdout, "9080/tcp\n");
    let svc = e
        .kube
        .store()
        .get("v1", "Service", Some("m"), "prov")
        .unwrap();
    assert_eq!(svc["spec"]["ports"][0]["port"], 9080, "{svc}");
    // The remote side was told after the commit.
    let remote: Vec<_> = e
        .ctl
        .hook_log()
        .into_iter()
        .filter(|h| {
            h.unit == "req/0"
                && h.hook == "db-relation-changed"
                && h.remote_unit.as_deref() == Some("prov/0")
        })
        .collect();
    assert!(remote.len() >= 2, "{remote:?}");
}

#[test]
fn resetting_same_value_quiesces() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    // Both sides write on every -changed; only real changes must cause new events.
    let script = "case \"$HOOK\" in db-relation-*) relation-set v=same; if [ \"$(is-leader)\" = True ]; then relation-set --app w=same; fi;; esac";
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", script);
    let r = charm(e.dir.path(), "req", REQUIRER_META, "", "", script);
    deploy(&e, "m", &p, "prov", 2);
    deploy(&e, "m", &r, "req", 2);
    e.ctl.integrate("m", "prov", "req").unwrap();
    e.ctl.run_until_idle().unwrap();
    let n = e.ctl.hook_log().len();
    assert!(n < 120, "{n} hooks");
    e.ctl.run_until_idle().unwrap();
    assert_eq!(e.ctl.hook_log().len(), n, "idle stays idle");
    // App-bag change reaches the remote units as an app-level -changed (no remote unit).
    assert!(e.ctl.hook_log().iter().any(|h| h.unit == "req/1"
        && h.hook == "db-relation-changed"
        && h.remote_unit.is_none()
        && h.remote_app.as_deref() == Some("prov")));
}

#[test]
fn config_trust_and_update_status() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let cfg = "options:\n  port:\n    type: int\n    default: 80\n  name:\n    type: string\n  debug:\n    type: boolean\n    default: false\n";
    let p = charm(e.dir.path(), "prov", PROVIDER_META, cfg, "", NOOP);
    deploy(&e, "m", &p, "prov", 1);
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        e.ctl
            .set_config("m", "prov", &kv(&[("port", "abc")]))
            .unwrap_err()
            .to_string(),
        "option \"port\" expected int, got \"abc\""
    );
    assert_eq!(
        e.ctl
            .set_config("m", "prov", &kv(&[("nope", "1")]))
            .unwrap_err()
            .to_string(),
        "unknown option \"nope\""
    );
    e.ctl
        .set_config("m", "prov", &kv(&[("port", "8080"), ("debug", "true")]))
        .unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        hooks_of(&e, "m", "prov/0").last().unwrap(),
        "config-changed"
    );
    let before = e.ctl.hook_log().len();
    e.ctl
        .set_config("m", "prov", &kv(&[("port", "8080")]))
        .unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(e.ctl.hook_log().len(), before, "no change, no hook");
    e.ctl.update_status(Some("m")).unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(hooks_of(&e, "m", "prov/0").last().unwrap(), "update-status");
    e.ctl.trust("m", "prov", true).unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        hooks_of(&e, "m", "prov/0").last().unwrap(),
        "config-changed"
    );
    assert!(e.ctl.status("m").unwrap().applications["prov"].trust);
}

#[test]
fn hung_hook_is_killed_after_timeout() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let p = charm(
        e.dir.path(),
        "slow",
        "",
        "",
        "",
        "if [ \"$HOOK\" = install ]; then sleep 3; fi",
    );
    deploy(&e, "m", &p, "slow", 1);
    e.ctl
        .set_hook_timeout(std::time::Duration::from_millis(300));
    e.ctl.run_until_idle().unwrap();
    let h = e.ctl.hook_log();
    assert_eq!((h[0].hook.as_str(), h[0].exit_code), ("install", 124));
    let st = e.ctl.status("m").unwrap();
    assert_eq!(
        st.applications["slow"].units["slow/0"]
            .workload_status
            .message,
        "hook failed: \"install\""
    );
}

#[test]
fn departing_unit_data_readable_in_departed() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", "case \"$HOOK\" in db-relation-departed) relation-get --format=json - \"$JUJU_REMOTE_UNIT\"; relation-list;; esac");
    let r = charm(
        e.dir.path(),
        "req",
        REQUIRER_META,
        "",
        "",
        "case \"$HOOK\" in db-relation-joined) relation-set name=\"$JUJU_UNIT_NAME\";; esac",
    );
    deploy(&e, "m", &p, "prov", 1);
    deploy(&e, "m", &r, "req", 2);
    let id = e.ctl.integrate("m", "prov", "req").unwrap();
    e.ctl.run_until_idle().unwrap();
    e.ctl.remove_unit("m", "req/1").unwrap();
    e.ctl.run_until_idle().unwrap();
    let d = e
        .ctl
        .hook_log()
        .into_iter()
        .find(|h| h.unit == "prov/0" && h.hook == "db-relation-departed")
        .unwrap();
    assert_eq!(d.exit_code, 0, "{}", d.stderr);
    assert_eq!(d.stdout, "{\"name\":\"req/1\"}\nreq/0\n");
    // Once nobody needs it, the departed unit's bag is gone.
    let (_, units) = e.ctl.relation_data("m", id).unwrap();
    assert_eq!(units.keys().cloned().collect::<Vec<_>>(), ["req/0"]);
}

#[test]
fn last_unit_stays_leader_while_app_is_removed() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", "case \"$HOOK\" in stop|remove) echo \"$HOOK leader=$(is-leader) planned=$(goal-state --format=json)\";; esac");
    deploy(&e, "m", &p, "prov", 2);
    e.ctl.run_until_idle().unwrap();
    e.ctl.remove_application("m", "prov").unwrap();
    e.ctl.run_until_idle().unwrap();
    let out: Vec<_> = e
        .ctl
        .hook_log()
        .into_iter()
        .filter(|h| h.hook == "remove")
        .map(|h| (h.unit, h.stdout))
        .collect();
    assert_eq!(out.len(), 2);
    assert!(
        out[0].1.starts_with("remove leader=True planned="),
        "{out:?}"
    );
    assert!(
        out[0].1.contains("\"prov/0\":{\"status\":\"dying\""),
        "{out:?}"
    );
    assert!(out[1].1.starts_with("remove leader=False"), "{out:?}");
    // Scale down to zero and back up: a new leader is elected once the old one is gone.
    deploy(&e, "m", &p, "again", 1);
    e.ctl.run_until_idle().unwrap();
    e.ctl.scale("m", "again", 0).unwrap();
    e.ctl.add_unit("m", "again", 1).unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(sh(&e, "m", "again/1", "is-leader").stdout, "True\n");
}

#[test]
fn remote_units_join_only_once_a_new_unit_entered_scope() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", "true");
    let r = charm(e.dir.path(), "req", REQUIRER_META, "", "", "true");
    deploy(&e, "m", &p, "prov", 1);
    deploy(&e, "m", &r, "req", 1);
    e.ctl.integrate("m", "prov", "req").unwrap();
    e.ctl.run_until_idle().unwrap();
    e.ctl.add_unit("m", "req", 1).unwrap();
    e.ctl.run_until_idle().unwrap();
    let log = e.ctl.hook_log();
    let pos = |unit: &str, hook: &str, remote: Option<&str>| {
        log.iter()
            .position(|h| {
                h.unit == unit
                    && h.hook == hook
                    && (remote.is_none() || h.remote_unit.as_deref() == remote)
            })
            .unwrap_or_else(|| panic!("{unit} {hook} not run"))
    };
    let created = pos("req/1", "db-relation-created", None);
    assert!(pos("req/1", "install", None) < created);
    assert!(created < pos("prov/0", "db-relation-joined", Some("req/1")));
    assert!(
        pos("prov/0", "db-relation-joined", Some("req/1"))
            < pos("prov/0", "db-relation-changed", Some("req/1"))
    );
    assert!(pos("req/1", "start", None) < pos("req/1", "db-relation-joined", Some("prov/0")));
}
