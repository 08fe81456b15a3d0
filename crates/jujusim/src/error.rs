use std::path::PathBuf;

/// Errors of the emulated controller. `Display` gives Juju's CLI message without the
/// leading `ERROR ` (meshsim adds it, as the juju CLI does).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A user-facing error with Juju's wording (e.g. `no relations found`).
    #[error("{0}")]
    Juju(String),
    /// Something not found, with Juju's wording (e.g. `application "x" not found`).
    #[error("{0}")]
    NotFound(String),
    #[error("charm at {path}: {message}")]
    Charm { path: PathBuf, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("kubernetes: {0}")]
    Kube(String),
    #[error("state file: {0}")]
    State(String),
    #[error("hooks did not quiesce after {0} hook runs (hook loop?)")]
    NotQuiescent(usize),
}

impl Error {
    pub(crate) fn juju(msg: impl Into<String>) -> Self {
        Error::Juju(msg.into())
    }
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<kubesim::ApiError> for Error {
    fn from(e: kubesim::ApiError) -> Self {
        Error::Kube(e.to_string())
    }
}
