//! The controller's persistent state (serialisable for `save`/`load`). Pure data plus
//! helpers that answer "who sees what under which name".

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::charm::{CharmMeta, Role};
use crate::controller::{HookRun, LogLine};

pub type Bag = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub controller_uuid: String,
    pub models: BTreeMap<String, Model>,
    /// Every relation of the controller by a global uid; a cross-model relation is one
    /// entry seen from two models under two ids.
    pub relations: BTreeMap<u64, Relation>,
    pub next_relation_uid: u64,
    /// Token naming a consumer application in an offering model: key "model:app".
    pub remote_tokens: BTreeMap<String, String>,
    pub hook_log: Vec<HookRun>,
    pub next_model_index: u32,
    pub next_context: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    pub name: String,
    pub uuid: String,
    pub index: u32,
    pub apps: BTreeMap<String, Application>,
    pub saas: BTreeMap<String, Saas>,
    pub offers: BTreeMap<String, Offer>,
    pub next_relation_id: u64,
    pub log: Vec<LogLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusInfo {
    pub status: String,
    pub message: String,
    pub data: BTreeMap<String, serde_json::Value>,
    pub since: String,
}

impl StatusInfo {
    pub fn new(status: &str, message: &str) -> Self {
        StatusInfo {
            status: status.into(),
            message: message.into(),
            data: BTreeMap::new(),
            since: now(),
        }
    }
}

pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Application {
    pub name: String,
    /// Where the charm came from (dir or .charm), re-read on refresh.
    pub charm_source: PathBuf,
    pub meta: CharmMeta,
    pub charm_rev: u32,
    /// Only values the user set; defaults come from `meta.config`.
    pub config: BTreeMap<String, serde_json::Value>,
    pub trust: bool,
    pub units: BTreeMap<u32, Unit>,
    pub next_unit: u32,
    pub leader: Option<u32>,
    /// Application status as set by the leader (`status-set --application`).
    pub status: Option<StatusInfo>,
    pub leader_settings: Bag,
    pub version: String,
    pub dying: bool,
}

/// A failed hook waiting to be retried.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailedHook {
    pub hook: String,
    /// Set once the failure has been seen by one `run_until_idle`; the next call retries.
    pub retry_due: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unit {
    pub number: u32,
    pub workload: StatusInfo,
    pub agent: StatusInfo,
    pub state: Bag,
    pub ports: BTreeSet<PortRange>,
    pub queue: VecDeque<Event>,
    pub failed: Option<FailedHook>,
    pub dying: bool,
    pub installed: bool,
    pub ip: String,
    pub charm_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortRange {
    pub protocol: String,
    pub from: u16,
    pub to: u16,
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.protocol == "icmp" {
            write!(f, "icmp")
        } else if self.from == self.to {
            write!(f, "{}/{}", self.from, self.protocol)
        } else {
            write!(f, "{}-{}/{}", self.from, self.to, self.protocol)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Install,
    LeaderElected,
    LeaderSettingsChanged,
    ConfigChanged,
    Start,
    UpgradeCharm,
    UpdateStatus,
    Stop,
    Remove,
    RelationCreated,
    RelationJoined,
    RelationChanged,
    RelationDeparted,
    RelationBroken,
}

impl EventKind {
    pub fn suffix(&self) -> &'static str {
        match self {
            EventKind::Install => "install",
            EventKind::LeaderElected => "leader-elected",
            EventKind::LeaderSettingsChanged => "leader-settings-changed",
            EventKind::ConfigChanged => "config-changed",
            EventKind::Start => "start",
            EventKind::UpgradeCharm => "upgrade-charm",
            EventKind::UpdateStatus => "update-status",
            EventKind::Stop => "stop",
            EventKind::Remove => "remove",
            EventKind::RelationCreated => "relation-created",
            EventKind::RelationJoined => "relation-joined",
            EventKind::RelationChanged => "relation-changed",
            EventKind::RelationDeparted => "relation-departed",
            EventKind::RelationBroken => "relation-broken",
        }
    }
}

/// A queued hook. Unit/app references are controller-wide keys ("model:app/n", "model:app").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub relation: Option<u64>,
    pub remote_unit: Option<String>,
    pub remote_app: Option<String>,
    pub departing: Option<String>,
}

