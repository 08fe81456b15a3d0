//! Field ownership for server-side apply (`managedFields`, FieldsV1 format) and list/map merge
//! semantics shared with strategic merge patch.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How a list merges: replaced whole, a set of scalars, or keyed items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    Atomic,
    Set,
    Map(Vec<String>),
}

/// Type information needed to merge: a CRD schema, or built-in knowledge.
#[derive(Clone, Copy)]
pub struct Types<'a> {
    pub schema: Option<&'a Value>,
}

impl<'a> Types<'a> {
    fn schema_at(&self, path: &[String]) -> Option<&'a Value> {
        let mut node = self.schema?;
        for seg in path {
            if node["type"].as_str() == Some("array") {
                node = node.get("items")?;
            }
            node = match node.get("properties").and_then(|p| p.get(seg)) {
                Some(n) => n,
                None => match node.get("additionalProperties") {
                    Some(a @ Value::Object(_)) => a,
                    _ => return None,
                },
            };
        }
        Some(node)
    }

    pub fn list_type(&self, path: &[String]) -> ListType {
        if self.schema.is_some() && path.first().map(String::as_str) != Some("metadata") {
            let Some(node) = self.schema_at(path) else {
                return ListType::Atomic;
            };
            return match node["x-kubernetes-list-type"].as_str() {
                Some("set") => ListType::Set,
                Some("map") => ListType::Map(
                    node["x-kubernetes-list-map-keys"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|k| k.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                _ => ListType::Atomic,
            };
        }
        builtin_list_type(path)
    }

    /// The list type strategic merge patch uses: built-in kinds merge by their single
    /// `patchMergeKey` (a Service port by `port`, a container port by `containerPort`), while
    /// server-side apply keys the same lists by their `x-kubernetes-list-map-keys` (with `protocol`).
    pub fn patch_list_type(&self, path: &[String]) -> ListType {
        match self.list_type(path) {
            ListType::Map(keys) if self.schema.is_none() && keys.len() > 1 => {
                ListType::Map(keys.into_iter().take(1).collect())
            }
            lt => lt,
        }
    }

    /// The default of a key field of an associative list, which the real server fills in an
    /// applied configuration before keying its items (a Service port without `protocol` is the
    /// `TCP` one).
    fn key_default(&self, path: &[String], key: &str) -> Option<Value> {
        if self.schema.is_some() && path.first().map(String::as_str) != Some("metadata") {
            return self
                .schema_at(path)?
                .get("items")?
                .get("properties")?
                .get(key)?
                .get("default")
                .cloned();
        }
        (key == "protocol").then(|| Value::String("TCP".into()))
    }

    pub fn atomic_map(&self, path: &[String]) -> bool {
        if self.schema.is_some() && path.first().map(String::as_str) != Some("metadata") {
            return self
                .schema_at(path)
                .is_some_and(|n| n["x-kubernetes-map-type"].as_str() == Some("atomic"));
        }
        // Built-in maps (labels, annotations, selectors, data) all merge key by key here.
        false
    }
}

/// Merge keys of built-in kinds (the `patchMergeKey`s / list-map-keys of the real types).
fn builtin_list_type(path: &[String]) -> ListType {
    let Some(last) = path.last() else {
        return ListType::Atomic;
    };
    let in_container = path.iter().rev().skip(1).any(|s| {
        matches!(
            s.as_str(),
            "containers" | "initContainers" | "ephemeralContainers"
        )
    });
    let key = |k: &str| ListType::Map(vec![k.to_string()]);
    match last.as_str() {
        "ownerReferences" => key("uid"),
        "finalizers" => ListType::Set,
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => key("name"),
        "ports" if in_container => {
            ListType::Map(vec!["containerPort".to_string(), "protocol".to_string()])
        }
        // ServiceSpec.ports: +listMapKey=port +listMapKey=protocol.
        "ports" => ListType::Map(vec!["port".to_string(), "protocol".to_string()]),
        "topologySpreadConstraints" => ListType::Map(vec![
            "topologyKey".to_string(),
            "whenUnsatisfiable".to_string(),
        ]),
        "volumeMounts" => key("mountPath"),
        "volumeDevices" => key("devicePath"),
        "conditions" => key("type"),
        "hostAliases" => key("ip"),
        _ => ListType::Atomic,
    }
}

/// The key element of an associative list item: `k:{"name":"x"}`.
pub fn item_key(item: &Value, keys: &[String]) -> Option<String> {
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    let mut m = Map::new();
    for k in sorted {
        if let Some(v) = item.get(k) {
            m.insert(k.clone(), v.clone());
        }
    }
    if m.is_empty() {
        return None;
    }
    Some(format!("k:{}", Value::Object(m)))
}

/// A set of field paths (FieldsV1 tree). `owned` marks the node itself (a leaf, or `.` for items).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    pub owned: bool,
    pub children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.owned && self.children.values().all(FieldSet::is_empty)
    }

    pub fn from_value(v: &Value, types: Types, path: &mut Vec<String>) -> FieldSet {
        let mut fs = FieldSet::default();
        match v {
            Value::Object(m) if !m.is_empty() && !types.atomic_map(path) => {
                for (k, child) in m {
                    if child.is_null() {
                        continue;
                    }
                    path.push(k.clone());
                    let c = FieldSet::from_value(child, types, path);
                    path.pop();
                    fs.children.insert(format!("f:{k}"), c);
                }
            }
            Value::Array(items) => match types.list_type(path) {
                ListType::Map(keys) => {
                    let mut ok = true;
                    for item in items {
                        match item_key(item, &keys) {
                            Some(k) if item.is_object() => {
                                let mut c = FieldSet::from_value(item, types, path);
                                c.owned = true;
                                fs.children.insert(k, c);
                            }
                            _ => ok = false,
                        }
                    }
                    if !ok {
                        fs.children.clear();
                        fs.owned = true;
                    } else if items.is_empty() {
                        fs.owned = true;
                    }
                }
                ListType::Set => {
                    for item in items {
                        fs.children.insert(
                            format!("v:{item}"),
                            FieldSet {
                                owned: true,
                                children: BTreeMap::new(),
                            },
                        );
                    }
                    if items.is_empty() {
                        fs.owned = true;
                    }
                }
                ListType::Atomic => fs.owned = true,
            },
            _ => fs.owned = true,
        }
        fs
    }

    pub fn union(&mut self, other: &FieldSet) {
        self.owned |= other.owned;
        for (k, c) in &other.children {
            self.children.entry(k.clone()).or_default().union(c);
        }
    }

    /// Owned nodes of self that are not owned in other.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            owned: self.owned && !other.owned,
            children: BTreeMap::new(),
        };
        let empty = FieldSet::default();
        for (k, c) in &self.children {
            let d = c.difference(other.children.get(k).unwrap_or(&empty));
            if !d.is_empty() {
                out.children.insert(k.clone(), d);
            }
        }
        out
    }

    /// Owned nodes in both.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            owned: self.owned && other.owned,
            children: BTreeMap::new(),
        };
        for (k, c) in &self.children {
            if let Some(o) = other.children.get(k) {
                let i = c.intersection(o);
                if !i.is_empty() {
                    out.children.insert(k.clone(), i);
                }
            }
        }
        out
    }

    /// Owned paths: (path, has_children).
    pub fn leaves(&self) -> Vec<(Vec<String>, bool)> {
        let mut out = Vec::new();
        self.collect_leaves(&mut Vec::new(), &mut out);
        out
    }

    fn collect_leaves(&self, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, bool)>) {
        if self.owned {
            out.push((path.clone(), !self.children.is_empty()));
        }
        for (k, c) in &self.children {
            path.push(k.clone());
            c.collect_leaves(path, out);
            path.pop();
        }
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if self.owned && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, c) in &self.children {
            if !c.is_empty() {
                m.insert(k.clone(), c.to_json());
            }
        }
        Value::Object(m)
    }

    pub fn from_json(v: &Value) -> FieldSet {
        let mut fs = FieldSet::default();
        if let Value::Object(m) = v {
            if m.is_empty() {
                fs.owned = true;
            }
            for (k, c) in m {
                if k == "." {
                    fs.owned = true;
                } else {
                    fs.children.insert(k.clone(), FieldSet::from_json(c));
                }
            }
        }
        fs
    }
}

