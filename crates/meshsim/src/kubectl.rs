//! `kubectl ...` lines: the real kubectl against kubesim when installed, else a built-in `get`.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::Output;

/// Path of a usable kubectl: `$MESHSIM_KUBECTL`, else `kubectl` on PATH.
pub fn find_kubectl() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("MESHSIM_KUBECTL") {
        let p = std::path::PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

/// Runs the real kubectl with `KUBECONFIG` pointing at kubesim.
pub fn run_real(kubectl: &Path, kubeconfig: &Path, args: &[String]) -> Output {
    match Command::new(kubectl)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
    {
        Ok(o) => Output {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            code: o.status.code().unwrap_or(1),
        },
        Err(e) => Output::error(
            1,
            format!("meshsim: cannot run {}: {e}\n", kubectl.display()),
        ),
    }
}

/// (apiVersion, kind, namespaced) for the names kubectl accepts.
fn kind_of(resource: &str) -> Option<(&'static str, &'static str, bool)> {
    let r = resource.to_ascii_lowercase();
    let r = r.split('.').next().unwrap_or("").to_string();
    Some(match r.as_str() {
        "pod" | "pods" | "po" => ("v1", "Pod", true),
        "service" | "services" | "svc" => ("v1", "Service", true),
        "namespace" | "namespaces" | "ns" => ("v1", "Namespace", false),
        "serviceaccount" | "serviceaccounts" | "sa" => ("v1", "ServiceAccount", true),
        "configmap" | "configmaps" | "cm" => ("v1", "ConfigMap", true),
        "secret" | "secrets" => ("v1", "Secret", true),
        "deployment" | "deployments" | "deploy" => ("apps/v1", "Deployment", true),
        "statefulset" | "statefulsets" | "sts" => ("apps/v1", "StatefulSet", true),
        "horizontalpodautoscaler" | "horizontalpodautoscalers" | "hpa" => {
            ("autoscaling/v2", "HorizontalPodAutoscaler", true)
        }
        "authorizationpolicy" | "authorizationpolicies" | "ap" => {
            ("security.istio.io/v1", "AuthorizationPolicy", true)
        }
        "gateway" | "gateways" | "gtw" => ("gateway.networking.k8s.io/v1", "Gateway", true),
        "customresourcedefinition" | "customresourcedefinitions" | "crd" | "crds" => {
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition", false)
        }
        _ => return None,
    })
}

/// Built-in `kubectl get` for machines without kubectl.
pub fn builtin(store: &kubesim::Store, args: &[String]) -> Output {
    if args.first().map(String::as_str) != Some("get") {
        return Output::error(
            1,
            "meshsim: kubectl is not installed; only `kubectl get` is built in\n".into(),
        );
    }
    let mut namespace = "default".to_string();
    let mut all = false;
    let mut format = String::new();
    let mut selector: Option<String> = None;
    let mut pos = Vec::new();
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-n" | "--namespace" => namespace = it.next().cloned().unwrap_or_default(),
            "-A" | "--all-namespaces" => all = true,
            "-o" | "--output" => format = it.next().cloned().unwrap_or_default(),
            "-l" | "--selector" => selector = it.next().cloned(),
            s if s.starts_with("--namespace=") => namespace = s["--namespace=".len()..].into(),
            s if s.starts_with("-o") && s.len() > 2 => {
                format = s[2..].trim_start_matches('=').into()
            }
            s if s.starts_with("--output=") => format = s["--output=".len()..].into(),
            s if s.starts_with("--selector=") => selector = Some(s["--selector=".len()..].into()),
            s => pos.push(s.to_string()),
        }
    }
    let Some(resource) = pos.first() else {
        return Output::error(
            1,
            "error: you must specify the type of resource to get\n".into(),
        );
    };
    let Some((api, kind, namespaced)) = kind_of(resource) else {
        return Output::error(
            1,
            format!("error: the server doesn't have a resource type \"{resource}\"\n"),
        );
    };
    let ns = if namespaced && !all {
        Some(namespace.as_str())
    } else {
        None
    };
    let items: Vec<Value> = if let Some(name) = pos.get(1) {
        match store.get(api, kind, ns, name) {
            Ok(o) => vec![o],
            Err(e) => return Output::error(1, format!("Error from server (NotFound): {e}\n")),
        }
    } else {
        match store.list(api, kind, ns, selector.as_deref()) {
            Ok(v) => v,
            Err(e) => return Output::error(1, format!("error: {e}\n")),
        }
    };
    let single = pos.len() > 1;
    let doc = if single {
        items.first().cloned().unwrap_or(Value::Null)
    } else {
        json!({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}})
    };
    let stdout = match format.as_str() {
        "json" => serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n",
        "yaml" => serde_yaml::to_string(&doc).unwrap_or_default(),
        "name" => items
            .iter()
            .map(|o| {
                format!(
                    "{}/{}\n",
                    kind.to_ascii_lowercase(),
                    o.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                )
            })
            .collect(),
        _ => {
            if items.is_empty() {
                return Output {
                    stderr: match ns {
                        Some(n) => format!("No resources found in {n} namespace.\n"),
                        None => "No resources found\n".into(),
                    },
                    ..Default::default()
                };
            }
            let mut rows = vec![];
            let mut header = vec![];
            if all && namespaced {
                header.push("NAMESPACE".to_string());
            }
            header.push("NAME".to_string());
            if kind == "Pod" {
                header.extend(["READY", "STATUS", "RESTARTS", "AGE"].map(String::from));
            } else {
                header.push("AGE".to_string());
            }
            rows.push(header);
            for o in &items {
                let mut r = vec![];
                if all && namespaced {
                    r.push(
                        o.pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    );
                }
                r.push(
                    o.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                );
                if kind == "Pod" {
                    let (ready, total) = pod_ready(o);
                    // A pod the kubelet has not reported on yet has no phase: kubectl shows
                    // it Pending.
                    let phase = o
                        .pointer("/status/phase")
                        .and_then(Value::as_str)
                        .unwrap_or("Pending");
                    r.extend([
                        format!("{ready}/{total}"),
                        phase.to_string(),
                        pod_restarts(o).to_string(),
                        "1m".to_string(),
                    ]);
                } else {
                    r.push("1m".to_string());
                }
                rows.push(r);
            }
            // kubectl separates columns with three blanks.
            crate::table::render_gap(&rows, 3)
        }
    };
    Output {
        stdout,
        ..Default::default()
    }
}

