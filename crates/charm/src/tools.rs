//! Typed client for Juju's hook tools.
//!
//! [`HookTools`] is the seam between charm logic and Juju: [`ProcessHookTools`] spawns the real
//! tools (argv and output formats as Juju's, as the Python `ops` library calls them), and
//! [`crate::testing::FakeHookTools`] keeps everything in memory for unit tests.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::config::Config;
use crate::context::RelationId;
use crate::status::Status;

/// A relation databag: string keys to string values.
pub type Bag = BTreeMap<String, String>;

/// Log levels `juju-log` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
            LogLevel::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed hook tool call. `Failed` keeps the tool's stderr so the caller can report Juju's
/// own words.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("could not run {tool}: {source}")]
    Spawn {
        tool: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{tool} {} failed ({}): {}", args.join(" "), code.map(|c| format!("exit code {c}")).unwrap_or_else(|| "killed by a signal".into()), stderr.trim())]
    Failed {
        tool: String,
        args: Vec<String>,
        code: Option<i32>,
        stderr: String,
    },
    #[error("unexpected output from {tool}: {message} (output: {output:?})")]
    Parse {
        tool: String,
        message: String,
        output: String,
    },
    #[error("invalid request to {tool}: {message}")]
    Invalid { tool: String, message: String },
}

impl ToolError {
    /// The tool's stderr, for a tool that ran and failed.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            ToolError::Failed { stderr, .. } => Some(stderr),
            _ => None,
        }
    }

    fn parse(tool: &str, message: impl fmt::Display, output: &str) -> Self {
        ToolError::Parse {
            tool: tool.to_string(),
            message: message.to_string(),
            output: output.to_string(),
        }
    }
}

/// One relation as seen from this unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub id: RelationId,
    /// The remote application (`None` while Juju does not know it yet, or for a peer relation
    /// with no peers).
    pub app: Option<String>,
    /// The remote units currently in the relation.
    pub units: Vec<String>,
}

/// Juju's hook tools, typed. Every call maps to one tool invocation.
pub trait HookTools: Send + Sync {
    /// `relation-ids --format=json ENDPOINT`.
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, ToolError>;
    /// `relation-list -r ID --format=json`: remote units.
    fn relation_list(&self, relation: &RelationId) -> Result<Vec<String>, ToolError>;
    /// `relation-list -r ID --app --format=json`: the remote application.
    fn relation_remote_app(&self, relation: &RelationId) -> Result<Option<String>, ToolError>;
    /// `relation-get -r ID - MEMBER [--app] --format=json`: a unit's or application's bag.
    fn relation_get(
        &self,
        relation: &RelationId,
        member: &str,
        app: bool,
    ) -> Result<Bag, ToolError>;
    /// `relation-set -r ID [--app] --file -`: set keys of this unit's or (leader) this
    /// application's bag; an empty value deletes the key, as in Juju.
    fn relation_set(&self, relation: &RelationId, data: &Bag, app: bool) -> Result<(), ToolError>;
    /// `relation-model-get -r ID --format=json`: the UUID of the model at the other end.
    fn relation_model_uuid(&self, relation: &RelationId) -> Result<String, ToolError>;
    /// `is-leader --format=json`.
    fn is_leader(&self) -> Result<bool, ToolError>;
    /// `config-get --format=json --all`.
    fn config_get(&self) -> Result<Config, ToolError>;
    /// `status-set [--application] STATUS MESSAGE`.
    fn status_set(&self, status: &Status, application: bool) -> Result<(), ToolError>;
    /// `status-get [--application] --include-data --format=json`.
    fn status_get(&self, application: bool) -> Result<Status, ToolError>;
    /// `application-version-set VERSION`.
    fn application_version_set(&self, version: &str) -> Result<(), ToolError>;
    /// `juju-log -l LEVEL -- MESSAGE`.
    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), ToolError>;
    /// `action-get --format=json`.
    fn action_get(&self) -> Result<serde_json::Map<String, Value>, ToolError>;
    /// `action-set KEY=VALUE...` (dotted keys nest).
    fn action_set(&self, results: &Bag) -> Result<(), ToolError>;
    /// `action-fail MESSAGE`.
    fn action_fail(&self, message: &str) -> Result<(), ToolError>;
    /// `action-log MESSAGE`.
    fn action_log(&self, message: &str) -> Result<(), ToolError>;
    /// `state-get --format=json KEY` (`None` when unset).
    fn state_get(&self, key: &str) -> Result<Option<String>, ToolError>;
    /// `state-set --file -`.
    fn state_set(&self, key: &str, value: &str) -> Result<(), ToolError>;
    /// `state-delete KEY`.
    fn state_delete(&self, key: &str) -> Result<(), ToolError>;
    /// `open-port PORT/PROTOCOL`.
    fn open_port(&self, port: u16, protocol: &str) -> Result<(), ToolError>;
    /// `close-port PORT/PROTOCOL`.
    fn close_port(&self, port: u16, protocol: &str) -> Result<(), ToolError>;
    /// `goal-state --format=json`.
    fn goal_state(&self) -> Result<Value, ToolError>;
    /// `network-get BINDING [-r ID] --format=json`.
    fn network_get(&self, binding: &str, relation: Option<&RelationId>)
        -> Result<Value, ToolError>;

    /// Every relation on `endpoint` with its remote application and units.
    fn relations(&self, endpoint: &str) -> Result<Vec<Relation>, ToolError> {
        self.relation_ids(endpoint)?
            .into_iter()
            .map(|id| {
                let units = self.relation_list(&id)?;
                let app = match self.relation_remote_app(&id)? {
                    Some(app) => Some(app),
                    None => units
                        .first()
                        .and_then(|u| crate::context::app_of_unit(u))
                        .map(String::from),
                };
                Ok(Relation { id, app, units })
            })
            .collect()
    }
}

