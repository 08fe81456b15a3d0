//! meshsim: replays Juju tutorials against the simulated world (jujusim + kubesim + authz).
//!
//! `meshsim run FILE...` runs the command lines of scripts and of the ```bash blocks of Markdown
//! files, printing `$ <line>` and then the output, as a terminal session would show it. After
//! every command all triggered hooks run to quiescence, then the simulated cluster controllers
//! (istiod's waypoint controller, the StatefulSet roll-out; see [`cluster`]) run, and, when they
//! changed something, every unit gets an `update-status` so charms notice (as Juju's periodic
//! update-status would), until nothing changes.

pub mod charms;
pub mod cluster;
pub mod curl;
pub mod juju;
pub mod kubectl;
pub mod script;
pub mod table;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

/// What one command printed and returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Output {
    pub fn ok(stdout: impl Into<String>) -> Output {
        Output {
            stdout: stdout.into(),
            ..Default::default()
        }
    }
    pub fn error(code: i32, stderr: String) -> Output {
        Output {
            stderr,
            code,
            ..Default::default()
        }
    }
    /// `ERROR <msg>` on stderr, exit 1, as the juju CLI reports failures.
    pub fn juju_error(msg: impl std::fmt::Display) -> Output {
        let msg = msg.to_string();
        let msg = msg.strip_prefix("ERROR ").unwrap_or(&msg).to_string();
        Output::error(1, format!("ERROR {msg}\n"))
    }
}

#[derive(Debug, Error)]
pub enum Error {
    #[error("cannot start the Kubernetes simulator: {0}")]
    Kube(String),
    #[error("cannot start the Juju simulator: {0}")]
    Juju(#[from] jujusim::Error),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("state directory {0}: {1}")]
    State(String, String),
}

/// Options of `meshsim run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub keep_going: bool,
    /// Keep controller and cluster state here between runs.
    pub state: Option<PathBuf>,
}

/// The simulated world: one Kubernetes API server, one Juju controller, the CLI's current model.
pub struct Sim {
    pub kube: Arc<kubesim::Server>,
    pub ctl: jujusim::Controller,
    pub work: PathBuf,
    kubeconfig: PathBuf,
    pub current_model: Option<String>,
    /// Per model, the last operation or task id handed out (`juju exec` / `juju run`): Juju
    /// numbers a model's operations and tasks from one sequence.
    operations: std::collections::BTreeMap<String, u64>,
    state: Option<PathBuf>,
    // Removed on drop when no --state was given.
    _tmp: Option<tempfile::TempDir>,
}

