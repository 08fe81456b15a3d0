//! A small Rust SDK for Juju charms, modelled on the Python `ops` library.
//!
//! - [`Context::from_env`]: which event is being dispatched (`JUJU_DISPATCH_PATH`, or argv[0]
//!   when run through a `hooks/<name>` link), to which unit, in which model.
//! - [`HookTools`]: typed hook tools; [`ProcessHookTools`] spawns Juju's real tools,
//!   [`testing::FakeHookTools`] keeps everything in memory.
//! - [`init_logging`]: a `tracing` subscriber that forwards to `juju-log`.
//! - [`Status`], [`Config`].

pub mod config;
pub mod context;
pub mod logging;
pub mod main_loop;
pub mod status;
pub mod testing;
pub mod tools;

pub use config::{Config, ConfigError};
pub use context::{app_of_unit, Context, ContextError, Event, RelationEvent, RelationId};
pub use logging::{
    default_filter, init_logging, init_logging_with_level, JujuLogLayer, LoggingError,
};
pub use main_loop::{run, HookResult};
pub use status::Status;
pub use tools::{Bag, HookTools, LogLevel, ProcessHookTools, Relation, ToolError};
