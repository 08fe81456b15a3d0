//! Names and label keys the beacon derives from its model and application names.
//!
//! They must be byte-for-byte the ones the Python beacon (through `canonical-service-mesh`)
//! derives, so that a `juju refresh` from the Python charm renames nothing: the waypoint Gateway
//! (`<model>-<app>-waypoint`), the `<model>.<app>` identity written into the namespace's
//! `managed-by` label, and the per-application telemetry label key. Each must fit Kubernetes'
//! 63-character limit; when the plain form is too long, the model and application names are cut
//! in proportion to their lengths and a short sha1 of the full `<model><sep><app>` is appended, so
//! two long names that share a prefix still differ. `data/fixtures/waypoint-name-vectors.json`
//! pins every case.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};

/// Kubernetes' limit for names used in labels and for a label key's name part.
pub const MAX_LABEL_LENGTH: usize = 63;
/// Hex digits of the sha1 appended when a name is shortened.
const HASH_LENGTH: usize = 6;
/// The label key prefix the Python libraries use for charm-owned labels.
pub const CHARMS_LABEL_PREFIX: &str = "charms.canonical.com/";
/// The namespace label naming the beacon that manages the namespace's mesh labels.
pub const MANAGED_BY_LABEL: &str = "charms.canonical.com/istio.io.waypoint.managed-by";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("model and application names must not be empty (model {model:?}, app {app:?})")]
    Empty { model: String, app: String },
    #[error(
        "the fixed part of a label ({fixed} characters with prefix, suffix, hash and separators) \
         leaves no room for the model and application names within {max} characters"
    )]
    FixedPartTooLong { fixed: usize, max: usize },
}

/// `{prefix}{model}{separator}{app}{suffix}`, or, when that is longer than `max_length`,
/// `{prefix}{model'}{separator}{app'}{separator}{hash}{suffix}` where `model'` and `app'` are the
/// names cut in proportion to their lengths (at least one character each) and `hash` is the
/// first six hex digits of sha1(`{model}{separator}{app}`).
///
/// Lengths are counted in characters, as Python counts them; Juju names are ASCII anyway.
pub fn charm_kubernetes_label(
    model: &str,
    app: &str,
    prefix: &str,
    suffix: &str,
    max_length: usize,
    separator: &str,
) -> Result<String, NameError> {
    if model.is_empty() || app.is_empty() {
        return Err(NameError::Empty {
            model: model.to_owned(),
            app: app.to_owned(),
        });
    }
    let plain = format!("{prefix}{model}{separator}{app}{suffix}");
    if plain.chars().count() <= max_length {
        return Ok(plain);
    }

    let sep_len = separator.chars().count();
    let fixed = prefix.chars().count() + suffix.chars().count() + HASH_LENGTH + 2 * sep_len;
    // One character each must remain for the model and the application.
    if fixed + 2 > max_length {
        return Err(NameError::FixedPartTooLong {
            fixed,
            max: max_length,
        });
    }
    let digest = Sha1::digest(format!("{model}{separator}{app}").as_bytes());
    let hash: String = digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .chars()
        .take(HASH_LENGTH)
        .collect();

    let available = max_length - fixed;
    let model_chars = model.chars().count();
    let app_chars = app.chars().count();
    // The Python rule is int(available * len(model) / total): a floor of a non-negative ratio,
    // which integer division gives exactly.
    let model_len = (available * model_chars / (model_chars + app_chars)).max(1);
    let app_len = available.saturating_sub(model_len).max(1);
    let model_cut: String = model.chars().take(model_len).collect();
    let app_cut: String = app.chars().take(app_len).collect();
    Ok(format!(
        "{prefix}{model_cut}{separator}{app_cut}{separator}{hash}{suffix}"
    ))
}

/// The waypoint Gateway's name (also its Deployment's and the HPA's): `<model>-<app>-waypoint`.
pub fn waypoint_name(model: &str, app: &str) -> Result<String, NameError> {
    charm_kubernetes_label(model, app, "", "-waypoint", MAX_LABEL_LENGTH, "-")
}

/// The beacon's identity across the cluster, `<model>.<app>`: the value of the namespace's
/// managed-by label.
pub fn app_identity(model: &str, app: &str) -> Result<String, NameError> {
    charm_kubernetes_label(model, app, "", "", MAX_LABEL_LENGTH, ".")
}

/// The label the waypoint carries so the metrics proxy finds only this beacon's waypoint pods:
/// `{"charms.canonical.com/<model>.<app>.telemetry": "aggregated"}`.
pub fn telemetry_labels(model: &str, app: &str) -> Result<BTreeMap<String, String>, NameError> {
    let key = charm_kubernetes_label(
        model,
        app,
        CHARMS_LABEL_PREFIX,
        ".telemetry",
        MAX_LABEL_LENGTH,
        ".",
    )?;
    Ok(BTreeMap::from([(key, "aggregated".to_owned())]))
}

/// Name of the AuthorizationPolicy that lets the Juju controller reach the model operator when
/// the whole model is on the mesh (same name as the Python beacon's).
pub fn modeloperator_policy_name(model: &str, app: &str) -> String {
    format!("{app}-{model}-policy-all-sources-modeloperator")
}

/// Name of the ConfigMap in which the beacon remembers the labels it put on its own StatefulSet
/// and Service, so that it can remove exactly those later (same name as the Python library's).
pub fn own_labels_configmap_name(app: &str) -> String {
    format!("juju-service-mesh-{app}-labels")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept_whole() {
        assert_eq!(
            waypoint_name("bookinfo", "istio-beacon-k8s").as_deref(),
            Ok("bookinfo-istio-beacon-k8s-waypoint")
        );
        assert_eq!(app_identity("m", "a").as_deref(), Ok("m.a"));
    }

    #[test]
    fn empty_names_are_refused() {
        assert!(matches!(
            waypoint_name("", "app"),
            Err(NameError::Empty { .. })
        ));
        assert!(matches!(
            app_identity("model", ""),
            Err(NameError::Empty { .. })
        ));
    }

    #[test]
    fn a_prefix_too_long_to_leave_room_is_refused() {
        let prefix = "p".repeat(60);
        assert!(matches!(
            charm_kubernetes_label("model", "app", &prefix, "", 63, "."),
            Err(NameError::FixedPartTooLong { .. })
        ));
    }

    #[test]
    fn every_shortened_name_fits_63_characters() {
        for model_len in [1, 10, 40, 63, 100] {
            for app_len in [1, 10, 40, 63, 100] {
                let model = "m".repeat(model_len);
                let app = "a".repeat(app_len);
                let w = waypoint_name(&model, &app).unwrap_or_default();
                assert!(w.len() <= 63 && w.ends_with("-waypoint"), "{w}");
                let i = app_identity(&model, &app).unwrap_or_default();
                assert!(i.len() <= 63 && i.starts_with('m'), "{i}");
                let t = telemetry_labels(&model, &app).unwrap_or_default();
                let key = t.keys().next().cloned().unwrap_or_default();
                assert!(key.len() <= 63 && key.ends_with(".telemetry"), "{key}");
            }
        }
    }
}
