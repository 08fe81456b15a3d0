//! The `kubesim serve` binary.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the server even when an assertion fails.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_prints_url_writes_kubeconfig_and_installs_crds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let crd = dir.path().join("gateway.yaml");
    std::fs::write(&crd, kubesim::GATEWAY_CRD).expect("write crd");
    let kubeconfig = dir.path().join("kubeconfig");
    let child = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["serve", "--listen", "127.0.0.1:0", "--crd"])
        .arg(&crd)
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kubesim");
    let mut child = KillOnDrop(child);
    let mut line = String::new();
    let stdout = child.0.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read url");
    let url = line.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "printed {url:?}");
    let kc = std::fs::read_to_string(&kubeconfig).expect("kubeconfig written");
    assert!(kc.contains(&format!("server: {url}")), "{kc}");
    let client =
        kube::Client::try_from(kube::Config::new(url.parse().expect("uri"))).expect("client");
    let req = |p: &str| {
        axum::http::Request::builder()
            .uri(p)
            .body(Vec::new())
            .expect("req")
    };
    let gw: serde_json::Value = serde_json::from_str(
        &client
            .request_text(req("/apis/gateway.networking.k8s.io/v1"))
            .await
            .expect("gateway group served"),
    )
    .expect("json");
    assert!(gw["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .any(|r| r["kind"] == "Gateway"));
    // Only the CRD given with --crd is installed.
    let e = client
        .request_text(req("/apis/security.istio.io/v1"))
        .await
        .expect_err("not installed");
    assert!(matches!(e, kube::Error::Api(s) if s.code == 404));
}

#[test]
fn serve_refuses_a_missing_crd_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["serve", "--crd", "/nonexistent/crd.yaml"])
        .output()
        .expect("run kubesim");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read CRD file /nonexistent/crd.yaml"),
        "{stderr}"
    );
}
