//! The `ops.main` equivalent: build the context and tools, install logging, run the charm's
//! handler, and turn its result into the exit status Juju records.

use std::error::Error;
use std::process::ExitCode;
use std::sync::Arc;

use crate::context::Context;
use crate::tools::{HookTools, ProcessHookTools};

/// A charm's entry point result.
pub type HookResult = Result<(), Box<dyn Error + Send + Sync>>;

/// Run `handler` for the event in the environment with the real hook tools. A context error or
/// a handler error is logged (juju-log and stderr) and gives exit status 1, so Juju marks the
/// hook failed and retries it.
pub fn run<F>(handler: F) -> ExitCode
where
    F: FnOnce(&Context, &Arc<dyn HookTools>) -> HookResult,
{
    let tools: Arc<dyn HookTools> = Arc::new(ProcessHookTools::new());
    let ctx = match Context::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A second subscriber (from a test harness, say) is not a reason to fail the hook.
    if let Err(e) = crate::logging::init_logging(tools.clone()) {
        eprintln!("{e}");
    }
    tracing::debug!(event = ctx.hook_name(), unit = %ctx.unit_name, "dispatching");
    match handler(&ctx, &tools) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{} failed: {e}", ctx.dispatch_path);
            eprintln!("error: {} failed: {e}", ctx.dispatch_path);
            ExitCode::FAILURE
        }
    }
}
