//! The `juju` command set, with the real CLI's syntax and output shape, on jujusim.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{charms, curl, table, Output, Sim};

/// Controller name shown where Juju shows one.
pub const CONTROLLER: &str = "meshsim";
const CLOUD: &str = "meshsim/default";

/// Flags that take a value (`--flag VALUE` or `--flag=VALUE`).
const VALUE_FLAGS: &[&str] = &[
    "-m",
    "--model",
    "--channel",
    "--config",
    "-n",
    "--num-units",
    "--format",
    "-o",
    "--output",
    "-u",
    "--unit",
    "--include",
    "--exclude",
    "--base",
    "--series",
    "--revision",
    "--lines",
    "--level",
    "--scope",
    "--timeout",
    "--color",
    "--constraints",
    "--resource",
    "--application",
    "-a",
    "--storage",
    "--to",
    "--attach-storage",
];
/// Flags that pace a real deployment; they may or may not carry a duration.
const PACING_FLAGS: &[&str] = &["--watch", "--wait"];

#[derive(Debug, Default)]
struct Args {
    pos: Vec<String>,
    flags: BTreeMap<String, Vec<String>>,
    bools: Vec<String>,
    /// Everything after `--` (juju exec).
    rest: Vec<String>,
}

impl Args {
    fn parse(argv: &[String]) -> Args {
        let mut a = Args::default();
        let mut i = 0;
        while i < argv.len() {
            let arg = &argv[i];
            if arg == "--" {
                a.rest = argv[i + 1..].to_vec();
                break;
            }
            if let Some((k, v)) = arg.split_once('=').filter(|(k, _)| k.starts_with('-')) {
                a.flags
                    .entry(k.to_string())
                    .or_default()
                    .push(v.to_string());
            } else if VALUE_FLAGS.contains(&arg.as_str()) {
                let v = argv.get(i + 1).cloned().unwrap_or_default();
                a.flags.entry(arg.clone()).or_default().push(v);
                i += 1;
            } else if PACING_FLAGS.contains(&arg.as_str()) {
                // `--watch 5s`: swallow a duration if one follows.
                if argv
                    .get(i + 1)
                    .is_some_and(|n| n.chars().next().is_some_and(|c| c.is_ascii_digit()))
                {
                    i += 1;
                }
            } else if arg.starts_with('-') && arg.len() > 1 {
                a.bools.push(arg.clone());
            } else {
                a.pos.push(arg.clone());
            }
            i += 1;
        }
        a
    }
    fn flag(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.flags.get(*n).and_then(|v| v.last()))
            .map(String::as_str)
    }
    fn flags_all(&self, names: &[&str]) -> Vec<String> {
        names
            .iter()
            .flat_map(|n| self.flags.get(*n).cloned().unwrap_or_default())
            .collect()
    }
    fn has(&self, names: &[&str]) -> bool {
        self.bools.iter().any(|b| names.contains(&b.as_str()))
    }
}

/// `admin/bookinfo` and `meshsim:admin/bookinfo` name the model `bookinfo`.
fn model_name(m: &str) -> String {
    let m = m.rsplit(':').next().unwrap_or(m);
    m.rsplit('/').next().unwrap_or(m).to_string()
}

fn model_of(sim: &Sim, a: &Args) -> Result<String, Output> {
    if let Some(m) = a.flag(&["-m", "--model"]) {
        return Ok(model_name(m));
    }
    sim.current_model
        .clone()
        .ok_or_else(|| Output::juju_error("no current model, use juju switch to select a model"))
}

/// Runs `juju <argv>`.
pub fn run(sim: &mut Sim, argv: &[String]) -> Output {
    let Some(cmd) = argv.first() else {
        return Output::error(2, "ERROR no command specified\n".into());
    };
    let a = Args::parse(&argv[1..]);
    let r = match cmd.as_str() {
        "add-model" => add_model(sim, &a),
        "switch" => switch(sim, &a),
        "models" | "list-models" => models(sim, &a),
        "deploy" => deploy(sim, &a),
        "remove-application" => remove_application(sim, &a),
        "integrate" | "relate" | "add-relation" => integrate(sim, &a),
        "remove-relation" => remove_relation(sim, &a),
        "offer" => offer(sim, &a),
        "consume" => consume(sim, &a),
        "offers" | "list-offers" => offers(sim, &a),
        "consumed" => consumed(sim, &a),
        "remove-saas" => remove_saas(sim, &a),
        "status" => status(sim, &a),
        "config" => config(sim, &a),
        "trust" => trust(sim, &a),
        "scale-application" => scale(sim, &a),
        "add-unit" => add_unit(sim, &a),
        "remove-unit" => remove_unit(sim, &a),
        "exec" => exec(sim, &a),
        "run" => run_action(sim, &a),
        "debug-log" => debug_log(sim, &a),
        "destroy-model" => destroy_model(sim, &a),
        "resolve" | "resolved" => resolve(sim, &a),
        other => Err(Output::error(
            1,
            format!("ERROR juju: \"{other}\" is not a juju command (or not one meshsim simulates). See \"juju --help\".\n"),
        )),
    };
    r.unwrap_or_else(|e| e)
}