/// The real hook tools, spawned as processes (found on `PATH`, where Juju puts them, or in an
/// explicit directory).
#[derive(Debug, Clone, Default)]
pub struct ProcessHookTools {
    tool_dir: Option<PathBuf>,
}

impl ProcessHookTools {
    /// Tools from `PATH`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tools from `dir` (each tool is `dir/<tool>`).
    pub fn with_tool_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            tool_dir: Some(dir.into()),
        }
    }

    /// Run `tool args...`, feeding `stdin`; the tool's stdout on success.
    pub fn run(
        &self,
        tool: &str,
        args: &[String],
        stdin: Option<&[u8]>,
    ) -> Result<String, ToolError> {
        let program = match &self.tool_dir {
            Some(dir) => dir.join(tool),
            None => PathBuf::from(tool),
        };
        let mut cmd = Command::new(&program);
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawn_err = |source| ToolError::Spawn {
            tool: tool.to_string(),
            source,
        };
        let mut child = cmd.spawn().map_err(spawn_err)?;
        // Feed stdin from a thread so a tool that writes before reading cannot deadlock us.
        let writer = match (stdin, child.stdin.take()) {
            (Some(data), Some(mut pipe)) => {
                let data = data.to_vec();
                Some(std::thread::spawn(move || pipe.write_all(&data)))
            }
            _ => None,
        };
        let out = child.wait_with_output().map_err(spawn_err)?;
        if let Some(w) = writer {
            // A tool that exits without reading all input gives a broken pipe; its exit status
            // below is what matters.
            let _ = w.join();
        }
        if !out.status.success() {
            return Err(ToolError::Failed {
                tool: tool.to_string(),
                args: args.to_vec(),
                code: out.status.code(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        String::from_utf8(out.stdout).map_err(|e| ToolError::parse(tool, e, ""))
    }

    fn run_json(&self, tool: &str, args: &[String]) -> Result<Value, ToolError> {
        let out = self.run(tool, args, None)?;
        let trimmed = out.trim();
        if trimmed.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(trimmed).map_err(|e| ToolError::parse(tool, e, &out))
    }
}

fn s(v: impl Into<String>) -> String {
    v.into()
}

fn json_bag(tool: &str, v: Value) -> Result<Bag, ToolError> {
    match v {
        Value::Null => Ok(Bag::new()),
        Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                other => Err(ToolError::parse(
                    tool,
                    format!("value of {k:?} is not a string"),
                    &other.to_string(),
                )),
            })
            .collect(),
        other => Err(ToolError::parse(
            tool,
            "expected a JSON object",
            &other.to_string(),
        )),
    }
}

fn json_strings(tool: &str, v: Value) -> Result<Vec<String>, ToolError> {
    match v {
        Value::Null => Ok(vec![]),
        Value::Array(a) => a
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(ToolError::parse(
                    tool,
                    "expected strings",
                    &other.to_string(),
                )),
            })
            .collect(),
        other => Err(ToolError::parse(
            tool,
            "expected a JSON list",
            &other.to_string(),
        )),
    }
}

