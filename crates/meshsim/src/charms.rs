//! Finding the charm behind `juju deploy NAME|PATH`.
//!
//! - A PATH (anything containing `/`, ending in `.charm`, or an existing directory) is deployed
//!   as it is: a charm directory or a packed `.charm` file, Rust or Python.
//! - `istio-beacon-k8s` is this repository's charm: `metadata.yaml`/`config.yaml` at the
//!   repository root and the binary `istio-beacon-k8s`.
//! - Any other NAME is looked up as `examples/<NAME>/` (its metadata) with the binary `<NAME>`.
//!
//! Binaries are searched in `$MESHSIM_CHARM_PATH` (colon-separated directories) and then next to
//! meshsim's own executable (`target/debug` or `target/release`). The repository root is
//! `$MESHSIM_REPO` if set, else the checkout meshsim was built from.

use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CharmError {
    #[error("charm \"{0}\" not found: it is neither a path nor this repository's charm nor one of examples/ ({1})")]
    Unknown(String, String),
    #[error("charm \"{name}\": binary \"{binary}\" not found in MESHSIM_CHARM_PATH or next to meshsim ({searched}); build the workspace binaries first: cargo build --workspace --bins")]
    NoBinary {
        name: String,
        binary: String,
        searched: String,
    },
    #[error("charm \"{0}\": {1}")]
    Io(String, std::io::Error),
}

/// The repository root meshsim works from.
pub fn repo_root() -> PathBuf {
    if let Some(p) = std::env::var_os("MESHSIM_REPO") {
        return PathBuf::from(p);
    }
    // crates/meshsim -> repository root, as built.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn binary_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(p) = std::env::var_os("MESHSIM_CHARM_PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(dir.clone());
        // Test binaries live in target/<profile>/deps.
        if dir.ends_with("deps") {
            if let Some(parent) = dir.parent() {
                dirs.push(parent.to_path_buf());
            }
        }
    }
    dirs
}

/// Finds an executable named `name` in the binary directories.
pub fn find_binary(name: &str) -> Result<PathBuf, String> {
    let dirs = binary_dirs();
    for d in &dirs {
        let p = d.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":"))
}

/// Is the deploy argument a path rather than a charm name?
pub fn is_path(arg: &str) -> bool {
    arg.contains('/') || arg.ends_with(".charm") || Path::new(arg).is_dir()
}

/// Returns a deployable charm directory or `.charm` file for `arg`, assembling one under
/// `work/charms/<name>` for named charms (metadata copied, `dispatch` linked to the binary).
pub fn resolve(arg: &str, work: &Path) -> Result<PathBuf, CharmError> {
    if is_path(arg) {
        let p = PathBuf::from(arg);
        return if p.exists() {
            // Absolute, since hooks do not run in meshsim's working directory.
            p.canonicalize()
                .map_err(|e| CharmError::Io(arg.to_string(), e))
        } else {
            Err(CharmError::Unknown(
                arg.to_string(),
                "no such file or directory".into(),
            ))
        };
    }
    let root = repo_root();
    let meta_dir = if arg == "istio-beacon-k8s" {
        root.clone()
    } else {
        root.join("examples").join(arg)
    };
    if !meta_dir.join("metadata.yaml").is_file() && !meta_dir.join("charmcraft.yaml").is_file() {
        return Err(CharmError::Unknown(
            arg.to_string(),
            format!("looked in {}", meta_dir.display()),
        ));
    }
    let binary = find_binary(arg).map_err(|searched| CharmError::NoBinary {
        name: arg.to_string(),
        binary: arg.to_string(),
        searched,
    })?;
    let dest = work.join("charms").join(arg);
    let io = |e| CharmError::Io(arg.to_string(), e);
    std::fs::create_dir_all(&dest).map_err(io)?;
    let has_meta = meta_dir.join("metadata.yaml").is_file();
    for f in [
        "metadata.yaml",
        "config.yaml",
        "actions.yaml",
        "charmcraft.yaml",
    ] {
        if f == "charmcraft.yaml" && has_meta {
            continue;
        }
        let src = meta_dir.join(f);
        if src.is_file() {
            std::fs::copy(&src, dest.join(f)).map_err(io)?;
        }
    }
    let dispatch = dest.join("dispatch");
    let _ = std::fs::remove_file(&dispatch);
    std::os::unix::fs::symlink(&binary, &dispatch).map_err(io)?;
    Ok(dest)
}
