//! AuthorizationPolicy parsing and rule matching.
//!
//! Reference: <https://istio.io/latest/docs/reference/config/security/authorization-policy/>
//! (action order, rule/source/operation/condition semantics, value matching) and
//! <https://istio.io/latest/docs/ambient/usage/l4-policy/> (what ztunnel can enforce).

use serde_json::Value;

use crate::snapshot::Labels;

/// `spec.action`; absent means ALLOW.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
    Custom,
    Audit,
}

/// A reference from `spec.targetRefs` (or the deprecated singular `spec.targetRef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRef {
    pub group: String,
    pub kind: String,
    pub name: String,
    /// Explicit namespace, if any (Istio only allows the policy's own namespace).
    pub namespace: Option<String>,
}

/// One parsed AuthorizationPolicy. Rules stay JSON: matching reads only the fields it knows.
#[derive(Debug, Clone)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    pub action: Action,
    /// `spec.selector.matchLabels`; `None` when absent (namespace-wide, or mesh-wide in the root namespace).
    pub selector: Option<Labels>,
    pub target_refs: Vec<TargetRef>,
    /// `None` when `spec.rules` is absent.
    pub rules: Option<Vec<Value>>,
}

impl Policy {
    /// Parses an AuthorizationPolicy object; `None` for anything that is not one (no name or namespace).
    pub fn from_object(obj: &Value) -> Option<Policy> {
        let namespace = obj.pointer("/metadata/namespace")?.as_str()?.to_string();
        let name = obj.pointer("/metadata/name")?.as_str()?.to_string();
        let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
        let action = match spec.get("action").and_then(Value::as_str) {
            None | Some("ALLOW") => Action::Allow,
            Some("DENY") => Action::Deny,
            Some("CUSTOM") => Action::Custom,
            Some("AUDIT") => Action::Audit,
            // The CRD's enum rejects anything else; if one slips through, deny is the safe reading.
            Some(_) => Action::Deny,
        };
        let selector = spec.get("selector").map(|s| {
            s.get("matchLabels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                        .collect()
                })
                .unwrap_or_default()
        });
        let mut target_refs = Vec::new();
        let mut refs: Vec<&Value> = Vec::new();
        if let Some(arr) = spec.get("targetRefs").and_then(Value::as_array) {
            refs.extend(arr.iter());
        }
        if let Some(one) = spec.get("targetRef") {
            refs.push(one);
        }
        for r in refs {
            let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
            if let (Some(kind), Some(name)) = (s("kind"), s("name")) {
                target_refs.push(TargetRef {
                    group: s("group").unwrap_or_default(),
                    kind,
                    name,
                    namespace: s("namespace"),
                });
            }
        }
        let rules = spec.get("rules").and_then(Value::as_array).cloned();
        Some(Policy {
            namespace,
            name,
            action,
            selector,
            target_refs,
            rules,
        })
    }

    /// Does this policy attach to something through `targetRefs`?
    pub fn is_targeted(&self) -> bool {
        !self.target_refs.is_empty()
    }
}

/// What a rule is matched against.
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    /// Peer principal (`cluster.local/ns/x/sa/y`); `None` for plaintext (off-mesh) peers.
    pub principal: Option<String>,
    /// Port of the connection as the workload sees it.
    pub port: u16,
    /// HTTP attributes: only meaningful where HTTP is parsed (the waypoint).
    pub host: String,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Attributes {
    /// Source namespace, derived from the peer principal as Istio does.
    pub fn source_namespace(&self) -> Option<&str> {
        let p = self.principal.as_deref()?;
        let rest = p.split("/ns/").nth(1)?;
        rest.split('/').next()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Where a policy is enforced: the waypoint (Envoy, full HTTP) or the destination ztunnel (L4 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcer {
    Waypoint,
    Ztunnel,
}

/// Istio's string matching: exact `abc`, prefix `abc*`, suffix `*abc`, presence `*` (any non-empty).
pub fn string_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (p, v) = if ignore_case {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_string(), value.to_string())
    };
    if p == "*" {
        return !v.is_empty();
    }
    if let Some(prefix) = p.strip_suffix('*') {
        return v.starts_with(prefix);
    }
    if let Some(suffix) = p.strip_prefix('*') {
        return v.ends_with(suffix);
    }
    p == v
}

fn strings(v: &Value, key: &str) -> Option<Vec<String>> {
    let arr = v.get(key)?.as_array()?;
    if arr.is_empty() {
        // An empty list is the protobuf default: the field is unset.
        return None;
    }
    Some(
        arr.iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
    )
}

/// One positive/negative field pair: positive set must contain a match, negative set must not.
/// An absent value (no identity, say) never matches a pattern, not even the presence match `*`.
fn field_ok(obj: &Value, pos: &str, neg: &str, value: Option<&str>, ignore_case: bool) -> bool {
    let m = |pats: &[String]| match value {
        Some(v) => pats.iter().any(|p| string_match(p, v, ignore_case)),
        None => false,
    };
    if let Some(pats) = strings(obj, pos) {
        if !m(&pats) {
            return false;
        }
    }
    if let Some(pats) = strings(obj, neg) {
        if m(&pats) {
            return false;
        }
    }
    true
}

const SOURCE_L7_FIELDS: &[&str] = &[
    "requestPrincipals",
    "notRequestPrincipals",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
];
const OPERATION_L7_FIELDS: &[&str] = &[
    "hosts",
    "notHosts",
    "methods",
    "notMethods",
    "paths",
    "notPaths",
];
/// Condition keys ztunnel understands (everything else needs HTTP).
const L4_CONDITION_KEYS: &[&str] = &[
    "source.ip",
    "source.namespace",
    "source.principal",
    "destination.ip",
    "destination.port",
];

fn has_any(obj: &Value, keys: &[&str]) -> bool {
    keys.iter().any(|k| strings(obj, k).is_some())
}

fn strip(obj: &Value, keys: &[&str]) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        for k in keys {
            m.remove(*k);
        }
    }
    o
}

