//! Every hook tool: output formats, error strings and exit codes.
mod common;
use common::*;

fn setup() -> (Env, u64) {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let cfg = "options:\n  port:\n    type: int\n    default: 80\n  name:\n    type: string\n  ratio:\n    type: float\n    default: 0.5\n";
    let actions = "greet:\n  description: say hi\n  params:\n    who:\n      type: string\n      default: world\n";
    let p = charm(
        e.dir.path(),
        "prov",
        PROVIDER_META,
        cfg,
        actions,
        "case \"$JUJU_DISPATCH_PATH\" in
actions/greet)
  test \"$JUJU_ACTION_NAME\" = greet && test -z \"$JUJU_HOOK_NAME\"
  action-log \"greeting $(action-get who)\"
  action-set result.text=\"hi $(action-get who)\" count=1
  if [ \"$(action-get who)\" = bad ]; then action-fail \"no bad people\"; fi;;
esac",
    );
    let r = charm(e.dir.path(), "req", REQUIRER_META, "", "", "true");
    deploy(&e, "m", &p, "prov", 2);
    deploy(&e, "m", &r, "req", 1);
    let id = e.ctl.integrate("m", "req", "prov").unwrap();
    e.ctl.run_until_idle().unwrap();
    (e, id)
}

fn ok(e: &Env, unit: &str, script: &str) -> String {
    let o = sh(e, "m", unit, script);
    assert_eq!(o.code, 0, "{script}: {o:?}");
    o.stdout
}

fn err(e: &Env, unit: &str, script: &str) -> (i32, String) {
    let o = sh(e, "m", unit, script);
    (o.code, o.stderr)
}

