//! The hook context: which event is being dispatched, to which unit, in which model.

use std::fmt;
use std::path::{Path, PathBuf};

/// A relation's identity: endpoint name and the integer id Juju gave it (`service-mesh:3`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelationId {
    pub name: String,
    pub id: u64,
}

impl RelationId {
    pub fn new(name: impl Into<String>, id: u64) -> Self {
        Self {
            name: name.into(),
            id,
        }
    }

    /// Parse `name:id`, as printed by `relation-ids` and set in `JUJU_RELATION_ID`.
    pub fn parse(s: &str) -> Result<Self, ContextError> {
        let (name, id) = s
            .rsplit_once(':')
            .ok_or_else(|| ContextError::BadRelationId(s.to_string()))?;
        let id = id
            .parse()
            .map_err(|_| ContextError::BadRelationId(s.to_string()))?;
        if name.is_empty() {
            return Err(ContextError::BadRelationId(s.to_string()));
        }
        Ok(Self::new(name, id))
    }
}

impl fmt::Display for RelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.id)
    }
}

/// What a relation event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationEvent {
    /// Endpoint name and id.
    pub relation: RelationId,
    /// The application at the other end (`JUJU_REMOTE_APP`), for a cross-model relation the
    /// offer's alias in this model (`remote-<hex>`).
    pub remote_app: Option<String>,
    /// The remote unit the event is about (`JUJU_REMOTE_UNIT`), if any.
    pub remote_unit: Option<String>,
    /// The unit leaving the relation (`JUJU_DEPARTING_UNIT`, relation-departed only).
    pub departing_unit: Option<String>,
}

/// The event being dispatched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Install,
    LeaderElected,
    LeaderSettingsChanged,
    ConfigChanged,
    Start,
    Stop,
    Remove,
    UpgradeCharm,
    UpdateStatus,
    RelationCreated(RelationEvent),
    RelationJoined(RelationEvent),
    RelationChanged(RelationEvent),
    RelationDeparted(RelationEvent),
    RelationBroken(RelationEvent),
    Action {
        name: String,
    },
    /// Any other hook, by its name (`pebble-ready`, storage, secrets, ...).
    Unknown(String),
}

impl Event {
    /// The relation event data, for any relation event.
    pub fn relation(&self) -> Option<&RelationEvent> {
        match self {
            Event::RelationCreated(r)
            | Event::RelationJoined(r)
            | Event::RelationChanged(r)
            | Event::RelationDeparted(r)
            | Event::RelationBroken(r) => Some(r),
            _ => None,
        }
    }

    /// The relation endpoint name, for any relation event.
    pub fn relation_name(&self) -> Option<&str> {
        self.relation().map(|r| r.relation.name.as_str())
    }

    /// Is this a relation-broken event for the endpoint `name`?
    pub fn is_broken(&self, name: &str) -> bool {
        matches!(self, Event::RelationBroken(r) if r.relation.name == name)
    }
}

/// Errors building the context from the environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    #[error("no event to dispatch: JUJU_DISPATCH_PATH is not set and the program was not run as hooks/<name> (argv[0] = {0:?})")]
    NoEvent(String),
    #[error("JUJU_DISPATCH_PATH {0:?} is neither hooks/<name> nor actions/<name>")]
    BadDispatchPath(String),
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("bad unit name {0:?} (expected <app>/<number>)")]
    BadUnitName(String),
    #[error("bad relation id {0:?} (expected <endpoint>:<number>)")]
    BadRelationId(String),
    #[error("relation hook {hook:?} without JUJU_RELATION_ID")]
    RelationWithoutId { hook: String },
}

/// Everything Juju tells a charm about the current dispatch through the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub event: Event,
    /// `hooks/<name>` or `actions/<name>`.
    pub dispatch_path: String,
    /// `app/0`.
    pub unit_name: String,
    /// `app`.
    pub app_name: String,
    pub model_name: String,
    pub model_uuid: String,
    pub charm_dir: Option<PathBuf>,
    pub juju_version: Option<String>,
}

impl Context {
    /// Read the context from the process environment and argv[0].
    pub fn from_env() -> Result<Self, ContextError> {
        let argv0 = std::env::args_os()
            .next()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::from_vars(|k| std::env::var(k).ok(), &argv0)
    }