/// The READY column of `kubectl get pods`, as kubectl's printer computes it: containers whose
/// status is ready and running, out of the containers in the pod's spec (plus sidecar init
/// containers, `restartPolicy: Always`, which run for the pod's life).
pub fn pod_ready(pod: &Value) -> (usize, usize) {
    let list = |path: &str| {
        pod.pointer(path)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    };
    let running_ready =
        |c: &&Value| c["ready"].as_bool() == Some(true) && c.pointer("/state/running").is_some();
    let sidecars: Vec<&str> = list("/spec/initContainers")
        .iter()
        .filter(|c| c["restartPolicy"].as_str() == Some("Always"))
        .filter_map(|c| c["name"].as_str())
        .collect();
    let total = list("/spec/containers").len() + sidecars.len();
    let ready = list("/status/containerStatuses")
        .iter()
        .filter(running_ready)
        .count()
        + list("/status/initContainerStatuses")
            .iter()
            .filter(|c| c["name"].as_str().is_some_and(|n| sidecars.contains(&n)))
            .filter(running_ready)
            .count();
    (ready, total)
}

/// The RESTARTS column: restarts of all the pod's containers.
fn pod_restarts(pod: &Value) -> i64 {
    ["/status/containerStatuses", "/status/initContainerStatuses"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .map(|c| c["restartCount"].as_i64().unwrap_or(0))
        .sum()
}
