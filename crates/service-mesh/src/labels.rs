//! Mesh labels on the consumer's own Kubernetes objects: its StatefulSet's pod template and its
//! Service. As the Python library does, the labels last applied are remembered in a ConfigMap
//! (`juju-service-mesh-<app>-labels`, data `labels` = JSON) so that labels the provider stops
//! asking for, or all of them when the relation breaks, are removed again.

use serde_json::{Map, Value};

use crate::model::LabelMap;

/// Name of the ConfigMap remembering the labels applied for `app`.
pub fn label_configmap_name(app: &str) -> String {
    format!("juju-service-mesh-{app}-labels")
}

/// The merge-patch label map that takes objects from `previous` to `desired`: every desired
/// label with its value, every previously applied label no longer desired set to `null`.
pub fn label_patch(previous: &LabelMap, desired: &LabelMap) -> Map<String, Value> {
    let mut patch = Map::new();
    for (k, v) in desired.iter() {
        patch.insert(k.to_string(), Value::String(v.to_string()));
    }
    for k in previous.keys() {
        if !desired.contains_key(k) {
            patch.insert(k.to_string(), Value::Null);
        }
    }
    patch
}

/// Failure talking to Kubernetes about labels.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("no Kubernetes access: {0}")]
    Config(String),
    #[error("Kubernetes API error while {action}: {message}")]
    Api {
        action: String,
        code: Option<u16>,
        message: String,
    },
    #[error("the label record ConfigMap {name} holds invalid data: {message}")]
    BadRecord { name: String, message: String },
}

/// Where the consumer applies its labels. [`KubeLabelStore`] talks to the Kubernetes API;
/// tests use an in-memory implementation.
pub trait LabelStore {
    /// Make the StatefulSet pod template and Service of `app` carry exactly `labels` among the
    /// labels this library manages, and remember them.
    fn reconcile(&self, app: &str, namespace: &str, labels: &LabelMap) -> Result<(), LabelError>;
    /// Forget the record (delete the ConfigMap); missing is fine.
    fn forget(&self, app: &str, namespace: &str) -> Result<(), LabelError>;
}

/// [`LabelStore`] over the Kubernetes API with kube-rs. The charm is synchronous, so this owns
/// a small single-threaded tokio runtime; do not call it from inside another runtime.
pub struct KubeLabelStore {
    rt: tokio::runtime::Runtime,
    client: kube::Client,
    field_manager: String,
}

impl KubeLabelStore {
    /// From the environment (`KUBECONFIG`, or in-cluster), as a charm finds its credentials.
    pub fn from_env(field_manager: &str) -> Result<Self, LabelError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LabelError::Config(e.to_string()))?;
        let client = rt.block_on(async {
            let config = kube::Config::infer()
                .await
                .map_err(|e| LabelError::Config(e.to_string()))?;
            kube::Client::try_from(config).map_err(|e| LabelError::Config(e.to_string()))
        })?;
        Ok(Self {
            rt,
            client,
            field_manager: field_manager.to_string(),
        })
    }

    fn api_err(action: String, e: kube::Error) -> LabelError {
        let code = match &e {
            kube::Error::Api(s) => Some(s.code),
            _ => None,
        };
        LabelError::Api {
            action,
            code,
            message: e.to_string(),
        }
    }

    fn is_404(e: &kube::Error) -> bool {
        matches!(e, kube::Error::Api(s) if s.code == 404)
    }
}

