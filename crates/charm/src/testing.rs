//! An in-memory [`HookTools`] for unit tests of charm logic: relations, leadership, config,
//! status, ports and action results live in a struct the test can set up and inspect.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use serde_json::{Map, Value};

use crate::config::Config;
use crate::context::RelationId;
use crate::status::Status;
use crate::tools::{Bag, HookTools, LogLevel, ToolError};

/// One relation as the fake sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeRelation {
    pub remote_app: Option<String>,
    pub remote_model_uuid: String,
    pub remote_units: Vec<String>,
    pub local_app_data: Bag,
    pub local_unit_data: Bag,
    pub remote_app_data: Bag,
    pub remote_unit_data: BTreeMap<String, Bag>,
}

/// Everything the fake holds; reach it through [`FakeHookTools::state`].
#[derive(Debug, Clone, Default)]
pub struct FakeState {
    pub unit: String,
    pub app: String,
    pub model_uuid: String,
    pub leader: bool,
    pub config: Map<String, Value>,
    pub relations: BTreeMap<RelationId, FakeRelation>,
    pub unit_status: Option<Status>,
    pub app_status: Option<Status>,
    pub version: Option<String>,
    pub logs: Vec<(LogLevel, String)>,
    pub ports: BTreeSet<(u16, String)>,
    pub state: Bag,
    pub action_params: Map<String, Value>,
    pub action_results: Bag,
    pub action_failed: Option<String>,
    pub action_logs: Vec<String>,
    /// Tool names in call order, for tests that count writes.
    pub calls: Vec<String>,
    /// Tools that fail (exit 1) when called, for tests of failure paths. Honoured by
    /// `relation-model-get` and `relation-get`.
    pub failing: BTreeSet<String>,
}

/// The in-memory hook tools.
#[derive(Debug, Default)]
pub struct FakeHookTools {
    state: Mutex<FakeState>,
}

fn denied(tool: &str, msg: &str) -> ToolError {
    ToolError::Failed {
        tool: tool.to_string(),
        args: vec![],
        code: Some(1),
        stderr: format!("ERROR {msg}\n"),
    }
}

impl FakeHookTools {
    /// A non-leader unit `unit` (`app/0`) in a model with uuid `model_uuid`.
    pub fn new(unit: &str, model_uuid: &str) -> Self {
        let app = unit.split('/').next().unwrap_or(unit).to_string();
        Self {
            state: Mutex::new(FakeState {
                unit: unit.to_string(),
                app,
                model_uuid: model_uuid.to_string(),
                ..FakeState::default()
            }),
        }
    }

    /// Lock and access the state (set up or inspect).
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        // A test that panicked while holding the lock already failed; keep going for its report.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_leader(&self, leader: bool) {
        self.state().leader = leader;
    }

    pub fn set_config(&self, key: &str, value: Value) {
        self.state().config.insert(key.to_string(), value);
    }

    /// Add a relation on `endpoint` with `remote_app` and its units; returns its id.
    pub fn add_relation(&self, endpoint: &str, remote_app: &str, units: &[&str]) -> RelationId {
        let mut st = self.state();
        let next = st.relations.keys().map(|r| r.id + 1).max().unwrap_or(0);
        let id = RelationId::new(endpoint, next);
        let model_uuid = st.model_uuid.clone();
        st.relations.insert(
            id.clone(),
            FakeRelation {
                remote_app: Some(remote_app.to_string()),
                remote_model_uuid: model_uuid,
                remote_units: units.iter().map(|u| u.to_string()).collect(),
                ..FakeRelation::default()
            },
        );
        id
    }

    pub fn remove_relation(&self, id: &RelationId) {
        self.state().relations.remove(id);
    }

    pub fn set_remote_app_data(&self, id: &RelationId, data: &[(&str, &str)]) {
        if let Some(r) = self.state().relations.get_mut(id) {
            r.remote_app_data = data
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        }
    }

    pub fn local_app_data(&self, id: &RelationId) -> Bag {
        self.state()
            .relations
            .get(id)
            .map(|r| r.local_app_data.clone())
            .unwrap_or_default()
    }

    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.state().logs.clone()
    }

    pub fn unit_status(&self) -> Option<Status> {
        self.state().unit_status.clone()
    }

    pub fn app_status(&self) -> Option<Status> {
        self.state().app_status.clone()
    }

    /// How many times `tool` was called.
    pub fn count(&self, tool: &str) -> usize {
        self.state().calls.iter().filter(|c| *c == tool).count()
    }

    fn call(&self, tool: &str) -> MutexGuard<'_, FakeState> {
        let mut st = self.state();
        st.calls.push(tool.to_string());
        st
    }
}

