//! Benchmark of one policy reconcile against kubesim for 1, 10, 100 and 1000 related
//! applications: wall time, API requests by verb (kubesim's request log) and peak memory.
//!
//! Run: `cargo bench -p istio-beacon-k8s --bench policy_reconcile` (optionally followed by
//! `-- 1 10 100 1000`). Results and their reading are in `docs/performance.md`.
//!
//! Each size runs in two fresh child processes of this binary: one serves kubesim (`--serve`),
//! the other measures (`--measure N URL`), so the peak memory (VmHWM) is the beacon side's alone
//! and no size inherits another's high-water mark. The measured process does what a leader's hook
//! does after reading relation data: gather candidates, render, reconcile through kube-rs.
//! Three phases: the first reconcile (creates N policies), a no-op reconcile, and a change of
//! every application's data (N new policies applied, N stale ones deleted).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use istio_beacon::charm::authorization_policy_kind;
use istio_beacon::inputs::{gather, RelationSnapshot};
use istio_beacon::reconcile::{OwnedSet, Reconciler};
use istio_beacon::render::{render_all, Beacon, Rules, AUTHORIZATION_POLICY_SCOPE};
use serde_json::{json, Value};

const MODEL: &str = "bench";
const APP: &str = "istio-beacon-k8s";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--serve") => serve(),
        Some("--measure") => {
            let n: usize = args.get(1).ok_or("--measure N URL")?.parse()?;
            let url = args.get(2).ok_or("--measure N URL")?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let out = rt.block_on(measure(n, url))?;
            println!("{out}");
            Ok(())
        }
        _ => {
            // `cargo bench` passes `--bench`; any numbers given are the sizes.
            let mut sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
            if sizes.is_empty() {
                sizes = vec![1, 10, 100, 1000];
            }
            drive(&sizes)
        }
    }
}

/// Start kubesim with the AuthorizationPolicy CRD and the namespace, print its URL, serve until
/// stdin closes.
fn serve() -> Result<(), BoxError> {
    let server = kubesim::Server::start(kubesim::Config {
        crd_yaml: vec![kubesim::ISTIO_AUTHORIZATION_POLICY_CRD.to_owned()],
        ..kubesim::Config::default()
    })?;
    server
        .store()
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": MODEL}}))?;
    println!("{}", server.url());
    std::io::stdout().flush()?;
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    drop(server);
    Ok(())
}

fn drive(sizes: &[usize]) -> Result<(), BoxError> {
    let exe = std::env::current_exe()?;
    println!("| related apps | phase | wall time (ms) | requests by verb | kubesim time by verb (ms) | peak memory of the measuring process (VmHWM) |");
    println!("| ---: | --- | ---: | --- | --- | ---: |");
    for &n in sizes {
        let mut server = Command::new(&exe)
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut url = String::new();
        BufReader::new(server.stdout.take().ok_or("server stdout")?).read_line(&mut url)?;
        let out = Command::new(&exe)
            .args(["--measure", &n.to_string(), url.trim()])
            .output()?;
        // Closing stdin stops the server.
        drop(server.stdin.take());
        server.wait()?;
        if !out.status.success() {
            return Err(format!(
                "measuring {n} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let result: Value = serde_json::from_slice(&out.stdout)?;
        for phase in ["first", "noop", "change"] {
            let p = &result[phase];
            println!(
                "| {n} | {phase} | {:.1} | {} | {} | {} kB |",
                p["ms"].as_f64().unwrap_or(f64::NAN),
                p["requests"],
                p["server_ms"],
                result["vm_hwm_kb"]
            );
        }
    }
    Ok(())
}

/// The relation data of `n` workloads, each opening its own door to a client on `port`.
fn relations(n: usize, port: u16) -> Vec<RelationSnapshot> {
    (0..n)
        .map(|i| {
            let target = format!("app{i}");
            let policies = json!([{
                "source_namespace": MODEL, "source_app_name": format!("client{i}"),
                "target_namespace": MODEL, "target_app_name": target,
                "target_selector_labels": null, "target_service": null, "target_type": "app",
                "endpoints": [{"hosts": null, "ports": [port], "methods": ["GET"], "paths": ["/api/*"]}]
            }]);
            RelationSnapshot {
                endpoint: "service-mesh".into(),
                id: i as u64,
                remote_app: Some(target),
                cross_model: Some(false),
                app_data: Ok(BTreeMap::from([("policies".to_owned(), policies.to_string())])),
            }
        })
        .collect()
}

async fn measure(n: usize, url: &str) -> Result<Value, BoxError> {
    let config = kube::Config::new(url.parse()?);
    let client = kube::Client::try_from(config)?;
    let rec = Reconciler::new(client.clone(), APP);
    let beacon = Beacon::new(APP, MODEL);
    let set = OwnedSet::new(
        authorization_policy_kind(),
        MODEL,
        beacon.ownership_labels(AUTHORIZATION_POLICY_SCOPE),
    );

    let mut log_seen = 0usize;
    let mut phases = serde_json::Map::new();
    for (phase, port) in [("first", 8080u16), ("noop", 8080), ("change", 9090)] {
        let started = Instant::now();
        let gathered = gather(&beacon, &relations(n, port), &[], &[]);
        let rendered = render_all(&beacon, &Rules::default(), &gathered.candidates);
        let report = rec.reconcile(&set, &rendered.objects, |_| true).await?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(report.in_place(), n, "every policy in place");

        let log: Vec<Value> = client
            .request(kube::core::Request::new("/kubesim").get("requests", &Default::default())?)
            .await?;
        let mut by_verb: BTreeMap<String, usize> = BTreeMap::new();
        // Time kubesim spent answering, by verb: tells the server's share of the wall time.
        let mut server_ms: BTreeMap<String, f64> = BTreeMap::new();
        for r in &log[log_seen.min(log.len())..] {
            if r["path"]
                .as_str()
                .is_some_and(|p| p.contains("authorizationpolicies"))
            {
                let verb = r["verb"].as_str().unwrap_or("?").to_owned();
                *by_verb.entry(verb.clone()).or_default() += 1;
                *server_ms.entry(verb).or_default() +=
                    r["duration_us"].as_f64().unwrap_or(0.0) / 1000.0;
            }
        }
        log_seen = log.len();
        let server_ms: BTreeMap<String, String> = server_ms
            .into_iter()
            .map(|(k, v)| (k, format!("{v:.1}")))
            .collect();
        phases.insert(
            phase.into(),
            json!({"ms": ms, "requests": by_verb, "server_ms": server_ms}),
        );
    }
    phases.insert("vm_hwm_kb".into(), json!(vm_hwm_kb()));
    Ok(Value::Object(phases))
}

/// Peak resident set size of this process (`VmHWM` in /proc/self/status), in kB.
fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}
