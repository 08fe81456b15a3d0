//! The hook flow: context → read state → render → apply → status.
//!
//! Every hook runs the same flow (it is idempotent, and a hook with nothing to change makes only
//! list requests), in this order:
//!
//! 1. [`Flow::new`]: the hook context, leadership and config (`config-get`).
//! 2. **Mesh membership** (`crate::membership`, issue 5): waypoint, namespace and consumer
//!    labels, HPA, removal. It may set [`Flow::lifecycle`] to [`Lifecycle::Removing`] and adds
//!    its findings to the [`Summary`]. This is the single call the membership code plugs into.
//! 3. **Policies** ([`reconcile_policies`]): leader only. Read the `service-mesh`,
//!    `metrics-endpoint` and `provide-cmr-mesh` relations, render (pure, [`crate::render`]),
//!    apply through [`crate::reconcile`]. When the application is being removed, any unit
//!    deletes every owned policy instead.
//! 4. Status: the [`Summary`] becomes the unit status, and (leader) the application status.
//!
//! An API failure makes the hook fail (non-zero exit) after the status says what failed; Juju
//! retries it, and nothing owned is deleted on the way (see [`crate::reconcile`]).

use std::collections::{BTreeMap, BTreeSet};

use charm::{Context, Event, HookTools, RelationId, Status, ToolError};
use kube::core::DynamicObject;

use crate::inputs::{
    self, RelationSnapshot, METRICS_ENDPOINT, PROVIDE_CMR_MESH_ENDPOINT, SERVICE_MESH_ENDPOINT,
};
use crate::reconcile::{Kind, OwnedSet, ReconcileError, Reconciler, Report};
use crate::render::{
    self, Beacon, Rules, AUTHORIZATION_POLICY_API_VERSION, AUTHORIZATION_POLICY_KIND,
    AUTHORIZATION_POLICY_PLURAL, AUTHORIZATION_POLICY_SCOPE,
};
use crate::status::Summary;

/// Config option: manage AuthorizationPolicies at all.
pub const CONFIG_MANAGE_POLICIES: &str = "manage-authorization-policies";
/// Config option: put the whole model on the mesh.
pub const CONFIG_MODEL_ON_MESH: &str = "model-on-mesh";
/// Config option: kept for compatibility (seconds the Python beacon waited for its waypoint).
pub const CONFIG_READY_TIMEOUT: &str = "ready-timeout";
/// Config option: other namespaces this beacon may write policies into (cross-model
/// `service-mesh` relations), comma- or space-separated.
pub const CONFIG_CROSS_MODEL_NAMESPACES: &str = "cross-model-namespaces";

/// Errors that fail the hook (Juju will retry it).
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("cannot read the hook context: {0}")]
    Context(#[from] charm::ContextError),
    #[error("hook tool failed: {0}")]
    Tool(#[from] ToolError),
    #[error("cannot build a Kubernetes client: {0}")]
    KubeConfig(String),
    #[error("Kubernetes API: {0}")]
    Kube(Box<ReconcileError>),
    /// Errors of the membership step, in its own words.
    #[error("{0}")]
    Membership(Box<dyn std::error::Error + Send + Sync>),
}

impl From<ReconcileError> for HookError {
    fn from(e: ReconcileError) -> Self {
        HookError::Kube(Box::new(e))
    }
}

/// The charm's config, typed, with the problems found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeaconConfig {
    pub manage_authorization_policies: bool,
    pub model_on_mesh: bool,
    pub ready_timeout: i64,
    pub cross_model_namespaces: BTreeSet<String>,
}

impl Default for BeaconConfig {
    fn default() -> Self {
        BeaconConfig {
            manage_authorization_policies: true,
            model_on_mesh: false,
            ready_timeout: 100,
            cross_model_namespaces: BTreeSet::new(),
        }
    }
}