type R = Result<Output, Output>;

fn je(e: jujusim::Error) -> Output {
    Output::juju_error(e)
}

fn need<'a>(a: &'a Args, i: usize, what: &str) -> Result<&'a str, Output> {
    a.pos
        .get(i)
        .map(String::as_str)
        .ok_or_else(|| Output::error(2, format!("ERROR {what}\n")))
}

fn add_model(sim: &mut Sim, a: &Args) -> R {
    let name = need(a, 0, "model name is required")?.to_string();
    sim.ctl.add_model(&name).map_err(je)?;
    sim.current_model = Some(name.clone());
    Ok(Output {
        stderr: format!(
            "Added '{name}' model on {CLOUD} with credential '{CONTROLLER}' for user 'admin'\n"
        ),
        ..Default::default()
    })
}

fn switch(sim: &mut Sim, a: &Args) -> R {
    let Some(target) = a.pos.first() else {
        return Ok(match &sim.current_model {
            Some(m) => Output::ok(format!("{CONTROLLER}:admin/{m}\n")),
            None => Output::ok(format!("{CONTROLLER}\n")),
        });
    };
    let name = model_name(target);
    if !sim.ctl.models().contains(&name) {
        return Err(Output::juju_error(format!(
            "\"{target}\" is not the name of a model or controller"
        )));
    }
    if sim.current_model.as_deref() == Some(name.as_str()) {
        return Ok(Output {
            stderr: format!("{CONTROLLER}:admin/{name} (no change)\n"),
            ..Default::default()
        });
    }
    let from = match &sim.current_model {
        Some(m) => format!("{CONTROLLER}:admin/{m}"),
        None => format!("{CONTROLLER} (controller)"),
    };
    sim.current_model = Some(name.clone());
    Ok(Output {
        stderr: format!("{from} -> {CONTROLLER}:admin/{name}\n"),
        ..Default::default()
    })
}

fn models(sim: &Sim, a: &Args) -> R {
    if let Some(f) = a.flag(&["--format", "-o"]).filter(|f| *f != "tabular") {
        // Juju's `models --format json|yaml` keys, for what meshsim knows of a model.
        let (cloud, region) = CLOUD.split_once('/').unwrap_or((CLOUD, ""));
        let models: Vec<Value> = sim
            .ctl
            .models()
            .into_iter()
            .map(|m| {
                let st = sim.ctl.status(&m).ok();
                serde_json::json!({
                    "name": format!("admin/{m}"),
                    "short-name": m,
                    "model-uuid": st.as_ref().map(|s| s.model.uuid.clone()).unwrap_or_default(),
                    "model-type": "caas",
                    "controller-name": CONTROLLER,
                    "is-controller": false,
                    "owner": "admin",
                    "cloud": cloud,
                    "region": region,
                    "type": "kubernetes",
                    "life": "alive",
                    "status": {"current": "available"},
                    "access": "admin",
                    "last-connection": "just now",
                    "agent-version": st.as_ref().map(|s| s.model.version.clone()).unwrap_or_default(),
                })
            })
            .collect();
        let mut doc = serde_json::json!({ "models": models });
        if let Some(cur) = &sim.current_model {
            doc["current-model"] = Value::String(cur.clone());
        }
        return format_value(f, &doc);
    }
    Ok(models_table(sim))
}

fn models_table(sim: &Sim) -> Output {
    let mut rows = vec![[
        "Model",
        "Cloud/Region",
        "Type",
        "Status",
        "Units",
        "Access",
        "Last connection",
    ]
    .map(String::from)
    .to_vec()];
    for m in sim.ctl.models() {
        let units: usize = sim
            .ctl
            .status(&m)
            .map(|s| s.applications.values().map(|a| a.units.len()).sum())
            .unwrap_or(0);
        let shown = if sim.current_model.as_deref() == Some(m.as_str()) {
            format!("{m}*")
        } else {
            m.clone()
        };
        rows.push(vec![
            shown,
            CLOUD.into(),
            "kubernetes".into(),
            "available".into(),
            units.to_string(),
            "admin".into(),
            "just now".into(),
        ]);
    }
    Output::ok(format!(
        "Controller: {CONTROLLER}\n\n{}",
        table::render_with_right(&rows, &[4])
    ))
}

