//! The `service_mesh` and `cross_model_mesh` Juju interfaces, both sides, wire-compatible with the
//! published Python library `charmlibs-interfaces-service-mesh` 1.0.x.
//!
//! - [`model`]: the databag wire types and Python-exact JSON / repr.

pub mod model;

pub use model::{
    parse_policies, python_str_repr, to_python_json, CmrData, Endpoint, LabelMap, MeshType, Method,
    Policy, PolicyTargetType, PolicyValidationError, ProviderAppData, UnknownMethod, CMR_DATA_KEY,
    LABELS_KEY, MESH_TYPE_KEY, POLICIES_KEY,
};
