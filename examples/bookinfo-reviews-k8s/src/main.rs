//! bookinfo-reviews-k8s: the Bookinfo reviews service, on the mesh.

use std::process::ExitCode;
use std::sync::Arc;

use charm::{Context, HookResult, HookTools, Status};
use service_mesh::{AppPolicy, Endpoint, Method, ServiceMeshConsumer};

#[path = "../../common/bookinfo.rs"]
mod bookinfo;

const VERSIONS: [&str; 3] = ["v1", "v2", "v3"];

fn mesh() -> ServiceMeshConsumer {
    ServiceMeshConsumer::new(vec![AppPolicy {
        relation: "reviews".into(),
        endpoints: vec![Endpoint {
            ports: Some(vec![bookinfo::PORT]),
            methods: Some(vec![Method::Get]),
            paths: Some(vec!["/health".into(), "/reviews/*".into()]),
            hosts: None,
        }],
        service: None,
    }
    .into()])
}

fn handle(ctx: &Context, tools: &Arc<dyn HookTools>) -> HookResult {
    let tools = tools.as_ref();
    if let charm::Event::Action { name } = &ctx.event {
        return Err(format!("unknown action {name}").into());
    }
    bookinfo::publish_url(ctx, tools, "reviews")?;
    bookinfo::open_port_and_join_mesh(ctx, tools, bookinfo::PORT, &mesh())?;
    let version = tools.config_get()?.string_or("version", "v1")?;
    let status = if !VERSIONS.contains(&version.as_str()) {
        Status::blocked(format!("Invalid version: {version}"))
    } else if bookinfo::related_url(ctx, tools, "ratings")?.is_some() {
        Status::active(format!("Running version {version} with ratings"))
    } else if version != "v1" {
        Status::waiting(format!("Version {version} requires ratings service"))
    } else {
        Status::active(format!("Running version {version}"))
    };
    tools.status_set(&status, false)?;
    Ok(())
}

fn main() -> ExitCode {
    charm::run(handle)
}
