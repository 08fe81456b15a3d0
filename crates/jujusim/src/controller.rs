//! The emulated controller: models, applications, units, relations, offers; the hook
//! queue and scheduler; running charm processes; the agent socket; Kubernetes effects.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::charm::{self, parse_config_value, Role};
use crate::client::{ToolRequest, ToolResponse, TOOL_NAMES};
use crate::resolve::{self, Side};
use crate::state::*;
use crate::status::{self, ModelStatus};
use crate::{Error, Result, JUJU_VERSION};

/// Relation id as seen from one model.
pub type RelationId = u64;

/// How to build a [`Controller`].
pub struct ControllerOptions {
    pub kube: Arc<kubesim::Server>,
    /// The multi-call hook-tool binary (see [`crate::hook_tool_main`]).
    pub hook_tool_exe: PathBuf,
    /// Charm copies, tools dir, kubeconfigs and the agent socket live here.
    pub work_dir: PathBuf,
}

/// `juju deploy` arguments.
#[derive(Debug, Clone)]
pub struct DeployArgs {
    /// A charm directory or a `.charm` zip.
    pub charm: PathBuf,
    pub app: Option<String>,
    pub trust: bool,
    pub config: BTreeMap<String, String>,
    pub units: u32,
}

impl DeployArgs {
    pub fn new(charm: impl Into<PathBuf>) -> Self {
        DeployArgs {
            charm: charm.into(),
            app: None,
            trust: false,
            config: BTreeMap::new(),
            units: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    /// `completed` or `failed`.
    pub status: String,
    /// What the action set with `action-set` (nested by dotted keys).
    pub results: Value,
    /// `action-fail` message, or `exit status N` when the process failed.
    pub message: String,
    /// `action-log` lines.
    pub log: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// One hook (or action) run, for `juju show-status-log`-like views and tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookRun {
    pub model: String,
    pub unit: String,
    pub hook: String,
    /// Relation id as seen from the unit's model.
    pub relation_id: Option<u64>,
    pub remote_unit: Option<String>,
    pub remote_app: Option<String>,
    pub exit_code: i32,
    pub duration_ms: u64,
    pub started: String,
    pub stdout: String,
    pub stderr: String,
}

/// One `juju debug-log` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub model: String,
    /// `unit-<app>-<n>`.
    pub entity: String,
    pub timestamp: String,
    pub level: String,
    pub module: String,
    pub message: String,
}

impl LogLine {
    /// As `juju debug-log` prints it: `unit-app-0: 15:40:00 INFO unit.app/0.juju-log msg`.
    pub fn format(&self) -> String {
        let time = self.timestamp.get(11..19).unwrap_or(&self.timestamp);
        format!(
            "{}: {} {} {} {}",
            self.entity, time, self.level, self.module, self.message
        )
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Staged {
    pub unit_bags: BTreeMap<u64, Bag>,
    pub app_bags: BTreeMap<u64, Bag>,
    pub state: Option<Bag>,
    pub ports: Option<BTreeSet<PortRange>>,
    pub leader_settings: Option<Bag>,
}

#[derive(Debug, Clone)]
pub(crate) struct ActionCtx {
    pub params: Value,
    pub results: Value,
    pub failed: Option<String>,
    pub log: Vec<String>,
}

/// What a running hook (or exec/action) may see and change.
#[derive(Debug, Clone)]
pub(crate) struct HookCtx {
    pub model: String,
    pub app: String,
    pub unit: u32,
    pub event: Option<Event>,
    pub action: Option<ActionCtx>,
    pub staged: Staged,
}

impl HookCtx {
    pub fn unit_name(&self) -> String {
        format!("{}/{}", self.app, self.unit)
    }
}

pub(crate) struct Inner {
    pub state: State,
    pub contexts: HashMap<String, HookCtx>,
    pub kube: Arc<kubesim::Server>,
    pub store: kubesim::Store,
    pub work_dir: PathBuf,
    pub tools_dir: PathBuf,
    pub socket: PathBuf,
    pub ns_tokens: HashMap<String, String>,
    pub hook_timeout: Duration,
}

/// A hook still running after this is killed and counts as failed (exit code 124);
/// Juju has no such limit, but a simulator must not hang.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs a child to completion (or kills it after `timeout`): (exit code, stdout, stderr).
fn run_with_timeout(mut cmd: Command, timeout: Duration) -> std::io::Result<(i32, String, String)> {
    use std::io::Read;
    let mut child = cmd.spawn()?;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    // Readers report through channels so that a killed hook whose own children still
    // hold the pipes open cannot block us.
    let (tx_out, rx_out) = std::sync::mpsc::channel();
    let (tx_err, rx_err) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut b);
        }
        let _ = tx_out.send(b);
    });
    std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut b);
        }
        let _ = tx_err.send(b);
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    // Once the hook process is gone its output is in the pipe buffers; anything still
    // holding the pipes open (a background child) is not waited for long.
    let wait = Duration::from_secs(if timed_out { 0 } else { 2 });
    let stdout =
        String::from_utf8_lossy(&rx_out.recv_timeout(wait).unwrap_or_default()).into_owned();
    let mut stderr =
        String::from_utf8_lossy(&rx_err.recv_timeout(wait).unwrap_or_default()).into_owned();
    let code = if timed_out {
        stderr.push_str(&format!("hook killed after {}s\n", timeout.as_secs()));
        124
    } else {
        status.code().unwrap_or(-1)
    };
    Ok((code, stdout, stderr))
}

/// Max hook runs in one `run_until_idle` before declaring a hook loop.
const MAX_HOOK_RUNS: usize = 20_000;

/// The emulated controller. All methods are synchronous; hooks run one at a time.
pub struct Controller {
    inner: Arc<Mutex<Inner>>,
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<()>>,
    socket: PathBuf,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
        && !s.contains("--")
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = UnixStream::connect(&self.socket);
        if let Some(t) = self.server.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn serve(inner: Arc<Mutex<Inner>>, listener: UnixListener, stop: Arc<AtomicBool>) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let mut reader = BufReader::new(match stream.try_clone() {
            Ok(s) => s,
            Err(_) => continue,
        });
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
            continue;
        }
        let resp = match serde_json::from_str::<ToolRequest>(&line) {
            Ok(req) => {
                let mut g = lock(&inner);
                crate::tools::run_tool(&mut g, &req)
            }
            Err(e) => ToolResponse {
                stdout: String::new(),
                stderr: format!("ERROR bad request: {e}\n"),
                code: 1,
            },
        };
        let mut out = serde_json::to_string(&resp).unwrap_or_default();
        out.push('\n');
        let mut w = stream;
        let _ = w.write_all(out.as_bytes());
    }
}

