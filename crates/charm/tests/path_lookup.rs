//! The real tools are found on PATH, where Juju puts them. This is its own test binary (its own
//! process) because it changes PATH.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use charm::{HookTools, ProcessHookTools};

#[test]
fn tools_are_found_on_path() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("is-leader");
    fs::write(&tool, "#!/bin/sh\necho false\n").unwrap();
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    let old = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{}:{old}", dir.path().display()));
    assert!(!ProcessHookTools::new().is_leader().unwrap());
}