fn find_item(items: &[Value], elem: &str) -> Option<usize> {
    if let Some(k) = elem.strip_prefix("k:") {
        let want: Map<String, Value> = serde_json::from_str(k).ok()?;
        items
            .iter()
            .position(|it| want.iter().all(|(wk, wv)| it.get(wk) == Some(wv)))
    } else if let Some(v) = elem.strip_prefix("v:") {
        let want: Value = serde_json::from_str(v).ok()?;
        items.iter().position(|it| *it == want)
    } else if let Some(i) = elem.strip_prefix("i:") {
        i.parse().ok().filter(|i: &usize| *i < items.len())
    } else {
        None
    }
}

/// The value at a FieldsV1 path.
pub fn value_at<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut cur = v;
    for elem in path {
        cur = if let Some(f) = elem.strip_prefix("f:") {
            cur.get(f)?
        } else {
            let items = cur.as_array()?;
            &items[find_item(items, elem)?]
        };
    }
    Some(cur)
}

/// Remove the value at a FieldsV1 path; parents left empty by the removal are removed too.
pub fn remove_at(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = &mut *v;
    for elem in parents {
        let next = if let Some(f) = elem.strip_prefix("f:") {
            cur.get_mut(f)
        } else {
            match cur.as_array_mut() {
                Some(items) => match find_item(items, elem) {
                    Some(i) => items.get_mut(i),
                    None => None,
                },
                None => None,
            }
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    let now_empty = if let Some(f) = last.strip_prefix("f:") {
        match cur.as_object_mut() {
            Some(m) => {
                m.remove(f);
                m.is_empty()
            }
            None => false,
        }
    } else {
        match cur.as_array_mut() {
            Some(items) => {
                if let Some(i) = find_item(items, last) {
                    items.remove(i);
                }
                items.is_empty()
            }
            None => false,
        }
    };
    if now_empty && parents.len() > 1 {
        remove_at(v, parents);
    }
}

/// `.spec.rules[name="x"].action` style, as conflict messages print paths.
pub fn path_string(path: &[String]) -> String {
    let mut s = String::new();
    for elem in path {
        if let Some(f) = elem.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = elem.strip_prefix("k:") {
            let parts: Vec<String> = serde_json::from_str::<Map<String, Value>>(k)
                .map(|m| m.iter().map(|(a, b)| format!("{a}={b}")).collect())
                .unwrap_or_default();
            s.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = elem.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        } else {
            s.push_str(&format!("[{elem}]"));
        }
    }
    s
}

/// Fill the missing key fields of associative-list items that have a default (as the real
/// server does to an applied configuration), so each item gets the key the live item has.
/// Returns the FieldsV1 paths of the filled fields: they key the item but are not owned by the
/// manager that left them out.
pub fn default_keys(v: &mut Value, types: Types, path: &mut Vec<String>) -> Vec<Vec<String>> {
    let mut filled = Vec::new();
    fill_keys(v, types, path, Some(Vec::new()), &mut filled);
    filled
}

fn fill_keys(
    v: &mut Value,
    types: Types,
    path: &mut Vec<String>,
    fpath: Option<Vec<String>>,
    filled: &mut Vec<Vec<String>>,
) {
    match v {
        Value::Object(m) => {
            for (k, c) in m.iter_mut() {
                path.push(k.clone());
                let child = fpath.as_ref().map(|f| {
                    let mut f = f.clone();
                    f.push(format!("f:{k}"));
                    f
                });
                fill_keys(c, types, path, child, filled);
                path.pop();
            }
        }
        Value::Array(items) => {
            let keys = match types.list_type(path) {
                ListType::Map(keys) => Some(keys),
                _ => None,
            };
            for item in items.iter_mut() {
                // Items of atomic lists and sets have no field paths of their own.
                let mut item_path = None;
                if let (Some(keys), Value::Object(im)) = (&keys, &mut *item) {
                    let mut added = Vec::new();
                    for k in keys {
                        if !im.contains_key(k) {
                            if let Some(d) = types.key_default(path, k) {
                                im.insert(k.clone(), d);
                                added.push(k.clone());
                            }
                        }
                    }
                    item_path = fpath.as_ref().zip(item_key(item, keys)).map(|(f, key)| {
                        let mut f = f.clone();
                        f.push(key);
                        f
                    });
                    if let Some(ip) = &item_path {
                        for k in added {
                            let mut p = ip.clone();
                            p.push(format!("f:{k}"));
                            filled.push(p);
                        }
                    }
                }
                fill_keys(item, types, path, item_path, filled);
            }
        }
        _ => {}
    }
}

/// Undo defaulting: keep in `defaulted` only the object keys `raw` has (defaulting only adds
/// keys and pruning only removes them, and neither changes list lengths), so an applied
/// configuration is pruned of unknown fields without its manager owning the schema defaults.
pub fn strip_added(defaulted: &mut Value, raw: &Value) {
    match (defaulted, raw) {
        (Value::Object(dm), Value::Object(rm)) => {
            dm.retain(|k, _| rm.contains_key(k));
            for (k, dv) in dm.iter_mut() {
                if let Some(rv) = rm.get(k) {
                    strip_added(dv, rv);
                }
            }
        }
        (Value::Array(di), Value::Array(ri)) if di.len() == ri.len() => {
            for (d, r) in di.iter_mut().zip(ri) {
                strip_added(d, r);
            }
        }
        _ => {}
    }
}

/// Merge an applied configuration into the live object (SSA semantics: maps merge, keyed lists
/// merge by key, sets union, everything else is replaced; `null` removes).
pub fn merge_applied(live: &mut Value, applied: &Value, types: Types, path: &mut Vec<String>) {
    match (live, applied) {
        (Value::Object(lm), Value::Object(am)) if !types.atomic_map(path) => {
            for (k, av) in am {
                if av.is_null() {
                    lm.remove(k);
                    continue;
                }
                path.push(k.clone());
                match lm.get_mut(k) {
                    Some(lv) => merge_applied(lv, av, types, path),
                    None => {
                        lm.insert(k.clone(), av.clone());
                    }
                }
                path.pop();
            }
        }
        (Value::Array(li), Value::Array(ai)) => match types.list_type(path) {
            ListType::Map(keys) => {
                for a in ai {
                    let key = item_key(a, &keys);
                    let pos = key.as_ref().and_then(|k| find_item(li, k));
                    match pos {
                        Some(i) => merge_applied(&mut li[i], a, types, path),
                        None => li.push(a.clone()),
                    }
                }
            }
            ListType::Set => {
                for a in ai {
                    if !li.contains(a) {
                        li.push(a.clone());
                    }
                }
            }
            ListType::Atomic => *li = ai.clone(),
        },
        (l, a) => *l = a.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fieldsv1_roundtrip_and_paths() {
        let v = json!({"metadata": {"labels": {"a": "1"}, "finalizers": ["x"]},
            "spec": {"containers": [{"name": "c", "image": "i"}], "action": "ALLOW"}});
        let fs = FieldSet::from_value(&v, Types { schema: None }, &mut Vec::new());
        let j = fs.to_json();
        assert_eq!(j["f:metadata"]["f:labels"]["f:a"], json!({}));
        assert_eq!(j["f:metadata"]["f:finalizers"]["v:\"x\""], json!({}));
        assert_eq!(
            j["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"]["."],
            json!({})
        );
        assert_eq!(FieldSet::from_json(&j), fs);
        let p = vec![
            "f:spec".to_string(),
            "f:containers".into(),
            "k:{\"name\":\"c\"}".into(),
            "f:image".into(),
        ];
        assert_eq!(value_at(&v, &p), Some(&json!("i")));
        assert_eq!(path_string(&p), ".spec.containers[name=\"c\"].image");
        let mut v2 = v.clone();
        remove_at(
            &mut v2,
            &["f:metadata".into(), "f:labels".into(), "f:a".into()],
        );
        assert!(v2["metadata"].get("labels").is_none());
    }
}
