//! The consumer side of `service_mesh` (a workload charm): declare which relations may reach
//! which endpoints, and this library turns the current relations into `policies` for the mesh,
//! keeps `cmr_data` written for cross-model callers, and labels the charm's own objects so its
//! pods join the mesh.

use std::collections::BTreeMap;

use charm::{Bag, Context, Event, HookTools, Relation, ToolError};

use crate::cmr::{broken_relation, read_cmr_data, send_cmr_data};
use crate::labels::{LabelError, LabelStore};
use crate::model::{
    to_python_json, CmrData, Endpoint, LabelMap, MeshType, Policy, PolicyTargetType,
    ProviderAppData, LABELS_KEY, MESH_TYPE_KEY, POLICIES_KEY,
};

/// Related applications on `relation` may reach this application's Service on `endpoints`
/// (L4 and L7). `service` names a Service other than the application's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPolicy {
    pub relation: String,
    pub endpoints: Vec<Endpoint>,
    pub service: Option<String>,
}

/// Related applications on `relation` may reach this application's pods directly on `ports`
/// (L4 only; empty means any port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitPolicy {
    pub relation: String,
    pub ports: Vec<u16>,
}

/// One declared policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclaredPolicy {
    App(AppPolicy),
    Unit(UnitPolicy),
}

impl DeclaredPolicy {
    pub fn relation(&self) -> &str {
        match self {
            DeclaredPolicy::App(p) => &p.relation,
            DeclaredPolicy::Unit(p) => &p.relation,
        }
    }
}

impl From<AppPolicy> for DeclaredPolicy {
    fn from(p: AppPolicy) -> Self {
        DeclaredPolicy::App(p)
    }
}

impl From<UnitPolicy> for DeclaredPolicy {
    fn from(p: UnitPolicy) -> Self {
        DeclaredPolicy::Unit(p)
    }
}

/// The applications related on one endpoint, in relation order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedApps {
    pub endpoint: String,
    pub apps: Vec<String>,
}

/// Build one policy per declared policy and related application (pure; the Python library's
/// `build_mesh_policies`). A related application found in `cmr` (keyed by the alias this model
/// sees) is a cross-model caller: its real name and model come from there. Otherwise the caller
/// is in this model.
pub fn build_mesh_policies(
    related: &[RelatedApps],
    target_app_name: &str,
    target_namespace: &str,
    policies: &[DeclaredPolicy],
    cmr: &BTreeMap<String, CmrData>,
) -> Vec<Policy> {
    let mut out = vec![];
    for declared in policies {
        let apps = related
            .iter()
            .filter(|r| r.endpoint == declared.relation())
            .flat_map(|r| r.apps.iter());
        for app in apps {
            let (source_app_name, source_namespace) = match cmr.get(app) {
                Some(d) => (d.app_name.clone(), d.juju_model_name.clone()),
                None => (app.clone(), target_namespace.to_string()),
            };
            let policy = match declared {
                DeclaredPolicy::Unit(u) => Policy {
                    source_namespace,
                    source_app_name,
                    target_namespace: target_namespace.to_string(),
                    target_app_name: Some(target_app_name.to_string()),
                    target_selector_labels: None,
                    target_service: None,
                    target_type: PolicyTargetType::Unit,
                    endpoints: if u.ports.is_empty() {
                        vec![]
                    } else {
                        vec![Endpoint {
                            ports: Some(u.ports.clone()),
                            ..Endpoint::default()
                        }]
                    },
                },
                DeclaredPolicy::App(a) => Policy {
                    source_namespace,
                    source_app_name,
                    target_namespace: target_namespace.to_string(),
                    target_app_name: Some(target_app_name.to_string()),
                    target_selector_labels: None,
                    target_service: a.service.clone(),
                    target_type: PolicyTargetType::App,
                    endpoints: a.endpoints.clone(),
                },
            };
            out.push(policy);
        }
    }
    out
}

