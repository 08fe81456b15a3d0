//! The Kubernetes objects of a model as `kubectl` shows them: running pods, Service ports that
//! follow the units' opened ports.
mod common;
use common::*;

use serde_json::{json, Value};
use std::io::{Read, Write};

/// GET a path from the kubesim server as the Table `kubectl get` asks for (HTTP/1.0, so the
/// answer is close-delimited and needs no chunked decoding).
fn get_table(e: &Env, path: &str) -> Value {
    let addr = e.kube.addr();
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json;as=Table;v=v1;g=meta.k8s.io\r\n\r\n"
    )
    .expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let (head, body) = resp.split_once("\r\n\r\n").expect("http answer");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    serde_json::from_str(body).expect("json body")
}

fn row_cells(table: &Value, name: &str) -> Vec<Value> {
    table["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["cells"][0] == json!(name))
        .unwrap_or_else(|| panic!("no row {name} in {table}"))["cells"]
        .as_array()
        .expect("cells")
        .clone()
}

#[test]
fn pods_are_running_and_ready() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", "true");
    deploy(&e, "m", &p, "prov", 1);
    e.ctl.run_until_idle().unwrap();

    let pod = e
        .kube
        .store()
        .get("v1", "Pod", Some("m"), "prov-0")
        .unwrap();
    let cs = &pod["status"]["containerStatuses"];
    assert_eq!(cs.as_array().map(Vec::len), Some(1), "{cs}");
    assert_eq!(cs[0]["name"], "charm");
    assert_eq!(cs[0]["ready"], true);
    assert_eq!(cs[0]["restartCount"], 0);
    assert_eq!(cs[0]["image"], pod["spec"]["containers"][0]["image"]);
    assert!(
        cs[0]["state"]["running"]["startedAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{cs}"
    );
    let ready: Vec<&Value> = pod["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "Ready")
        .collect();
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0]["status"], "True");
    assert_eq!(pod["status"]["phase"], "Running");

    // What `kubectl get pods -n m` prints.
    let t = get_table(&e, "/api/v1/namespaces/m/pods");
    for name in ["prov-0", "modeloperator-0"] {
        let cells = row_cells(&t, name);
        assert_eq!(cells[1], json!("1/1"), "{name}: {cells:?}");
        assert_eq!(cells[2], json!("Running"), "{name}: {cells:?}");
        assert_eq!(cells[3], json!("0"), "{name}: {cells:?}");
    }
}

#[test]
fn workload_containers_run_next_to_the_charm() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let meta = "containers:\n  app:\n    resource: app-image\n  sidecar:\n    resource: bare\nresources:\n  app-image:\n    type: oci-image\n    upstream-source: example/app:1.0\n  bare:\n    type: oci-image\n";
    let p = charm(e.dir.path(), "wl", meta, "", "", "true");
    deploy(&e, "m", &p, "wl", 1);
    e.ctl.run_until_idle().unwrap();
    let store = e.kube.store();
    let pod = store.get("v1", "Pod", Some("m"), "wl-0").unwrap();
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&pod["spec"]["containers"]),
        ["charm", "app", "sidecar"]
    );
    assert_eq!(pod["spec"]["containers"][1]["image"], "example/app:1.0");
    assert_eq!(names(&pod["spec"]["initContainers"]), ["charm-init"]);
    assert_eq!(
        names(&pod["status"]["containerStatuses"]),
        ["charm", "app", "sidecar"]
    );
    assert_eq!(
        pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );
    let sts = store
        .get("apps/v1", "StatefulSet", Some("m"), "wl")
        .unwrap();
    assert_eq!(sts["spec"]["template"]["spec"], pod["spec"]);
    let t = get_table(&e, "/api/v1/namespaces/m/pods");
    let cells = row_cells(&t, "wl-0");
    assert_eq!((&cells[1], &cells[2]), (&json!("3/3"), &json!("Running")));
}

fn service_ports(e: &Env) -> Vec<Value> {
    let svc = e
        .kube
        .store()
        .get("v1", "Service", Some("m"), "prov")
        .unwrap();
    svc["spec"]["ports"].as_array().unwrap().clone()
}