impl BeaconConfig {
    /// Read the typed config. A wrongly typed or invalid value is reported (blocked) and its
    /// default used, except the namespace list, where an invalid entry is dropped.
    pub fn from_config(config: &charm::Config, summary: &mut Summary) -> Self {
        let d = BeaconConfig::default();
        let mut bool_opt = |key: &str, default: bool| match config.bool_or(key, default) {
            Ok(v) => v,
            Err(e) => {
                summary.block(format!("config {key}: {e}"));
                default
            }
        };
        let manage = bool_opt(CONFIG_MANAGE_POLICIES, d.manage_authorization_policies);
        let model_on_mesh = bool_opt(CONFIG_MODEL_ON_MESH, d.model_on_mesh);
        let ready_timeout = config
            .int_or(CONFIG_READY_TIMEOUT, d.ready_timeout)
            .unwrap_or(d.ready_timeout);
        let raw = match config.string_or(CONFIG_CROSS_MODEL_NAMESPACES, "") {
            Ok(v) => v,
            Err(e) => {
                summary.block(format!("config {CONFIG_CROSS_MODEL_NAMESPACES}: {e}"));
                String::new()
            }
        };
        let mut namespaces = BTreeSet::new();
        for ns in raw.split([',', ' ', '\n', '\t']).filter(|s| !s.is_empty()) {
            if render::is_dns_label(ns) {
                namespaces.insert(ns.to_owned());
            } else {
                summary.block(format!(
                    "config {CONFIG_CROSS_MODEL_NAMESPACES}: {ns:?} is not a namespace name"
                ));
            }
        }
        BeaconConfig {
            manage_authorization_policies: manage,
            model_on_mesh,
            ready_timeout,
            cross_model_namespaces: namespaces,
        }
    }
}

/// Where the Kubernetes client comes from.
pub enum KubeSource {
    /// `KUBECONFIG` (Juju sets it for trusted charms under the simulator), else the in-cluster
    /// service account, as Juju gives a trusted charm's pod.
    Infer,
    /// A ready client (tests, benchmarks).
    Client(kube::Client),
}

/// Is the application staying, or going away (its last unit is being removed)?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Running,
    /// Planned units reached 0: remove everything we own (any unit may, leader or not).
    Removing,
}

/// Everything one hook works with. Steps read it and add to [`Flow::summary`].
pub struct Flow<'a> {
    pub ctx: &'a Context,
    pub tools: &'a dyn HookTools,
    pub beacon: Beacon,
    pub config: BeaconConfig,
    pub is_leader: bool,
    pub lifecycle: Lifecycle,
    pub summary: Summary,
    kube_source: Option<KubeSource>,
    kube: Option<kube::Client>,
}

impl<'a> Flow<'a> {
    /// Read leadership and config.
    pub fn new(
        ctx: &'a Context,
        tools: &'a dyn HookTools,
        kube: KubeSource,
    ) -> Result<Self, HookError> {
        let mut summary = Summary::new();
        let is_leader = tools.is_leader()?;
        let config = BeaconConfig::from_config(&tools.config_get()?, &mut summary);
        Ok(Flow {
            beacon: Beacon::new(&ctx.app_name, &ctx.model_name),
            ctx,
            tools,
            config,
            is_leader,
            lifecycle: Lifecycle::Running,
            summary,
            kube_source: Some(kube),
            kube: None,
        })
    }

    /// The Kubernetes client, built on first use (units that never need it never read a
    /// kubeconfig).
    pub async fn kube(&mut self) -> Result<kube::Client, HookError> {
        if let Some(c) = &self.kube {
            return Ok(c.clone());
        }
        let client = match self.kube_source.take() {
            Some(KubeSource::Client(c)) => c,
            Some(KubeSource::Infer) | None => {
                let config = kube::Config::infer()
                    .await
                    .map_err(|e| HookError::KubeConfig(e.to_string()))?;
                kube::Client::try_from(config).map_err(|e| HookError::KubeConfig(e.to_string()))?
            }
        };
        self.kube = Some(client.clone());
        Ok(client)
    }

    /// A server-side-apply reconciler with field manager = the application name.
    pub async fn reconciler(&mut self) -> Result<Reconciler, HookError> {
        Ok(Reconciler::new(self.kube().await?, self.beacon.app.clone()))
    }
}

/// Run the whole hook: the entry point of the binary after the context is read.
pub async fn run_hook(
    ctx: &Context,
    tools: &dyn HookTools,
    kube: KubeSource,
) -> Result<Status, HookError> {
    let mut flow = Flow::new(ctx, tools, kube)?;
    tracing::debug!(hook = ctx.hook_name(), leader = flow.is_leader, "dispatch");

    let result = run_steps(&mut flow).await;
    let status = match &result {
        Ok(()) => flow.summary.status(),
        // The hook fails and Juju shows the error state; this message is what the operator sees
        // once Juju retries successfully or in `juju show-status-log`.
        Err(e) => Status::maintenance(format!("retrying after error: {}", short(&e.to_string()))),
    };
    set_status(&flow, &status)?;
    result.map(|()| status)
}