/// Errors of the consumer.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error("invalid data from the service mesh provider ({key}): {message}")]
    ProviderData { key: &'static str, message: String },
    #[error("could not apply the mesh labels: {0}")]
    Labels(#[from] LabelError),
    #[error("could not encode policies: {0}")]
    Encode(String),
}

/// What [`ServiceMeshConsumer::handle`] did, for status messages and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerOutcome {
    /// The policies now in the bag (`None`: not written in this hook — not the leader, or no
    /// `service-mesh` relation).
    pub policies: Option<Vec<Policy>>,
    /// Whether the `policies` value changed.
    pub policies_changed: bool,
    /// How many `cmr_data` bags were written.
    pub cmr_data_written: usize,
    /// Labels reconciled onto the StatefulSet and Service (`Some(empty)` when removed).
    pub labels_applied: Option<LabelMap>,
}

/// The consumer, with the Python library's default endpoint names.
#[derive(Debug, Clone)]
pub struct ServiceMeshConsumer {
    pub mesh_relation: String,
    pub cmr_requires: String,
    pub cmr_provides: String,
    pub policies: Vec<DeclaredPolicy>,
    /// Apply the provider's labels to this application's pods and Service.
    pub auto_join: bool,
}

impl ServiceMeshConsumer {
    pub fn new(policies: Vec<DeclaredPolicy>) -> Self {
        Self {
            mesh_relation: "service-mesh".into(),
            cmr_requires: "require-cmr-mesh".into(),
            cmr_provides: "provide-cmr-mesh".into(),
            policies,
            auto_join: true,
        }
    }

    /// Is there a `service-mesh` relation (not being broken)?
    pub fn mesh_relation(
        &self,
        ctx: &Context,
        tools: &dyn HookTools,
    ) -> Result<Option<Relation>, ToolError> {
        let broken = broken_relation(ctx);
        Ok(tools
            .relations(&self.mesh_relation)?
            .into_iter()
            .find(|r| Some(&r.id) != broken))
    }

    /// The policies for the current relations (the relation being broken left out).
    pub fn build_policies(
        &self,
        ctx: &Context,
        tools: &dyn HookTools,
    ) -> Result<Vec<Policy>, ToolError> {
        let broken = broken_relation(ctx);
        let mut related = vec![];
        let mut seen = std::collections::BTreeSet::new();
        for declared in &self.policies {
            let endpoint = declared.relation();
            if !seen.insert(endpoint.to_string()) {
                continue;
            }
            let apps = tools
                .relations(endpoint)?
                .into_iter()
                .filter(|r| Some(&r.id) != broken)
                .filter_map(|r| r.app)
                .collect();
            related.push(RelatedApps {
                endpoint: endpoint.to_string(),
                apps,
            });
        }
        let cmr = read_cmr_data(ctx, tools, &self.cmr_provides)?;
        Ok(build_mesh_policies(
            &related,
            &ctx.app_name,
            &ctx.model_name,
            &self.policies,
            &cmr,
        ))
    }

    /// Write `policies` on the `service-mesh` relation (leader only). Returns the policies and
    /// whether the bag changed; `None` when there is nothing to write to.
    pub fn update_service_mesh(
        &self,
        ctx: &Context,
        tools: &dyn HookTools,
    ) -> Result<Option<(Vec<Policy>, bool)>, ConsumerError> {
        if !tools.is_leader()? {
            return Ok(None);
        }
        let Some(mesh) = self.mesh_relation(ctx, tools)? else {
            return Ok(None);
        };
        let policies = self.build_policies(ctx, tools)?;
        let value = to_python_json(&policies).map_err(|e| ConsumerError::Encode(e.to_string()))?;
        let current = tools.relation_get(&mesh.id, &ctx.app_name, true)?;
        if current.get(POLICIES_KEY) == Some(&value) {
            return Ok(Some((policies, false)));
        }
        let mut bag = Bag::new();
        bag.insert(POLICIES_KEY.to_string(), value);
        tools.relation_set(&mesh.id, &bag, true)?;
        tracing::info!(
            relation = %mesh.id,
            "wrote {} service mesh policies",
            policies.len()
        );
        Ok(Some((policies, true)))
    }

