//! kube-rs client tests over real HTTP: each semantic of the emulated API server.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, Config};
use kubesim::{Fault, Server, TokenScope, ISTIO_AUTHORIZATION_POLICY_CRD};
use serde_json::{json, Value};

fn start() -> Server {
    let config = kubesim::Config {
        crd_yaml: vec![ISTIO_AUTHORIZATION_POLICY_CRD.to_string()],
        ..Default::default()
    };
    Server::start(config).expect("start kubesim")
}

fn client(server: &Server) -> Client {
    let url = server.url().parse().expect("url");
    Client::try_from(Config::new(url)).expect("client")
}

fn client_with_token(server: &Server, token: &str) -> Client {
    let mut cfg = Config::new(server.url().parse().expect("url"));
    cfg.auth_info.token = Some(token.to_string().into());
    Client::try_from(cfg).expect("client")
}

fn ap_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("security.istio.io", "v1", "AuthorizationPolicy"),
        "authorizationpolicies",
    )
}

fn policies(client: &Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &ap_resource())
}

fn policy(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": name}, "spec": spec
    }))
    .expect("policy object")
}

async fn make_ns(client: &Client, name: &str) {
    let nss: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns");
    nss.create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

fn api_err(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn cm(name: &str, labels: Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
    .expect("configmap")
}

#[tokio::test]
async fn discovery_finds_builtin_and_crd_kinds() {
    let server = start();
    let c = client(&server);
    let discovery = kube::discovery::Discovery::new(c.clone())
        .run()
        .await
        .expect("discovery");
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk(
            "security.istio.io",
            "v1",
            "AuthorizationPolicy",
        ))
        .expect("AuthorizationPolicy discovered");
    assert_eq!(ar.plural, "authorizationpolicies");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    assert!(discovery
        .resolve_gvk(&GroupVersionKind::gvk(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler"
        ))
        .is_some());
    assert!(discovery
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "StatefulSet"))
        .is_some());
    // Aggregated discovery (apidiscovery.k8s.io/v2) finds the same.
    let aggregated = kube::discovery::Discovery::new(c.clone())
        .run_aggregated()
        .await
        .expect("aggregated discovery");
    let (ar, caps) = aggregated
        .resolve_gvk(&GroupVersionKind::gvk(
            "security.istio.io",
            "v1",
            "AuthorizationPolicy",
        ))
        .expect("AuthorizationPolicy in aggregated discovery");
    assert_eq!(ar.plural, "authorizationpolicies");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    let (ns, caps) = aggregated
        .resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"))
        .expect("Namespace in aggregated discovery");
    assert_eq!(ns.plural, "namespaces");
    assert_eq!(caps.scope, kube::discovery::Scope::Cluster);
    // The Gateway CRD is not installed: its path answers 404 like the real server.
    let gw = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "Gateway"),
        "gateways",
    );
    let gws: Api<DynamicObject> = Api::namespaced_with(c.clone(), "default", &gw);
    let st = api_err(
        gws.list(&ListParams::default())
            .await
            .expect_err("not served"),
    );
    assert_eq!(st.code, 404);
    assert_eq!(st.reason, "NotFound");
}

#[tokio::test]
async fn create_get_list_with_selectors_and_system_fields() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "m");
    let a = cms
        .create(
            &PostParams::default(),
            &cm("a", json!({"tier": "web", "env": "prod"})),
        )
        .await
        .expect("a");
    cms.create(&PostParams::default(), &cm("b", json!({"tier": "db"})))
        .await
        .expect("b");
    cms.create(&PostParams::default(), &cm("c", json!({})))
        .await
        .expect("c");
    assert!(a.metadata.uid.as_deref().is_some_and(|u| !u.is_empty()));
    assert!(a.metadata.creation_timestamp.is_some());
    assert!(a.metadata.resource_version.is_some());
    let names = |l: kube::core::ObjectList<ConfigMap>| -> Vec<String> {
        l.items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect()
    };
    let sel = |s: &str| ListParams::default().labels(s);
    assert_eq!(names(cms.list(&sel("tier=web")).await.expect("=")), ["a"]);
    assert_eq!(names(cms.list(&sel("tier==db")).await.expect("==")), ["b"]);
    assert_eq!(
        names(cms.list(&sel("tier!=web")).await.expect("!=")),
        ["b", "c"]
    );
    assert_eq!(
        names(cms.list(&sel("tier in (web,db)")).await.expect("in")),
        ["a", "b"]
    );
    assert_eq!(
        names(cms.list(&sel("tier notin (web)")).await.expect("notin")),
        ["b", "c"]
    );
    assert_eq!(names(cms.list(&sel("env")).await.expect("exists")), ["a"]);
    assert_eq!(names(cms.list(&sel("!tier")).await.expect("!key")), ["c"]);
    assert_eq!(
        names(
            cms.list(&ListParams::default().fields("metadata.name=b"))
                .await
                .expect("field")
        ),
        ["b"]
    );
    let all: Api<ConfigMap> = Api::all(c.clone());
    assert_eq!(
        names(
            all.list(&ListParams::default().fields("metadata.namespace=m"))
                .await
                .expect("ns field")
        )
        .len(),
        3
    );
    // Paging with limit/continue.
    let page1 = cms
        .list(&ListParams::default().limit(2))
        .await
        .expect("page 1");
    assert_eq!(page1.items.len(), 2);
    let token = page1.metadata.continue_.clone().expect("continue token");
    assert_eq!(page1.metadata.remaining_item_count, Some(1));
    let page2 = cms
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .expect("page 2");
    assert_eq!(names(page2.clone()), ["c"]);
    assert!(page2.metadata.continue_.is_none());
    let got = cms.get("a").await.expect("get");
    assert_eq!(
        got.data.and_then(|d| d.get("k").cloned()),
        Some("v".to_string())
    );
    let st = api_err(cms.get("zz").await.expect_err("missing"));
    assert_eq!((st.code, st.reason.as_str()), (404, "NotFound"));
    assert_eq!(st.message, "configmaps \"zz\" not found");
    let st = api_err(
        cms.create(&PostParams::default(), &cm("a", json!({})))
            .await
            .expect_err("dup"),
    );
    assert_eq!((st.code, st.reason.as_str()), (409, "AlreadyExists"));
}

