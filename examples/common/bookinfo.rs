//! Shared by the example Bookinfo charms (each includes this file with `#[path]`): the
//! `bookinfo-*` service relation (the provider publishes its URL, as the published charms'
//! `bookinfo_service` library does), opening the workload port and joining the mesh.

// Not every charm uses every helper.
#![allow(dead_code)]

use charm::{Bag, Context, HookTools, ToolError};
use service_mesh::{
    ConsumerError, ConsumerOutcome, KubeLabelStore, LabelStore, ServiceMeshConsumer,
};

/// The port every Bookinfo workload listens on.
pub const PORT: u16 = 9080;

/// The in-cluster URL of this application's Service. The published charms publish
/// `http://<app>:9080`; the fully qualified name also resolves across models.
pub fn service_url(ctx: &Context) -> String {
    format!(
        "http://{}.{}.svc.cluster.local:{PORT}",
        ctx.app_name, ctx.model_name
    )
}

/// Provider side of a `bookinfo-*` relation: the leader publishes `url` on every relation of
/// `endpoint` (only when it changed).
pub fn publish_url(ctx: &Context, tools: &dyn HookTools, endpoint: &str) -> Result<(), ToolError> {
    if !tools.is_leader()? {
        return Ok(());
    }
    let url = service_url(ctx);
    for id in tools.relation_ids(endpoint)? {
        if ctx.event.is_broken(endpoint) && ctx.event.relation().map(|r| &r.relation) == Some(&id) {
            continue;
        }
        if tools.relation_get(&id, &ctx.app_name, true)?.get("url") == Some(&url) {
            continue;
        }
        let mut bag = Bag::new();
        bag.insert("url".into(), url.clone());
        tools.relation_set(&id, &bag, true)?;
        tracing::info!(relation = %id, "published URL {url}");
    }
    Ok(())
}

/// Consumer side of a `bookinfo-*` relation: the URL the related service published, if any.
pub fn related_url(
    ctx: &Context,
    tools: &dyn HookTools,
    endpoint: &str,
) -> Result<Option<String>, ToolError> {
    for rel in tools.relations(endpoint)? {
        if ctx.event.is_broken(endpoint)
            && ctx.event.relation().map(|r| &r.relation) == Some(&rel.id)
        {
            continue;
        }
        let Some(app) = rel.app else { continue };
        if let Some(url) = tools.relation_get(&rel.id, &app, true)?.remove("url") {
            return Ok(Some(url));
        }
    }
    Ok(None)
}

/// Open the workload port (idempotent, as the published charms do on every hook) and let the
/// service-mesh consumer do its work. Kubernetes access comes from `KUBECONFIG` (or the
/// in-cluster service account); without it the charm still writes its policies but cannot
/// label itself.
pub fn open_port_and_join_mesh(
    ctx: &Context,
    tools: &dyn HookTools,
    port: u16,
    mesh: &ServiceMeshConsumer,
) -> Result<ConsumerOutcome, ConsumerError> {
    if !matches!(ctx.event, charm::Event::Remove | charm::Event::Stop) {
        tools.open_port(port, "tcp")?;
    }
    let store = if std::env::var_os("KUBECONFIG").is_some()
        || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
    {
        match KubeLabelStore::from_env(&ctx.app_name) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("cannot label this application for the mesh: {e}");
                None
            }
        }
    } else {
        None
    };
    mesh.handle(ctx, tools, store.as_ref().map(|s| s as &dyn LabelStore))
}
