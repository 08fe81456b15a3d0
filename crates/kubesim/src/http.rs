//! HTTP front end: connection handling (with fault injection and the request log) and the
//! request handler that maps Kubernetes REST paths onto the store.

use crate::discovery;
use crate::error::{qualified, ApiError};
use crate::log::{Fault, FaultAction, RequestRecord};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{FieldValidation, PatchType, Propagation, Store, TokenScope, WriteOptions};
use crate::table::{self, IncludeObject};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Instant;

/// Accept connections until `shutdown` fires. Each request first goes through fault injection
/// and is logged; a "drop" fault makes the service fail, which closes the connection unanswered.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Store,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let router = Router::new().fallback(handle).with_state(store.clone());
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let (stream, _) = match accepted {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                continue;
            }
        };
        let store = store.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let store = store.clone();
                let router = router.clone();
                async move { serve_one(store, router, req).await }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}

fn k8s_verb(method: &Method, path: &str, query: &str, headers: &HeaderMap) -> String {
    let Some(rp) = parse_path(path) else {
        return method.as_str().to_ascii_lowercase();
    };
    let has_name = rp.name.is_some();
    match *method {
        Method::GET if has_name => "get".into(),
        Method::GET
            if query
                .split('&')
                .any(|kv| kv == "watch=true" || kv == "watch=1") =>
        {
            "watch".into()
        }
        Method::GET => "list".into(),
        Method::POST => "create".into(),
        Method::PUT => "update".into(),
        Method::PATCH => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if ct.starts_with("application/apply-patch") {
                "apply".into()
            } else {
                "patch".into()
            }
        }
        Method::DELETE if has_name => "delete".into(),
        Method::DELETE => "deletecollection".into(),
        _ => method.as_str().to_ascii_lowercase(),
    }
}

fn take_fault(store: &Store, verb: &str, method: &str, path: &str) -> Option<FaultAction> {
    let mut g = store.lock();
    let idx = g
        .faults
        .iter()
        .position(|f| f.count > 0 && f.matches(verb, method, path))?;
    let f = &mut g.faults[idx];
    f.count -= 1;
    let action = f.action.clone();
    if f.count == 0 {
        g.faults.remove(idx);
    }
    Some(action)
}

/// The log keeps the most recent records only, so a long simulation cannot grow it without bound.
const LOG_CAP: usize = 200_000;

fn push_log(store: &Store, record: RequestRecord) {
    let mut g = store.lock();
    if g.log.len() >= LOG_CAP {
        g.log.drain(..LOG_CAP / 2);
    }
    g.log.push(record);
}

fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}

async fn serve_one(
    store: Store,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, std::io::Error> {
    let started = Instant::now();
    let time = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let internal = path.starts_with("/kubesim/");
    let verb = k8s_verb(&method, &path, &query, req.headers());
    let record = |status: u16| RequestRecord {
        verb: verb.clone(),
        method: method.as_str().to_string(),
        path: path.clone(),
        query: query.clone(),
        status,
        time: time.clone(),
        duration_us: started.elapsed().as_micros() as u64,
        user_agent: user_agent.clone(),
    };
    if !internal {
        match take_fault(&store, &verb, method.as_str(), &path) {
            Some(FaultAction::Drop) => {
                push_log(&store, record(0));
                return Err(std::io::Error::other(
                    "kubesim: injected fault drops the connection",
                ));
            }
            Some(FaultAction::DelayMs(ms)) => {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await
            }
            Some(FaultAction::Status(code)) => {
                let mut e = ApiError::new(
                    code,
                    reason_for(code),
                    format!("kubesim: injected fault ({code})"),
                );
                e.details = None;
                push_log(&store, record(code));
                return Ok(error_response(&e));
            }
            None => {}
        }
    }
    let resp = TowerToHyperService::new(router).call_hyper(req).await;
    if !internal {
        push_log(&store, record(resp.status().as_u16()));
    }
    Ok(resp)
}

trait CallHyper {
    async fn call_hyper(&self, req: Request<Incoming>) -> Response<Body>;
}

impl CallHyper for TowerToHyperService<Router> {
    async fn call_hyper(&self, req: Request<Incoming>) -> Response<Body> {
        use hyper::service::Service;
        match self.call(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        }
    }
}

/// A parsed resource path.
#[derive(Debug, Clone, PartialEq)]
pub struct ResPath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub sub: Option<String>,
}