#[test]
fn relation_tools() {
    let (e, id) = setup();
    let r = format!("-r db:{id}");
    assert_eq!(ok(&e, "prov/0", "relation-ids db"), format!("db:{id}\n"));
    assert_eq!(
        ok(&e, "prov/0", "relation-ids db --format=json"),
        format!("[\"db:{id}\"]\n")
    );
    assert_eq!(
        ok(&e, "prov/0", "relation-ids cluster --format=json"),
        "[\"cluster:0\"]\n"
    );
    assert_eq!(
        ok(&e, "prov/0", "relation-ids nothing --format=json"),
        "[]\n"
    );
    assert_eq!(
        err(&e, "prov/0", "relation-ids"),
        (2, "ERROR no relation name specified\n".into())
    );
    assert_eq!(
        ok(&e, "req/0", &format!("relation-list {r}")),
        "prov/0\nprov/1\n"
    );
    assert_eq!(
        ok(&e, "req/0", &format!("relation-list {r} --format=json")),
        "[\"prov/0\",\"prov/1\"]\n"
    );
    assert_eq!(
        ok(&e, "req/0", &format!("relation-list {r} --app")),
        "prov\n"
    );
    assert_eq!(
        ok(&e, "prov/1", "relation-list -r 0 --format=json"),
        "[\"prov/0\"]\n"
    );
    assert_eq!(
        err(&e, "req/0", "relation-list"),
        (2, "ERROR no relation id specified\n".into())
    );
    assert_eq!(
        err(&e, "req/0", "relation-get -r db:9 - prov/0"),
        (
            2,
            "ERROR invalid value \"db:9\" for option -r: relation not found\n".into()
        )
    );
    assert_eq!(
        err(&e, "req/0", "relation-get --relation x - prov/0"),
        (
            2,
            "ERROR invalid value \"x\" for option --relation: invalid relation id\n".into()
        )
    );
    assert_eq!(
        err(&e, "req/0", &format!("relation-get {r} --bogus")),
        (2, "ERROR option provided but not defined: --bogus\n".into())
    );
    assert_eq!(
        err(&e, "req/0", "relation-get -r"),
        (2, "ERROR option needs an argument: -r\n".into())
    );
    let help = sh(&e, "m", "req/0", "relation-get --help");
    assert_eq!(help.code, 0);
    assert!(
        help.stdout.starts_with("Usage: relation-get [options]"),
        "{help:?}"
    );
    assert_eq!(
        err(&e, "req/0", &format!("relation-get {r} - prov/0 extra")),
        (2, "ERROR unrecognized args: [\"extra\"]\n".into())
    );
    assert_eq!(
        err(&e, "req/0", &format!("relation-get {r} -")),
        (2, "ERROR no unit or application specified\n".into())
    );

    // Writes: unit bag by anyone, app bag by the leader only; --file (YAML, JSON, stdin).
    ok(
        &e,
        "prov/0",
        &format!("relation-set {r} host=10.0.0.1 port=5432"),
    );
    ok(
        &e,
        "prov/0",
        &format!("relation-set {r} --app endpoint=db.example"),
    );
    ok(
        &e,
        "prov/1",
        &format!("echo 'a: \"1\"' > f.yaml && relation-set {r} --file f.yaml b=2"),
    );
    ok(
        &e,
        "prov/1",
        &format!("echo '{{\"c\": \"x y\"}}' | relation-set {r} --file -"),
    );
    assert_eq!(
        err(&e, "prov/1", &format!("relation-set {r} --app x=1")),
        (1, "ERROR permission denied\n".into())
    );
    assert_eq!(
        err(&e, "prov/1", &format!("relation-set {r} novalue")),
        (2, "ERROR expected \"key=value\", got \"novalue\"\n".into())
    );
    // Reads as the other side sees them.
    assert_eq!(
        ok(
            &e,
            "req/0",
            &format!("relation-get {r} --format=json - prov/0")
        ),
        "{\"host\":\"10.0.0.1\",\"port\":\"5432\"}\n"
    );
    assert_eq!(
        ok(&e, "req/0", &format!("relation-get {r} - prov/0")),
        "host: 10.0.0.1\nport: '5432'\n"
    );
    assert_eq!(
        ok(&e, "req/0", &format!("relation-get {r} host prov/0")),
        "10.0.0.1\n"
    );
    assert_eq!(
        ok(&e, "req/0", &format!("relation-get {r} missing prov/0")),
        ""
    );
    assert_eq!(
        ok(
            &e,
            "req/0",
            &format!("relation-get {r} --format=json missing prov/0")
        ),
        "null\n"
    );
    assert_eq!(
        ok(
            &e,
            "req/0",
            &format!("relation-get {r} --format=json - prov/1")
        ),
        "{\"a\":\"1\",\"b\":\"2\",\"c\":\"x y\"}\n"
    );
    assert_eq!(
        ok(
            &e,
            "req/0",
            &format!("relation-get {r} --app --format=json - prov")
        ),
        "{\"endpoint\":\"db.example\"}\n"
    );
    assert_eq!(
        ok(
            &e,
            "req/0",
            &format!("relation-get {r} --app --format=json - prov/1")
        ),
        "{\"endpoint\":\"db.example\"}\n"
    );
    // Own app bag: the leader reads it, a non-leader may not (non-peer relation).
    assert_eq!(
        ok(
            &e,
            "prov/0",
            &format!("relation-get {r} --app --format=json - prov")
        ),
        "{\"endpoint\":\"db.example\"}\n"
    );
    assert_eq!(
        err(&e, "prov/1", &format!("relation-get {r} --app - prov")),
        (1, "ERROR permission denied\n".into())
    );
    // Other units of one's own app are not visible through a non-peer relation.
    assert_eq!(
        err(&e, "prov/1", &format!("relation-get {r} - prov/0")),
        (1, "ERROR permission denied\n".into())
    );
    assert_eq!(
        err(&e, "req/0", &format!("relation-get {r} - prov/7")),
        (1, format!("ERROR cannot read settings for unit \"prov/7\" in relation \"db:{id}\": unit \"prov/7\": settings not found\n"))
    );
    // Peer relation: app bag readable by non-leaders, writable by the leader only.
    ok(&e, "prov/0", "relation-set -r 0 --app shared=yes");
    assert_eq!(
        ok(&e, "prov/1", "relation-get -r cluster:0 --app shared prov"),
        "yes\n"
    );
    assert_eq!(
        err(&e, "prov/1", "relation-set -r 0 --app shared=no"),
        (1, "ERROR permission denied\n".into())
    );
    // "" deletes.
    ok(&e, "prov/0", &format!("relation-set {r} port="));
    assert_eq!(
        ok(
            &e,
            "req/0",
            &format!("relation-get {r} --format=json - prov/0")
        ),
        "{\"host\":\"10.0.0.1\"}\n"
    );
    let muuid = e.ctl.model_uuid("m").unwrap();
    assert_eq!(
        ok(
            &e,
            "req/0",
            &format!("relation-model-get {r} --format=json")
        ),
        format!("{{\"uuid\":\"{muuid}\"}}\n")
    );
    assert_eq!(
        ok(&e, "req/0", &format!("relation-model-get {r}")),
        format!("uuid: {muuid}\n")
    );
}

