//! JSON merge patch (RFC 7386), strategic merge patch (built-in kinds) and JSON patch (RFC 6902).

use crate::error::ApiError;
use crate::fields::{item_key, ListType, Types};
use serde_json::Value;

/// RFC 7386: objects merge recursively, `null` deletes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(pm) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            if let Value::Object(tm) = target {
                for (k, pv) in pm {
                    if pv.is_null() {
                        tm.remove(k);
                    } else {
                        merge_patch(tm.entry(k.clone()).or_insert(Value::Null), pv);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Strategic merge patch: like a merge patch, but lists with a merge key merge item by item,
/// `$patch: delete|replace` directives and `$deleteFromPrimitiveList/` are honoured, and
/// `$setElementOrder/` / `$retainKeys` are accepted (ordering is not enforced).
pub fn strategic_merge_patch(
    target: &mut Value,
    patch: &Value,
    types: Types,
    path: &mut Vec<String>,
) -> Result<(), ApiError> {
    let Value::Object(pm) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    if pm.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut clean = patch.clone();
        if let Some(m) = clean.as_object_mut() {
            m.remove("$patch");
        }
        *target = clean;
        return Ok(());
    }
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(tm) = target else {
        return Ok(());
    };
    for (k, pv) in pm {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Some(del)) = (tm.get_mut(field), pv.as_array()) {
                items.retain(|i| !del.contains(i));
            }
            continue;
        }
        if pv.is_null() {
            tm.remove(k);
            continue;
        }
        path.push(k.clone());
        match pv {
            Value::Object(inner)
                if inner.get("$patch").and_then(Value::as_str) == Some("delete") =>
            {
                tm.remove(k);
            }
            Value::Object(_) => {
                let t = tm.entry(k.clone()).or_insert(Value::Null);
                strategic_merge_patch(t, pv, types, path)?;
            }
            Value::Array(pitems) => {
                let lt = types.patch_list_type(path);
                let existing = tm.get_mut(k).and_then(Value::as_array_mut);
                match (lt, existing) {
                    (ListType::Map(keys), Some(titems)) => {
                        let replace = pitems
                            .iter()
                            .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"));
                        if replace {
                            *titems = pitems
                                .iter()
                                .filter(|i| i.get("$patch").is_none())
                                .cloned()
                                .collect();
                        } else {
                            for pi in pitems {
                                let key = item_key(pi, &keys);
                                let pos = key.as_ref().and_then(|kk| {
                                    let want: serde_json::Map<String, Value> =
                                        serde_json::from_str(kk.trim_start_matches("k:")).ok()?;
                                    titems.iter().position(|t| {
                                        want.iter().all(|(wk, wv)| t.get(wk) == Some(wv))
                                    })
                                });
                                let delete =
                                    pi.get("$patch").and_then(Value::as_str) == Some("delete");
                                match (pos, delete) {
                                    (Some(i), true) => {
                                        titems.remove(i);
                                    }
                                    (None, true) => {}
                                    (Some(i), false) => {
                                        strategic_merge_patch(&mut titems[i], pi, types, path)?
                                    }
                                    (None, false) => titems.push(pi.clone()),
                                }
                            }
                        }
                    }
                    (ListType::Set, Some(titems)) => {
                        for pi in pitems {
                            if !titems.contains(pi) {
                                titems.push(pi.clone());
                            }
                        }
                    }
                    _ => {
                        tm.insert(k.clone(), pv.clone());
                    }
                }
            }
            _ => {
                tm.insert(k.clone(), pv.clone());
            }
        }
        path.pop();
    }
    Ok(())
}

fn pointer_parts(p: &str) -> Result<Vec<String>, ApiError> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let rest = p
        .strip_prefix('/')
        .ok_or_else(|| ApiError::bad_request(format!("invalid JSON pointer \"{p}\"")))?;
    Ok(rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn parent_mut<'v>(doc: &'v mut Value, parts: &[String]) -> Result<&'v mut Value, ApiError> {
    let mut cur = doc;
    for p in parts {
        cur = match cur {
            Value::Object(m) => m.get_mut(p),
            Value::Array(a) => p.parse::<usize>().ok().and_then(move |i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| {
            ApiError::new(
                422,
                "Invalid",
                format!("path /{} not found", parts.join("/")),
            )
        })?;
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), ApiError> {
    let parts = pointer_parts(path)?;
    let Some((last, parents)) = parts.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i: usize = last
                    .parse()
                    .map_err(|_| ApiError::bad_request(format!("bad array index {last}")))?;
                if i > a.len() {
                    return Err(ApiError::new(
                        422,
                        "Invalid",
                        format!("index {i} out of range"),
                    ));
                }
                a.insert(i, value);
            }
        }
        _ => {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!("cannot add at {path}"),
            ))
        }
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, ApiError> {
    let parts = pointer_parts(path)?;
    let Some((last, parents)) = parts.split_last() else {
        return Err(ApiError::bad_request("cannot remove the whole document"));
    };
    let missing = || {
        ApiError::new(
            422,
            "Invalid",
            format!("unable to remove nonexistent key: {path}"),
        )
    };
    match parent_mut(doc, parents)? {
        Value::Object(m) => m.remove(last).ok_or_else(missing),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| missing())?;
            if i < a.len() {
                Ok(a.remove(i))
            } else {
                Err(missing())
            }
        }
        _ => Err(missing()),
    }
}

/// RFC 6902 JSON patch.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), ApiError> {
    let ops = ops
        .as_array()
        .ok_or_else(|| ApiError::bad_request("a JSON patch must be an array of operations"))?;
    for op in ops {
        let kind = op["op"].as_str().unwrap_or_default();
        let path = op["path"].as_str().unwrap_or_default();
        match kind {
            "add" => add(doc, path, op["value"].clone())?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                remove(doc, path)?;
                add(doc, path, op["value"].clone())?;
            }
            "move" => {
                let from = op["from"].as_str().unwrap_or_default();
                let v = remove(doc, from)?;
                add(doc, path, v)?;
            }
            "copy" => {
                let from = op["from"].as_str().unwrap_or_default();
                let v = doc.pointer(from).cloned().ok_or_else(|| {
                    ApiError::new(422, "Invalid", format!("path {from} not found"))
                })?;
                add(doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&op["value"]) {
                    return Err(ApiError::new(
                        422,
                        "Invalid",
                        format!("testing value {path} failed"),
                    ));
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unexpected JSON patch operation \"{other}\""
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_and_merge() {
        let mut o = json!({"metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"containers": [{"name": "x", "image": "1"}, {"name": "y", "image": "1"}]}});
        let p = json!({"metadata": {"labels": {"a": null, "c": "3"}},
            "spec": {"containers": [{"name": "y", "image": "2"}]}});
        strategic_merge_patch(&mut o, &p, Types { schema: None }, &mut Vec::new()).ok();
        assert_eq!(o["metadata"]["labels"], json!({"b": "2", "c": "3"}));
        assert_eq!(o["spec"]["containers"][0]["image"], json!("1"));
        assert_eq!(o["spec"]["containers"][1]["image"], json!("2"));
        let mut m = o.clone();
        merge_patch(&mut m, &json!({"spec": {"containers": []}}));
        assert_eq!(m["spec"]["containers"], json!([]));
        json_patch(
            &mut m,
            &json!([{"op": "add", "path": "/metadata/labels/d", "value": "4"}]),
        )
        .ok();
        assert_eq!(m["metadata"]["labels"]["d"], json!("4"));
    }
}