fn no_relation(tool: &str, id: &RelationId) -> ToolError {
    denied(
        tool,
        &format!(
            "invalid value \"{}\" for option -r: relation not found",
            id.id
        ),
    )
}

impl HookTools for FakeHookTools {
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, ToolError> {
        let st = self.call("relation-ids");
        Ok(st
            .relations
            .keys()
            .filter(|r| r.name == endpoint)
            .cloned()
            .collect())
    }

    fn relation_list(&self, relation: &RelationId) -> Result<Vec<String>, ToolError> {
        let st = self.call("relation-list");
        st.relations
            .get(relation)
            .map(|r| r.remote_units.clone())
            .ok_or_else(|| no_relation("relation-list", relation))
    }

    fn relation_remote_app(&self, relation: &RelationId) -> Result<Option<String>, ToolError> {
        let st = self.call("relation-list");
        st.relations
            .get(relation)
            .map(|r| r.remote_app.clone())
            .ok_or_else(|| no_relation("relation-list", relation))
    }

    fn relation_get(
        &self,
        relation: &RelationId,
        member: &str,
        app: bool,
    ) -> Result<Bag, ToolError> {
        let st = self.call("relation-get");
        if st.failing.contains("relation-get") {
            return Err(denied("relation-get", "injected failure"));
        }
        let r = st
            .relations
            .get(relation)
            .ok_or_else(|| no_relation("relation-get", relation))?;
        if app {
            if member == st.app {
                if !st.leader {
                    return Err(denied("relation-get", "permission denied"));
                }
                return Ok(r.local_app_data.clone());
            }
            if r.remote_app.as_deref() == Some(member) {
                return Ok(r.remote_app_data.clone());
            }
        } else {
            if member == st.unit {
                return Ok(r.local_unit_data.clone());
            }
            if let Some(b) = r.remote_unit_data.get(member) {
                return Ok(b.clone());
            }
            if r.remote_units.iter().any(|u| u == member) {
                return Ok(Bag::new());
            }
        }
        Err(denied(
            "relation-get",
            &format!("cannot read settings for {member}"),
        ))
    }

    fn relation_set(&self, relation: &RelationId, data: &Bag, app: bool) -> Result<(), ToolError> {
        let mut st = self.call("relation-set");
        let leader = st.leader;
        let r = st
            .relations
            .get_mut(relation)
            .ok_or_else(|| no_relation("relation-set", relation))?;
        let bag = if app {
            if !leader {
                return Err(denied(
                    "relation-set",
                    "cannot write relation settings: permission denied",
                ));
            }
            &mut r.local_app_data
        } else {
            &mut r.local_unit_data
        };
        for (k, v) in data {
            if v.is_empty() {
                bag.remove(k);
            } else {
                bag.insert(k.clone(), v.clone());
            }
        }
        Ok(())
    }

    fn relation_model_uuid(&self, relation: &RelationId) -> Result<String, ToolError> {
        let st = self.call("relation-model-get");
        if st.failing.contains("relation-model-get") {
            return Err(denied("relation-model-get", "injected failure"));
        }
        st.relations
            .get(relation)
            .map(|r| r.remote_model_uuid.clone())
            .ok_or_else(|| no_relation("relation-model-get", relation))
    }