#[test]
fn unit_tools() {
    let (e, _) = setup();
    assert_eq!(
        ok(&e, "prov/0", "config-get --format=json"),
        "{\"port\":80,\"ratio\":0.5}\n"
    );
    assert_eq!(
        ok(&e, "prov/0", "config-get --all --format=json"),
        "{\"name\":null,\"port\":80,\"ratio\":0.5}\n"
    );
    assert_eq!(ok(&e, "prov/0", "config-get port"), "80\n");
    assert_eq!(ok(&e, "prov/0", "config-get"), "port: 80\nratio: 0.5\n");
    assert_eq!(ok(&e, "prov/0", "config-get name --format=json"), "null\n");
    assert_eq!(
        err(&e, "prov/0", "config-get a b"),
        (2, "ERROR unrecognized args: [\"b\"]\n".into())
    );
    e.ctl
        .set_config("m", "prov", &kv(&[("name", "x")]))
        .unwrap();
    assert_eq!(ok(&e, "prov/0", "config-get name"), "x\n");

    assert_eq!(ok(&e, "prov/0", "is-leader"), "True\n");
    assert_eq!(ok(&e, "prov/1", "is-leader"), "False\n");
    assert_eq!(ok(&e, "prov/0", "is-leader --format=json"), "true\n");

    ok(
        &e,
        "prov/1",
        "status-set --application=False maintenance 'doing things'",
    );
    assert_eq!(ok(&e, "prov/1", "status-get"), "maintenance\n");
    assert_eq!(
        ok(&e, "prov/1", "status-get --include-data --format=json"),
        "{\"message\":\"doing things\",\"status\":\"maintenance\",\"status-data\":{}}\n"
    );
    assert_eq!(
        err(&e, "prov/1", "status-set active two words"),
        (2, "ERROR unrecognized args: [\"words\"]\n".into())
    );
    assert_eq!(
        err(&e, "prov/1", "status-set"),
        (
            2,
            "ERROR invalid args, require <status> [message] [data]\n".into()
        )
    );
    assert_eq!(
        err(&e, "prov/1", "status-set bogus"),
        (2, "ERROR invalid status \"bogus\", expected one of [maintenance blocked waiting active]\n".into())
    );
    assert_eq!(
        err(&e, "prov/1", "status-set --application=T active"),
        (
            1,
            "ERROR setting application status: this unit is not the leader\n".into()
        )
    );
    assert_eq!(
        err(&e, "prov/1", "status-set --application=maybe active"),
        (2, "ERROR invalid value \"maybe\" for option --application: strconv.ParseBool: parsing \"maybe\": invalid syntax\n".into())
    );
    assert_eq!(
        err(&e, "prov/1", "status-get --application"),
        (
            1,
            "ERROR finding application status: this unit is not the leader\n".into()
        )
    );
    ok(&e, "prov/0", "status-set --application=TRUE active ready");
    ok(&e, "prov/0", "status-set active unit-ok");
    assert_eq!(
        ok(&e, "prov/0", "status-get --application --include-data --format=json"),
        "{\"application-status\":{\"message\":\"ready\",\"status\":\"active\",\"status-data\":{},\"units\":{\"prov/0\":{\"message\":\"unit-ok\",\"status\":\"active\",\"status-data\":{}},\"prov/1\":{\"message\":\"doing things\",\"status\":\"maintenance\",\"status-data\":{}}}}}\n"
    );
    let st = e.ctl.status("m").unwrap();
    assert_eq!(st.applications["prov"].application_status.message, "ready");
    assert_eq!(
        st.applications["prov"].units["prov/1"]
            .workload_status
            .current,
        "maintenance"
    );

    ok(&e, "prov/0", "application-version-set 1.2.3");
    assert_eq!(
        e.ctl.status("m").unwrap().applications["prov"].version,
        "1.2.3"
    );
    assert_eq!(
        err(&e, "prov/0", "application-version-set"),
        (2, "ERROR no version specified\n".into())
    );

    ok(
        &e,
        "prov/0",
        "juju-log -l WARNING careful now && juju-log --log-level debug -- -x && juju-log plain",
    );
    let log = e.ctl.debug_log("m").unwrap();
    let lines: Vec<String> = log
        .iter()
        .filter(|l| l.module == "unit.prov/0.juju-log")
        .map(|l| format!("{} {}", l.level, l.message))
        .collect();
    assert_eq!(lines, ["WARNING careful now", "DEBUG -x", "INFO plain"]);
    assert!(log.iter().any(|l| l.format().starts_with("unit-prov-0: ")
        && l.format().ends_with("INFO unit.prov/0.juju-log plain")));
    assert_eq!(
        err(&e, "prov/0", "juju-log"),
        (2, "ERROR no message specified\n".into())
    );

    ok(&e, "prov/0", "leader-set a=1 b=2");
    assert_eq!(
        ok(&e, "prov/1", "leader-get --format=json"),
        "{\"a\":\"1\",\"b\":\"2\"}\n"
    );
    assert_eq!(ok(&e, "prov/1", "leader-get a"), "1\n");
    assert_eq!(
        err(&e, "prov/1", "leader-set a=2"),
        (
            1,
            "ERROR cannot write leadership settings: cannot write settings: not the leader\n"
                .into()
        )
    );

    ok(&e, "prov/0", "state-set k=v other=1 && state-delete other");
    assert_eq!(
        ok(&e, "prov/0", "state-get --format=json"),
        "{\"k\":\"v\"}\n"
    );
    assert_eq!(ok(&e, "prov/0", "state-get k"), "v\n");
    assert_eq!(
        err(&e, "prov/0", "state-get --strict nope"),
        (1, "ERROR \"nope\" not found\n".into())
    );

    ok(&e, "prov/0", "open-port 9080/tcp && open-port 53/udp && open-port 8000-8002 && open-port 9090 && close-port 9090/tcp");
    assert_eq!(
        ok(&e, "prov/0", "opened-ports"),
        "8000-8002/tcp\n9080/tcp\n53/udp\n"
    );
    assert_eq!(
        ok(&e, "prov/0", "opened-ports --format=json"),
        "[\"8000-8002/tcp\",\"9080/tcp\",\"53/udp\"]\n"
    );
    assert_eq!(
        err(&e, "prov/0", "open-port abc"),
        (
            2,
            "ERROR expected <port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp; got \"abc\"\n"
                .into()
        )
    );
    assert_eq!(
        err(&e, "prov/0", "open-port 70000"),
        (
            2,
            "ERROR port must be in the range [1, 65535]; got \"70000\"\n".into()
        )
    );
    assert_eq!(
        err(&e, "prov/0", "open-port 80/sctp"),
        (
            2,
            "ERROR protocol must be \"tcp\", \"udp\", or \"icmp\"; got \"sctp\"\n".into()
        )
    );
    assert_eq!(
        err(&e, "prov/0", "close-port 90-80"),
        (
            2,
            "ERROR invalid port range 90-80/tcp; expected fromPort <= toPort\n".into()
        )
    );
    assert_eq!(
        err(&e, "prov/0", "open-port"),
        (2, "ERROR no port or range specified\n".into())
    );
    let svc = e
        .kube
        .store()
        .get("v1", "Service", Some("m"), "prov")
        .unwrap();
    let ports: Vec<i64> = svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [8000, 8001, 8002, 9080, 53]);

    let ip = e.ctl.status("m").unwrap().applications["prov"].units["prov/0"]
        .address
        .clone();
    let ng: serde_json::Value =
        serde_json::from_str(&ok(&e, "prov/0", "network-get db --format=json")).unwrap();
    assert_eq!(ng["ingress-addresses"][0], ip.as_str());
    assert_eq!(
        ng["bind-addresses"][0]["addresses"][0]["value"],
        ip.as_str()
    );
    assert_eq!(
        ok(&e, "prov/0", "network-get db --ingress-address"),
        format!("{ip}\n")
    );
    assert_eq!(
        ok(
            &e,
            "prov/0",
            "network-get db --egress-subnets --format=json"
        ),
        format!("[\"{ip}/32\"]\n")
    );
    assert_eq!(
        ok(
            &e,
            "prov/0",
            "network-get db --bind-address --ingress-address --format=json"
        ),
        format!("{{\"bind-address\":\"{ip}\",\"ingress-address\":\"{ip}\"}}\n")
    );
    assert_eq!(
        err(&e, "prov/0", "network-get nope"),
        (
            1,
            "ERROR no network config found for binding \"nope\"\n".into()
        )
    );

    let gs: serde_json::Value =
        serde_json::from_str(&ok(&e, "req/0", "goal-state --format=json")).unwrap();
    assert_eq!(gs["units"]["req/0"]["status"], "waiting");
    assert_eq!(gs["relations"]["db"]["prov"]["status"], "joined");
    assert_eq!(gs["relations"]["db"]["prov/1"]["status"], "maintenance");
    assert!(ok(&e, "req/0", "goal-state").starts_with("units:\n"));
    assert_eq!(
        ok(&e, "prov/0", "unit-get private-address"),
        format!("{ip}\n")
    );
    // Not in an action.
    assert_eq!(
        err(&e, "prov/0", "action-get"),
        (1, "ERROR not running an action\n".into())
    );
}

