//! ProcessHookTools against fake tool executables that record their argv and stdin, as Juju's
//! tools would receive them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use charm::{Bag, HookTools, LogLevel, ProcessHookTools, RelationId, Status, ToolError};

struct Tools {
    dir: tempfile::TempDir,
}

impl Tools {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("calls.log")
    }

    /// A tool that records `name [arg]...` and its stdin, prints `stdout` and exits with `code`.
    fn fake(&self, name: &str, stdout: &str, stderr: &str, code: i32) {
        let path = self.dir.path().join(name);
        let log = self.log();
        let script = format!(
            "#!/bin/sh\n{{ printf '%s' \"$(basename \"$0\")\"; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; printf '\\n'; }} >> '{log}'\n\
             if [ ! -t 0 ]; then cat > '{log}.stdin.tmp'; if [ -s '{log}.stdin.tmp' ]; then {{ printf 'STDIN:'; cat '{log}.stdin.tmp'; printf '\\n'; }} >> '{log}'; fi; fi\n\
             printf '%s' '{stdout}'\nprintf '%s' '{stderr}' >&2\nexit {code}\n",
            log = log.display(),
        );
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn tools(&self) -> ProcessHookTools {
        ProcessHookTools::with_tool_dir(self.dir.path())
    }

    fn calls(&self) -> Vec<String> {
        read_lines(&self.log())
    }
}