/// The first shell operator or expansion outside quotes (`$` also inside double quotes), if any.
pub fn shell_syntax(line: &str) -> Option<String> {
    let chars: Vec<char> = line.chars().collect();
    let (mut single, mut double) = (false, false);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\\' if !single => i += 1,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '$' if !single
                && next.is_some_and(|n| n.is_ascii_alphabetic() || "_{(".contains(n)) =>
            {
                return Some(format!("${}", next.unwrap_or_default()));
            }
            '`' if !single => return Some("`".into()),
            '|' | ';' | '&' | '<' | '>' if !single && !double => {
                let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
                return Some(match two.as_str() {
                    "||" | "&&" | ">>" | "<<" => two,
                    _ => c.to_string(),
                });
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Operation counters, in the state directory.
const OPERATIONS_FILE: &str = "operations.json";

fn io(ctx: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let ctx = ctx.into();
    move |e| Error::Io(ctx, e)
}

impl Sim {
    /// A fresh world (or the one saved in `state`).
    pub fn new(state: Option<&Path>) -> Result<Sim, Error> {
        // Hooks run in their charm's directory: every path handed to jujusim must be absolute.
        let state: Option<PathBuf> = match state {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(io(dir.display().to_string()))?;
                Some(dir.canonicalize().map_err(io(dir.display().to_string()))?)
            }
            None => None,
        };
        let state = state.as_deref();
        let (work, tmp) = match state {
            Some(dir) => {
                let w = dir.join("work");
                std::fs::create_dir_all(&w).map_err(io(w.display().to_string()))?;
                (w, None)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("meshsim-")
                    .tempdir()
                    .map_err(io("temporary directory"))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let kube = kubesim::Server::start(kubesim::Config::default())
            .map_err(|e| Error::Kube(e.to_string()))?;
        let kube = Arc::new(kube);
        if let Some(dir) = state {
            let dump = dir.join("kube.json");
            if dump.is_file() {
                let text =
                    std::fs::read_to_string(&dump).map_err(io(dump.display().to_string()))?;
                let v: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| Error::State(dump.display().to_string(), e.to_string()))?;
                kube.store()
                    .restore(v)
                    .map_err(|e| Error::State(dump.display().to_string(), e.to_string()))?;
            }
        }
        let hook_tool_exe = hook_tool_exe();
        let ctl = jujusim::Controller::new(jujusim::ControllerOptions {
            kube: kube.clone(),
            hook_tool_exe,
            work_dir: work.join("juju"),
        })?;
        let mut current_model = None;
        if let Some(dir) = state {
            if dir.join("jujusim-state.json").is_file() {
                ctl.load(dir)?;
            }
            let cur = dir.join("current-model");
            if let Ok(m) = std::fs::read_to_string(&cur) {
                let m = m.trim().to_string();
                if !m.is_empty() {
                    current_model = Some(m);
                }
            }
        }
        let mut operations = std::collections::BTreeMap::new();
        if let Some(dir) = state {
            let ops = dir.join(OPERATIONS_FILE);
            if let Ok(text) = std::fs::read_to_string(&ops) {
                operations = serde_json::from_str(&text)
                    .map_err(|e| Error::State(ops.display().to_string(), e.to_string()))?;
            }
        }
        let kubeconfig = work.join("kubeconfig");
        std::fs::write(&kubeconfig, kube.kubeconfig(None))
            .map_err(io(kubeconfig.display().to_string()))?;
        Ok(Sim {
            kube,
            ctl,
            work,
            kubeconfig,
            current_model,
            operations,
            state: state.map(Path::to_path_buf),
            _tmp: tmp,
        })
    }

    /// Saves the world into the state directory, if one was given.
    pub fn save(&self) -> Result<(), Error> {
        let Some(dir) = &self.state else {
            return Ok(());
        };
        self.ctl.save(dir)?;
        let dump = dir.join("kube.json");
        let text = serde_json::to_string(&self.kube.store().dump())
            .map_err(|e| Error::State(dump.display().to_string(), e.to_string()))?;
        std::fs::write(&dump, text).map_err(io(dump.display().to_string()))?;
        let cur = dir.join("current-model");
        std::fs::write(&cur, self.current_model.clone().unwrap_or_default())
            .map_err(io(cur.display().to_string()))?;
        let ops = dir.join(OPERATIONS_FILE);
        let text = serde_json::to_string(&self.operations)
            .map_err(|e| Error::State(ops.display().to_string(), e.to_string()))?;
        std::fs::write(&ops, text).map_err(io(ops.display().to_string()))?;
        Ok(())
    }

    /// A new operation with one task in `model`: `(operation id, task id)`, as Juju numbers them
    /// (the first `juju exec` of a model is operation 1 with task 2, the next 3 and 4, ...).
    pub fn next_operation(&mut self, model: &str) -> (u64, u64) {
        let last = self.operations.entry(model.to_string()).or_insert(0);
        let operation = *last + 1;
        *last += 2;
        (operation, operation + 1)
    }

    pub fn store(&self) -> kubesim::Store {
        self.kube.store()
    }

    /// Runs hooks to quiescence, then the cluster controllers, repeating while they change
    /// things (bounded, so a flapping controller cannot hang a run).
    pub fn settle(&self) -> Result<(), jujusim::Error> {
        self.ctl.run_until_idle()?;
        let store = self.store();
        let models = self.ctl.models();
        for _ in 0..5 {
            let changed = cluster::reconcile(&store);
            tracing::debug!(?changed, "simulated cluster controllers");
            if changed.is_empty() {
                break;
            }
            for ns in changed.iter().filter(|ns| models.contains(ns)) {
                self.ctl.update_status(Some(ns))?;
            }
            self.ctl.run_until_idle()?;
        }
        Ok(())
    }

    /// Executes one command line.
    pub fn execute(&mut self, line: &str) -> Output {
        // There is no shell: say so rather than pass `|`, `>` or `$X` on as words and print
        // something a shell would not.
        if let Some(op) = shell_syntax(line) {
            return Output::error(
                2,
                format!("meshsim: `{op}` is shell syntax; meshsim runs one command per line, without a shell (no pipes, redirections, command lists, substitutions or variables)\n"),
            );
        }
        let argv = match shell_words::split(line) {
            Ok(a) => a,
            Err(e) => return Output::error(2, format!("meshsim: cannot parse the line: {e}\n")),
        };
        let Some(cmd) = argv.first() else {
            return Output::default();
        };
        let out = match cmd.as_str() {
            "juju" => juju::run(self, &argv[1..]),
            "kubectl" => self.kubectl(&argv[1..]),
            "echo" => Output::ok(format!("{}\n", argv[1..].join(" "))),
            // Pacing commands of a real session mean nothing here: the world is settled.
            "sleep" => Output::default(),
            other => Output::error(
                127,
                format!("meshsim: {other}: command not simulated (meshsim runs juju, kubectl, echo and sleep)\n"),
            ),
        };
        if let Err(e) = self.settle() {
            let mut out = out;
            out.stderr.push_str(&format!("ERROR {e}\n"));
            if out.code == 0 {
                out.code = 1;
            }
            return out;
        }
        out
    }

    fn kubectl(&self, args: &[String]) -> Output {
        match kubectl::find_kubectl() {
            Some(k) => kubectl::run_real(&k, &self.kubeconfig, args),
            None => kubectl::builtin(&self.store(), args),
        }
    }

    /// Path of a kubeconfig for kubesim (cluster-admin).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }
}

/// The multi-call hook-tool binary jujusim puts on the hook PATH: meshsim itself (its `main`
/// dispatches on argv[0]) or `$MESHSIM_HOOK_TOOL`.
pub fn hook_tool_exe() -> PathBuf {
    if let Some(p) = std::env::var_os("MESHSIM_HOOK_TOOL") {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe() {
        // Under `cargo test` the current exe is the test binary; use the built meshsim instead.
        let is_meshsim = exe
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n == "meshsim");
        if is_meshsim {
            return exe;
        }
    }
    charms::find_binary("meshsim")
        .or_else(|_| charms::find_binary("jujusim-hook-tool"))
        .unwrap_or_else(|_| PathBuf::from("meshsim"))
}

/// Result of a run: the exit status and, if one failed, the first failing command.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub code: i32,
    pub failed: Option<(script::CommandLine, i32)>,
    pub commands_run: usize,
}

/// Reads every file into command lines (missing files are an error naming the file).
pub fn load_commands(files: &[PathBuf]) -> Result<Vec<script::CommandLine>, Error> {
    let mut all = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(io(f.display().to_string()))?;
        all.extend(script::commands(&f.display().to_string(), &text));
    }
    Ok(all)
}