#[tokio::test]
async fn missing_namespace_is_404_and_namespace_delete_cascades() {
    let server = start();
    let c = client(&server);
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "ghost");
    let st = api_err(
        cms.create(&PostParams::default(), &cm("a", json!({})))
            .await
            .expect_err("no ns"),
    );
    assert_eq!(
        (st.code, st.message.as_str()),
        (404, "namespaces \"ghost\" not found")
    );
    make_ns(&c, "m").await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "m");
    cms.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .expect("a");
    policies(&c, "m")
        .create(
            &PostParams::default(),
            &policy("p", json!({"action": "DENY"})),
        )
        .await
        .expect("p");
    let nss: Api<Namespace> = Api::all(c.clone());
    nss.delete("m", &DeleteParams::default())
        .await
        .expect("delete ns");
    assert_eq!(api_err(nss.get("m").await.expect_err("ns gone")).code, 404);
    let all: Api<ConfigMap> = Api::all(c.clone());
    assert!(all
        .list(&ListParams::default().fields("metadata.namespace=m"))
        .await
        .expect("list")
        .items
        .is_empty());
    let aps: Api<DynamicObject> = Api::all_with(c.clone(), &ap_resource());
    assert!(aps
        .list(&ListParams::default())
        .await
        .expect("list aps")
        .items
        .is_empty());
}

#[tokio::test]
async fn replace_with_stale_resource_version_conflicts() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "m");
    let first = cms
        .create(&PostParams::default(), &cm("a", json!({})))
        .await
        .expect("a");
    let mut v1 = first.clone();
    v1.data = Some([("k".to_string(), "v2".to_string())].into());
    let second = cms
        .replace("a", &PostParams::default(), &v1)
        .await
        .expect("replace");
    assert_ne!(
        second.metadata.resource_version,
        first.metadata.resource_version
    );
    let mut stale = first.clone();
    stale.data = Some([("k".to_string(), "v3".to_string())].into());
    let st = api_err(
        cms.replace("a", &PostParams::default(), &stale)
            .await
            .expect_err("stale"),
    );
    assert_eq!((st.code, st.reason.as_str()), (409, "Conflict"));
    assert!(
        st.message.contains("the object has been modified"),
        "{}",
        st.message
    );
    assert_eq!(
        cms.get("a")
            .await
            .expect("get")
            .data
            .and_then(|d| d.get("k").cloned()),
        Some("v2".into())
    );
}

#[tokio::test]
async fn merge_and_strategic_patches() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "m");
    cms.create(
        &PostParams::default(),
        &cm("a", json!({"x": "1", "y": "2"})),
    )
    .await
    .expect("a");
    let out = cms
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": null, "z": "3"}}})),
        )
        .await
        .expect("merge");
    assert_eq!(
        out.metadata.labels,
        Some(
            [
                ("y".to_string(), "2".to_string()),
                ("z".to_string(), "3".to_string())
            ]
            .into()
        )
    );
    let out = cms
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Strategic(
                json!({"metadata": {"annotations": {"n": "1"}, "labels": {"y": null}}}),
            ),
        )
        .await
        .expect("strategic");
    assert_eq!(
        out.metadata.labels,
        Some([("z".to_string(), "3".to_string())].into())
    );
    assert_eq!(
        out.metadata.annotations,
        Some([("n".to_string(), "1".to_string())].into())
    );
    // Strategic merge of a keyed list: containers merge by name.
    let deps: Api<Deployment> = Api::namespaced(c.clone(), "m");
    let dep: Deployment = serde_json::from_value(json!({"metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [
            {"name": "main", "image": "a:1"}, {"name": "side", "image": "b:1"}]}}}}))
    .expect("deployment");
    deps.create(&PostParams::default(), &dep)
        .await
        .expect("dep");
    let out = deps
        .patch("d", &PatchParams::default(), &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "b:2"}]}}}})))
        .await
        .expect("strategic list");
    let v = serde_json::to_value(&out).expect("json");
    assert_eq!(
        v["spec"]["template"]["spec"]["containers"],
        json!([{"name": "main", "image": "a:1"}, {"name": "side", "image": "b:2"}])
    );
    assert_eq!(out.metadata.generation, Some(2));
    // JSON merge patch on a custom resource works; strategic is refused with 415 as on a real server.
    policies(&c, "m")
        .create(
            &PostParams::default(),
            &policy("p", json!({"action": "DENY"})),
        )
        .await
        .expect("p");
    let st = api_err(
        policies(&c, "m")
            .patch(
                "p",
                &PatchParams::default(),
                &Patch::Strategic(json!({"spec": {"action": "ALLOW"}})),
            )
            .await
            .expect_err("smp on CR"),
    );
    assert_eq!(st.code, 415);
    let out = policies(&c, "m")
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"action": "ALLOW"}})),
        )
        .await
        .expect("merge CR");
    assert_eq!(out.data["spec"]["action"], json!("ALLOW"));
}

