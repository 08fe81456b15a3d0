//! The status summary every step of a hook contributes to, and the one status it turns into.
//!
//! Precedence: blocked (the operator must act) over waiting (something else must happen first)
//! over active. Messages are short and name what to do.

use charm::Status;

/// What the steps of a hook found, turned into one unit (and application) status at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    blocked: Vec<String>,
    waiting: Vec<String>,
    active: Vec<String>,
}

impl Summary {
    pub fn new() -> Self {
        Self::default()
    }

    /// Something the operator must fix (bad data, missing CRD, bad config).
    pub fn block(&mut self, msg: impl Into<String>) {
        push_unique(&mut self.blocked, msg.into());
    }

    /// Something that will resolve itself or through another charm (waypoint not ready yet).
    pub fn wait(&mut self, msg: impl Into<String>) {
        push_unique(&mut self.waiting, msg.into());
    }

    /// A part of the active message ("3 authorization policies").
    pub fn note(&mut self, msg: impl Into<String>) {
        push_unique(&mut self.active, msg.into());
    }

    pub fn blocked(&self) -> &[String] {
        &self.blocked
    }

    pub fn waiting(&self) -> &[String] {
        &self.waiting
    }

    pub fn notes(&self) -> &[String] {
        &self.active
    }

    /// The status to set: blocked, else waiting, else active with the notes.
    pub fn status(&self) -> Status {
        if !self.blocked.is_empty() {
            Status::blocked(self.blocked.join("; "))
        } else if !self.waiting.is_empty() {
            Status::waiting(self.waiting.join("; "))
        } else {
            Status::active(self.active.join(", "))
        }
    }
}

fn push_unique(v: &mut Vec<String>, msg: String) {
    if !msg.is_empty() && !v.contains(&msg) {
        v.push(msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_wins_over_waiting_and_active() {
        let mut s = Summary::new();
        s.note("3 authorization policies");
        assert_eq!(s.status(), Status::active("3 authorization policies"));
        s.wait("waypoint not ready");
        assert_eq!(s.status(), Status::waiting("waypoint not ready"));
        s.block("refused 1 policy");
        s.block("refused 1 policy");
        assert_eq!(s.status(), Status::blocked("refused 1 policy"));
    }
}