fn parse_kv(items: &[String]) -> Result<BTreeMap<String, String>, Output> {
    let mut m = BTreeMap::new();
    for kv in items {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(Output::juju_error(format!(
                "expected \"key=value\", got \"{kv}\""
            )));
        };
        m.insert(k.to_string(), v.to_string());
    }
    Ok(m)
}

fn deploy(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let charm_arg = need(a, 0, "no charm name specified")?;
    let path = charms::resolve(charm_arg, &sim.work).map_err(Output::juju_error)?;
    let mut args = jujusim::DeployArgs::new(path.clone());
    args.app = a.pos.get(1).cloned();
    args.trust = a.has(&["--trust"]);
    args.config = parse_kv(&a.flags_all(&["--config"]))?;
    if let Some(n) = a.flag(&["-n", "--num-units"]) {
        args.units = n.parse().map_err(|_| {
            Output::juju_error(format!(
                "invalid value \"{n}\" for option -n: must be a number"
            ))
        })?;
    }
    let app = sim.ctl.deploy(&model, args).map_err(je)?;
    let name = charm_name(&path).unwrap_or_else(|| charm_arg.to_string());
    let channel = a.flag(&["--channel"]).unwrap_or("latest/stable");
    let located = if charms::is_path(charm_arg) {
        format!("Located local charm \"{name}\", revision 0\n")
    } else {
        format!("Located charm \"{name}\" in the meshsim charm store (this repository), channel {channel}\n")
    };
    Ok(Output {
        stderr: format!(
            "{located}Deploying \"{app}\" from local charm \"{name}\", revision 0 on ubuntu@24.04/stable\n"
        ),
        ..Default::default()
    })
}

/// The charm's `name:` from a directory's metadata (`.charm` files: the file stem).
fn charm_name(path: &std::path::Path) -> Option<String> {
    if path.is_dir() {
        for f in ["metadata.yaml", "charmcraft.yaml"] {
            if let Ok(t) = std::fs::read_to_string(path.join(f)) {
                if let Ok(v) = serde_yaml::from_str::<Value>(&t) {
                    if let Some(n) = v.get("name").and_then(Value::as_str) {
                        return Some(n.to_string());
                    }
                }
            }
        }
        None
    } else {
        path.file_stem()
            .and_then(|s| s.to_str())
            .map(|s| s.split('_').next().unwrap_or(s).to_string())
    }
}

fn remove_application(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    if a.pos.is_empty() {
        return Err(Output::error(2, "ERROR no application specified\n".into()));
    }
    let mut out = String::new();
    for app in &a.pos {
        let units: Vec<String> = sim
            .ctl
            .status(&model)
            .ok()
            .and_then(|s| {
                s.applications
                    .get(app)
                    .map(|x| x.units.keys().cloned().collect())
            })
            .unwrap_or_default();
        sim.ctl.remove_application(&model, app).map_err(je)?;
        out.push_str(&format!("will remove application {app}\n"));
        for u in units {
            out.push_str(&format!("- will remove unit {u}\n"));
        }
    }
    Ok(Output {
        stderr: out,
        ..Default::default()
    })
}

/// With the ambiguous-relation error, meshsim adds how to name the endpoints.
fn integrate(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let (x, y) = (
        need(a, 0, "an integration must involve two applications")?,
        need(a, 1, "an integration must involve two applications")?,
    );
    match sim.ctl.integrate(&model, x, y) {
        Ok(_) => Ok(Output::default()),
        Err(e) => {
            let msg = e.to_string();
            let mut out = Output::juju_error(&msg);
            if msg.contains("ambiguous relation") {
                // The first candidate, `"a:x b:y"`, is the explicit form to type.
                if let Some(first) = msg
                    .split("could refer to")
                    .nth(1)
                    .and_then(|r| r.split('"').nth(1))
                {
                    out.stderr.push_str(&format!(
                        "hint: name the endpoints, for example: juju integrate {first}\n"
                    ));
                }
            }
            Err(out)
        }
    }
}

fn remove_relation(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let x = need(a, 0, "a relation must involve two applications")?;
    let y = need(a, 1, "a relation must involve two applications")?;
    sim.ctl.remove_relation(&model, x, y).map_err(je)?;
    Ok(Output::default())
}

fn offer(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let spec = need(a, 0, "an offer must at least specify application endpoint")?;
    let url = sim
        .ctl
        .offer(&model, spec, a.pos.get(1).map(String::as_str))
        .map_err(je)?;
    // jujusim returns the offer's name or URL; the CLI prints the URL.
    let url = if url.contains('/') {
        url
    } else {
        format!("admin/{model}.{url}")
    };
    let (app, eps) = spec.split_once(':').unwrap_or((spec, ""));
    let eps: Vec<&str> = eps.split(',').filter(|e| !e.is_empty()).collect();
    Ok(Output::ok(format!(
        "Application \"{app}\" endpoints [{}] available at \"{url}\"\n",
        eps.join(" ")
    )))
}

