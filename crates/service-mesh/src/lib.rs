//! The `service_mesh` and `cross_model_mesh` Juju interfaces, both sides, wire-compatible with the
//! published Python library `charmlibs-interfaces-service-mesh` 1.0.x.
//!
//! - [`model`]: the databag wire types and Python-exact JSON / repr.
//! - [`provider`]: the mesh side (the beacon): read every consumer's `policies`, publish
//!   `labels` and `mesh_type`.
//! - [`consumer`]: the workload side: declare [`AppPolicy`] / [`UnitPolicy`], write `policies`,
//!   keep `cmr_data` written, label the charm's own StatefulSet and Service.
//! - [`cmr`]: `cross_model_mesh` (`cmr_data`).
//! - [`labels`]: label reconciliation on Kubernetes (kube-rs) behind the [`LabelStore`] trait.

pub mod cmr;
pub mod consumer;
pub mod labels;
pub mod model;
pub mod provider;

pub use cmr::{broken_relation, read_cmr_data, send_cmr_data};
pub use consumer::{
    build_mesh_policies, AppPolicy, ConsumerError, ConsumerOutcome, DeclaredPolicy, RelatedApps,
    ServiceMeshConsumer, UnitPolicy,
};
pub use labels::{label_configmap_name, label_patch, KubeLabelStore, LabelError, LabelStore};
pub use model::{
    parse_policies, python_str_repr, to_python_json, CmrData, Endpoint, LabelMap, MeshType, Method,
    Policy, PolicyTargetType, PolicyValidationError, ProviderAppData, UnknownMethod, CMR_DATA_KEY,
    LABELS_KEY, MESH_TYPE_KEY, POLICIES_KEY,
};
pub use provider::{parse_policy_bag, PolicyBagError, RelationPolicies, ServiceMeshProvider};
