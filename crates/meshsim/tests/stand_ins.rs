//! The istio-k8s and istio-ingress-k8s stand-ins as a user meets them, and `juju exec` running
//! hook tools in a unit's context.

mod common;

use common::{run_lines, setup};
use meshsim::script::CommandLine;

fn lines(text: &str) -> Vec<CommandLine> {
    meshsim::script::commands("test.sh", text)
}

#[test]
fn istio_k8s_needs_trust_and_configures_istiod() {
    setup();
    let mut sim = meshsim::Sim::new(None).expect("simulator");
    let steps = run_lines(
        &mut sim,
        &lines("juju add-model istio-system\njuju deploy istio-k8s\njuju status\n"),
        true,
    );
    let status = &steps[2].out.stdout;
    assert!(
        status.contains("blocked") && status.contains("juju trust istio-k8s --scope=cluster"),
        "{status}"
    );
    assert!(meshsim::cluster::istiod(&sim.store()).is_none());

    let steps = run_lines(
        &mut sim,
        &lines("juju trust istio-k8s --scope=cluster\njuju status\nkubectl get crds -o name\n"),
        true,
    );
    assert!(
        steps[1].out.stdout.contains("active"),
        "{}",
        steps[1].out.stdout
    );
    let istiod = meshsim::cluster::istiod(&sim.store()).expect("istiod announced");
    assert_eq!(istiod.namespace, "istio-system");
    assert!(
        istiod.auto_allow_waypoint_policy,
        "default true, as Charmed Istio"
    );
    if meshsim::kubectl::find_kubectl().is_some() {
        assert!(steps[2]
            .out
            .stdout
            .contains("authorizationpolicies.security.istio.io"));
    }

    let steps = run_lines(
        &mut sim,
        &lines("juju config istio-k8s auto-allow-waypoint-policy=false\njuju config istio-k8s auto-allow-waypoint-policy\n"),
        true,
    );
    assert_eq!(steps[1].out.stdout, "false\n");
    assert!(
        !meshsim::cluster::istiod(&sim.store())
            .expect("istiod")
            .auto_allow_waypoint_policy
    );

    // Removing istio-k8s removes istiod's settings and the CRDs, as the real charm does.
    run_lines(
        &mut sim,
        &lines("juju remove-application istio-k8s\n"),
        true,
    );
    assert!(meshsim::cluster::istiod(&sim.store()).is_none());
    assert!(sim
        .store()
        .list("security.istio.io/v1", "AuthorizationPolicy", None, None)
        .is_err());
}

#[test]
fn ingress_publishes_a_url_and_exec_runs_hook_tools() {
    setup();
    let mut sim = meshsim::Sim::new(None).expect("simulator");
    let steps = run_lines(
        &mut sim,
        &lines(
            "juju add-model istio-system
juju deploy istio-ingress-k8s --trust
juju offer istio-ingress-k8s:ingress,ingress-unauthenticated
juju add-model bookinfo
juju deploy bookinfo-productpage-k8s --trust
juju consume istio-system.istio-ingress-k8s
juju integrate bookinfo-productpage-k8s istio-ingress-k8s:ingress
juju run bookinfo-productpage-k8s/0 get-url
juju exec -u bookinfo-productpage-k8s/0 -- relation-ids ingress
juju exec -u bookinfo-productpage-k8s/0 -- is-leader
juju exec -u bookinfo-productpage-k8s/0 -- curl -s http://nowhere.bookinfo.svc.cluster.local/
",
        ),
        false,
    );
    for s in &steps[..10] {
        assert_eq!(s.out.code, 0, "`{}`: {}", s.line.text, s.out.stderr);
    }
    let url = &steps[7].out.stdout;
    assert!(
        url.contains("url: http://istio-ingress-k8s.istio-system.svc.cluster.local/bookinfo-bookinfo-productpage-k8s"),
        "{url}"
    );
    assert!(
        steps[8].out.stdout.starts_with("ingress:"),
        "{}",
        steps[8].out.stdout
    );
    assert_eq!(steps[9].out.stdout.trim(), "True");
    // Unknown host: curl's exit 6, and juju exec reports the failed task.
    let unknown = &steps[10].out;
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("with return code 6"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn deploy_path_takes_a_charm_directory() {
    setup();
    let mut sim = meshsim::Sim::new(None).expect("simulator");
    // `juju deploy NAME` assembles a charm directory; deploying that directory by path works too.
    let steps = run_lines(
        &mut sim,
        &lines("juju add-model a\njuju deploy istio-ingress-k8s\n"),
        true,
    );
    assert!(steps.iter().all(|s| s.out.code == 0));
    let dir = sim.work.join("charms/istio-ingress-k8s");
    let steps = run_lines(
        &mut sim,
        &lines(&format!(
            "juju deploy {} edge-ingress\njuju status\njuju deploy ./no/such/charm\n",
            dir.display()
        )),
        false,
    );
    assert_eq!(steps[0].out.code, 0, "{}", steps[0].out.stderr);
    assert!(steps[0]
        .out
        .stderr
        .contains("Located local charm \"istio-ingress-k8s\""));
    assert!(
        steps[1]
            .out
            .stdout
            .lines()
            .any(|l| l.starts_with("edge-ingress ")),
        "{}",
        steps[1].out.stdout
    );
    assert_eq!(steps[2].out.code, 1);
    assert!(
        steps[2]
            .out
            .stderr
            .starts_with("ERROR charm \"./no/such/charm\" not found"),
        "{}",
        steps[2].out.stderr
    );
}

#[test]
fn state_directory_keeps_deployed_charms_working() {
    setup();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("one.sh"),
        "juju add-model istio-system\njuju deploy istio-k8s --trust\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("two.sh"),
        "juju status\njuju add-model m\njuju deploy istio-beacon-k8s --trust\njuju status\nkubectl get pods -n m -o name\n",
    )
    .expect("write");
    let run = |file: &str| {
        // A relative --state directory, as a user would type it.
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_meshsim"))
            .args(["run", "--state", "state", file])
            .current_dir(dir.path())
            .output()
            .expect("meshsim runs");
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            o.status.code(),
        )
    };
    let (out, code) = run("one.sh");
    assert_eq!(code, Some(0), "{out}");
    let (out, code) = run("two.sh");
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("hook failed"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("istio-k8s/0*") && l.contains("active")),
        "{out}"
    );
    // istiod (restored from the first run) deploys the new beacon's waypoint, which the beacon
    // waits for before it reports active.
    assert!(
        out.lines()
            .any(|l| l.starts_with("istio-beacon-k8s/0*") && l.contains("active")),
        "{out}"
    );
    if meshsim::kubectl::find_kubectl().is_some() {
        assert!(out.contains("pod/m-istio-beacon-k8s-waypoint-0"), "{out}");
    }
}
