//! A tiny charm written in Rust for jujusim's tests (the "Rust charm" side of the ops test).
//! It provides `ping`: when the remote application writes `request`, the leader answers
//! `reply=pong:<request>` in its application bag. Every hook ends with `status-set active`.

use std::process::Command;

fn tool(name: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(name)
        .args(args)
        .output()
        .map_err(|e| format!("{name}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{name} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run() -> Result<(), String> {
    let dispatch = std::env::var("JUJU_DISPATCH_PATH").map_err(|e| e.to_string())?;
    let hook = dispatch.trim_start_matches("hooks/").to_string();
    tool(
        "juju-log",
        &["--log-level", "INFO", "--", &format!("rust charm: {hook}")],
    )?;
    if hook.ends_with("-relation-changed") {
        let leader: bool = serde_json::from_str(&tool("is-leader", &["--format=json"])?)
            .map_err(|e| e.to_string())?;
        let remote_app = std::env::var("JUJU_REMOTE_APP").unwrap_or_default();
        let data: serde_json::Value = serde_json::from_str(&tool(
            "relation-get",
            &["--format=json", "--app", "-", &remote_app],
        )?)
        .map_err(|e| e.to_string())?;
        if let (true, Some(req)) = (leader, data.get("request").and_then(|v| v.as_str())) {
            tool("relation-set", &["--app", &format!("reply=pong:{req}")])?;
        }
    }
    tool("status-set", &["active", "rust charm ready"])?;
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
