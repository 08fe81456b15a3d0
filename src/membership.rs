//! The beacon's mesh membership, against the Kubernetes API and the hook tools: the waypoint
//! (Gateway + HPA), the namespace labels and model-operator policy of `model-on-mesh`, the mesh
//! labels on the beacon's own StatefulSet and Service, the labels offered to consumers on
//! `service-mesh`, the waypoint's readiness, and removal when the application goes away.
//!
//! What to write comes from [`crate::waypoint`] (pure); owned sets of objects go through
//! [`crate::reconcile::Reconciler`] (server-side apply, list by ownership labels, apply before
//! prune, no write when nothing changed). The namespace and the beacon's own StatefulSet/Service
//! are not ours, so they get JSON merge patches of only the label keys we manage, and only when a
//! key differs.

use std::collections::BTreeMap;

use ::charm::{Context, HookTools, Status};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use service_mesh::{LabelMap, MeshType, ServiceMeshProvider};

use crate::charm::{Flow, HookError, Lifecycle};
use crate::names::{self, NameError};
use crate::reconcile::{Kind, OwnedSet, ReconcileError, Reconciler, Report};
use crate::waypoint::{
    self, Identity, NamespacePlan, Readiness, AUTHORIZATION_POLICY_API_VERSION,
    GATEWAY_API_VERSION, HPA_API_VERSION, MODELOPERATOR_POLICY_SCOPE, WAYPOINT_SCOPE,
};

/// The endpoint on which consumers receive the mesh labels.
pub const SERVICE_MESH_ENDPOINT: &str = "service-mesh";
/// Key of the labels list in the beacon's own-labels ConfigMap (as the Python library writes it).
const OWN_LABELS_KEY: &str = "labels";

#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Reconcile(Box<ReconcileError>),
    #[error("{verb} {what}: {source}")]
    Kube {
        verb: &'static str,
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("goal-state: {0}")]
    GoalState(String),
    #[error(transparent)]
    Tool(#[from] ::charm::ToolError),
    #[error("encoding relation data: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<ReconcileError> for MembershipError {
    fn from(e: ReconcileError) -> Self {
        MembershipError::Reconcile(Box::new(e))
    }
}

impl MembershipError {
    /// Did the API server refuse us for lack of rights (403)? An untrusted charm gets that for
    /// anything outside its namespace, such as the namespace object itself.
    pub fn is_forbidden(&self) -> bool {
        fn reconcile_forbidden(e: &ReconcileError) -> bool {
            match e {
                ReconcileError::Api(failure) => failure.code == 403,
                ReconcileError::Several(all) => all.iter().any(reconcile_forbidden),
                _ => false,
            }
        }
        match self {
            MembershipError::Kube {
                source: kube::Error::Api(status),
                ..
            } => status.code == 403,
            MembershipError::Reconcile(e) => reconcile_forbidden(e),
            _ => false,
        }
    }

    fn kube(verb: &'static str, what: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let what = what.into();
        move |source| MembershipError::Kube { verb, what, source }
    }
}

/// The config options that shape membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub model_on_mesh: bool,
    pub manage_authorization_policies: bool,
}

/// What membership found, for the status the hook sets. Problems are reported, not raised, so
/// the rest of the hook (the policy path) still runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Needs the operator (for example, another beacon owns the namespace's labels).
    pub blocked: Vec<String>,
    /// Will resolve by itself (for example, the waypoint is still starting).
    pub waiting: Vec<String>,
    /// The application is going away and its objects were removed.
    pub removed: bool,
    /// Objects written or deleted in this hook, for the log.
    pub report: Report,
}

impl Outcome {
    /// The most severe status membership asks for: blocked, then waiting; `None` when fine.
    pub fn status(&self) -> Option<Status> {
        if !self.blocked.is_empty() {
            Some(Status::blocked(self.blocked.join("; ")))
        } else if !self.waiting.is_empty() {
            Some(Status::waiting(self.waiting.join("; ")))
        } else {
            None
        }
    }
}