fn consume(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let url = need(a, 0, "no remote offer specified")?;
    let alias = sim
        .ctl
        .consume(&model, url, a.pos.get(1).map(String::as_str))
        .map_err(je)?;
    let full = if url.contains('/') {
        url.to_string()
    } else {
        format!("admin/{url}")
    };
    Ok(Output {
        stderr: format!("Added {full} as {alias}\n"),
        ..Default::default()
    })
}

fn remove_saas(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    for name in &a.pos {
        sim.ctl.remove_saas(&model, name).map_err(je)?;
    }
    Ok(Output::default())
}

fn offers(sim: &Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let st = sim.ctl.status(&model).map_err(je)?;
    if let Some(f) = a.flag(&["--format", "-o"]) {
        return format_value(f, &serde_json::to_value(&st.offers).unwrap_or(Value::Null));
    }
    if st.offers.is_empty() {
        return Ok(Output {
            stderr: format!("No offers in model \"{model}\".\n"),
            ..Default::default()
        });
    }
    let mut rows = vec![[
        "Offer",
        "User",
        "Relation ID",
        "Status",
        "Endpoint",
        "Interface",
        "Role",
        "Ingress subnets",
    ]
    .map(String::from)
    .to_vec()];
    for (name, o) in &st.offers {
        // One row per endpoint, with the cross-model relations through it.
        let mut first = true;
        for (ep, e) in &o.endpoints {
            let rels: Vec<&jujusim::RelationStatus> = st
                .relations
                .iter()
                .filter(|r| {
                    r.cross_model
                        && (r.provider == format!("{}:{ep}", o.application)
                            || r.requirer == format!("{}:{ep}", o.application))
                })
                .collect();
            let (ids, state) = if rels.is_empty() {
                ("-".to_string(), "-".to_string())
            } else {
                (
                    rels.iter()
                        .map(|r| r.id.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    "joined".to_string(),
                )
            };
            rows.push(vec![
                if first { name.clone() } else { String::new() },
                if first { "admin".into() } else { String::new() },
                ids,
                state,
                ep.clone(),
                e.interface.clone(),
                e.role.clone(),
                String::new(),
            ]);
            first = false;
        }
    }
    Ok(Output::ok(table::render(&rows)))
}

fn consumed(sim: &Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let st = sim.ctl.status(&model).map_err(je)?;
    if st.application_endpoints.is_empty() {
        return Ok(Output {
            stderr: format!("No consumed offers in model \"{model}\".\n"),
            ..Default::default()
        });
    }
    let mut rows = vec![["SAAS", "Status", "Store", "URL", "Endpoints", "Related"]
        .map(String::from)
        .to_vec()];
    for (name, s) in &st.application_endpoints {
        let related: Vec<String> = s
            .relations
            .iter()
            .flat_map(|(ep, apps)| apps.iter().map(move |a| format!("{a} ({ep})")))
            .collect();
        rows.push(vec![
            name.clone(),
            s.application_status.current.clone(),
            "local".into(),
            s.url.clone(),
            s.endpoints.keys().cloned().collect::<Vec<_>>().join(","),
            related.join(", "),
        ]);
    }
    Ok(Output::ok(table::render(&rows)))
}

fn format_value(format: &str, v: &Value) -> R {
    match format {
        "json" => Ok(Output::ok(format!("{v}\n"))),
        "yaml" => Ok(Output::ok(serde_yaml::to_string(v).unwrap_or_default())),
        "tabular" => Err(Output::juju_error("tabular is the default; drop --format")),
        other => Err(Output::juju_error(format!(
            "invalid value \"{other}\" for option --format: unknown format \"{other}\""
        ))),
    }
}

fn status(sim: &Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let st = sim.ctl.status(&model).map_err(je)?;
    if let Some(f) = a.flag(&["--format", "-o"]) {
        if f != "tabular" {
            let mut v = serde_json::to_value(&st).unwrap_or(Value::Null);
            // The machine-readable status names the controller and cloud the table shows
            // (jujusim's own names are internal), with Juju's `region` and `sla` keys.
            if let Some(m) = v.get_mut("model").and_then(Value::as_object_mut) {
                let (cloud, region) = CLOUD.split_once('/').unwrap_or((CLOUD, ""));
                m.insert("controller".into(), CONTROLLER.into());
                m.insert("cloud".into(), cloud.into());
                m.insert("region".into(), region.into());
                m.insert("sla".into(), "unsupported".into());
            }
            return format_value(f, &v);
        }
    }
    let integrations = a.has(&["--integrations", "--relations"]);
    let mut out = String::new();
    let time = chrono_time();
    out.push_str(&table::render(&[
        [
            "Model",
            "Controller",
            "Cloud/Region",
            "Version",
            "SLA",
            "Timestamp",
        ]
        .map(String::from)
        .to_vec(),
        vec![
            st.model.name.clone(),
            CONTROLLER.into(),
            CLOUD.into(),
            st.model.version.clone(),
            "unsupported".into(),
            time,
        ],
    ]));
    if !st.application_endpoints.is_empty() {
        out.push('\n');
        let mut rows = vec![["SAAS", "Status", "Store", "URL"]
            .map(String::from)
            .to_vec()];
        for (n, s) in &st.application_endpoints {
            rows.push(vec![
                n.clone(),
                s.application_status.current.clone(),
                "local".into(),
                s.url.clone(),
            ]);
        }
        out.push_str(&table::render(&rows));
    }
    if st.applications.is_empty() {
        out.push_str(&format!("\nModel \"admin/{}\" is empty.\n", st.model.name));
    } else {
        out.push('\n');
        let mut rows = vec![[
            "App", "Version", "Status", "Scale", "Charm", "Channel", "Rev", "Address", "Exposed",
            "Message",
        ]
        .map(String::from)
        .to_vec()];
        for (name, app) in &st.applications {
            rows.push(vec![
                name.clone(),
                app.version.clone(),
                app.application_status.current.clone(),
                app.scale.to_string(),
                app.charm_name.clone(),
                String::new(),
                app.charm_rev.to_string(),
                String::new(),
                if app.exposed { "yes" } else { "no" }.into(),
                app.application_status.message.clone(),
            ]);
        }
        out.push_str(&table::render_with_right(&rows, &[3, 6]));
        out.push('\n');
        let mut rows = vec![["Unit", "Workload", "Agent", "Address", "Ports", "Message"]
            .map(String::from)
            .to_vec()];
        for app in st.applications.values() {
            let mut units: Vec<(&String, &jujusim::UnitStatus)> = app.units.iter().collect();
            units.sort_by_key(|(n, _)| {
                n.rsplit('/')
                    .next()
                    .and_then(|x| x.parse::<u32>().ok())
                    .unwrap_or(0)
            });
            for (uname, u) in units {
                rows.push(vec![
                    if u.leader {
                        format!("{uname}*")
                    } else {
                        uname.clone()
                    },
                    u.workload_status.current.clone(),
                    u.juju_status.current.clone(),
                    u.address.clone(),
                    u.open_ports.join(","),
                    if u.workload_status.message.is_empty() {
                        u.juju_status.message.clone()
                    } else {
                        u.workload_status.message.clone()
                    },
                ]);
            }
        }
        out.push_str(&table::render(&rows));
    }
    if !st.offers.is_empty() {
        out.push('\n');
        let mut rows = vec![[
            "Offer",
            "Application",
            "Charm",
            "Rev",
            "Connected",
            "Endpoint",
            "Interface",
            "Role",
        ]
        .map(String::from)
        .to_vec()];
        for (n, o) in &st.offers {
            let mut first = true;
            for (ep, e) in &o.endpoints {
                rows.push(vec![
                    if first { n.clone() } else { String::new() },
                    if first {
                        o.application.clone()
                    } else {
                        String::new()
                    },
                    if first {
                        o.charm.clone()
                    } else {
                        String::new()
                    },
                    if first { "0".into() } else { String::new() },
                    if first {
                        format!("{}/{}", o.active_connected_count, o.total_connected_count)
                    } else {
                        String::new()
                    },
                    ep.clone(),
                    e.interface.clone(),
                    e.role.clone(),
                ]);
                first = false;
            }
        }
        out.push_str(&table::render(&rows));
    }
    if integrations && !st.relations.is_empty() {
        out.push('\n');
        let mut rows = vec![[
            "Integration provider",
            "Requirer",
            "Interface",
            "Type",
            "Message",
        ]
        .map(String::from)
        .to_vec()];
        let mut rels = st.relations.clone();
        rels.sort_by(|x, y| (&x.provider, &x.requirer).cmp(&(&y.provider, &y.requirer)));
        for r in rels {
            rows.push(vec![
                r.provider.clone(),
                r.requirer.clone(),
                r.interface.clone(),
                r.kind.clone(),
                if r.status == "joined" || r.status == "active" {
                    String::new()
                } else {
                    r.status.clone()
                },
            ]);
        }
        out.push_str(&table::render(&rows));
    }
    Ok(Output::ok(out))
}

fn chrono_time() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}Z",
        day / 3600,
        (day % 3600) / 60,
        day % 60
    )
}

