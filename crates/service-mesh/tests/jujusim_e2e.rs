//! End to end under jujusim and kubesim: charms built on the `charm` SDK and this library run
//! as real hook processes, talk to the emulated controller only through hook tools, and label
//! their own Kubernetes objects through the API.
//!
//! This test binary plays three parts, by argv[0]: the hook tools (jujusim's multi-call
//! client), the charms (`dispatch`, role from a file in the charm dir) and the test driver.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use charm::{Context, HookResult, HookTools, Status};
use jujusim::{Controller, ControllerOptions, DeployArgs};
use serde_json::Value;
use service_mesh::*;

// ---------------------------------------------------------------- the charms under test

const CONSUMER_META: &str = "name: workload
provides:
  api:
    interface: test_api
  provide-cmr-mesh:
    interface: cross_model_mesh
requires:
  api-client:
    interface: test_api
  service-mesh:
    interface: service_mesh
    limit: 1
  require-cmr-mesh:
    interface: cross_model_mesh
peers:
  peers:
    interface: workload_peers
";

const PROVIDER_META: &str = "name: mesh
provides:
  service-mesh:
    interface: service_mesh
";

fn consumer_charm(ctx: &Context, tools: &dyn HookTools) -> HookResult {
    let mesh = ServiceMeshConsumer::new(vec![
        AppPolicy {
            relation: "api".into(),
            endpoints: vec![Endpoint {
                ports: Some(vec![9080]),
                methods: Some(vec![Method::Get]),
                paths: Some(vec!["/x/*".into()]),
                hosts: None,
            }],
            service: None,
        }
        .into(),
        UnitPolicy {
            relation: "peers".into(),
            ports: vec![9080],
        }
        .into(),
    ]);
    let store = KubeLabelStore::from_env(&ctx.app_name)?;
    mesh.handle(ctx, tools, Some(&store))?;
    tools.open_port(9080, "tcp")?;
    tools.status_set(&Status::active("ok"), false)?;
    Ok(())
}