    /// The provider's labels and mesh type (`None` while the provider has written nothing).
    pub fn provider_data(
        &self,
        ctx: &Context,
        tools: &dyn HookTools,
    ) -> Result<Option<ProviderAppData>, ConsumerError> {
        let Some(mesh) = self.mesh_relation(ctx, tools)? else {
            return Ok(None);
        };
        let Some(app) = mesh.app else {
            return Ok(None);
        };
        let bag = tools.relation_get(&mesh.id, &app, true)?;
        if bag.is_empty() {
            return Ok(None);
        }
        let field = |key: &'static str| {
            bag.get(key).ok_or_else(|| ConsumerError::ProviderData {
                key,
                message: "missing".into(),
            })
        };
        let labels: LabelMap =
            serde_json::from_str(field(LABELS_KEY)?).map_err(|e| ConsumerError::ProviderData {
                key: LABELS_KEY,
                message: e.to_string(),
            })?;
        let mesh_type: MeshType = serde_json::from_str(field(MESH_TYPE_KEY)?).map_err(|e| {
            ConsumerError::ProviderData {
                key: MESH_TYPE_KEY,
                message: e.to_string(),
            }
        })?;
        Ok(Some(ProviderAppData { labels, mesh_type }))
    }

    /// The labels the provider asks for (empty when none).
    pub fn labels(&self, ctx: &Context, tools: &dyn HookTools) -> Result<LabelMap, ConsumerError> {
        Ok(self
            .provider_data(ctx, tools)?
            .map(|d| d.labels)
            .unwrap_or_default())
    }

    /// Do everything this hook calls for:
    /// - leader: keep `cmr_data` written on every `require-cmr-mesh` relation (on every event,
    ///   not only on creation, so a lost or late bag heals);
    /// - leader: rewrite `policies` from the current relations;
    /// - leader, with `labels` given and `auto_join`: on `service-mesh` relation events,
    ///   upgrade-charm, leader-elected and start, apply the provider's labels; on
    ///   `service-mesh` relation-broken remove them.
    pub fn handle(
        &self,
        ctx: &Context,
        tools: &dyn HookTools,
        labels: Option<&dyn LabelStore>,
    ) -> Result<ConsumerOutcome, ConsumerError> {
        let mut outcome = ConsumerOutcome {
            cmr_data_written: send_cmr_data(ctx, tools, &self.cmr_requires)?,
            ..ConsumerOutcome::default()
        };
        if let Some((policies, changed)) = self.update_service_mesh(ctx, tools)? {
            outcome.policies = Some(policies);
            outcome.policies_changed = changed;
        }
        let Some(store) = labels.filter(|_| self.auto_join) else {
            return Ok(outcome);
        };
        if !tools.is_leader()? {
            return Ok(outcome);
        }
        if ctx.event.is_broken(&self.mesh_relation) {
            store.reconcile(&ctx.app_name, &ctx.model_name, &LabelMap::new())?;
            store.forget(&ctx.app_name, &ctx.model_name)?;
            tracing::info!("left the service mesh: labels removed");
            outcome.labels_applied = Some(LabelMap::new());
            return Ok(outcome);
        }
        let relevant = ctx.event.relation_name() == Some(self.mesh_relation.as_str())
            || matches!(
                ctx.event,
                Event::UpgradeCharm | Event::LeaderElected | Event::Start
            );
        if relevant && self.mesh_relation(ctx, tools)?.is_some() {
            let wanted = self.labels(ctx, tools)?;
            store.reconcile(&ctx.app_name, &ctx.model_name, &wanted)?;
            outcome.labels_applied = Some(wanted);
        }
        Ok(outcome)
    }
}
