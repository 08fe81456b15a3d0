//! Drives the real `kubectl` (1.32, part of the machine image) against kubesim.

use kubesim::{Config, Server, ISTIO_AUTHORIZATION_POLICY_CRD};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn find_kubectl() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KUBECTL").map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    let default = PathBuf::from("/usr/bin/kubectl");
    if default.is_file() {
        return Some(default);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("kubectl"))
            .find(|p| p.is_file())
    })
}

struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    home: PathBuf,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Kubectl {
    fn run(&self, args: &[&str], stdin_file: Option<&Path>) -> Out {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.home.join("cache"))
            .args(args)
            .env("HOME", &self.home)
            .env_remove("KUBECONFIG");
        if let Some(f) = stdin_file {
            cmd.arg("-f").arg(f);
        }
        let out = cmd.output().expect("run kubectl");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args, None);
        assert_eq!(
            o.code, 0,
            "kubectl {args:?} failed: {}{}",
            o.stdout, o.stderr
        );
        o.stdout
    }
}

const VALID: &str = "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-a
  namespace: demo
spec:
  action: ALLOW
  rules:
  - from:
    - source:
        principals: [\"cluster.local/ns/demo/sa/a\"]
";

#[test]
fn real_kubectl_round_trip() {
    let Some(bin) = find_kubectl() else {
        eprintln!("SKIPPED real_kubectl_round_trip: no kubectl binary found (looked at $KUBECTL, /usr/bin/kubectl and $PATH); this test needs the real kubectl 1.32");
        return;
    };
    let server = Server::start(Config {
        crd_yaml: vec![ISTIO_AUTHORIZATION_POLICY_CRD.to_string()],
        ..Default::default()
    })
    .expect("start kubesim");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig(None)).expect("write kubeconfig");
    let k = Kubectl {
        bin,
        kubeconfig,
        home: dir.path().to_path_buf(),
    };

    assert_eq!(
        k.ok(&["create", "namespace", "demo"]).trim(),
        "namespace/demo created"
    );

    let valid = dir.path().join("valid.yaml");
    std::fs::write(&valid, VALID).expect("write");
    let o = k.run(&["apply", "--server-side"], Some(&valid));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout.trim(),
        "authorizationpolicy.security.istio.io/allow-a serverside-applied"
    );

    let got: Value = serde_json::from_str(&k.ok(&[
        "get",
        "authorizationpolicy",
        "allow-a",
        "-n",
        "demo",
        "-o",
        "json",
    ]))
    .expect("json");
    assert_eq!(got["spec"]["action"], "ALLOW");
    assert_eq!(
        got["spec"]["rules"][0]["from"][0]["source"]["principals"][0],
        "cluster.local/ns/demo/sa/a"
    );
    // The object is really in the store, owned by kubectl's apply.
    let stored = server
        .store()
        .get(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            Some("demo"),
            "allow-a",
        )
        .expect("stored");
    assert_eq!(stored["metadata"]["managedFields"][0]["manager"], "kubectl");

    // Invalid enum value: refused, naming the field; the stored object is unchanged.
    let invalid = dir.path().join("invalid.yaml");
    std::fs::write(&invalid, VALID.replace("action: ALLOW", "action: ALLOWW")).expect("write");
    let o = k.run(&["apply", "--server-side"], Some(&invalid));
    assert_ne!(o.code, 0);
    assert!(
        o.stderr
            .contains("spec.action: Unsupported value: \"ALLOWW\""),
        "stderr: {}",
        o.stderr
    );
    assert!(o.stderr.contains("is invalid"), "stderr: {}", o.stderr);
    let got: Value =
        serde_json::from_str(&k.ok(&["get", "ap", "allow-a", "-n", "demo", "-o", "json"]))
            .expect("json");
    assert_eq!(got["spec"]["action"], "ALLOW");

    // Unknown fields: kubectl asks for strict validation, so they are refused.
    let unknown = dir.path().join("unknown.yaml");
    std::fs::write(&unknown, format!("{VALID}  bogus: 1\n")).expect("write");
    let o = k.run(&["apply", "--server-side"], Some(&unknown));
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains("unknown field \"spec.bogus\""),
        "stderr: {}",
        o.stderr
    );

    // Labels and selection.
    assert_eq!(
        k.ok(&["label", "namespace", "demo", "team=blue"]).trim(),
        "namespace/demo labeled"
    );
    assert_eq!(
        k.ok(&["get", "namespaces", "-l", "team=blue", "-o", "name"])
            .trim(),
        "namespace/demo"
    );
    assert_eq!(
        k.ok(&["get", "ns", "-l", "team!=blue", "-o", "name"])
            .lines()
            .count(),
        4
    );

    // Output formats.
    assert_eq!(
        k.ok(&["get", "ap", "-n", "demo", "-o", "name"]).trim(),
        "authorizationpolicy.security.istio.io/allow-a"
    );
    let yaml = k.ok(&["get", "ap", "allow-a", "-n", "demo", "-o", "yaml"]);
    assert!(yaml.contains("action: ALLOW"), "{yaml}");
    assert!(yaml.contains("kind: AuthorizationPolicy"), "{yaml}");
    let table = k.ok(&["get", "ap", "-n", "demo"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "ACTION", "AGE"], "{table}");
    assert!(
        table.lines().nth(1).unwrap_or("").starts_with("allow-a"),
        "{table}"
    );
    let all = k.ok(&["get", "ap", "-A"]);
    let header: Vec<&str> = all
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAMESPACE", "NAME", "ACTION", "AGE"], "{all}");
    assert!(
        all.lines().nth(1).unwrap_or("").starts_with("demo"),
        "{all}"
    );
    let ns_table = k.ok(&["get", "ns", "demo"]);
    assert!(
        ns_table.lines().nth(1).unwrap_or("").contains("Active"),
        "{ns_table}"
    );

    // Annotate.
    assert_eq!(
        k.ok(&["annotate", "ap", "allow-a", "-n", "demo", "note=hello"])
            .trim(),
        "authorizationpolicy.security.istio.io/allow-a annotated"
    );
    let got: Value =
        serde_json::from_str(&k.ok(&["get", "ap", "allow-a", "-n", "demo", "-o", "json"]))
            .expect("json");
    assert_eq!(got["metadata"]["annotations"]["note"], "hello");

    // Delete.
    assert_eq!(
        k.ok(&["delete", "ap", "allow-a", "-n", "demo"]).trim(),
        "authorizationpolicy.security.istio.io \"allow-a\" deleted"
    );
    let o = k.run(&["get", "ap", "allow-a", "-n", "demo"], None);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("Error from server (NotFound): authorizationpolicies.security.istio.io \"allow-a\" not found"),
        "{}",
        o.stderr
    );
}