fn config(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let app = need(a, 0, "no application name specified")?;
    let rest = &a.pos[1..];
    let sets: Vec<String> = rest.iter().filter(|x| x.contains('=')).cloned().collect();
    let gets: Vec<&String> = rest.iter().filter(|x| !x.contains('=')).collect();
    if !sets.is_empty() && !gets.is_empty() {
        return Err(Output::juju_error(
            "cannot get and set configuration values in the same command",
        ));
    }
    if !sets.is_empty() {
        sim.ctl
            .set_config(&model, app, &parse_kv(&sets)?)
            .map_err(je)?;
        return Ok(Output::default());
    }
    let cfg = sim.ctl.get_config(&model, app).map_err(je)?;
    if let Some(k) = gets.first() {
        return match cfg.get(k.as_str()) {
            Some(Value::String(s)) => Ok(Output::ok(format!("{s}\n"))),
            Some(v) => Ok(Output::ok(format!("{v}\n"))),
            None => Err(Output::juju_error(format!(
                "key \"{k}\" not found in \"{app}\" application config or charm settings."
            ))),
        };
    }
    let doc = serde_json::json!({
        "application": app,
        "charm": app,
        "settings": cfg.iter().map(|(k, v)| (k.clone(), serde_json::json!({"value": v}))).collect::<serde_json::Map<_, _>>(),
    });
    Ok(Output::ok(serde_yaml::to_string(&doc).unwrap_or_default()))
}

