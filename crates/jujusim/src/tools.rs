//! Server side of the hook tools: argv parsing (gnuflag-like, as Juju's jujuc commands),
//! the tools' semantics against a hook context, and Juju's output formats.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::charm::parse_go_bool;
use crate::client::{ToolRequest, ToolResponse};
use crate::controller::{HookCtx, Inner, LogLine};
use crate::state::{split_unit_key, unit_key, Bag, PortRange, Relation, StatusInfo};

/// A tool failure: `usage` ones exit 2 (flag/argument errors), others exit 1.
struct Fail {
    msg: String,
    usage: bool,
    /// `-h`/`--help`: `msg` goes to stdout and the tool exits 0.
    help: bool,
}

fn usage(msg: impl Into<String>) -> Fail {
    Fail {
        msg: msg.into(),
        usage: true,
        help: false,
    }
}
fn fail(msg: impl Into<String>) -> Fail {
    Fail {
        msg: msg.into(),
        usage: false,
        help: false,
    }
}

type Out = Result<String, Fail>;

#[derive(Clone, Copy, PartialEq)]
enum Fmt {
    Smart,
    Yaml,
    Json,
}

struct FlagDef {
    canonical: &'static str,
    names: &'static [&'static str],
    takes_value: bool,
}

const fn val(canonical: &'static str, names: &'static [&'static str]) -> FlagDef {
    FlagDef {
        canonical,
        names,
        takes_value: true,
    }
}
const fn boolean(canonical: &'static str, names: &'static [&'static str]) -> FlagDef {
    FlagDef {
        canonical,
        names,
        takes_value: false,
    }
}

const FORMAT: FlagDef = val("format", &["format"]);
const RELATION: FlagDef = val("relation", &["r", "relation"]);

#[derive(Default)]
struct Parsed {
    /// canonical -> (name as typed, value)
    flags: BTreeMap<&'static str, (String, String)>,
    args: Vec<String>,
}

impl Parsed {
    fn get(&self, c: &str) -> Option<&str> {
        self.flags.get(c).map(|(_, v)| v.as_str())
    }
    fn flag_name(&self, c: &str) -> String {
        self.flags
            .get(c)
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| format!("--{c}"))
    }
    fn bool(&self, c: &str) -> bool {
        self.get(c) == Some("true")
    }
}

/// gnuflag-style parsing: flags may be interspersed with arguments; `--` ends flags.
fn parse(args: &[String], defs: &[FlagDef]) -> Result<Parsed, Fail> {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            p.args.extend(args[i..].iter().cloned());
            break;
        }
        if !a.starts_with('-') || a == "-" {
            p.args.push(a.clone());
            continue;
        }
        let dashes = if a.starts_with("--") { 2 } else { 1 };
        let body = &a[dashes..];
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let shown = format!("{}{}", &a[..dashes], name);
        let Some(def) = defs.iter().find(|d| d.names.contains(&name)) else {
            if name == "h" || name == "help" {
                let mut opts: Vec<String> = defs
                    .iter()
                    .map(|d| {
                        let n = d.names.last().copied().unwrap_or(d.canonical);
                        let dash = if n.len() == 1 { "-" } else { "--" };
                        if d.takes_value {
                            format!("{dash}{n} (= \"\")")
                        } else {
                            format!("{dash}{n}  (= false)")
                        }
                    })
                    .collect();
                opts.sort();
                return Err(Fail {
                    msg: format!(
                        "Usage: {{tool}} [options]\n\nOptions:\n{}\n",
                        opts.join("\n")
                    ),
                    usage: false,
                    help: true,
                });
            }
            return Err(usage(format!("option provided but not defined: {shown}")));
        };
        let value = if def.takes_value {
            match inline {
                Some(v) => v,
                None => {
                    if i >= args.len() {
                        return Err(usage(format!("option needs an argument: {shown}")));
                    }
                    i += 1;
                    args[i - 1].clone()
                }
            }
        } else {
            match inline {
                None => "true".to_string(),
                Some(v) => match parse_go_bool(&v) {
                    Some(b) => b.to_string(),
                    None => {
                        return Err(usage(format!(
                            "invalid value {v:?} for option {shown}: strconv.ParseBool: parsing {v:?}: invalid syntax"
                        )))
                    }
                },
            }
        };
        p.flags.insert(def.canonical, (shown, value));
    }
    Ok(p)
}

fn format_of(p: &Parsed, default: Fmt, allow_smart: bool) -> Result<Fmt, Fail> {
    match p.get("format") {
        None => Ok(default),
        Some("json") => Ok(Fmt::Json),
        Some("yaml") => Ok(Fmt::Yaml),
        Some("smart") if allow_smart => Ok(Fmt::Smart),
        Some(other) => Err(usage(format!(
            "invalid value {other:?} for option {}: unknown format {other:?}",
            p.flag_name("format")
        ))),
    }
}

fn check_empty(args: &[String]) -> Result<(), Fail> {
    if args.is_empty() {
        Ok(())
    } else {
        let quoted: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
        Err(usage(format!("unrecognized args: [{}]", quoted.join(" "))))
    }
}

fn yaml(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        _ => serde_yaml::to_string(v).unwrap_or_default(),
    }
}

/// Juju's cmd.Output: formats and terminates with a newline (nothing for empty output).
fn render(fmt: Fmt, v: &Value) -> String {
    let mut s = match fmt {
        Fmt::Json => serde_json::to_string(v).unwrap_or_default(),
        Fmt::Yaml => yaml(v),
        Fmt::Smart => match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) if items.iter().all(|i| i.is_string()) => items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => yaml(v),
        },
    };
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn bag_value(b: &Bag) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in b {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(m)
}

