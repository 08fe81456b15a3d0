//! Server-side apply on associative (keyed) lists: an item a manager stops applying goes as a
//! whole, server-defaulted fields included, unless another manager owns a field in it.

use kubesim::Store;
use serde_json::{json, Value};

fn store() -> Store {
    let s = Store::new();
    s.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "m"}}))
        .expect("namespace");
    s
}

fn service(ports: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "svc", "namespace": "m"},
           "spec": {"selector": {"app": "a"}, "ports": ports}})
}

fn port_numbers(svc: &Value) -> Vec<(i64, String)> {
    svc["spec"]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| {
            (
                p["port"].as_i64().unwrap_or(-1),
                p["protocol"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn dropped_service_port_goes_with_its_defaulted_fields() {
    let s = store();
    // targetPort and protocol are left to the server's defaults.
    let first = s
        .apply(
            service(json!([{"name": "placeholder", "port": 65535}])),
            "juju",
            false,
        )
        .expect("first apply");
    assert_eq!(first["spec"]["ports"][0]["targetPort"], json!(65535));
    assert_eq!(first["spec"]["ports"][0]["protocol"], json!("TCP"));
    let out = s
        .apply(
            service(json!([{"name": "juju-80-tcp", "port": 80}])),
            "juju",
            false,
        )
        .expect("second apply");
    assert_eq!(
        out["spec"]["ports"],
        json!([{"name": "juju-80-tcp", "port": 80, "protocol": "TCP", "targetPort": 80}])
    );
    // The stored object agrees with the answer.
    let got = s.get("v1", "Service", Some("m"), "svc").expect("get");
    assert_eq!(got["spec"]["ports"], out["spec"]["ports"]);
    // The defaulted protocol keys the item; the manager owns only what it applied.
    assert_eq!(
        out["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:ports"],
        json!({"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}}})
    );
}

#[test]
fn dropped_service_port_with_explicit_protocol_goes_whole() {
    let s = store();
    s.apply(
        service(
            json!([{"name": "placeholder", "port": 65535, "protocol": "TCP", "targetPort": 65535}]),
        ),
        "juju",
        false,
    )
    .expect("first apply");
    let out = s
        .apply(
            service(
                json!([{"name": "juju-80-tcp", "port": 80, "protocol": "TCP", "targetPort": 80}]),
            ),
            "juju",
            false,
        )
        .expect("second apply");
    assert_eq!(port_numbers(&out), vec![(80, "TCP".to_string())]);
}

#[test]
fn service_ports_are_keyed_by_port_and_protocol() {
    let s = store();
    let both = s
        .apply(
            service(json!([
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                {"name": "dns-udp", "port": 53, "protocol": "UDP"},
            ])),
            "m1",
            false,
        )
        .expect("apply both");
    assert_eq!(
        port_numbers(&both),
        vec![(53, "TCP".to_string()), (53, "UDP".to_string())]
    );
    let mf = &both["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:ports"];
    assert!(
        mf.get("k:{\"port\":53,\"protocol\":\"UDP\"}").is_some(),
        "managedFields keys items by port and protocol: {mf}"
    );
    let out = s
        .apply(
            service(json!([{"name": "dns-tcp", "port": 53, "protocol": "TCP"}])),
            "m1",
            false,
        )
        .expect("drop udp");
    assert_eq!(port_numbers(&out), vec![(53, "TCP".to_string())]);
    assert_eq!(out["spec"]["ports"][0]["name"], json!("dns-tcp"));
}

#[test]
fn item_stays_while_another_manager_owns_a_field_in_it() {
    let s = store();
    s.apply(
        service(json!([{"name": "a", "port": 80}, {"name": "b", "port": 81}])),
        "one",
        false,
    )
    .expect("one applies");
    // A second manager co-owns port 81 (it applies its own field in that item).
    s.apply(
        service(json!([{"port": 81, "protocol": "TCP", "appProtocol": "http"}])),
        "two",
        false,
    )
    .expect("two applies");
    let out = s
        .apply(service(json!([{"name": "a", "port": 80}])), "one", false)
        .expect("one drops 81");
    let ports = out["spec"]["ports"].as_array().expect("ports");
    assert_eq!(ports.len(), 2, "{ports:?}");
    let p81 = ports.iter().find(|p| p["port"] == json!(81)).expect("81");
    assert_eq!(p81["appProtocol"], json!("http"));
    assert!(p81.get("name").is_none(), "one's field is gone: {p81}");
    // When two stops too, the item goes as a whole.
    let out = s
        .apply(service(json!([])), "two", false)
        .expect("two drops 81");
    assert_eq!(port_numbers(&out), vec![(80, "TCP".to_string())]);
}

fn pod(containers: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p", "namespace": "m"},
           "spec": {"containers": containers}})
}

#[test]
fn containers_and_env_items_are_removed_by_name() {
    let s = store();
    s.apply(
        pod(json!([
            {"name": "a", "image": "x", "env": [{"name": "K1", "value": "1"}, {"name": "K2", "value": "2"}]},
            {"name": "b", "image": "y"},
        ])),
        "mgr",
        false,
    )
    .expect("apply");
    let out = s
        .apply(
            pod(json!([{"name": "a", "image": "x", "env": [{"name": "K1", "value": "1"}]}])),
            "mgr",
            false,
        )
        .expect("re-apply");
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "a", "image": "x", "env": [{"name": "K1", "value": "1"}]}])
    );
}

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              items:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name, zone]
                items:
                  type: object
                  required: [name, zone]
                  properties:
                    name: {type: string}
                    zone: {type: string}
                    size: {type: integer, default: 1}
                    color: {type: string}
