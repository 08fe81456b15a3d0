//! jujusim: an emulated Juju 3.6 controller for Kubernetes models.
//!
//! Charms run as real child processes with Juju's hook environment and talk to the
//! emulator only through hook-tool executables (one multi-call binary, see
//! [`hook_tool_main`]) over a unix socket. Kubernetes side effects go to a
//! [`kubesim`] store. See `docs/jujusim.md` for what is and is not emulated.

mod charm;
mod client;
mod controller;
mod error;
mod resolve;
mod state;
mod status;
mod tools;

pub use charm::{ActionSpec, CharmMeta, ConfigOption, EndpointSpec, Role};
pub use client::{hook_tool_main, ToolRequest, ToolResponse, TOOL_NAMES};
pub use controller::{
    ActionResult, Controller, ControllerOptions, DeployArgs, ExecOutput, HookRun, LogLine,
    RelationId, DEFAULT_HOOK_TIMEOUT,
};
pub use error::Error;
pub use status::{
    AppStatus, EndpointStatus, ModelInfo, ModelStatus, OfferStatus, RelatedApp, RelationStatus,
    SaasStatus, StatusValue, UnitStatus,
};

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Juju version the emulator claims to be (`JUJU_VERSION`, `juju status`).
pub const JUJU_VERSION: &str = "3.6.12";