fn gateway_kind() -> Kind {
    Kind::new(GATEWAY_API_VERSION, "Gateway", "gateways")
}
fn hpa_kind() -> Kind {
    Kind::new(
        HPA_API_VERSION,
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
    )
}
fn policy_kind() -> Kind {
    Kind::new(
        AUTHORIZATION_POLICY_API_VERSION,
        "AuthorizationPolicy",
        "authorizationpolicies",
    )
}

/// The application's planned unit count from `goal-state --format=json`, as ops counts it: the
/// units of this application that are not dying. A goal state without a `units` map is an error,
/// never 0, so that a bad read can not trigger removal.
pub fn planned_units(goal_state: &Value) -> Result<u32, MembershipError> {
    let units = goal_state
        .get("units")
        .and_then(Value::as_object)
        .ok_or_else(|| MembershipError::GoalState("no `units` map".into()))?;
    let planned = units
        .values()
        .filter(|u| u.get("status").and_then(Value::as_str) != Some("dying"))
        .count();
    u32::try_from(planned).map_err(|_| MembershipError::GoalState("too many units".into()))
}

/// The membership step of the hook flow (`charm::run_steps`): reads the planned units from
/// `goal-state`, marks the flow [`Lifecycle::Removing`] at 0, runs [`reconcile_with`] and adds
/// what it found to the flow's status summary.
pub async fn reconcile(flow: &mut Flow<'_>) -> Result<(), HookError> {
    let boxed = |e: MembershipError| HookError::Membership(Box::new(e));
    let identity =
        Identity::new(&flow.ctx.model_name, &flow.ctx.app_name).map_err(|e| boxed(e.into()))?;
    let planned = planned_units(&flow.tools.goal_state()?).map_err(boxed)?;
    if planned == 0 {
        flow.lifecycle = Lifecycle::Removing;
    } else if !flow.is_leader {
        // Nothing to read or write: the flow reports that this unit stands by.
        return Ok(());
    }
    let reconciler = flow.reconciler().await?;
    let settings = Settings {
        model_on_mesh: flow.config.model_on_mesh,
        manage_authorization_policies: flow.config.manage_authorization_policies,
    };
    let result = reconcile_with(
        &reconciler,
        flow.ctx,
        flow.tools,
        &identity,
        settings,
        planned,
        flow.is_leader,
    )
    .await;
    let outcome = match result {
        Ok(outcome) => outcome,
        // Retrying cannot help until the operator grants access; `juju trust` runs
        // config-changed, which comes back here.
        Err(e) if e.is_forbidden() => {
            tracing::warn!("{e}");
            flow.summary.block(format!(
                "the Kubernetes API refused access: run `juju trust {} --scope=cluster`",
                identity.app
            ));
            return Ok(());
        }
        Err(e) => return Err(boxed(e)),
    };
    let r = &outcome.report;
    if r.wrote() {
        tracing::info!(
            created = ?r.created, updated = ?r.updated, deleted = ?r.deleted,
            "mesh membership reconciled"
        );
    }
    for msg in outcome.blocked {
        flow.summary.block(msg);
    }
    for msg in outcome.waiting {
        flow.summary.wait(msg);
    }
    Ok(())
}

