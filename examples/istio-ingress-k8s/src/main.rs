//! istio-ingress-k8s stand-in: the leader answers every `ingress`/`ingress-unauthenticated`
//! relation with `ingress = {"url": "http://<host>/<model>-<app>"}` in its application bag,
//! where `model` and `name` come from the requirer's application bag (ingress v2 protocol,
//! values JSON-encoded). Non-leaders and other events only report status.

use std::process::ExitCode;

use charm::{Bag, Context, HookTools, ProcessHookTools, Status};

const ENDPOINTS: [&str; 2] = ["ingress", "ingress-unauthenticated"];

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("hook context: {0}")]
    Context(#[from] charm::ContextError),
    #[error("hook tool: {0}")]
    Tool(#[from] charm::ToolError),
}

/// ingress v2 values are JSON-encoded strings; accept plain strings too.
fn decode(v: &str) -> String {
    serde_json::from_str::<String>(v).unwrap_or_else(|_| v.to_string())
}

fn run() -> Result<(), Error> {
    let ctx = Context::from_env()?;
    let tools = ProcessHookTools::new();
    if !tools.is_leader()? {
        tools.status_set(&Status::active(""), false)?;
        return Ok(());
    }
    let cfg = tools.config_get()?;
    let host = cfg.string_or("external-hostname", "").unwrap_or_default();
    let host = if host.is_empty() {
        format!("{}.{}.svc.cluster.local", ctx.app_name, ctx.model_name)
    } else {
        host
    };
    let mut served = 0;
    for ep in ENDPOINTS {
        for rel in tools.relations(ep)? {
            // A relation being broken still lists itself in its -broken hook; skip it.
            if ctx.event.is_broken(ep) && ctx.event.relation().map(|r| &r.relation) == Some(&rel.id)
            {
                continue;
            }
            let Some(remote) = rel.app.clone() else {
                continue;
            };
            let bag = tools.relation_get(&rel.id, &remote, true)?;
            let (Some(model), Some(name)) = (bag.get("model"), bag.get("name")) else {
                continue; // the requirer has not asked yet
            };
            let url = format!("http://{host}/{}-{}", decode(model), decode(name));
            let mut out = Bag::new();
            out.insert(
                "ingress".to_string(),
                serde_json::json!({ "url": url }).to_string(),
            );
            tools.relation_set(&rel.id, &out, true)?;
            served += 1;
        }
    }
    let msg = if served == 0 {
        String::new()
    } else {
        format!("serving {served} ingress request(s)")
    };
    tools.status_set(&Status::active(msg), false)?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("istio-ingress-k8s: {e}");
            ExitCode::FAILURE
        }
    }
}
