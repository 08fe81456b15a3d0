//! An unmodified Python `ops` charm runs under jujusim and exchanges relation data with a
//! Rust charm. `ops` comes from PyPI: if `python3 -c 'import ops'` fails, the test installs
//! it with pip into a directory under the target dir and packs it as charmcraft does (`venv/`).
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn python_with_ops() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("jujusim-ops");
    let site = dir.join("site");
    if Command::new("python3")
        .args(["-c", "import ops"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return None;
    }
    if site.join(".complete").exists() {
        return Some(site);
    }
    let _ = std::fs::remove_dir_all(&site);
    std::fs::create_dir_all(&site).unwrap();
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&site)
        .arg("ops")
        .output()
        .expect("python3 must be installed to run the ops charm test");
    assert!(
        out.status.success(),
        "could not install the `ops` package from PyPI with pip (is PyPI reachable?): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(site.join(".complete"), "").unwrap();
    Some(site)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

#[test]
fn ops_charm_exchanges_data_with_rust_charm() {
    let site = python_with_ops();
    let e = env();
    // Pack the ops charm: source + dependencies in venv/.
    let ops_dir = e.dir.path().join("ops-pinger");
    copy_tree(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ops-charm"),
        &ops_dir,
    );
    if let Some(site) = site {
        std::os::unix::fs::symlink(site, ops_dir.join("venv")).unwrap();
    }
    let rust_dir = charm(
        e.dir.path(),
        "rust-ponger",
        "provides:\n  ping:\n    interface: ping\n",
        "",
        "",
        &format!("exec {}", env!("CARGO_BIN_EXE_jujusim-test-charm")),
    );
    e.ctl.add_model("m").unwrap();
    let mut a = jujusim::DeployArgs::new(&ops_dir);
    a.config = kv(&[("greeting", "ciao")]);
    a.units = 2;
    e.ctl.deploy("m", a).unwrap();
    deploy(&e, "m", &rust_dir, "rust-ponger", 1);
    e.ctl.run_until_idle().unwrap();
    let failures: Vec<_> = e
        .ctl
        .hook_log()
        .into_iter()
        .filter(|h| h.exit_code != 0)
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    let st = e.ctl.status("m").unwrap();
    let ws = &st.applications["ops-pinger"].units["ops-pinger/0"].workload_status;
    assert_eq!(
        (ws.current.as_str(), ws.message.as_str()),
        ("waiting", "ciao: waiting for pong")
    );

    let id = e.ctl.integrate("m", "ops-pinger", "rust-ponger").unwrap();
    e.ctl.run_until_idle().unwrap();
    let failures: Vec<_> = e
        .ctl
        .hook_log()
        .into_iter()
        .filter(|h| h.exit_code != 0)
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    let st = e.ctl.status("m").unwrap();
    for u in ["ops-pinger/0", "ops-pinger/1"] {
        let ws = &st.applications["ops-pinger"].units[u].workload_status;
        assert_eq!(
            (ws.current.as_str(), ws.message.as_str()),
            ("active", "got pong:ciao"),
            "{u}"
        );
    }
    assert_eq!(
        st.applications["ops-pinger"].application_status.message,
        "exchanged"
    );
    assert_eq!(
        st.applications["rust-ponger"].units["rust-ponger/0"]
            .workload_status
            .message,
        "rust charm ready"
    );
    let (apps, units) = e.ctl.relation_data("m", id).unwrap();
    assert_eq!(apps["ops-pinger"]["request"], "ciao");
    assert_eq!(apps["rust-ponger"]["reply"], "pong:ciao");
    assert_eq!(units["ops-pinger/1"]["unit-greeting"], "ciao");
    // ops logs through juju-log.
    let log = e.ctl.debug_log("m").unwrap();
    assert!(
        log.iter().any(|l| l.module == "unit.ops-pinger/0.juju-log"
            && l.message.contains("asked rust-ponger for a pong")),
        "{log:#?}"
    );
    assert!(log.iter().any(|l| l.module == "unit.rust-ponger/0.juju-log"
        && l.message.contains("rust charm: ping-relation-changed")));
}