/// One membership pass for this hook, given the planned unit count (from [`planned_units`]) and
/// leadership:
///
/// - planned units 0 (the last unit is going): remove everything this beacon owns, on any unit;
/// - a non-leader: nothing (the leader keeps the cluster in step);
/// - the leader: put the beacon itself on the mesh, keep the waypoint and its HPA in step with
///   the planned units, the namespace labels and model-operator policy with `model-on-mesh`,
///   offer the mesh labels to consumers, and read the waypoint's readiness once.
pub async fn reconcile_with(
    reconciler: &Reconciler,
    ctx: &Context,
    tools: &dyn HookTools,
    identity: &Identity,
    settings: Settings,
    planned_units: u32,
    leader: bool,
) -> Result<Outcome, MembershipError> {
    if planned_units == 0 {
        return remove_all(reconciler, identity).await;
    }
    if !leader {
        return Ok(Outcome::default());
    }
    let mut outcome = Outcome::default();
    let client = reconciler.client();

    sync_own_labels(client, identity, &identity.mesh_labels()).await?;

    let waypoint_objects = identity.waypoint_objects(planned_units);
    let gateway_set = OwnedSet::new(
        gateway_kind(),
        &identity.model,
        identity.ownership_labels(WAYPOINT_SCOPE),
    );
    let hpa_set = OwnedSet::new(
        hpa_kind(),
        &identity.model,
        identity.ownership_labels(WAYPOINT_SCOPE),
    );
    let (gateways, hpas): (Vec<Value>, Vec<Value>) = waypoint_objects
        .into_iter()
        .partition(|o| o["kind"] == "Gateway");
    let mut gateway_missing = false;
    match reconciler
        .reconcile(&gateway_set, &gateways, |_| true)
        .await
    {
        Ok(r) => outcome.report.merge(r),
        Err(e) if e.is_kind_not_served() => {
            gateway_missing = true;
            outcome.blocked.push(
                "Gateway API CRD (gateway.networking.k8s.io/v1) not installed: deploy istio-k8s"
                    .to_owned(),
            );
        }
        Err(e) => return Err(e.into()),
    }
    outcome
        .report
        .merge(reconciler.reconcile(&hpa_set, &hpas, |_| true).await?);

    // Namespace labels first: the model-operator policy only makes sense with them.
    let namespace_ours = sync_namespace_labels(client, identity, settings, &mut outcome).await?;
    let modeloperator =
        if settings.model_on_mesh && settings.manage_authorization_policies && namespace_ours {
            vec![identity.modeloperator_policy()]
        } else {
            Vec::new()
        };
    let modeloperator_set = OwnedSet::new(
        policy_kind(),
        &identity.model,
        identity.ownership_labels(MODELOPERATOR_POLICY_SCOPE),
    );
    match reconciler
        .reconcile(&modeloperator_set, &modeloperator, |_| true)
        .await
    {
        Ok(r) => outcome.report.merge(r),
        // The policy path reports the missing AuthorizationPolicy CRD; nothing to add here.
        Err(e) if e.is_kind_not_served() => {}
        Err(e) => return Err(e.into()),
    }

    // Consumers may rely on the namespace labels only when they are ours: on a namespace held
    // by another beacon (or labelled by hand) they would sit behind another waypoint, or none,
    // where our policies are not enforced, so they get their own labels as with model-on-mesh off.
    let labels: LabelMap = identity
        .consumer_labels(settings.model_on_mesh && namespace_ours)
        .into();
    ServiceMeshProvider::new(SERVICE_MESH_ENDPOINT).publish(
        ctx,
        tools,
        &labels,
        MeshType::Istio,
    )?;

    if !gateway_missing {
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &identity.model);
        let deployment =
            deployments
                .get_opt(&identity.waypoint)
                .await
                .map_err(MembershipError::kube(
                    "get",
                    format!("Deployment {}/{}", identity.model, identity.waypoint),
                ))?;
        let deployment = deployment.map(serde_json::to_value).transpose()?;
        if let Readiness::NotReady(why) =
            waypoint::readiness(&identity.waypoint, deployment.as_ref())
        {
            outcome.waiting.push(why);
        }
    }
    Ok(outcome)
}