#[test]
fn actions() {
    let (e, _) = setup();
    let r = e
        .ctl
        .run_action("m", "prov/0", "greet", &Default::default())
        .unwrap();
    assert_eq!(r.status, "completed");
    assert_eq!(
        r.results,
        serde_json::json!({"result": {"text": "hi world"}, "count": "1"})
    );
    assert_eq!(r.log, ["greeting world"]);
    let mut p = std::collections::BTreeMap::new();
    p.insert("who".to_string(), serde_json::json!("bad"));
    let r = e.ctl.run_action("m", "prov/1", "greet", &p).unwrap();
    assert_eq!(
        (r.status.as_str(), r.message.as_str()),
        ("failed", "no bad people")
    );
    assert_eq!(
        e.ctl
            .run_action("m", "prov/0", "nope", &Default::default())
            .unwrap_err()
            .to_string(),
        "action \"nope\" not defined on unit \"prov/0\""
    );
    assert!(e
        .ctl
        .hook_log()
        .iter()
        .any(|h| h.hook == "greet" && h.unit == "prov/1"));
    // action-get of a whole nested value.
    let mut p = std::collections::BTreeMap::new();
    p.insert("who".to_string(), serde_json::json!({"first": "ada"}));
    let r = e.ctl.run_action("m", "prov/0", "greet", &p).unwrap();
    assert_eq!(r.log, ["greeting first: ada"]);
    assert_eq!(r.results["result"]["text"], "hi first: ada");
}