pub fn parse_path(path: &str) -> Option<ResPath> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.first() {
        Some(&"api") if segs.len() >= 3 => ("", segs[1], &segs[2..]),
        Some(&"apis") if segs.len() >= 4 => (segs[1], segs[2], &segs[3..]),
        _ => return None,
    };
    let owned = |s: &&str| s.to_string();
    let rp = if rest[0] == "namespaces"
        && rest.len() >= 3
        && !(group.is_empty() && rest.len() == 3 && matches!(rest[2], "status" | "finalize"))
    {
        ResPath {
            group: group.into(),
            version: version.into(),
            namespace: Some(rest[1].to_string()),
            plural: rest[2].to_string(),
            name: rest.get(3).map(owned),
            sub: rest.get(4).map(owned),
        }
    } else {
        ResPath {
            group: group.into(),
            version: version.into(),
            namespace: None,
            plural: rest[0].to_string(),
            name: rest.get(1).map(owned),
            sub: rest.get(2).map(owned),
        }
    };
    if rest.len() > 5 || rp.name.as_deref() == Some("") {
        return None;
    }
    Some(rp)
}

fn json_response(code: u16, v: &Value, warnings: &[String]) -> Response<Body> {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(h) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            r.headers_mut().append(header::WARNING, h);
        }
    }
    r
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status(), &[])
}

fn not_found_path() -> ApiError {
    let mut e = ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    );
    e.details = None;
    e
}

type Params = HashMap<String, String>;

async fn handle(
    State(store): State<Store>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let params: Params = Query::<Params>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    tracing::debug!(%method, %uri, content_type = ?headers.get(header::CONTENT_TYPE), accept = ?headers.get(header::ACCEPT), "request");
    match route(&store, &method, &uri, &headers, &params, &body) {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

fn host_of(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string()
}

/// Which token scope the request carries; no Authorization header means cluster-admin.
fn scope_of(store: &Store, headers: &HeaderMap) -> Result<TokenScope, ApiError> {
    let Some(auth) = headers.get(header::AUTHORIZATION) else {
        return Ok(TokenScope::Cluster);
    };
    let token = auth
        .to_str()
        .ok()
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    store
        .lock()
        .tokens
        .get(token)
        .cloned()
        .ok_or_else(|| ApiError::new(401, "Unauthorized", "Unauthorized"))
}

fn route(
    store: &Store,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    params: &Params,
    body: &Bytes,
) -> Result<Response<Body>, ApiError> {
    let path = uri.path();
    if let Some(rest) = path.strip_prefix("/kubesim/") {
        if scope_of(store, headers)? != TokenScope::Cluster {
            return Err(ApiError::forbidden(
                "the kubesim control endpoints need a cluster-scoped token",
            ));
        }
        return control(store, method, rest.trim_end_matches('/'), body);
    }
    if let Some(rp) = parse_path(path) {
        let scope = scope_of(store, headers)?;
        return resource(store, method, &rp, headers, params, body, &scope);
    }
    if *method != Method::GET {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method} {path})"
        )));
    }
    scope_of(store, headers)?;
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let g = store.lock();
    let reg = &g.registry;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let (Some(v), ["api"] | ["apis"]) = (discovery::wants_aggregated(accept), segs.as_slice()) {
        let doc = discovery::aggregated(reg, segs[0] == "api", v);
        let mut r = json_response(200, &doc, &[]);
        let ct = format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList");
        if let Ok(h) = HeaderValue::from_str(&ct) {
            r.headers_mut().insert(header::CONTENT_TYPE, h);
        }
        return Ok(r);
    }
    let doc = match segs.as_slice() {
        ["version"] => Some(discovery::version()),
        ["healthz"] | ["livez"] | ["readyz"] => {
            let mut r = Response::new(Body::from("ok"));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            return Ok(r);
        }
        ["api"] => Some(discovery::api_versions(&host_of(headers))),
        ["api", v] => discovery::resource_list(reg, "", v),
        ["apis"] => Some(discovery::api_group_list(reg)),
        ["apis", grp] => discovery::api_group(reg, grp),
        ["apis", grp, v] => discovery::resource_list(reg, grp, v),
        ["openapi", "v3"] => Some(discovery::openapi_v3_root(reg)),
        ["openapi", "v3", "api", v] => discovery::openapi_v3_gv(reg, "", v),
        ["openapi", "v3", "apis", grp, v] => discovery::openapi_v3_gv(reg, grp, v),
        _ => None,
    };
    doc.map(|d| json_response(200, &d, &[]))
        .ok_or_else(not_found_path)
}

