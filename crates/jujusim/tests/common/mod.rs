//! Test harness: a kubesim server, a controller, and small shell-script charms.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jujusim::{Controller, ControllerOptions, DeployArgs, HookRun};

pub struct Env {
    pub ctl: Controller,
    pub kube: Arc<kubesim::Server>,
    pub dir: tempfile::TempDir,
}

pub fn env() -> Env {
    let kube = Arc::new(kubesim::Server::start(kubesim::Config::default()).expect("kubesim"));
    let dir = tempfile::tempdir().expect("tempdir");
    let ctl = Controller::new(ControllerOptions {
        kube: kube.clone(),
        hook_tool_exe: PathBuf::from(env!("CARGO_BIN_EXE_jujusim-hook-tool")),
        work_dir: dir.path().join("work"),
    })
    .expect("controller");
    Env { ctl, kube, dir }
}

/// Writes a charm dir with `metadata.yaml`, optional `config.yaml`/`actions.yaml` and a
/// `dispatch` shell script (a `#!/bin/sh` prologue is added).
pub fn charm(
    root: &Path,
    name: &str,
    metadata: &str,
    config: &str,
    actions: &str,
    dispatch: &str,
) -> PathBuf {
    let d = root.join("charms").join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("metadata.yaml"), format!("name: {name}\n{metadata}")).unwrap();
    if !config.is_empty() {
        std::fs::write(d.join("config.yaml"), config).unwrap();
    }
    if !actions.is_empty() {
        std::fs::write(d.join("actions.yaml"), actions).unwrap();
    }
    let p = d.join("dispatch");
    std::fs::write(
        &p,
        format!("#!/bin/sh\nset -e\nHOOK=\"${{JUJU_DISPATCH_PATH#hooks/}}\"\n{dispatch}\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

pub fn deploy(e: &Env, model: &str, charm: &Path, app: &str, units: u32) {
    let mut a = DeployArgs::new(charm);
    a.app = Some(app.to_string());
    a.units = units;
    e.ctl.deploy(model, a).expect("deploy");
}

pub fn sh(e: &Env, model: &str, unit: &str, script: &str) -> jujusim::ExecOutput {
    e.ctl
        .exec(
            model,
            unit,
            &["sh".to_string(), "-c".to_string(), script.to_string()],
        )
        .expect("exec")
}

/// Hooks run by one unit, in order.
pub fn hooks_of(e: &Env, model: &str, unit: &str) -> Vec<String> {
    e.ctl
        .hook_log()
        .into_iter()
        .filter(|h: &HookRun| h.model == model && h.unit == unit)
        .map(|h| h.hook)
        .collect()
}

pub fn kv(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub const PROVIDER_META: &str =
    "provides:\n  db:\n    interface: pgsql\npeers:\n  cluster:\n    interface: cluster\n";
pub const REQUIRER_META: &str = "requires:\n  db:\n    interface: pgsql\n";