fn sorted_obj(m: BTreeMap<String, Value>) -> Value {
    let mut o = serde_json::Map::new();
    for (k, v) in m {
        o.insert(k, v);
    }
    Value::Object(o)
}

/// Parses `key=value` arguments (juju/utils keyvalues.Parse with allowEmptyValues).
fn key_values(args: &[String]) -> Result<Vec<(String, String)>, Fail> {
    let mut out: Vec<(String, String)> = Vec::new();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            return Err(usage(format!("expected \"key=value\", got {a:?}")));
        };
        if k.is_empty() {
            return Err(usage(format!("expected \"key=value\", got {a:?}")));
        }
        if out.iter().any(|(ek, _)| ek == k) {
            return Err(usage(format!("key {k:?} specified more than once")));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// Reads a YAML (or JSON) map of settings, as `relation-set --file`.
fn settings_file(text: &str) -> Result<Vec<(String, String)>, Fail> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| fail(format!("yaml: {e}")))?;
    let mut out = Vec::new();
    match doc {
        serde_yaml::Value::Null => {}
        serde_yaml::Value::Mapping(m) => {
            for (k, v) in m {
                let k = scalar_string(&k)
                    .ok_or_else(|| fail("yaml: unmarshal errors: key is not a scalar"))?;
                let v = scalar_string(&v).ok_or_else(|| {
                    fail(format!(
                        "yaml: unmarshal errors:\n  cannot unmarshal non-scalar value of {k:?} into string"
                    ))
                })?;
                out.push((k, v));
            }
        }
        _ => {
            return Err(fail(
                "yaml: unmarshal errors:\n  cannot unmarshal into map[string]string",
            ))
        }
    }
    Ok(out)
}

fn scalar_string(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Runs one hook tool invocation against the context it names.
pub(crate) fn run_tool(inner: &mut Inner, req: &ToolRequest) -> ToolResponse {
    let Some(mut ctx) = inner.contexts.remove(&req.context_id) else {
        return ToolResponse {
            stdout: String::new(),
            stderr: format!("ERROR context {:?} not found\n", req.context_id),
            code: 1,
        };
    };
    let result = dispatch(inner, &mut ctx, req);
    inner.contexts.insert(req.context_id.clone(), ctx);
    match result {
        Ok(stdout) => ToolResponse {
            stdout,
            stderr: String::new(),
            code: 0,
        },
        Err(f) if f.help => ToolResponse {
            stdout: f.msg.replace("{tool}", &req.tool),
            stderr: String::new(),
            code: 0,
        },
        Err(f) => ToolResponse {
            stdout: String::new(),
            stderr: format!("ERROR {}\n", f.msg),
            code: if f.usage { 2 } else { 1 },
        },
    }
}

fn dispatch(inner: &mut Inner, ctx: &mut HookCtx, req: &ToolRequest) -> Out {
    let a = &req.args;
    match req.tool.as_str() {
        "relation-ids" => relation_ids(inner, ctx, a),
        "relation-list" => relation_list(inner, ctx, a),
        "relation-get" => relation_get(inner, ctx, a),
        "relation-set" => relation_set(inner, ctx, req),
        "relation-model-get" => relation_model_get(inner, ctx, a),
        "is-leader" => is_leader(inner, ctx, a),
        "config-get" => config_get(inner, ctx, a),
        "status-set" => status_set(inner, ctx, a),
        "status-get" => status_get(inner, ctx, a),
        "application-version-set" => app_version_set(inner, ctx, a),
        "juju-log" => juju_log(inner, ctx, a),
        "action-get" => action_get(ctx, a),
        "action-set" => action_set(ctx, a),
        "action-fail" => action_fail(ctx, a),
        "action-log" => action_log(inner, ctx, a),
        "leader-get" => leader_get(inner, ctx, a),
        "leader-set" => leader_set(inner, ctx, a),
        "state-get" => state_get(inner, ctx, a),
        "state-set" => state_set(inner, ctx, req),
        "state-delete" => state_delete(inner, ctx, a),
        "open-port" => port_change(inner, ctx, a, true),
        "close-port" => port_change(inner, ctx, a, false),
        "opened-ports" => opened_ports(inner, ctx, a),
        "network-get" => network_get(inner, ctx, a),
        "goal-state" => goal_state(inner, ctx, a),
        "unit-get" => unit_get(inner, ctx, a),
        other => Err(usage(format!("unknown command {other:?}"))),
    }
}

// ---- relation helpers ----

/// Relation `id` as seen from the context's model, if the unit's application is in it.
fn ctx_relation<'a>(inner: &'a Inner, ctx: &HookCtx, id: u64) -> Option<&'a Relation> {
    inner.state.relations.values().find(|r| {
        r.ids.get(&ctx.model) == Some(&id) && r.endpoint_of(&ctx.model, &ctx.app).is_some()
    })
}

/// Resolves `-r` (or the hook's relation) to a relation uid.
fn relation_flag(inner: &Inner, ctx: &HookCtx, p: &Parsed) -> Result<u64, Fail> {
    match p.flags.get("relation") {
        Some((name, value)) => {
            let trim = value.rsplit(':').next().unwrap_or(value);
            let id: u64 = trim.parse().map_err(|_| {
                usage(format!(
                    "invalid value {value:?} for option {name}: invalid relation id"
                ))
            })?;
            ctx_relation(inner, ctx, id).map(|r| r.uid).ok_or_else(|| {
                usage(format!(
                    "invalid value {value:?} for option {name}: relation not found"
                ))
            })
        }
        None => ctx
            .event
            .as_ref()
            .and_then(|e| e.relation)
            .filter(|uid| inner.state.relations.contains_key(uid))
            .ok_or_else(|| usage("no relation id specified")),
    }
}

