//! The provider side of `service_mesh` (the beacon): read what every consumer asks for, publish
//! the labels and mesh type consumers need to join.

use charm::{Bag, Context, HookTools, RelationId, ToolError};

use crate::cmr::broken_relation;
use crate::model::{
    parse_policies, to_python_json, LabelMap, MeshType, Policy, PolicyValidationError, LABELS_KEY,
    MESH_TYPE_KEY, POLICIES_KEY,
};

/// Why one relation's `policies` could not be used. Only that relation is affected.
#[derive(Debug, thiserror::Error)]
pub enum PolicyBagError {
    #[error("could not read the relation data: {0}")]
    Read(#[source] ToolError),
    #[error("invalid policies data: {0}")]
    InvalidJson(String),
    #[error("invalid policy #{index}: {error}")]
    InvalidPolicy {
        index: usize,
        #[source]
        error: PolicyValidationError,
    },
}

/// The policies one related application asks for (or why they could not be read).
#[derive(Debug)]
pub struct RelationPolicies {
    pub relation: RelationId,
    /// The application at the other end (an alias `remote-<hex>` when cross-model).
    pub remote_app: Option<String>,
    pub policies: Result<Vec<Policy>, PolicyBagError>,
}

/// Parse one `policies` value: JSON, then the Python model's cross-field rules.
pub fn parse_policy_bag(raw: &str) -> Result<Vec<Policy>, PolicyBagError> {
    let policies = parse_policies(raw).map_err(|e| PolicyBagError::InvalidJson(e.to_string()))?;
    for (index, p) in policies.iter().enumerate() {
        p.validate()
            .map_err(|error| PolicyBagError::InvalidPolicy { index, error })?;
    }
    Ok(policies)
}

/// The provider of `service_mesh` on endpoint `relation_name` (default `service-mesh`).
#[derive(Debug, Clone)]
pub struct ServiceMeshProvider {
    pub relation_name: String,
}

impl Default for ServiceMeshProvider {
    fn default() -> Self {
        Self::new("service-mesh")
    }
}

impl ServiceMeshProvider {
    pub fn new(relation_name: impl Into<String>) -> Self {
        Self {
            relation_name: relation_name.into(),
        }
    }

    /// Read the `policies` bag of every related application. A missing key (or an application
    /// Juju has not named yet) is no policies; a bag that cannot be read or parsed is an error
    /// for that relation only. The relation being broken in this hook is left out. Only a
    /// failure to list the relations fails the whole call.
    pub fn read_policies(
        &self,
        ctx: &Context,
        tools: &dyn HookTools,
    ) -> Result<Vec<RelationPolicies>, ToolError> {
        let broken = broken_relation(ctx);
        let mut out = vec![];
        for id in tools.relation_ids(&self.relation_name)? {
            if Some(&id) == broken {
                continue;
            }
            let remote_app = match tools.relation_remote_app(&id) {
                Ok(Some(a)) => Some(a),
                Ok(None) => tools
                    .relation_list(&id)?
                    .first()
                    .and_then(|u| charm::app_of_unit(u))
                    .map(String::from),
                Err(e) => {
                    out.push(RelationPolicies {
                        relation: id,
                        remote_app: None,
                        policies: Err(PolicyBagError::Read(e)),
                    });
                    continue;
                }
            };
            let policies = match &remote_app {
                None => Ok(vec![]),
                Some(app) => match tools.relation_get(&id, app, true) {
                    Err(e) => Err(PolicyBagError::Read(e)),
                    Ok(bag) => match bag.get(POLICIES_KEY) {
                        None => Ok(vec![]),
                        Some(raw) => parse_policy_bag(raw),
                    },
                },
            };
            if let Err(e) = &policies {
                tracing::error!(
                    relation = %id,
                    app = remote_app.as_deref().unwrap_or("?"),
                    "ignoring the policies of this relation: {e}"
                );
            }
            out.push(RelationPolicies {
                relation: id,
                remote_app,
                policies,
            });
        }
        Ok(out)
    }

    /// The bag values the provider publishes: `labels` and `mesh_type`, each JSON-encoded as the
    /// Python library does.
    pub fn app_data(labels: &LabelMap, mesh_type: MeshType) -> Bag {
        let mut bag = Bag::new();
        // Serialising a string map and a unit enum cannot fail.
        bag.insert(
            LABELS_KEY.to_string(),
            to_python_json(labels).unwrap_or_else(|_| "{}".into()),
        );
        bag.insert(
            MESH_TYPE_KEY.to_string(),
            to_python_json(&mesh_type).unwrap_or_else(|_| "\"istio\"".into()),
        );
        bag
    }

    /// Publish `labels` and `mesh_type` on every relation (leader only; a no-op otherwise).
    /// Bags already holding these values are not rewritten. Returns how many were written.
    pub fn publish(
        &self,
        ctx: &Context,
        tools: &dyn HookTools,
        labels: &LabelMap,
        mesh_type: MeshType,
    ) -> Result<usize, ToolError> {
        if !tools.is_leader()? {
            return Ok(0);
        }
        let data = Self::app_data(labels, mesh_type);
        let broken = broken_relation(ctx);
        let mut written = 0;
        for id in tools.relation_ids(&self.relation_name)? {
            if Some(&id) == broken {
                continue;
            }
            let current = tools.relation_get(&id, &ctx.app_name, true)?;
            if data.iter().all(|(k, v)| current.get(k) == Some(v)) {
                continue;
            }
            tools.relation_set(&id, &data, true)?;
            written += 1;
        }
        Ok(written)
    }
}