impl HookTools for ProcessHookTools {
    fn relation_ids(&self, endpoint: &str) -> Result<Vec<RelationId>, ToolError> {
        let v = self.run_json("relation-ids", &[s("--format=json"), s(endpoint)])?;
        json_strings("relation-ids", v)?
            .into_iter()
            .map(|id| RelationId::parse(&id).map_err(|e| ToolError::parse("relation-ids", e, &id)))
            .collect()
    }

    fn relation_list(&self, relation: &RelationId) -> Result<Vec<String>, ToolError> {
        let v = self.run_json(
            "relation-list",
            &[s("-r"), relation.id.to_string(), s("--format=json")],
        )?;
        json_strings("relation-list", v)
    }

    fn relation_remote_app(&self, relation: &RelationId) -> Result<Option<String>, ToolError> {
        let v = self.run_json(
            "relation-list",
            &[
                s("-r"),
                relation.id.to_string(),
                s("--app"),
                s("--format=json"),
            ],
        )?;
        match v {
            Value::Null => Ok(None),
            Value::String(a) if a.is_empty() => Ok(None),
            Value::String(a) => Ok(Some(a)),
            other => Err(ToolError::parse(
                "relation-list",
                "expected the application name",
                &other.to_string(),
            )),
        }
    }

    fn relation_get(
        &self,
        relation: &RelationId,
        member: &str,
        app: bool,
    ) -> Result<Bag, ToolError> {
        let mut args = vec![s("-r"), relation.id.to_string(), s("-"), s(member)];
        if app {
            args.push(s("--app"));
        }
        args.push(s("--format=json"));
        let v = self.run_json("relation-get", &args)?;
        json_bag("relation-get", v)
    }

    fn relation_set(&self, relation: &RelationId, data: &Bag, app: bool) -> Result<(), ToolError> {
        let mut args = vec![s("-r"), relation.id.to_string()];
        if app {
            args.push(s("--app"));
        }
        args.extend([s("--file"), s("-")]);
        // JSON is YAML: real Juju's YAML parser and simpler ones both read it, and it keeps
        // values that look like numbers or booleans strings.
        let body = serde_json::to_vec(data).map_err(|e| ToolError::parse("relation-set", e, ""))?;
        self.run("relation-set", &args, Some(&body)).map(drop)
    }

