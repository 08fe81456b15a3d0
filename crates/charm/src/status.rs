//! Workload status, as `status-set` and `status-get` speak it.

use std::fmt;

/// A unit's or application's workload status with its message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Status {
    Active(String),
    Blocked(String),
    Waiting(String),
    Maintenance(String),
    /// Only ever read back (`status-get`): Juju's initial status.
    Unknown(String),
    /// Only ever read back (`status-get`): a failed hook.
    Error(String),
}

impl Status {
    pub fn active(msg: impl Into<String>) -> Self {
        Status::Active(msg.into())
    }
    pub fn blocked(msg: impl Into<String>) -> Self {
        Status::Blocked(msg.into())
    }
    pub fn waiting(msg: impl Into<String>) -> Self {
        Status::Waiting(msg.into())
    }
    pub fn maintenance(msg: impl Into<String>) -> Self {
        Status::Maintenance(msg.into())
    }

    /// The status name as Juju spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Active(_) => "active",
            Status::Blocked(_) => "blocked",
            Status::Waiting(_) => "waiting",
            Status::Maintenance(_) => "maintenance",
            Status::Unknown(_) => "unknown",
            Status::Error(_) => "error",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Status::Active(m)
            | Status::Blocked(m)
            | Status::Waiting(m)
            | Status::Maintenance(m)
            | Status::Unknown(m)
            | Status::Error(m) => m,
        }
    }

    /// Can a charm set this status with `status-set`?
    pub fn is_settable(&self) -> bool {
        !matches!(self, Status::Unknown(_) | Status::Error(_))
    }

    /// From a status name and message; unrecognised names become `Unknown`.
    pub fn from_parts(name: &str, message: &str) -> Self {
        let m = message.to_string();
        match name {
            "active" => Status::Active(m),
            "blocked" => Status::Blocked(m),
            "waiting" => Status::Waiting(m),
            "maintenance" => Status::Maintenance(m),
            "error" => Status::Error(m),
            _ => Status::Unknown(m),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message().is_empty() {
            f.write_str(self.name())
        } else {
            write!(f, "{}: {}", self.name(), self.message())
        }
    }
}