/// Everything membership owns goes: namespace labels it manages, the waypoint and its HPA, the
/// model-operator policy and the ConfigMap that remembers its own labels. (The policy path's
/// AuthorizationPolicies go in the same hook, in `charm::remove_policies`, because the flow is
/// then [`Lifecycle::Removing`].) Safe to run on several units at once (deletes of gone objects
/// are fine) and to run again.
pub async fn remove_all(
    reconciler: &Reconciler,
    identity: &Identity,
) -> Result<Outcome, MembershipError> {
    let client = reconciler.client();
    let mut outcome = Outcome {
        removed: true,
        ..Outcome::default()
    };
    let settings = Settings {
        model_on_mesh: false,
        manage_authorization_policies: false,
    };
    sync_namespace_labels(client, identity, settings, &mut outcome).await?;
    let sets = [
        OwnedSet::new(
            gateway_kind(),
            &identity.model,
            identity.ownership_labels(WAYPOINT_SCOPE),
        ),
        OwnedSet::new(
            hpa_kind(),
            &identity.model,
            identity.ownership_labels(WAYPOINT_SCOPE),
        ),
        OwnedSet::new(
            policy_kind(),
            &identity.model,
            identity.ownership_labels(MODELOPERATOR_POLICY_SCOPE),
        ),
    ];
    for set in &sets {
        match reconciler.delete_all(set).await {
            Ok(r) => outcome.report.merge(r),
            // A kind the server does not serve has nothing of ours in it.
            Err(e) if e.is_kind_not_served() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &identity.model);
    let name = names::own_labels_configmap_name(&identity.app);
    match configmaps.delete(&name, &DeleteParams::default()).await {
        Ok(_) => outcome.report.deleted.push(name),
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(MembershipError::kube("delete", format!("ConfigMap {name}"))(e)),
    }
    Ok(outcome)
}

/// Applies the namespace plan. Returns whether the namespace's mesh labels are (now) ours; a
/// namespace claimed by another beacon is left untouched and reported as blocked.
async fn sync_namespace_labels(
    client: &kube::Client,
    identity: &Identity,
    settings: Settings,
    outcome: &mut Outcome,
) -> Result<bool, MembershipError> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let what = format!("Namespace {}", identity.model);
    let namespace = namespaces
        .get(&identity.model)
        .await
        .map_err(MembershipError::kube("get", what.clone()))?;
    let current: BTreeMap<String, String> = namespace.metadata.labels.unwrap_or_default();
    match identity.plan_namespace(&current, settings.model_on_mesh) {
        NamespacePlan::Unchanged => Ok(settings.model_on_mesh),
        NamespacePlan::Patch(labels) => {
            namespaces
                .patch(
                    &identity.model,
                    &PatchParams::default(),
                    &Patch::Merge(NamespacePlan::merge_patch(&labels)),
                )
                .await
                .map_err(MembershipError::kube("patch", what))?;
            outcome
                .report
                .updated
                .push(format!("namespace/{}", identity.model));
            Ok(settings.model_on_mesh)
        }
        NamespacePlan::ClaimedByOther { owner } => {
            let message = match owner {
                Some(owner) => format!(
                    "namespace {} is on the mesh through another beacon ({owner}); \
                     set model-on-mesh=false or remove that beacon",
                    identity.model
                ),
                None => format!(
                    "namespace {} already has Istio mesh labels not set by a beacon; \
                     remove them or set model-on-mesh=false",
                    identity.model
                ),
            };
            tracing::warn!("{message}");
            outcome.blocked.push(message);
            Ok(false)
        }
    }
}