/// Runs command lines in `sim`, writing the transcript to `out`.
pub fn run_commands(
    sim: &mut Sim,
    commands: &[script::CommandLine],
    keep_going: bool,
    out: &mut dyn Write,
) -> std::io::Result<RunReport> {
    let mut report = RunReport::default();
    for c in commands {
        writeln!(out, "$ {}", c.text)?;
        let started = std::time::Instant::now();
        let o = sim.execute(&c.text);
        tracing::info!(command = %c.text, elapsed_ms = started.elapsed().as_millis() as u64, hooks = sim.ctl.hook_log().len(), "command done");
        report.commands_run += 1;
        for s in [&o.stdout, &o.stderr] {
            if !s.is_empty() {
                out.write_all(s.as_bytes())?;
                // Keep the next `$` at the start of a line even when curl prints no newline.
                if !s.ends_with('\n') {
                    writeln!(out)?;
                }
            }
        }
        if o.code != 0 {
            if report.failed.is_none() {
                report.failed = Some((c.clone(), o.code));
                report.code = o.code;
            }
            writeln!(
                out,
                "meshsim: {}:{}: command exited with status {}",
                c.file, c.line, o.code
            )?;
            if !keep_going {
                break;
            }
        }
    }
    out.flush()?;
    Ok(report)
}

/// `meshsim run`: loads files, runs them in a fresh (or saved) world, saves state.
pub fn run(files: &[PathBuf], opts: &RunOptions, out: &mut dyn Write) -> Result<RunReport, Error> {
    let commands = load_commands(files)?;
    let mut sim = Sim::new(opts.state.as_deref())?;
    let report =
        run_commands(&mut sim, &commands, opts.keep_going, out).map_err(io("writing output"))?;
    sim.save()?;
    Ok(report)
}