    /// Build the context from a variable lookup and argv[0] (for tests and embedding).
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
        argv0: &str,
    ) -> Result<Self, ContextError> {
        let var = |k: &str| var(k).filter(|v| !v.is_empty());
        let dispatch_path = match var("JUJU_DISPATCH_PATH") {
            Some(p) => p,
            None => dispatch_path_from_argv0(argv0)
                .ok_or_else(|| ContextError::NoEvent(argv0.to_string()))?,
        };
        let unit_name = var("JUJU_UNIT_NAME").ok_or(ContextError::Missing("JUJU_UNIT_NAME"))?;
        let app_name = app_of_unit(&unit_name)
            .ok_or_else(|| ContextError::BadUnitName(unit_name.clone()))?
            .to_string();
        let model_name = var("JUJU_MODEL_NAME").ok_or(ContextError::Missing("JUJU_MODEL_NAME"))?;
        let model_uuid = var("JUJU_MODEL_UUID").unwrap_or_default();
        let event = parse_event(&dispatch_path, &var)?;
        Ok(Context {
            event,
            dispatch_path,
            unit_name,
            app_name,
            model_name,
            model_uuid,
            charm_dir: var("JUJU_CHARM_DIR").map(PathBuf::from),
            juju_version: var("JUJU_VERSION"),
        })
    }

    /// The unit number (`0` for `app/0`).
    pub fn unit_number(&self) -> Option<u32> {
        self.unit_name.rsplit_once('/')?.1.parse().ok()
    }

    /// The name of the current hook or action (`config-changed`, `get-url`).
    pub fn hook_name(&self) -> &str {
        self.dispatch_path
            .rsplit_once('/')
            .map(|(_, n)| n)
            .unwrap_or(&self.dispatch_path)
    }
}

/// `app/0` -> `app`.
pub fn app_of_unit(unit: &str) -> Option<&str> {
    let (app, num) = unit.rsplit_once('/')?;
    if app.is_empty() || num.parse::<u32>().is_err() {
        return None;
    }
    Some(app)
}

/// When Juju runs the binary through a `hooks/<name>` link, argv[0] is that path.
fn dispatch_path_from_argv0(argv0: &str) -> Option<String> {
    let path = Path::new(argv0);
    let name = path.file_name()?.to_str()?;
    let parent = path.parent()?.file_name()?.to_str()?;
    (parent == "hooks" && name != "dispatch").then(|| format!("hooks/{name}"))
}