async fn run_steps(flow: &mut Flow<'_>) -> Result<(), HookError> {
    // --- Mesh membership (issue 5) plugs in here: -----------------------------------------
    crate::membership::reconcile(flow).await?;
    // ---------------------------------------------------------------------------------------

    if flow.lifecycle == Lifecycle::Removing {
        remove_policies(flow).await?;
        return Ok(());
    }
    if !flow.is_leader {
        flow.summary
            .note("Backup unit; standing by for leader takeover");
        return Ok(());
    }
    reconcile_policies(flow).await
}

fn set_status(flow: &Flow<'_>, status: &Status) -> Result<(), HookError> {
    flow.tools.status_set(status, false)?;
    if flow.is_leader {
        flow.tools.status_set(status, true)?;
    }
    Ok(())
}

/// Bound a data-quoting log message (juju-log takes it as an argument).
fn short_for_log(s: &str) -> String {
    const MAX: usize = 2000;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

fn short(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

/// The AuthorizationPolicy kind.
pub fn authorization_policy_kind() -> Kind {
    Kind::new(
        AUTHORIZATION_POLICY_API_VERSION,
        AUTHORIZATION_POLICY_KIND,
        AUTHORIZATION_POLICY_PLURAL,
    )
}

/// The namespaces the beacon may hold policies in: its own, then the opted-in ones.
fn policy_namespaces(flow: &Flow<'_>) -> Vec<String> {
    let own = flow.beacon.namespace().to_owned();
    let mut out = vec![own.clone()];
    out.extend(
        flow.config
            .cross_model_namespaces
            .iter()
            .filter(|ns| **ns != own)
            .cloned(),
    );
    out
}

/// Peer relation endpoint. Its application bag remembers the namespaces beyond our own that
/// policies were written into (key [`WRITTEN_NAMESPACES_KEY`]), so that the policies there are
/// removed once the namespace is no longer opted in: an allow rule must not outlive the
/// operator's permission, and we list owned objects only namespace by namespace.
pub const PEER_ENDPOINT: &str = "peers";
/// Key of the JSON list of namespaces (other than our own) that may hold our policies.
pub const WRITTEN_NAMESPACES_KEY: &str = "policy-namespaces";

/// The namespaces recorded as possibly holding our policies (never our own). `None` when the
/// record cannot be read (no peer relation yet, or a hook tool failed): then nothing is cleaned
/// up on its account and the record is not rewritten.
fn recorded_namespaces(flow: &Flow<'_>) -> Option<BTreeSet<String>> {
    let read = || -> Result<Option<BTreeSet<String>>, ToolError> {
        let Some(rel) = flow.tools.relation_ids(PEER_ENDPOINT)?.into_iter().next() else {
            return Ok(None);
        };
        let bag = flow.tools.relation_get(&rel, &flow.beacon.app, true)?;
        let list: Vec<String> = bag
            .get(WRITTEN_NAMESPACES_KEY)
            .and_then(|raw| serde_json::from_str(raw).ok())
            .unwrap_or_default();
        Ok(Some(
            list.into_iter()
                .filter(|ns| render::is_dns_label(ns) && ns != flow.beacon.namespace())
                .collect(),
        ))
    };
    match read() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the namespaces recorded in the peer relation");
            None
        }
    }
}

/// Record (leader only) the namespaces that may hold our policies.
fn record_namespaces(flow: &Flow<'_>, namespaces: &BTreeSet<String>) -> Result<(), HookError> {
    if !flow.is_leader {
        return Ok(());
    }
    let Some(rel) = flow.tools.relation_ids(PEER_ENDPOINT)?.into_iter().next() else {
        return Ok(());
    };
    let value = if namespaces.is_empty() {
        String::new()
    } else {
        serde_json::to_string(namespaces).unwrap_or_default()
    };
    let bag = charm::Bag::from([(WRITTEN_NAMESPACES_KEY.to_owned(), value)]);
    flow.tools.relation_set(&rel, &bag, true)?;
    Ok(())
}

fn policy_set(flow: &Flow<'_>, namespace: &str) -> OwnedSet {
    OwnedSet::new(
        authorization_policy_kind(),
        namespace,
        flow.beacon.ownership_labels(AUTHORIZATION_POLICY_SCOPE),
    )
}