#[tokio::test]
async fn server_side_apply_ownership_conflicts_force_and_removal() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let aps = policies(&c, "m");
    let spec_a =
        json!({"action": "ALLOW", "rules": [{"from": [{"source": {"principals": ["a"]}}]}]});
    let mut p = policy("p", spec_a.clone());
    p.metadata.labels = Some([("owner".to_string(), "beacon".to_string())].into());
    let created = aps
        .patch("p", &PatchParams::apply("beacon"), &Patch::Apply(&p))
        .await
        .expect("apply");
    let mf = created
        .metadata
        .managed_fields
        .clone()
        .expect("managedFields");
    assert_eq!(mf.len(), 1);
    assert_eq!(mf[0].manager.as_deref(), Some("beacon"));
    assert_eq!(mf[0].operation.as_deref(), Some("Apply"));
    let fields = serde_json::to_value(&mf[0].fields_v1).expect("fieldsV1");
    assert_eq!(fields["f:spec"]["f:action"], json!({}));
    assert_eq!(fields["f:metadata"]["f:labels"]["f:owner"], json!({}));
    // Same apply again is a no-op: resourceVersion unchanged.
    let again = aps
        .patch("p", &PatchParams::apply("beacon"), &Patch::Apply(&p))
        .await
        .expect("re-apply");
    assert_eq!(
        again.metadata.resource_version,
        created.metadata.resource_version
    );
    // Another manager setting a different value conflicts, with a cause naming the field.
    let other = policy("p", json!({"action": "DENY"}));
    let st = api_err(
        aps.patch("p", &PatchParams::apply("intruder"), &Patch::Apply(&other))
            .await
            .expect_err("conflict"),
    );
    assert_eq!((st.code, st.reason.as_str()), (409, "Conflict"));
    let causes = st.details.expect("details").causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(causes[0].field, ".spec.action");
    assert_eq!(
        causes[0].message,
        "conflict with \"beacon\" using security.istio.io/v1"
    );
    assert!(
        st.message.starts_with("Apply failed with 1 conflict"),
        "{}",
        st.message
    );
    // Applying the same value is shared ownership, not a conflict.
    let same = policy("p", json!({"action": "ALLOW"}));
    aps.patch("p", &PatchParams::apply("auditor"), &Patch::Apply(&same))
        .await
        .expect("shared");
    // Force takes ownership.
    let forced = aps
        .patch(
            "p",
            &PatchParams::apply("intruder").force(),
            &Patch::Apply(&other),
        )
        .await
        .expect("force");
    assert_eq!(forced.data["spec"]["action"], json!("DENY"));
    let beacon_fields = forced
        .metadata
        .managed_fields
        .expect("mf")
        .into_iter()
        .find(|m| m.manager.as_deref() == Some("beacon"))
        .expect("beacon entry");
    assert!(
        serde_json::to_value(&beacon_fields.fields_v1).expect("json")["f:spec"]
            .get("f:action")
            .is_none()
    );
    // beacon stops applying rules and its label: both are removed (nobody else owns them).
    let shrunk = policy("p", json!({"action": "DENY"}));
    let out = aps
        .patch(
            "p",
            &PatchParams::apply("beacon").force(),
            &Patch::Apply(&shrunk),
        )
        .await
        .expect("shrink");
    assert!(out.data["spec"].get("rules").is_none(), "{}", out.data);
    assert!(out.metadata.labels.unwrap_or_default().is_empty());
    // fieldManager is required for apply.
    let st = api_err(
        aps.patch("p", &PatchParams::default(), &Patch::Apply(&shrunk))
            .await
            .expect_err("no manager"),
    );
    assert_eq!(st.code, 400);
}

