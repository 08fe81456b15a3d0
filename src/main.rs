//! The charm binary: Juju runs it as `dispatch` (or through `hooks/<name>` links).

use std::process::ExitCode;
use std::sync::Arc;

use charm::{Context, HookTools, ProcessHookTools};
use istio_beacon::charm::{run_hook, KubeSource};

fn main() -> ExitCode {
    let tools: Arc<dyn HookTools> = Arc::new(ProcessHookTools::new());
    if let Err(e) = charm::init_logging(tools.clone()) {
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
                message = status.message(),
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