impl LabelStore for KubeLabelStore {
    fn reconcile(&self, app: &str, namespace: &str, labels: &LabelMap) -> Result<(), LabelError> {
        use k8s_openapi::api::apps::v1::StatefulSet;
        use k8s_openapi::api::core::v1::{ConfigMap, Service};
        use kube::api::{Api, Patch, PatchParams, PostParams};

        let cm_name = label_configmap_name(app);
        let pp = PatchParams {
            field_manager: Some(self.field_manager.clone()),
            ..PatchParams::default()
        };
        self.rt.block_on(async {
            let cms: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
            let previous: LabelMap = match cms.get(&cm_name).await {
                Ok(cm) => match cm.data.as_ref().and_then(|d| d.get("labels")) {
                    None => LabelMap::new(),
                    Some(raw) => serde_json::from_str(raw).map_err(|e| LabelError::BadRecord {
                        name: cm_name.clone(),
                        message: e.to_string(),
                    })?,
                },
                Err(e) if Self::is_404(&e) => {
                    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
                        "apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": cm_name, "namespace": namespace},
                        "data": {"labels": "{}"}
                    }))
                    .map_err(|e| LabelError::Config(e.to_string()))?;
                    cms.create(&PostParams::default(), &cm)
                        .await
                        .map_err(|e| Self::api_err(format!("creating ConfigMap {cm_name}"), e))?;
                    LabelMap::new()
                }
                Err(e) => return Err(Self::api_err(format!("reading ConfigMap {cm_name}"), e)),
            };
            let patch = Value::Object(label_patch(&previous, labels));
            let sts: Api<StatefulSet> = Api::namespaced(self.client.clone(), namespace);
            let body = serde_json::json!({"spec": {"template": {"metadata": {"labels": patch}}}});
            // An object already gone (the application is being removed) has nothing to label.
            match sts.patch(app, &pp, &Patch::Merge(&body)).await {
                Ok(_) => {}
                Err(e) if Self::is_404(&e) => {
                    tracing::warn!("StatefulSet {app} not found; not labelled")
                }
                Err(e) => return Err(Self::api_err(format!("labelling StatefulSet {app}"), e)),
            }
            let svcs: Api<Service> = Api::namespaced(self.client.clone(), namespace);
            let body = serde_json::json!({"metadata": {"labels": patch}});
            match svcs.patch(app, &pp, &Patch::Merge(&body)).await {
                Ok(_) => {}
                Err(e) if Self::is_404(&e) => {
                    tracing::warn!("Service {app} not found; not labelled")
                }
                Err(e) => return Err(Self::api_err(format!("labelling Service {app}"), e)),
            }
            let record = crate::model::to_python_json(labels)
                .map_err(|e| LabelError::Config(e.to_string()))?;
            let body = serde_json::json!({"data": {"labels": record}});
            cms.patch(&cm_name, &pp, &Patch::Merge(&body))
                .await
                .map_err(|e| {
                    Self::api_err(format!("recording labels in ConfigMap {cm_name}"), e)
                })?;
            Ok(())
        })
    }

    fn forget(&self, app: &str, namespace: &str) -> Result<(), LabelError> {
        use k8s_openapi::api::core::v1::ConfigMap;
        use kube::api::{Api, DeleteParams};
        let cm_name = label_configmap_name(app);
        self.rt.block_on(async {
            let cms: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
            match cms.delete(&cm_name, &DeleteParams::default()).await {
                Ok(_) => Ok(()),
                Err(e) if Self::is_404(&e) => Ok(()),
                Err(e) => Err(Self::api_err(format!("deleting ConfigMap {cm_name}"), e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_adds_desired_and_nulls_dropped() {
        let prev: LabelMap = [("a", "1"), ("b", "2")].into_iter().collect();
        let desired: LabelMap = [("b", "3"), ("c", "4")].into_iter().collect();
        let p = label_patch(&prev, &desired);
        assert_eq!(
            Value::Object(p),
            serde_json::json!({"b": "3", "c": "4", "a": null})
        );
        let p = label_patch(&prev, &LabelMap::new());
        assert_eq!(Value::Object(p), serde_json::json!({"a": null, "b": null}));
    }

    #[test]
    fn configmap_name_matches_python() {
        assert_eq!(
            label_configmap_name("bookinfo-details-k8s"),
            "juju-service-mesh-bookinfo-details-k8s-labels"
        );
    }
}
