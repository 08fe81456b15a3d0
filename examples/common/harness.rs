//! Test harness shared by the example charms' jujusim tests (included with `#[path]`).
//!
//! The test binary plays several parts, chosen by argv[0]: jujusim's hook tools (a tool
//! name), small stand-in charms (`dispatch`, role from a `role` file in the charm dir) and the
//! test driver. The charm under test is the crate's own binary, deployed from a charm dir built
//! from `examples/<name>/` (metadata, config, actions) with `dispatch` linking to the binary.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use charm::{Context, HookResult, HookTools, Status};
use jujusim::{Controller, ControllerOptions, DeployArgs};
use serde_json::Value;
use service_mesh::{LabelMap, MeshType, ServiceMeshProvider};

/// Labels the stand-in mesh publishes.
pub const LABELS: &str = r#"{"istio.io/dataplane-mode": "ambient", "example.com/mesh": "mesh"}"#;

/// A stand-in beacon: publishes labels, reads every consumer's policies, reports the count.
pub const MESH_META: &str = "name: mesh
provides:
  service-mesh:
    interface: service_mesh
";

fn mesh_charm(ctx: &Context, tools: &dyn HookTools) -> HookResult {
    let p = ServiceMeshProvider::default();
    let labels: LabelMap = [
        ("istio.io/dataplane-mode", "ambient"),
        ("example.com/mesh", "mesh"),
    ]
    .into_iter()
    .collect();
    p.publish(ctx, tools, &labels, MeshType::Istio)?;
    let mut n = 0;
    let mut refused = vec![];
    for r in p.read_policies(ctx, tools)? {
        match r.policies {
            Ok(ps) => n += ps.len(),
            Err(e) => refused.push(format!("{}: {e}", r.relation)),
        }
    }
    let status = if refused.is_empty() {
        Status::active(format!("{n} policies"))
    } else {
        Status::blocked(format!("{n} policies; refused {}", refused.join("; ")))
    };
    tools.status_set(&status, false)?;
    Ok(())
}

/// A stand-in client: does nothing but be related (its metadata says to what).
fn client_charm(_ctx: &Context, tools: &dyn HookTools) -> HookResult {
    tools.status_set(&Status::active(""), false)?;
    Ok(())
}

/// Entry point of the test binary.
pub fn main_with(tests: &[(&str, fn())]) -> ExitCode {
    let argv0 = std::env::args().next().unwrap_or_default();
    let base = Path::new(&argv0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if base == "dispatch" {
        return charm::run(|ctx, tools| {
            let dir = ctx.charm_dir.clone().ok_or("JUJU_CHARM_DIR not set")?;
            let role = std::fs::read_to_string(dir.join("role"))?;
            match role.trim() {
                "mesh" => mesh_charm(ctx, tools.as_ref()),
                _ => client_charm(ctx, tools.as_ref()),
            }
        });
    }
    if jujusim::TOOL_NAMES.contains(&base.as_str()) {
        let code = jujusim::hook_tool_main();
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut failed = 0;
    for (name, t) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match std::panic::catch_unwind(t) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

pub struct Env {
    pub ctl: Controller,
    pub kube: Arc<kubesim::Server>,
    pub dir: tempfile::TempDir,
}

pub fn env() -> Env {
    let kube = Arc::new(kubesim::Server::start(kubesim::Config::default()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let ctl = Controller::new(ControllerOptions {
        kube: kube.clone(),
        hook_tool_exe: std::env::current_exe().unwrap(),
        work_dir: dir.path().join("work"),
    })
    .unwrap();
    Env { ctl, kube, dir }
}

impl Env {
    /// A charm dir for the example `name` (its metadata/config/actions) running `bin`.
    pub fn example_charm(&self, name: &str, bin: &str) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"));
        let d = self.dir.path().join("charms").join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in ["metadata.yaml", "config.yaml", "actions.yaml"] {
            if src.join(f).exists() {
                std::fs::copy(src.join(f), d.join(f)).unwrap();
            }
        }
        std::os::unix::fs::symlink(bin, d.join("dispatch")).unwrap();
        d
    }

    /// A stand-in charm dir with `role` (`mesh` or a client) and `meta`.
    pub fn stand_in(&self, role: &str, meta: &str) -> PathBuf {
        let d = self.dir.path().join("charms").join(role);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("metadata.yaml"), meta).unwrap();
        std::fs::write(d.join("role"), role).unwrap();
        std::os::unix::fs::symlink(std::env::current_exe().unwrap(), d.join("dispatch")).unwrap();
        d
    }

    pub fn deploy(&self, model: &str, charm: &Path, app: &str, units: u32, trust: bool) {
        let mut a = DeployArgs::new(charm);
        a.app = Some(app.into());
        a.units = units;
        a.trust = trust;
        self.ctl.deploy(model, a).unwrap();
    }

    pub fn workload(&self, model: &str, unit: &str) -> (String, String) {
        let st = serde_json::to_value(self.ctl.status(model).unwrap()).unwrap();
        let app = unit.split('/').next().unwrap();
        let w = &st["applications"][app]["units"][unit]["workload-status"];
        (
            w["current"].as_str().unwrap_or_default().to_string(),
            w["message"].as_str().unwrap_or_default().to_string(),
        )
    }

    pub fn app_bag(&self, model: &str, rel: u64, app: &str) -> BTreeMap<String, String> {
        let (apps, _) = self.ctl.relation_data(model, rel).unwrap();
        apps.get(app).cloned().unwrap_or_default()
    }

    pub fn get(&self, api: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        self.kube.store().get(api, kind, Some(ns), name).ok()
    }

    /// Assert the app's pod template and Service carry the stand-in mesh's labels.
    pub fn assert_on_mesh(&self, model: &str, app: &str) {
        let sts = self.get("apps/v1", "StatefulSet", model, app).unwrap();
        let tl = &sts["spec"]["template"]["metadata"]["labels"];
        assert_eq!(tl["istio.io/dataplane-mode"], "ambient", "{tl}");
        assert_eq!(tl["example.com/mesh"], "mesh", "{tl}");
        let svc = self.get("v1", "Service", model, app).unwrap();
        assert_eq!(
            svc["metadata"]["labels"]["istio.io/dataplane-mode"],
            "ambient"
        );
        let cm = self
            .get(
                "v1",
                "ConfigMap",
                model,
                &format!("juju-service-mesh-{app}-labels"),
            )
            .unwrap();
        assert_eq!(cm["data"]["labels"], LABELS);
    }

    /// Assert the Service exposes `port` (from `open-port`).
    pub fn assert_port(&self, model: &str, app: &str, port: u16) {
        let svc = self.get("v1", "Service", model, app).unwrap();
        let ports = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
        assert!(
            ports.iter().any(|p| p["port"] == port),
            "port {port} not on Service {app}: {ports:?}"
        );
    }
}
