//! Failing closed when Juju cannot say which model a caller is in: a relation whose
//! `relation-model-get` fails counts as unreadable. Its earlier policies stay, nothing new is
//! granted, and the status says why. (Before the fix such a caller was trusted as in-model.)

use charm::testing::FakeHookTools;
use charm::Context;
use istio_beacon::charm::{run_hook, KubeSource};
use kubesim::Server;
use serde_json::{json, Value};

const MODEL: &str = "bookinfo";
const APP: &str = "istio-beacon-k8s";

fn policy_bag(source: &str, target: &str, path: &str) -> String {
    json!([{
        "source_namespace": MODEL, "source_app_name": source,
        "target_namespace": MODEL, "target_app_name": target,
        "target_selector_labels": null, "target_service": null, "target_type": "app",
        "endpoints": [{"hosts": null, "ports": [9080], "methods": ["GET"], "paths": [path]}]
    }])
    .to_string()
}

fn policies(server: &Server) -> Vec<Value> {
    server
        .store()
        .list(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some(MODEL),
            None,
        )
        .expect("list policies")
}

#[test]
fn a_relation_whose_model_cannot_be_told_keeps_its_policies_and_gains_nothing() {
    let server = Server::start(kubesim::Config {
        crd_yaml: vec![kubesim::ISTIO_AUTHORIZATION_POLICY_CRD.to_owned()],
        ..kubesim::Config::default()
    })
    .expect("kubesim starts");
    server
        .store()
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": MODEL}}))
        .expect("namespace");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = {
        let _guard = rt.enter();
        kube::Client::try_from(kube::Config::new(server.url().parse().expect("url")))
            .expect("client")
    };
    let tools = FakeHookTools::new(&format!("{APP}/0"), "uuid-bookinfo");
    tools.set_leader(true);
    tools.set_config("manage-authorization-policies", json!(true));
    tools.set_config("model-on-mesh", json!(false));
    let details = tools.add_relation("service-mesh", "details", &["details/0"]);
    tools.set_remote_app_data(
        &details,
        &[("policies", &policy_bag("productpage", "details", "/health"))],
    );
    let ctx = Context::from_vars(
        |k| match k {
            "JUJU_DISPATCH_PATH" => Some("hooks/config-changed".to_owned()),
            "JUJU_UNIT_NAME" => Some(format!("{APP}/0")),
            "JUJU_MODEL_NAME" => Some(MODEL.to_owned()),
            "JUJU_MODEL_UUID" => Some("uuid-bookinfo".to_owned()),
            _ => None,
        },
        "dispatch",
    )
    .expect("context");

    // First hook: Juju answers; the policy is applied.
    let first = rt.block_on(run_hook(&ctx, &tools, KubeSource::Client(client.clone())));
    assert!(first.is_ok(), "first hook: {first:?}");
    let before = policies(&server);
    assert_eq!(before.len(), 1, "{before:#?}");
    assert_eq!(
        before[0]["spec"]["rules"][0]["to"][0]["operation"]["paths"],
        json!(["/health"])
    );

    // The caller asks for more while Juju cannot tell its model: nothing new is granted and
    // the earlier policy stays exactly as it was.
    tools.set_remote_app_data(
        &details,
        &[(
            "policies",
            &policy_bag("productpage", "details", "/admin/*"),
        )],
    );
    tools
        .state()
        .failing
        .insert("relation-model-get".to_owned());
    let _ = rt.block_on(run_hook(&ctx, &tools, KubeSource::Client(client.clone())));
    let after = policies(&server);
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0]["metadata"]["name"], before[0]["metadata"]["name"]);
    assert_eq!(after[0]["spec"], before[0]["spec"]);
    let status = tools.unit_status().expect("unit status set");
    assert!(
        status.message().contains("cannot tell the remote model"),
        "status names the problem: {status:?}"
    );

    // Juju answers again: the new request converges.
    tools.state().failing.clear();
    let third = rt.block_on(run_hook(&ctx, &tools, KubeSource::Client(client)));
    assert!(third.is_ok(), "third hook: {third:?}");
    let last = policies(&server);
    assert_eq!(last.len(), 1, "{last:#?}");
    assert_eq!(
        last[0]["spec"]["rules"][0]["to"][0]["operation"]["paths"],
        json!(["/admin/*"])
    );
}