"#;

fn widget(items: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget",
           "metadata": {"name": "w", "namespace": "m"}, "spec": {"items": items}})
}

#[test]
fn crd_map_list_items_are_removed_whole() {
    let s = store();
    s.install_crd_yaml(WIDGET_CRD).expect("crd");
    let first = s
        .apply(
            widget(json!([
                {"name": "a", "zone": "z1", "color": "red"},
                {"name": "a", "zone": "z2", "color": "blue"},
            ])),
            "mgr",
            false,
        )
        .expect("apply");
    assert_eq!(first["spec"]["items"].as_array().map(Vec::len), Some(2));
    let out = s
        .apply(
            widget(json!([{"name": "a", "zone": "z1", "color": "red"}])),
            "mgr",
            false,
        )
        .expect("re-apply");
    let items = out["spec"]["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["zone"], json!("z1"));
    assert_eq!(items[0]["color"], json!("red"));
}

#[test]
fn item_stays_while_an_updater_owns_a_field_in_it() {
    let s = store();
    s.apply(
        service(json!([{"name": "a", "port": 80}, {"name": "b", "port": 81}])),
        "one",
        false,
    )
    .expect("apply");
    // Someone else edits port 81 with a plain update: they own that field only.
    let mut live = s.get("v1", "Service", Some("m"), "svc").expect("get");
    live["spec"]["ports"][1]["appProtocol"] = json!("http");
    s.update(live).expect("update");
    let out = s
        .apply(service(json!([{"name": "a", "port": 80}])), "one", false)
        .expect("one drops 81");
    let ports = out["spec"]["ports"].as_array().expect("ports");
    let p81 = ports
        .iter()
        .find(|p| p["port"] == json!(81))
        .expect("81 stays while the updater owns a field in it");
    assert_eq!(p81["appProtocol"], json!("http"));
    assert_eq!(p81["protocol"], json!("TCP"));
    assert!(p81.get("name").is_none(), "one's field is gone: {p81}");
}

#[test]
fn crd_schema_defaults_are_not_owned_by_the_applier() {
    let s = store();
    s.install_crd_yaml(WIDGET_CRD).expect("crd");
    let out = s
        .apply(widget(json!([{"name": "a", "zone": "z1"}])), "alice", false)
        .expect("alice");
    assert_eq!(out["spec"]["items"][0]["size"], json!(1), "defaulted");
    // Bob sets the size alice never applied: no conflict with alice.
    let out = s
        .apply(
            widget(json!([{"name": "a", "zone": "z1", "size": 5}])),
            "bob",
            false,
        )
        .expect("bob sets size without conflict");
    assert_eq!(out["spec"]["items"][0]["size"], json!(5));
    // Alice re-applying does not reset it to the default.
    let out = s
        .apply(widget(json!([{"name": "a", "zone": "z1"}])), "alice", false)
        .expect("alice again");
    assert_eq!(out["spec"]["items"][0]["size"], json!(5));
}

#[test]
fn strategic_merge_patch_still_merges_service_ports_by_port() {
    let s = store();
    s.apply(service(json!([{"name": "web", "port": 80}])), "m1", false)
        .expect("apply");
    let out = s
        .strategic_merge_patch(
            "v1",
            "Service",
            Some("m"),
            "svc",
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}),
        )
        .expect("smp");
    assert_eq!(
        out["spec"]["ports"],
        json!([{"name": "web", "port": 80, "protocol": "TCP", "targetPort": 8080}])
    );
}

#[test]
fn container_port_created_without_protocol_is_matched_by_apply() {
    let s = store();
    s.create(pod(
        json!([{"name": "a", "image": "x", "ports": [{"containerPort": 8080}]}]),
    ))
    .expect("create");
    let out = s
        .apply(
            pod(json!([{"name": "a", "image": "x", "ports": [{"containerPort": 8080, "name": "http"}]}])),
            "mgr",
            true,
        )
        .expect("apply");
    assert_eq!(
        out["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 8080, "name": "http", "protocol": "TCP"}])
    );
}