#[tokio::test]
async fn ssa_keyed_list_merge_and_update_ownership() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "m");
    let a = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"x": "1"}});
    cms.patch("c", &PatchParams::apply("one"), &Patch::Apply(&a))
        .await
        .expect("one");
    let b = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"b": "2"}}, "data": {"y": "2"}});
    let out = cms
        .patch("c", &PatchParams::apply("two"), &Patch::Apply(&b))
        .await
        .expect("two");
    let labels = out.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert_eq!(out.data.clone().unwrap_or_default().len(), 2);
    // A non-apply update takes the field from its applier without conflict (as the real server does).
    let out = cms
        .patch(
            "c",
            &PatchParams {
                field_manager: Some("editor".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"data": {"x": "9"}})),
        )
        .await
        .expect("merge by editor");
    let mf = out.metadata.managed_fields.expect("mf");
    let editor = mf
        .iter()
        .find(|m| m.manager.as_deref() == Some("editor"))
        .expect("editor");
    assert_eq!(editor.operation.as_deref(), Some("Update"));
    let one = mf
        .iter()
        .find(|m| m.manager.as_deref() == Some("one"))
        .expect("one");
    assert!(serde_json::to_value(&one.fields_v1).expect("j")["f:data"]
        .get("f:x")
        .is_none());
    // Keyed lists (containers by name): items merge per key; an item the manager stops applying goes.
    let deps: Api<Deployment> = Api::namespaced(c.clone(), "m");
    let dep = |containers: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": containers}}}})
    };
    deps.patch(
        "d",
        &PatchParams::apply("one"),
        &Patch::Apply(dep(
            json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]),
        )),
    )
    .await
    .expect("two containers");
    let out = deps
        .patch(
            "d",
            &PatchParams::apply("two"),
            &Patch::Apply(dep(json!([{"name": "c", "image": "c:1"}]))),
        )
        .await
        .expect("second manager adds a container");
    let names = |d: &Deployment| -> Vec<String> {
        let v = serde_json::to_value(d).expect("json");
        v["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names(&out), ["a", "b", "c"]);
    let out = deps
        .patch(
            "d",
            &PatchParams::apply("one"),
            &Patch::Apply(dep(json!([{"name": "a", "image": "a:2"}]))),
        )
        .await
        .expect("first manager drops b");
    assert_eq!(names(&out), ["a", "c"]);
    let mf = serde_json::to_value(out.metadata.managed_fields.expect("mf")).expect("json");
    let one = mf
        .as_array()
        .expect("array")
        .iter()
        .find(|m| m["manager"] == "one")
        .expect("one");
    assert_eq!(
        one["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"a\"}"]
            ["f:image"],
        json!({})
    );
    // Now "one" re-applying x=1 conflicts with editor.
    let st = api_err(
        cms.patch("c", &PatchParams::apply("one"), &Patch::Apply(&a))
            .await
            .expect_err("conflict"),
    );
    assert_eq!(st.details.expect("d").causes[0].field, ".data.x");
}

fn test_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
          "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList", "shortNames": ["wd"]},
          "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
              "spec": {"type": "object", "required": ["size"], "properties": {
                 "size": {"type": "integer", "maximum": 10},
                 "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                 "code": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                 "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                 "port": {"x-kubernetes-int-or-string": true},
                 "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
              "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}}}}]}
    })
}

fn widgets(c: &Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    Api::namespaced_with(c.clone(), "m", &ar)
}

fn widget(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}))
        .expect("widget")
}

#[tokio::test]
async fn crd_creation_serves_kind_and_schema_validation_with_causes() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let wapi = widgets(&c);
    assert_eq!(
        api_err(
            wapi.list(&ListParams::default())
                .await
                .expect_err("not yet")
        )
        .code,
        404
    );
    let crds: Api<CustomResourceDefinition> = Api::all(c.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(test_crd()).expect("crd");
    let created = crds
        .create(&PostParams::default(), &crd)
        .await
        .expect("create crd");
    let established = created
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default();
    assert!(established
        .iter()
        .any(|c| c.type_ == "Established" && c.status == "True"));
    // Now served; defaults applied, unknown fields pruned, preserve-unknown kept, int-or-string accepted.
    let w = wapi
        .create(
            &PostParams::default(),
            &widget(
                "w",
                json!({"size": 3, "port": "http", "junk": true, "extra": {"free": [1]}}),
            ),
        )
        .await
        .expect("create widget");
    assert_eq!(w.data["spec"]["color"], json!("red"));
    assert!(
        w.data["spec"].get("junk").is_none(),
        "unknown field pruned: {}",
        w.data
    );
    assert_eq!(w.data["spec"]["extra"], json!({"free": [1]}));
    let w2 = wapi
        .create(
            &PostParams::default(),
            &widget("w2", json!({"size": 3, "port": 8080})),
        )
        .await
        .expect("int port");
    assert_eq!(w2.data["spec"]["port"], json!(8080));
    let cases = [
        (json!({"size": "big"}), "spec.size", "FieldValueTypeInvalid"),
        (json!({"size": 11}), "spec.size", "FieldValueInvalid"),
        (
            json!({"size": 1, "color": "green"}),
            "spec.color",
            "FieldValueNotSupported",
        ),
        (
            json!({"size": 1, "code": "ABC"}),
            "spec.code",
            "FieldValueInvalid",
        ),
        (
            json!({"size": 1, "code": "abcdef"}),
            "spec.code",
            "FieldValueTooLong",
        ),
        (
            json!({"size": 1, "tags": ["a", "b", "c"]}),
            "spec.tags",
            "FieldValueTooMany",
        ),
        (
            json!({"size": 1, "port": true}),
            "spec.port",
            "FieldValueTypeInvalid",
        ),
        (json!({}), "spec.size", "FieldValueRequired"),
    ];
    for (i, (spec, field, reason)) in cases.into_iter().enumerate() {
        let st = api_err(
            wapi.create(
                &PostParams::default(),
                &widget(&format!("bad{i}"), spec.clone()),
            )
            .await
            .expect_err("invalid"),
        );
        assert_eq!((st.code, st.reason.as_str()), (422, "Invalid"), "{spec}");
        let causes = st.details.expect("details").causes;
        assert!(
            causes
                .iter()
                .any(|c| c.field == field && c.reason == reason),
            "{spec}: {causes:?}"
        );
        assert!(
            st.message.starts_with(&format!(
                "Widget.example.com \"bad{i}\" is invalid: {field}"
            )),
            "{}",
            st.message
        );
    }
    // Strict field validation refuses unknown fields instead of pruning them.
    let st = api_err(
        wapi.patch(
            "w",
            &PatchParams::apply("m").validation_strict(),
            &Patch::Apply(&widget("w", json!({"size": 3, "junk": 1}))),
        )
        .await
        .expect_err("strict"),
    );
    assert_eq!(st.code, 400);
    assert!(
        st.message.contains("unknown field \"spec.junk\""),
        "{}",
        st.message
    );
    // Deleting the CRD stops serving the kind and removes its objects.
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .expect("delete crd");
    assert_eq!(
        api_err(wapi.list(&ListParams::default()).await.expect_err("gone")).code,
        404
    );
}

