//! Harness shared by the root package's integration tests: the jujusim hook tool, kubesim +
//! jujusim started together, and the charm directories they deploy. Each test binary uses a
//! subset, hence the module-level `dead_code` allowance.
#![allow(dead_code)]

pub mod membership;
pub mod policy;
pub mod reconcile;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Once};

use jujusim::{Controller, ControllerOptions};

pub const MODEL: &str = "shop";
pub const BEACON: &str = "beacon";

/// jujusim's multi-call hook tool, built next to this test binary (Cargo builds a dependency's
/// binaries only for its own tests, so build it once here; a no-op when fresh).
pub fn hook_tool_exe() -> PathBuf {
    static BUILD: Once = Once::new();
    let exe = std::env::current_exe().expect("test exe path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "jujusim",
            "--bin",
            "jujusim-hook-tool",
        ]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo");
        assert!(status.success(), "building jujusim-hook-tool failed");
    });
    dir.join("jujusim-hook-tool")
}

/// A kubesim API server and a jujusim controller using it, with model [`MODEL`] added.
pub struct Env {
    pub ctl: Controller,
    pub kube: Arc<kubesim::Server>,
    pub dir: tempfile::TempDir,
}

/// The AuthorizationPolicy and Gateway CRDs: what a cluster with Istio installed serves.
pub fn istio_crds() -> Vec<String> {
    vec![
        kubesim::ISTIO_AUTHORIZATION_POLICY_CRD.to_owned(),
        kubesim::GATEWAY_CRD.to_owned(),
    ]
}

/// Starts kubesim serving `crds` and a jujusim controller on it, and adds [`MODEL`].
pub fn start(crds: Vec<String>) -> Env {
    start_in(MODEL, crds)
}

/// As [`start`], with the model named `model`.
pub fn start_in(model: &str, crds: Vec<String>) -> Env {
    let kube = Arc::new(
        kubesim::Server::start(kubesim::Config {
            crd_yaml: crds,
            ..kubesim::Config::default()
        })
        .expect("kubesim"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let ctl = Controller::new(ControllerOptions {
        kube: kube.clone(),
        hook_tool_exe: hook_tool_exe(),
        work_dir: dir.path().join("work"),
    })
    .expect("controller");
    ctl.add_model(model).expect("model");
    Env { ctl, kube, dir }
}

/// The beacon's charm dir as the build tree gives it: metadata and config from the repository
/// root, `dispatch` = the compiled binary. Fails if `root` already holds one.
pub fn beacon_charm(root: &Path) -> PathBuf {
    let d = root.join("charms").join("beacon");
    std::fs::create_dir_all(&d).expect("mkdir");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["metadata.yaml", "config.yaml"] {
        std::fs::copy(repo.join(f), d.join(f)).expect("copy charm file");
    }
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_istio-beacon-k8s"), d.join("dispatch"))
        .expect("dispatch link");
    d
}

/// As [`beacon_charm`], but reuses the charm dir already under `root` if there is one.
pub fn reused_beacon_charm(root: &Path) -> PathBuf {
    let d = root.join("charms").join("beacon");
    if d.join("dispatch").exists() {
        return d;
    }
    beacon_charm(root)
}

/// A workload charm that does nothing by itself but set an active status.
pub fn workload_charm(root: &Path, name: &str, metadata: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = root.join("charms").join(name);
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join("metadata.yaml"), format!("name: {name}\n{metadata}")).expect("meta");
    let p = d.join("dispatch");
    std::fs::write(&p, "#!/bin/sh\nstatus-set active ready\n").expect("dispatch");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    d
}
