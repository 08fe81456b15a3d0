//! Shared by the tutorial tests: building the charm binaries once, running command lines in a
//! fresh simulated world, and looking at what each command printed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use meshsim::script::CommandLine;
use meshsim::{Output, Sim};
use serde_json::Value;

/// The repository root (crates/meshsim/../..).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// Packages whose binaries the tutorials deploy.
pub const CHARM_PACKAGES: &[&str] = &[
    "istio-beacon-k8s",
    "istio-k8s",
    "istio-ingress-k8s",
    "bookinfo-productpage-k8s",
    "bookinfo-details-k8s",
    "bookinfo-reviews-k8s",
    "bookinfo-ratings-k8s",
];

/// Builds the charm binaries once (the charms the tutorials deploy are binaries of other
/// packages, which `cargo test` does not build as executables), and points meshsim at them.
pub fn setup() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let r = DONE.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let status = std::process::Command::new(cargo)
            .args(["build", "--bins", "--quiet"])
            .args(CHARM_PACKAGES.iter().flat_map(|p| ["-p", p]))
            .current_dir(repo_root())
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!(
                "building the charm binaries (cargo build --bins -p {}) failed: {status}",
                CHARM_PACKAGES.join(" -p ")
            ));
        }
        let bins = repo_root().join("target/debug");
        let bins = std::env::var_os("CARGO_TARGET_DIR")
            .map(|t| PathBuf::from(t).join("debug"))
            .unwrap_or(bins);
        // Set once, before any world exists; nothing else in this process writes the environment.
        std::env::set_var("MESHSIM_CHARM_PATH", &bins);
        std::env::set_var("MESHSIM_HOOK_TOOL", env!("CARGO_BIN_EXE_meshsim"));
        Ok(())
    });
    if let Err(e) = r {
        panic!("{e}");
    }
}

/// One command and what it printed.
#[derive(Debug, Clone)]
pub struct Step {
    pub line: CommandLine,
    pub out: Output,
}

/// Runs each line in `sim`, stopping at the first failure when `stop_on_failure`.
pub fn run_lines(sim: &mut Sim, lines: &[CommandLine], stop_on_failure: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    for l in lines {
        let out = sim.execute(&l.text);
        let failed = out.code != 0;
        eprintln!("$ {}\n{}{}", l.text, out.stdout, out.stderr);
        steps.push(Step {
            line: l.clone(),
            out,
        });
        if failed && stop_on_failure {
            break;
        }
    }
    steps
}

/// Outputs of every run of exactly this command line, in order.
pub fn outputs<'a>(steps: &'a [Step], text: &str) -> Vec<&'a Output> {
    steps
        .iter()
        .filter(|s| s.line.text == text)
        .map(|s| &s.out)
        .collect()
}

/// Asserts every step exited 0, naming the first that did not.
pub fn assert_all_succeeded(steps: &[Step]) {
    if let Some(s) = steps.iter().find(|s| s.out.code != 0) {
        panic!(
            "{}:{}: `{}` exited {}:\n{}{}",
            s.line.file, s.line.line, s.line.text, s.out.code, s.out.stdout, s.out.stderr
        );
    }
}

/// The simulated workload's JSON answer, parsed.
pub fn answer(o: &Output) -> Value {
    serde_json::from_str(o.stdout.trim()).unwrap_or(Value::Null)
}

/// Every object in the cluster that some charm owns (ownership labels of the beacon and the
/// istio-k8s stand-in, or istiod's waypoint objects), as `kind namespace/name`.
pub fn owned_objects(sim: &Sim) -> Vec<String> {
    let mut found = Vec::new();
    walk(&sim.store().dump(), &mut found);
    found
}

fn walk(v: &Value, found: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(labels) = m.get("metadata").and_then(|md| md.get("labels")) {
                let owned = [
                    "kubernetes-resource-handler-scope",
                    "gateway.istio.io/managed",
                    "app.kubernetes.io/managed-by",
                ]
                .iter()
                .any(|k| labels.get(*k).is_some_and(|v| v != "juju"))
                    || labels
                        .get("app.kubernetes.io/instance")
                        .and_then(Value::as_str)
                        .is_some_and(|i| i.ends_with("istio-beacon-k8s"));
                if owned {
                    found.push(format!(
                        "{} {}/{}",
                        m.get("kind").and_then(Value::as_str).unwrap_or("?"),
                        m.get("metadata")
                            .and_then(|md| md.get("namespace"))
                            .and_then(Value::as_str)
                            .unwrap_or(""),
                        m.get("metadata")
                            .and_then(|md| md.get("name"))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                    ));
                }
            }
            for x in m.values() {
                walk(x, found);
            }
        }
        Value::Array(a) => {
            for x in a {
                walk(x, found);
            }
        }
        _ => {}
    }
}