fn trust(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let app = need(a, 0, "no application name specified")?;
    sim.ctl
        .trust(&model, app, !a.has(&["--remove"]))
        .map_err(je)?;
    Ok(Output::default())
}

fn count(s: &str) -> Result<u32, Output> {
    s.parse().map_err(|_| {
        Output::juju_error(format!(
            "invalid scale \"{s}\": must be a non-negative integer"
        ))
    })
}

fn scale(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let app = need(a, 0, "no application specified")?;
    let n = count(need(a, 1, "no scale specified")?)?;
    sim.ctl.scale(&model, app, n).map_err(je)?;
    // juju/juju scale.go: `ctx.Infof("%v scaled to %d units", ...)`, on stderr.
    Ok(Output {
        stderr: format!("{app} scaled to {n} units\n"),
        ..Default::default()
    })
}

fn add_unit(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let app = need(a, 0, "no application specified")?;
    let n = count(a.flag(&["-n", "--num-units"]).unwrap_or("1"))?;
    sim.ctl.add_unit(&model, app, n).map_err(je)?;
    Ok(Output::default())
}

fn remove_unit(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    // Every meshsim model is a Kubernetes model: Juju's checks for those, in its order
    // (juju/juju cmd/juju/application/removeunit.go, validateCAASRemoval). Usage errors exit 2.
    let usage = |msg: &str| Output::error(2, format!("ERROR {msg}\n"));
    if a.has(&["--destroy-storage"]) {
        return Err(usage("k8s models only support --num-units"));
    }
    let app = match a.pos.as_slice() {
        [] => return Err(usage("no application specified")),
        [app] => app.as_str(),
        _ => return Err(usage("only single application supported")),
    };
    if app.contains('/') {
        return Err(usage(
            "k8s models do not support removing named units.\nInstead specify an application with --num-units.",
        ));
    }
    let n = match a.flag(&["--num-units"]).map(str::parse::<u32>) {
        Some(Ok(n)) if n > 0 => n,
        _ => {
            return Err(usage(
                "specify the number of units (> 0) to remove using --num-units",
            ))
        }
    };
    let scale = sim
        .ctl
        .status(&model)
        .map_err(je)?
        .applications
        .get(app)
        .map(|x| x.scale)
        .ok_or_else(|| Output::juju_error(format!("application \"{app}\" not found")))?
        as u32;
    let left = scale.saturating_sub(n);
    sim.ctl.scale(&model, app, left).map_err(je)?;
    // removeCaasUnits: `ctx.Infof("scaling down to %d units", result.Info.Scale)`, on stderr.
    Ok(Output {
        stderr: format!("scaling down to {left} units\n"),
        ..Default::default()
    })
}

/// Juju 3's report of a failed `juju exec` task.
fn task_failed(mut out: Output, code: i32, task: u64) -> Output {
    out.stderr.push_str(&format!(
        "ERROR the following task failed:\n id \"{task}\" with return code {code}\n\nuse 'juju show-task' to inspect the failure\n"
    ));
    out.code = 1;
    out
}

