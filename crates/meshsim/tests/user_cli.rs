//! What a Juju operator types beyond the tutorials, checked against what the real `juju` CLI
//! prints for the same command on a Kubernetes model (found while trying meshsim as a new user).

#[path = "common/mod.rs"]
mod common;

use common::setup;
use meshsim::{Output, Sim};
use serde_json::Value;

fn run(sim: &mut Sim, line: &str) -> Output {
    let out = sim.execute(line);
    eprintln!("$ {line}\n{}{}", out.stdout, out.stderr);
    out
}

fn all(o: &Output) -> String {
    format!("{}{}", o.stdout, o.stderr)
}

/// Juju refuses named units on a Kubernetes model (juju/juju cmd/juju/application/removeunit.go,
/// `validateCAASRemoval`): "k8s models do not support removing named units. Instead specify an
/// application with --num-units.", and an application without `--num-units` is refused too.
#[test]
fn remove_unit_on_a_kubernetes_model_takes_an_application_and_num_units() {
    let mut sim = Sim::new(None).expect("simulator starts");
    assert_eq!(run(&mut sim, "juju add-model k8s").code, 0);

    let o = run(&mut sim, "juju remove-unit foo/0");
    assert_ne!(o.code, 0, "{}", all(&o));
    assert!(
        o.stderr
            .contains("ERROR k8s models do not support removing named units.\nInstead specify an application with --num-units."),
        "{}",
        all(&o)
    );

    let o = run(&mut sim, "juju remove-unit foo");
    assert_ne!(o.code, 0, "{}", all(&o));
    assert!(
        o.stderr
            .contains("ERROR specify the number of units (> 0) to remove using --num-units"),
        "{}",
        all(&o)
    );

    let o = run(&mut sim, "juju remove-unit foo bar --num-units 1");
    assert_ne!(o.code, 0, "{}", all(&o));
    assert!(
        o.stderr.contains("ERROR only single application supported"),
        "{}",
        all(&o)
    );
}

fn task_ids(text: &str) -> Vec<u64> {
    // `id "7" with return code 6`
    text.split("id \"")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect()
}

#[test]
fn scaling_exec_and_run_print_what_juju_prints() {
    setup();
    let mut sim = Sim::new(None).expect("simulator starts");
    for line in [
        "juju add-model shop",
        "juju deploy bookinfo-productpage-k8s --trust",
    ] {
        let o = run(&mut sim, line);
        assert_eq!(o.code, 0, "{line}: {}", all(&o));
    }

    // juju/juju cmd/juju/application/scale.go: ctx.Infof("%v scaled to %d units", ...).
    let o = run(
        &mut sim,
        "juju scale-application bookinfo-productpage-k8s 2",
    );
    assert_eq!(o.code, 0, "{}", all(&o));
    assert!(
        all(&o).contains("bookinfo-productpage-k8s scaled to 2 units"),
        "{}",
        all(&o)
    );
    // removeunit.go removeCaasUnits: ctx.Infof("scaling down to %d units", result.Info.Scale).
    let o = run(
        &mut sim,
        "juju remove-unit bookinfo-productpage-k8s --num-units 1",
    );
    assert_eq!(o.code, 0, "{}", all(&o));
    assert!(all(&o).contains("scaling down to 1 units"), "{}", all(&o));

    // Every `juju exec` and `juju run` is a new operation with its own task: Juju numbers
    // operations and tasks from one sequence per model, so a failure names a new task each time.
    let curl = "juju exec -u bookinfo-productpage-k8s/0 -- curl -s http://nowhere.shop.svc.cluster.local:9080/";
    let first = run(&mut sim, curl);
    let second = run(&mut sim, curl);
    assert_ne!(first.code, 0);
    assert_ne!(second.code, 0);
    let (a, b) = (task_ids(&first.stderr), task_ids(&second.stderr));
    assert_eq!(a.len(), 1, "{}", first.stderr);
    assert_eq!(b.len(), 1, "{}", second.stderr);
    assert!(b[0] > a[0], "task ids {a:?} then {b:?}");

    // `<app>/leader` names the leader unit, for exec and run alike (juju help exec: "--unit ...
    // <application>/leader").
    let o = run(
        &mut sim,
        "juju exec -u bookinfo-productpage-k8s/leader -- is-leader",
    );
    assert_eq!((o.code, o.stdout.trim()), (0, "True"), "{}", all(&o));
    let o = run(&mut sim, "juju run bookinfo-productpage-k8s/leader get-url");
    assert_eq!(o.code, 0, "{}", all(&o));
    assert!(
        o.stdout.contains(" on unit-bookinfo-productpage-k8s-0\n"),
        "{}",
        o.stdout
    );
    let b = [b[0] + 4];

    // debug-log filters: `--level` shows that severity and above, `--exclude` drops entities
    // (juju help debug-log).
    let o = run(&mut sim, "juju debug-log --replay --level INFO");
    assert_eq!(o.code, 0, "{}", all(&o));
    assert!(o.stdout.contains(" INFO "), "{}", o.stdout);
    assert!(!o.stdout.contains(" DEBUG "), "{}", o.stdout);
    let o = run(
        &mut sim,
        "juju debug-log --replay --exclude bookinfo-productpage-k8s",
    );
    assert!(
        !o.stdout.contains("unit-bookinfo-productpage-k8s-0:"),
        "{}",
        o.stdout
    );
    let o = run(&mut sim, "juju debug-log --level loud");
    assert_ne!(o.code, 0, "{}", all(&o));

    let o = run(&mut sim, "juju run bookinfo-productpage-k8s/0 get-url");
    assert_eq!(o.code, 0, "{}", all(&o));
    let op: u64 = o
        .stdout
        .strip_prefix("Running operation ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        op > b[0],
        "operation {op} after task {}: {}",
        b[0],
        o.stdout
    );
    assert!(
        o.stdout.contains(&format!(
            "  - task {} on unit-bookinfo-productpage-k8s-0",
            op + 1
        )),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains(&format!("Waiting for task {}...", op + 1)),
        "{}",
        o.stdout
    );
}

