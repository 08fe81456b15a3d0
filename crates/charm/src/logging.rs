//! A `tracing` layer that forwards events to `juju-log`, so `juju debug-log` shows them.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::Layer;

use crate::tools::{HookTools, LogLevel};

thread_local! {
    // juju-log is itself a tool call; never log about logging from inside it.
    static IN_JUJU_LOG: Cell<bool> = const { Cell::new(false) };
}

/// Map a tracing level to the juju-log level.
pub fn juju_level(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warning,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        Level::TRACE => LogLevel::Trace,
    }
}

/// Forwards every event to `juju-log` with the matching level. A failed `juju-log` falls back
/// to stderr (which Juju also captures) instead of failing the hook.
pub struct JujuLogLayer {
    tools: Arc<dyn HookTools>,
}

impl JujuLogLayer {
    pub fn new(tools: Arc<dyn HookTools>) -> Self {
        Self { tools }
    }
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: String,
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

impl<S: Subscriber> Layer<S> for JujuLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        if IN_JUJU_LOG.with(Cell::get) {
            return;
        }
        let mut v = MessageVisitor::default();
        event.record(&mut v);
        let line = format!("{}{}", v.message, v.fields);
        let level = juju_level(event.metadata().level());
        IN_JUJU_LOG.with(|f| f.set(true));
        let res = self.tools.juju_log(level, &line);
        IN_JUJU_LOG.with(|f| f.set(false));
        if let Err(e) = res {
            eprintln!("{level} {line} (juju-log failed: {e})");
        }
    }
}

/// Error installing the global subscriber (one was already installed).
#[derive(Debug, thiserror::Error)]
#[error("could not install the juju-log tracing subscriber: {0}")]
pub struct LoggingError(String);

/// HTTP and runtime crates log every connection at DEBUG/TRACE; in `juju debug-log` that drowns
/// the charm's own lines, so they are forwarded from WARN up only.
const QUIET_TARGETS: [&str; 10] = [
    "hyper",
    "hyper_util",
    "h2",
    "tower",
    "tower_http",
    "kube_client",
    "rustls",
    "mio",
    "tokio",
    "want",
];

/// The filter [`init_logging_with_level`] uses: `max_level` for the charm, WARN (or less if
/// `max_level` is stricter) for the noisy dependencies.
pub fn default_filter(max_level: LevelFilter) -> Targets {
    let quiet = std::cmp::min(max_level, LevelFilter::WARN);
    QUIET_TARGETS
        .iter()
        .fold(Targets::new().with_default(max_level), |t, target| {
            t.with_target(*target, quiet)
        })
}

/// Install a global subscriber forwarding events at `max_level` and above to `juju-log`
/// (dependencies' chatter only from WARN, see [`default_filter`]).
pub fn init_logging_with_level(
    tools: Arc<dyn HookTools>,
    max_level: LevelFilter,
) -> Result<(), LoggingError> {
    let subscriber = tracing_subscriber::registry()
        .with(JujuLogLayer::new(tools).with_filter(default_filter(max_level)));
    tracing::subscriber::set_global_default(subscriber).map_err(|e| LoggingError(e.to_string()))
}

/// Install a global subscriber forwarding DEBUG and above to `juju-log` (Juju's model
/// `logging-config` then decides what is kept).
pub fn init_logging(tools: Arc<dyn HookTools>) -> Result<(), LoggingError> {
    init_logging_with_level(tools, LevelFilter::DEBUG)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeHookTools;

    #[test]
    fn events_reach_juju_log_with_their_level() {
        let fake = Arc::new(FakeHookTools::new("app/0", "m"));
        let sub = tracing_subscriber::registry()
            .with(JujuLogLayer::new(fake.clone()).with_filter(LevelFilter::DEBUG));
        tracing::subscriber::with_default(sub, || {
            tracing::error!(relation = "service-mesh:3", "bad bag");
            tracing::warn!("careful");
            tracing::info!(n = 3, "applied");
            tracing::debug!("details");
            tracing::trace!("filtered out");
        });
        assert_eq!(
            fake.logs(),
            vec![
                (
                    LogLevel::Error,
                    "bad bag relation=\"service-mesh:3\"".to_string()
                ),
                (LogLevel::Warning, "careful".to_string()),
                (LogLevel::Info, "applied n=3".to_string()),
                (LogLevel::Debug, "details".to_string()),
            ]
        );
    }

    #[test]
    fn dependency_chatter_is_kept_out() {
        let fake = Arc::new(FakeHookTools::new("app/0", "m"));
        let sub = tracing_subscriber::registry()
            .with(JujuLogLayer::new(fake.clone()).with_filter(default_filter(LevelFilter::DEBUG)));
        tracing::subscriber::with_default(sub, || {
            tracing::debug!(target: "hyper_util::client::legacy::pool", "pooling idle connection");
            tracing::debug!(target: "kube_client::client", "requesting");
            tracing::warn!(target: "kube_client::client", "retrying");
            tracing::debug!(target: "istio_beacon::reconcile", "applied");
        });
        assert_eq!(
            fake.logs(),
            vec![
                (LogLevel::Warning, "retrying".to_string()),
                (LogLevel::Debug, "applied".to_string()),
            ]
        );
    }
}