/// `/kubesim/requests`, `/kubesim/faults`, `/kubesim/state`.
fn control(
    store: &Store,
    method: &Method,
    what: &str,
    body: &Bytes,
) -> Result<Response<Body>, ApiError> {
    match (what, method.clone()) {
        ("requests", Method::GET) => Ok(json_response(200, &json!(store.request_log()), &[])),
        ("requests", Method::DELETE) => {
            store.clear_request_log();
            Ok(json_response(200, &json!([]), &[]))
        }
        ("faults", Method::GET) => Ok(json_response(200, &json!(store.lock().faults.clone()), &[])),
        ("faults", Method::POST) => {
            let v: Value = parse_body(body, "application/json")?;
            let faults: Vec<Fault> = if v.is_array() {
                serde_json::from_value(v)
            } else {
                serde_json::from_value(v).map(|f| vec![f])
            }
            .map_err(|e| ApiError::bad_request(format!("invalid fault: {e}")))?;
            for f in faults {
                store.inject_fault(f);
            }
            Ok(json_response(201, &json!(store.lock().faults.clone()), &[]))
        }
        ("faults", Method::DELETE) => {
            store.clear_faults();
            Ok(json_response(200, &json!([]), &[]))
        }
        ("state", Method::GET) => Ok(json_response(200, &store.dump(), &[])),
        ("state", Method::PUT) => {
            let v: Value = parse_body(body, "application/json")?;
            store.restore(v)?;
            Ok(json_response(200, &json!({"restored": true}), &[]))
        }
        _ => Err(not_found_path()),
    }
}

fn parse_body(body: &Bytes, content_type: &str) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        return crate::proto::decode(body);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(je) => {
            if content_type.contains("yaml") {
                serde_yaml::from_slice::<Value>(body)
                    .map_err(|e| ApiError::bad_request(format!("error decoding YAML body: {e}")))
            } else {
                Err(ApiError::bad_request(format!(
                    "error decoding JSON body: {je}"
                )))
            }
        }
    }
}

fn forbidden(rp: &ResPath, verb: &str, scope_ns: &str) -> ApiError {
    let where_ = match &rp.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let mut e = ApiError::forbidden(format!(
        "{} is forbidden: User \"system:serviceaccount:{scope_ns}:kubesim\" cannot {verb} resource \"{}\" in API group \"{}\" {where_}",
        match &rp.name {
            Some(n) => format!("{} \"{n}\"", qualified(&rp.group, &rp.plural)),
            None => qualified(&rp.group, &rp.plural),
        },
        rp.plural,
        rp.group,
    ));
    e.details = Some(Box::new(crate::error::StatusDetails {
        name: rp.name.clone().unwrap_or_default(),
        group: rp.group.clone(),
        kind: rp.plural.clone(),
    }));
    e
}

