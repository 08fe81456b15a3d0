//! meta.k8s.io/v1 `Table` rendering, what `kubectl get` asks for by default.

use crate::registry::ResourceDef;
use serde_json::{json, Value};

/// How much of each object a Table row carries (`?includeObject=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(s: Option<&str>) -> IncludeObject {
        match s {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// kubectl's HumanDuration.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    let m = s / 60;
    let h = s / 3600;
    let d = s / 86400;
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        let rem = s % 60;
        if rem == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{rem}s")
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        let rem = m % 60;
        if rem == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{rem}m")
        }
    } else if h < 48 {
        format!("{h}h")
    } else if d < 8 {
        let rem = h % 24;
        if rem == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{rem}h")
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

fn age(obj: &Value) -> String {
    let Some(ts) = obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
    else {
        return "<unknown>".into();
    };
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(t) => human_duration(chrono::Utc::now().timestamp() - t.timestamp()),
        Err(_) => "<unknown>".into(),
    }
}

fn col(name: &str, ty: &str, format: &str, desc: &str, priority: i64) -> Value {
    json!({"name": name, "type": ty, "format": format, "description": desc, "priority": priority})
}

fn s(obj: &Value, ptr: &str) -> String {
    match obj.pointer(ptr) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn n(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn or_none(x: String) -> String {
    if x.is_empty() {
        "<none>".into()
    } else {
        x
    }
}

/// Evaluate the small JSONPath subset printer columns use: `.a.b`, `[0]`, `[*]`,
/// `[?(@.k=="v")]`. Results are joined with commas.
pub fn json_path(obj: &Value, path: &str) -> Vec<Value> {
    let mut cur = vec![obj.clone()];
    let p = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut rest = p;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            cur = cur.iter().filter_map(|v| v.get(key).cloned()).collect();
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else { break };
            let inner = &r[..end];
            rest = &r[end + 1..];
            let mut next = Vec::new();
            for v in &cur {
                let Some(items) = v.as_array() else { continue };
                if inner == "*" {
                    next.extend(items.iter().cloned());
                } else if let Ok(i) = inner.parse::<usize>() {
                    if let Some(x) = items.get(i) {
                        next.push(x.clone());
                    }
                } else if let Some(f) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')'))
                {
                    if let Some((k, want)) = f.split_once("==") {
                        let want = want.trim().trim_matches('"').trim_matches('\'');
                        next.extend(
                            items
                                .iter()
                                .filter(|it| it.get(k.trim()).and_then(Value::as_str) == Some(want))
                                .cloned(),
                        );
                    }
                }
            }
            cur = next;
        } else {
            break;
        }
    }
    cur
}