fn rel(inner: &Inner, uid: u64) -> Result<&Relation, Fail> {
    inner
        .state
        .relations
        .get(&uid)
        .ok_or_else(|| fail("relation not found"))
}

fn fake_id(r: &Relation, ctx: &HookCtx) -> String {
    let ep = r
        .endpoint_of(&ctx.model, &ctx.app)
        .map(|e| e.name.clone())
        .unwrap_or_default();
    format!("{}:{}", ep, r.ids.get(&ctx.model).copied().unwrap_or(0))
}

fn is_leader_ctx(inner: &Inner, ctx: &HookCtx) -> bool {
    inner
        .state
        .models
        .get(&ctx.model)
        .and_then(|m| m.apps.get(&ctx.app))
        .map(|a| a.leader == Some(ctx.unit))
        .unwrap_or(false)
}

fn relation_ids(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[FORMAT])?;
    let fmt = format_of(&p, Fmt::Smart, true)?;
    let mut args = p.args.clone();
    let name = if args.is_empty() {
        ctx.event
            .as_ref()
            .and_then(|e| e.relation)
            .and_then(|uid| inner.state.relations.get(&uid))
            .and_then(|r| r.endpoint_of(&ctx.model, &ctx.app))
            .map(|e| e.name.clone())
            .ok_or_else(|| usage("no relation name specified"))?
    } else {
        args.remove(0)
    };
    check_empty(&args)?;
    let mut ids: Vec<(u64, String)> = inner
        .state
        .relations
        .values()
        .filter(|r| !r.dying)
        .filter_map(|r| {
            let ep = r.endpoint_of(&ctx.model, &ctx.app)?;
            (ep.name == name).then(|| {
                let id = r.ids.get(&ctx.model).copied().unwrap_or(0);
                (id, format!("{name}:{id}"))
            })
        })
        .collect();
    // Go's sort.Strings: "db:10" sorts before "db:2", as in Juju.
    ids.sort_by(|a, b| a.1.cmp(&b.1));
    let v = Value::Array(ids.into_iter().map(|(_, s)| Value::String(s)).collect());
    Ok(render(fmt, &v))
}

fn relation_list(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[FORMAT, RELATION, boolean("app", &["app"])])?;
    let fmt = format_of(&p, Fmt::Smart, true)?;
    let uid = relation_flag(inner, ctx, &p)?;
    check_empty(&p.args)?;
    let r = rel(inner, uid)?;
    if p.bool("app") {
        let other = r
            .other_endpoint(&ctx.model, &ctx.app)
            .map(|e| r.app_view(&ctx.model, &e.app_key()))
            .unwrap_or_default();
        return Ok(render(fmt, &Value::String(other)));
    }
    let me = unit_key(&ctx.model, &ctx.unit_name());
    let mut units: Vec<String> = r
        .joined
        .get(&me)
        .map(|s| s.iter().map(|u| r.unit_view(&ctx.model, u)).collect())
        .unwrap_or_default();
    units.sort_by_key(|x| natural(x));
    Ok(render(
        fmt,
        &Value::Array(units.into_iter().map(Value::String).collect()),
    ))
}

fn natural(u: &str) -> (String, u64) {
    match u.rsplit_once('/') {
        Some((a, n)) => (a.to_string(), n.parse().unwrap_or(0)),
        None => (u.to_string(), 0),
    }
}

/// Real key ("model:app/n") of a unit named `name` as the context sees it in `r`.
fn resolve_unit(r: &Relation, ctx: &HookCtx, name: &str) -> Option<String> {
    let (app_view, n) = name.split_once('/')?;
    let n: u32 = n.parse().ok()?;
    r.endpoints.iter().find_map(|e| {
        (r.app_view(&ctx.model, &e.app_key()) == app_view)
            .then(|| format!("{}:{}/{}", e.model, e.app, n))
    })
}

