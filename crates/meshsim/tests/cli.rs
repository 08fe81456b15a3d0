//! The `meshsim` command line: what it prints, its exit status, --keep-going, --state, and the
//! built-in `kubectl get`. No charms are deployed, so these run in about a second.

use std::process::Command;

fn meshsim(args: &[&str], cwd: &std::path::Path) -> (String, String, i32) {
    let o = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("meshsim runs");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn runs_scripts_and_markdown_echoing_each_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("a.sh"),
        "# a comment\n\njuju add-model first\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("b.md"),
        "# Title\n\n```bash\njuju add-model 'second'\njuju models\n```\n\n```text\njuju nope\n```\n",
    )
    .expect("write");
    let (out, _, code) = meshsim(&["run", "a.sh", "b.md"], dir.path());
    assert_eq!(code, 0, "{out}");
    let commands: Vec<&str> = out.lines().filter(|l| l.starts_with("$ ")).collect();
    assert_eq!(
        commands,
        [
            "$ juju add-model first",
            "$ juju add-model 'second'",
            "$ juju models"
        ]
    );
    assert!(out.contains("Added 'first' model"), "{out}");
    // `juju models` marks the current model, the last one added.
    assert!(out.lines().any(|l| l.starts_with("second*")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("first ")), "{out}");
}

#[test]
fn stops_at_the_first_failure_unless_keep_going() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("s.sh"),
        "juju switch nowhere\njuju add-model x\nfrobnicate\njuju status\n",
    )
    .expect("write");
    let (out, err, code) = meshsim(&["run", "s.sh"], dir.path());
    assert_eq!(code, 1);
    assert!(
        out.contains("ERROR \"nowhere\" is not the name of a model or controller"),
        "{out}"
    );
    assert!(!out.contains("$ juju add-model x"), "{out}");
    assert!(err.contains("s.sh:1"), "{err}");

    let (out, _, code) = meshsim(&["run", "--keep-going", "s.sh"], dir.path());
    // The first failure's status is reported; every line ran.
    assert_eq!(code, 1);
    assert!(out.contains("$ juju status"), "{out}");
    assert!(out.contains("frobnicate: command not simulated"), "{out}");
    assert!(out.contains("Model \"admin/x\" is empty."), "{out}");
}

#[test]
fn state_directory_keeps_models_between_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    std::fs::write(dir.path().join("one.sh"), "juju add-model kept\n").expect("write");
    std::fs::write(dir.path().join("two.sh"), "juju models\njuju status\n").expect("write");
    let state_arg = state.display().to_string();
    let (_, _, code) = meshsim(&["run", "--state", &state_arg, "one.sh"], dir.path());
    assert_eq!(code, 0);
    let (out, _, code) = meshsim(&["run", "--state", &state_arg, "two.sh"], dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.lines().any(|l| l.starts_with("kept*")), "{out}");
    // Without --state every run starts empty.
    let (out, _, code) = meshsim(&["run", "two.sh"], dir.path());
    assert_eq!(code, 1);
    assert!(out.contains("ERROR no current model"), "{out}");
}

#[test]
fn missing_file_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, err, code) = meshsim(&["run", "absent.md"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("absent.md"), "{err}");
}

#[test]
fn builtin_kubectl_get() {
    let s = kubesim::Store::new();
    s.create(
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}),
    )
    .expect("ns");
    s.create(serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p-0", "namespace": "n"},
        "spec": {"containers": [{"name": "c", "image": "i"}]}}))
        .expect("pod");
    let args = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    let o = meshsim::kubectl::builtin(&s, &args("get pods -n n"));
    assert_eq!(o.code, 0);
    assert!(o.stdout.starts_with("NAME"), "{}", o.stdout);
    assert!(o.stdout.contains("p-0"));
    let o = meshsim::kubectl::builtin(&s, &args("get pods -n n -o yaml"));
    assert!(
        o.stdout.contains("kind: List") && o.stdout.contains("name: p-0"),
        "{}",
        o.stdout
    );
    let o = meshsim::kubectl::builtin(&s, &args("get pods -n empty"));
    assert_eq!(o.stderr, "No resources found in empty namespace.\n");
    let o = meshsim::kubectl::builtin(&s, &args("apply -f x"));
    assert_eq!(o.code, 1);
}

/// The built-in `kubectl get pods` READY column counts ready, running containers out of the
/// pod's containers (as kubectl does), instead of always `1/1`; RESTARTS sums the restarts.
#[test]
fn builtin_kubectl_get_pods_counts_ready_containers() {
    let s = kubesim::Store::new();
    s.create(
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}),
    )
    .expect("ns");
    let pod = |name: &str, statuses: serde_json::Value| {
        let p = s
            .create(serde_json::json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "n"},
                "spec": {"containers": [
                    {"name": "charm", "image": "i"},
                    {"name": "app", "image": "i"},
                    {"name": "extra", "image": "i"}]}}))
            .expect("pod");
        let mut p = p;
        p["status"] = serde_json::json!({"phase": "Running", "containerStatuses": statuses});
        s.replace_status(p).expect("status");
    };
    pod(
        "all-ready",
        serde_json::json!([
            {"name": "charm", "ready": true, "restartCount": 0, "state": {"running": {}}},
            {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}},
            {"name": "extra", "ready": true, "restartCount": 0, "state": {"running": {}}}]),
    );
    pod(
        "partly-ready",
        serde_json::json!([
            {"name": "charm", "ready": true, "restartCount": 1, "state": {"running": {}}},
            {"name": "app", "ready": false, "restartCount": 2, "state": {"running": {}}},
            // Ready but not running (terminated): kubectl does not count it.
            {"name": "extra", "ready": true, "restartCount": 0, "state": {"terminated": {}}}]),
    );
    let args = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    let o = meshsim::kubectl::builtin(&s, &args("get pods -n n"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let row = |name: &str| -> Vec<String> {
        o.stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {}", o.stdout))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("all-ready")[1..4], ["3/3", "Running", "0"]);
    assert_eq!(row("partly-ready")[1..4], ["1/3", "Running", "3"]);
}

#[test]
fn real_kubectl_talks_to_the_simulated_cluster() {
    if meshsim::kubectl::find_kubectl().is_none() {
        eprintln!(
            "SKIPPED: kubectl is not installed; meshsim uses its built-in `get` (tested above)"
        );
        return;
    }
    let mut sim = meshsim::Sim::new(None).expect("simulator");
    assert_eq!(sim.execute("juju add-model seen").code, 0);
    let o = sim.execute("kubectl get namespaces -o name");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.lines().any(|l| l == "namespace/seen"),
        "{}",
        o.stdout
    );
}
