//! Pure gathering of candidate policies from relation data, already read by the charm flow.
//!
//! Inputs are snapshots of relations (their application bags, or the error reading them); the
//! output is the [`Candidate`]s to render plus the problems to report, and which relations could
//! not be read completely. Objects that such a relation may have produced are never pruned in
//! that hook: nothing is deleted because a read failed.

use std::collections::{BTreeMap, BTreeSet};

use service_mesh::{CmrData, Policy, CMR_DATA_KEY, POLICIES_KEY};

use crate::render::{metrics_policy, Beacon, Candidate, Origin, OriginKind, Refusal};

/// Relation endpoint on which workloads send their policies.
pub const SERVICE_MESH_ENDPOINT: &str = "service-mesh";
/// Relation endpoint on which cross-model callers say who they are (`cmr_data`).
pub const PROVIDE_CMR_MESH_ENDPOINT: &str = "provide-cmr-mesh";
/// Relation endpoint on which scrapers get the beacon's metrics (port 15090).
pub const METRICS_ENDPOINT: &str = "metrics-endpoint";

/// One relation as read in this hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationSnapshot {
    pub endpoint: String,
    pub id: u64,
    /// The application at the other end, when known.
    pub remote_app: Option<String>,
    /// Is the other end in another model (`relation-model-get`)? `None` when unknown.
    pub cross_model: Option<bool>,
    /// The remote application's bag, or why it could not be read.
    pub app_data: Result<BTreeMap<String, String>, String>,
}

impl RelationSnapshot {
    /// `endpoint:id`, the key Juju prints and that objects record as their origin.
    pub fn key(&self) -> String {
        relation_key(&self.endpoint, self.id)
    }

    fn origin(&self, kind: OriginKind) -> Origin {
        Origin {
            endpoint: self.endpoint.clone(),
            relation_id: self.id,
            remote_app: self.remote_app.clone().unwrap_or_else(|| "?".to_owned()),
            kind,
            cross_model: self.cross_model,
        }
    }
}

/// `endpoint:id`.
pub fn relation_key(endpoint: &str, id: u64) -> String {
    format!("{endpoint}:{id}")
}

/// Candidates and problems gathered from every relation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gathered {
    pub candidates: Vec<Candidate>,
    /// Relation- or entry-level problems found before rendering (unreadable bags, invalid
    /// JSON, entries that are not policies).
    pub problems: Vec<(Origin, Refusal)>,
    /// Relations (`endpoint:id`) whose wishes are not fully known in this hook: the objects they
    /// produced before must stay.
    pub unreadable: BTreeSet<String>,
}

/// Gather candidates from the `service-mesh` relations (the workloads' policies) and from the
/// `metrics-endpoint` relations (the beacon's own unit policy on port 15090), resolving
/// cross-model callers through `provide-cmr-mesh`.
pub fn gather(
    beacon: &Beacon,
    service_mesh: &[RelationSnapshot],
    metrics: &[RelationSnapshot],
    cmr: &[RelationSnapshot],
) -> Gathered {
    let mut out = Gathered::default();
    for rel in service_mesh {
        gather_service_mesh(rel, &mut out);
    }

    // Who the cross-model callers really are, by the name this model sees them under.
    let mut cmr_by_app: BTreeMap<String, CmrData> = BTreeMap::new();
    // Remote apps whose cmr_data could not be read; `None` when the app is unknown too.
    let mut cmr_unknown: Vec<Option<String>> = Vec::new();
    // Remote apps whose cmr_data was refused as a false identity.
    let mut cmr_refused: BTreeSet<String> = BTreeSet::new();
    for rel in cmr {
        let data = match &rel.app_data {
            Ok(d) => d,
            Err(e) => {
                out.problems.push((
                    rel.origin(OriginKind::RelationData),
                    Refusal::Malformed(format!("cannot read relation data: {e}")),
                ));
                cmr_unknown.push(rel.remote_app.clone());
                continue;
            }
        };
        let Some(raw) = data.get(CMR_DATA_KEY) else {
            continue;
        };
        match serde_json::from_str::<CmrData>(raw) {
            Ok(cmr_data) => {
                let Some(app) = &rel.remote_app else {
                    continue;
                };
                match cmr_identity_problem(beacon, rel, app, &cmr_data) {
                    None => {
                        cmr_by_app.insert(app.clone(), cmr_data);
                    }
                    Some(refusal) => {
                        out.problems
                            .push((rel.origin(OriginKind::RelationData), refusal));
                        // In this model Juju itself says who the caller is: use that. Across
                        // models the caller's identity is now unknown: grant it nothing.
                        if rel.cross_model != Some(false) {
                            cmr_refused.insert(app.clone());
                        }
                    }
                }
            }
            Err(e) => {
                out.problems.push((
                    rel.origin(OriginKind::RelationData),
                    Refusal::Malformed(format!("{CMR_DATA_KEY} is not valid: {e}")),
                ));
                cmr_unknown.push(rel.remote_app.clone());
            }
        }
    }

    for rel in metrics {
        let Some(remote) = rel.remote_app.clone() else {
            out.unreadable.insert(rel.key());
            continue;
        };
        if cmr_unknown
            .iter()
            .any(|a| a.as_deref().is_none_or(|a| a == remote))
        {
            // We cannot tell whether this caller is cross-model: keep what it had.
            out.unreadable.insert(rel.key());
            continue;
        }
        if cmr_refused.contains(&remote) {
            continue;
        }
        let (source_app, source_model) = match cmr_by_app.get(&remote) {
            Some(c) => (c.app_name.clone(), c.juju_model_name.clone()),
            None => (remote.clone(), beacon.model.clone()),
        };
        out.candidates.push(Candidate {
            origin: rel.origin(OriginKind::Beacon),
            policy: metrics_policy(beacon, &source_app, &source_model),
        });
    }
    out
}

