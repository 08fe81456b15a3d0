//! Pure rendering of everything that puts the model on the mesh: the waypoint Gateway and its
//! HorizontalPodAutoscaler, the model-operator AuthorizationPolicy, the mesh labels, the plan for
//! the namespace's labels and the reading of the waypoint Deployment's readiness. No I/O here;
//! `membership` sends what this module renders to the API server.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::names::{self, NameError, MANAGED_BY_LABEL};

/// Ownership scope of the waypoint Gateway and HPA (as the Python beacon labels them).
pub const WAYPOINT_SCOPE: &str = "istio-waypoint";
/// Ownership scope of the model-operator AuthorizationPolicy.
pub const MODELOPERATOR_POLICY_SCOPE: &str = "modeloperator-authorization-policy";
/// Label keys of the ownership labels every object the beacon creates carries.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
pub const SCOPE_LABEL: &str = "kubernetes-resource-handler-scope";

pub const DATAPLANE_MODE_LABEL: &str = "istio.io/dataplane-mode";
pub const USE_WAYPOINT_LABEL: &str = "istio.io/use-waypoint";
pub const USE_WAYPOINT_NAMESPACE_LABEL: &str = "istio.io/use-waypoint-namespace";

pub const GATEWAY_API_VERSION: &str = "gateway.networking.k8s.io/v1";
pub const HPA_API_VERSION: &str = "autoscaling/v2";
pub const AUTHORIZATION_POLICY_API_VERSION: &str = "security.istio.io/v1";

/// The names derived once per hook from the model and application names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub model: String,
    pub app: String,
    /// `<model>-<app>-waypoint`, shortened by the 63-character rule.
    pub waypoint: String,
    /// `<model>.<app>`, shortened by the 63-character rule.
    pub app_identity: String,
    pub telemetry_labels: BTreeMap<String, String>,
}

impl Identity {
    pub fn new(model: &str, app: &str) -> Result<Self, NameError> {
        Ok(Self {
            model: model.to_owned(),
            app: app.to_owned(),
            waypoint: names::waypoint_name(model, app)?,
            app_identity: names::app_identity(model, app)?,
            telemetry_labels: names::telemetry_labels(model, app)?,
        })
    }