/// `juju status --format json` describes the same controller and cloud as the tabular status
/// (Controller `meshsim`, Cloud/Region `meshsim/default`), with Juju's keys: `controller`,
/// `cloud`, `region`, `sla`.
#[test]
fn status_json_names_the_controller_and_cloud_the_table_shows() {
    let mut sim = Sim::new(None).expect("simulator starts");
    assert_eq!(run(&mut sim, "juju add-model shop").code, 0);
    let table = run(&mut sim, "juju status");
    let row = table.stdout.lines().nth(1).unwrap_or_default().to_string();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols.get(1), Some(&"meshsim"), "{}", table.stdout);
    assert_eq!(cols.get(2), Some(&"meshsim/default"), "{}", table.stdout);

    let o = run(&mut sim, "juju status --format json");
    assert_eq!(o.code, 0, "{}", all(&o));
    let v: Value = serde_json::from_str(o.stdout.trim()).unwrap_or(Value::Null);
    let m = &v["model"];
    assert_eq!(m["name"], "shop", "{v}");
    assert_eq!(m["controller"], "meshsim", "{v}");
    assert_eq!(m["cloud"], "meshsim", "{v}");
    assert_eq!(m["region"], "default", "{v}");
    assert_eq!(m["sla"], "unsupported", "{v}");

    let o = run(&mut sim, "juju status --format yaml");
    let y: Value = serde_yaml::from_str(&o.stdout).unwrap_or(Value::Null);
    assert_eq!(y["model"]["controller"], "meshsim", "{}", o.stdout);

    // `juju models --format json` is JSON, as for every juju listing command.
    assert_eq!(run(&mut sim, "juju add-model other").code, 0);
    assert_eq!(run(&mut sim, "juju switch shop").code, 0);
    let o = run(&mut sim, "juju models --format json");
    assert_eq!(o.code, 0, "{}", all(&o));
    let v: Value = serde_json::from_str(o.stdout.trim()).unwrap_or(Value::Null);
    assert_eq!(v["current-model"], "shop", "{}", o.stdout);
    let models = v["models"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = models
        .iter()
        .filter_map(|m| m["short-name"].as_str())
        .collect();
    assert_eq!(names, ["other", "shop"], "{}", o.stdout);
    for m in &models {
        assert_eq!(m["controller-name"], "meshsim", "{m}");
        assert_eq!(m["type"], "kubernetes", "{m}");
        assert_eq!(m["cloud"], "meshsim", "{m}");
    }
    let o = run(&mut sim, "juju models --format yaml");
    let y: Value = serde_yaml::from_str(&o.stdout).unwrap_or(Value::Null);
    assert_eq!(y["current-model"], "shop", "{}", o.stdout);
}

/// Juju gives every Kubernetes application a headless Service `<app>-endpoints` (clusterIP
/// None) besides `<app>`, so that each unit's pod has a DNS name
/// (`<app>-0.<app>-endpoints.<ns>.svc.cluster.local`). Without it a user cannot address a unit
/// directly, which is the traffic a charm's unit policy (ztunnel, selector) is about.
#[test]
fn a_deployed_application_has_its_headless_endpoints_service() {
    setup();
    let mut sim = Sim::new(None).expect("simulator starts");
    for line in [
        "juju add-model shop",
        "juju deploy bookinfo-productpage-k8s --trust",
    ] {
        let o = run(&mut sim, line);
        assert_eq!(o.code, 0, "{line}: {}", all(&o));
    }
    let svc = sim
        .store()
        .get(
            "v1",
            "Service",
            Some("shop"),
            "bookinfo-productpage-k8s-endpoints",
        )
        .unwrap_or(Value::Null);
    assert_eq!(svc["spec"]["clusterIP"], "None", "{svc}");
}