#[tokio::test]
async fn authorization_policy_invalid_enum_names_the_field() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let st = api_err(
        policies(&c, "m")
            .patch(
                "bad",
                &PatchParams::apply("t"),
                &Patch::Apply(&policy("bad", json!({"action": "ALLOWW"}))),
            )
            .await
            .expect_err("invalid"),
    );
    assert_eq!(st.code, 422);
    let causes = st.details.expect("details").causes;
    assert_eq!(causes[0].field, "spec.action");
    assert_eq!(causes[0].reason, "FieldValueNotSupported");
    assert_eq!(
        st.message,
        "AuthorizationPolicy.security.istio.io \"bad\" is invalid: spec.action: Unsupported value: \"ALLOWW\": supported values: \"ALLOW\", \"DENY\", \"AUDIT\", \"CUSTOM\""
    );
}

#[tokio::test]
async fn names_and_labels_are_validated() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "m");
    let st = api_err(
        cms.create(&PostParams::default(), &cm("Bad_Name", json!({})))
            .await
            .expect_err("name"),
    );
    assert_eq!(st.code, 422);
    assert_eq!(st.details.expect("d").causes[0].field, "metadata.name");
    let st = api_err(
        cms.create(&PostParams::default(), &cm("ok", json!({"k": "has space"})))
            .await
            .expect_err("label value"),
    );
    assert_eq!(st.details.expect("d").causes[0].field, "metadata.labels");
    let st = api_err(
        cms.create(&PostParams::default(), &cm("ok", json!({"-bad": "v"})))
            .await
            .expect_err("label key"),
    );
    assert_eq!(st.details.expect("d").causes[0].field, "metadata.labels");
    // Namespaces must be DNS-1123 labels (no dots), Services DNS-1035 labels.
    let nss: Api<Namespace> = Api::all(c.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "a.b"}})).expect("ns");
    assert_eq!(
        api_err(
            nss.create(&PostParams::default(), &ns)
                .await
                .expect_err("ns name")
        )
        .code,
        422
    );
    let svcs: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(c.clone(), "m");
    let svc = serde_json::from_value(
        json!({"metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .expect("svc");
    assert_eq!(
        api_err(
            svcs.create(&PostParams::default(), &svc)
                .await
                .expect_err("svc name")
        )
        .code,
        422
    );
}

#[tokio::test]
async fn status_subresource_generation_and_propagation() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let deps: Api<Deployment> = Api::namespaced(c.clone(), "m");
    let dep: Deployment = serde_json::from_value(json!({"metadata": {"name": "d"}, "spec": {"replicas": 1,
        "selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
        "status": {"replicas": 99}}))
    .expect("dep");
    let d = deps
        .create(&PostParams::default(), &dep)
        .await
        .expect("create");
    assert_eq!(d.metadata.generation, Some(1));
    assert!(d.status.is_none(), "status is ignored on create");
    let st = deps
        .patch_status(
            "d",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 1, "replicas": 1}})),
        )
        .await
        .expect("status");
    assert_eq!(st.status.as_ref().and_then(|s| s.ready_replicas), Some(1));
    assert_eq!(
        st.metadata.generation,
        Some(1),
        "status writes do not bump generation"
    );
    let relabel = deps
        .patch(
            "d",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"labels": {"x": "y"}}, "status": {"readyReplicas": 0}}),
            ),
        )
        .await
        .expect("labels");
    assert_eq!(
        relabel.metadata.generation,
        Some(1),
        "metadata-only change keeps generation"
    );
    assert_eq!(
        relabel.status.and_then(|s| s.ready_replicas),
        Some(1),
        "main resource cannot write status"
    );
    let scaled = deps
        .patch(
            "d",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scale");
    assert_eq!(scaled.metadata.generation, Some(2));
    // Dependents: a Pod owned by the Deployment.
    let uid = scaled.metadata.uid.clone().expect("uid");
    let pods: Api<Pod> = Api::namespaced(c.clone(), "m");
    let pod = |name: &str| -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": uid}]},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}))
        .expect("pod")
    };
    pods.create(&PostParams::default(), &pod("p1"))
        .await
        .expect("p1");
    deps.delete("d", &DeleteParams::orphan())
        .await
        .expect("orphan delete");
    let p1 = pods.get("p1").await.expect("orphaned pod stays");
    assert!(p1.metadata.owner_references.unwrap_or_default().is_empty());
    let d2 = deps
        .create(&PostParams::default(), &dep)
        .await
        .expect("recreate");
    let uid = d2.metadata.uid.clone().expect("uid");
    let owned: Pod = serde_json::from_value(json!({"metadata": {"name": "p2", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": uid}]},
        "spec": {"containers": [{"name": "c", "image": "i"}]}})).expect("pod");
    pods.create(&PostParams::default(), &owned)
        .await
        .expect("p2");
    deps.delete("d", &DeleteParams::background())
        .await
        .expect("background delete");
    assert_eq!(
        api_err(pods.get("p2").await.expect_err("dependent deleted")).code,
        404
    );
    assert!(pods.get("p1").await.is_ok());
}