    /// The labels that mark an object as owned by this beacon in one scope; listing by them is
    /// how stale objects are found.
    pub fn ownership_labels(&self, scope: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                INSTANCE_LABEL.to_owned(),
                format!("{}-{}", self.model, self.app),
            ),
            (SCOPE_LABEL.to_owned(), scope.to_owned()),
        ])
    }

    /// `key=value,key=value` selector for the ownership labels of one scope.
    pub fn ownership_selector(&self, scope: &str) -> String {
        self.ownership_labels(scope)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The labels that put a workload on the ambient mesh behind this beacon's waypoint.
    pub fn mesh_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (DATAPLANE_MODE_LABEL.to_owned(), "ambient".to_owned()),
            (USE_WAYPOINT_LABEL.to_owned(), self.waypoint.clone()),
            (USE_WAYPOINT_NAMESPACE_LABEL.to_owned(), self.model.clone()),
        ])
    }

    /// The labels the beacon offers its consumers on `service-mesh`: none when the whole model is
    /// on the mesh already (the namespace labels do the work), else the mesh labels.
    pub fn consumer_labels(&self, model_on_mesh: bool) -> BTreeMap<String, String> {
        if model_on_mesh {
            BTreeMap::new()
        } else {
            self.mesh_labels()
        }
    }

    /// The namespace labels `model-on-mesh` sets.
    pub fn namespace_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (DATAPLANE_MODE_LABEL.to_owned(), "ambient".to_owned()),
            (USE_WAYPOINT_LABEL.to_owned(), self.waypoint.clone()),
            (MANAGED_BY_LABEL.to_owned(), self.app_identity.clone()),
        ])
    }

    /// The waypoint: an Istio waypoint Gateway for service traffic, HBONE on 15008.
    pub fn gateway(&self) -> Value {
        let mut labels =
            BTreeMap::from([("istio.io/waypoint-for".to_owned(), "service".to_owned())]);
        labels.extend(self.telemetry_labels.clone());
        labels.extend(self.ownership_labels(WAYPOINT_SCOPE));
        json!({
            "apiVersion": GATEWAY_API_VERSION,
            "kind": "Gateway",
            "metadata": {
                "name": self.waypoint,
                "namespace": self.model,
                "labels": labels,
            },
            "spec": {
                "gatewayClassName": "istio-waypoint",
                "listeners": [{
                    "name": "mesh",
                    "port": 15008,
                    "protocol": "HBONE",
                    "allowedRoutes": {"namespaces": {"from": "All"}},
                }],
            },
        })
    }

    /// The HPA that pins the waypoint Deployment (which istiod creates from the Gateway, under the
    /// same name) to as many replicas as the beacon has planned units. It must target the
    /// Deployment, not the Gateway. `units` must be at least 1: an HPA with 0 replicas is invalid,
    /// which is why nothing is rendered at 0 (see [`Identity::waypoint_objects`]).
    pub fn hpa(&self, units: u32) -> Value {
        json!({
            "apiVersion": HPA_API_VERSION,
            "kind": "HorizontalPodAutoscaler",
            "metadata": {
                "name": self.waypoint,
                "namespace": self.model,
                "labels": self.ownership_labels(WAYPOINT_SCOPE),
            },
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": self.waypoint,
                },
                "minReplicas": units,
                "maxReplicas": units,
            },
        })
    }

    /// Gateway and HPA for `planned_units`; nothing at 0 (the application is going away).
    pub fn waypoint_objects(&self, planned_units: u32) -> Vec<Value> {
        if planned_units == 0 {
            Vec::new()
        } else {
            vec![self.gateway(), self.hpa(planned_units)]
        }
    }

    /// The policy that lets every source reach the Juju model operator once the whole namespace
    /// is on the mesh, so the controller keeps reaching it. `rules: [{}]` (match everything) is
    /// deliberate and allowed only here, under its own ownership scope, selecting only the model
    /// operator pod.
    pub fn modeloperator_policy(&self) -> Value {
        json!({
            "apiVersion": AUTHORIZATION_POLICY_API_VERSION,
            "kind": "AuthorizationPolicy",
            "metadata": {
                "name": names::modeloperator_policy_name(&self.model, &self.app),
                "namespace": self.model,
                "labels": self.ownership_labels(MODELOPERATOR_POLICY_SCOPE),
            },
            "spec": {
                "selector": {"matchLabels": {"juju-modeloperator": "modeloperator"}},
                "rules": [{}],
            },
        })
    }

    /// What to do with the namespace's labels, given the labels it has now.
    pub fn plan_namespace(
        &self,
        current: &BTreeMap<String, String>,
        model_on_mesh: bool,
    ) -> NamespacePlan {
        let owner = current.get(MANAGED_BY_LABEL);
        let ours = owner == Some(&self.app_identity);
        if model_on_mesh {
            let has_mesh_labels = current.contains_key(USE_WAYPOINT_LABEL)
                || current.contains_key(DATAPLANE_MODE_LABEL);
            // As the Python beacon: only mesh labels someone else set stop us; a stale
            // managed-by label alone (its beacon removed its mesh labels) is taken over.
            if !ours && has_mesh_labels {
                return NamespacePlan::ClaimedByOther {
                    owner: owner.cloned(),
                };
            }
            let want = self.namespace_labels();
            if want.iter().all(|(k, v)| current.get(k) == Some(v)) {
                NamespacePlan::Unchanged
            } else {
                NamespacePlan::Patch(want.into_iter().map(|(k, v)| (k, Some(v))).collect())
            }
        } else {
            // Only labels we manage are ours to remove; another beacon's stay as they are.
            if !ours {
                return NamespacePlan::Unchanged;
            }
            NamespacePlan::Patch(
                self.namespace_labels()
                    .into_keys()
                    .filter(|k| current.contains_key(k))
                    .map(|k| (k, None))
                    .collect(),
            )
        }
    }
}