fn relation_get(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[FORMAT, RELATION, boolean("app", &["app"])])?;
    let fmt = format_of(&p, Fmt::Smart, true)?;
    let uid = relation_flag(inner, ctx, &p)?;
    let mut args = p.args.clone();
    let mut key = String::new();
    if !args.is_empty() {
        key = args.remove(0);
        if key == "-" {
            key.clear();
        }
    }
    let mut app = p.bool("app");
    let r = rel(inner, uid)?;
    let ev = ctx.event.clone();
    let remote_unit = ev
        .as_ref()
        .filter(|e| e.relation == Some(uid))
        .and_then(|e| e.remote_unit.clone())
        .map(|u| r.unit_view(&ctx.model, &u));
    let remote_app = ev
        .as_ref()
        .filter(|e| e.relation == Some(uid))
        .and_then(|e| e.remote_app.clone())
        .map(|u| r.app_view(&ctx.model, &u));
    let target = if !args.is_empty() {
        let t = args.remove(0);
        if app {
            t.split_once('/').map(|(a, _)| a.to_string()).unwrap_or(t)
        } else {
            t
        }
    } else if app {
        remote_app.ok_or_else(|| usage("no unit or application specified"))?
    } else if let Some(u) = remote_unit {
        u
    } else if let Some(ap) = remote_app {
        app = true;
        ap
    } else {
        return Err(usage("no unit or application specified"));
    };
    check_empty(&args)?;
    let fid = fake_id(r, ctx);
    let me_unit = ctx.unit_name();
    let leader = is_leader_ctx(inner, ctx);
    let bag: Bag = if app {
        let own_app = target == ctx.app;
        let real = r
            .endpoints
            .iter()
            .find(|e| r.app_view(&ctx.model, &e.app_key()) == target)
            .map(|e| e.app_key());
        let Some(real) = real else {
            return Err(fail(format!(
                "cannot read settings for application {target:?} in relation {fid:?}: application {target:?}: settings not found"
            )));
        };
        if own_app && leader {
            ctx.staged
                .app_bags
                .get(&uid)
                .cloned()
                .unwrap_or_else(|| r.app_bags.get(&real).cloned().unwrap_or_default())
        } else if own_app && !r.is_peer() {
            return Err(fail("permission denied"));
        } else {
            r.app_bags.get(&real).cloned().unwrap_or_default()
        }
    } else if target == me_unit {
        let me = unit_key(&ctx.model, &me_unit);
        ctx.staged
            .unit_bags
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| r.unit_bags.get(&me).cloned().unwrap_or_default())
    } else {
        let not_found = || {
            fail(format!(
                "cannot read settings for unit {target:?} in relation {fid:?}: unit {target:?}: settings not found"
            ))
        };
        let real = resolve_unit(r, ctx, &target).ok_or_else(not_found)?;
        let (m, ap, _) = split_unit_key(&real).ok_or_else(not_found)?;
        if m == ctx.model && ap == ctx.app && !r.is_peer() {
            return Err(fail("permission denied"));
        }
        let exists = inner
            .state
            .models
            .get(m)
            .and_then(|mm| mm.apps.get(ap))
            .and_then(|aa| split_unit_key(&real).and_then(|(_, _, n)| aa.units.get(&n)))
            .is_some()
            || r.unit_bags.contains_key(&real)
            || ev.as_ref().is_some_and(|e| {
                e.relation == Some(uid)
                    && (e.remote_unit.as_deref() == Some(real.as_str())
                        || e.departing.as_deref() == Some(real.as_str()))
            });
        if !exists {
            return Err(not_found());
        }
        r.unit_bags.get(&real).cloned().unwrap_or_default()
    };
    if key.is_empty() {
        Ok(render(fmt, &bag_value(&bag)))
    } else {
        let v = bag
            .get(&key)
            .map(|s| Value::String(s.clone()))
            .unwrap_or(Value::Null);
        Ok(render(fmt, &v))
    }
}

fn read_file_arg(req: &ToolRequest, path: &str) -> Result<String, Fail> {
    if path == "-" {
        return Ok(req.stdin.clone().unwrap_or_default());
    }
    let p = std::path::Path::new(path);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::path::Path::new(&req.cwd).join(p)
    };
    std::fs::read_to_string(&full).map_err(|e| fail(format!("open {path}: {e}")))
}

fn relation_set(inner: &mut Inner, ctx: &mut HookCtx, req: &ToolRequest) -> Out {
    let p = parse(
        &req.args,
        &[
            FORMAT,
            RELATION,
            boolean("app", &["app"]),
            val("file", &["file"]),
        ],
    )?;
    let uid = relation_flag(inner, ctx, &p)?;
    let overrides = key_values(&p.args)?;
    let mut settings = match p.get("file") {
        Some(path) => settings_file(&read_file_arg(req, path)?)?,
        None => Vec::new(),
    };
    for (k, v) in overrides {
        settings.retain(|(ek, _)| *ek != k);
        settings.push((k, v));
    }
    let r = rel(inner, uid)?;
    let leader = is_leader_ctx(inner, ctx);
    let bag = if p.bool("app") {
        if !leader {
            return Err(fail("permission denied"));
        }
        let real = format!("{}:{}", ctx.model, ctx.app);
        let current = r.app_bags.get(&real).cloned().unwrap_or_default();
        ctx.staged.app_bags.entry(uid).or_insert(current)
    } else {
        let me = unit_key(&ctx.model, &ctx.unit_name());
        let current = r.unit_bags.get(&me).cloned().unwrap_or_default();
        ctx.staged.unit_bags.entry(uid).or_insert(current)
    };
    for (k, v) in settings {
        if v.is_empty() {
            bag.remove(&k);
        } else {
            bag.insert(k, v);
        }
    }
    Ok(String::new())
}

fn relation_model_get(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[FORMAT, RELATION])?;
    let fmt = format_of(&p, Fmt::Smart, true)?;
    let uid = relation_flag(inner, ctx, &p)?;
    check_empty(&p.args)?;
    let r = rel(inner, uid)?;
    let other_model = r
        .other_endpoint(&ctx.model, &ctx.app)
        .map(|e| e.model.clone())
        .unwrap_or_else(|| ctx.model.clone());
    let uuid = inner
        .state
        .models
        .get(&other_model)
        .map(|m| m.uuid.clone())
        .unwrap_or_default();
    Ok(render(fmt, &json!({ "uuid": uuid })))
}

fn is_leader(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[FORMAT])?;
    let fmt = format_of(&p, Fmt::Smart, true)?;
    check_empty(&p.args)?;
    Ok(render(fmt, &Value::Bool(is_leader_ctx(inner, ctx))))
}