fn user_agent_manager(headers: &HeaderMap) -> String {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let m = ua.split('/').next().unwrap_or("").trim();
    if m.is_empty() {
        "unknown".into()
    } else {
        m.chars().take(128).collect()
    }
}

fn write_options(
    params: &Params,
    headers: &HeaderMap,
    apply: bool,
) -> Result<WriteOptions, ApiError> {
    let field_validation = match params.get("fieldValidation").map(String::as_str) {
        None | Some("") | Some("Warn") => FieldValidation::Warn,
        Some("Strict") => FieldValidation::Strict,
        Some("Ignore") => FieldValidation::Ignore,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
            "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got \"{other}\""
        )))
        }
    };
    let field_manager = match params.get("fieldManager") {
        Some(m) if !m.is_empty() => m.clone(),
        _ if apply => String::new(),
        _ => user_agent_manager(headers),
    };
    Ok(WriteOptions {
        field_manager,
        force: params.get("force").is_some_and(|f| f == "true" || f == "1"),
        field_validation,
        dry_run: params.get("dryRun").is_some_and(|d| d == "All"),
    })
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',')
                .next()
                .is_some_and(|first| first.contains("as=Table"))
        })
}

#[allow(clippy::too_many_arguments)]
fn resource(
    store: &Store,
    method: &Method,
    rp: &ResPath,
    headers: &HeaderMap,
    params: &Params,
    body: &Bytes,
    scope: &TokenScope,
) -> Result<Response<Body>, ApiError> {
    let verb = k8s_verb(method, &format!("/api/v1/{}", rp.plural), "", headers);
    let verb = if rp.name.is_some() {
        match verb.as_str() {
            "list" => "get".to_string(),
            "deletecollection" => "delete".to_string(),
            v => v.to_string(),
        }
    } else {
        verb
    };
    let mut g = store.lock();
    let def = g
        .registry
        .by_path(&rp.group, &rp.version, &rp.plural)
        .ok_or_else(not_found_path)?;
    if !def.namespaced && rp.namespace.is_some() {
        return Err(not_found_path());
    }
    let sub_status = match rp.sub.as_deref() {
        None => false,
        Some("status") if def.has_status => true,
        Some(_) => return Err(not_found_path()),
    };
    if let TokenScope::Namespace(ns) = scope {
        let own_namespace =
            def.kind == "Namespace" && rp.name.as_deref() == Some(ns.as_str()) && verb == "get";
        if rp.namespace.as_deref() != Some(ns.as_str()) && !own_namespace {
            return Err(forbidden(rp, &verb, ns));
        }
    }
    let key = def.key();
    let ns = rp.namespace.as_deref();
    let version = rp.version.as_str();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let include = IncludeObject::parse(params.get("includeObject").map(String::as_str));
    match (method.clone(), rp.name.as_deref()) {
        (Method::GET, Some(name)) => {
            let obj = g.get(&key, version, ns, name)?;
            if wants_table(headers) {
                let rv = obj
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                return Ok(json_response(
                    200,
                    &table::table(&def, version, &[obj], &rv, include),
                    &[],
                ));
            }
            Ok(json_response(200, &obj, &[]))
        }
        (Method::GET, None) => {
            let ls = LabelSelector::parse(
                params
                    .get("labelSelector")
                    .map(String::as_str)
                    .unwrap_or(""),
            )?;
            let fs = FieldSelector::parse(
                params
                    .get("fieldSelector")
                    .map(String::as_str)
                    .unwrap_or(""),
            )?;
            if params.get("watch").is_some_and(|w| w == "true" || w == "1") {
                let spec = crate::watch::WatchSpec {
                    def: def.clone(),
                    version: version.to_string(),
                    namespace: ns.map(String::from),
                    labels: ls,
                    fields: fs,
                    table: wants_table(headers),
                    include,
                    timeout: params
                        .get("timeoutSeconds")
                        .and_then(|t| t.parse::<u64>().ok())
                        .map(std::time::Duration::from_secs),
                    bookmarks: params
                        .get("allowWatchBookmarks")
                        .is_some_and(|b| b == "true"),
                };
                let send_initial = params.get("sendInitialEvents").is_some_and(|b| b == "true");
                return crate::watch::start(
                    store,
                    g,
                    spec,
                    params.get("resourceVersion").map(String::as_str),
                    send_initial,
                );
            }
            let rv = g.current_rv();
            let all = g.list_refs(&def, ns, &ls, &fs);
            let offset: usize = params
                .get("continue")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let limit: usize = params
                .get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            let total = all.len();
            let mut page: Vec<&Value> = all.into_iter().skip(offset).collect();
            let mut meta = json!({"resourceVersion": rv});
            if limit > 0 && page.len() > limit {
                page.truncate(limit);
                meta["continue"] = json!((offset + limit).to_string());
                meta["remainingItemCount"] = json!(total - offset - limit);
            }
            let api_version = def.api_version(version);
            if wants_table(headers) {
                let items: Vec<Value> =
                    page.iter().map(|o| with_version(o, &api_version)).collect();
                drop(g);
                let mut t = table::table(&def, version, &items, &rv, include);
                t["metadata"] = meta;
                return Ok(json_response(200, &t, &[]));
            }
            // Serialise straight from the store (no copies): lists of ~1000 objects are common
            // in benchmarks.
            let mut buf = Vec::with_capacity(256 + page.len() * 1024);
            let head = json!({"kind": def.list_kind, "apiVersion": api_version, "metadata": meta});
            let head = serde_json::to_vec(&head).unwrap_or_default();
            buf.extend_from_slice(&head[..head.len().saturating_sub(1)]);
            buf.extend_from_slice(b",\"items\":[");
            for (i, o) in page.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                let result = if o["apiVersion"].as_str() == Some(api_version.as_str()) {
                    serde_json::to_writer(&mut buf, *o)
                } else {
                    serde_json::to_writer(&mut buf, &with_version(o, &api_version))
                };
                if let Err(e) = result {
                    return Err(ApiError::new(
                        500,
                        "InternalError",
                        format!("encoding list: {e}"),
                    ));
                }
            }
            buf.extend_from_slice(b"]}");
            drop(g);
            let mut r = Response::new(Body::from(buf));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(r)
        }
        (Method::POST, None) => {
            let obj = parse_body(body, &content_type)?;
            let opts = write_options(params, headers, false)?;
            let created = g.create_http(&key, version, ns, obj, &opts)?;
            Ok(json_response(201, &created.object, &created.warnings))
        }
        (Method::PUT, Some(name)) => {
            let obj = parse_body(body, &content_type)?;
            let opts = write_options(params, headers, false)?;
            let updated = g.update_http(&key, version, ns, name, obj, &opts, sub_status)?;
            Ok(json_response(200, &updated.object, &updated.warnings))
        }
        (Method::PATCH, Some(name)) => {
            let media = content_type.split(';').next().unwrap_or("").trim();
            let ptype = match media {
                "application/apply-patch+yaml" | "application/apply-patch+json" => PatchType::Apply,
                "application/merge-patch+json" => PatchType::Merge,
                "application/strategic-merge-patch+json" => PatchType::Strategic,
                "application/json-patch+json" => PatchType::Json,
                other => {
                    return Err(ApiError::unsupported_media_type(format!(
                        "the body of the request was in an unknown format ({other}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml{}",
                        if def.custom { "" } else { ", application/strategic-merge-patch+json" }
                    )))
                }
            };
            let patch = parse_body(
                body,
                if ptype == PatchType::Apply {
                    "yaml"
                } else {
                    media
                },
            )?;
            let opts = write_options(params, headers, ptype == PatchType::Apply)?;
            let r = g.patch(&key, version, ns, name, ptype, patch, &opts, sub_status)?;
            Ok(json_response(
                if r.created { 201 } else { 200 },
                &r.object,
                &r.warnings,
            ))
        }
        (Method::DELETE, Some(name)) => {
            let opts: Value = if body.is_empty() {
                json!({})
            } else {
                parse_body(body, &content_type)?
            };
            let prop = propagation(
                params
                    .get("propagationPolicy")
                    .map(String::as_str)
                    .or(opts["propagationPolicy"].as_str()),
            )?;
            if params.get("dryRun").is_some_and(|d| d == "All")
                || opts["dryRun"].as_array().is_some_and(|a| !a.is_empty())
            {
                let obj = g.get(&key, version, ns, name)?;
                return Ok(json_response(200, &obj, &[]));
            }
            let obj = g.delete(&key, version, ns, name, prop, opts.get("preconditions"))?;
            Ok(json_response(200, &obj, &[]))
        }
        (Method::DELETE, None) => {
            let opts: Value = if body.is_empty() {
                json!({})
            } else {
                parse_body(body, &content_type)?
            };
            let prop = propagation(
                params
                    .get("propagationPolicy")
                    .map(String::as_str)
                    .or(opts["propagationPolicy"].as_str()),
            )?;
            let ls = LabelSelector::parse(
                params
                    .get("labelSelector")
                    .map(String::as_str)
                    .unwrap_or(""),
            )?;
            let fs = FieldSelector::parse(
                params
                    .get("fieldSelector")
                    .map(String::as_str)
                    .unwrap_or(""),
            )?;
            let (items, _) = g.list(&key, version, ns, &ls, &fs)?;
            let mut deleted = Vec::new();
            for it in items {
                let n = it
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let ins = it
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .map(String::from);
                if let Ok(o) = g.delete(&key, version, ins.as_deref(), &n, prop, None) {
                    deleted.push(o);
                }
            }
            let list = json!({"kind": def.list_kind, "apiVersion": def.api_version(version), "metadata": {"resourceVersion": g.current_rv()}, "items": deleted});
            Ok(json_response(200, &list, &[]))
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method})"
        ))),
    }
}