/// What to do with the namespace's labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespacePlan {
    /// Already as wanted: no write.
    Unchanged,
    /// A JSON merge patch of `metadata.labels`: `Some` sets, `None` removes.
    Patch(BTreeMap<String, Option<String>>),
    /// Another beacon (or someone without the managed-by label, `owner: None`) put mesh labels
    /// (`istio.io/use-waypoint` or `istio.io/dataplane-mode`) on the namespace: leave them alone
    /// and say so.
    ClaimedByOther { owner: Option<String> },
}

impl NamespacePlan {
    /// The merge patch body for a `Patch`.
    pub fn merge_patch(labels: &BTreeMap<String, Option<String>>) -> Value {
        json!({"metadata": {"labels": labels}})
    }
}

/// The waypoint Deployment's state as read once in a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Waiting status message naming what is missing.
    NotReady(String),
}

/// Reads a waypoint Deployment (`None` when it does not exist) as the Python beacon did: ready
/// when its ready replicas equal its replicas. A Deployment that reports no replicas at all is not
/// ready yet (istiod has created it but nothing runs), unlike the Python check which counted
/// `None == None` as ready.
pub fn readiness(waypoint: &str, deployment: Option<&Value>) -> Readiness {
    let Some(deployment) = deployment else {
        return Readiness::NotReady(format!(
            "waypoint not ready: Deployment {waypoint} not found; is istio-k8s deployed?"
        ));
    };
    let status = deployment.get("status");
    let count = |field: &str| {
        status
            .and_then(|s| s.get(field))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let replicas = count("replicas");
    let ready = count("readyReplicas");
    if replicas > 0 && ready >= replicas {
        Readiness::Ready
    } else {
        Readiness::NotReady(format!(
            "waypoint not ready: {ready}/{replicas} replicas of Deployment {waypoint} ready"
        ))
    }
}

/// The labels of an object as a map (absent labels are an empty map).
pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> Identity {
        match Identity::new("bookinfo", "istio-beacon-k8s") {
            Ok(i) => i,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn gateway_is_an_hbone_waypoint_with_telemetry_and_ownership_labels() {
        let g = id().gateway();
        assert_eq!(g["metadata"]["name"], "bookinfo-istio-beacon-k8s-waypoint");
        assert_eq!(g["metadata"]["namespace"], "bookinfo");
        let labels = &g["metadata"]["labels"];
        assert_eq!(labels["istio.io/waypoint-for"], "service");
        assert_eq!(
            labels["charms.canonical.com/bookinfo.istio-beacon-k8s.telemetry"],
            "aggregated"
        );
        assert_eq!(labels[INSTANCE_LABEL], "bookinfo-istio-beacon-k8s");
        assert_eq!(labels[SCOPE_LABEL], "istio-waypoint");
        assert_eq!(
            g["spec"],
            json!({"gatewayClassName": "istio-waypoint", "listeners": [{"name": "mesh", "port": 15008,
                "protocol": "HBONE", "allowedRoutes": {"namespaces": {"from": "All"}}}]})
        );
    }

    #[test]
    fn hpa_pins_the_waypoint_deployment_to_the_unit_count() {
        let h = id().hpa(3);
        assert_eq!(h["apiVersion"], "autoscaling/v2");
        assert_eq!(
            h["spec"]["scaleTargetRef"],
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "bookinfo-istio-beacon-k8s-waypoint"})
        );
        assert_eq!(h["spec"]["minReplicas"], 3);
        assert_eq!(h["spec"]["maxReplicas"], 3);
        assert!(id().waypoint_objects(0).is_empty());
        assert_eq!(id().waypoint_objects(2).len(), 2);
    }

    #[test]
    fn modeloperator_policy_matches_only_the_model_operator() {
        let p = id().modeloperator_policy();
        assert_eq!(
            p["metadata"]["name"],
            "istio-beacon-k8s-bookinfo-policy-all-sources-modeloperator"
        );
        assert_eq!(
            p["metadata"]["labels"][SCOPE_LABEL],
            "modeloperator-authorization-policy"
        );
        assert_eq!(
            p["spec"],
            json!({"selector": {"matchLabels": {"juju-modeloperator": "modeloperator"}}, "rules": [{}]})
        );
    }

    #[test]
    fn consumer_labels_are_empty_when_the_model_is_on_the_mesh() {
        assert!(id().consumer_labels(true).is_empty());
        let l = id().consumer_labels(false);
        assert_eq!(l[DATAPLANE_MODE_LABEL], "ambient");
        assert_eq!(l[USE_WAYPOINT_LABEL], "bookinfo-istio-beacon-k8s-waypoint");
        assert_eq!(l[USE_WAYPOINT_NAMESPACE_LABEL], "bookinfo");
    }

    #[test]
    fn namespace_plan_sets_ours_and_leaves_others() {
        let i = id();
        let empty = BTreeMap::new();
        let NamespacePlan::Patch(p) = i.plan_namespace(&empty, true) else {
            panic!("expected a patch");
        };
        assert_eq!(p.len(), 3);
        assert_eq!(
            p[MANAGED_BY_LABEL].as_deref(),
            Some("bookinfo.istio-beacon-k8s")
        );
        // Already ours and complete: nothing to write.
        assert_eq!(
            i.plan_namespace(&i.namespace_labels(), true),
            NamespacePlan::Unchanged
        );
        // Off with nothing of ours: nothing to write.
        assert_eq!(i.plan_namespace(&empty, false), NamespacePlan::Unchanged);
        // Off with ours: remove exactly our three keys.
        let mut current = i.namespace_labels();
        current.insert("team".into(), "a".into());
        let NamespacePlan::Patch(p) = i.plan_namespace(&current, false) else {
            panic!("expected a patch");
        };
        assert_eq!(p.len(), 3);
        assert!(p.values().all(Option::is_none));
        assert!(!p.contains_key("team"));
    }

    #[test]
    fn namespace_claimed_by_another_beacon_is_left_alone() {
        let i = id();
        let other = BTreeMap::from([
            (DATAPLANE_MODE_LABEL.to_owned(), "ambient".to_owned()),
            (
                USE_WAYPOINT_LABEL.to_owned(),
                "bookinfo-other-waypoint".to_owned(),
            ),
            (MANAGED_BY_LABEL.to_owned(), "bookinfo.other".to_owned()),
        ]);
        assert_eq!(
            i.plan_namespace(&other, true),
            NamespacePlan::ClaimedByOther {
                owner: Some("bookinfo.other".into())
            }
        );
        assert_eq!(i.plan_namespace(&other, false), NamespacePlan::Unchanged);
        let stale = BTreeMap::from([(MANAGED_BY_LABEL.to_owned(), "bookinfo.gone".to_owned())]);
        assert!(matches!(
            i.plan_namespace(&stale, true),
            NamespacePlan::Patch(_)
        ));
        let unowned = BTreeMap::from([(DATAPLANE_MODE_LABEL.to_owned(), "ambient".to_owned())]);
        assert_eq!(
            i.plan_namespace(&unowned, true),
            NamespacePlan::ClaimedByOther { owner: None }
        );
    }

    #[test]
    fn readiness_names_what_is_missing() {
        let w = "bookinfo-istio-beacon-k8s-waypoint";
        match readiness(w, None) {
            Readiness::NotReady(m) => assert!(m.contains("is istio-k8s deployed?"), "{m}"),
            Readiness::Ready => panic!("missing deployment counted ready"),
        }
        let half = json!({"status": {"replicas": 2, "readyReplicas": 1}});
        assert_eq!(
            readiness(w, Some(&half)),
            Readiness::NotReady(format!(
                "waypoint not ready: 1/2 replicas of Deployment {w} ready"
            ))
        );
        let none = json!({"status": {}});
        assert!(matches!(readiness(w, Some(&none)), Readiness::NotReady(_)));
        let ready = json!({"status": {"replicas": 2, "readyReplicas": 2}});
        assert_eq!(readiness(w, Some(&ready)), Readiness::Ready);
    }
}