/// The unit `name` designates in `model`: a unit name, or `<app>/leader` for that
/// application's leader (accepted by `juju exec --unit` and `juju run`).
fn resolve_unit(sim: &Sim, model: &str, name: &str) -> Result<String, Output> {
    let st = sim.ctl.status(model).map_err(je)?;
    let found = match name.strip_suffix("/leader") {
        Some(app) => st
            .applications
            .get(app)
            .and_then(|a| a.units.iter().find(|(_, u)| u.leader))
            .map(|(n, _)| n.clone()),
        None => st
            .applications
            .values()
            .any(|app| app.units.contains_key(name))
            .then(|| name.to_string()),
    };
    found.ok_or_else(|| Output::juju_error(format!("unit \"{name}\" not found")))
}

fn exec(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let Some(unit) = a.flag(&["-u", "--unit"]) else {
        return Err(Output::error(
            2,
            "ERROR you must specify a target, either through --all, --application or --unit\n"
                .into(),
        ));
    };
    let cmd: Vec<String> = if a.rest.is_empty() {
        a.pos.clone()
    } else {
        a.rest.clone()
    };
    // `juju exec -u x -- "curl -s URL"` passes one string to a shell: split it the same way.
    let cmd = if cmd.len() == 1 {
        shell_words::split(&cmd[0]).unwrap_or(cmd)
    } else {
        cmd
    };
    if cmd.is_empty() {
        return Err(Output::error(2, "ERROR no commands specified\n".into()));
    }
    let unit = resolve_unit(sim, &model, unit)?;
    let unit = unit.as_str();
    let (_operation, task) = sim.next_operation(&model);
    let out = if cmd[0] == "curl" {
        curl_from_unit(sim, &model, unit, &cmd[1..])
    } else {
        let o = sim.ctl.exec(&model, unit, &cmd).map_err(je)?;
        Output {
            stdout: o.stdout,
            stderr: o.stderr,
            code: o.code,
        }
    };
    if out.code != 0 {
        let code = out.code;
        return Err(task_failed(out, code, task));
    }
    Ok(out)
}

/// `curl` run inside a unit's pod: the request is judged by the mesh as the cluster stands now.
pub fn curl_from_unit(sim: &Sim, model: &str, unit: &str, args: &[String]) -> Output {
    let parsed = match curl::parse(args) {
        Ok(p) => p,
        Err(r) => return Output::error(r.code, r.stderr),
    };
    let url = match curl::parse_url(&parsed.url) {
        Ok(u) => u,
        Err(r) => return Output::error(r.code, r.stderr),
    };
    let method = parsed.effective_method();
    let pod = unit.replace('/', "-");
    let snap = crate::cluster::snapshot(&sim.store());
    let decision = authz::evaluate(
        &snap,
        &authz::Request {
            source: Some(authz::SourceRef {
                namespace: model.to_string(),
                pod,
            }),
            host: url.host.clone(),
            port: url.port,
            method: method.clone(),
            path: url.path.clone(),
            headers: parsed.headers.clone(),
        },
    );
    tracing::debug!(?decision, unit, url = %parsed.url, "mesh decision");
    let r = curl::render(&parsed, &url, &method, &decision);
    if let Some((path, body)) = &r.output_file {
        // `-o FILE` writes into the unit's simulated filesystem, a directory of the work dir.
        let dir = sim.work.join("units").join(unit.replace('/', "-"));
        let target = dir.join(path.trim_start_matches('/'));
        if let Some(parent) = target.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = std::fs::write(&target, body) {
            return Output::error(
                23,
                format!("curl: (23) Failure writing output to destination: {e}\n"),
            );
        }
    }
    Output {
        stdout: r.stdout,
        stderr: r.stderr,
        code: r.code,
    }
}

fn run_action(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let unit = resolve_unit(sim, &model, need(a, 0, "no unit specified")?)?;
    let unit = unit.as_str();
    let action = need(a, 1, "no action specified")?;
    let mut params = BTreeMap::new();
    for kv in &a.pos[2..] {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(Output::juju_error(format!(
                "argument \"{kv}\" must be of the form key=value"
            )));
        };
        // Juju parses parameter values as YAML scalars.
        let val = serde_yaml::from_str::<Value>(v).unwrap_or(Value::String(v.to_string()));
        params.insert(k.to_string(), val);
    }
    let r = sim
        .ctl
        .run_action(&model, unit, action, &params)
        .map_err(je)?;
    let (operation, task) = sim.next_operation(&model);
    let entity = format!("unit-{}", unit.replace('/', "-"));
    let mut out = format!(
        "Running operation {operation} with 1 task\n  - task {task} on {entity}\n\nWaiting for task {task}...\n"
    );
    for l in &r.log {
        out.push_str(&format!("{l}\n"));
    }
    let results_empty = r.results.as_object().is_none_or(|m| m.is_empty());
    if !results_empty {
        out.push_str(&serde_yaml::to_string(&r.results).unwrap_or_default());
    }
    if r.status != "completed" {
        return Err(Output {
            stdout: out,
            stderr: format!(
                "ERROR the following task failed:\n id \"{task}\" with return code {}\n\nuse 'juju show-task' to inspect the failure\n{}",
                r.code,
                if r.message.is_empty() { String::new() } else { format!("message: {}\n", r.message) }
            ),
            code: 1,
        });
    }
    Ok(Output::ok(out))
}

