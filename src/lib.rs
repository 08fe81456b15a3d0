//! istio-beacon-k8s: a Juju charm that puts a model's applications on an Istio ambient mesh and
//! keeps Istio `AuthorizationPolicy` objects in step with relations, also across models.
//!
//! - [`render`]: pure rendering of `service-mesh` policies into AuthorizationPolicies, with the
//!   security checks (typed [`render::Refusal`]s).
//! - [`inputs`]: pure gathering of candidate policies from relation data snapshots.
//! - [`reconcile`]: server-side-apply reconciler of owned objects (kube-rs), generic over kinds.
//! - [`charm`]: the hook flow (context → read state → render → apply → status).
//! - [`status`]: the status summary the steps contribute to.
//! - [`names`], [`waypoint`]: waypoint naming and membership rendering (issue 5).
//! - [`membership`]: the waypoint, namespace and own labels, consumer labels, removal (issue 5).

pub mod charm;
pub mod inputs;
pub mod membership;
pub mod names;
pub mod reconcile;
pub mod render;
pub mod status;
pub mod waypoint;
