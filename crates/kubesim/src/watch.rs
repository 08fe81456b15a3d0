//! Watches: `?watch=true` streams newline-delimited watch events (`ADDED`, `MODIFIED`, `DELETED`,
//! `ERROR`, `BOOKMARK`) from the store's recent-change history, as kube-rs watchers and
//! `kubectl get -w` expect.

use crate::error::ApiError;
use crate::registry::ResourceDef;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{Event, EventType, Inner, Store};
use crate::table::{self, IncludeObject};
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, HeaderValue, Response};
use hyper::body::Frame;
use serde_json::{json, Value};
use std::pin::Pin;
use std::sync::{Arc, MutexGuard};
use std::task::{Context, Poll};

/// Response body fed by a channel: each message is one encoded event.
struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|m| m.map(|b| Ok(Frame::data(b))))
    }
}

/// What a watch is looking at.
pub struct WatchSpec {
    pub def: Arc<ResourceDef>,
    pub version: String,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub table: bool,
    pub include: IncludeObject,
    pub timeout: Option<std::time::Duration>,
    pub bookmarks: bool,
}

impl WatchSpec {
    fn matches(&self, obj: &Value) -> bool {
        let in_ns = match (&self.namespace, self.def.namespaced) {
            (Some(ns), true) => {
                obj.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)
            }
            _ => true,
        };
        in_ns && self.labels.matches(obj) && self.fields.matches(obj)
    }

    fn encode(&self, event_type: &str, obj: &Value) -> Bytes {
        let mut o = obj.clone();
        o["apiVersion"] = json!(self.def.api_version(&self.version));
        o["kind"] = json!(self.def.kind);
        let object = if self.table {
            let rv = o
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            table::table(&self.def, &self.version, &[o], &rv, self.include)
        } else {
            o
        };
        line(&json!({"type": event_type, "object": object}))
    }

    /// The event (if any) this watch sees for a change, with selector transitions as the real
    /// server reports them.
    fn translate(&self, e: &Event) -> Option<Bytes> {
        if e.key != self.def.key() {
            return None;
        }
        let now = self.matches(&e.object);
        let before = e.previous.as_ref().is_some_and(|p| self.matches(p));
        let t = match (e.event_type, before, now) {
            (EventType::Deleted, true, _) | (EventType::Deleted, _, true) => "DELETED",
            (EventType::Deleted, false, false) => return None,
            (_, false, true) => "ADDED",
            (_, true, true) => "MODIFIED",
            (_, true, false) => "DELETED",
            (_, false, false) => return None,
        };
        Some(self.encode(t, &e.object))
    }
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

fn expired(rv: u64) -> Bytes {
    line(
        &json!({"type": "ERROR", "object": ApiError::new(410, "Expired", format!("too old resource version: {rv}")).to_status()}),
    )
}

/// Start a watch; `g` is the locked store (released before streaming).
pub fn start(
    store: &Store,
    g: MutexGuard<'_, Inner>,
    spec: WatchSpec,
    resource_version: Option<&str>,
    send_initial_events: bool,
) -> Result<Response<Body>, ApiError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    let mut initial = Vec::new();
    let from: u64 = match resource_version.filter(|r| !r.is_empty() && *r != "0") {
        Some(r) => r
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion \"{r}\"")))?,
        None => g.current_rv().parse().unwrap_or(0),
    };
    let replay_initial =
        resource_version.is_none_or(|r| r.is_empty() || r == "0") || send_initial_events;
    if replay_initial {
        for o in g.list_refs(
            &spec.def,
            spec.namespace.as_deref(),
            &spec.labels,
            &spec.fields,
        ) {
            initial.push(spec.encode("ADDED", o));
        }
    }
    let too_old = resource_version.is_some_and(|r| !r.is_empty() && r != "0")
        && from < g.events_dropped_up_to;
    if send_initial_events && spec.bookmarks {
        let rv = g.current_rv();
        initial.push(line(&json!({"type": "BOOKMARK", "object": {
            "kind": spec.def.kind, "apiVersion": spec.def.api_version(&spec.version),
            "metadata": {"resourceVersion": rv, "annotations": {"k8s.io/initial-events-end": "true"}}}})));
    }
    let mut wake = g.notify.subscribe();
    drop(g);
    let store = store.clone();
    tokio::spawn(async move {
        if too_old {
            let _ = tx.send(expired(from)).await;
            return;
        }
        for b in initial {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        let deadline = spec.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut seen = from;
        loop {
            wake.borrow_and_update();
            let (batch, expired_now) = {
                let g = store.lock();
                if seen < g.events_dropped_up_to {
                    (Vec::new(), true)
                } else {
                    let batch: Vec<Bytes> = g
                        .events
                        .iter()
                        .filter(|e| e.rv > seen)
                        .filter_map(|e| spec.translate(e))
                        .collect();
                    seen = g.events.back().map_or(seen, |e| e.rv.max(seen));
                    (batch, false)
                }
            };
            if expired_now {
                let _ = tx.send(expired(seen)).await;
                return;
            }
            for b in batch {
                if tx.send(b).await.is_err() {
                    return;
                }
            }
            let changed = wake.changed();
            let closed = tx.closed();
            match deadline {
                Some(d) => tokio::select! {
                    r = changed => if r.is_err() { return },
                    _ = closed => return,
                    _ = tokio::time::sleep_until(d) => return,
                },
                None => tokio::select! {
                    r = changed => if r.is_err() { return },
                    _ = closed => return,
                },
            }
        }
    });
    let mut r = Response::new(Body::new(ChannelBody(rx)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}