impl Event {
    pub fn simple(kind: EventKind) -> Self {
        Event {
            kind,
            relation: None,
            remote_unit: None,
            remote_app: None,
            departing: None,
        }
    }
    pub fn rel(kind: EventKind, relation: u64) -> Self {
        Event {
            relation: Some(relation),
            ..Event::simple(kind)
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelEndpoint {
    pub model: String,
    pub app: String,
    pub name: String,
    pub role: Role,
    pub interface: String,
}

impl RelEndpoint {
    pub fn app_key(&self) -> String {
        format!("{}:{}", self.model, self.app)
    }
}

/// The cross-model side of a relation: `endpoints[0]` is the consumer, `endpoints[1]` the offerer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CmrLink {
    pub offer_model: String,
    pub offer_name: String,
    pub consumer_model: String,
    pub saas_name: String,
    /// 32 hex: the consumer app is `remote-<token>` in the offering model.
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Relation {
    pub uid: u64,
    /// Relation id as seen from each model.
    pub ids: BTreeMap<String, u64>,
    pub endpoints: Vec<RelEndpoint>,
    pub interface: String,
    /// Keyed by "model:app".
    pub app_bags: BTreeMap<String, Bag>,
    /// Keyed by "model:app/n".
    pub unit_bags: BTreeMap<String, Bag>,
    /// For each unit in scope, the remote units it has joined (got -joined for).
    pub joined: BTreeMap<String, BTreeSet<String>>,
    /// Units that entered scope (got -created queued).
    pub members: BTreeSet<String>,
    pub dying: bool,
    pub cmr: Option<CmrLink>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Offer {
    pub name: String,
    pub app: String,
    pub endpoints: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saas {
    pub name: String,
    pub offer_model: String,
    pub offer_name: String,
}

pub fn unit_key(model: &str, unit: &str) -> String {
    format!("{model}:{unit}")
}

/// Splits "model:app/n" into (model, app, n).
pub fn split_unit_key(key: &str) -> Option<(&str, &str, u32)> {
    let (model, unit) = key.split_once(':')?;
    let (app, n) = unit.split_once('/')?;
    Some((model, app, n.parse().ok()?))
}

pub fn split_app_key(key: &str) -> Option<(&str, &str)> {
    key.split_once(':')
}

impl Relation {
    pub fn is_peer(&self) -> bool {
        self.endpoints.len() == 1
    }

    /// The endpoint of `model:app`, if it is in this relation.
    pub fn endpoint_of(&self, model: &str, app: &str) -> Option<&RelEndpoint> {
        self.endpoints
            .iter()
            .find(|e| e.model == model && e.app == app)
    }

    /// The other endpoint (the same one for peers).
    pub fn other_endpoint(&self, model: &str, app: &str) -> Option<&RelEndpoint> {
        if self.is_peer() {
            return self.endpoints.first();
        }
        self.endpoints
            .iter()
            .find(|e| !(e.model == model && e.app == app))
    }

    /// Name under which `viewer_model` sees the application `app_key` ("model:app").
    pub fn app_view(&self, viewer_model: &str, app_key: &str) -> String {
        let (model, app) = split_app_key(app_key).unwrap_or(("", app_key));
        if model == viewer_model {
            return app.to_string();
        }
        match &self.cmr {
            Some(c) if model == c.offer_model => c.saas_name.clone(),
            Some(c) => format!("remote-{}", c.token),
            None => app.to_string(),
        }
    }

    /// Name under which `viewer_model` sees the unit `unit_key` ("model:app/n").
    pub fn unit_view(&self, viewer_model: &str, unit_key: &str) -> String {
        match split_unit_key(unit_key) {
            Some((model, app, n)) => {
                let app = self.app_view(viewer_model, &format!("{model}:{app}"));
                format!("{app}/{n}")
            }
            None => unit_key.to_string(),
        }
    }

    /// Relation key as Juju prints it (requirer first): "a:x b:y", or "a:peers".
    pub fn key_view(&self, viewer_model: &str) -> String {
        let mut eps: Vec<&RelEndpoint> = self.endpoints.iter().collect();
        eps.sort_by_key(|e| match e.role {
            Role::Requirer => 0,
            Role::Provider => 1,
            Role::Peer => 2,
        });
        eps.iter()
            .map(|e| format!("{}:{}", self.app_view(viewer_model, &e.app_key()), e.name))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
