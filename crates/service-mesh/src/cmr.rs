//! The `cross_model_mesh` interface: a requirer tells the provider who it really is
//! (`cmr_data`), because across a model border Juju only shows an alias (`remote-<hex>`).

use std::collections::BTreeMap;

use charm::{Bag, Context, HookTools, RelationId, ToolError};

use crate::model::{to_python_json, CmrData, CMR_DATA_KEY};

/// The relation being broken in this hook, which must no longer count (as in `ops`, where a
/// broken relation is not in `model.relations`).
pub fn broken_relation(ctx: &Context) -> Option<&RelationId> {
    match &ctx.event {
        charm::Event::RelationBroken(r) => Some(&r.relation),
        _ => None,
    }
}

/// Read `cmr_data` from every relation on `endpoint` (a `provide-cmr-mesh` endpoint), keyed by
/// the remote application's name as this model sees it. Entries that are missing are skipped;
/// entries that do not parse are logged and skipped (as the Python library does).
pub fn read_cmr_data(
    ctx: &Context,
    tools: &dyn HookTools,
    endpoint: &str,
) -> Result<BTreeMap<String, CmrData>, ToolError> {
    let broken = broken_relation(ctx);
    let mut out = BTreeMap::new();
    for rel in tools.relations(endpoint)? {
        if Some(&rel.id) == broken {
            continue;
        }
        let Some(app) = rel.app else { continue };
        let bag = tools.relation_get(&rel.id, &app, true)?;
        let Some(raw) = bag.get(CMR_DATA_KEY) else {
            continue;
        };
        match serde_json::from_str::<CmrData>(raw) {
            Ok(d) => {
                out.insert(app, d);
            }
            Err(e) => {
                tracing::error!(relation = %rel.id, app = %app, "invalid cmr_data: {e}");
            }
        }
    }
    Ok(out)
}

/// As a requirer of `endpoint` (`require-cmr-mesh`), write this application's `cmr_data` on
/// every relation (leader only; a no-op otherwise). Returns how many bags were written; bags that
/// already hold the right value are not rewritten.
pub fn send_cmr_data(
    ctx: &Context,
    tools: &dyn HookTools,
    endpoint: &str,
) -> Result<usize, ToolError> {
    if !tools.is_leader()? {
        return Ok(0);
    }
    let data = CmrData {
        app_name: ctx.app_name.clone(),
        juju_model_name: ctx.model_name.clone(),
    };
    let value = to_python_json(&data).map_err(|e| ToolError::Invalid {
        tool: "relation-set".into(),
        message: e.to_string(),
    })?;
    let broken = broken_relation(ctx);
    let mut written = 0;
    for id in tools.relation_ids(endpoint)? {
        if Some(&id) == broken {
            continue;
        }
        let current = tools.relation_get(&id, &ctx.app_name, true)?;
        if current.get(CMR_DATA_KEY) == Some(&value) {
            continue;
        }
        let mut bag = Bag::new();
        bag.insert(CMR_DATA_KEY.to_string(), value.clone());
        tools.relation_set(&id, &bag, true)?;
        written += 1;
    }
    Ok(written)
}
