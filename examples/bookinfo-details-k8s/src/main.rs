//! bookinfo-details-k8s: the Bookinfo details service, on the mesh.

use std::process::ExitCode;
use std::sync::Arc;

use charm::{Context, HookResult, HookTools, Status};
use service_mesh::{AppPolicy, Endpoint, Method, ServiceMeshConsumer, UnitPolicy};

#[path = "../../common/bookinfo.rs"]
mod bookinfo;

fn mesh() -> ServiceMeshConsumer {
    ServiceMeshConsumer::new(vec![
        AppPolicy {
            relation: "details".into(),
            endpoints: vec![Endpoint {
                ports: Some(vec![bookinfo::PORT]),
                methods: Some(vec![Method::Get]),
                paths: Some(vec!["/health".into(), "/details/*".into()]),
                hosts: None,
            }],
            service: None,
        }
        .into(),
        UnitPolicy {
            relation: "peers".into(),
            ports: vec![bookinfo::PORT],
        }
        .into(),
    ])
}

fn handle(ctx: &Context, tools: &Arc<dyn HookTools>) -> HookResult {
    let tools = tools.as_ref();
    if let charm::Event::Action { name } = &ctx.event {
        return Err(format!("unknown action {name}").into());
    }
    bookinfo::publish_url(ctx, tools, "details")?;
    bookinfo::open_port_and_join_mesh(ctx, tools, bookinfo::PORT, &mesh())?;
    tools.status_set(&Status::active(""), false)?;
    Ok(())
}

fn main() -> ExitCode {
    charm::run(handle)
}