#[tokio::test]
async fn namespace_scoped_tokens_are_forbidden_elsewhere() {
    let server = start();
    let admin = client(&server);
    make_ns(&admin, "m").await;
    make_ns(&admin, "other").await;
    let token = server.issue_token(TokenScope::Namespace("m".into()));
    let c = client_with_token(&server, &token);
    let mine: Api<ConfigMap> = Api::namespaced(c.clone(), "m");
    mine.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .expect("own namespace");
    assert_eq!(
        mine.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );
    let theirs: Api<ConfigMap> = Api::namespaced(c.clone(), "other");
    let st = api_err(
        theirs
            .list(&ListParams::default())
            .await
            .expect_err("other ns"),
    );
    assert_eq!((st.code, st.reason.as_str()), (403, "Forbidden"));
    assert!(
        st.message.contains("in the namespace \"other\""),
        "{}",
        st.message
    );
    let nss: Api<Namespace> = Api::all(c.clone());
    assert_eq!(
        api_err(
            nss.list(&ListParams::default())
                .await
                .expect_err("cluster scope")
        )
        .code,
        403
    );
    let bad = client_with_token(&server, "not-a-token");
    let st = api_err(
        Api::<ConfigMap>::namespaced(bad, "m")
            .list(&ListParams::default())
            .await
            .expect_err("unknown token"),
    );
    assert_eq!(st.code, 401);
}

#[tokio::test]
async fn request_log_and_fault_injection() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let store = server.store();
    store.clear_request_log();
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "m");
    // (500: kube-rs retries 503/429/504 by itself.)
    store.inject_fault(Fault::status(
        "list",
        "/api/v1/namespaces/*/configmaps",
        1,
        500,
    ));
    let st = api_err(
        cms.list(&ListParams::default())
            .await
            .expect_err("injected"),
    );
    assert_eq!(st.code, 500);
    cms.list(&ListParams::default())
        .await
        .expect("fault used up");
    store.inject_fault(Fault::drop_connection(
        "create",
        "/api/v1/namespaces/m/configmaps",
        1,
    ));
    let e = cms
        .create(&PostParams::default(), &cm("a", json!({})))
        .await
        .expect_err("dropped");
    assert!(
        !matches!(e, kube::Error::Api(_)),
        "a dropped connection is not an API answer: {e:?}"
    );
    store.inject_fault(Fault::delay("POST", "/api/v1/*", 1, 20));
    cms.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .expect("delayed create succeeds");
    let log = store.request_log();
    let summary: Vec<(String, String, u16)> = log
        .iter()
        .map(|r| (r.verb.clone(), r.path.clone(), r.status))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "list".to_string(),
                "/api/v1/namespaces/m/configmaps".to_string(),
                500
            ),
            (
                "list".to_string(),
                "/api/v1/namespaces/m/configmaps".to_string(),
                200
            ),
            (
                "create".to_string(),
                "/api/v1/namespaces/m/configmaps".to_string(),
                0
            ),
            (
                "create".to_string(),
                "/api/v1/namespaces/m/configmaps".to_string(),
                201
            ),
        ]
    );
    assert!(log.iter().all(|r| !r.time.is_empty()));
    // The same over HTTP for out-of-process users.
    let req = |method: &str, path: &str, body: Vec<u8>| {
        axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body)
            .expect("request")
    };
    let fault = serde_json::to_vec(&json!({"verb": "get", "path": "/api/v1/namespaces/m/configmaps/a", "count": 1, "action": {"status": 500}})).expect("json");
    c.request_text(req("POST", "/kubesim/faults", fault))
        .await
        .expect("add fault");
    assert_eq!(
        api_err(cms.get("a").await.expect_err("http fault")).code,
        500
    );
    let text = c
        .request_text(req("GET", "/kubesim/requests", vec![]))
        .await
        .expect("log");
    let records: Vec<Value> = serde_json::from_str(&text).expect("records");
    let last = records.last().expect("last");
    assert_eq!(
        (last["verb"].as_str(), last["status"].as_u64()),
        (Some("get"), Some(500))
    );
    c.request_text(req("DELETE", "/kubesim/requests", vec![]))
        .await
        .expect("clear");
    assert!(store.request_log().is_empty());
}

#[tokio::test]
async fn table_output_for_kubectl_get() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    policies(&c, "m")
        .create(
            &PostParams::default(),
            &policy("p", json!({"action": "DENY"})),
        )
        .await
        .expect("p");
    let req = axum::http::Request::builder()
        .uri("/apis/security.istio.io/v1/namespaces/m/authorizationpolicies")
        .header(
            "accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .body(vec![])
        .expect("request");
    let t: Value = serde_json::from_str(&c.request_text(req).await.expect("table")).expect("json");
    assert_eq!(t["kind"], json!("Table"));
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .expect("cols")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(cols, ["Name", "Action", "Age"]);
    assert_eq!(t["rows"][0]["cells"][0], json!("p"));
    assert_eq!(t["rows"][0]["cells"][1], json!("DENY"));
    assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], json!("m"));
}

