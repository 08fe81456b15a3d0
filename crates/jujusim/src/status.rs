//! `juju status --format=json` as data. Field names follow Juju's JSON output;
//! `relations` at the top level is an addition for `--integrations` tables.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::state::{Application, State, StatusInfo};
use crate::JUJU_VERSION;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct StatusValue {
    pub current: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    pub since: String,
}

impl From<&StatusInfo> for StatusValue {
    fn from(s: &StatusInfo) -> Self {
        StatusValue {
            current: s.status.clone(),
            message: s.message.clone(),
            since: s.since.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ModelInfo {
    pub name: String,
    pub uuid: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub controller: String,
    pub cloud: String,
    pub version: String,
    pub model_status: StatusValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct UnitStatus {
    pub workload_status: StatusValue,
    pub juju_status: StatusValue,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub leader: bool,
    pub address: String,
    pub provider_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_ports: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RelatedApp {
    pub related_application: String,
    pub interface: String,
    pub scope: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AppStatus {
    pub charm: String,
    pub charm_origin: String,
    pub charm_name: String,
    pub charm_rev: u32,
    pub exposed: bool,
    pub scale: usize,
    pub trust: bool,
    pub application_status: StatusValue,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Endpoint -> related applications.
    pub relations: BTreeMap<String, Vec<RelatedApp>>,
    pub units: BTreeMap<String, UnitStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EndpointStatus {
    pub interface: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SaasStatus {
    pub url: String,
    pub endpoints: BTreeMap<String, EndpointStatus>,
    pub application_status: StatusValue,
    /// Endpoint -> local applications related through it.
    pub relations: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct OfferStatus {
    pub application: String,
    pub charm: String,
    pub url: String,
    pub total_connected_count: usize,
    pub active_connected_count: usize,
    pub endpoints: BTreeMap<String, EndpointStatus>,
}

/// One row of `juju status --integrations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RelationStatus {
    pub id: u64,
    pub key: String,
    /// "app:endpoint" of the provider (the single peer endpoint for peers).
    pub provider: String,
    pub requirer: String,
    pub interface: String,
    /// `regular`, `peer` or `cross-model`... Juju prints `regular`/`peer`; cross-model is
    /// shown as `regular` by Juju too, so this keeps Juju's value and adds `cross_model`.
    #[serde(rename = "type")]
    pub kind: String,
    pub cross_model: bool,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ModelStatus {
    pub model: ModelInfo,
    pub machines: BTreeMap<String, serde_json::Value>,
    pub applications: BTreeMap<String, AppStatus>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub application_endpoints: BTreeMap<String, SaasStatus>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub offers: BTreeMap<String, OfferStatus>,
    pub relations: Vec<RelationStatus>,
    pub controller: serde_json::Value,
}

fn severity(s: &str) -> u8 {
    match s {
        "error" => 100,
        "blocked" => 90,
        "waiting" => 80,
        "maintenance" => 70,
        "terminated" => 60,
        "active" => 50,
        "unknown" => 40,
        _ => 0,
    }
}

/// Unit workload status with the hook-error overlay.
pub(crate) fn unit_workload(u: &crate::state::Unit) -> StatusInfo {
    match &u.failed {
        Some(f) => StatusInfo {
            status: "error".into(),
            message: format!("hook failed: \"{}\"", f.hook),
            data: Default::default(),
            since: u.workload.since.clone(),
        },
        None => u.workload.clone(),
    }
}

/// Application status: what the leader set, else derived from the units (worst first).
pub(crate) fn app_status(a: &Application) -> StatusInfo {
    let worst_unit = a
        .units
        .values()
        .map(unit_workload)
        .max_by_key(|s| severity(&s.status));
    match (&a.status, worst_unit) {
        (_, Some(w)) if w.status == "error" => w,
        (Some(s), _) => s.clone(),
        (None, Some(w)) => w,
        (None, None) => StatusInfo::new("unknown", ""),
    }
}

pub(crate) fn build(state: &State, model: &str) -> ModelStatus {
    let Some(m) = state.models.get(model) else {
        return ModelStatus {
            model: ModelInfo {
                name: model.into(),
                uuid: String::new(),
                kind: "caas".into(),
                controller: "jujusim".into(),
                cloud: "kubesim".into(),
                version: JUJU_VERSION.into(),
                model_status: StatusValue {
                    current: "unknown".into(),
                    message: String::new(),
                    since: String::new(),
                },
            },
            machines: BTreeMap::new(),
            applications: BTreeMap::new(),
            application_endpoints: BTreeMap::new(),
            offers: BTreeMap::new(),
            relations: Vec::new(),
            controller: serde_json::json!({}),
        };
    };
    let rels: Vec<_> = state
        .relations
        .values()
        .filter(|r| !r.dying && r.ids.contains_key(model))
        .collect();
    let mut applications = BTreeMap::new();
    for a in m.apps.values() {
        let mut relations: BTreeMap<String, Vec<RelatedApp>> = BTreeMap::new();
        for r in &rels {
            let Some(me) = r.endpoint_of(model, &a.name) else {
                continue;
            };
            let Some(other) = r.other_endpoint(model, &a.name) else {
                continue;
            };
            relations
                .entry(me.name.clone())
                .or_default()
                .push(RelatedApp {
                    related_application: r.app_view(model, &other.app_key()),
                    interface: r.interface.clone(),
                    scope: "global".into(),
                });
        }
        let mut units = BTreeMap::new();
        for u in a.units.values() {
            units.insert(
                format!("{}/{}", a.name, u.number),
                UnitStatus {
                    workload_status: (&unit_workload(u)).into(),
                    juju_status: (&u.agent).into(),
                    leader: a.leader == Some(u.number),
                    address: u.ip.clone(),
                    provider_id: format!("{}-{}", a.name, u.number),
                    open_ports: u.ports.iter().map(|p| p.to_string()).collect(),
                },
            );
        }
        applications.insert(
            a.name.clone(),
            AppStatus {
                charm: a.meta.name.clone(),
                charm_origin: "local".into(),
                charm_name: a.meta.name.clone(),
                charm_rev: a.charm_rev,
                exposed: false,
                scale: a.units.values().filter(|u| !u.dying).count(),
                trust: a.trust,
                application_status: (&app_status(a)).into(),
                version: a.version.clone(),
                relations,
                units,
            },
        );
    }
    let mut application_endpoints = BTreeMap::new();
    for s in m.saas.values() {
        let om = state.models.get(&s.offer_model);
        let offer = om.and_then(|om| om.offers.get(&s.offer_name));
        let oapp = offer.and_then(|o| om.and_then(|om| om.apps.get(&o.app)));
        let mut endpoints = BTreeMap::new();
        if let (Some(o), Some(oa)) = (offer, oapp) {
            for ep in &o.endpoints {
                if let Some(e) = oa.meta.endpoint(ep) {
                    endpoints.insert(
                        ep.clone(),
                        EndpointStatus {
                            interface: e.interface.clone(),
                            role: e.role.as_str().into(),
                        },
                    );
                }
            }
        }
        let mut relations: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in &rels {
            let Some(c) = &r.cmr else { continue };
            if c.consumer_model != model || c.saas_name != s.name {
                continue;
            }
            if let (Some(cons), Some(off)) = (r.endpoints.first(), r.endpoints.get(1)) {
                relations
                    .entry(off.name.clone())
                    .or_default()
                    .push(cons.app.clone());
            }
        }
        application_endpoints.insert(
            s.name.clone(),
            SaasStatus {
                url: format!("admin/{}.{}", s.offer_model, s.offer_name),
                endpoints,
                application_status: oapp
                    .map(|a| (&app_status(a)).into())
                    .unwrap_or(StatusValue {
                        current: "terminated".into(),
                        message: "offer has been removed".into(),
                        since: String::new(),
                    }),
                relations,
            },
        );
    }
    let mut offers = BTreeMap::new();
    for o in m.offers.values() {
        let connected = state
            .relations
            .values()
            .filter(|r| {
                !r.dying
                    && r.cmr
                        .as_ref()
                        .is_some_and(|c| c.offer_model == model && c.offer_name == o.name)
            })
            .count();
        let mut endpoints = BTreeMap::new();
        if let Some(a) = m.apps.get(&o.app) {
            for ep in &o.endpoints {
                if let Some(e) = a.meta.endpoint(ep) {
                    endpoints.insert(
                        ep.clone(),
                        EndpointStatus {
                            interface: e.interface.clone(),
                            role: e.role.as_str().into(),
                        },
                    );
                }
            }
        }
        offers.insert(
            o.name.clone(),
            OfferStatus {
                application: o.app.clone(),
                charm: m
                    .apps
                    .get(&o.app)
                    .map(|a| a.meta.name.clone())
                    .unwrap_or_default(),
                url: format!("admin/{model}.{}", o.name),
                total_connected_count: connected,
                active_connected_count: connected,
                endpoints,
            },
        );
    }
    let mut relations: Vec<RelationStatus> = rels
        .iter()
        .map(|r| {
            let show = |e: &crate::state::RelEndpoint| {
                format!("{}:{}", r.app_view(model, &e.app_key()), e.name)
            };
            let prov = r
                .endpoints
                .iter()
                .find(|e| e.role != crate::charm::Role::Requirer)
                .map(show)
                .unwrap_or_default();
            let req = r
                .endpoints
                .iter()
                .find(|e| e.role == crate::charm::Role::Requirer)
                .map(show)
                .unwrap_or_else(|| prov.clone());
            RelationStatus {
                id: r.ids.get(model).copied().unwrap_or(0),
                key: r.key_view(model),
                provider: prov,
                requirer: req,
                interface: r.interface.clone(),
                kind: if r.is_peer() { "peer" } else { "regular" }.into(),
                cross_model: r.cmr.is_some(),
                status: "joined".into(),
            }
        })
        .collect();
    relations.sort_by_key(|r| r.id);
    ModelStatus {
        model: ModelInfo {
            name: m.name.clone(),
            uuid: m.uuid.clone(),
            kind: "caas".into(),
            controller: "jujusim".into(),
            cloud: "kubesim".into(),
            version: JUJU_VERSION.into(),
            model_status: StatusValue {
                current: "available".into(),
                message: String::new(),
                since: String::new(),
            },
        },
        machines: BTreeMap::new(),
        applications,
        application_endpoints,
        offers,
        relations,
        controller: serde_json::json!({"timestamp": crate::state::now()}),
    }
}
