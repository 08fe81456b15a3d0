//! The charm binary run as Juju runs it (hook environment, hook tools on PATH), against fake
//! tools that answer from a fixed relation layout and record every call.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const VECTORS: &str = include_str!("../../../data/fixtures/service-mesh-vectors.json");

fn tool(dir: &Path, name: &str, body: &str) {
    let log = dir.join("calls.log");
    let script = format!(
        "#!/bin/sh\n{{ printf '%s' \"$(basename \"$0\")\"; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; printf '\\n'; }} >> '{}'\n\
         if [ ! -t 0 ]; then in=$(cat); [ -n \"$in\" ] && printf 'STDIN:%s\\n' \"$in\" >> '{}'; fi\n{body}\n",
        log.display(),
        log.display()
    );
    let p = dir.join(name);
    fs::write(&p, script).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
}

fn fake_juju(dir: &Path) {
    tool(dir, "is-leader", "echo true");
    tool(
        dir,
        "relation-ids",
        r#"case "$2" in
  service-mesh) echo '["service-mesh:1"]';;
  details) echo '["details:2"]';;
  peers) echo '["peers:3"]';;
  *) echo '[]';;
esac"#,
    );
    tool(
        dir,
        "relation-list",
        r#"if [ "$3" = "--app" ]; then
  case "$2" in 1) echo '"istio-beacon-k8s"';; 2) echo '"bookinfo-productpage-k8s"';; 3) echo '"bookinfo-details-k8s"';; esac
else echo '[]'; fi"#,
    );
    tool(dir, "relation-get", "echo '{}'");
    for t in ["relation-set", "open-port", "status-set", "juju-log"] {
        tool(dir, t, "exit 0");
    }
}

fn run(dir: &Path, dispatch_path: &str, extra: &[(&str, &str)]) -> std::process::Output {
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bookinfo-details-k8s"));
    cmd.env_clear()
        .env("PATH", path)
        .env("JUJU_DISPATCH_PATH", dispatch_path)
        .env("JUJU_UNIT_NAME", "bookinfo-details-k8s/0")
        .env("JUJU_MODEL_NAME", "bookinfo")
        .env("JUJU_MODEL_UUID", "0000");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn relation_created_writes_the_python_policies_and_opens_the_port() {
    let dir = tempfile::tempdir().unwrap();
    fake_juju(dir.path());
    let out = run(
        dir.path(),
        "hooks/service-mesh-relation-created",
        &[
            ("JUJU_RELATION", "service-mesh"),
            ("JUJU_RELATION_ID", "service-mesh:1"),
            ("JUJU_REMOTE_APP", "istio-beacon-k8s"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls = fs::read_to_string(dir.path().join("calls.log")).unwrap();
    let v: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    let expected = v["results"][0]["policies_databag"].as_str().unwrap();
    assert_eq!(v["results"][0]["id"], "in-model-app-policy");
    let set_line = calls
        .lines()
        .skip_while(|l| *l != "relation-set [-r] [1] [--app] [--file] [-]")
        .nth(1)
        .unwrap_or_default();
    let bag: serde_json::Value =
        serde_json::from_str(set_line.trim_start_matches("STDIN:")).unwrap();
    assert_eq!(bag["policies"], expected);
    assert!(calls.contains("open-port [9080/tcp]"), "{calls}");
    assert!(calls.contains("status-set [active] []"), "{calls}");
    // Logging went to juju-log.
    assert!(calls.contains("juju-log [-l] [INFO]"), "{calls}");
}

#[test]
fn a_failing_tool_fails_the_hook_with_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    fake_juju(dir.path());
    tool(
        dir.path(),
        "open-port",
        "echo 'ERROR port range bad' >&2; exit 1",
    );
    let out = run(dir.path(), "hooks/config-changed", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ERROR port range bad"), "{stderr}");
}

#[test]
fn no_event_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    fake_juju(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_bookinfo-details-k8s"))
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JUJU_DISPATCH_PATH is not set"));
}

#[test]
fn runs_through_a_hooks_link_without_dispatch_path() {
    let dir = tempfile::tempdir().unwrap();
    fake_juju(dir.path());
    let charm = dir.path().join("charm");
    fs::create_dir_all(charm.join("hooks")).unwrap();
    let link = charm.join("hooks").join("upgrade-charm");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_bookinfo-details-k8s"), &link).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(&link)
        .env_clear()
        .env("PATH", path)
        .env("JUJU_UNIT_NAME", "bookinfo-details-k8s/0")
        .env("JUJU_MODEL_NAME", "bookinfo")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls = fs::read_to_string(dir.path().join("calls.log")).unwrap();
    assert!(
        calls.contains("juju-log [-l] [DEBUG] [dispatching event=\"upgrade-charm\""),
        "{calls}"
    );
    assert!(calls.contains("open-port [9080/tcp]"), "{calls}");
}