impl Controller {
    pub fn new(opts: ControllerOptions) -> Result<Self> {
        let work_dir = opts.work_dir.clone();
        std::fs::create_dir_all(&work_dir)
            .map_err(|e| Error::io(work_dir.display().to_string(), e))?;
        let tools_dir = work_dir.join("tools");
        std::fs::create_dir_all(&tools_dir)
            .map_err(|e| Error::io(tools_dir.display().to_string(), e))?;
        let exe = std::fs::canonicalize(&opts.hook_tool_exe)
            .map_err(|e| Error::io(opts.hook_tool_exe.display().to_string(), e))?;
        for name in TOOL_NAMES {
            let link = tools_dir.join(name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&exe, &link)
                .map_err(|e| Error::io(link.display().to_string(), e))?;
        }
        // Unix socket paths are limited to ~108 bytes: fall back to the temp dir.
        let mut socket = work_dir.join("agent.sock");
        if socket.as_os_str().len() > 100 {
            socket = std::env::temp_dir()
                .join(format!("jujusim-{}.sock", uuid::Uuid::new_v4().simple()));
        }
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket)
            .map_err(|e| Error::io(format!("bind {}", socket.display()), e))?;
        let store = opts.kube.store();
        let inner = Arc::new(Mutex::new(Inner {
            state: State {
                controller_uuid: uuid::Uuid::new_v4().to_string(),
                ..State::default()
            },
            contexts: HashMap::new(),
            kube: opts.kube.clone(),
            store,
            work_dir,
            tools_dir,
            socket: socket.clone(),
            ns_tokens: HashMap::new(),
            hook_timeout: DEFAULT_HOOK_TIMEOUT,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let server = {
            let inner = inner.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("jujusim-agent".into())
                .spawn(move || serve(inner, listener, stop))
                .map_err(|e| Error::io("spawn agent thread", e))?
        };
        Ok(Controller {
            inner,
            stop,
            server: Some(server),
            socket,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Changes the hook timeout (default [`DEFAULT_HOOK_TIMEOUT`]).
    pub fn set_hook_timeout(&self, timeout: Duration) {
        self.lock().hook_timeout = timeout;
    }

    /// Path of the agent socket (`JUJU_AGENT_SOCKET_ADDRESS` in hooks).
    pub fn socket_path(&self) -> PathBuf {
        self.socket.clone()
    }

    // ---------------- models ----------------

    pub fn add_model(&self, name: &str) -> Result<()> {
        let mut g = self.lock();
        if !valid_name(name) {
            return Err(Error::juju(format!("\"{name}\" is not a valid name: model names may only contain lowercase letters, digits and hyphens")));
        }
        if g.state.models.contains_key(name) {
            return Err(Error::juju(format!(
                "failed to create new model: model \"{name}\" for admin already exists"
            )));
        }
        g.kube_namespace(name)?;
        let index = g.state.next_model_index;
        g.state.next_model_index += 1;
        g.kube_modeloperator(name, index)?;
        g.state.models.insert(
            name.to_string(),
            Model {
                name: name.to_string(),
                uuid: uuid::Uuid::new_v4().to_string(),
                index,
                apps: BTreeMap::new(),
                saas: BTreeMap::new(),
                offers: BTreeMap::new(),
                next_relation_id: 0,
                log: Vec::new(),
            },
        );
        Ok(())
    }

    pub fn models(&self) -> Vec<String> {
        self.lock().state.models.keys().cloned().collect()
    }

    /// The model's uuid (what `relation-model-get` shows to the other side).
    pub fn model_uuid(&self, model: &str) -> Result<String> {
        let g = self.lock();
        Ok(g.model(model)?.uuid.clone())
    }

    /// Removes every application (running their teardown hooks), cross-model relations
    /// touching the model, then the model and its namespace.
    pub fn destroy_model(&self, name: &str) -> Result<()> {
        {
            let mut g = self.lock();
            g.model(name)?;
            let uids: Vec<u64> = g
                .state
                .relations
                .values()
                .filter(|r| r.ids.contains_key(name) && !r.dying)
                .map(|r| r.uid)
                .collect();
            for uid in uids {
                g.remove_relation_uid(uid);
            }
            let apps: Vec<String> = g.model(name)?.apps.keys().cloned().collect();
            for app in apps {
                g.remove_app(name, &app);
            }
        }
        // Teardown hooks get one chance; whatever is left is forced away.
        self.run_until_idle()?;
        let mut g = self.lock();
        let apps: Vec<String> = g.model(name)?.apps.keys().cloned().collect();
        for app in apps {
            g.delete_app(name, &app);
        }
        let uids: Vec<u64> = g
            .state
            .relations
            .values()
            .filter(|r| r.ids.contains_key(name))
            .map(|r| r.uid)
            .collect();
        for uid in uids {
            g.state.relations.remove(&uid);
        }
        for m in g.state.models.values_mut() {
            m.saas.retain(|_, s| s.offer_model != name);
        }
        g.state.models.remove(name);
        for (v, k, n) in [
            ("apps/v1", "Deployment", "modeloperator"),
            ("v1", "Pod", "modeloperator-0"),
            ("v1", "Service", "modeloperator"),
            ("v1", "ServiceAccount", "modeloperator"),
        ] {
            let _ = g.store.delete(v, k, Some(name), n);
        }
        match g.store.delete("v1", "Namespace", None, name) {
            Ok(()) => {}
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    // ---------------- applications ----------------

    pub fn deploy(&self, model: &str, args: DeployArgs) -> Result<String> {
        let mut g = self.lock();
        g.model(model)?;
        let scratch = g
            .work_dir
            .join("scratch")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let meta = charm::inspect(&args.charm, &scratch)?;
        let _ = std::fs::remove_dir_all(&scratch);
        let name = args.app.clone().unwrap_or_else(|| meta.name.clone());
        if !valid_name(&name) {
            return Err(Error::juju(format!("invalid application name \"{name}\"")));
        }
        let m = g.model(model)?;
        if m.apps.contains_key(&name) || m.saas.contains_key(&name) {
            return Err(Error::juju(format!(
                "cannot add application \"{name}\": application already exists"
            )));
        }
        let mut config = BTreeMap::new();
        for (k, v) in &args.config {
            let opt = meta
                .config
                .get(k)
                .ok_or_else(|| Error::juju(format!("unknown option \"{k}\"")))?;
            config.insert(k.clone(), parse_config_value(k, opt, v)?);
        }
        let charm_source = std::fs::canonicalize(&args.charm)
            .map_err(|e| Error::io(args.charm.display().to_string(), e))?;
        let peers: Vec<_> = meta
            .endpoints
            .iter()
            .filter(|e| e.role == Role::Peer)
            .cloned()
            .collect();
        let app = Application {
            name: name.clone(),
            charm_source,
            meta,
            charm_rev: 0,
            config,
            trust: args.trust,
            units: BTreeMap::new(),
            next_unit: 0,
            leader: None,
            status: None,
            leader_settings: Bag::new(),
            version: String::new(),
            dying: false,
        };
        g.model_mut(model)?.apps.insert(name.clone(), app);
        g.kube_app(model, &name)?;
        for p in peers {
            let uid = g.new_relation(
                vec![RelEndpoint {
                    model: model.into(),
                    app: name.clone(),
                    name: p.name.clone(),
                    role: Role::Peer,
                    interface: p.interface.clone(),
                }],
                None,
            )?;
            let _ = uid;
        }
        for _ in 0..args.units {
            g.add_unit_internal(model, &name)?;
        }
        Ok(name)
    }

    pub fn remove_application(&self, model: &str, app: &str) -> Result<()> {
        let mut g = self.lock();
        g.app(model, app)?;
        g.remove_app(model, app);
        Ok(())
    }

    pub fn add_unit(&self, model: &str, app: &str, n: u32) -> Result<Vec<String>> {
        let mut g = self.lock();
        g.app(model, app)?;
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(g.add_unit_internal(model, app)?);
        }
        Ok(out)
    }

    /// `juju remove-unit app/n`.
    pub fn remove_unit(&self, model: &str, unit: &str) -> Result<()> {
        let mut g = self.lock();
        let (app, n) = parse_unit_name(unit)?;
        let a = g.app(model, &app)?;
        if a.units.get(&n).is_none_or(|u| u.dying) {
            return Err(Error::NotFound(format!("unit \"{unit}\" not found")));
        }
        g.remove_unit_internal(model, &app, n);
        Ok(())
    }

    /// Moves leadership to `unit` (`app/n`), as Juju does when the leader's lease lapses (an
    /// agent restart, a network partition): the old leader simply stops being leader (Juju runs
    /// no hook for losing it; `is-leader` answers false from now on) and the new one gets
    /// `leader-elected`. Moving it to the current leader changes nothing.
    pub fn move_leadership(&self, model: &str, unit: &str) -> Result<()> {
        let mut g = self.lock();
        let (app, n) = parse_unit_name(unit)?;
        let a = g.app_mut(model, &app)?;
        if a.units.get(&n).is_none_or(|u| u.dying) {
            return Err(Error::NotFound(format!("unit \"{unit}\" not found")));
        }
        if a.leader == Some(n) {
            return Ok(());
        }
        a.leader = Some(n);
        g.queue(
            &format!("{model}:{app}/{n}"),
            Event::simple(EventKind::LeaderElected),
        );
        Ok(())
    }

    /// `juju scale-application`: adds units or removes the highest-numbered ones.
    pub fn scale(&self, model: &str, app: &str, n: u32) -> Result<()> {
        let mut g = self.lock();
        let alive: Vec<u32> = g
            .app(model, app)?
            .units
            .values()
            .filter(|u| !u.dying)
            .map(|u| u.number)
            .collect();
        let have = alive.len() as u32;
        if n > have {
            for _ in have..n {
                g.add_unit_internal(model, app)?;
            }
        } else {
            for num in alive.iter().rev().take((have - n) as usize) {
                g.remove_unit_internal(model, app, *num);
            }
        }
        Ok(())
    }

    /// `juju config app k=v ...` (typed by the charm's config; `config-changed` follows a change).
    pub fn set_config(&self, model: &str, app: &str, kv: &BTreeMap<String, String>) -> Result<()> {
        let mut g = self.lock();
        let meta = g.app(model, app)?.meta.clone();
        let mut parsed = Vec::new();
        for (k, v) in kv {
            let opt = meta
                .config
                .get(k)
                .ok_or_else(|| Error::juju(format!("unknown option \"{k}\"")))?;
            parsed.push((k.clone(), parse_config_value(k, opt, v)?));
        }
        let a = g.app_mut(model, app)?;
        let mut changed = false;
        for (k, v) in parsed {
            if a.config.get(&k) != Some(&v) {
                a.config.insert(k, v);
                changed = true;
            }
        }
        if changed {
            g.queue_app(model, app, Event::simple(EventKind::ConfigChanged));
        }
        Ok(())
    }

    /// `juju config app --reset k`.
    pub fn reset_config(&self, model: &str, app: &str, keys: &[String]) -> Result<()> {
        let mut g = self.lock();
        let a = g.app_mut(model, app)?;
        let mut changed = false;
        for k in keys {
            changed |= a.config.remove(k).is_some();
        }
        if changed {
            g.queue_app(model, app, Event::simple(EventKind::ConfigChanged));
        }
        Ok(())
    }

    /// Effective config (defaults applied; unset options without default are omitted).
    pub fn get_config(&self, model: &str, app: &str) -> Result<BTreeMap<String, Value>> {
        let g = self.lock();
        let a = g.app(model, app)?;
        let mut out = BTreeMap::new();
        for (k, opt) in &a.meta.config {
            if let Some(v) = a.config.get(k).cloned().or_else(|| opt.default.clone()) {
                out.insert(k.clone(), v);
            }
        }
        Ok(out)
    }

    /// `juju trust app [--remove]`: swaps the kubeconfig's credentials; `config-changed` follows.
    pub fn trust(&self, model: &str, app: &str, trusted: bool) -> Result<()> {
        let mut g = self.lock();
        let a = g.app_mut(model, app)?;
        if a.trust != trusted {
            a.trust = trusted;
            g.queue_app(model, app, Event::simple(EventKind::ConfigChanged));
        }
        Ok(())
    }

    /// `juju refresh app --path charm`: new charm copy per unit, then upgrade-charm + config-changed.
    pub fn refresh(&self, model: &str, app: &str, charm_path: &Path) -> Result<()> {
        let mut g = self.lock();
        let scratch = g
            .work_dir
            .join("scratch")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let meta = charm::inspect(charm_path, &scratch)?;
        let _ = std::fs::remove_dir_all(&scratch);
        let src = std::fs::canonicalize(charm_path)
            .map_err(|e| Error::io(charm_path.display().to_string(), e))?;
        let a = g.app_mut(model, app)?;
        let containers_changed = a.meta.containers != meta.containers;
        a.meta = meta;
        a.charm_source = src.clone();
        a.charm_rev += 1;
        let dirs: Vec<PathBuf> = a.units.values().map(|u| u.charm_dir.clone()).collect();
        for d in dirs {
            charm::materialise(&src, &d)?;
        }
        if containers_changed {
            // New workload containers: the StatefulSet's pods are replaced with the new spec.
            let pods: Vec<(u32, String)> = g
                .app(model, app)?
                .units
                .values()
                .filter(|u| !u.dying)
                .map(|u| (u.number, u.ip.clone()))
                .collect();
            g.kube_scale(model, app)?;
            for (n, ip) in pods {
                g.kube_pod(model, app, n, &ip)?;
            }
        }
        g.queue_app(model, app, Event::simple(EventKind::UpgradeCharm));
        g.queue_app(model, app, Event::simple(EventKind::ConfigChanged));
        Ok(())
    }

    // ---------------- relations ----------------

    /// `juju integrate a b` where each is "app" or "app:endpoint" (an app may be a saas).
    pub fn integrate(&self, model: &str, a: &str, b: &str) -> Result<RelationId> {
        let mut g = self.lock();
        let ((ea, ma, sa), (eb, mb, sb)) = g.infer(model, a, b)?;
        // Already related?
        let want = |r: &Relation| {
            let has = |m: &str, app: &str, ep: &str| {
                r.endpoints
                    .iter()
                    .any(|e| e.model == m && e.app == app && e.name == ep)
            };
            !r.dying && has(&ma.0, &ma.1, &ea.name) && has(&mb.0, &mb.1, &eb.name)
        };
        let keyshow = |x: &(String, String, Option<String>), ep: &str| {
            format!("{}:{}", x.2.clone().unwrap_or_else(|| x.1.clone()), ep)
        };
        let (req, prov) = if ea.role == Role::Requirer {
            (keyshow(&ma, &ea.name), keyshow(&mb, &eb.name))
        } else {
            (keyshow(&mb, &eb.name), keyshow(&ma, &ea.name))
        };
        let key = format!("{req} {prov}");
        if g.state.relations.values().any(want) {
            // state.AddRelation's message; the CLI appends the error code in parentheses.
            return Err(Error::juju(format!(
                "cannot add relation \"{key}\": relation {key} (already exists)"
            )));
        }
        for (side, ep) in [(&ma, &ea), (&mb, &eb)] {
            if let Some(limit) = ep.limit {
                let count = g
                    .state
                    .relations
                    .values()
                    .filter(|r| {
                        !r.dying
                            && r.endpoints
                                .iter()
                                .any(|e| e.model == side.0 && e.app == side.1 && e.name == ep.name)
                    })
                    .count();
                if count as u32 >= limit {
                    return Err(Error::juju(format!(
                        "cannot add relation \"{key}\": establishing a new relation for {}:{} would exceed its maximum relation limit of {limit} (quota limit exceeded)",
                        side.2.clone().unwrap_or_else(|| side.1.clone()), ep.name
                    )));
                }
            }
        }
        let mk = |side: &(String, String, Option<String>), ep: &charm::EndpointSpec| RelEndpoint {
            model: side.0.clone(),
            app: side.1.clone(),
            name: ep.name.clone(),
            role: ep.role,
            interface: ep.interface.clone(),
        };
        // Cross-model: endpoint 0 is the consumer side, 1 the offering side.
        let (endpoints, cmr) = match (&sa, &sb) {
            (None, None) => (vec![mk(&ma, &ea), mk(&mb, &eb)], None),
            (Some(s), None) | (None, Some(s)) => {
                let (cons, cons_ep, off, off_ep) = if sa.is_some() {
                    (&mb, &eb, &ma, &ea)
                } else {
                    (&ma, &ea, &mb, &eb)
                };
                let tkey = format!("{}:{}", cons.0, cons.1);
                let token = g
                    .state
                    .remote_tokens
                    .entry(tkey)
                    .or_insert_with(|| uuid::Uuid::new_v4().simple().to_string())
                    .clone();
                (
                    vec![mk(cons, cons_ep), mk(off, off_ep)],
                    Some(CmrLink {
                        offer_model: s.offer_model.clone(),
                        offer_name: s.offer_name.clone(),
                        consumer_model: model.to_string(),
                        saas_name: s.name.clone(),
                        token,
                    }),
                )
            }
            (Some(_), Some(_)) => return Err(Error::juju("no relations found")),
        };
        let uid = g.new_relation(endpoints, cmr)?;
        let id = g
            .state
            .relations
            .get(&uid)
            .and_then(|r| r.ids.get(model).copied());
        id.ok_or_else(|| Error::juju("relation not created"))
    }

    /// `juju remove-relation a b`.
    pub fn remove_relation(&self, model: &str, a: &str, b: &str) -> Result<()> {
        let mut g = self.lock();
        let found = g.find_relation(model, a, b)?;
        g.remove_relation_uid(found);
        Ok(())
    }

    /// `juju remove-relation <id>`.
    pub fn remove_relation_id(&self, model: &str, id: RelationId) -> Result<()> {
        let mut g = self.lock();
        let uid = g
            .state
            .relations
            .values()
            .find(|r| r.ids.get(model) == Some(&id) && !r.dying && !r.is_peer())
            .map(|r| r.uid)
            .ok_or_else(|| Error::NotFound(format!("relation {id} not found")))?;
        g.remove_relation_uid(uid);
        Ok(())
    }

    /// `juju offer app:ep1,ep2 [name]`; returns the offer name.
    pub fn offer(&self, model: &str, spec: &str, name: Option<&str>) -> Result<String> {
        let mut g = self.lock();
        let (app, eps) = spec.split_once(':').ok_or_else(|| {
            Error::juju(format!(
                "endpoints must conform to format \"<application-name>:<endpoint-name>[,...]\", got \"{spec}\""
            ))
        })?;
        let a = g.app(model, app)?;
        let endpoints: Vec<String> = eps.split(',').map(|s| s.trim().to_string()).collect();
        for ep in &endpoints {
            match a.meta.endpoint(ep) {
                Some(e) if e.role != Role::Peer => {}
                _ => {
                    return Err(Error::juju(format!(
                        "cannot add application offer \"{}\": application \"{app}\" has no \"{ep}\" relation",
                        name.unwrap_or(app)
                    )))
                }
            }
        }
        let name = name.unwrap_or(app).to_string();
        let m = g.model_mut(model)?;
        if m.offers.contains_key(&name) {
            return Err(Error::juju(format!(
                "cannot add application offer \"{name}\": application offer already exists"
            )));
        }
        m.offers.insert(
            name.clone(),
            Offer {
                name: name.clone(),
                app: app.to_string(),
                endpoints,
            },
        );
        Ok(name)
    }

    /// `juju remove-offer model.name` (its cross-model relations are removed too).
    pub fn remove_offer(&self, model: &str, name: &str) -> Result<()> {
        let mut g = self.lock();
        if g.model_mut(model)?.offers.remove(name).is_none() {
            return Err(Error::NotFound(format!(
                "application offer \"admin/{model}.{name}\" not found"
            )));
        }
        g.remove_cmr_relations(|c| c.offer_model == model && c.offer_name == name);
        for m in g.state.models.values_mut() {
            m.saas
                .retain(|_, s| !(s.offer_model == model && s.offer_name == name));
        }
        Ok(())
    }

    /// `juju consume [controller:][user/]model.offer [alias]`; returns the saas name.
    pub fn consume(&self, model: &str, url: &str, alias: Option<&str>) -> Result<String> {
        let mut g = self.lock();
        g.model(model)?;
        let path = url.rsplit_once(':').map(|(_, p)| p).unwrap_or(url);
        let path = path.rsplit_once('/').map(|(_, p)| p).unwrap_or(path);
        let (omodel, oname) = path
            .split_once('.')
            .ok_or_else(|| Error::juju("application offer URL is missing model"))?;
        let exists = g
            .state
            .models
            .get(omodel)
            .is_some_and(|m| m.offers.contains_key(oname));
        if !exists {
            return Err(Error::NotFound(format!(
                "application offer \"admin/{omodel}.{oname}\" not found"
            )));
        }
        let name = alias.unwrap_or(oname).to_string();
        let m = g.model_mut(model)?;
        if m.apps.contains_key(&name) {
            return Err(Error::juju(format!(
                "saas application \"{name}\" clashes with an existing application"
            )));
        }
        if let Some(s) = m.saas.get(&name) {
            if s.offer_model == omodel && s.offer_name == oname {
                return Ok(name);
            }
            return Err(Error::juju(format!(
                "saas application \"{name}\" already exists"
            )));
        }
        m.saas.insert(
            name.clone(),
            Saas {
                name: name.clone(),
                offer_model: omodel.to_string(),
                offer_name: oname.to_string(),
            },
        );
        Ok(name)
    }

    /// `juju remove-saas name`: its relations go too.
    pub fn remove_saas(&self, model: &str, name: &str) -> Result<()> {
        let mut g = self.lock();
        if !g.model(model)?.saas.contains_key(name) {
            return Err(Error::NotFound(format!(
                "saas application \"{name}\" not found"
            )));
        }
        g.remove_cmr_relations(|c| c.consumer_model == model && c.saas_name == name);
        g.model_mut(model)?.saas.remove(name);
        Ok(())
    }

    // ---------------- running ----------------

    /// Runs queued hooks of every unit of every model, one hook per unit per pass, until
    /// nothing is left. A unit in error is retried once per call (Juju's automatic retry
    /// with the backoff skipped); if the retry fails it stays in error until the next call
    /// or `resolve`.
    pub fn run_until_idle(&self) -> Result<()> {
        {
            let mut g = self.lock();
            for m in g.state.models.values_mut() {
                for a in m.apps.values_mut() {
                    for u in a.units.values_mut() {
                        if let Some(f) = u.failed.as_mut() {
                            f.retry_due = true;
                        }
                    }
                }
            }
        }
        let mut runs = 0usize;
        loop {
            let keys = self.lock().all_unit_keys();
            let mut ran = false;
            for key in keys {
                let runnable = {
                    let mut g = self.lock();
                    match g.unit_mut(&key) {
                        Some(u) if !u.queue.is_empty() => match u.failed.as_mut() {
                            Some(f) if f.retry_due => {
                                f.retry_due = false;
                                true
                            }
                            Some(_) => false,
                            None => true,
                        },
                        _ => false,
                    }
                };
                if runnable {
                    self.run_front(&key)?;
                    ran = true;
                    runs += 1;
                    if runs > MAX_HOOK_RUNS {
                        return Err(Error::NotQuiescent(runs));
                    }
                }
            }
            if !ran {
                break;
            }
        }
        Ok(())
    }

    /// Queues `update-status` on every started unit (of one model or all).
    pub fn update_status(&self, model: Option<&str>) -> Result<()> {
        let mut g = self.lock();
        if let Some(m) = model {
            g.model(m)?;
        }
        for key in g.all_unit_keys() {
            let Some((m, _, _)) = split_unit_key(&key) else {
                continue;
            };
            if model.is_some_and(|x| x != m) {
                continue;
            }
            if g.unit_mut(&key).is_some_and(|u| u.installed && !u.dying) {
                g.queue(&key, Event::simple(EventKind::UpdateStatus));
            }
        }
        Ok(())
    }

    /// `juju resolve unit`: the failed hook is retried on the next `run_until_idle`.
    pub fn resolve(&self, model: &str, unit: &str) -> Result<()> {
        let mut g = self.lock();
        let key = unit_key(model, unit);
        let u = g
            .unit_mut(&key)
            .ok_or_else(|| Error::NotFound(format!("unit \"{unit}\" not found")))?;
        match u.failed.as_mut() {
            Some(f) => {
                f.retry_due = true;
                Ok(())
            }
            None => Err(Error::juju(format!(
                "unit \"{unit}\" is not in an error state"
            ))),
        }
    }

    /// `juju resolve --no-retry unit`: the failed hook is skipped.
    pub fn resolve_no_retry(&self, model: &str, unit: &str) -> Result<()> {
        let mut g = self.lock();
        let key = unit_key(model, unit);
        let u = g
            .unit_mut(&key)
            .ok_or_else(|| Error::NotFound(format!("unit \"{unit}\" not found")))?;
        if u.failed.take().is_none() {
            return Err(Error::juju(format!(
                "unit \"{unit}\" is not in an error state"
            )));
        }
        u.queue.pop_front();
        Ok(())
    }

    /// `juju exec --unit unit -- argv`: runs in the unit's hook context; changes commit on exit 0.
    pub fn exec(&self, model: &str, unit: &str, argv: &[String]) -> Result<ExecOutput> {
        let key = unit_key(model, unit);
        if self.lock().unit_mut(&key).is_none() {
            return Err(Error::NotFound(format!("unit \"{unit}\" not found")));
        }
        let Some((prog, rest)) = argv.split_first() else {
            return Err(Error::juju("no commands specified"));
        };
        let r = self.run_process(&key, None, None, Some((prog.clone(), rest.to_vec())))?;
        Ok(ExecOutput {
            stdout: r.stdout,
            stderr: r.stderr,
            code: r.code,
        })
    }

    /// `juju run unit action k=v`.
    pub fn run_action(
        &self,
        model: &str,
        unit: &str,
        action: &str,
        params: &BTreeMap<String, Value>,
    ) -> Result<ActionResult> {
        let key = unit_key(model, unit);
        let spec = {
            let mut g = self.lock();
            let (_, app, _) = split_unit_key(&key)
                .ok_or_else(|| Error::juju(format!("invalid unit name \"{unit}\"")))?;
            let app = app.to_string();
            if g.unit_mut(&key).is_none() {
                return Err(Error::NotFound(format!("unit \"{unit}\" not found")));
            }
            g.app(model, &app)?
                .meta
                .actions
                .get(action)
                .cloned()
                .ok_or_else(|| {
                    Error::juju(format!(
                        "action \"{action}\" not defined on unit \"{unit}\""
                    ))
                })?
        };
        let mut p = serde_json::Map::new();
        if let Some(props) = spec.params.as_object() {
            for (k, v) in props {
                if let Some(d) = v.get("default") {
                    p.insert(k.clone(), d.clone());
                }
            }
        }
        for (k, v) in params {
            p.insert(k.clone(), v.clone());
        }
        let act = ActionCtx {
            params: Value::Object(p),
            results: json!({}),
            failed: None,
            log: Vec::new(),
        };
        let r = self.run_process(&key, None, Some((action.to_string(), act)), None)?;
        let act = r.action.unwrap_or(ActionCtx {
            params: Value::Null,
            results: json!({}),
            failed: None,
            log: Vec::new(),
        });
        let (status, message) = match (&act.failed, r.code) {
            (Some(m), _) => ("failed", m.clone()),
            (None, 0) => ("completed", String::new()),
            (None, c) => ("failed", format!("exit status {c}")),
        };
        Ok(ActionResult {
            status: status.into(),
            results: act.results,
            message,
            log: act.log,
            code: r.code,
            stdout: r.stdout,
            stderr: r.stderr,
        })
    }

    // ---------------- views ----------------

    pub fn status(&self, model: &str) -> Result<ModelStatus> {
        let g = self.lock();
        g.model(model)?;
        Ok(status::build(&g.state, model))
    }

    pub fn debug_log(&self, model: &str) -> Result<Vec<LogLine>> {
        let g = self.lock();
        Ok(g.model(model)?.log.clone())
    }

    pub fn hook_log(&self) -> Vec<HookRun> {
        self.lock().state.hook_log.clone()
    }

    /// Relation data as stored (committed), for tests and `juju show-unit`:
    /// (app bags by app name, unit bags by unit name) as seen from `model`.
    pub fn relation_data(
        &self,
        model: &str,
        id: RelationId,
    ) -> Result<(BTreeMap<String, Bag>, BTreeMap<String, Bag>)> {
        let g = self.lock();
        let r = g
            .state
            .relations
            .values()
            .find(|r| r.ids.get(model) == Some(&id))
            .ok_or_else(|| Error::NotFound(format!("relation {id} not found")))?;
        let apps = r
            .app_bags
            .iter()
            .map(|(k, v)| (r.app_view(model, k), v.clone()))
            .collect();
        let units = r
            .unit_bags
            .iter()
            .map(|(k, v)| (r.unit_view(model, k), v.clone()))
            .collect();
        Ok((apps, units))
    }

    /// Writes the controller state to `dir/jujusim-state.json`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let g = self.lock();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        let text =
            serde_json::to_string_pretty(&g.state).map_err(|e| Error::State(e.to_string()))?;
        let p = dir.join("jujusim-state.json");
        std::fs::write(&p, text).map_err(|e| Error::io(p.display().to_string(), e))
    }

    /// Replaces the state with one written by [`Controller::save`] (charm copies are
    /// re-created when missing). Kubernetes objects are kubesim's to restore.
    pub fn load(&self, dir: &Path) -> Result<()> {
        let p = dir.join("jujusim-state.json");
        let text =
            std::fs::read_to_string(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
        let state: State = serde_json::from_str(&text).map_err(|e| Error::State(e.to_string()))?;
        let mut g = self.lock();
        for m in state.models.values() {
            for a in m.apps.values() {
                for u in a.units.values() {
                    if !u.charm_dir.exists() {
                        charm::materialise(&a.charm_source, &u.charm_dir)?;
                    }
                }
            }
        }
        g.state = state;
        g.contexts.clear();
        Ok(())
    }
}

/// Outcome of one child process run in a unit context.
struct ProcResult {
    code: i32,
    stdout: String,
    stderr: String,
    action: Option<ActionCtx>,
}

impl Controller {
    /// Runs the front event of a unit's queue and commits or records the failure.
    fn run_front(&self, key: &str) -> Result<()> {
        let event = {
            let mut g = self.lock();
            let Some(u) = g.unit_mut(key) else {
                return Ok(());
            };
            let Some(ev) = u.queue.pop_front() else {
                return Ok(());
            };
            // Membership changes take effect as the hook starts, as in Juju's relationer.
            g.enter_event(key, &ev);
            ev
        };
        let r = self.run_process(key, Some(event.clone()), None, None)?;
        let mut g = self.lock();
        if r.code != 0 {
            if let Some(u) = g.unit_mut(key) {
                u.queue.push_front(event);
            }
        } else {
            g.after_event(key, &event)?;
        }
        g.gc();
        Ok(())
    }

    /// Runs a hook (event), an action, or an exec command as a child process with the
    /// unit's hook environment, serving hook tools meanwhile.
    fn run_process(
        &self,
        key: &str,
        event: Option<Event>,
        action: Option<(String, ActionCtx)>,
        exec: Option<(String, Vec<String>)>,
    ) -> Result<ProcResult> {
        let (cmd, ctx_id, hook_name, model, unit_name, rel_id, remote_unit, remote_app) = {
            let mut g = self.lock();
            let (model, app, n) = split_unit_key(key)
                .map(|(m, a, n)| (m.to_string(), a.to_string(), n))
                .ok_or_else(|| Error::juju(format!("bad unit key {key}")))?;
            let unit_name = format!("{app}/{n}");
            let charm_dir = g
                .unit_mut(key)
                .map(|u| u.charm_dir.clone())
                .ok_or_else(|| Error::NotFound(format!("unit \"{unit_name}\" not found")))?;
            let rel = event
                .as_ref()
                .and_then(|e| e.relation)
                .and_then(|uid| g.state.relations.get(&uid).cloned());
            let hook_name = match (&event, &action, &exec) {
                (Some(e), _, _) => match &rel {
                    Some(r) => format!(
                        "{}-{}",
                        r.endpoint_of(&model, &app)
                            .map(|e| e.name.clone())
                            .unwrap_or_default(),
                        e.kind.suffix()
                    ),
                    None => e.kind.suffix().to_string(),
                },
                (None, Some((a, _)), _) => a.clone(),
                _ => "juju-exec".to_string(),
            };
            g.state.next_context += 1;
            let ctx_id = format!("{unit_name}-{hook_name}-{}", g.state.next_context);
            let kubeconfig = g.kubeconfig_for(&model, &app)?;
            let model_uuid = g.model(&model)?.uuid.clone();
            let dispatch_path = match (&event, &action) {
                (Some(_), _) => format!("hooks/{hook_name}"),
                (None, Some((a, _))) => format!("actions/{a}"),
                _ => String::new(),
            };
            let mut cmd = match &exec {
                Some((prog, args)) => {
                    let mut c = Command::new(prog);
                    c.args(args);
                    c
                }
                None => {
                    let dispatch = charm_dir.join("dispatch");
                    let legacy = charm_dir.join(&dispatch_path);
                    if dispatch.exists() {
                        Command::new(dispatch)
                    } else if legacy.exists() {
                        Command::new(legacy)
                    } else {
                        // Juju skips a hook the charm does not implement.
                        drop(g);
                        let mut g = self.lock();
                        if let Some(ev) = &event {
                            g.record_skip(key, &hook_name, ev);
                        }
                        return Ok(ProcResult {
                            code: 0,
                            stdout: String::new(),
                            stderr: String::new(),
                            action: action.map(|(_, a)| a),
                        });
                    }
                }
            };
            cmd.current_dir(&charm_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            for (k, _) in std::env::vars_os() {
                let k = k.to_string_lossy().into_owned();
                if k.starts_with("JUJU_") || k == "KUBECONFIG" || k == "CHARM_DIR" {
                    cmd.env_remove(&k);
                }
            }
            let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
            let tools = g.tools_dir.display().to_string();
            let charm_dir_s = charm_dir.display().to_string();
            let mut env: Vec<(&str, String)> = vec![
                ("PATH", format!("{tools}:{path}")),
                ("CHARM_DIR", charm_dir_s.clone()),
                ("JUJU_CHARM_DIR", charm_dir_s),
                ("JUJU_CONTEXT_ID", ctx_id.clone()),
                ("JUJU_AGENT_SOCKET_ADDRESS", g.socket.display().to_string()),
                ("JUJU_AGENT_SOCKET_NETWORK", "unix".into()),
                ("JUJU_UNIT_NAME", unit_name.clone()),
                ("JUJU_MODEL_NAME", model.clone()),
                ("JUJU_MODEL_UUID", model_uuid),
                ("JUJU_VERSION", JUJU_VERSION.into()),
                ("JUJU_API_ADDRESSES", "127.0.0.1:17070".into()),
                ("JUJU_PRINCIPAL_UNIT", String::new()),
                ("JUJU_AVAILABILITY_ZONE", String::new()),
                ("JUJU_MACHINE_ID", String::new()),
                ("JUJU_CHARM_HTTP_PROXY", String::new()),
                ("JUJU_CHARM_HTTPS_PROXY", String::new()),
                ("JUJU_CHARM_FTP_PROXY", String::new()),
                ("JUJU_CHARM_NO_PROXY", "127.0.0.1,localhost,::1".into()),
                ("CLOUD_API_VERSION", "1.31.0".into()),
                ("KUBECONFIG", kubeconfig.display().to_string()),
            ];
            if !dispatch_path.is_empty() {
                env.push(("JUJU_DISPATCH_PATH", dispatch_path));
            }
            if event.is_some() {
                env.push(("JUJU_HOOK_NAME", hook_name.clone()));
            }
            let mut rel_id = None;
            let mut remote_unit_v = None;
            let mut remote_app_v = None;
            if let (Some(ev), Some(r)) = (&event, &rel) {
                let id = r.ids.get(&model).copied().unwrap_or(0);
                rel_id = Some(id);
                let ep = r
                    .endpoint_of(&model, &app)
                    .map(|e| e.name.clone())
                    .unwrap_or_default();
                env.push(("JUJU_RELATION", ep.clone()));
                env.push(("JUJU_RELATION_ID", format!("{ep}:{id}")));
                let ru = ev.remote_unit.as_ref().map(|u| r.unit_view(&model, u));
                let ra = ev.remote_app.as_ref().map(|a| r.app_view(&model, a));
                env.push(("JUJU_REMOTE_UNIT", ru.clone().unwrap_or_default()));
                env.push(("JUJU_REMOTE_APP", ra.clone().unwrap_or_default()));
                if let Some(d) = &ev.departing {
                    env.push(("JUJU_DEPARTING_UNIT", r.unit_view(&model, d)));
                }
                remote_unit_v = ru;
                remote_app_v = ra;
            }
            if let Some((a, _)) = &action {
                env.push(("JUJU_ACTION_NAME", a.clone()));
                env.push(("JUJU_ACTION_UUID", g.state.next_context.to_string()));
                env.push((
                    "JUJU_ACTION_TAG",
                    format!("action-{}", g.state.next_context),
                ));
            }
            for (k, v) in env {
                cmd.env(k, v);
            }
            g.contexts.insert(
                ctx_id.clone(),
                HookCtx {
                    model: model.clone(),
                    app: app.clone(),
                    unit: n,
                    event: event.clone(),
                    action: action.as_ref().map(|(_, a)| a.clone()),
                    staged: Staged::default(),
                },
            );
            if let Some(u) = g.unit_mut(key) {
                u.agent = StatusInfo::new("executing", &format!("running {hook_name} hook"));
            }
            (
                cmd,
                ctx_id,
                hook_name,
                model,
                unit_name,
                rel_id,
                remote_unit_v,
                remote_app_v,
            )
        };
        let started = now();
        let t0 = Instant::now();
        tracing::debug!(unit = %unit_name, hook = %hook_name, "running hook");
        let timeout = self.lock().hook_timeout;
        let output = run_with_timeout(cmd, timeout);
        let duration_ms = t0.elapsed().as_millis() as u64;
        let mut g = self.lock();
        let ctx = g.contexts.remove(&ctx_id);
        let (code, stdout, stderr) = match output {
            Ok(o) => o,
            Err(e) => (127, String::new(), format!("cannot run {hook_name}: {e}\n")),
        };
        let log_ctx = HookCtx {
            model: model.clone(),
            app: unit_name.split('/').next().unwrap_or_default().to_string(),
            unit: split_unit_key(key).map(|(_, _, n)| n).unwrap_or(0),
            event: None,
            action: None,
            staged: Staged::default(),
        };
        let module = format!("unit.{unit_name}.{hook_name}");
        for l in stdout.lines() {
            g.log(&log_ctx, "DEBUG", &module, l);
        }
        for l in stderr.lines() {
            g.log(&log_ctx, "WARNING", &module, l);
        }
        let via = if exec.is_some() {
            "juju-exec"
        } else {
            "hook dispatching script: dispatch"
        };
        if code == 0 {
            if let Some(c) = &ctx {
                g.commit(c)?;
            }
            if event.is_some() {
                g.log(
                    &log_ctx,
                    "INFO",
                    "juju.worker.uniter.operation",
                    &format!("ran \"{hook_name}\" hook (via {via})"),
                );
                if let Some(u) = g.unit_mut(key) {
                    u.failed = None;
                }
            }
        } else if event.is_some() {
            g.log(
                &log_ctx,
                "ERROR",
                "juju.worker.uniter.operation",
                &format!("hook \"{hook_name}\" (via {via}) failed: exit status {code}"),
            );
            if let Some(u) = g.unit_mut(key) {
                u.failed = Some(FailedHook {
                    hook: hook_name.clone(),
                    retry_due: false,
                });
            }
        }
        if let Some(u) = g.unit_mut(key) {
            u.agent = StatusInfo::new("idle", "");
        }
        if event.is_some() || action.is_some() {
            g.state.hook_log.push(HookRun {
                model,
                unit: unit_name,
                hook: hook_name,
                relation_id: rel_id,
                remote_unit,
                remote_app,
                exit_code: code,
                duration_ms,
                started,
                stdout: stdout.clone(),
                stderr: stderr.clone(),
            });
        }
        Ok(ProcResult {
            code,
            stdout,
            stderr,
            action: ctx.and_then(|c| c.action),
        })
    }
}

type SideInfo = (String, String, Option<String>);
struct SaasRef {
    name: String,
    offer_model: String,
    offer_name: String,
}

impl Inner {
    pub fn model(&self, name: &str) -> Result<&Model> {
        self.state
            .models
            .get(name)
            .ok_or_else(|| Error::NotFound(format!("model \"admin/{name}\" not found")))
    }
    pub fn model_mut(&mut self, name: &str) -> Result<&mut Model> {
        self.state
            .models
            .get_mut(name)
            .ok_or_else(|| Error::NotFound(format!("model \"admin/{name}\" not found")))
    }
    pub fn app(&self, model: &str, app: &str) -> Result<&Application> {
        self.model(model)?
            .apps
            .get(app)
            .ok_or_else(|| Error::NotFound(format!("application \"{app}\" not found")))
    }
    pub fn app_mut(&mut self, model: &str, app: &str) -> Result<&mut Application> {
        self.model_mut(model)?
            .apps
            .get_mut(app)
            .ok_or_else(|| Error::NotFound(format!("application \"{app}\" not found")))
    }
    pub fn unit_mut(&mut self, key: &str) -> Option<&mut Unit> {
        let (m, a, n) = split_unit_key(key)?;
        self.state
            .models
            .get_mut(m)?
            .apps
            .get_mut(a)?
            .units
            .get_mut(&n)
    }

    fn all_unit_keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in self.state.models.values() {
            for a in m.apps.values() {
                for u in a.units.values() {
                    out.push(format!("{}:{}/{}", m.name, a.name, u.number));
                }
            }
        }
        out
    }

    /// Alive units of an application, as keys.
    fn alive_units(&self, model: &str, app: &str) -> Vec<String> {
        self.state
            .models
            .get(model)
            .and_then(|m| m.apps.get(app))
            .map(|a| {
                a.units
                    .values()
                    .filter(|u| !u.dying)
                    .map(|u| format!("{model}:{app}/{}", u.number))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Queues an event, coalescing with an identical pending one (as Juju does).
    fn queue(&mut self, key: &str, ev: Event) {
        if let Some(u) = self.unit_mut(key) {
            if u.dying
                && !matches!(
                    ev.kind,
                    EventKind::RelationDeparted
                        | EventKind::RelationBroken
                        | EventKind::Stop
                        | EventKind::Remove
                )
            {
                return;
            }
            let coalesce = matches!(
                ev.kind,
                EventKind::RelationChanged
                    | EventKind::ConfigChanged
                    | EventKind::UpdateStatus
                    | EventKind::LeaderSettingsChanged
            );
            if coalesce && u.queue.iter().any(|e| *e == ev) {
                return;
            }
            u.queue.push_back(ev);
        }
    }

    fn queue_app(&mut self, model: &str, app: &str, ev: Event) {
        for k in self.alive_units(model, app) {
            self.queue(&k, ev.clone());
        }
    }

    fn new_relation(&mut self, endpoints: Vec<RelEndpoint>, cmr: Option<CmrLink>) -> Result<u64> {
        let uid = self.state.next_relation_uid;
        self.state.next_relation_uid += 1;
        let mut ids = BTreeMap::new();
        let models: BTreeSet<String> = endpoints.iter().map(|e| e.model.clone()).collect();
        for m in models {
            let model = self.model_mut(&m)?;
            ids.insert(m.clone(), model.next_relation_id);
            model.next_relation_id += 1;
        }
        let interface = endpoints
            .first()
            .map(|e| e.interface.clone())
            .unwrap_or_default();
        let rel = Relation {
            uid,
            ids,
            endpoints: endpoints.clone(),
            interface,
            app_bags: BTreeMap::new(),
            unit_bags: BTreeMap::new(),
            joined: BTreeMap::new(),
            members: BTreeSet::new(),
            dying: false,
            cmr,
        };
        self.state.relations.insert(uid, rel);
        // Hooks: -created on every unit, then -joined/-changed for each remote unit.
        let mut sides: Vec<Vec<String>> = Vec::new();
        for e in &endpoints {
            sides.push(self.alive_units(&e.model, &e.app));
        }
        for (i, e) in endpoints.iter().enumerate() {
            let other = endpoints.get(1 - i.min(1)).unwrap_or(e);
            for u in &sides[i] {
                let mut ev = Event::rel(EventKind::RelationCreated, uid);
                ev.remote_app = Some(other.app_key());
                self.queue(u, ev);
            }
        }
        // -joined/-changed pairs follow as units enter scope (see enter_event).
        Ok(uid)
    }

    fn queue_join(&mut self, unit: &str, remote: &str, uid: u64) {
        let app = split_unit_key(remote).map(|(m, a, _)| format!("{m}:{a}"));
        for kind in [EventKind::RelationJoined, EventKind::RelationChanged] {
            let mut ev = Event::rel(kind, uid);
            ev.remote_unit = Some(remote.to_string());
            ev.remote_app = app.clone();
            self.queue(unit, ev);
        }
    }

    fn add_unit_internal(&mut self, model: &str, app: &str) -> Result<String> {
        let work_dir = self.work_dir.clone();
        let index = self.model(model)?.index;
        let ip_seq = self
            .model(model)?
            .apps
            .values()
            .map(|a| a.next_unit)
            .sum::<u32>();
        let a = self.app_mut(model, app)?;
        let n = a.next_unit;
        a.next_unit += 1;
        let charm_dir = work_dir
            .join("units")
            .join(model)
            .join(format!("{app}-{n}"))
            .join("charm");
        charm::materialise(&a.charm_source, &charm_dir)?;
        let ip = format!("10.1.{}.{}", index % 250, 10 + ip_seq % 240);
        let leader = a.leader.is_none();
        if leader {
            a.leader = Some(n);
        }
        a.units.insert(
            n,
            Unit {
                number: n,
                workload: StatusInfo::new("waiting", "installing agent"),
                agent: StatusInfo::new("allocating", ""),
                state: Bag::new(),
                ports: BTreeSet::new(),
                queue: Default::default(),
                failed: None,
                dying: false,
                installed: false,
                ip: ip.clone(),
                charm_dir,
            },
        );
        let key = format!("{model}:{app}/{n}");
        self.kube_pod(model, app, n, &ip)?;
        self.kube_scale(model, app)?;
        // install, relation-created (existing relations, peers included), leadership,
        // config-changed, start; then -joined/-changed with every remote unit.
        self.queue(&key, Event::simple(EventKind::Install));
        let rels: Vec<Relation> = self
            .state
            .relations
            .values()
            .filter(|r| !r.dying && r.endpoint_of(model, app).is_some())
            .cloned()
            .collect();
        for r in &rels {
            let mut ev = Event::rel(EventKind::RelationCreated, r.uid);
            ev.remote_app = r.other_endpoint(model, app).map(|e| e.app_key());
            self.queue(&key, ev);
        }
        self.queue(
            &key,
            Event::simple(if leader {
                EventKind::LeaderElected
            } else {
                EventKind::LeaderSettingsChanged
            }),
        );
        self.queue(&key, Event::simple(EventKind::ConfigChanged));
        self.queue(&key, Event::simple(EventKind::Start));
        // -joined/-changed with remote units follow when it enters scope (enter_event).
        Ok(format!("{app}/{n}"))
    }

    fn elect_leader(&mut self, model: &str, app: &str) {
        let Ok(a) = self.app_mut(model, app) else {
            return;
        };
        let current_ok = a
            .leader
            .and_then(|l| a.units.get(&l))
            .is_some_and(|u| !u.dying);
        if current_ok {
            return;
        }
        let next = a.units.values().find(|u| !u.dying).map(|u| u.number);
        // With nobody alive to take over, a dying leader keeps leadership until it is
        // gone (so it can clean up as leader in its stop/remove hooks, as in Juju).
        // Likewise while the whole application is being removed.
        let current_exists = a.leader.is_some_and(|l| a.units.contains_key(&l));
        if (next.is_none() || a.dying) && current_exists {
            return;
        }
        a.leader = next;
        if let Some(n) = next {
            self.queue(
                &format!("{model}:{app}/{n}"),
                Event::simple(EventKind::LeaderElected),
            );
        }
    }

    fn remove_unit_internal(&mut self, model: &str, app: &str, n: u32) {
        let key = format!("{model}:{app}/{n}");
        let installed = match self.unit_mut(&key) {
            Some(u) if !u.dying => {
                u.dying = true;
                u.queue.clear();
                u.failed = None;
                u.installed
            }
            _ => return,
        };
        self.elect_leader(model, app);
        let rels: Vec<u64> = self
            .state
            .relations
            .values()
            .filter(|r| r.endpoint_of(model, app).is_some())
            .map(|r| r.uid)
            .collect();
        for uid in rels {
            self.depart_unit(uid, &key);
        }
        if installed {
            self.queue(&key, Event::simple(EventKind::Stop));
            self.queue(&key, Event::simple(EventKind::Remove));
        } else {
            self.delete_unit(model, app, n);
        }
    }

    /// A unit leaves one relation: remotes get -departed, the unit -departed then -broken.
    fn depart_unit(&mut self, uid: u64, key: &str) {
        let Some(r) = self.state.relations.get(&uid).cloned() else {
            return;
        };
        let mut others: BTreeSet<String> = BTreeSet::new();
        for e in &r.endpoints {
            for k in self.all_units_of(&e.model, &e.app) {
                if k != key {
                    others.insert(k);
                }
            }
        }
        let app_key = split_unit_key(key).map(|(m, a, _)| format!("{m}:{a}"));
        for w in others {
            if let Some(u) = self.unit_mut(&w) {
                u.queue.retain(|e| {
                    !(e.relation == Some(uid) && e.remote_unit.as_deref() == Some(key))
                });
            }
            if r.joined.get(&w).is_some_and(|s| s.contains(key)) {
                let mut ev = Event::rel(EventKind::RelationDeparted, uid);
                ev.remote_unit = Some(key.to_string());
                ev.remote_app = app_key.clone();
                ev.departing = Some(key.to_string());
                self.queue(&w, ev);
            }
        }
        if r.members.contains(key) {
            for remote in r.joined.get(key).cloned().unwrap_or_default() {
                let mut ev = Event::rel(EventKind::RelationDeparted, uid);
                ev.remote_app = split_unit_key(&remote).map(|(m, a, _)| format!("{m}:{a}"));
                ev.remote_unit = Some(remote);
                ev.departing = Some(key.to_string());
                self.queue(key, ev);
            }
            let mut ev = Event::rel(EventKind::RelationBroken, uid);
            if let Some((m, a, _)) = split_unit_key(key) {
                ev.remote_app = r.other_endpoint(m, a).map(|e| e.app_key());
            }
            self.queue(key, ev);
        }
    }

    fn all_units_of(&self, model: &str, app: &str) -> Vec<String> {
        self.state
            .models
            .get(model)
            .and_then(|m| m.apps.get(app))
            .map(|a| {
                a.units
                    .keys()
                    .map(|n| format!("{model}:{app}/{n}"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Removes every cross-model relation whose link matches `matches`.
    fn remove_cmr_relations(&mut self, matches: impl Fn(&CmrLink) -> bool) {
        let uids: Vec<u64> = self
            .state
            .relations
            .values()
            .filter(|r| r.cmr.as_ref().is_some_and(&matches))
            .map(|r| r.uid)
            .collect();
        for uid in uids {
            self.remove_relation_uid(uid);
        }
    }

    fn remove_relation_uid(&mut self, uid: u64) {
        let Some(r) = self.state.relations.get_mut(&uid) else {
            return;
        };
        if r.dying {
            return;
        }
        r.dying = true;
        let r = r.clone();
        for (i, e) in r.endpoints.iter().enumerate() {
            let other = if r.is_peer() { e } else { &r.endpoints[1 - i] };
            for k in self.all_units_of(&e.model, &e.app) {
                let Some(u) = self.unit_mut(&k) else { continue };
                u.queue.retain(|ev| ev.relation != Some(uid));
                if !r.members.contains(&k) {
                    continue;
                }
                for remote in r.joined.get(&k).cloned().unwrap_or_default() {
                    let mut ev = Event::rel(EventKind::RelationDeparted, uid);
                    ev.remote_app = split_unit_key(&remote).map(|(m, a, _)| format!("{m}:{a}"));
                    ev.departing = Some(remote.clone());
                    ev.remote_unit = Some(remote);
                    self.queue(&k, ev);
                }
                let mut ev = Event::rel(EventKind::RelationBroken, uid);
                ev.remote_app = Some(other.app_key());
                self.queue(&k, ev);
            }
        }
    }

    fn remove_app(&mut self, model: &str, app: &str) {
        let Ok(a) = self.app_mut(model, app) else {
            return;
        };
        a.dying = true;
        let units: Vec<u32> = a.units.keys().copied().collect();
        let uids: Vec<u64> = self
            .state
            .relations
            .values()
            .filter(|r| r.endpoint_of(model, app).is_some() && !r.dying)
            .map(|r| r.uid)
            .collect();
        for uid in uids {
            self.remove_relation_uid(uid);
        }
        if let Ok(m) = self.model_mut(model) {
            m.offers.retain(|_, o| o.app != app);
        }
        for n in units {
            self.remove_unit_internal(model, app, n);
        }
        self.maybe_delete_app(model, app);
    }

    fn maybe_delete_app(&mut self, model: &str, app: &str) {
        let done = self
            .app(model, app)
            .map(|a| a.dying && a.units.is_empty())
            .unwrap_or(false);
        if done {
            self.delete_app(model, app);
        }
    }

    fn delete_app(&mut self, model: &str, app: &str) {
        let uids: Vec<u64> = self
            .state
            .relations
            .values()
            .filter(|r| r.endpoint_of(model, app).is_some())
            .map(|r| r.uid)
            .collect();
        for uid in uids {
            self.state.relations.remove(&uid);
        }
        if let Ok(m) = self.model_mut(model) {
            m.apps.remove(app);
            m.offers.retain(|_, o| o.app != app);
        }
        for (v, k) in [
            ("apps/v1", "StatefulSet"),
            ("v1", "Service"),
            ("v1", "ServiceAccount"),
        ] {
            let _ = self.store.delete(v, k, Some(model), app);
        }
        let _ = self
            .store
            .delete("v1", "Service", Some(model), &endpoints_service(app));
        let pods = self
            .store
            .list(
                "v1",
                "Pod",
                Some(model),
                Some(&format!("app.kubernetes.io/name={app}")),
            )
            .unwrap_or_default();
        for p in pods {
            if let Some(name) = p.pointer("/metadata/name").and_then(Value::as_str) {
                let _ = self.store.delete("v1", "Pod", Some(model), name);
            }
        }
    }

    fn delete_unit(&mut self, model: &str, app: &str, n: u32) {
        let key = format!("{model}:{app}/{n}");
        for r in self.state.relations.values_mut() {
            r.members.remove(&key);
            r.joined.remove(&key);
            for s in r.joined.values_mut() {
                s.remove(&key);
            }
            // The unit bag stays while remote units still have -departed to run (they may
            // read it there); gc() drops it afterwards.
        }
        if let Ok(a) = self.app_mut(model, app) {
            a.units.remove(&n);
            if a.leader == Some(n) {
                a.leader = None;
            }
        }
        self.elect_leader(model, app);
        let _ = self
            .store
            .delete("v1", "Pod", Some(model), &format!("{app}-{n}"));
        let _ = self.kube_scale(model, app);
        self.maybe_delete_app(model, app);
    }

    /// Bookkeeping as a hook starts.
    fn enter_event(&mut self, key: &str, ev: &Event) {
        let Some(uid) = ev.relation else { return };
        let Some(r) = self.state.relations.get_mut(&uid) else {
            return;
        };
        match ev.kind {
            // The unit enters the relation's scope: it and every remote unit already in
            // scope get -joined/-changed for each other (Juju's scope semantics).
            EventKind::RelationCreated if r.members.insert(key.to_string()) => {
                let r = r.clone();
                let Some((m, a, _)) = split_unit_key(key) else {
                    return;
                };
                let Some(other) = r.other_endpoint(m, a) else {
                    return;
                };
                let remotes: Vec<String> = self
                    .alive_units(&other.model, &other.app)
                    .into_iter()
                    .filter(|w| w != key && r.members.contains(w))
                    .collect();
                for w in remotes {
                    self.queue_join(key, &w, uid);
                    self.queue_join(&w, key, uid);
                }
            }
            EventKind::RelationJoined => {
                if let Some(ru) = &ev.remote_unit {
                    r.joined
                        .entry(key.to_string())
                        .or_default()
                        .insert(ru.clone());
                }
            }
            EventKind::RelationDeparted => {
                if let Some(ru) = &ev.remote_unit {
                    if let Some(s) = r.joined.get_mut(key) {
                        s.remove(ru);
                    }
                }
            }
            _ => {}
        }
    }

    /// Bookkeeping after a hook succeeded.
    fn after_event(&mut self, key: &str, ev: &Event) -> Result<()> {
        if let Some(u) = self.unit_mut(key) {
            if ev.kind == EventKind::Install {
                u.installed = true;
                if u.workload.status == "waiting" || u.workload.status == "maintenance" {
                    u.workload = StatusInfo::new("unknown", "");
                }
            }
        }
        if ev.kind == EventKind::RelationBroken {
            if let Some(r) = ev
                .relation
                .and_then(|uid| self.state.relations.get_mut(&uid))
            {
                r.members.remove(key);
                r.joined.remove(key);
            }
        }
        if ev.kind == EventKind::Remove {
            if let Some((m, a, n)) =
                split_unit_key(key).map(|(m, a, n)| (m.to_string(), a.to_string(), n))
            {
                self.delete_unit(&m, &a, n);
            }
        }
        Ok(())
    }

    fn record_skip(&mut self, key: &str, hook: &str, _ev: &Event) {
        // run_front does the bookkeeping (enter_event/after_event) as for a run hook.
        tracing::debug!(unit = key, hook, "skipped missing hook");
    }

    /// Drops dying relations nobody has a hook pending for.
    fn gc(&mut self) {
        let dying: Vec<u64> = self
            .state
            .relations
            .values()
            .filter(|r| r.dying)
            .map(|r| r.uid)
            .collect();
        for uid in dying {
            let pending = self.state.models.values().any(|m| {
                m.apps.values().any(|a| {
                    a.units
                        .values()
                        .any(|u| u.queue.iter().any(|e| e.relation == Some(uid)))
                })
            });
            if !pending {
                self.state.relations.remove(&uid);
            }
        }
        // Bags of units that are gone and no longer referenced by a pending hook.
        let mut referenced: BTreeSet<String> = BTreeSet::new();
        let mut existing: BTreeSet<String> = BTreeSet::new();
        for m in self.state.models.values() {
            for a in m.apps.values() {
                for u in a.units.values() {
                    existing.insert(format!("{}:{}/{}", m.name, a.name, u.number));
                    for e in &u.queue {
                        referenced.extend(e.remote_unit.iter().cloned());
                        referenced.extend(e.departing.iter().cloned());
                    }
                }
            }
        }
        for r in self.state.relations.values_mut() {
            r.unit_bags
                .retain(|k, _| existing.contains(k) || referenced.contains(k));
        }
    }

    /// Applies a successful hook's staged changes and queues what they cause.
    fn commit(&mut self, ctx: &HookCtx) -> Result<()> {
        let me = unit_key(&ctx.model, &ctx.unit_name());
        let my_app = format!("{}:{}", ctx.model, ctx.app);
        for (uid, bag) in &ctx.staged.unit_bags {
            let Some(r) = self.state.relations.get_mut(uid) else {
                continue;
            };
            if r.unit_bags.get(&me).cloned().unwrap_or_default() == *bag {
                continue;
            }
            r.unit_bags.insert(me.clone(), bag.clone());
            let watchers: Vec<String> = r
                .joined
                .iter()
                .filter(|(w, s)| **w != me && s.contains(&me))
                .map(|(w, _)| w.clone())
                .collect();
            for w in watchers {
                let mut ev = Event::rel(EventKind::RelationChanged, *uid);
                ev.remote_unit = Some(me.clone());
                ev.remote_app = Some(my_app.clone());
                self.queue(&w, ev);
            }
        }
        for (uid, bag) in &ctx.staged.app_bags {
            let Some(r) = self.state.relations.get_mut(uid) else {
                continue;
            };
            if r.app_bags.get(&my_app).cloned().unwrap_or_default() == *bag {
                continue;
            }
            r.app_bags.insert(my_app.clone(), bag.clone());
            let r = r.clone();
            let Some(other) = r.other_endpoint(&ctx.model, &ctx.app) else {
                continue;
            };
            for w in self.alive_units(&other.model, &other.app) {
                if w == me {
                    continue;
                }
                let mut ev = Event::rel(EventKind::RelationChanged, *uid);
                ev.remote_app = Some(my_app.clone());
                self.queue(&w, ev);
            }
        }
        if let Some(ls) = &ctx.staged.leader_settings {
            let a = self.app_mut(&ctx.model, &ctx.app)?;
            if a.leader_settings != *ls {
                a.leader_settings = ls.clone();
                let leader = a.leader;
                for k in self.alive_units(&ctx.model, &ctx.app) {
                    if split_unit_key(&k).map(|(_, _, n)| Some(n)) != Some(leader) {
                        self.queue(&k, Event::simple(EventKind::LeaderSettingsChanged));
                    }
                }
            }
        }
        let mut ports_changed = false;
        if let Some(u) = self.unit_mut(&me) {
            if let Some(st) = &ctx.staged.state {
                u.state = st.clone();
            }
            if let Some(p) = &ctx.staged.ports {
                ports_changed = u.ports != *p;
                u.ports = p.clone();
            }
        }
        if ports_changed {
            self.kube_service(&ctx.model, &ctx.app)?;
        }
        Ok(())
    }

    /// Resolves both sides of `integrate`/`remove-relation`.
    #[allow(clippy::type_complexity)]
    fn infer(
        &self,
        model: &str,
        a: &str,
        b: &str,
    ) -> Result<(
        (charm::EndpointSpec, SideInfo, Option<SaasRef>),
        (charm::EndpointSpec, SideInfo, Option<SaasRef>),
    )> {
        let m = self.model(model)?;
        let side = |arg: &str| -> Result<(
            String,
            Option<String>,
            Vec<charm::EndpointSpec>,
            SideInfo,
            Option<SaasRef>,
        )> {
            let (app, ep) = resolve::parse_arg(arg);
            if let Some(ap) = m.apps.get(app) {
                let eps = ap
                    .meta
                    .endpoints
                    .iter()
                    .filter(|e| e.role != Role::Peer)
                    .cloned()
                    .collect();
                return Ok((
                    app.into(),
                    ep.map(String::from),
                    eps,
                    (model.into(), app.into(), None),
                    None,
                ));
            }
            if let Some(s) = m.saas.get(app) {
                let om = self.model(&s.offer_model)?;
                let offer = om.offers.get(&s.offer_name).ok_or_else(|| {
                    Error::NotFound(format!(
                        "application offer \"admin/{}.{}\" not found",
                        s.offer_model, s.offer_name
                    ))
                })?;
                let oapp = om.apps.get(&offer.app).ok_or_else(|| {
                    Error::NotFound(format!("application \"{}\" not found", offer.app))
                })?;
                let eps = oapp
                    .meta
                    .endpoints
                    .iter()
                    .filter(|e| offer.endpoints.contains(&e.name))
                    .cloned()
                    .collect();
                return Ok((
                    app.into(),
                    ep.map(String::from),
                    eps,
                    (
                        s.offer_model.clone(),
                        offer.app.clone(),
                        Some(s.name.clone()),
                    ),
                    Some(SaasRef {
                        name: s.name.clone(),
                        offer_model: s.offer_model.clone(),
                        offer_name: s.offer_name.clone(),
                    }),
                ));
            }
            Err(Error::NotFound(format!("application \"{app}\" not found")))
        };
        let (an, ae, aeps, ainfo, asaas) = side(a)?;
        let (bn, be, beps, binfo, bsaas) = side(b)?;
        let (ea, eb) = resolve::infer(
            &Side {
                arg: a,
                app: &an,
                endpoint: ae.as_deref(),
                endpoints: &aeps,
            },
            &Side {
                arg: b,
                app: &bn,
                endpoint: be.as_deref(),
                endpoints: &beps,
            },
        )?;
        Ok(((ea, ainfo, asaas), (eb, binfo, bsaas)))
    }

    fn find_relation(&self, model: &str, a: &str, b: &str) -> Result<u64> {
        let ((ea, ma, _), (eb, mb, _)) = self.infer(model, a, b)?;
        let has = |r: &Relation, m: &SideInfo, ep: &str| {
            r.endpoints
                .iter()
                .any(|e| e.model == m.0 && e.app == m.1 && e.name == ep)
        };
        self.state
            .relations
            .values()
            .find(|r| !r.dying && has(r, &ma, &ea.name) && has(r, &mb, &eb.name))
            .map(|r| r.uid)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "relation \"{}:{} {}:{}\" not found",
                    ma.2.clone().unwrap_or(ma.1.clone()),
                    ea.name,
                    mb.2.clone().unwrap_or(mb.1.clone()),
                    eb.name
                ))
            })
    }

    // ---------------- kubernetes ----------------

    fn kube_namespace(&mut self, name: &str) -> Result<()> {
        self.store.apply(
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "labels": {
                        "app.kubernetes.io/managed-by": "juju",
                        "model.juju.is/name": name,
                    },
                },
            }),
            "juju",
            true,
        )?;
        Ok(())
    }

    /// The model operator Juju runs in every model namespace (Deployment, Service on the
    /// API port 17071, ServiceAccount, one Running pod); charms' policies may select it.
    fn kube_modeloperator(&mut self, model: &str, index: u32) -> Result<()> {
        let labels = json!({
            "operator.juju.is/name": "modeloperator",
            "operator.juju.is/target": "model",
            "juju-modeloperator": "modeloperator",
            "app.kubernetes.io/managed-by": "juju",
        });
        let selector =
            json!({"operator.juju.is/name": "modeloperator", "operator.juju.is/target": "model"});
        let meta = json!({"name": "modeloperator", "namespace": model, "labels": labels});
        self.store.apply(
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}),
            "juju",
            true,
        )?;
        self.store.apply(
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta,
                "spec": {
                    "type": "ClusterIP",
                    "selector": selector,
                    "ports": [{"name": "api", "port": 17071, "protocol": "TCP", "targetPort": 17071}],
                },
            }),
            "juju",
            true,
        )?;
        let pod_spec = json!({
            "serviceAccountName": "modeloperator",
            "containers": [{"name": "juju-operator", "image": "jujusolutions/jujud-operator:3.6.12"}],
        });
        let dep = self.store.apply(
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta,
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": selector},
                    "template": {"metadata": {"labels": labels}, "spec": pod_spec},
                },
            }),
            "juju",
            true,
        )?;
        let mut dep = dep;
        dep["status"] = json!({"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1});
        self.store.replace_status(dep)?;
        let ip = format!("10.1.{}.2", index % 250);
        let mut pod = self.store.apply(
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "modeloperator-0", "namespace": model, "labels": labels},
                "spec": pod_spec,
            }),
            "juju",
            true,
        )?;
        pod["status"] = running_pod_status(&pod, &ip);
        self.store.replace_status(pod)?;
        Ok(())
    }

    fn app_labels(app: &str) -> Value {
        json!({"app.kubernetes.io/name": app, "app.kubernetes.io/managed-by": "juju"})
    }

    fn kube_app(&mut self, model: &str, app: &str) -> Result<()> {
        self.store.apply(
            json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": app, "namespace": model, "labels": Self::app_labels(app)},
            }),
            "juju",
            true,
        )?;
        self.kube_service(model, app)?;
        self.kube_scale(model, app)
    }

    fn kube_service(&mut self, model: &str, app: &str) -> Result<()> {
        let a = self.app(model, app)?;
        let mut all: BTreeSet<PortRange> = BTreeSet::new();
        for u in a.units.values() {
            all.extend(u.ports.iter().cloned());
        }
        let mut ports: Vec<Value> = all
            .iter()
            .filter(|p| p.protocol != "icmp")
            .flat_map(|p| {
                (p.from..=p.to).map(move |n| {
                    json!({
                        "name": format!("juju-{}-{}", n, p.protocol),
                        "port": n,
                        "protocol": p.protocol.to_uppercase(),
                        "targetPort": n,
                    })
                })
            })
            .collect();
        if ports.is_empty() {
            ports.push(json!({"name": "placeholder", "port": 65535, "protocol": "TCP", "targetPort": 65535}));
        }
        // Applied by the "juju" manager: a port it stops applying (the placeholder once real
        // ports are opened, a closed port) is removed with its server-defaulted fields.
        self.store.apply(
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": app, "namespace": model, "labels": Self::app_labels(app)},
                "spec": {
                    "type": "ClusterIP",
                    "selector": {"app.kubernetes.io/name": app},
                    "ports": ports,
                },
            }),
            "juju",
            true,
        )?;
        // Juju's headless `<app>-endpoints` Service: the StatefulSet's `serviceName`, which
        // gives every pod its DNS name `<pod>.<app>-endpoints.<ns>.svc.cluster.local`. It
        // carries the same ports as the main Service and lists pods before they are ready.
        self.store.apply(
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": endpoints_service(app),
                    "namespace": model,
                    "labels": Self::app_labels(app),
                },
                "spec": {
                    "clusterIP": "None",
                    "selector": {"app.kubernetes.io/name": app},
                    "publishNotReadyAddresses": true,
                    "ports": ports,
                },
            }),
            "juju",
            true,
        )?;
        Ok(())
    }

    /// The pod spec Juju gives a sidecar charm's units: the `charm-init` init container, the
    /// `charm` container, then one container per workload container of the charm.
    fn charm_pod_spec(&self, model: &str, app: &str) -> Result<Value> {
        let a = self.app(model, app)?;
        let mut containers =
            vec![json!({"name": "charm", "image": "jujusolutions/charm-base:ubuntu-22.04"})];
        for (name, image) in &a.meta.containers {
            containers.push(json!({"name": name, "image": image}));
        }
        Ok(json!({
            "serviceAccountName": app,
            "automountServiceAccountToken": true,
            "initContainers": [{
                "name": "charm-init",
                "image": format!("jujusolutions/jujud-operator:{JUJU_VERSION}"),
            }],
            "containers": containers,
        }))
    }

    fn kube_scale(&mut self, model: &str, app: &str) -> Result<()> {
        let pod_spec = self.charm_pod_spec(model, app)?;
        let replicas = self
            .app(model, app)?
            .units
            .values()
            .filter(|u| !u.dying)
            .count();
        let sts = self.store.apply(
            json!({
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": app, "namespace": model, "labels": Self::app_labels(app)},
                "spec": {
                    "replicas": replicas,
                    "serviceName": endpoints_service(app),
                    "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                    "template": {
                        "metadata": {"labels": Self::app_labels(app)},
                        "spec": pod_spec,
                    },
                },
            }),
            "juju",
            true,
        )?;
        let mut sts = sts;
        sts["status"] = json!({
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
        });
        self.store.replace_status(sts)?;
        Ok(())
    }

    fn kube_pod(&mut self, model: &str, app: &str, n: u32, ip: &str) -> Result<()> {
        let pod_spec = self.charm_pod_spec(model, app)?;
        let name = format!("{app}-{n}");
        let mut labels = Self::app_labels(app);
        labels["statefulset.kubernetes.io/pod-name"] = Value::String(name.clone());
        labels["apps.kubernetes.io/pod-index"] = Value::String(n.to_string());
        let mut pod = self.store.apply(
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": model, "labels": labels},
                "spec": pod_spec,
            }),
            "juju",
            true,
        )?;
        pod["status"] = running_pod_status(&pod, ip);
        self.store.replace_status(pod)?;
        Ok(())
    }

    /// Kubeconfig file for a hook: cluster-admin when trusted, namespace-scoped otherwise.
    fn kubeconfig_for(&mut self, model: &str, app: &str) -> Result<PathBuf> {
        let trusted = self.app(model, app)?.trust;
        let text = if trusted {
            self.kube.kubeconfig(Some(model))
        } else {
            let token = match self.ns_tokens.get(model) {
                Some(t) => t.clone(),
                None => {
                    let t = self
                        .kube
                        .issue_token(kubesim::TokenScope::Namespace(model.to_string()));
                    self.ns_tokens.insert(model.to_string(), t.clone());
                    t
                }
            };
            self.kube.kubeconfig_for_token(&token, Some(model))
        };
        let dir = self.work_dir.join("kube");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        let path = dir.join(format!("{model}.{app}.kubeconfig"));
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).map_err(|e| Error::io(path.display().to_string(), e))?;
        }
        Ok(path)
    }
}

