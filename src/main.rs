//! The charm binary: Juju runs it as `dispatch` (or through `hooks/<name>` links).

use std::process::ExitCode;
use std::sync::Arc;

use charm::{Context, HookTools, JujuLogLayer, ProcessHookTools};
use istio_beacon::charm::{run_hook, KubeSource};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

/// Forward our own DEBUG events to `juju-log`, but only WARN and above from libraries (kube,
/// hyper, tower): every forwarded event is one `juju-log` process.
fn init_logging(tools: Arc<dyn HookTools>) -> Result<(), String> {
    let filter = Targets::new()
        .with_target("istio_beacon", LevelFilter::DEBUG)
        .with_target("istio_beacon_k8s", LevelFilter::DEBUG)
        .with_target("charm", LevelFilter::DEBUG)
        .with_target("service_mesh", LevelFilter::DEBUG)
        .with_default(LevelFilter::WARN);
    let subscriber =
        tracing_subscriber::registry().with(JujuLogLayer::new(tools).with_filter(filter));
    tracing::subscriber::set_global_default(subscriber).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let tools: Arc<dyn HookTools> = Arc::new(ProcessHookTools::new());
    if let Err(e) = init_logging(tools.clone()) {
        eprintln!("{e}");
    }
    let ctx = match Context::from_env() {
        Ok(ctx) => ctx,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("istio-beacon-k8s: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One hook is short-lived and sequential: a current-thread runtime is enough.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("istio-beacon-k8s: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_hook(&ctx, tools.as_ref(), KubeSource::Infer)) {
        Ok(status) => {
            tracing::debug!(
                status = status.name(),
                summary = status.message(),
                "hook done"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("hook {} failed: {e}", ctx.hook_name());
            eprintln!("istio-beacon-k8s: hook {} failed: {e}", ctx.hook_name());
            ExitCode::FAILURE
        }
    }
}