/// Whether a rule uses attributes that only an HTTP-aware proxy can see.
pub fn rule_has_l7(rule: &Value) -> bool {
    let from_l7 = list(rule, "from").iter().any(|f| {
        f.get("source")
            .is_some_and(|s| has_any(s, SOURCE_L7_FIELDS))
    });
    let to_l7 = list(rule, "to").iter().any(|t| {
        t.get("operation")
            .is_some_and(|o| has_any(o, OPERATION_L7_FIELDS))
    });
    let when_l7 = list(rule, "when").iter().any(|c| {
        c.get("key")
            .and_then(Value::as_str)
            .is_some_and(|k| !L4_CONDITION_KEYS.contains(&k))
    });
    from_l7 || to_l7 || when_l7
}

/// The rule as ztunnel enforces it, per Istio's ambient conversion: an ALLOW rule with HTTP
/// attributes is omitted (`None`); a DENY rule is kept without its HTTP attributes ("enforced
/// without the HTTP rules. This will be more restrictive than requested.").
pub fn ztunnel_rule(rule: &Value, action: &Action) -> Option<Value> {
    if !rule_has_l7(rule) {
        return Some(rule.clone());
    }
    match action {
        Action::Allow => None,
        _ => {
            let mut r = rule.clone();
            if let Some(m) = r.as_object_mut() {
                if let Some(Value::Array(from)) = m.get_mut("from") {
                    for f in from.iter_mut() {
                        if let Some(s) = f.get("source") {
                            let s2 = strip(s, SOURCE_L7_FIELDS);
                            f["source"] = s2;
                        }
                    }
                }
                if let Some(Value::Array(to)) = m.get_mut("to") {
                    for t in to.iter_mut() {
                        if let Some(o) = t.get("operation") {
                            let o2 = strip(o, OPERATION_L7_FIELDS);
                            t["operation"] = o2;
                        }
                    }
                }
                if let Some(Value::Array(when)) = m.get_mut("when") {
                    when.retain(|c| {
                        c.get("key")
                            .and_then(Value::as_str)
                            .is_some_and(|k| L4_CONDITION_KEYS.contains(&k))
                    });
                }
            }
            Some(r)
        }
    }
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn source_matches(src: &Value, a: &Attributes) -> bool {
    // The simulator gives pods no IP addresses: positive IP matches cannot succeed, negative ones
    // cannot exclude (documented limitation).
    field_ok(src, "principals", "notPrincipals", a.principal.as_deref(), false)
        && field_ok(
            src,
            "namespaces",
            "notNamespaces",
            a.source_namespace(),
            false,
        )
        // No JWT is ever presented by the simulated curl.
        && field_ok(src, "requestPrincipals", "notRequestPrincipals", None, false)
        && field_ok(src, "ipBlocks", "notIpBlocks", None, false)
        && field_ok(src, "remoteIpBlocks", "notRemoteIpBlocks", None, false)
}

fn operation_matches(op: &Value, a: &Attributes) -> bool {
    let port = a.port.to_string();
    // `paths` match the path without its query string (Envoy's url_path matcher).
    let path = a.path.split('?').next().unwrap_or("");
    // Hosts are compared case-insensitively, as the reference says.
    field_ok(op, "hosts", "notHosts", Some(&a.host), true)
        && field_ok(op, "ports", "notPorts", Some(&port), false)
        && field_ok(op, "methods", "notMethods", Some(&a.method), false)
        && field_ok(op, "paths", "notPaths", Some(path), false)
}

fn condition_matches(c: &Value, a: &Attributes) -> bool {
    let key = c.get("key").and_then(Value::as_str).unwrap_or("");
    let port = a.port.to_string();
    let value: Option<&str> = match key {
        "source.principal" => a.principal.as_deref(),
        "source.namespace" => a.source_namespace(),
        "destination.port" => Some(&port),
        _ => {
            if let Some(h) = key
                .strip_prefix("request.headers[")
                .and_then(|k| k.strip_suffix(']'))
            {
                a.header(h)
            } else {
                // IPs, JWT claims, SNI: attributes the simulator has no value for.
                None
            }
        }
    };
    let vals = strings(c, "values");
    let not_vals = strings(c, "notValues");
    let m = |pats: &[String]| value.is_some_and(|v| pats.iter().any(|p| string_match(p, v, false)));
    if let Some(p) = &vals {
        if !m(p) {
            return false;
        }
    }
    if let Some(p) = &not_vals {
        if m(p) {
            return false;
        }
    }
    true
}

/// "A match occurs when at least one source, one operation and all conditions matches the
/// request. An empty rule is always matched."
pub fn rule_matches(rule: &Value, a: &Attributes) -> bool {
    let from = list(rule, "from");
    let to = list(rule, "to");
    let when = list(rule, "when");
    let from_ok = from.is_empty()
        || from.iter().any(|f| match f.get("source") {
            Some(s) => source_matches(s, a),
            None => true,
        });
    let to_ok = to.is_empty()
        || to.iter().any(|t| match t.get("operation") {
            Some(o) => operation_matches(o, a),
            None => true,
        });
    let when_ok = when.iter().all(|c| condition_matches(c, a));
    from_ok && to_ok && when_ok
}

/// Whether the policy matches the request at the given enforcer. A policy without `rules`
/// never matches ("If not set, the match will never occur").
pub fn policy_matches(p: &Policy, a: &Attributes, enforcer: Enforcer) -> bool {
    let Some(rules) = &p.rules else {
        return false;
    };
    rules.iter().any(|r| match enforcer {
        Enforcer::Waypoint => rule_matches(r, a),
        Enforcer::Ztunnel => ztunnel_rule(r, &p.action).is_some_and(|r| rule_matches(&r, a)),
    })
}

/// Result of evaluating a set of applicable policies at one enforcement point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed; names the ALLOW policy that matched, or `None` when no ALLOW policy applies.
    Allow(Option<String>),
    /// Denied; names the CUSTOM/DENY policy that matched, or `None` when no ALLOW policy matched.
    Deny(Option<String>),
}