fn debug_log(sim: &Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let lines = sim.ctl.debug_log(&model).map_err(je)?;
    let includes = a.flags_all(&["--include"]);
    let excludes = a.flags_all(&["--exclude"]);
    // Juju's severities, lowest first; `--level L` shows L and above.
    const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
    let rank = |l: &str| LEVELS.iter().position(|x| x.eq_ignore_ascii_case(l));
    let min_level = match a.flag(&["-l", "--level"]) {
        None => 0,
        Some(l) => rank(l).ok_or_else(|| {
            Output::error(
                2,
                format!(
                    "ERROR invalid value \"{l}\" for option -l: unknown severity level \"{l}\"\n"
                ),
            )
        })?,
    };
    let named = |entity: &str, names: &[String]| {
        names.iter().any(|inc| {
            let inc = inc.replace('/', "-");
            let inc = inc.strip_prefix("unit-").unwrap_or(&inc).to_string();
            let ent = entity.strip_prefix("unit-").unwrap_or(entity);
            // An application name includes all its units.
            ent == inc
                || ent
                    .strip_prefix(&format!("{inc}-"))
                    .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
        })
    };
    let selected: Vec<String> = lines
        .iter()
        .filter(|l| includes.is_empty() || named(&l.entity, &includes))
        .filter(|l| !named(&l.entity, &excludes))
        .filter(|l| rank(&l.level).unwrap_or(LEVELS.len()) >= min_level)
        .map(jujusim::LogLine::format)
        .collect();
    // Without --replay Juju starts from the last 10 lines (-n to change); it then follows,
    // which meshsim never does.
    let n: usize = a
        .flag(&["-n", "--lines"])
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let shown: Vec<String> = if a.has(&["--replay"]) {
        selected
    } else {
        selected[selected.len().saturating_sub(n)..].to_vec()
    };
    let mut out = String::new();
    for l in shown {
        out.push_str(&l);
        out.push('\n');
    }
    Ok(Output::ok(out))
}

fn destroy_model(sim: &mut Sim, a: &Args) -> R {
    let name = model_name(need(a, 0, "no model specified")?);
    let apps = sim
        .ctl
        .status(&name)
        .map(|s| s.applications.len())
        .map_err(je)?;
    sim.ctl.destroy_model(&name).map_err(je)?;
    if sim.current_model.as_deref() == Some(name.as_str()) {
        sim.current_model = None;
    }
    Ok(Output {
        stderr: format!(
            "Destroying model\nWaiting for model to be removed, {apps} application(s)...\nModel destroyed.\n"
        ),
        ..Default::default()
    })
}

fn resolve(sim: &mut Sim, a: &Args) -> R {
    let model = model_of(sim, a)?;
    let unit = need(a, 0, "no unit specified")?;
    if a.has(&["--no-retry"]) {
        sim.ctl.resolve_no_retry(&model, unit).map_err(je)?;
    } else {
        sim.ctl.resolve(&model, unit).map_err(je)?;
    }
    Ok(Output::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        shell_words::split(s).unwrap_or_default()
    }

    #[test]
    fn args_split_flags_values_and_rest() {
        let a = Args::parse(&argv(
            "bookinfo-reviews-k8s --trust --channel=2/edge --config a=b --config c=d -n 2 --watch 5s",
        ));
        assert_eq!(a.pos, ["bookinfo-reviews-k8s"]);
        assert!(a.has(&["--trust"]));
        assert_eq!(a.flag(&["--channel"]), Some("2/edge"));
        assert_eq!(a.flags_all(&["--config"]), ["a=b", "c=d"]);
        assert_eq!(a.flag(&["-n"]), Some("2"));
        let e = Args::parse(&argv("-m bookinfo -u pp/0 -- curl -s http://x/"));
        assert_eq!(e.flag(&["-m"]), Some("bookinfo"));
        assert_eq!(e.rest, ["curl", "-s", "http://x/"]);
        assert_eq!(model_name("admin/bookinfo-2"), "bookinfo-2");
        assert_eq!(model_name("meshsim:admin/x"), "x");
    }
}
