//! The reconciler's harness: kubesim with the `shop` namespace, a kube-rs client on it, the
//! beacon's owned set, and AuthorizationPolicies written and listed.

use istio_beacon::charm::authorization_policy_kind;
use istio_beacon::reconcile::{OwnedSet, Reconciler};
use istio_beacon::render::{ownership_labels, AUTHORIZATION_POLICY_SCOPE};
use kubesim::Server;
use serde_json::{json, Value};

pub const NS: &str = "shop";
pub const APP: &str = "beacon";

/// kubesim with namespace [`NS`], serving the AuthorizationPolicy CRD only if `with_crd`.
pub fn start(with_crd: bool) -> Server {
    let crd_yaml = if with_crd {
        vec![kubesim::ISTIO_AUTHORIZATION_POLICY_CRD.to_owned()]
    } else {
        vec![]
    };
    let server = Server::start(kubesim::Config {
        crd_yaml,
        ..kubesim::Config::default()
    })
    .expect("kubesim starts");
    server
        .store()
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .expect("namespace");
    server
}

pub fn client(server: &Server) -> kube::Client {
    let url = server.url().parse().expect("url");
    let mut config = kube::Config::new(url);
    config.default_namespace = NS.to_owned();
    kube::Client::try_from(config).expect("client")
}

pub fn reconciler(server: &Server) -> Reconciler {
    Reconciler::new(client(server), APP)
}

pub fn set() -> OwnedSet {
    OwnedSet::new(
        authorization_policy_kind(),
        NS,
        ownership_labels(APP, NS, AUTHORIZATION_POLICY_SCOPE),
    )
}

/// An AuthorizationPolicy opening `port` of `catalogue` to `frontend`; with the beacon's
/// ownership labels if `labelled`.
pub fn authorization_policy(name: &str, port: &str, labelled: bool) -> Value {
    let mut metadata = json!({"name": name, "namespace": NS});
    if labelled {
        metadata["labels"] = json!(ownership_labels(APP, NS, AUTHORIZATION_POLICY_SCOPE));
    }
    json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": metadata,
        "spec": {
            "targetRefs": [{"group": "", "kind": "Service", "name": "catalogue"}],
            "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/frontend"]}}],
                       "to": [{"operation": {"ports": [port]}}]}]
        }
    })
}

/// The names of the AuthorizationPolicies in [`NS`], sorted.
pub fn names_in_cluster(server: &Server) -> Vec<String> {
    let mut names: Vec<String> = server
        .store()
        .list(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some(NS),
            None,
        )
        .expect("list")
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}
