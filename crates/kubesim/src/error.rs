//! Errors: `ApiError` is what the API server answers (a `Status` object on the wire);
//! `Error` is for starting the server.

use serde_json::{json, Value};

/// One entry of `Status.details.causes`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cause {
    /// Machine-readable reason such as `FieldValueNotSupported` or `FieldManagerConflict`.
    pub reason: String,
    pub message: String,
    /// Field path such as `spec.action` (or `.spec.action` for SSA conflicts, as the real server writes it).
    pub field: String,
}

/// An error answered by the emulated API server, shaped like a `meta.k8s.io/v1` `Status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code} {reason})")]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    pub causes: Vec<Cause>,
    /// `Status.details` name/group/kind (filled where the real server fills them).
    pub details: Option<Box<StatusDetails>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusDetails {
    pub name: String,
    pub group: String,
    pub kind: String,
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: reason.to_string(),
            message: message.into(),
            causes: Vec::new(),
            details: None,
        }
    }

    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        let gr = qualified(group, plural);
        let mut e = ApiError::new(404, "NotFound", format!("{gr} \"{name}\" not found"));
        e.details = Some(Box::new(StatusDetails {
            name: name.to_string(),
            group: group.to_string(),
            kind: plural.to_string(),
        }));
        e
    }

    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        let gr = qualified(group, plural);
        let mut e = ApiError::new(
            409,
            "AlreadyExists",
            format!("{gr} \"{name}\" already exists"),
        );
        e.details = Some(Box::new(StatusDetails {
            name: name.to_string(),
            group: group.to_string(),
            kind: plural.to_string(),
        }));
        e
    }

    pub fn conflict(group: &str, plural: &str, name: &str, why: &str) -> Self {
        let gr = qualified(group, plural);
        let mut e = ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {gr} \"{name}\": {why}"),
        );
        e.details = Some(Box::new(StatusDetails {
            name: name.to_string(),
            group: group.to_string(),
            kind: plural.to_string(),
        }));
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    /// 422 Invalid, message built as the real server does: `Kind.group "name" is invalid: cause; cause`.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let qk = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let list: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let joined = if list.len() == 1 {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        ApiError {
            code: 422,
            reason: "Invalid".into(),
            message: format!("{qk} \"{name}\" is invalid: {joined}"),
            causes,
            details: Some(Box::new(StatusDetails {
                name: name.to_string(),
                group: group.to_string(),
                kind: kind.to_string(),
            })),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(403, "Forbidden", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        ApiError::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        ApiError::new(415, "UnsupportedMediaType", message)
    }

    /// The `Status` object as served over HTTP.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        let mut details = serde_json::Map::new();
        if let Some(d) = &self.details {
            if !d.name.is_empty() {
                details.insert("name".into(), json!(d.name));
            }
            if !d.group.is_empty() {
                details.insert("group".into(), json!(d.group));
            }
            if !d.kind.is_empty() {
                details.insert("kind".into(), json!(d.kind));
            }
        }
        if !self.causes.is_empty() {
            details.insert(
                "causes".into(),
                Value::Array(
                    self.causes
                        .iter()
                        .map(
                            |c| json!({"reason": c.reason, "message": c.message, "field": c.field}),
                        )
                        .collect(),
                ),
            );
        }
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

/// `plural.group`, or `plural` for the core group, as real error messages print it.
pub(crate) fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the server runtime: {0}")]
    Runtime(std::io::Error),
    #[error("server thread failed to report readiness")]
    Startup,
    #[error("installing CRD: {0}")]
    Crd(ApiError),
}