/// Delete every owned AuthorizationPolicy (application removal, or management turned off).
pub async fn remove_policies(flow: &mut Flow<'_>) -> Result<Report, HookError> {
    let rec = flow.reconciler().await?;
    let mut report = Report::default();
    let recorded = recorded_namespaces(flow);
    let mut namespaces = policy_namespaces(flow);
    for ns in recorded.iter().flatten() {
        if !namespaces.contains(ns) {
            namespaces.push(ns.clone());
        }
    }
    for ns in namespaces {
        let app = flow.beacon.app.clone();
        match rec
            .reconcile(&policy_set(flow, &ns), &[], |o| written_by(o, &app))
            .await
        {
            Ok(r) => report.merge(r),
            // Without the CRD there is nothing to remove.
            Err(e) if e.is_kind_not_served() => {}
            Err(e) => return Err(e.into()),
        }
    }
    if recorded.is_some_and(|r| !r.is_empty()) {
        record_namespaces(flow, &BTreeSet::new())?;
    }
    Ok(report)
}

/// Did we (field manager = our application name) write this object? The ownership labels are
/// the Python beacon's `<model>-<app>`, which two beacons can share (app `c` of model `a-b`,
/// app `b-c` of model `a`) once one may write into the other's namespace; the field manager
/// tells them apart. An object without managed fields (not written by server-side apply) is
/// taken as ours, as the labels say.
fn written_by(obj: &DynamicObject, manager: &str) -> bool {
    match obj.metadata.managed_fields.as_deref() {
        None | Some([]) => true,
        Some(entries) => entries
            .iter()
            .any(|m| m.manager.as_deref() == Some(manager)),
    }
}

/// Read one endpoint's relations (skipping the one being broken in this hook).
fn snapshot_endpoint(flow: &Flow<'_>, endpoint: &str) -> Result<Vec<RelationSnapshot>, ToolError> {
    let broken: Option<&RelationId> = match &flow.ctx.event {
        Event::RelationBroken(r) => Some(&r.relation),
        _ => None,
    };
    let relations = flow.tools.relations(endpoint)?;
    let mut out = Vec::new();
    for rel in relations {
        if Some(&rel.id) == broken {
            continue;
        }
        // Juju is the authority on which model the caller is in. When it cannot say, the
        // relation counts as unreadable (its earlier objects are kept, nothing new is granted)
        // rather than being trusted as in-model: fail closed.
        let (cross_model, model_error) = match flow.tools.relation_model_uuid(&rel.id) {
            Ok(uuid) if !flow.ctx.model_uuid.is_empty() => {
                (Some(uuid != flow.ctx.model_uuid), None)
            }
            Ok(_) => (None, None),
            Err(e) => (None, Some(format!("cannot tell the remote model: {e}"))),
        };
        let app_data = match (&rel.app, model_error) {
            (_, Some(e)) => Err(e),
            (Some(app), None) => flow
                .tools
                .relation_get(&rel.id, app, true)
                .map_err(|e| e.to_string()),
            (None, None) => Ok(BTreeMap::new()),
        };
        out.push(RelationSnapshot {
            endpoint: endpoint.to_owned(),
            id: rel.id.id,
            remote_app: rel.app.clone(),
            cross_model,
            app_data,
        });
    }
    Ok(out)
}