fn provider_charm(ctx: &Context, tools: &dyn HookTools) -> HookResult {
    let p = ServiceMeshProvider::default();
    let labels: LabelMap = [
        ("istio.io/dataplane-mode", "ambient"),
        ("example.com/mesh", ctx.app_name.as_str()),
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

fn charm_main() -> ExitCode {
    charm::run(|ctx, tools| {
        let dir = ctx.charm_dir.clone().ok_or("JUJU_CHARM_DIR not set")?;
        let role = std::fs::read_to_string(dir.join("role"))?;
        match role.trim() {
            "provider" => provider_charm(ctx, tools.as_ref()),
            _ => consumer_charm(ctx, tools.as_ref()),
        }
    })
}

// ---------------------------------------------------------------- the driver

struct Env {
    ctl: Controller,
    kube: Arc<kubesim::Server>,
    dir: tempfile::TempDir,
}

fn env() -> Env {
    let kube = Arc::new(kubesim::Server::start(kubesim::Config::default()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let ctl = Controller::new(ControllerOptions {
        kube: kube.clone(),
        hook_tool_exe: exe,
        work_dir: dir.path().join("work"),
    })
    .unwrap();
    Env { ctl, kube, dir }
}

fn charm_dir(e: &Env, role: &str, meta: &str) -> PathBuf {
    let d = e.dir.path().join("charms").join(role);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("metadata.yaml"), meta).unwrap();
    std::fs::write(d.join("role"), role).unwrap();
    std::os::unix::fs::symlink(std::env::current_exe().unwrap(), d.join("dispatch")).unwrap();
    d
}

fn deploy(e: &Env, model: &str, charm: &Path, app: &str, units: u32) {
    let mut a = DeployArgs::new(charm);
    a.app = Some(app.into());
    a.units = units;
    a.trust = true;
    e.ctl.deploy(model, a).unwrap();
}

fn unit_message(e: &Env, model: &str, unit: &str) -> (String, String) {
    let st = serde_json::to_value(e.ctl.status(model).unwrap()).unwrap();
    let app = unit.split('/').next().unwrap();
    let w = &st["applications"][app]["units"][unit]["workload-status"];
    (
        w["current"].as_str().unwrap_or_default().to_string(),
        w["message"].as_str().unwrap_or_default().to_string(),
    )
}

fn app_bag(e: &Env, model: &str, rel: u64, app: &str) -> BTreeMap<String, String> {
    let (apps, _) = e.ctl.relation_data(model, rel).unwrap();
    apps.get(app).cloned().unwrap_or_default()
}

fn get(e: &Env, api: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
    e.kube.store().get(api, kind, Some(ns), name).ok()
}

const LABELS: &str = r#"{"istio.io/dataplane-mode": "ambient", "example.com/mesh": "mesh"}"#;

fn single_model() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let consumer = charm_dir(&e, "consumer", CONSUMER_META);
    let provider = charm_dir(&e, "provider", PROVIDER_META);
    deploy(&e, "m", &provider, "mesh", 1);
    deploy(&e, "m", &consumer, "back", 2);
    deploy(&e, "m", &consumer, "front", 1);
    e.ctl.run_until_idle().unwrap();
    e.ctl
        .integrate("m", "front:api-client", "back:api")
        .unwrap();
    let mesh_rel = e
        .ctl
        .integrate("m", "back:service-mesh", "mesh:service-mesh")
        .unwrap();
    e.ctl.run_until_idle().unwrap();

    // The consumer's leader wrote exactly what the Python library would.
    let expected = r#"[{"source_namespace": "m", "source_app_name": "front", "target_namespace": "m", "target_app_name": "back", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": [9080], "methods": ["GET"], "paths": ["/x/*"]}]}, {"source_namespace": "m", "source_app_name": "back", "target_namespace": "m", "target_app_name": "back", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [9080], "methods": null, "paths": null}]}]"#;
    assert_eq!(app_bag(&e, "m", mesh_rel, "back")["policies"], expected);
    // The provider published labels and mesh type, and read both policies.
    let mesh_bag = app_bag(&e, "m", mesh_rel, "mesh");
    assert_eq!(mesh_bag["labels"], LABELS);
    assert_eq!(mesh_bag["mesh_type"], "\"istio\"");
    assert_eq!(
        unit_message(&e, "m", "mesh/0"),
        ("active".into(), "2 policies".into())
    );
    assert_eq!(unit_message(&e, "m", "back/1").0, "active");

    // The consumer labelled its own pod template and Service, and recorded what it applied.
    let sts = get(&e, "apps/v1", "StatefulSet", "m", "back").unwrap();
    let tl = &sts["spec"]["template"]["metadata"]["labels"];
    assert_eq!(tl["istio.io/dataplane-mode"], "ambient");
    assert_eq!(tl["example.com/mesh"], "mesh");
    assert_eq!(tl["app.kubernetes.io/name"], "back");
    let svc = get(&e, "v1", "Service", "m", "back").unwrap();
    assert_eq!(
        svc["metadata"]["labels"]["istio.io/dataplane-mode"],
        "ambient"
    );
    let cm = get(&e, "v1", "ConfigMap", "m", "juju-service-mesh-back-labels").unwrap();
    assert_eq!(cm["data"]["labels"], LABELS);
    // front is not on the mesh: untouched.
    let front = get(&e, "apps/v1", "StatefulSet", "m", "front").unwrap();
    assert!(front["spec"]["template"]["metadata"]["labels"]
        .get("istio.io/dataplane-mode")
        .is_none());

    // A malformed bag is refused for that relation only, and the consumer heals it.
    let out = e
        .ctl
        .exec(
            "m",
            "back/0",
            &[
                "relation-set".into(),
                "-r".into(),
                mesh_rel.to_string(),
                "--app".into(),
                "policies=[{oops".into(),
            ],
        )
        .unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    e.ctl.run_until_idle().unwrap();
    let (st, msg) = unit_message(&e, "m", "mesh/0");
    assert_eq!(st, "blocked");
    assert!(
        msg.starts_with(&format!(
            "0 policies; refused service-mesh:{mesh_rel}: invalid policies data"
        )),
        "{msg}"
    );
    e.ctl.update_status(Some("m")).unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(app_bag(&e, "m", mesh_rel, "back")["policies"], expected);
    assert_eq!(
        unit_message(&e, "m", "mesh/0"),
        ("active".into(), "2 policies".into())
    );

    // Leaving the relation takes the peer's caller out: front's policy goes.
    e.ctl
        .remove_relation("m", "front:api-client", "back:api")
        .unwrap();
    e.ctl.run_until_idle().unwrap();
    let p = parse_policies(&app_bag(&e, "m", mesh_rel, "back")["policies"]).unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].source_app_name, "back");
    assert_eq!(
        unit_message(&e, "m", "mesh/0"),
        ("active".into(), "1 policies".into())
    );

    // Breaking the mesh relation removes the labels and the record.
    e.ctl
        .remove_relation("m", "back:service-mesh", "mesh:service-mesh")
        .unwrap();
    e.ctl.run_until_idle().unwrap();
    let sts = get(&e, "apps/v1", "StatefulSet", "m", "back").unwrap();
    let tl = &sts["spec"]["template"]["metadata"]["labels"];
    assert!(tl.get("istio.io/dataplane-mode").is_none(), "{tl}");
    assert!(tl.get("example.com/mesh").is_none(), "{tl}");
    assert_eq!(tl["app.kubernetes.io/name"], "back");
    let svc = get(&e, "v1", "Service", "m", "back").unwrap();
    assert!(svc["metadata"]["labels"]
        .get("istio.io/dataplane-mode")
        .is_none());
    assert!(get(&e, "v1", "ConfigMap", "m", "juju-service-mesh-back-labels").is_none());
}