fn config_get(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[FORMAT, boolean("all", &["a", "all"])])?;
    let fmt = format_of(&p, Fmt::Smart, true)?;
    let mut args = p.args.clone();
    let key = if args.is_empty() {
        None
    } else {
        Some(args.remove(0))
    };
    check_empty(&args)?;
    if let (Some(k), true) = (&key, p.bool("all")) {
        return Err(usage(format!(
            "cannot use argument --all together with key {k:?}"
        )));
    }
    let app = inner
        .state
        .models
        .get(&ctx.model)
        .and_then(|m| m.apps.get(&ctx.app))
        .ok_or_else(|| fail("application not found"))?;
    let mut all = BTreeMap::new();
    for (k, opt) in &app.meta.config {
        let v = app
            .config
            .get(k)
            .cloned()
            .or_else(|| opt.default.clone())
            .unwrap_or(Value::Null);
        all.insert(k.clone(), v);
    }
    match key {
        Some(k) => Ok(render(fmt, all.get(&k).unwrap_or(&Value::Null))),
        None => {
            if !p.bool("all") {
                all.retain(|_, v| !v.is_null());
            }
            Ok(render(fmt, &sorted_obj(all)))
        }
    }
}

const STATUSES: [&str; 4] = ["maintenance", "blocked", "waiting", "active"];

fn status_set(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[boolean("application", &["application"])])?;
    let mut args = p.args.clone();
    if args.is_empty() {
        return Err(usage("invalid args, require <status> [message] [data]"));
    }
    let status = args.remove(0);
    if !STATUSES.contains(&status.as_str()) {
        return Err(usage(format!(
            "invalid status {status:?}, expected one of [{}]",
            STATUSES.join(" ")
        )));
    }
    let message = if args.is_empty() {
        String::new()
    } else {
        args.remove(0)
    };
    check_empty(&args)?;
    let application = p.bool("application");
    let leader = is_leader_ctx(inner, ctx);
    let Some(app) = inner
        .state
        .models
        .get_mut(&ctx.model)
        .and_then(|m| m.apps.get_mut(&ctx.app))
    else {
        return Err(fail("application not found"));
    };
    if application {
        if !leader {
            return Err(fail(
                "setting application status: this unit is not the leader",
            ));
        }
        app.status = Some(StatusInfo::new(&status, &message));
    } else if let Some(u) = app.units.get_mut(&ctx.unit) {
        u.workload = StatusInfo::new(&status, &message);
    }
    Ok(String::new())
}

fn status_details(s: &StatusInfo, include: bool) -> Value {
    let mut m = BTreeMap::new();
    m.insert("status".to_string(), Value::String(s.status.clone()));
    if include {
        m.insert("message".into(), Value::String(s.message.clone()));
        let mut d = BTreeMap::new();
        for (k, v) in &s.data {
            d.insert(k.clone(), v.clone());
        }
        m.insert("status-data".into(), sorted_obj(d));
    }
    sorted_obj(m)
}

fn status_get(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(
        a,
        &[
            FORMAT,
            boolean("include-data", &["include-data"]),
            boolean("application", &["application"]),
        ],
    )?;
    let fmt = format_of(&p, Fmt::Smart, true)?;
    check_empty(&p.args)?;
    let include = p.bool("include-data");
    let leader = is_leader_ctx(inner, ctx);
    let app = inner
        .state
        .models
        .get(&ctx.model)
        .and_then(|m| m.apps.get(&ctx.app))
        .ok_or_else(|| fail("application not found"))?;
    if p.bool("application") {
        if !leader {
            return Err(fail(
                "finding application status: this unit is not the leader",
            ));
        }
        let st = crate::status::app_status(app);
        if !include && fmt == Fmt::Smart {
            return Ok(render(fmt, &Value::String(st.status)));
        }
        let mut details = match status_details(&st, include) {
            Value::Object(o) => o,
            _ => serde_json::Map::new(),
        };
        let mut units = BTreeMap::new();
        for u in app.units.values() {
            units.insert(
                format!("{}/{}", app.name, u.number),
                status_details(&u.workload, include),
            );
        }
        details.insert("units".into(), sorted_obj(units));
        return Ok(render(fmt, &json!({ "application-status": details })));
    }
    let u = app
        .units
        .get(&ctx.unit)
        .ok_or_else(|| fail("unit not found"))?;
    if !include && fmt == Fmt::Smart {
        return Ok(render(fmt, &Value::String(u.workload.status.clone())));
    }
    Ok(render(fmt, &status_details(&u.workload, include)))
}

fn app_version_set(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[])?;
    let mut args = p.args.clone();
    if args.is_empty() {
        return Err(usage("no version specified"));
    }
    let v = args.remove(0);
    check_empty(&args)?;
    if let Some(app) = inner
        .state
        .models
        .get_mut(&ctx.model)
        .and_then(|m| m.apps.get_mut(&ctx.app))
    {
        app.version = v;
    }
    Ok(String::new())
}

fn juju_log(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(
        a,
        &[
            FORMAT,
            val("log-level", &["l", "log-level"]),
            boolean("debug", &["debug"]),
        ],
    )?;
    if p.args.is_empty() {
        return Err(usage("no message specified"));
    }
    let mut level = p.get("log-level").unwrap_or("INFO").to_uppercase();
    if p.bool("debug") {
        level = "DEBUG".into();
    }
    if level == "WARN" {
        level = "WARNING".into();
    }
    if !["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].contains(&level.as_str()) {
        // juju-log warns and falls back to INFO on an unknown level.
        let warn = format!("Specified log level of {level:?} is not valid");
        inner.log(ctx, "WARNING", "juju.worker.uniter.runner.jujuc", &warn);
        level = "INFO".into();
    }
    let mut msg = p.args.join(" ");
    if let Some(uid) = ctx.event.as_ref().and_then(|e| e.relation) {
        if let Some(r) = inner.state.relations.get(&uid) {
            msg = format!("{}: {}", fake_id(r, ctx), msg);
        }
    }
    let module = format!("unit.{}.juju-log", ctx.unit_name());
    inner.log(ctx, &level, &module, &msg);
    Ok(String::new())
}

fn no_action() -> Fail {
    fail("not running an action")
}