/// Is `cmr_data` a false identity for the caller at the other end of `rel`? Juju is the
/// authority on which model the caller is in: an in-model caller is exactly the remote
/// application of this model (its cmr_data may only repeat that), and a caller from another
/// model cannot be an application of this model (which would let it hand its access to any
/// local application).
fn cmr_identity_problem(
    beacon: &Beacon,
    rel: &RelationSnapshot,
    remote_app: &str,
    cmr: &CmrData,
) -> Option<Refusal> {
    let refuse = |why: String| {
        Some(Refusal::CmrIdentityMismatch {
            app: cmr.app_name.clone(),
            model: cmr.juju_model_name.clone(),
            why,
        })
    };
    let claims_this_model = cmr.juju_model_name == beacon.model;
    match rel.cross_model {
        Some(true) if claims_this_model => refuse(format!(
            "the relation comes from another model, not from {:?}",
            beacon.model
        )),
        Some(false) if !claims_this_model || cmr.app_name != remote_app => refuse(format!(
            "the relation is with application {remote_app:?} of this model"
        )),
        None if claims_this_model && cmr.app_name != remote_app => {
            refuse(format!("the relation is with application {remote_app:?}"))
        }
        _ => None,
    }
}

fn gather_service_mesh(rel: &RelationSnapshot, out: &mut Gathered) {
    let origin = rel.origin(OriginKind::RelationData);
    let data = match &rel.app_data {
        Ok(d) => d,
        Err(e) => {
            out.problems.push((
                origin,
                Refusal::Malformed(format!("cannot read relation data: {e}")),
            ));
            out.unreadable.insert(rel.key());
            return;
        }
    };
    if rel.remote_app.is_none() {
        out.unreadable.insert(rel.key());
        return;
    }
    // A missing key means no policies (the workload has not written any, or wants none).
    let Some(raw) = data.get(POLICIES_KEY) else {
        return;
    };
    let entries: Vec<serde_json::Value> = match serde_json::from_str(raw) {
        Ok(serde_json::Value::Array(entries)) => entries,
        Ok(_) => {
            out.problems.push((
                origin,
                Refusal::Malformed(format!("{POLICIES_KEY} is not a JSON list")),
            ));
            out.unreadable.insert(rel.key());
            return;
        }
        Err(e) => {
            out.problems.push((
                origin,
                Refusal::Malformed(format!("{POLICIES_KEY} is not valid JSON: {e}")),
            ));
            out.unreadable.insert(rel.key());
            return;
        }
    };
    for (i, entry) in entries.into_iter().enumerate() {
        match serde_json::from_value::<Policy>(entry) {
            Ok(policy) => out.candidates.push(Candidate {
                origin: origin.clone(),
                policy,
            }),
            Err(e) => {
                out.problems.push((
                    origin.clone(),
                    Refusal::Malformed(format!("entry {i}: {e}")),
                ));
                // We cannot tell which object this entry stood for: keep the relation's objects.
                out.unreadable.insert(rel.key());
            }
        }
    }
}
