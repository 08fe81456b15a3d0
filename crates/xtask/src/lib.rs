//! Packs the istio-beacon-k8s charm into a `.charm` zip the way `charmcraft pack` lays it out,
//! because charmcraft (which needs LXD or Multipass) cannot run here. `charmcraft.yaml` at the
//! repository root describes the same package for charmcraft itself.
//!
//! Layout of the zip: `dispatch` (the charm binary, mode 0755), `metadata.yaml`, `config.yaml`,
//! `actions.yaml` when the charm has one, and `manifest.yaml` (the bases Juju checks before it
//! deploys). No `hooks/` links: Juju (>= 2.8) runs `dispatch` for every hook and action.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Name of the charm binary in the root package, and of the charm.
pub const CHARM_NAME: &str = "istio-beacon-k8s";
/// Ubuntu release of the charm container the binary must run in.
pub const BASE_CHANNEL: &str = "24.04";
pub const ARCHITECTURE: &str = "amd64";
/// The newest glibc the binary may need: 2.35 (Ubuntu 22.04), so it runs on the 24.04 charm base
/// (glibc 2.39) and on older Juju sidecar images alike.
pub const MAX_GLIBC: (u32, u32) = (2, 35);
/// Files copied unchanged from the repository root, and whether each must exist.
const ROOT_FILES: &[(&str, bool)] = &[
    ("metadata.yaml", true),
    ("config.yaml", false),
    ("actions.yaml", false),
];

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid YAML: {message}")]
    Yaml { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Metadata { path: PathBuf, message: String },
    #[error("`{command}` failed ({status})")]
    Build { command: String, status: String },
    #[error("{path} is not an x86-64 ELF executable")]
    NotElf { path: PathBuf },
    #[error(
        "{path} needs glibc {}.{}, newer than the {}.{} the charm must run with; build it on \
         an older glibc or as a static binary (see docs/beacon.md)",
        needed.0, needed.1, MAX_GLIBC.0, MAX_GLIBC.1
    )]
    GlibcTooNew { path: PathBuf, needed: (u32, u32) },
    #[error("zip {path}: {message}")]
    Zip { path: PathBuf, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PackError + '_ {
    move |source| PackError::Io {
        path: path.to_owned(),
        source,
    }
}

fn zip_err(path: &Path) -> impl FnOnce(zip::result::ZipError) -> PackError + '_ {
    move |e| PackError::Zip {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// The repository root (this crate lives in `crates/xtask`).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

/// Builds the charm binary with cargo and returns its path under `target/`.
pub fn build_binary(root: &Path, release: bool) -> Result<PathBuf, PackError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(root)
        .args(["build", "--locked", "-p", CHARM_NAME, "--bin", CHARM_NAME]);
    if release {
        cmd.arg("--release");
    }
    let command = format!("{cmd:?}");
    let status = cmd.status().map_err(io_err(Path::new("cargo")))?;
    if !status.success() {
        return Err(PackError::Build {
            command,
            status: status.to_string(),
        });
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target_dir
        .join(if release { "release" } else { "debug" })
        .join(CHARM_NAME))
}

/// The `manifest.yaml` charmcraft writes: the bases Juju matches against the model's.
pub fn manifest_yaml() -> String {
    format!(
        "# Written by `cargo xtask pack` in place of charmcraft.\n\
         charmcraft-version: xtask-{version}\n\
         analysis:\n  attributes:\n  - name: language\n    result: unknown\n  - name: framework\n    result: unknown\n\
         bases:\n- name: ubuntu\n  channel: '{BASE_CHANNEL}'\n  architectures:\n  - {ARCHITECTURE}\n",
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// The highest `GLIBC_x.y` symbol version the ELF file needs, `None` when it needs none (a static
/// binary). The version names a dynamically linked binary requires sit as strings in its
/// `.dynstr` section, which is what this scans for.
pub fn glibc_requirement(bytes: &[u8]) -> Option<(u32, u32)> {
    const TAG: &[u8] = b"GLIBC_";
    let mut best: Option<(u32, u32)> = None;
    let mut i = 0;
    while let Some(pos) = find(&bytes[i..], TAG) {
        let start = i + pos + TAG.len();
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
            end += 1;
        }
        if let Ok(text) = std::str::from_utf8(&bytes[start..end]) {
            let mut parts = text.split('.').map(str::parse::<u32>);
            if let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) {
                best = best.max(Some((major, minor)));
            }
        }
        i = end.max(start);
    }
    best
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether the bytes are an x86-64 ELF executable (or PIE).
pub fn is_x86_64_elf(bytes: &[u8]) -> bool {
    const EM_X86_64: u16 = 62;
    const ET_EXEC: u16 = 2;
    const ET_DYN: u16 = 3;
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return false;
    }
    let e_type = u16::from_le_bytes([bytes[16], bytes[17]]);
    let e_machine = u16::from_le_bytes([bytes[18], bytes[19]]);
    e_machine == EM_X86_64 && (e_type == ET_EXEC || e_type == ET_DYN)
}