    fn relation_model_uuid(&self, relation: &RelationId) -> Result<String, ToolError> {
        let v = self.run_json(
            "relation-model-get",
            &[s("-r"), relation.id.to_string(), s("--format=json")],
        )?;
        v.get("uuid")
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| ToolError::parse("relation-model-get", "no uuid", &v.to_string()))
    }

    fn is_leader(&self) -> Result<bool, ToolError> {
        match self.run_json("is-leader", &[s("--format=json")])? {
            Value::Bool(b) => Ok(b),
            other => Err(ToolError::parse(
                "is-leader",
                "expected true or false",
                &other.to_string(),
            )),
        }
    }

    fn config_get(&self) -> Result<Config, ToolError> {
        match self.run_json("config-get", &[s("--format=json"), s("--all")])? {
            Value::Null => Ok(Config::default()),
            Value::Object(m) => Ok(Config::new(m)),
            other => Err(ToolError::parse(
                "config-get",
                "expected a JSON object",
                &other.to_string(),
            )),
        }
    }

    fn status_set(&self, status: &Status, application: bool) -> Result<(), ToolError> {
        if !status.is_settable() {
            return Err(ToolError::Invalid {
                tool: s("status-set"),
                message: format!("a charm cannot set status {:?}", status.name()),
            });
        }
        let mut args = vec![];
        if application {
            args.push(s("--application"));
        }
        args.extend([s(status.name()), s(status.message())]);
        self.run("status-set", &args, None).map(drop)
    }

    fn status_get(&self, application: bool) -> Result<Status, ToolError> {
        let mut args = vec![];
        if application {
            args.push(s("--application"));
        }
        args.extend([s("--include-data"), s("--format=json")]);
        let v = self.run_json("status-get", &args)?;
        // The application form nests the status under "application-status".
        let inner = v.get("application-status").unwrap_or(&v);
        let name = inner
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let message = inner.get("message").and_then(Value::as_str).unwrap_or("");
        Ok(Status::from_parts(name, message))
    }

    fn application_version_set(&self, version: &str) -> Result<(), ToolError> {
        self.run("application-version-set", &[s(version)], None)
            .map(drop)
    }

    fn juju_log(&self, level: LogLevel, message: &str) -> Result<(), ToolError> {
        let mut args = vec![s("-l"), s(level.as_str())];
        // Only a message that looks like a flag needs the separator.
        if message.starts_with('-') {
            args.push(s("--"));
        }
        args.push(s(message));
        self.run("juju-log", &args, None).map(drop)
    }

    fn action_get(&self) -> Result<serde_json::Map<String, Value>, ToolError> {
        match self.run_json("action-get", &[s("--format=json")])? {
            Value::Null => Ok(serde_json::Map::new()),
            Value::Object(m) => Ok(m),
            other => Err(ToolError::parse(
                "action-get",
                "expected a JSON object",
                &other.to_string(),
            )),
        }
    }

    fn action_set(&self, results: &Bag) -> Result<(), ToolError> {
        if results.is_empty() {
            return Ok(());
        }
        let args: Vec<String> = results.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.run("action-set", &args, None).map(drop)
    }

    fn action_fail(&self, message: &str) -> Result<(), ToolError> {
        self.run("action-fail", &[s(message)], None).map(drop)
    }

    fn action_log(&self, message: &str) -> Result<(), ToolError> {
        self.run("action-log", &[s(message)], None).map(drop)
    }

    fn state_get(&self, key: &str) -> Result<Option<String>, ToolError> {
        match self.run("state-get", &[s("--format=json"), s(key)], None) {
            Ok(out) => match serde_json::from_str::<Value>(out.trim()) {
                Ok(Value::String(v)) => Ok(Some(v)),
                Ok(Value::Null) => Ok(None),
                Ok(other) => Ok(Some(other.to_string())),
                Err(_) if out.trim().is_empty() => Ok(None),
                Err(e) => Err(ToolError::parse("state-get", e, &out)),
            },
            // Juju answers a missing key with an error.
            Err(ToolError::Failed { stderr, .. }) if stderr.contains("not found") => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn state_set(&self, key: &str, value: &str) -> Result<(), ToolError> {
        let mut m = Bag::new();
        m.insert(key.to_string(), value.to_string());
        let body = serde_json::to_vec(&m).map_err(|e| ToolError::parse("state-set", e, ""))?;
        self.run("state-set", &[s("--file"), s("-")], Some(&body))
            .map(drop)
    }

    fn state_delete(&self, key: &str) -> Result<(), ToolError> {
        self.run("state-delete", &[s(key)], None).map(drop)
    }

    fn open_port(&self, port: u16, protocol: &str) -> Result<(), ToolError> {
        self.run("open-port", &[format!("{port}/{protocol}")], None)
            .map(drop)
    }

    fn close_port(&self, port: u16, protocol: &str) -> Result<(), ToolError> {
        self.run("close-port", &[format!("{port}/{protocol}")], None)
            .map(drop)
    }

    fn goal_state(&self) -> Result<Value, ToolError> {
        self.run_json("goal-state", &[s("--format=json")])
    }

    fn network_get(
        &self,
        binding: &str,
        relation: Option<&RelationId>,
    ) -> Result<Value, ToolError> {
        let mut args = vec![s(binding)];
        if let Some(r) = relation {
            args.extend([s("-r"), r.id.to_string()]);
        }
        args.push(s("--format=json"));
        self.run_json("network-get", &args)
    }
}
