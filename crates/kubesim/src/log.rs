//! Request log and fault injection (for tests and benchmarks).

use serde::{Deserialize, Serialize};

/// One HTTP request the server answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Kubernetes verb: get, list, create, update, patch, apply, delete, deletecollection,
    /// or the lower-case HTTP method for non-resource paths (discovery).
    pub verb: String,
    /// HTTP method (GET, POST, ...).
    pub method: String,
    pub path: String,
    /// Raw query string (without `?`), empty if none.
    pub query: String,
    pub status: u16,
    /// When the request arrived, RFC 3339 with microseconds, UTC.
    pub time: String,
    /// Time spent answering, in microseconds.
    pub duration_us: u64,
    pub user_agent: String,
}

/// What an injected fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer a `Status` failure with this HTTP code (reason derived from the code).
    Status(u16),
    /// Wait this many milliseconds, then handle the request normally.
    DelayMs(u64),
    /// Close the connection without answering.
    Drop,
}

/// Make the next `count` requests matching `verb` and `path` misbehave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Kubernetes verb (`patch`, `apply`, `list`, ...) or HTTP method (`PATCH`), case-insensitive;
    /// `*` matches any.
    pub verb: String,
    /// Glob over the request path: `*` matches any run of characters (including `/`).
    pub path: String,
    pub count: u32,
    pub action: FaultAction,
}

impl Fault {
    pub fn status(verb: &str, path: &str, count: u32, code: u16) -> Fault {
        Fault {
            verb: verb.into(),
            path: path.into(),
            count,
            action: FaultAction::Status(code),
        }
    }
    pub fn delay(verb: &str, path: &str, count: u32, millis: u64) -> Fault {
        Fault {
            verb: verb.into(),
            path: path.into(),
            count,
            action: FaultAction::DelayMs(millis),
        }
    }
    pub fn drop_connection(verb: &str, path: &str, count: u32) -> Fault {
        Fault {
            verb: verb.into(),
            path: path.into(),
            count,
            action: FaultAction::Drop,
        }
    }

    pub fn matches(&self, verb: &str, method: &str, path: &str) -> bool {
        let v = self.verb.as_str();
        let verb_ok = v == "*" || v.eq_ignore_ascii_case(verb) || v.eq_ignore_ascii_case(method);
        verb_ok && glob_match(&self.path, path)
    }
}

/// `*` matches any run of characters; everything else literally.
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let mut rest = s;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(idx) => rest = &rest[idx + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(
            "/apis/*/authorizationpolicies*",
            "/apis/security.istio.io/v1/namespaces/a/authorizationpolicies/x"
        ));
        assert!(glob_match("*", "/anything"));
        assert!(!glob_match("/api/v1/pods", "/api/v1/pods/x"));
        let f = Fault::status("patch", "/apis/*", 1, 500);
        assert!(f.matches("patch", "PATCH", "/apis/x"));
        assert!(Fault::status("PATCH", "*", 1, 500).matches("apply", "PATCH", "/x"));
        assert!(!f.matches("get", "GET", "/apis/x"));
    }
}
