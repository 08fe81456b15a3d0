//! The hook environment, legacy hooks/, .charm zips, upgrade-charm, and Kubernetes
//! credentials with and without trust.
mod common;
use common::*;
use std::io::{Read, Write};

const DUMP_ENV: &str = "env | grep -E '^(JUJU_|CHARM_DIR|KUBECONFIG)' | sort > \"$JUJU_CHARM_DIR/../env-$HOOK\"; pwd > \"$JUJU_CHARM_DIR/../cwd\"";

fn read_env(
    e: &Env,
    model: &str,
    unit_dir: &str,
    hook: &str,
) -> std::collections::BTreeMap<String, String> {
    let p = e
        .dir
        .path()
        .join("work/units")
        .join(model)
        .join(unit_dir)
        .join(format!("env-{hook}"));
    std::fs::read_to_string(&p)
        .unwrap_or_else(|err| panic!("{}: {err}", p.display()))
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

#[test]
fn hook_environment_as_juju_sets_it() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    let p = charm(e.dir.path(), "prov", PROVIDER_META, "", "", DUMP_ENV);
    let r = charm(e.dir.path(), "req", REQUIRER_META, "", "", DUMP_ENV);
    deploy(&e, "m", &p, "prov", 1);
    deploy(&e, "m", &r, "req", 2);
    let id = e.ctl.integrate("m", "prov", "req").unwrap();
    e.ctl.run_until_idle().unwrap();
    let install = read_env(&e, "m", "prov-0", "install");
    let uuid = e.ctl.model_uuid("m").unwrap();
    assert_eq!(install["JUJU_DISPATCH_PATH"], "hooks/install");
    assert_eq!(install["JUJU_HOOK_NAME"], "install");
    assert_eq!(install["JUJU_UNIT_NAME"], "prov/0");
    assert_eq!(install["JUJU_MODEL_NAME"], "m");
    assert_eq!(install["JUJU_MODEL_UUID"], uuid);
    assert_eq!(install["JUJU_VERSION"], jujusim::JUJU_VERSION);
    assert!(install["JUJU_CONTEXT_ID"].starts_with("prov/0-install-"));
    assert_eq!(install["JUJU_AGENT_SOCKET_NETWORK"], "unix");
    assert!(!install.contains_key("JUJU_RELATION"));
    let charm_dir = install["JUJU_CHARM_DIR"].clone();
    assert_eq!(install["CHARM_DIR"], charm_dir);
    let cwd = std::fs::read_to_string(e.dir.path().join("work/units/m/prov-0/cwd")).unwrap();
    assert_eq!(
        std::fs::canonicalize(cwd.trim()).unwrap(),
        std::fs::canonicalize(&charm_dir).unwrap()
    );
    let joined = read_env(&e, "m", "prov-0", "db-relation-joined");
    assert_eq!(joined["JUJU_RELATION"], "db");
    assert_eq!(joined["JUJU_RELATION_ID"], format!("db:{id}"));
    assert_eq!(joined["JUJU_REMOTE_UNIT"], "req/1");
    assert_eq!(joined["JUJU_REMOTE_APP"], "req");
    assert_eq!(joined["JUJU_DISPATCH_PATH"], "hooks/db-relation-joined");
    e.ctl.remove_unit("m", "req/1").unwrap();
    e.ctl.run_until_idle().unwrap();
    let departed = read_env(&e, "m", "prov-0", "db-relation-departed");
    assert_eq!(departed["JUJU_REMOTE_UNIT"], "req/1");
    assert_eq!(departed["JUJU_DEPARTING_UNIT"], "req/1");
    let departed_self = read_env(&e, "m", "req-1", "db-relation-departed");
    assert_eq!(departed_self["JUJU_DEPARTING_UNIT"], "req/1");
    assert_eq!(departed_self["JUJU_REMOTE_UNIT"], "prov/0");
    assert_eq!(
        read_env(&e, "m", "req-1", "db-relation-broken")["JUJU_REMOTE_APP"],
        "prov"
    );
}

#[test]
fn legacy_hooks_zip_charm_and_upgrade() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    // A .charm zip without dispatch: hooks/<name> run, missing hooks are skipped.
    let zpath = e.dir.path().join("legacy.charm");
    {
        let f = std::fs::File::create(&zpath).unwrap();
        let mut z = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        z.start_file("metadata.yaml", opts).unwrap();
        z.write_all(b"name: legacy\n").unwrap();
        z.start_file("hooks/install", opts).unwrap();
        z.write_all(b"#!/bin/sh\nstatus-set active installed-by-hook\n")
            .unwrap();
        z.finish().unwrap();
    }
    deploy(&e, "m", &zpath, "legacy", 1);
    e.ctl.run_until_idle().unwrap();
    let st = e.ctl.status("m").unwrap();
    assert_eq!(
        st.applications["legacy"].units["legacy/0"]
            .workload_status
            .message,
        "installed-by-hook"
    );
    assert_eq!(
        hooks_of(&e, "m", "legacy/0"),
        ["install"],
        "only existing hooks are run"
    );
    // Refresh to a dispatch charm: upgrade-charm then config-changed.
    let v2 = charm(
        e.dir.path(),
        "legacy",
        "",
        "",
        "",
        "status-set active \"v2 $HOOK\"",
    );
    e.ctl.refresh("m", "legacy", &v2).unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        hooks_of(&e, "m", "legacy/0")[1..],
        ["upgrade-charm", "config-changed"]
    );
    let st = e.ctl.status("m").unwrap();
    assert_eq!(
        st.applications["legacy"].units["legacy/0"]
            .workload_status
            .message,
        "v2 config-changed"
    );
}

/// GET `path` from kubesim with the token of the kubeconfig at `path`; returns the status code.
fn get_with_kubeconfig(kubeconfig: &str, path: &str) -> u16 {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(kubeconfig).unwrap()).unwrap();
    let server = doc["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap()
        .to_string();
    let token = doc["users"][0]["user"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let hostport = server.trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(&hostport).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn trust_decides_kubernetes_access() {
    let e = env();
    e.ctl.add_model("m").unwrap();
    e.ctl.add_model("other").unwrap();
    let c = charm(e.dir.path(), "k", "", "", "", "true");
    let mut a = jujusim::DeployArgs::new(&c);
    a.app = Some("trusted".into());
    a.trust = true;
    e.ctl.deploy("m", a).unwrap();
    deploy(&e, "m", &c, "plain", 1);
    e.ctl.run_until_idle().unwrap();
    let kc = |unit: &str| sh(&e, "m", unit, "printf %s \"$KUBECONFIG\"").stdout;
    let trusted = kc("trusted/0");
    let plain = kc("plain/0");
    assert_eq!(
        get_with_kubeconfig(&trusted, "/api/v1/namespaces/other/pods"),
        200
    );
    assert_eq!(
        get_with_kubeconfig(&plain, "/api/v1/namespaces/m/pods"),
        200
    );
    assert_eq!(
        get_with_kubeconfig(&plain, "/api/v1/namespaces/other/pods"),
        403
    );
    // juju trust flips it.
    e.ctl.trust("m", "plain", true).unwrap();
    e.ctl.run_until_idle().unwrap();
    assert_eq!(
        get_with_kubeconfig(&kc("plain/0"), "/api/v1/namespaces/other/pods"),
        200
    );
}