fn read_lines(p: &Path) -> Vec<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn relation_tools_argv_and_output() {
    let t = Tools::new();
    t.fake(
        "relation-ids",
        r#"["service-mesh:3", "service-mesh:11"]"#,
        "",
        0,
    );
    t.fake("relation-list", r#"["istio-beacon-k8s/0"]"#, "", 0);
    t.fake(
        "relation-get",
        r#"{"labels": "{}", "mesh_type": "\"istio\""}"#,
        "",
        0,
    );
    t.fake("relation-set", "", "", 0);
    t.fake("relation-model-get", r#"{"uuid": "abc-123"}"#, "", 0);
    let tools = t.tools();
    let ids = tools.relation_ids("service-mesh").unwrap();
    assert_eq!(
        ids,
        vec![
            RelationId::new("service-mesh", 3),
            RelationId::new("service-mesh", 11)
        ]
    );
    assert_eq!(
        tools.relation_list(&ids[0]).unwrap(),
        vec!["istio-beacon-k8s/0"]
    );
    let bag = tools
        .relation_get(&ids[0], "istio-beacon-k8s", true)
        .unwrap();
    assert_eq!(bag.get("mesh_type").map(String::as_str), Some("\"istio\""));
    let mut data = Bag::new();
    data.insert("policies".into(), "[{\"a\": 1}]".into());
    data.insert("n".into(), "123".into());
    tools.relation_set(&ids[1], &data, true).unwrap();
    assert_eq!(tools.relation_model_uuid(&ids[0]).unwrap(), "abc-123");
    assert_eq!(
        t.calls(),
        vec![
            "relation-ids [--format=json] [service-mesh]",
            "relation-list [-r] [3] [--format=json]",
            "relation-get [-r] [3] [-] [istio-beacon-k8s] [--app] [--format=json]",
            "relation-set [-r] [11] [--app] [--file] [-]",
            r#"STDIN:{"n":"123","policies":"[{\"a\": 1}]"}"#,
            "relation-model-get [-r] [3] [--format=json]",
        ]
    );
}

#[test]
fn remote_app_and_relations_helper() {
    let t = Tools::new();
    t.fake("relation-ids", r#"["details:4"]"#, "", 0);
    t.fake("relation-list", r#""bookinfo-productpage-k8s""#, "", 0);
    let tools = t.tools();
    let r = tools
        .relation_remote_app(&RelationId::new("details", 4))
        .unwrap();
    assert_eq!(r.as_deref(), Some("bookinfo-productpage-k8s"));
    assert!(t
        .calls()
        .contains(&"relation-list [-r] [4] [--app] [--format=json]".to_string()));
}

#[test]
fn leadership_config_status_ports_version_log() {
    let t = Tools::new();
    t.fake("is-leader", "true\n", "", 0);
    t.fake(
        "config-get",
        r#"{"model-on-mesh": false, "ready-timeout": 100}"#,
        "",
        0,
    );
    t.fake("status-set", "", "", 0);
    t.fake(
        "status-get",
        r#"{"application-status": {"message": "2 policies", "status": "active", "units": {}}}"#,
        "",
        0,
    );
    t.fake("open-port", "", "", 0);
    t.fake("close-port", "", "", 0);
    t.fake("application-version-set", "", "", 0);
    t.fake("juju-log", "", "", 0);
    let tools = t.tools();
    assert!(tools.is_leader().unwrap());
    let cfg = tools.config_get().unwrap();
    assert_eq!(cfg.get_bool("model-on-mesh"), Ok(Some(false)));
    assert_eq!(cfg.get_int("ready-timeout"), Ok(Some(100)));
    tools.status_set(&Status::active("ready"), false).unwrap();
    tools
        .status_set(&Status::blocked("no CRD: is istio-k8s deployed?"), true)
        .unwrap();
    assert_eq!(
        tools.status_get(true).unwrap(),
        Status::active("2 policies")
    );
    tools.open_port(9080, "tcp").unwrap();
    tools.close_port(9080, "tcp").unwrap();
    tools.application_version_set("1.0").unwrap();
    tools.juju_log(LogLevel::Warning, "hello world").unwrap();
    tools
        .juju_log(LogLevel::Debug, "-x looks like a flag")
        .unwrap();
    assert_eq!(
        t.calls(),
        vec![
            "is-leader [--format=json]",
            "config-get [--format=json] [--all]",
            "status-set [active] [ready]",
            "status-set [--application] [blocked] [no CRD: is istio-k8s deployed?]",
            "status-get [--application] [--include-data] [--format=json]",
            "open-port [9080/tcp]",
            "close-port [9080/tcp]",
            "application-version-set [1.0]",
            "juju-log [-l] [WARNING] [hello world]",
            "juju-log [-l] [DEBUG] [--] [-x looks like a flag]",
        ]
    );
    assert!(matches!(
        tools.status_set(&Status::Error("x".into()), false),
        Err(ToolError::Invalid { .. })
    ));
}

#[test]
fn actions_state_goal_network() {
    let t = Tools::new();
    t.fake("action-get", r#"{"verbose": true}"#, "", 0);
    t.fake("action-set", "", "", 0);
    t.fake("action-fail", "", "", 0);
    t.fake("action-log", "", "", 0);
    t.fake("state-get", r#""v1""#, "", 0);
    t.fake("state-set", "", "", 0);
    t.fake("state-delete", "", "", 0);
    t.fake("goal-state", r#"{"units": {}, "relations": {}}"#, "", 0);
    t.fake(
        "network-get",
        r#"{"ingress-addresses": ["10.0.0.1"]}"#,
        "",
        0,
    );
    let tools = t.tools();
    assert_eq!(
        tools.action_get().unwrap()["verbose"],
        serde_json::json!(true)
    );
    let mut res = Bag::new();
    res.insert("url".into(), "http://x/".into());
    tools.action_set(&res).unwrap();
    tools.action_fail("no ingress").unwrap();
    tools.action_log("working").unwrap();
    assert_eq!(tools.state_get("k").unwrap().as_deref(), Some("v1"));
    tools.state_set("k", "v2").unwrap();
    tools.state_delete("k").unwrap();
    assert!(tools.goal_state().unwrap().get("units").is_some());
    let n = tools
        .network_get("website", Some(&RelationId::new("website", 2)))
        .unwrap();
    assert_eq!(n["ingress-addresses"][0], "10.0.0.1");
    assert_eq!(
        t.calls(),
        vec![
            "action-get [--format=json]",
            "action-set [url=http://x/]",
            "action-fail [no ingress]",
            "action-log [working]",
            "state-get [--format=json] [k]",
            "state-set [--file] [-]",
            r#"STDIN:{"k":"v2"}"#,
            "state-delete [k]",
            "goal-state [--format=json]",
            "network-get [website] [-r] [2] [--format=json]",
        ]
    );
}

#[test]
fn failures_keep_stderr_and_bad_output_is_a_parse_error() {
    let t = Tools::new();
    t.fake("relation-set", "", "ERROR permission denied", 2);
    t.fake("relation-get", "not json", "", 0);
    t.fake("is-leader", "\"maybe\"", "", 0);
    let tools = t.tools();
    let err = tools
        .relation_set(&RelationId::new("x", 1), &Bag::new(), true)
        .unwrap_err();
    assert_eq!(err.stderr(), Some("ERROR permission denied"));
    assert_eq!(
        err.to_string(),
        "relation-set -r 1 --app --file - failed (exit code 2): ERROR permission denied"
    );
    assert!(matches!(
        tools.relation_get(&RelationId::new("x", 1), "a", true),
        Err(ToolError::Parse { .. })
    ));
    assert!(matches!(tools.is_leader(), Err(ToolError::Parse { .. })));
    // A tool that does not exist.
    assert!(matches!(tools.goal_state(), Err(ToolError::Spawn { .. })));
}
