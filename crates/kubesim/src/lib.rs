//! kubesim: an emulated Kubernetes API server (plain HTTP on loopback) that kube-rs and the real
//! `kubectl` talk to, plus direct in-process access to its store.
//!
//! See `docs/kubesim.md` for what is emulated and what is not.

mod discovery;
mod error;
mod fields;
mod http;
mod log;
mod patch;
mod proto;
mod registry;
mod selector;
mod server;
mod store;
mod table;
mod validate;
mod watch;

pub use error::{ApiError, Cause, Error, StatusDetails};
pub use log::{Fault, FaultAction, RequestRecord};
pub use server::{Config, Server};
pub use store::{FieldValidation, PatchType, Propagation, Store, TokenScope, WriteOptions};

/// The Istio `AuthorizationPolicy` CRD (security.istio.io), vendored in `data/crds/`.
pub const ISTIO_AUTHORIZATION_POLICY_CRD: &str =
    include_str!("../../../data/crds/authorizationpolicies.security.istio.io.yaml");
/// The Gateway API `Gateway` CRD (gateway.networking.k8s.io), vendored in `data/crds/`.
pub const GATEWAY_CRD: &str =
    include_str!("../../../data/crds/gateways.gateway.networking.k8s.io.yaml");