fn check_yaml(path: &Path, text: &str) -> Result<serde_yaml::Value, PackError> {
    serde_yaml::from_str(text).map_err(|e| PackError::Yaml {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Writes the `.charm` zip at `out` from the charm files in `root` and the binary at `binary`.
/// Checks before writing anything: the metadata names this charm, every YAML file parses, the
/// binary is an x86-64 ELF that needs no glibc newer than [`MAX_GLIBC`].
pub fn write_charm(root: &Path, binary: &Path, out: &Path) -> Result<(), PackError> {
    let mut files: Vec<(String, Vec<u8>, u32)> = Vec::new();
    for (name, required) in ROOT_FILES {
        let path = root.join(name);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let doc = check_yaml(&path, &text)?;
                if *name == "metadata.yaml"
                    && doc.get("name").and_then(serde_yaml::Value::as_str) != Some(CHARM_NAME)
                {
                    return Err(PackError::Metadata {
                        path,
                        message: format!("`name` must be {CHARM_NAME}"),
                    });
                }
                files.push(((*name).to_owned(), text.into_bytes(), 0o644));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    files.push((
        "manifest.yaml".to_owned(),
        manifest_yaml().into_bytes(),
        0o644,
    ));

    let bin = fs::read(binary).map_err(io_err(binary))?;
    if !is_x86_64_elf(&bin) {
        return Err(PackError::NotElf {
            path: binary.to_owned(),
        });
    }
    if let Some(needed) = glibc_requirement(&bin) {
        if needed > MAX_GLIBC {
            return Err(PackError::GlibcTooNew {
                path: binary.to_owned(),
                needed,
            });
        }
    }
    files.push(("dispatch".to_owned(), bin, 0o755));

    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    // Write next to the target and rename, so a failed pack never leaves a half-written charm.
    let partial = out.with_extension("charm.partial");
    let file = fs::File::create(&partial).map_err(io_err(&partial))?;
    let mut zip = zip::ZipWriter::new(file);
    for (name, bytes, mode) in &files {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(*mode);
        zip.start_file(name.as_str(), options)
            .map_err(zip_err(&partial))?;
        zip.write_all(bytes).map_err(io_err(&partial))?;
    }
    zip.finish().map_err(zip_err(&partial))?;
    fs::rename(&partial, out).map_err(io_err(out))?;
    Ok(())
}

/// Builds the binary (release or debug) and packs `<root>/istio-beacon-k8s.charm` (or `out`).
pub fn pack(root: &Path, release: bool, out: Option<&Path>) -> Result<PathBuf, PackError> {
    let binary = build_binary(root, release)?;
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join(format!("{CHARM_NAME}.charm")));
    write_charm(root, &binary, &out)?;
    Ok(out)
}

/// One entry of a packed charm.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub unix_mode: Option<u32>,
    pub bytes: Vec<u8>,
}

/// Reads every entry of a `.charm` zip.
pub fn read_charm(charm: &Path) -> Result<Vec<Entry>, PackError> {
    let file = fs::File::open(charm).map_err(io_err(charm))?;
    let mut archive = zip::ZipArchive::new(file).map_err(zip_err(charm))?;
    let mut entries = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).map_err(zip_err(charm))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).map_err(io_err(charm))?;
        entries.push(Entry {
            name: f.name().to_owned(),
            unix_mode: f.unix_mode(),
            bytes,
        });
    }
    Ok(entries)
}

/// Unpacks a `.charm` into `dir`, keeping the file modes (as Juju does when it unpacks a charm).
pub fn unpack(charm: &Path, dir: &Path) -> Result<BTreeSet<String>, PackError> {
    let file = fs::File::open(charm).map_err(io_err(charm))?;
    let mut archive = zip::ZipArchive::new(file).map_err(zip_err(charm))?;
    archive.extract(dir).map_err(zip_err(charm))?;
    Ok(archive.file_names().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_requirement_is_the_highest_version_named() {
        let bytes = b"\0GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_PRIVATE\0GLIBC_2.17\0";
        assert_eq!(glibc_requirement(bytes), Some((2, 34)));
        assert_eq!(glibc_requirement(b"static binary"), None);
    }

    #[test]
    fn elf_check_refuses_scripts() {
        assert!(!is_x86_64_elf(b"#!/bin/sh\necho hi\n"));
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(b"\x7fELF");
        header[4] = 2;
        header[5] = 1;
        header[16] = 3;
        header[18] = 62;
        assert!(is_x86_64_elf(&header));
        header[18] = 183; // aarch64
        assert!(!is_x86_64_elf(&header));
    }

    #[test]
    fn manifest_names_the_base() {
        let m: serde_yaml::Value = match serde_yaml::from_str(&manifest_yaml()) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(m["bases"][0]["name"].as_str(), Some("ubuntu"));
        assert_eq!(m["bases"][0]["channel"].as_str(), Some("24.04"));
        assert_eq!(m["bases"][0]["architectures"][0].as_str(), Some("amd64"));
    }
}