/// Puts `desired` on the beacon's own StatefulSet pod template and Service, and removes labels
/// it set before that are no longer desired. The labels set last are remembered in the ConfigMap
/// `juju-service-mesh-<app>-labels` (the Python library's name and format), so that a refresh
/// from the Python beacon keeps working. Nothing is written when everything is in place.
async fn sync_own_labels(
    client: &kube::Client,
    identity: &Identity,
    desired: &BTreeMap<String, String>,
) -> Result<(), MembershipError> {
    let ns = &identity.model;
    let app = &identity.app;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let cm_name = names::own_labels_configmap_name(app);
    let configmap = configmaps
        .get_opt(&cm_name)
        .await
        .map_err(MembershipError::kube(
            "get",
            format!("ConfigMap {ns}/{cm_name}"),
        ))?;
    let previous: BTreeMap<String, String> = configmap
        .as_ref()
        .and_then(|cm| cm.data.as_ref())
        .and_then(|d| d.get(OWN_LABELS_KEY))
        .and_then(|raw| serde_json::from_str(raw).ok())
        .unwrap_or_default();

    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    // Juju always creates both; if one is missing (the application is being torn down, or a
    // test cluster without it), there is nothing to label and nothing worth failing the hook.
    let statefulset = statefulsets
        .get_opt(app)
        .await
        .map_err(MembershipError::kube(
            "get",
            format!("StatefulSet {ns}/{app}"),
        ))?;
    match statefulset {
        None => tracing::warn!("StatefulSet {ns}/{app} not found: not labelled"),
        Some(statefulset) => {
            let template_labels = statefulset
                .spec
                .template
                .metadata
                .and_then(|m| m.labels)
                .unwrap_or_default();
            if let Some(patch) = label_patch(&template_labels, desired, &previous) {
                let body = json!({"spec": {"template": {"metadata": {"labels": patch}}}});
                statefulsets
                    .patch(app, &PatchParams::default(), &Patch::Merge(body))
                    .await
                    .map_err(MembershipError::kube(
                        "patch",
                        format!("StatefulSet {ns}/{app}"),
                    ))?;
            }
        }
    }

    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let service = services
        .get_opt(app)
        .await
        .map_err(MembershipError::kube("get", format!("Service {ns}/{app}")))?;
    match service {
        None => tracing::warn!("Service {ns}/{app} not found: not labelled"),
        Some(service) => {
            let service_labels = service.metadata.labels.unwrap_or_default();
            if let Some(patch) = label_patch(&service_labels, desired, &previous) {
                let body = json!({"metadata": {"labels": patch}});
                services
                    .patch(app, &PatchParams::default(), &Patch::Merge(body))
                    .await
                    .map_err(MembershipError::kube(
                        "patch",
                        format!("Service {ns}/{app}"),
                    ))?;
            }
        }
    }

    if previous != *desired || configmap.is_none() {
        let data = json!({OWN_LABELS_KEY: serde_json::to_string(desired)?});
        if configmap.is_some() {
            configmaps
                .patch(
                    &cm_name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"data": data})),
                )
                .await
                .map_err(MembershipError::kube(
                    "patch",
                    format!("ConfigMap {ns}/{cm_name}"),
                ))?;
        } else {
            let cm: ConfigMap = serde_json::from_value(json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": cm_name, "namespace": ns},
                "data": data,
            }))?;
            configmaps
                .create(&PostParams::default(), &cm)
                .await
                .map_err(MembershipError::kube(
                    "create",
                    format!("ConfigMap {ns}/{cm_name}"),
                ))?;
        }
    }
    Ok(())
}

/// The merge patch that takes `live` labels to `desired`, removing keys we set before
/// (`previous`) that are no longer desired; `None` when nothing needs to change.
pub fn label_patch(
    live: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
    previous: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, Option<String>>> {
    let mut patch: BTreeMap<String, Option<String>> = desired
        .iter()
        .filter(|(k, v)| live.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    for k in previous.keys() {
        if !desired.contains_key(k) && live.contains_key(k) {
            patch.insert(k.clone(), None);
        }
    }
    (!patch.is_empty()).then_some(patch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_units_counts_units_that_are_not_dying() {
        let gs = json!({"units": {
            "b/0": {"status": "active", "since": "x"},
            "b/1": {"status": "waiting", "since": "x"},
            "b/2": {"status": "dying", "since": "x"},
        }, "relations": {}});
        assert_eq!(planned_units(&gs).ok(), Some(2));
        assert_eq!(planned_units(&json!({"units": {}})).ok(), Some(0));
        assert!(planned_units(&json!({"relations": {}})).is_err());
    }

    #[test]
    fn label_patch_sets_missing_and_removes_only_what_we_set() {
        let live = BTreeMap::from([
            ("app.kubernetes.io/name".to_owned(), "b".to_owned()),
            ("old".to_owned(), "1".to_owned()),
            ("theirs".to_owned(), "x".to_owned()),
        ]);
        let desired = BTreeMap::from([("new".to_owned(), "2".to_owned())]);
        let previous = BTreeMap::from([("old".to_owned(), "1".to_owned())]);
        let patch = label_patch(&live, &desired, &previous).unwrap_or_default();
        assert_eq!(
            patch,
            BTreeMap::from([
                ("new".to_owned(), Some("2".to_owned())),
                ("old".to_owned(), None)
            ])
        );
        let mut done = live.clone();
        done.remove("old");
        done.insert("new".into(), "2".into());
        assert_eq!(label_patch(&done, &desired, &previous), None);
    }

    #[test]
    fn outcome_status_prefers_blocked() {
        let mut o = Outcome::default();
        assert_eq!(o.status(), None);
        o.waiting.push("waypoint not ready".into());
        assert_eq!(o.status(), Some(Status::waiting("waypoint not ready")));
        o.blocked.push("claimed".into());
        assert_eq!(o.status(), Some(Status::blocked("claimed")));
    }
}