#[test]
fn service_ports_follow_opened_ports() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", "true");
    deploy(&e, "m", &p, "prov", 1);
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        service_ports(&e),
        [json!({"name": "placeholder", "port": 65535, "protocol": "TCP", "targetPort": 65535})]
    );

    let out = sh(&e, "m", "prov/0", "open-port 53/tcp && open-port 53/udp");
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Same port number, two protocols: two items, and the placeholder is gone entirely.
    assert_eq!(
        service_ports(&e),
        [
            json!({"name": "juju-53-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}),
            json!({"name": "juju-53-udp", "port": 53, "protocol": "UDP", "targetPort": 53}),
        ]
    );

    let out = sh(&e, "m", "prov/0", "close-port 53/udp");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        service_ports(&e),
        [json!({"name": "juju-53-tcp", "port": 53, "protocol": "TCP", "targetPort": 53})]
    );

    let out = sh(&e, "m", "prov/0", "close-port 53/tcp");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        service_ports(&e),
        [json!({"name": "placeholder", "port": 65535, "protocol": "TCP", "targetPort": 65535})]
    );
}

#[test]
fn refresh_with_a_new_workload_container_replaces_the_pods() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let v1 = charm(e.dir.path(), "v1", "", "", "", "true");
    deploy(&e, "m", &v1, "app", 1);
    e.ctl.run_until_idle().unwrap();
    let pods = || get_table(&e, "/api/v1/namespaces/m/pods");
    assert_eq!(row_cells(&pods(), "app-0")[1], json!("1/1"));
    let v2 = charm(
        e.dir.path(),
        "v2",
        "containers:\n  web:\n    resource: web-image\nresources:\n  web-image:\n    type: oci-image\n",
        "",
        "",
        "true",
    );
    e.ctl.refresh("m", "app", &v2).unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(row_cells(&pods(), "app-0")[1], json!("2/2"));
    let sts = e
        .kube
        .store()
        .get("apps/v1", "StatefulSet", Some("m"), "app")
        .unwrap();
    assert_eq!(
        sts["spec"]["template"]["spec"]["containers"][1]["name"],
        "web"
    );
}

/// Juju's headless `<app>-endpoints` Service (the StatefulSet's `serviceName`, which gives
/// each pod its DNS name): created on deploy, ports in step with the main Service, gone on
/// remove-application.
#[test]
fn headless_endpoints_service_follows_the_application() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", "true");
    deploy(&e, "m", &p, "prov", 1);
    e.ctl.run_until_idle().unwrap();
    let store = e.kube.store();
    let headless = || {
        store
            .get("v1", "Service", Some("m"), "prov-endpoints")
            .expect("prov-endpoints Service")
    };
    let svc = headless();
    assert_eq!(svc["spec"]["clusterIP"], "None", "{svc}");
    assert_eq!(svc["spec"]["publishNotReadyAddresses"], true, "{svc}");
    assert_eq!(
        svc["spec"]["selector"],
        json!({"app.kubernetes.io/name": "prov"})
    );
    assert_eq!(svc["spec"]["ports"].as_array().unwrap(), &service_ports(&e));
    let sts = store
        .get("apps/v1", "StatefulSet", Some("m"), "prov")
        .unwrap();
    assert_eq!(sts["spec"]["serviceName"], "prov-endpoints");

    let out = sh(&e, "m", "prov/0", "open-port 9080/tcp");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let want =
        [json!({"name": "juju-9080-tcp", "port": 9080, "protocol": "TCP", "targetPort": 9080})];
    assert_eq!(service_ports(&e), want);
    assert_eq!(headless()["spec"]["ports"].as_array().unwrap(), &want);
    // Still headless after the update (no cluster IP allocated by the re-apply).
    assert_eq!(headless()["spec"]["clusterIP"], "None");

    e.ctl.remove_application("m", "prov").unwrap();
    e.ctl.run_until_idle().unwrap();
    assert!(store
        .get("v1", "Service", Some("m"), "prov-endpoints")
        .is_err());
    assert!(store.get("v1", "Service", Some("m"), "prov").is_err());
}