#[test]
fn hook_tool_binary_outside_a_hook() {
    let exe = env!("CARGO_BIN_EXE_jujusim-hook-tool");
    let out = std::process::Command::new(exe)
        .args(["relation-get", "-"])
        .env_remove("JUJU_CONTEXT_ID")
        .env_remove("JUJU_AGENT_SOCKET_ADDRESS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("ERROR JUJU_CONTEXT_ID or JUJU_AGENT_SOCKET_ADDRESS not set"));
    let out = std::process::Command::new(exe)
        .arg("no-such-tool")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn integrate_errors() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let a = charm(
        e.dir.path(),
        "a",
        "requires:\n  x:\n    interface: i\n  y:\n    interface: j\n",
        "",
        "",
        "true",
    );
    let b = charm(
        e.dir.path(),
        "b",
        "provides:\n  x:\n    interface: i\n  y:\n    interface: j\n    limit: 1\n",
        "",
        "",
        "true",
    );
    let c = charm(
        e.dir.path(),
        "c",
        "requires:\n  y:\n    interface: j\n",
        "",
        "",
        "true",
    );
    deploy(&e, "m", &a, "a", 1);
    deploy(&e, "m", &b, "b", 1);
    deploy(&e, "m", &c, "c", 1);
    assert_eq!(
        e.ctl.integrate("m", "a", "b").unwrap_err().to_string(),
        r#"ambiguous relation: "a b" could refer to "a:x b:x"; "a:y b:y""#
    );
    assert_eq!(
        e.ctl.integrate("m", "a:x", "c").unwrap_err().to_string(),
        "no relations found"
    );
    assert_eq!(
        e.ctl.integrate("m", "a", "zz").unwrap_err().to_string(),
        "application \"zz\" not found"
    );
    assert_eq!(e.ctl.integrate("m", "a", "b:x").unwrap(), 0);
    assert_eq!(
        e.ctl.integrate("m", "a:x", "b").unwrap_err().to_string(),
        "cannot add relation \"a:x b:x\": relation a:x b:x (already exists)"
    );
    assert_eq!(e.ctl.integrate("m", "b:y", "a").unwrap(), 1);
    assert_eq!(
        e.ctl.integrate("m", "c", "b").unwrap_err().to_string(),
        "cannot add relation \"c:y b:y\": establishing a new relation for b:y would exceed its maximum relation limit of 1 (quota limit exceeded)"
    );
    let st = e.ctl.status("m").unwrap();
    assert_eq!(
        st.relations
            .iter()
            .map(|r| r.key.clone())
            .collect::<Vec<_>>(),
        ["a:x b:x", "a:y b:y"]
    );
    assert_eq!(
        st.applications["a"].relations["x"][0].related_application,
        "b"
    );
}

/// Every spelling Go's strconv.ParseBool accepts works for a bool flag, as in Juju's tools.
#[test]
fn status_set_bool_spellings() {
    let (e, _) = setup();
    for (n, spelling) in ["1", "t", "T", "true", "True", "TRUE"].iter().enumerate() {
        ok(
            &e,
            "prov/0",
            &format!("status-set --application={spelling} active app-{n}"),
        );
        let st = e.ctl.status("m").unwrap();
        assert_eq!(
            st.applications["prov"].application_status.message,
            format!("app-{n}"),
            "--application={spelling}"
        );
    }
    for (n, spelling) in ["0", "f", "F", "false", "False", "FALSE"]
        .iter()
        .enumerate()
    {
        // False: the unit's own status, which a non-leader may set.
        ok(
            &e,
            "prov/1",
            &format!("status-set --application={spelling} blocked unit-{n}"),
        );
        let st = e.ctl.status("m").unwrap();
        let ws = &st.applications["prov"].units["prov/1"].workload_status;
        assert_eq!(
            (ws.current.as_str(), ws.message.clone()),
            ("blocked", format!("unit-{n}")),
            "--application={spelling}"
        );
    }
    // Go's flag package takes a bare bool flag as true: a non-leader is refused.
    assert_eq!(
        err(&e, "prov/1", "status-set --application active"),
        (
            1,
            "ERROR setting application status: this unit is not the leader\n".into()
        )
    );
    assert_eq!(
        err(&e, "prov/1", "status-set --application=yes active"),
        (2, "ERROR invalid value \"yes\" for option --application: strconv.ParseBool: parsing \"yes\": invalid syntax\n".into())
    );
}

/// An empty value deletes the key, whether given as `k=`, `k=""` or in a --file (YAML or JSON).
#[test]
fn empty_values_delete_keys() {
    let (e, id) = setup();
    let r = format!("-r db:{id}");
    ok(
        &e,
        "prov/0",
        &format!("relation-set {r} a=1 b=2 c=3 d=4 e=5"),
    );
    ok(&e, "prov/0", &format!("relation-set {r} a=\"\""));
    ok(
        &e,
        "prov/0",
        &format!("printf 'b: \"\"\\nc:\\n' > f.yaml && relation-set {r} --file f.yaml"),
    );
    ok(
        &e,
        "prov/0",
        &format!("echo '{{\"d\": \"\"}}' > f.json && relation-set {r} --file f.json"),
    );
    assert_eq!(
        ok(
            &e,
            "req/0",
            &format!("relation-get {r} --format=json - prov/0")
        ),
        "{\"e\":\"5\"}\n"
    );
    ok(&e, "prov/0", "leader-set x=1 y=2");
    ok(&e, "prov/0", "leader-set x=");
    assert_eq!(
        ok(&e, "prov/1", "leader-get --format=json"),
        "{\"y\":\"2\"}\n"
    );
}