fn action_get(ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[FORMAT])?;
    let fmt = format_of(&p, Fmt::Smart, true)?;
    let act = ctx.action.as_ref().ok_or_else(no_action)?;
    let mut args = p.args.clone();
    if args.is_empty() {
        return Ok(render(fmt, &act.params));
    }
    let key = args.remove(0);
    check_empty(&args)?;
    let mut cur = &act.params;
    for part in key.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return Ok(String::new()),
        }
    }
    Ok(render(fmt, cur))
}

fn valid_action_key(k: &str) -> bool {
    let ok_chars = k
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    ok_chars && ends(k.chars().next()) && ends(k.chars().last())
}

fn action_set(ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[])?;
    if ctx.action.is_none() {
        return Err(no_action());
    }
    if p.args.is_empty() {
        return Err(usage("no key=value pairs specified"));
    }
    let mut pairs = Vec::new();
    for arg in &p.args {
        let Some((k, v)) = arg.split_once('=') else {
            return Err(usage(format!(
                "argument {arg:?} must be of the form key...=value"
            )));
        };
        let keys: Vec<&str> = k.split('.').collect();
        for key in &keys {
            if !valid_action_key(key) {
                return Err(usage(format!("key {key:?} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods")));
            }
        }
        if keys.len() == 1
            && ["stdout", "stdout-encoding", "stderr", "stderr-encoding"].contains(&keys[0])
        {
            return Err(usage(format!(
                "cannot set reserved action key {:?}",
                keys[0]
            )));
        }
        pairs.push((
            keys.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            v.to_string(),
        ));
    }
    let act = ctx.action.as_mut().ok_or_else(no_action)?;
    for (keys, v) in pairs {
        let mut cur = &mut act.results;
        for (i, k) in keys.iter().enumerate() {
            if !cur.is_object() {
                *cur = json!({});
            }
            let Some(obj) = cur.as_object_mut() else {
                break;
            };
            if i == keys.len() - 1 {
                obj.insert(k.clone(), Value::String(v.clone()));
                break;
            }
            cur = obj.entry(k.clone()).or_insert_with(|| json!({}));
        }
    }
    Ok(String::new())
}

fn action_fail(ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[])?;
    let act = ctx.action.as_mut().ok_or_else(no_action)?;
    let mut args = p.args.clone();
    let msg = if args.is_empty() {
        "action failed without reason given, check action for errors".to_string()
    } else {
        args.remove(0)
    };
    check_empty(&args)?;
    act.failed = Some(msg);
    Ok(String::new())
}

fn action_log(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[])?;
    if ctx.action.is_none() {
        return Err(no_action());
    }
    if p.args.is_empty() {
        return Err(usage("no message specified"));
    }
    let msg = p.args.join(" ");
    if let Some(act) = ctx.action.as_mut() {
        act.log.push(msg.clone());
    }
    let module = format!("unit.{}.juju-log", ctx.unit_name());
    inner.log(ctx, "INFO", &module, &msg);
    Ok(String::new())
}

fn leader_get(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[FORMAT])?;
    let fmt = format_of(&p, Fmt::Smart, true)?;
    let mut args = p.args.clone();
    let key = if args.is_empty() {
        None
    } else {
        Some(args.remove(0))
    };
    check_empty(&args)?;
    let settings = match &ctx.staged.leader_settings {
        Some(s) => s.clone(),
        None => inner
            .state
            .models
            .get(&ctx.model)
            .and_then(|m| m.apps.get(&ctx.app))
            .map(|a| a.leader_settings.clone())
            .unwrap_or_default(),
    };
    match key.filter(|k| k != "-") {
        Some(k) => Ok(render(
            fmt,
            &settings
                .get(&k)
                .map(|v| Value::String(v.clone()))
                .unwrap_or(Value::Null),
        )),
        None => Ok(render(fmt, &bag_value(&settings))),
    }
}

fn leader_set(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[])?;
    let kvs = key_values(&p.args)?;
    if !is_leader_ctx(inner, ctx) {
        return Err(fail(
            "cannot write leadership settings: cannot write settings: not the leader",
        ));
    }
    let current = inner
        .state
        .models
        .get(&ctx.model)
        .and_then(|m| m.apps.get(&ctx.app))
        .map(|a| a.leader_settings.clone())
        .unwrap_or_default();
    let bag = ctx.staged.leader_settings.get_or_insert(current);
    for (k, v) in kvs {
        if v.is_empty() {
            bag.remove(&k);
        } else {
            bag.insert(k, v);
        }
    }
    Ok(String::new())
}

fn current_state(inner: &Inner, ctx: &HookCtx) -> Bag {
    match &ctx.staged.state {
        Some(s) => s.clone(),
        None => inner
            .state
            .models
            .get(&ctx.model)
            .and_then(|m| m.apps.get(&ctx.app))
            .and_then(|a| a.units.get(&ctx.unit))
            .map(|u| u.state.clone())
            .unwrap_or_default(),
    }
}

fn state_get(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[FORMAT, boolean("strict", &["strict"])])?;
    let fmt = format_of(&p, Fmt::Smart, true)?;
    let mut args = p.args.clone();
    let key = if args.is_empty() {
        None
    } else {
        Some(args.remove(0))
    };
    check_empty(&args)?;
    let st = current_state(inner, ctx);
    match key {
        Some(k) => match st.get(&k) {
            Some(v) => Ok(render(fmt, &Value::String(v.clone()))),
            None if p.bool("strict") => Err(fail(format!("{k:?} not found"))),
            None => Ok(render(fmt, &Value::Null)),
        },
        None => Ok(render(fmt, &bag_value(&st))),
    }
}