/// meshsim has no shell (docs/tutorials/README.md): a pipe, redirection, command list or
/// variable is refused with a clear message instead of being passed on as words, which printed
/// what no shell would (`juju models | head -1` printed the whole table, `> file` wrote nothing).
#[test]
fn shell_syntax_is_refused_not_ignored() {
    let mut sim = Sim::new(None).expect("simulator starts");
    for line in [
        "juju models | head -1",
        "juju models > /tmp/models.txt",
        "juju add-model a && juju models",
        "juju add-model a; juju models",
        "juju add-model \"$NAME\"",
        "juju add-model $(whoami)",
    ] {
        let o = run(&mut sim, line);
        assert_eq!(o.code, 2, "{line}: {}", all(&o));
        assert!(o.stderr.contains("shell syntax"), "{line}: {}", all(&o));
    }
    // Nothing ran: no model was added.
    let o = run(&mut sim, "juju models");
    assert!(!o.stdout.contains("\na"), "{}", o.stdout);
    // Quoted, the same characters are words.
    let o = run(&mut sim, "echo 'a | b; $HOME > c'");
    assert_eq!((o.code, o.stdout.as_str()), (0, "a | b; $HOME > c\n"));
    let o = run(
        &mut sim,
        "juju exec -u x/0 -- curl -s -w '%{http_code}\\n' http://h/",
    );
    assert!(!o.stderr.contains("shell syntax"), "{}", all(&o));
}

/// A unit reaches a peer by its pod name under Juju's headless `<app>-endpoints` Service. In
/// Istio ambient such pod-addressed traffic does not go through a waypoint bound with
/// `istio.io/waypoint-for: service`: the destination ztunnel judges it with the caller's
/// identity against selector policies, so the details charm's unit policy (its own pods, port
/// 9080) lets a details unit in and resets the product page's connection.
#[test]
fn pod_addressed_traffic_is_judged_by_the_unit_policy_at_ztunnel() {
    setup();
    let mut sim = Sim::new(None).expect("simulator starts");
    for line in [
        "juju add-model istio-system",
        "juju deploy istio-k8s --trust",
        "juju add-model bookinfo",
        "juju deploy bookinfo-productpage-k8s --trust",
        "juju deploy bookinfo-details-k8s --trust",
        "juju deploy istio-beacon-k8s --trust",
        "juju integrate bookinfo-details-k8s:service-mesh istio-beacon-k8s:service-mesh",
        "juju integrate bookinfo-productpage-k8s:service-mesh istio-beacon-k8s:service-mesh",
    ] {
        let o = run(&mut sim, line);
        assert_eq!(o.code, 0, "{line}: {}", all(&o));
    }
    let pod_url = "http://bookinfo-details-k8s-0.bookinfo-details-k8s-endpoints.bookinfo.svc.cluster.local:9080/health";

    let o = run(
        &mut sim,
        &format!("juju exec -u bookinfo-details-k8s/0 -- curl -s {pod_url}"),
    );
    assert_eq!(o.code, 0, "{}", all(&o));
    let a: Value = serde_json::from_str(&o.stdout).expect("JSON answer");
    assert_eq!(
        (a["app"].as_str(), a["unit"].as_str(), a["path"].as_str()),
        (
            Some("bookinfo-details-k8s"),
            Some("bookinfo-details-k8s/0"),
            Some("/health")
        ),
        "{}",
        o.stdout
    );

    let o = run(
        &mut sim,
        &format!("juju exec -u bookinfo-productpage-k8s/0 -- curl -sS {pod_url}"),
    );
    // `juju exec` exits 1 and names the task's return code: curl's 56.
    assert_eq!(o.code, 1, "{}", all(&o));
    assert!(
        o.stderr
            .contains("curl: (56) Recv failure: Connection reset by peer"),
        "{}",
        all(&o)
    );
    assert!(o.stderr.contains("with return code 56"), "{}", all(&o));
    assert_eq!(o.stdout, "");

    // The same product page unit addressing the Service goes through the service waypoint,
    // whose identity the destination ztunnel admits; no application policy of details names
    // the (unrelated) product page at the waypoint, so it answers: only the pod-addressed
    // request met the unit policy with the product page's own identity.
    let o = run(
        &mut sim,
        "juju exec -u bookinfo-productpage-k8s/0 -- curl -s http://bookinfo-details-k8s.bookinfo.svc.cluster.local:9080/health",
    );
    assert_eq!(o.code, 0, "{}", all(&o));
    let a: Value = serde_json::from_str(&o.stdout).expect("JSON answer");
    assert_eq!(a["app"], "bookinfo-details-k8s", "{}", o.stdout);
}