    fn is_leader(&self) -> Result<bool, ToolError> {
        Ok(self.call("is-leader").leader)
    }

    fn config_get(&self) -> Result<Config, ToolError> {
        Ok(Config::new(self.call("config-get").config.clone()))
    }

    fn status_set(&self, status: &Status, application: bool) -> Result<(), ToolError> {
        let mut st = self.call("status-set");
        if !status.is_settable() {
            return Err(ToolError::Invalid {
                tool: "status-set".into(),
                message: format!("a charm cannot set status {:?}", status.name()),
            });
        }
        if application {
            if !st.leader {
                return Err(denied("status-set", "this unit is not the leader"));
            }
            st.app_status = Some(status.clone());
        } else {
            st.unit_status = Some(status.clone());
        }
        Ok(())
    }

    fn status_get(&self, application: bool) -> Result<Status, ToolError> {
        let st = self.call("status-get");
        let s = if application {
            &st.app_status
        } else {
            &st.unit_status
        };
        Ok(s.clone().unwrap_or(Status::Unknown(String::new())))
    }

    fn application_version_set(&self, version: &str) -> Result<(), ToolError> {
        self.call("application-version-set").version = Some(version.to_string());
        Ok(())
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), ToolError> {
        self.call("juju-log")
            .logs
            .push((level, message.to_string()));
        Ok(())
    }

    fn action_get(&self) -> Result<Map<String, Value>, ToolError> {
        Ok(self.call("action-get").action_params.clone())
    }

    fn action_set(&self, results: &Bag) -> Result<(), ToolError> {
        let mut st = self.call("action-set");
        st.action_results
            .extend(results.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(())
    }

    fn action_fail(&self, message: &str) -> Result<(), ToolError> {
        self.call("action-fail").action_failed = Some(message.to_string());
        Ok(())
    }

    fn action_log(&self, message: &str) -> Result<(), ToolError> {
        self.call("action-log")
            .action_logs
            .push(message.to_string());
        Ok(())
    }

    fn state_get(&self, key: &str) -> Result<Option<String>, ToolError> {
        Ok(self.call("state-get").state.get(key).cloned())
    }

    fn state_set(&self, key: &str, value: &str) -> Result<(), ToolError> {
        self.call("state-set")
            .state
            .insert(key.to_string(), value.to_string());
        Ok(())
    }

    fn state_delete(&self, key: &str) -> Result<(), ToolError> {
        self.call("state-delete").state.remove(key);
        Ok(())
    }

    fn open_port(&self, port: u16, protocol: &str) -> Result<(), ToolError> {
        self.call("open-port")
            .ports
            .insert((port, protocol.to_string()));
        Ok(())
    }

    fn close_port(&self, port: u16, protocol: &str) -> Result<(), ToolError> {
        self.call("close-port")
            .ports
            .remove(&(port, protocol.to_string()));
        Ok(())
    }

    fn goal_state(&self) -> Result<Value, ToolError> {
        let st = self.call("goal-state");
        let mut rels = Map::new();
        for (id, r) in &st.relations {
            let entry = rels
                .entry(id.name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let (Some(app), Value::Object(m)) = (&r.remote_app, entry) {
                m.insert(app.clone(), serde_json::json!({"status": "joined"}));
            }
        }
        Ok(serde_json::json!({"units": {st.unit.clone(): {"status": "active"}}, "relations": rels}))
    }

    fn network_get(
        &self,
        _binding: &str,
        _relation: Option<&RelationId>,
    ) -> Result<Value, ToolError> {
        drop(self.call("network-get"));
        Ok(
            serde_json::json!({"bind-addresses": [{"addresses": [{"value": "127.0.0.1"}]}], "ingress-addresses": ["127.0.0.1"]}),
        )
    }
}