fn cell_text(vals: &[Value]) -> String {
    vals.iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Renders one object's row cells.
type CellFn = Box<dyn Fn(&Value) -> Vec<Value>>;

fn columns_and_cells(def: &ResourceDef, version: &str) -> (Vec<Value>, CellFn) {
    let name_col = col(
        "Name",
        "string",
        "name",
        "Name must be unique within a namespace.",
        0,
    );
    let age_col = col("Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0);
    let name = |o: &Value| json!(s(o, "/metadata/name"));
    match (def.custom, def.kind.as_str()) {
        (true, _) => {
            let pcs = def.printer_columns.get(version).cloned().unwrap_or_default();
            let mut cols = vec![name_col];
            for pc in &pcs {
                let ty = match pc["type"].as_str().unwrap_or("string") {
                    "date" => "string",
                    t => t,
                };
                cols.push(col(
                    pc["name"].as_str().unwrap_or(""),
                    ty,
                    pc["format"].as_str().unwrap_or(""),
                    pc["description"].as_str().unwrap_or(""),
                    pc["priority"].as_i64().unwrap_or(0),
                ));
            }
            if pcs.is_empty() {
                cols.push(age_col);
            }
            (
                cols,
                Box::new(move |o: &Value| {
                    let mut cells = vec![name(o)];
                    for pc in &pcs {
                        let path = pc["jsonPath"].as_str().unwrap_or("");
                        let vals = json_path(o, path);
                        let cell = if vals.is_empty() {
                            Value::Null
                        } else if pc["type"].as_str() == Some("date") {
                            match vals[0].as_str().map(chrono::DateTime::parse_from_rfc3339) {
                                Some(Ok(t)) => json!(human_duration(chrono::Utc::now().timestamp() - t.timestamp())),
                                _ => json!(cell_text(&vals)),
                            }
                        } else if matches!(pc["type"].as_str(), Some("integer" | "number" | "boolean")) && vals.len() == 1 {
                            vals[0].clone()
                        } else {
                            json!(cell_text(&vals))
                        };
                        cells.push(cell);
                    }
                    if pcs.is_empty() {
                        cells.push(json!(age(o)));
                    }
                    cells
                }),
            )
        }
        (false, "Namespace") => (
            vec![name_col, col("Status", "string", "", "The status of the namespace", 0), age_col],
            Box::new(move |o| vec![name(o), json!(s(o, "/status/phase")), json!(age(o))]),
        ),
        (false, "Pod") => (
            vec![
                name_col,
                col("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0),
                col("Status", "string", "", "The aggregate status of the containers in this pod.", 0),
                col("Restarts", "string", "", "The number of times the containers in this pod have been restarted.", 0),
                age_col,
                col("IP", "string", "", "IP address allocated to the pod.", 1),
                col("Node", "string", "", "Name of the node the pod is assigned to.", 1),
            ],
            Box::new(move |o| {
                let total = o.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
                let statuses = o.pointer("/status/containerStatuses").and_then(Value::as_array);
                let ready = statuses.map_or(0, |a| a.iter().filter(|c| c["ready"].as_bool() == Some(true) && c.pointer("/state/running").is_some()).count());
                let restarts: i64 = statuses.map_or(0, |a| a.iter().map(|c| c["restartCount"].as_i64().unwrap_or(0)).sum());
                let phase = s(o, "/status/phase");
                vec![
                    name(o),
                    json!(format!("{ready}/{total}")),
                    json!(if phase.is_empty() { "Pending".to_string() } else { phase }),
                    json!(restarts.to_string()),
                    json!(age(o)),
                    json!(or_none(s(o, "/status/podIP"))),
                    json!(or_none(s(o, "/spec/nodeName"))),
                ]
            }),
        ),
        (false, "Service") => (
            vec![
                name_col,
                col("Type", "string", "", "The type of the service.", 0),
                col("Cluster-IP", "string", "", "The cluster IP of the service.", 0),
                col("External-IP", "string", "", "The external IP of the service.", 0),
                col("Port(s)", "string", "", "The ports of the service.", 0),
                age_col,
                col("Selector", "string", "", "The label selector of the service.", 1),
            ],
            Box::new(move |o| {
                let ports: Vec<String> = o
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|p| format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP")))
                            .collect()
                    })
                    .unwrap_or_default();
                let selector: Vec<String> = o
                    .pointer("/spec/selector")
                    .and_then(Value::as_object)
                    .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect())
                    .unwrap_or_default();
                let ty = s(o, "/spec/type");
                vec![
                    name(o),
                    json!(if ty.is_empty() { "ClusterIP".to_string() } else { ty }),
                    json!(or_none(s(o, "/spec/clusterIP"))),
                    json!("<none>"),
                    json!(or_none(ports.join(","))),
                    json!(age(o)),
                    json!(or_none(selector.join(","))),
                ]
            }),
        ),
        (false, "ConfigMap") | (false, "Secret") => {
            let secret = def.kind == "Secret";
            let mut cols = vec![name_col];
            if secret {
                cols.push(col("Type", "string", "", "The type of the secret", 0));
            }
            cols.push(col("Data", "string", "", "Number of items in the data", 0));
            cols.push(age_col);
            (
                cols,
                Box::new(move |o| {
                    let count = o.get("data").and_then(Value::as_object).map_or(0, |m| m.len())
                        + o.get("binaryData").and_then(Value::as_object).map_or(0, |m| m.len())
                        + o.get("stringData").and_then(Value::as_object).map_or(0, |m| m.len());
                    let mut cells = vec![name(o)];
                    if secret {
                        let t = s(o, "/type");
                        cells.push(json!(if t.is_empty() { "Opaque".to_string() } else { t }));
                    }
                    cells.push(json!(count));
                    cells.push(json!(age(o)));
                    cells
                }),
            )
        }
        (false, "StatefulSet") => (
            vec![name_col, col("Ready", "string", "", "Number of the pod with ready state", 0), age_col],
            Box::new(move |o| {
                vec![
                    name(o),
                    json!(format!("{}/{}", n(o, "/status/readyReplicas"), o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1))),
                    json!(age(o)),
                ]
            }),
        ),
        (false, "Deployment") => (
            vec![
                name_col,
                col("Ready", "string", "", "Number of the pod with ready state", 0),
                col("Up-to-date", "string", "", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", 0),
                col("Available", "string", "", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", 0),
                age_col,
            ],
            Box::new(move |o| {
                vec![
                    name(o),
                    json!(format!("{}/{}", n(o, "/status/readyReplicas"), o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1))),
                    json!(n(o, "/status/updatedReplicas")),
                    json!(n(o, "/status/availableReplicas")),
                    json!(age(o)),
                ]
            }),
        ),
        (false, "HorizontalPodAutoscaler") => (
            vec![
                name_col,
                col("Reference", "string", "", "Reference to the scaled object", 0),
                col("MinPods", "string", "", "Lower limit for the number of pods", 0),
                col("MaxPods", "string", "", "Upper limit for the number of pods", 0),
                col("Replicas", "string", "", "Current number of replicas", 0),
                age_col,
            ],
            Box::new(move |o| {
                vec![
                    name(o),
                    json!(format!("{}/{}", s(o, "/spec/scaleTargetRef/kind"), s(o, "/spec/scaleTargetRef/name"))),
                    json!(o.pointer("/spec/minReplicas").and_then(Value::as_i64).unwrap_or(1).to_string()),
                    json!(n(o, "/spec/maxReplicas").to_string()),
                    json!(n(o, "/status/currentReplicas").to_string()),
                    json!(age(o)),
                ]
            }),
        ),
        (false, "CustomResourceDefinition") => (
            vec![name_col, col("Created At", "date", "", "CreationTimestamp of the CustomResourceDefinition", 0)],
            Box::new(move |o| vec![name(o), json!(s(o, "/metadata/creationTimestamp"))]),
        ),
        _ => (
            vec![name_col, age_col],
            Box::new(move |o| vec![name(o), json!(age(o))]),
        ),
    }
}