/// Leader: make the owned AuthorizationPolicies exactly what the relations ask for.
pub async fn reconcile_policies(flow: &mut Flow<'_>) -> Result<(), HookError> {
    if !flow.config.manage_authorization_policies {
        let report = remove_policies(flow).await?;
        if !report.deleted.is_empty() {
            tracing::info!(
                deleted = report.deleted.len(),
                "removed owned authorization policies ({CONFIG_MANAGE_POLICIES}=false)"
            );
        }
        flow.summary.note(format!(
            "authorization policies not managed ({CONFIG_MANAGE_POLICIES}=false)"
        ));
        return Ok(());
    }

    // Read. An endpoint whose relations cannot even be listed protects every object.
    let mut unreadable_endpoints = BTreeSet::new();
    let mut read = |endpoint: &str, flow: &Flow<'_>| match snapshot_endpoint(flow, endpoint) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(endpoint, error = %e, "cannot list relations");
            unreadable_endpoints.insert(endpoint.to_owned());
            Vec::new()
        }
    };
    let service_mesh = read(SERVICE_MESH_ENDPOINT, flow);
    let metrics = read(METRICS_ENDPOINT, flow);
    let cmr = read(PROVIDE_CMR_MESH_ENDPOINT, flow);
    for endpoint in &unreadable_endpoints {
        flow.summary.block(format!(
            "cannot read {endpoint} relations; see juju debug-log"
        ));
    }

    // Render.
    let gathered = inputs::gather(&flow.beacon, &service_mesh, &metrics, &cmr);
    let mut rules = Rules {
        extra_namespaces: flow.config.cross_model_namespaces.clone(),
        services: BTreeMap::new(),
    };
    // Services named by app policies (other than the application's own) must be the
    // application's: read each once.
    let to_check = render::services_to_check(&flow.beacon, &rules, &gathered.candidates);
    if !to_check.is_empty() {
        let client = flow.kube().await?;
        for (ns, name) in to_check {
            let info = service_info(&client, &ns, &name).await;
            rules.services.insert((ns, name), info);
        }
    }
    let rendered = render::render_all(&flow.beacon, &rules, &gathered.candidates);
    let refused: Vec<_> = gathered
        .problems
        .iter()
        .chain(rendered.refusals.iter())
        .collect();
    for (origin, refusal) in &refused {
        tracing::error!(
            "refused policy data from relation {origin}: {}",
            short_for_log(&refusal.to_string())
        );
    }
    if !refused.is_empty() {
        flow.summary.block(refusal_summary(&refused));
    }

    // Apply, namespace by namespace; then prune what no readable relation wants any more.
    let mut unreadable = gathered.unreadable.clone();
    for (origin, refusal) in &rendered.refusals {
        // A Service we could not read is a read failure: keep what that relation had.
        if matches!(refusal, render::Refusal::ServiceUnreadable { .. }) {
            unreadable.insert(inputs::relation_key(&origin.endpoint, origin.relation_id));
        }
    }
    let app = flow.beacon.app.clone();
    let may_delete = |obj: &DynamicObject| {
        if !written_by(obj, &app) {
            return false;
        }
        if unreadable.is_empty() && unreadable_endpoints.is_empty() {
            return true;
        }
        match render::origins_of(obj.metadata.annotations.as_ref()) {
            // Unknown origin (written by the Python beacon, say): keep while anything is
            // unreadable.
            None => false,
            Some(origins) => origins.iter().all(|o| {
                let endpoint = o.split_once(':').map(|(e, _)| e).unwrap_or(o);
                !unreadable.contains(o) && !unreadable_endpoints.contains(endpoint)
            }),
        }
    };
    let rec = flow.reconciler().await?;
    let mut total = Report::default();
    // Remember every namespace we are about to write into before writing there.
    let own = flow.beacon.namespace().to_owned();
    let mut recorded = recorded_namespaces(flow);
    if let Some(rec_ns) = &mut recorded {
        let before = rec_ns.len();
        rec_ns.extend(policy_namespaces(flow).into_iter().filter(|ns| *ns != own));
        if rec_ns.len() != before {
            record_namespaces(flow, rec_ns)?;
        }
    }
    for ns in policy_namespaces(flow) {
        let desired: Vec<_> = rendered
            .objects
            .iter()
            .filter(|o| o["metadata"]["namespace"].as_str() == Some(ns.as_str()))
            .cloned()
            .collect();
        match rec
            .reconcile_skipping_rejected(&policy_set(flow, &ns), &desired, may_delete)
            .await
        {
            Ok(report) => total.merge(report),
            Err(e) if e.is_kind_not_served() => {
                flow.summary.block(
                    "AuthorizationPolicy CRD (security.istio.io/v1) not found: deploy istio-k8s",
                );
                tracing::error!(error = %e, "cannot manage authorization policies");
                return Ok(());
            }
            // Operator problems, reported rather than retried: a namespace listed in config that
            // does not exist, or no permission (the charm is not trusted).
            Err(e) if ns != flow.beacon.namespace() && e.is_all_code(404) => {
                tracing::error!(error = %e, namespace = %ns, "cannot write policies");
                flow.summary.block(format!(
                    "namespace {ns:?} in {CONFIG_CROSS_MODEL_NAMESPACES} does not exist"
                ));
            }
            Err(e) if e.is_all_code(403) => {
                tracing::error!(error = %e, namespace = %ns, "cannot write policies");
                flow.summary.block(format!(
                    "not allowed to manage AuthorizationPolicies in namespace {ns:?}: run `juju trust {}`",
                    flow.beacon.app
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Namespaces no longer opted in: nothing there is wanted any more.
    if let Some(mut rec_ns) = recorded {
        let current: BTreeSet<String> = policy_namespaces(flow).into_iter().collect();
        let dropped: Vec<String> = rec_ns.difference(&current).cloned().collect();
        let before = rec_ns.clone();
        for ns in dropped {
            let app = flow.beacon.app.clone();
            match rec
                .reconcile(&policy_set(flow, &ns), &[], |o| written_by(o, &app))
                .await
            {
                Ok(report) => {
                    total.merge(report);
                    rec_ns.remove(&ns);
                }
                Err(e) if e.is_kind_not_served() || e.is_all_code(404) => {
                    rec_ns.remove(&ns);
                }
                Err(e) if e.is_all_code(403) => {
                    tracing::error!(error = %e, namespace = %ns, "cannot remove policies");
                    flow.summary.block(format!(
                        "not allowed to remove AuthorizationPolicies from namespace {ns:?}: run `juju trust {}`",
                        flow.beacon.app
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        if rec_ns != before {
            record_namespaces(flow, &rec_ns)?;
        }
    }
    // Objects the API server refuses (rendered from valid-looking data, but too large, say):
    // reported against the relations that asked for them, like any refused entry.
    if !total.rejected.is_empty() {
        let apps: BTreeMap<String, String> = service_mesh
            .iter()
            .chain(metrics.iter())
            .map(|r| {
                (
                    r.key(),
                    r.remote_app.clone().unwrap_or_else(|| "?".to_owned()),
                )
            })
            .collect();
        let mut parts = Vec::new();
        for (name, message) in &total.rejected {
            let origins = rendered
                .objects
                .iter()
                .find(|o| o["metadata"]["name"].as_str() == Some(name.as_str()))
                .and_then(|o| o["metadata"]["annotations"][render::ORIGIN_ANNOTATION].as_str())
                .unwrap_or("?")
                .split(',')
                .map(|k| format!("{k} (app {})", apps.get(k).map_or("?", String::as_str)))
                .collect::<Vec<_>>()
                .join(", ");
            tracing::error!(
                "the API server refused AuthorizationPolicy {name} asked for by {origins}: {}",
                short_for_log(message)
            );
            parts.push(origins);
        }
        flow.summary.block(format!(
            "the API server refused {} authorization polic{} asked for by {}; fix that data or remove the relation",
            total.rejected.len(),
            if total.rejected.len() == 1 { "y" } else { "ies" },
            short(&parts.join(", "))
        ));
    }
    if total.wrote() {
        tracing::info!(
            created = total.created.len(),
            updated = total.updated.len(),
            deleted = total.deleted.len(),
            kept = total.kept.len(),
            "authorization policies reconciled"
        );
    }
    let n = total.in_place();
    flow.summary.note(format!(
        "{n} authorization polic{}",
        if n == 1 { "y" } else { "ies" }
    ));
    Ok(())
}

/// What the cluster says about a Service an entry targets (one GET).
async fn service_info(client: &kube::Client, namespace: &str, name: &str) -> render::ServiceInfo {
    use k8s_openapi::api::core::v1::Service;
    let api: kube::Api<Service> = kube::Api::namespaced(client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(None) => render::ServiceInfo::Missing,
        Ok(Some(svc)) => render::ServiceInfo::Selects(
            svc.spec
                .and_then(|s| s.selector)
                .and_then(|sel| sel.get(render::APP_NAME_LABEL).cloned()),
        ),
        Err(e) => render::ServiceInfo::Unknown(e.to_string()),
    }
}

/// "refused 2 policies: service-mesh:3 (app evil): target namespace ...; ..." — short enough for
/// `juju status`, naming the relation and the application.
fn refusal_summary(refused: &[&(render::Origin, render::Refusal)]) -> String {
    let first = refused
        .iter()
        .take(2)
        // Refusals quote the data, which a related charm controls: bound each one, or a huge
        // value would make the status (a hook tool argument) fail the hook.
        .map(|(o, r)| format!("{o}: {}", short(&r.to_string())))
        .collect::<Vec<_>>()
        .join("; ");
    let more = if refused.len() > 2 {
        format!(" (+{} more, see juju debug-log)", refused.len() - 2)
    } else {
        String::new()
    };
    format!(
        "refused {} policy entr{} from {}{more}; fix that data or remove the relation",
        refused.len(),
        if refused.len() == 1 { "y" } else { "ies" },
        first
    )
}