fn cross_model() {
    let e = env();
    e.ctl.add_model("a").unwrap();
    e.ctl.add_model("b").unwrap();
    let consumer = charm_dir(&e, "consumer", CONSUMER_META);
    let provider = charm_dir(&e, "provider", PROVIDER_META);
    deploy(&e, "a", &consumer, "front", 1);
    deploy(&e, "b", &consumer, "back", 1);
    deploy(&e, "b", &provider, "mesh", 1);
    let mesh_rel = e
        .ctl
        .integrate("b", "back:service-mesh", "mesh:service-mesh")
        .unwrap();
    e.ctl.offer("b", "back:api,provide-cmr-mesh", None).unwrap();
    e.ctl.consume("a", "b.back", None).unwrap();
    e.ctl.run_until_idle().unwrap();
    e.ctl
        .integrate("a", "front:api-client", "back:api")
        .unwrap();
    e.ctl.run_until_idle().unwrap();

    // Without cmr_data the caller is only an alias in b.
    let p = parse_policies(&app_bag(&e, "b", mesh_rel, "back")["policies"]).unwrap();
    let app_policy = p
        .iter()
        .find(|p| p.target_type == PolicyTargetType::App)
        .unwrap();
    assert!(app_policy.source_app_name.starts_with("remote-"), "{p:?}");
    assert_eq!(app_policy.source_namespace, "b");

    // front's leader tells who it is; back folds it in.
    e.ctl
        .integrate("a", "front:require-cmr-mesh", "back:provide-cmr-mesh")
        .unwrap();
    e.ctl.run_until_idle().unwrap();
    let p = parse_policies(&app_bag(&e, "b", mesh_rel, "back")["policies"]).unwrap();
    let app_policy = p
        .iter()
        .find(|p| p.target_type == PolicyTargetType::App)
        .unwrap();
    assert_eq!(app_policy.source_app_name, "front");
    assert_eq!(app_policy.source_namespace, "a");
    assert_eq!(app_policy.target_namespace, "b");
    assert_eq!(app_policy.target_app_name.as_deref(), Some("back"));
}

fn main() -> ExitCode {
    let argv0 = std::env::args().next().unwrap_or_default();
    let base = Path::new(&argv0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if base == "dispatch" {
        return charm_main();
    }
    if jujusim::TOOL_NAMES.contains(&base.as_str()) {
        let code = jujusim::hook_tool_main();
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    // Test driver. `cargo test` may pass filters and flags; run everything regardless.
    let tests: [(&str, fn()); 2] = [("single_model", single_model), ("cross_model", cross_model)];
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut failed = 0;
    for (name, t) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        print!("test {name} ... ");
        match std::panic::catch_unwind(t) {
            Ok(()) => println!("ok"),
            Err(_) => {
                println!("FAILED");
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