#[tokio::test]
async fn gateway_crd_listeners_merge_by_name_and_schema_applies() {
    let server = Server::start(kubesim::Config {
        crd_yaml: vec![kubesim::GATEWAY_CRD.to_string()],
        ..Default::default()
    })
    .expect("start");
    let c = client(&server);
    make_ns(&c, "m").await;
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "Gateway"),
        "gateways",
    );
    let gws: Api<DynamicObject> = Api::namespaced_with(c.clone(), "m", &ar);
    let gw = |listeners: Value| {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "waypoint"},
               "spec": {"gatewayClassName": "istio-waypoint", "listeners": listeners}})
    };
    gws.patch(
        "waypoint",
        &PatchParams::apply("beacon"),
        &Patch::Apply(gw(
            json!([{"name": "mesh", "port": 15008, "protocol": "HBONE"}]),
        )),
    )
    .await
    .expect("apply gateway");
    let out = gws
        .patch(
            "waypoint",
            &PatchParams::apply("other"),
            &Patch::Apply(gw(
                json!([{"name": "extra", "port": 8080, "protocol": "HTTP"}]),
            )),
        )
        .await
        .expect("second manager adds a listener");
    let names: Vec<&str> = out.data["spec"]["listeners"]
        .as_array()
        .expect("listeners")
        .iter()
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert_eq!(names, ["mesh", "extra"]);
    // Schema: listener port has a maximum, protocol is required.
    let st = api_err(
        gws.patch(
            "bad",
            &PatchParams::apply("beacon"),
            &Patch::Apply(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "bad"},
                "spec": {"gatewayClassName": "x", "listeners": [{"name": "l", "port": 70000}]}})),
        )
        .await
        .expect_err("invalid gateway"),
    );
    assert_eq!(st.code, 422);
    let fields: Vec<String> = st
        .details
        .expect("details")
        .causes
        .into_iter()
        .map(|c| c.field)
        .collect();
    assert!(
        fields.contains(&"spec.listeners[0].port".to_string()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"spec.listeners[0].protocol".to_string()),
        "{fields:?}"
    );
}

#[tokio::test]
async fn finalizers_hold_deletion_and_namespace_terminates_when_empty() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "m");
    let mut held = cm("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &held)
        .await
        .expect("create");
    cms.create(&PostParams::default(), &cm("plain", json!({})))
        .await
        .expect("plain");
    cms.delete("held", &DeleteParams::default())
        .await
        .expect("delete");
    let still = cms.get("held").await.expect("held by its finalizer");
    assert!(still.metadata.deletion_timestamp.is_some());
    let nss: Api<Namespace> = Api::all(c.clone());
    nss.delete("m", &DeleteParams::default())
        .await
        .expect("delete ns");
    let ns = nss.get("m").await.expect("namespace waits for its content");
    assert_eq!(
        ns.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    assert_eq!(
        api_err(cms.get("plain").await.expect_err("plain content gone")).code,
        404
    );
    let st = api_err(
        cms.create(&PostParams::default(), &cm("new", json!({})))
            .await
            .expect_err("terminating"),
    );
    assert_eq!((st.code, st.reason.as_str()), (403, "Forbidden"));
    assert!(
        st.message.contains("because it is being terminated"),
        "{}",
        st.message
    );
    // Removing the last finalizer completes both deletions.
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("remove finalizer");
    assert_eq!(api_err(cms.get("held").await.expect_err("gone")).code, 404);
    assert_eq!(
        api_err(nss.get("m").await.expect_err("namespace gone")).code,
        404
    );
}

#[tokio::test]
async fn kubeconfig_works_for_kube_rs_with_namespace_and_token() {
    let server = start();
    make_ns(&client(&server), "m").await;
    let token = server.issue_token(TokenScope::Namespace("m".into()));
    for (yaml, scoped) in [
        (server.kubeconfig(Some("m")), false),
        (server.kubeconfig_for_token(&token, Some("m")), true),
    ] {
        let kc = kube::config::Kubeconfig::from_yaml(&yaml).expect("parse kubeconfig");
        let cfg = Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("config from kubeconfig");
        assert_eq!(cfg.default_namespace, "m");
        let c = Client::try_from(cfg).expect("client");
        let cms: Api<ConfigMap> = Api::default_namespaced(c.clone());
        cms.create(
            &PostParams::default(),
            &cm(if scoped { "b" } else { "a" }, json!({})),
        )
        .await
        .expect("create in the context namespace");
        let nss: Api<Namespace> = Api::all(c);
        assert_eq!(nss.list(&ListParams::default()).await.is_ok(), !scoped);
    }
}

#[tokio::test]
async fn services_get_defaults_and_a_stable_cluster_ip() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let svcs: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(c.clone(), "m");
    let svc = |name: &str, extra: Value| -> k8s_openapi::api::core::v1::Service {
        let mut v = json!({"metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 9080}]}});
        if let (Some(spec), Some(e)) = (v["spec"].as_object_mut(), extra.as_object()) {
            spec.extend(e.clone());
        }
        serde_json::from_value(v).expect("service")
    };
    let a = serde_json::to_value(
        svcs.create(&PostParams::default(), &svc("a", json!({})))
            .await
            .expect("a"),
    )
    .expect("json");
    let b = serde_json::to_value(
        svcs.create(&PostParams::default(), &svc("b", json!({})))
            .await
            .expect("b"),
    )
    .expect("json");
    let h = serde_json::to_value(
        svcs.create(
            &PostParams::default(),
            &svc("h", json!({"clusterIP": "None"})),
        )
        .await
        .expect("h"),
    )
    .expect("json");
    assert_eq!(a["spec"]["type"], json!("ClusterIP"));
    assert_eq!(a["spec"]["ports"][0]["protocol"], json!("TCP"));
    assert_eq!(a["spec"]["ports"][0]["targetPort"], json!(9080));
    let ip_a = a["spec"]["clusterIP"].as_str().expect("ip").to_string();
    assert!(ip_a.starts_with("10.152."), "{ip_a}");
    assert_ne!(b["spec"]["clusterIP"], a["spec"]["clusterIP"]);
    assert_eq!(h["spec"]["clusterIP"], json!("None"));
    // An apply or a replace that omits the IP keeps it.
    let applied = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "labels": {"x": "y"}},
        "spec": {"selector": {"app": "a"}, "ports": [{"port": 9080}]}});
    let out = svcs
        .patch("a", &PatchParams::apply("t"), &Patch::Apply(&applied))
        .await
        .expect("apply");
    assert_eq!(
        out.spec.and_then(|s| s.cluster_ip).as_deref(),
        Some(ip_a.as_str())
    );
}

