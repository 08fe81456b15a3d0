//! Discovery documents (/version, /api, /apis, APIResourceLists) and a minimal OpenAPI v3 index.
//!
//! The OpenAPI v3 documents only describe, per kind, a PATCH operation carrying the
//! `x-kubernetes-group-version-kind` extension and the `fieldValidation` query parameter: that is
//! what kubectl looks for to decide that the server validates fields itself (so it sends
//! `fieldValidation=Strict` instead of needing full schemas for client-side validation).

use crate::registry::{Registry, ResourceDef};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-kubesim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub fn api_versions(server_addr: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_addr}]
    })
}

fn group_entry(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(Value::Null),
    })
}

pub fn api_group_list(reg: &Registry) -> Value {
    let groups: Vec<Value> = reg
        .groups()
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| group_entry(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn api_group(reg: &Registry, group: &str) -> Option<Value> {
    let groups = reg.groups();
    let vs = groups.get(group).filter(|_| !group.is_empty())?;
    let mut g = group_entry(group, vs);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Some(g)
}

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn defs_in<'a>(reg: &'a Registry, group: &str, version: &str) -> Vec<&'a ResourceDef> {
    reg.all()
        .filter(|d| d.group == group && d.serves(version))
        .collect()
}

pub fn resource_list(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let defs = defs_in(reg, group, version);
    if defs.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for d in defs {
        let mut r = json!({
            "name": d.plural,
            "singularName": d.singular,
            "namespaced": d.namespaced,
            "kind": d.kind,
            "verbs": VERBS,
        });
        if !d.short_names.is_empty() {
            r["shortNames"] = json!(d.short_names);
        }
        if !d.categories.is_empty() {
            r["categories"] = json!(d.categories);
        }
        resources.push(r);
        if d.has_status {
            resources.push(json!({
                "name": format!("{}/status", d.plural),
                "singularName": "",
                "namespaced": d.namespaced,
                "kind": d.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }))
}

/// Stable short hash so kubectl's caches notice when the served kinds change.
fn fnv(s: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016X}")
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn all_gvs(reg: &Registry) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for d in reg.all() {
        for v in &d.versions {
            out.insert(gv_path(&d.group, v), (d.group.clone(), v.clone()));
        }
    }
    out
}

pub fn openapi_v3_root(reg: &Registry) -> Value {
    let mut paths = Map::new();
    for (p, (g, v)) in all_gvs(reg) {
        let doc = openapi_v3_gv(reg, &g, &v).unwrap_or(Value::Null);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", fnv(&doc.to_string()))}),
        );
    }
    json!({"paths": paths})
}

pub fn openapi_v3_gv(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let defs = defs_in(reg, group, version);
    if defs.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let prefix = format!("/{}", gv_path(group, version));
    for d in defs {
        let p = if d.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", d.plural)
        } else {
            format!("{prefix}/{}/{{name}}", d.plural)
        };
        let gvk = json!({"group": group, "version": version, "kind": d.kind});
        let params = json!([
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
            {"name": "force", "in": "query", "schema": {"type": "boolean"}},
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}}
        ]);
        let op = |verb: &str| {
            json!({
                "operationId": format!("{verb}{}", d.kind),
                "x-kubernetes-action": verb,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": params,
                "responses": {"200": {"description": "OK"}}
            })
        };
        paths.insert(
            p,
            json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (kubesim)", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}}
    }))
}

/// Which aggregated discovery version (`v2` or `v2beta1`) the Accept header prefers, if any
/// is preferred over plain JSON.
pub fn wants_aggregated(accept: &str) -> Option<&'static str> {
    for range in accept.split(',') {
        let params: Vec<&str> = range.split(';').map(str::trim).collect();
        if params
            .first()
            .is_some_and(|m| *m == "application/json" || *m == "*/*")
            && params.len() == 1
        {
            return None;
        }
        let has = |p: &str| params.contains(&p);
        if has("g=apidiscovery.k8s.io") && has("as=APIGroupDiscoveryList") {
            if has("v=v2") {
                return Some("v2");
            }
            if has("v=v2beta1") {
                return Some("v2beta1");
            }
        }
    }
    None
}

/// `APIGroupDiscoveryList` (aggregated discovery) for `/api` (core) or `/apis`.
pub fn aggregated(reg: &Registry, core: bool, api_version: &str) -> Value {
    let mut items = Vec::new();
    for (group, versions) in reg.groups() {
        if group.is_empty() != core {
            continue;
        }
        let mut vs = Vec::new();
        for v in &versions {
            let mut resources = Vec::new();
            for d in defs_in(reg, &group, v) {
                let gvk = json!({"group": group, "version": v, "kind": d.kind});
                let mut r = json!({
                    "resource": d.plural,
                    "responseKind": gvk,
                    "scope": if d.namespaced { "Namespaced" } else { "Cluster" },
                    "singularResource": d.singular,
                    "verbs": VERBS,
                });
                if !d.short_names.is_empty() {
                    r["shortNames"] = json!(d.short_names);
                }
                if !d.categories.is_empty() {
                    r["categories"] = json!(d.categories);
                }
                if d.has_status {
                    r["subresources"] = json!([{"subresource": "status", "responseKind": gvk, "verbs": ["get", "patch", "update"]}]);
                }
                resources.push(r);
            }
            vs.push(json!({"version": v, "resources": resources, "freshness": "Current"}));
        }
        items.push(json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": vs}));
    }
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{api_version}"),
        "metadata": {},
        "items": items,
    })
}