fn state_set(inner: &mut Inner, ctx: &mut HookCtx, req: &ToolRequest) -> Out {
    let p = parse(&req.args, &[val("file", &["file"])])?;
    let mut settings = match p.get("file") {
        Some(path) => settings_file(&read_file_arg(req, path)?)?,
        None => Vec::new(),
    };
    for (k, v) in key_values(&p.args)? {
        settings.retain(|(ek, _)| *ek != k);
        settings.push((k, v));
    }
    let mut st = current_state(inner, ctx);
    for (k, v) in settings {
        if v.is_empty() {
            st.remove(&k);
        } else {
            st.insert(k, v);
        }
    }
    ctx.staged.state = Some(st);
    Ok(String::new())
}

fn state_delete(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[])?;
    let mut args = p.args.clone();
    if args.is_empty() {
        return Err(usage("no key specified"));
    }
    let k = args.remove(0);
    check_empty(&args)?;
    let mut st = current_state(inner, ctx);
    st.remove(&k);
    ctx.staged.state = Some(st);
    Ok(String::new())
}

const PORT_FORMAT: &str = "<port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp";

/// open-port/close-port argument, with Juju's messages.
fn parse_port(arg: &str) -> Result<PortRange, Fail> {
    let lower = arg.to_lowercase();
    let shape = || usage(format!("expected {PORT_FORMAT}; got {arg:?}"));
    if lower.starts_with("icmp") {
        return Ok(PortRange {
            protocol: "icmp".into(),
            from: 0,
            to: 0,
        });
    }
    let (range, proto) = match lower.split_once('/') {
        Some((r, p)) => (r.to_string(), p.to_string()),
        None => (lower.clone(), "tcp".to_string()),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if proto.is_empty()
        || !proto
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return Err(shape());
    }
    let (from_s, to_s) = match range.split_once('-') {
        Some((f, t)) => (f.to_string(), t.to_string()),
        None => (range.clone(), range.clone()),
    };
    if !digits(&from_s) || !digits(&to_s) {
        return Err(shape());
    }
    let num = |s: &str| s.parse::<i64>().unwrap_or(i64::MAX);
    let (from, to) = (num(&from_s), num(&to_s));
    if from > to {
        return Err(usage(format!(
            "invalid port range {from}-{to}/{proto}; expected fromPort <= toPort"
        )));
    }
    let in_range = |n: i64| (1..=65535).contains(&n);
    if from == to && !in_range(from) {
        return Err(usage(format!(
            "port must be in the range [1, 65535]; got \"{from}\""
        )));
    }
    if !in_range(from) {
        return Err(usage(format!(
            "fromPort must be in the range [1, 65535]; got \"{from}\""
        )));
    }
    if !in_range(to) {
        return Err(usage(format!(
            "toPort must be in the range [1, 65535]; got \"{to}\""
        )));
    }
    if proto == "icmp" {
        return Err(usage(format!(
            "protocol \"icmp\" doesn't support any ports; got \"{from}\""
        )));
    }
    if proto != "tcp" && proto != "udp" {
        return Err(usage(format!(
            "protocol must be \"tcp\", \"udp\", or \"icmp\"; got {proto:?}"
        )));
    }
    Ok(PortRange {
        protocol: proto,
        from: from as u16,
        to: to as u16,
    })
}

fn current_ports(inner: &Inner, ctx: &HookCtx) -> BTreeSet<PortRange> {
    match &ctx.staged.ports {
        Some(p) => p.clone(),
        None => inner
            .state
            .models
            .get(&ctx.model)
            .and_then(|m| m.apps.get(&ctx.app))
            .and_then(|a| a.units.get(&ctx.unit))
            .map(|u| u.ports.clone())
            .unwrap_or_default(),
    }
}

fn port_change(inner: &mut Inner, ctx: &mut HookCtx, a: &[String], open: bool) -> Out {
    let p = parse(a, &[FORMAT, val("endpoints", &["endpoints"])])?;
    let mut args = p.args.clone();
    if args.is_empty() {
        return Err(usage("no port or range specified"));
    }
    let port = parse_port(&args.remove(0))?;
    check_empty(&args)?;
    let mut ports = current_ports(inner, ctx);
    if open {
        ports.insert(port);
    } else {
        ports.remove(&port);
    }
    ctx.staged.ports = Some(ports);
    Ok(String::new())
}

fn opened_ports(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[FORMAT, boolean("endpoints", &["endpoints"])])?;
    let fmt = format_of(&p, Fmt::Smart, true)?;
    check_empty(&p.args)?;
    let ports: Vec<Value> = current_ports(inner, ctx)
        .iter()
        .map(|p| Value::String(p.to_string()))
        .collect();
    Ok(render(fmt, &Value::Array(ports)))
}

fn unit_ip(inner: &Inner, ctx: &HookCtx) -> String {
    inner
        .state
        .models
        .get(&ctx.model)
        .and_then(|m| m.apps.get(&ctx.app))
        .and_then(|a| a.units.get(&ctx.unit))
        .map(|u| u.ip.clone())
        .unwrap_or_default()
}

