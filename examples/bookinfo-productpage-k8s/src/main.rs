//! bookinfo-productpage-k8s: the Bookinfo front end, on the mesh. Calls details, reviews and
//! ratings (possibly in other models, through `require-cmr-mesh`), asks an ingress for a URL,
//! and answers the `get-url` action.

use std::process::ExitCode;
use std::sync::Arc;

use charm::{Bag, Context, Event, HookResult, HookTools, Status, ToolError};
use serde_json::Value;
use service_mesh::{AppPolicy, Endpoint, Method, ServiceMeshConsumer};

#[path = "../../common/bookinfo.rs"]
mod bookinfo;

const BACKENDS: [&str; 3] = ["details", "reviews", "ratings"];

fn mesh(port: u16) -> ServiceMeshConsumer {
    ServiceMeshConsumer::new(vec![AppPolicy {
        relation: "website".into(),
        endpoints: vec![Endpoint {
            ports: Some(vec![port]),
            methods: Some(vec![Method::Get]),
            paths: Some(
                ["/productpage", "/static/*", "/login", "/logout", "/health"]
                    .map(String::from)
                    .to_vec(),
            ),
            hosts: None,
        }],
        service: None,
    }
    .into()])
}

fn port(tools: &dyn HookTools) -> Result<u16, Box<dyn std::error::Error + Send + Sync>> {
    let port = tools
        .config_get()?
        .int_or("port", i64::from(bookinfo::PORT))?;
    u16::try_from(port).map_err(|_| format!("config option port {port} is not a TCP port").into())
}

/// Ingress (`ingress` interface v2) requirer: the leader asks for this application, every unit
/// announces its host. Values are JSON-encoded, as the interface wants.
fn request_ingress(ctx: &Context, tools: &dyn HookTools, port: u16) -> Result<(), ToolError> {
    let leader = tools.is_leader()?;
    for id in tools.relation_ids("ingress")? {
        if ctx.event.is_broken("ingress") && ctx.event.relation().map(|r| &r.relation) == Some(&id)
        {
            continue;
        }
        if leader {
            let want: Bag = [
                ("model", Value::from(ctx.model_name.as_str())),
                ("name", Value::from(ctx.app_name.as_str())),
                ("port", Value::from(port)),
                ("strip-prefix", Value::from(true)),
                ("redirect-https", Value::from(true)),
                ("scheme", Value::from("http")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let have = tools.relation_get(&id, &ctx.app_name, true)?;
            if want.iter().any(|(k, v)| have.get(k) != Some(v)) {
                tools.relation_set(&id, &want, true)?;
            }
        }
        let host = Value::from(format!(
            "{}.{}-endpoints.{}.svc.cluster.local",
            ctx.unit_name.replace('/', "-"),
            ctx.app_name,
            ctx.model_name
        ))
        .to_string();
        if tools.relation_get(&id, &ctx.unit_name, false)?.get("host") != Some(&host) {
            let mut bag = Bag::new();
            bag.insert("host".into(), host);
            tools.relation_set(&id, &bag, false)?;
        }
    }
    Ok(())
}

/// The URL the ingress provider published (`ingress` = `{"url": ...}`; a bare `url` key is
/// accepted too).
fn ingress_url(ctx: &Context, tools: &dyn HookTools) -> Result<Option<String>, ToolError> {
    for rel in tools.relations("ingress")? {
        if ctx.event.is_broken("ingress")
            && ctx.event.relation().map(|r| &r.relation) == Some(&rel.id)
        {
            continue;
        }
        let Some(app) = rel.app else { continue };
        let bag = tools.relation_get(&rel.id, &app, true)?;
        if let Some(raw) = bag.get("ingress") {
            match serde_json::from_str::<Value>(raw) {
                Ok(v) => {
                    if let Some(url) = v.get("url").and_then(Value::as_str) {
                        return Ok(Some(url.to_string()));
                    }
                }
                Err(e) => tracing::warn!(relation = %rel.id, "ignoring invalid ingress data: {e}"),
            }
        }
        if let Some(url) = bag.get("url") {
            return Ok(Some(url.clone()));
        }
    }
    Ok(None)
}

/// `website` (interface `http`) provider: each unit publishes its hostname and port.
fn publish_website(ctx: &Context, tools: &dyn HookTools, port: u16) -> Result<(), ToolError> {
    let want: Bag = [
        (
            "hostname".to_string(),
            format!("{}.{}.svc.cluster.local", ctx.app_name, ctx.model_name),
        ),
        ("port".to_string(), port.to_string()),
    ]
    .into_iter()
    .collect();
    for id in tools.relation_ids("website")? {
        if ctx.event.is_broken("website") && ctx.event.relation().map(|r| &r.relation) == Some(&id)
        {
            continue;
        }
        let have = tools.relation_get(&id, &ctx.unit_name, false)?;
        if want.iter().any(|(k, v)| have.get(k) != Some(v)) {
            tools.relation_set(&id, &want, false)?;
        }
    }
    Ok(())
}

fn get_url(ctx: &Context, tools: &dyn HookTools, port: u16) -> HookResult {
    let mut url = match ingress_url(ctx, tools)? {
        Some(u) => u,
        None => format!(
            "http://{}.{}.svc.cluster.local:{port}",
            ctx.app_name, ctx.model_name
        ),
    };
    if !url.ends_with('/') {
        url.push('/');
    }
    url.push_str("productpage?u=normal");
    let mut res = Bag::new();
    res.insert("url".into(), url);
    tools.action_set(&res)?;
    Ok(())
}

fn handle(ctx: &Context, tools: &Arc<dyn HookTools>) -> HookResult {
    let tools = tools.as_ref();
    let port = port(tools)?;
    if let Event::Action { name } = &ctx.event {
        return match name.as_str() {
            "get-url" => get_url(ctx, tools, port),
            other => {
                tools.action_fail(&format!("unknown action {other}"))?;
                Ok(())
            }
        };
    }
    request_ingress(ctx, tools, port)?;
    publish_website(ctx, tools, port)?;
    bookinfo::open_port_and_join_mesh(ctx, tools, port, &mesh(port))?;
    let mut backends = 0;
    for b in BACKENDS {
        if bookinfo::related_url(ctx, tools, b)?.is_some() {
            backends += 1;
        }
    }
    tools.status_set(
        &Status::active(format!("Ready with {backends} backend services")),
        false,
    )?;
    Ok(())
}

fn main() -> ExitCode {
    charm::run(handle)
}