fn row_object(obj: &Value, include: IncludeObject) -> Option<Value> {
    match include {
        IncludeObject::None => None,
        IncludeObject::Object => Some(obj.clone()),
        IncludeObject::Metadata => {
            let mut meta = obj.get("metadata").cloned().unwrap_or(json!({}));
            if let Some(m) = meta.as_object_mut() {
                m.remove("managedFields");
            }
            Some(
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}),
            )
        }
    }
}

/// A Table of `objects` (already presented at `version`).
pub fn table(
    def: &ResourceDef,
    version: &str,
    objects: &[Value],
    resource_version: &str,
    include: IncludeObject,
) -> Value {
    let (columns, cells) = columns_and_cells(def, version);
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut row = json!({"cells": cells(o)});
            if let Some(obj) = row_object(o, include) {
                row["object"] = obj;
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_rows_count_ready_running_containers() {
        let def = crate::registry::builtins()
            .into_iter()
            .find(|d| d.kind == "Pod")
            .expect("pod kind");
        let pod = json!({"metadata": {"name": "app-0", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "charm"}, {"name": "app"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "charm", "ready": true, "restartCount": 1, "state": {"running": {}}},
                {"name": "app", "ready": true, "restartCount": 2, "state": {"waiting": {}}}]}});
        let t = table(&def, "v1", &[pod], "1", IncludeObject::None);
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[0], json!("app-0"));
        assert_eq!(cells[1], json!("1/2"));
        assert_eq!(cells[2], json!("Running"));
        assert_eq!(cells[3], json!("3"));
        assert!(t["rows"][0].get("object").is_none());
    }

    #[test]
    fn durations_and_paths() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(3 * 86400), "3d");
        let o = json!({"status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Programmed", "status": "True"}],
            "addresses": [{"value": "1.2.3.4"}, {"value": "::1"}]}});
        assert_eq!(
            json_path(&o, ".status.conditions[?(@.type==\"Programmed\")].status"),
            vec![json!("True")]
        );
        assert_eq!(
            cell_text(&json_path(&o, ".status.addresses[*].value")),
            "1.2.3.4,::1"
        );
    }
}