/// Name of the headless Service Juju creates for an application's pods.
pub fn endpoints_service(app: &str) -> String {
    format!("{app}-endpoints")
}

/// The status the kubelet reports for a started pod: every container running and ready (so
/// `kubectl get pods` shows `1/1 Running`), with the pod conditions a healthy pod has.
fn running_pod_status(pod: &Value, ip: &str) -> Value {
    // Kubernetes timestamps have second precision.
    let started = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            json!({
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "containerID": format!("containerd://{}", uuid::Uuid::new_v4().simple()),
                "ready": true,
                "started": true,
                "restartCount": 0,
                "state": {"running": {"startedAt": started}},
                "lastState": {},
            })
        })
        .collect();
    // Init containers ran to completion before the others started.
    let init: Vec<Value> = pod
        .pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            json!({
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "containerID": format!("containerd://{}", uuid::Uuid::new_v4().simple()),
                "ready": true,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                         "startedAt": started, "finishedAt": started}},
                "lastState": {},
            })
        })
        .collect();
    let condition = |t: &str| json!({"type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": started});
    let mut status = json!({
        "phase": "Running",
        "hostIP": "10.0.0.10",
        "hostIPs": [{"ip": "10.0.0.10"}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": started,
        "qosClass": "BestEffort",
        "conditions": [
            condition("PodReadyToStartContainers"),
            condition("Initialized"),
            condition("Ready"),
            condition("ContainersReady"),
            condition("PodScheduled"),
        ],
        "containerStatuses": containers,
    });
    if !init.is_empty() {
        status["initContainerStatuses"] = Value::Array(init);
    }
    status
}

/// `app/n` as (app, n); anything else is Juju's "invalid unit name" error.
fn parse_unit_name(unit: &str) -> Result<(String, u32)> {
    unit.split_once('/')
        .and_then(|(a, n)| Some((a.to_string(), n.parse::<u32>().ok()?)))
        .ok_or_else(|| Error::juju(format!("invalid unit name \"{unit}\"")))
}