fn parse_event(
    dispatch_path: &str,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Event, ContextError> {
    let (kind, name) = dispatch_path
        .split_once('/')
        .filter(|(_, n)| !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| ContextError::BadDispatchPath(dispatch_path.to_string()))?;
    match kind {
        "actions" => {
            return Ok(Event::Action {
                name: name.to_string(),
            })
        }
        "hooks" => {}
        _ => return Err(ContextError::BadDispatchPath(dispatch_path.to_string())),
    }
    let simple = match name {
        "install" => Some(Event::Install),
        "leader-elected" => Some(Event::LeaderElected),
        "leader-settings-changed" => Some(Event::LeaderSettingsChanged),
        "config-changed" => Some(Event::ConfigChanged),
        "start" => Some(Event::Start),
        "stop" => Some(Event::Stop),
        "remove" => Some(Event::Remove),
        "upgrade-charm" => Some(Event::UpgradeCharm),
        "update-status" => Some(Event::UpdateStatus),
        _ => None,
    };
    if let Some(e) = simple {
        return Ok(e);
    }
    const KINDS: [&str; 5] = ["created", "joined", "changed", "departed", "broken"];
    for kind in KINDS {
        let suffix = format!("-relation-{kind}");
        let Some(endpoint) = name.strip_suffix(&suffix) else {
            continue;
        };
        let relation = match var("JUJU_RELATION_ID") {
            Some(id) => {
                let mut rid = match RelationId::parse(&id) {
                    Ok(r) => r,
                    // Some tools set the bare number.
                    Err(e) => RelationId::new(endpoint, id.parse().map_err(|_| e)?),
                };
                rid.name = endpoint.to_string();
                rid
            }
            None => {
                return Err(ContextError::RelationWithoutId {
                    hook: name.to_string(),
                })
            }
        };
        let remote_unit = var("JUJU_REMOTE_UNIT");
        let remote_app = var("JUJU_REMOTE_APP").or_else(|| {
            remote_unit
                .as_deref()
                .and_then(app_of_unit)
                .map(String::from)
        });
        let ev = RelationEvent {
            relation,
            remote_app,
            remote_unit,
            departing_unit: var("JUJU_DEPARTING_UNIT"),
        };
        return Ok(match kind {
            "created" => Event::RelationCreated(ev),
            "joined" => Event::RelationJoined(ev),
            "changed" => Event::RelationChanged(ev),
            "departed" => Event::RelationDeparted(ev),
            _ => Event::RelationBroken(ev),
        });
    }
    Ok(Event::Unknown(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ctx(vars: &[(&str, &str)], argv0: &str) -> Result<Context, ContextError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Context::from_vars(|k| map.get(k).cloned(), argv0)
    }

    const BASE: [(&str, &str); 3] = [
        ("JUJU_UNIT_NAME", "bookinfo-details-k8s/2"),
        ("JUJU_MODEL_NAME", "bookinfo"),
        ("JUJU_MODEL_UUID", "u-u-i-d"),
    ];

    #[test]
    fn simple_hooks_from_dispatch_path() {
        for (hook, ev) in [
            ("install", Event::Install),
            ("leader-elected", Event::LeaderElected),
            ("config-changed", Event::ConfigChanged),
            ("start", Event::Start),
            ("stop", Event::Stop),
            ("remove", Event::Remove),
            ("upgrade-charm", Event::UpgradeCharm),
            ("update-status", Event::UpdateStatus),
            (
                "workload-pebble-ready",
                Event::Unknown("workload-pebble-ready".into()),
            ),
        ] {
            let mut vars = BASE.to_vec();
            let p = format!("hooks/{hook}");
            vars.push(("JUJU_DISPATCH_PATH", &p));
            let c = ctx(&vars, "/charm/dispatch").unwrap();
            assert_eq!(c.event, ev);
            assert_eq!(c.app_name, "bookinfo-details-k8s");
            assert_eq!(c.unit_number(), Some(2));
            assert_eq!(c.model_name, "bookinfo");
            assert_eq!(c.model_uuid, "u-u-i-d");
            assert_eq!(c.hook_name(), hook);
        }
    }

    #[test]
    fn relation_hooks_carry_relation_and_remote() {
        let mut vars = BASE.to_vec();
        vars.extend([
            ("JUJU_DISPATCH_PATH", "hooks/service-mesh-relation-departed"),
            ("JUJU_RELATION", "service-mesh"),
            ("JUJU_RELATION_ID", "service-mesh:7"),
            ("JUJU_REMOTE_UNIT", "istio-beacon-k8s/0"),
            ("JUJU_DEPARTING_UNIT", "istio-beacon-k8s/0"),
        ]);
        let c = ctx(&vars, "dispatch").unwrap();
        assert_eq!(
            c.event,
            Event::RelationDeparted(RelationEvent {
                relation: RelationId::new("service-mesh", 7),
                remote_app: Some("istio-beacon-k8s".into()),
                remote_unit: Some("istio-beacon-k8s/0".into()),
                departing_unit: Some("istio-beacon-k8s/0".into()),
            })
        );
        assert_eq!(c.event.relation_name(), Some("service-mesh"));
    }

    #[test]
    fn relation_hook_names_with_dashes_and_each_kind() {
        for (kind, is_broken) in [
            ("created", false),
            ("joined", false),
            ("changed", false),
            ("broken", true),
        ] {
            let mut vars = BASE.to_vec();
            let p = format!("hooks/require-cmr-mesh-relation-{kind}");
            vars.extend([
                ("JUJU_DISPATCH_PATH", p.as_str()),
                ("JUJU_RELATION_ID", "require-cmr-mesh:12"),
                ("JUJU_REMOTE_APP", "remote-0123abcd"),
            ]);
            let c = ctx(&vars, "dispatch").unwrap();
            let r = c.event.relation().unwrap();
            assert_eq!(r.relation, RelationId::new("require-cmr-mesh", 12));
            assert_eq!(r.remote_app.as_deref(), Some("remote-0123abcd"));
            assert_eq!(c.event.is_broken("require-cmr-mesh"), is_broken);
        }
    }

    #[test]
    fn actions_and_argv0_links() {
        let mut vars = BASE.to_vec();
        vars.push(("JUJU_DISPATCH_PATH", "actions/get-url"));
        assert_eq!(
            ctx(&vars, "dispatch").unwrap().event,
            Event::Action {
                name: "get-url".into()
            }
        );
        let c = ctx(&BASE, "/var/lib/juju/charm/hooks/leader-elected").unwrap();
        assert_eq!(c.event, Event::LeaderElected);
        assert_eq!(c.dispatch_path, "hooks/leader-elected");
    }

    #[test]
    fn errors_are_reported() {
        assert_eq!(
            ctx(&BASE, "/charm/dispatch"),
            Err(ContextError::NoEvent("/charm/dispatch".into()))
        );
        let mut vars = BASE.to_vec();
        vars.push(("JUJU_DISPATCH_PATH", "bogus"));
        assert!(matches!(
            ctx(&vars, "x"),
            Err(ContextError::BadDispatchPath(_))
        ));
        let vars = [
            ("JUJU_DISPATCH_PATH", "hooks/install"),
            ("JUJU_MODEL_NAME", "m"),
        ];
        assert_eq!(
            ctx(&vars, "x"),
            Err(ContextError::Missing("JUJU_UNIT_NAME"))
        );
        let vars = [
            ("JUJU_DISPATCH_PATH", "hooks/install"),
            ("JUJU_MODEL_NAME", "m"),
            ("JUJU_UNIT_NAME", "nounit"),
        ];
        assert!(matches!(ctx(&vars, "x"), Err(ContextError::BadUnitName(_))));
        let mut vars = BASE.to_vec();
        vars.push(("JUJU_DISPATCH_PATH", "hooks/db-relation-changed"));
        assert!(matches!(
            ctx(&vars, "x"),
            Err(ContextError::RelationWithoutId { .. })
        ));
    }

    #[test]
    fn relation_id_parse() {
        assert_eq!(RelationId::parse("a-b:3").unwrap().to_string(), "a-b:3");
        assert!(RelationId::parse("3").is_err());
        assert!(RelationId::parse("x:y").is_err());
    }
}