fn network_get(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(
        a,
        &[
            FORMAT,
            RELATION,
            boolean("primary-address", &["primary-address"]),
            boolean("bind-address", &["bind-address"]),
            boolean("ingress-address", &["ingress-address"]),
            boolean("egress-subnets", &["egress-subnets"]),
        ],
    )?;
    let fmt = format_of(&p, Fmt::Smart, true)?;
    if p.flags.contains_key("relation") {
        relation_flag(inner, ctx, &p)?;
    }
    let mut args = p.args.clone();
    if args.is_empty() {
        return Err(usage("no arguments specified"));
    }
    let binding = args.remove(0);
    check_empty(&args)?;
    let app = inner
        .state
        .models
        .get(&ctx.model)
        .and_then(|m| m.apps.get(&ctx.app))
        .ok_or_else(|| fail("application not found"))?;
    if app.meta.endpoint(&binding).is_none() && !app.meta.extra_bindings.contains(&binding) {
        return Err(fail(format!(
            "no network config found for binding {binding:?}"
        )));
    }
    let ip = unit_ip(inner, ctx);
    let cidr = format!("{}/32", ip);
    if p.bool("primary-address") {
        if p.bool("bind-address") || p.bool("ingress-address") || p.bool("egress-subnets") {
            return Err(fail("--primary-address must be the only flag specified"));
        }
        return Ok(render(fmt, &Value::String(ip)));
    }
    // One flag prints its value; several print a map of them (as Juju's network-get).
    let mut keys: BTreeMap<String, Value> = BTreeMap::new();
    if p.bool("bind-address") {
        keys.insert("bind-address".into(), Value::String(ip.clone()));
    }
    if p.bool("ingress-address") {
        keys.insert("ingress-address".into(), Value::String(ip.clone()));
    }
    if p.bool("egress-subnets") {
        keys.insert("egress-subnets".into(), json!([cidr]));
    }
    match keys.len() {
        0 => {}
        1 => return Ok(render(fmt, keys.values().next().unwrap_or(&Value::Null))),
        _ => return Ok(render(fmt, &sorted_obj(keys))),
    }
    let subnet = {
        let parts: Vec<&str> = ip.split('.').collect();
        if parts.len() == 4 {
            format!("{}.{}.{}.0/24", parts[0], parts[1], parts[2])
        } else {
            cidr.clone()
        }
    };
    let v = json!({
        "bind-addresses": [{
            "mac-address": "",
            "interface-name": "eth0",
            "addresses": [{"hostname": "", "value": ip, "cidr": subnet, "address": ip}],
            "macaddress": "",
            "interfacename": "eth0",
        }],
        "egress-subnets": [cidr],
        "ingress-addresses": [ip],
    });
    Ok(render(fmt, &v))
}

fn goal_status(u: &crate::state::Unit) -> &str {
    if u.dying {
        "dying"
    } else if u.failed.is_some() {
        "error"
    } else if u.workload.status == "unknown" || u.workload.status.is_empty() {
        "waiting"
    } else {
        &u.workload.status
    }
}

fn goal_state(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[FORMAT])?;
    let fmt = format_of(&p, Fmt::Yaml, false)?;
    check_empty(&p.args)?;
    let model = inner
        .state
        .models
        .get(&ctx.model)
        .ok_or_else(|| fail("model not found"))?;
    let app = model
        .apps
        .get(&ctx.app)
        .ok_or_else(|| fail("application not found"))?;
    let entry = |status: &str, since: &str| json!({"status": status, "since": since});
    let mut units = BTreeMap::new();
    for u in app.units.values() {
        units.insert(
            format!("{}/{}", app.name, u.number),
            entry(goal_status(u), &u.workload.since),
        );
    }
    let mut relations: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for r in inner.state.relations.values().filter(|r| !r.dying) {
        let Some(me) = r.endpoint_of(&ctx.model, &ctx.app) else {
            continue;
        };
        let entry_map = relations.entry(me.name.clone()).or_default();
        let Some(other) = r.other_endpoint(&ctx.model, &ctx.app) else {
            continue;
        };
        if !r.is_peer() {
            entry_map.insert(
                r.app_view(&ctx.model, &other.app_key()),
                entry("joined", &crate::state::now()),
            );
        }
        if let Some(oapp) = inner
            .state
            .models
            .get(&other.model)
            .and_then(|m| m.apps.get(&other.app))
        {
            for u in oapp.units.values() {
                if r.is_peer() && u.number == ctx.unit {
                    continue;
                }
                let key = unit_key(&other.model, &format!("{}/{}", other.app, u.number));
                entry_map.insert(
                    r.unit_view(&ctx.model, &key),
                    entry(goal_status(u), &u.workload.since),
                );
            }
        }
    }
    let rel_obj: BTreeMap<String, Value> = relations
        .into_iter()
        .map(|(k, v)| (k, sorted_obj(v)))
        .collect();
    let v = json!({"units": sorted_obj(units), "relations": sorted_obj(rel_obj)});
    Ok(render(fmt, &v))
}

fn unit_get(inner: &mut Inner, ctx: &mut HookCtx, a: &[String]) -> Out {
    let p = parse(a, &[FORMAT])?;
    let fmt = format_of(&p, Fmt::Smart, true)?;
    let mut args = p.args.clone();
    if args.is_empty() {
        return Err(usage("no setting specified"));
    }
    let what = args.remove(0);
    check_empty(&args)?;
    if what != "private-address" && what != "public-address" {
        return Err(usage(format!("unknown setting {what:?}")));
    }
    Ok(render(fmt, &Value::String(unit_ip(inner, ctx))))
}

impl Inner {
    /// Appends a debug-log line for the context's unit.
    pub(crate) fn log(&mut self, ctx: &HookCtx, level: &str, module: &str, message: &str) {
        let line = LogLine {
            model: ctx.model.clone(),
            entity: format!("unit-{}-{}", ctx.app, ctx.unit),
            timestamp: crate::state::now(),
            level: level.to_string(),
            module: module.to_string(),
            message: message.to_string(),
        };
        if let Some(m) = self.state.models.get_mut(&ctx.model) {
            m.log.push(line);
        }
    }
}