/// The watch events of `GET path` (which must carry `watch=true&timeoutSeconds=N`), decoded as
/// kube-rs decodes them.
async fn watch_events(c: &Client, path: &str) -> Vec<kube::core::WatchEvent<ConfigMap>> {
    let req = axum::http::Request::builder()
        .uri(path)
        .body(Vec::new())
        .expect("request");
    let text = c.request_text(req).await.expect("watch");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("watch event"))
        .collect()
}

fn describe(events: &[kube::core::WatchEvent<ConfigMap>]) -> Vec<String> {
    use kube::core::WatchEvent::*;
    events
        .iter()
        .map(|e| match e {
            Added(o) => format!("ADDED {}", o.metadata.name.clone().unwrap_or_default()),
            Modified(o) => format!("MODIFIED {}", o.metadata.name.clone().unwrap_or_default()),
            Deleted(o) => format!("DELETED {}", o.metadata.name.clone().unwrap_or_default()),
            Bookmark(_) => "BOOKMARK".to_string(),
            Error(s) => format!("ERROR {}", s.code),
        })
        .collect()
}

#[tokio::test]
async fn watch_replays_changes_with_selector_transitions() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "m");
    cms.create(&PostParams::default(), &cm("old", json!({"w": "1"})))
        .await
        .expect("old");
    let rv = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    cms.create(&PostParams::default(), &cm("a", json!({"w": "1"})))
        .await
        .expect("a");
    cms.create(&PostParams::default(), &cm("other", json!({})))
        .await
        .expect("other");
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "2"}})),
    )
    .await
    .expect("modify");
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"w": null}}})),
    )
    .await
    .expect("unlabel");
    cms.patch(
        "other",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"w": "1"}}})),
    )
    .await
    .expect("label");
    cms.delete("other", &DeleteParams::default())
        .await
        .expect("delete");
    let base = "/api/v1/namespaces/m/configmaps?watch=true&timeoutSeconds=1";
    let events = watch_events(
        &c,
        &format!("{base}&labelSelector=w%3D1&resourceVersion={rv}"),
    )
    .await;
    assert_eq!(
        describe(&events),
        [
            "ADDED a",
            "MODIFIED a",
            "DELETED a",
            "ADDED other",
            "DELETED other"
        ]
    );
    // Without a resourceVersion: the current state first, as ADDED.
    let events = watch_events(&c, base).await;
    assert_eq!(describe(&events), ["ADDED a", "ADDED old"]);
    // A watch that is open while changes happen sees them (live or replayed, same result).
    let now_rv = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let c2 = c.clone();
    let path = format!(
        "/api/v1/namespaces/m/configmaps?watch=true&timeoutSeconds=2&resourceVersion={now_rv}"
    );
    let open = tokio::spawn(async move { watch_events(&c2, &path).await });
    cms.create(&PostParams::default(), &cm("live", json!({})))
        .await
        .expect("live");
    cms.delete("live", &DeleteParams::default())
        .await
        .expect("delete live");
    assert_eq!(
        describe(&open.await.expect("watch task")),
        ["ADDED live", "DELETED live"]
    );
    // After a restore the history is gone: resuming answers 410 Expired in an ERROR event.
    let store = server.store();
    store.restore(store.dump()).expect("restore");
    let events = watch_events(&c, &format!("{base}&resourceVersion={rv}")).await;
    assert_eq!(describe(&events), ["ERROR 410"]);
}

#[tokio::test]
async fn faults_hit_only_the_next_n_matching_requests() {
    let server = start();
    let c = client(&server);
    make_ns(&c, "m").await;
    let store = server.store();
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "m");
    store.inject_fault(Fault::status(
        "get",
        "/api/v1/namespaces/*/configmaps/*",
        2,
        500,
    ));
    // Another verb, and a path the pattern does not match, are not affected.
    cms.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .expect("create is not a get");
    cms.list(&ListParams::default())
        .await
        .expect("the list path does not match");
    for n in 0..2 {
        let st = api_err(cms.get("a").await.expect_err("injected"));
        assert_eq!(st.code, 500, "request {n}");
    }
    cms.get("a").await.expect("both faults used up");
    // A delay holds the answer back at least that long (a lower bound, not a deadline).
    store.clear_request_log();
    store.inject_fault(Fault::delay(
        "get",
        "/api/v1/namespaces/m/configmaps/a",
        1,
        50,
    ));
    cms.get("a").await.expect("delayed get succeeds");
    let log = store.request_log();
    let last = log.last().expect("logged");
    assert_eq!((last.verb.as_str(), last.status), ("get", 200));
    assert!(last.duration_us >= 50_000, "{last:?}");
    // Dropped connections: every one of the next N matching requests fails without an answer.
    store.inject_fault(Fault::drop_connection("get", "*/configmaps/a", 2));
    for _ in 0..2 {
        let e = cms.get("a").await.expect_err("dropped");
        assert!(!matches!(e, kube::Error::Api(_)), "{e:?}");
    }
    cms.get("a").await.expect("drops used up");
}