/// Istio's order: "The CUSTOM action is evaluated first, then DENY, then ALLOW ... If there are
/// no ALLOW policies for the workload, allow the request. If any of the ALLOW policies match the
/// request, allow the request. Deny the request." AUDIT never decides.
///
/// CUSTOM needs an external authorizer; the simulator has none, so a matching CUSTOM policy at
/// the waypoint denies (fail closed). ztunnel does not support CUSTOM and ignores such policies.
pub fn decide(policies: &[&Policy], a: &Attributes, enforcer: Enforcer) -> Verdict {
    let qualified = |p: &Policy| format!("{}/{}", p.namespace, p.name);
    if enforcer == Enforcer::Waypoint {
        if let Some(p) = policies
            .iter()
            .find(|p| p.action == Action::Custom && policy_matches(p, a, enforcer))
        {
            return Verdict::Deny(Some(qualified(p)));
        }
    }
    if let Some(p) = policies
        .iter()
        .find(|p| p.action == Action::Deny && policy_matches(p, a, enforcer))
    {
        return Verdict::Deny(Some(qualified(p)));
    }
    let allows: Vec<&&Policy> = policies
        .iter()
        .filter(|p| p.action == Action::Allow)
        .collect();
    if allows.is_empty() {
        return Verdict::Allow(None);
    }
    match allows.iter().find(|p| policy_matches(p, a, enforcer)) {
        Some(p) => Verdict::Allow(Some(qualified(p))),
        None => Verdict::Deny(None),
    }
}