fn with_version(o: &Value, api_version: &str) -> Value {
    let mut o = o.clone();
    o["apiVersion"] = json!(api_version);
    o
}

fn propagation(p: Option<&str>) -> Result<Propagation, ApiError> {
    match p {
        None | Some("") | Some("Background") => Ok(Propagation::Background),
        Some("Foreground") => Ok(Propagation::Foreground),
        Some("Orphan") => Ok(Propagation::Orphan),
        Some(other) => Err(ApiError::bad_request(format!(
            "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p = parse_path("/apis/security.istio.io/v1/namespaces/m/authorizationpolicies/x")
            .expect("path");
        assert_eq!(
            (
                p.group.as_str(),
                p.namespace.as_deref(),
                p.plural.as_str(),
                p.name.as_deref()
            ),
            (
                "security.istio.io",
                Some("m"),
                "authorizationpolicies",
                Some("x")
            )
        );
        let p = parse_path("/api/v1/namespaces/m").expect("ns");
        assert_eq!(
            (p.plural.as_str(), p.name.as_deref(), p.namespace),
            ("namespaces", Some("m"), None)
        );
        let p = parse_path("/api/v1/namespaces/m/status").expect("ns status");
        assert_eq!(
            (p.name.as_deref(), p.sub.as_deref()),
            (Some("m"), Some("status"))
        );
        let p = parse_path("/api/v1/namespaces/m/pods").expect("pods");
        assert_eq!(
            (p.namespace.as_deref(), p.plural.as_str(), p.name),
            (Some("m"), "pods", None)
        );
        assert!(parse_path("/api/v1").is_none());
        assert!(parse_path("/apis/apps/v1").is_none());
    }
}
