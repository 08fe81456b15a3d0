//! The mesh membership harness: the beacon deployed with config, istiod's waypoint Deployment
//! faked, and the objects, statuses and leadership read back.

use std::collections::BTreeMap;

use jujusim::{DeployArgs, RelationId};
use serde_json::{json, Value};

use super::{reused_beacon_charm, start, workload_charm, Env, BEACON, MODEL};

pub const WAYPOINT: &str = "shop-beacon-waypoint";
pub const MANAGED_BY: &str = "charms.canonical.com/istio.io.waypoint.managed-by";

pub fn env() -> Env {
    env_with(true)
}

/// kubesim with the AuthorizationPolicy CRD, and the Gateway CRD only if `gateway_crd`.
pub fn env_with(gateway_crd: bool) -> Env {
    start(if gateway_crd {
        super::istio_crds()
    } else {
        vec![kubesim::ISTIO_AUTHORIZATION_POLICY_CRD.to_owned()]
    })
}

impl Env {
    pub fn deploy_beacon(&self, app: &str, units: u32, config: &[(&str, &str)]) {
        let mut a = DeployArgs::new(reused_beacon_charm(self.dir.path()));
        a.app = Some(app.to_owned());
        a.units = units;
        a.trust = true;
        a.config = config
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.ctl.deploy(MODEL, a).expect("deploy beacon");
        self.ctl.run_until_idle().expect("idle");
    }

    /// A service-mesh consumer `app` deployed and related to the beacon, run until idle;
    /// returns the relation.
    pub fn relate_consumer(&self, app: &str) -> RelationId {
        let charm = workload_charm(
            self.dir.path(),
            app,
            "requires:\n  service-mesh:\n    interface: service_mesh\n",
        );
        let mut a = DeployArgs::new(charm);
        a.app = Some(app.into());
        self.ctl.deploy(MODEL, a).expect("deploy workload");
        let rel = self
            .ctl
            .integrate(
                MODEL,
                &format!("{BEACON}:service-mesh"),
                &format!("{app}:service-mesh"),
            )
            .expect("integrate");
        self.ctl.run_until_idle().expect("idle");
        rel
    }

    pub fn get(&self, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        self.kube
            .store()
            .get(api_version, kind, Some(MODEL), name)
            .ok()
    }

    pub fn hpa_replicas(&self) -> (Value, Value) {
        let hpa = self
            .get("autoscaling/v2", "HorizontalPodAutoscaler", WAYPOINT)
            .expect("waypoint HPA");
        (
            hpa["spec"]["minReplicas"].clone(),
            hpa["spec"]["maxReplicas"].clone(),
        )
    }

    /// What istiod does for the Gateway: a waypoint Deployment, with `ready` of `replicas` ready.
    pub fn waypoint_deployment(&self, name: &str, replicas: u32, ready: u32) {
        let store = self.kube.store();
        let labels = json!({"gateway.networking.k8s.io/gateway-name": name});
        let existing = store.get("apps/v1", "Deployment", Some(MODEL), name);
        let obj = match existing {
            Ok(o) => o,
            Err(_) => store
                .create(json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": name, "namespace": MODEL, "labels": labels},
                    "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels}, "spec": {"containers":
                            [{"name": "istio-proxy", "image": "istio/proxyv2"}]}}},
                }))
                .expect("waypoint deployment"),
        };
        let mut obj = obj;
        obj["status"] = json!({"replicas": replicas, "readyReplicas": ready});
        store.replace_status(obj).expect("deployment status");
    }

    pub fn unit_status(&self, app: &str, n: u32) -> (String, String) {
        let st = self.ctl.status(MODEL).expect("status");
        let unit = &st.applications[app].units[&format!("{app}/{n}")];
        (
            unit.workload_status.current.clone(),
            unit.workload_status.message.clone(),
        )
    }

    pub fn leader(&self, app: &str) -> String {
        let st = self.ctl.status(MODEL).expect("status");
        st.applications[app]
            .units
            .iter()
            .find(|(_, u)| u.leader)
            .map(|(k, _)| k.clone())
            .expect("a leader")
    }

    pub fn namespace_labels(&self) -> BTreeMap<String, String> {
        let ns = self
            .kube
            .store()
            .get("v1", "Namespace", None, MODEL)
            .expect("namespace");
        serde_json::from_value(ns["metadata"]["labels"].clone()).unwrap_or_default()
    }

    pub fn owned_by(&self, app: &str) -> Vec<String> {
        let selector = format!("app.kubernetes.io/instance={MODEL}-{app}");
        let mut found = Vec::new();
        for (api_version, kind) in [
            ("gateway.networking.k8s.io/v1", "Gateway"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("security.istio.io/v1", "AuthorizationPolicy"),
        ] {
            for o in self
                .kube
                .store()
                .list(api_version, kind, Some(MODEL), Some(&selector))
                .expect("list")
            {
                found.push(format!(
                    "{kind}/{}",
                    o["metadata"]["name"].as_str().unwrap_or("")
                ));
            }
        }
        if self
            .get(
                "v1",
                "ConfigMap",
                &format!("juju-service-mesh-{app}-labels"),
            )
            .is_some()
        {
            found.push(format!("ConfigMap/juju-service-mesh-{app}-labels"));
        }
        found
    }
}
