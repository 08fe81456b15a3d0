//! Charm metadata (`metadata.yaml` / `charmcraft.yaml`, `config.yaml`, `actions.yaml`)
//! and materialising a charm (directory or `.charm` zip) into a unit's charm dir.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_yaml::Value as Yaml;

use crate::{Error, Result};

/// Relation role of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Provider,
    Requirer,
    Peer,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Provider => "provider",
            Role::Requirer => "requirer",
            Role::Peer => "peer",
        }
    }
    /// Whether an endpoint of this role can relate to one of `other`.
    pub fn can_relate_to(&self, other: Role) -> bool {
        matches!(
            (self, other),
            (Role::Provider, Role::Requirer) | (Role::Requirer, Role::Provider)
        )
    }
}

/// One endpoint declared by a charm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointSpec {
    pub name: String,
    pub role: Role,
    pub interface: String,
    /// Only an explicit `limit:` key is enforced (see docs/jujusim.md).
    pub limit: Option<u32>,
    pub scope: String,
}

/// One option of the charm's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigOption {
    /// `string`, `int`, `float`, `boolean` or `secret`.
    #[serde(rename = "type")]
    pub kind: String,
    pub default: Option<serde_json::Value>,
    pub description: String,
}

/// One action of the charm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionSpec {
    pub description: String,
    /// JSON-schema-ish `params` (defaults are applied when the caller omits a key).
    pub params: serde_json::Value,
}

/// What jujusim needs to know about a charm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CharmMeta {
    pub name: String,
    pub endpoints: Vec<EndpointSpec>,
    pub extra_bindings: Vec<String>,
    pub config: BTreeMap<String, ConfigOption>,
    pub actions: BTreeMap<String, ActionSpec>,
    /// Workload containers (`containers:`), name to image: the OCI resource's
    /// `upstream-source`, else the resource name. Each runs next to the `charm` container.
    #[serde(default)]
    pub containers: BTreeMap<String, String>,
}

impl CharmMeta {
    pub fn endpoint(&self, name: &str) -> Option<&EndpointSpec> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    /// Reads the metadata of an unpacked charm directory.
    pub fn load(dir: &Path) -> Result<CharmMeta> {
        let err = |message: String| Error::Charm {
            path: dir.to_path_buf(),
            message,
        };
        let read_yaml = |name: &str| -> Result<Option<Yaml>> {
            let p = dir.join(name);
            if !p.exists() {
                return Ok(None);
            }
            let text = fs::read_to_string(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
            serde_yaml::from_str(&text)
                .map(Some)
                .map_err(|e| err(format!("{name}: {e}")))
        };
        let charmcraft = read_yaml("charmcraft.yaml")?;
        let meta = match read_yaml("metadata.yaml")? {
            Some(m) => m,
            None => charmcraft
                .clone()
                .ok_or_else(|| err("no metadata.yaml or charmcraft.yaml".into()))?,
        };
        let name = meta
            .get("name")
            .and_then(Yaml::as_str)
            .ok_or_else(|| err("metadata has no name".into()))?
            .to_string();
        let mut endpoints = Vec::new();
        for (key, role) in [
            ("provides", Role::Provider),
            ("requires", Role::Requirer),
            ("peers", Role::Peer),
        ] {
            let Some(map) = meta.get(key).and_then(Yaml::as_mapping) else {
                continue;
            };
            for (ep, spec) in map {
                let ep = ep
                    .as_str()
                    .ok_or_else(|| err(format!("{key}: endpoint name is not a string")))?;
                let (interface, limit, scope) = match spec {
                    Yaml::String(s) => (s.clone(), None, "global".to_string()),
                    Yaml::Mapping(_) => (
                        spec.get("interface")
                            .and_then(Yaml::as_str)
                            .ok_or_else(|| err(format!("{key}.{ep}: no interface")))?
                            .to_string(),
                        spec.get("limit").and_then(Yaml::as_u64).map(|l| l as u32),
                        spec.get("scope")
                            .and_then(Yaml::as_str)
                            .unwrap_or("global")
                            .to_string(),
                    ),
                    _ => return Err(err(format!("{key}.{ep}: bad endpoint spec"))),
                };
                endpoints.push(EndpointSpec {
                    name: ep.to_string(),
                    role,
                    interface,
                    limit,
                    scope,
                });
            }
        }
        let extra_bindings = meta
            .get("extra-bindings")
            .and_then(Yaml::as_mapping)
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();

        let config_doc = match read_yaml("config.yaml")? {
            Some(c) => Some(c),
            None => charmcraft.as_ref().and_then(|c| c.get("config").cloned()),
        };
        let mut config = BTreeMap::new();
        if let Some(opts) = config_doc
            .as_ref()
            .and_then(|c| c.get("options"))
            .and_then(Yaml::as_mapping)
        {
            for (k, v) in opts {
                let Some(k) = k.as_str() else { continue };
                let kind = v
                    .get("type")
                    .and_then(Yaml::as_str)
                    .unwrap_or("string")
                    .to_string();
                let default = match v.get("default") {
                    None | Some(Yaml::Null) => None,
                    Some(d) => Some(
                        serde_json::to_value(d)
                            .map_err(|e| err(format!("config {k}: default: {e}")))?,
                    ),
                };
                let description = v
                    .get("description")
                    .and_then(Yaml::as_str)
                    .unwrap_or("")
                    .to_string();
                config.insert(
                    k.to_string(),
                    ConfigOption {
                        kind,
                        default,
                        description,
                    },
                );
            }
        }

        let actions_doc = match read_yaml("actions.yaml")? {
            Some(a) => Some(a),
            None => charmcraft.as_ref().and_then(|c| c.get("actions").cloned()),
        };
        let mut actions = BTreeMap::new();
        if let Some(map) = actions_doc.as_ref().and_then(Yaml::as_mapping) {
            for (k, v) in map {
                let Some(k) = k.as_str() else { continue };
                let description = v
                    .get("description")
                    .and_then(Yaml::as_str)
                    .unwrap_or("")
                    .to_string();
                let params = match v.get("params") {
                    Some(p) => serde_json::to_value(p)
                        .map_err(|e| err(format!("action {k}: params: {e}")))?,
                    None => serde_json::json!({}),
                };
                actions.insert(
                    k.to_string(),
                    ActionSpec {
                        description,
                        params,
                    },
                );
            }
        }
        let mut containers = BTreeMap::new();
        if let Some(map) = meta.get("containers").and_then(Yaml::as_mapping) {
            for (k, v) in map {
                let Some(k) = k.as_str() else { continue };
                let resource = v.get("resource").and_then(Yaml::as_str);
                let image = resource
                    .and_then(|r| meta.get("resources")?.get(r)?.get("upstream-source"))
                    .and_then(Yaml::as_str)
                    .or(resource)
                    .unwrap_or(k)
                    .to_string();
                containers.insert(k.to_string(), image);
            }
        }
        Ok(CharmMeta {
            name,
            endpoints,
            extra_bindings,
            config,
            actions,
            containers,
        })
    }
}

/// Copies (directory) or unpacks (`.charm` zip) a charm into `dest`, which is replaced.
/// Each unit gets its own copy, as on a real unit (ops keeps `.unit-state.db` there).
pub fn materialise(src: &Path, dest: &Path) -> Result<()> {
    if dest.exists() {
        fs::remove_dir_all(dest).map_err(|e| Error::io(dest.display().to_string(), e))?;
    }
    fs::create_dir_all(dest).map_err(|e| Error::io(dest.display().to_string(), e))?;
    if src.is_dir() {
        copy_dir(src, dest)
    } else {
        unzip(src, dest)
    }
}

fn copy_dir(src: &Path, dest: &Path) -> Result<()> {
    let ioe = |p: &Path, e| Error::io(p.display().to_string(), e);
    for entry in fs::read_dir(src).map_err(|e| ioe(src, e))? {
        let entry = entry.map_err(|e| ioe(src, e))?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let ft = entry.file_type().map_err(|e| ioe(&from, e))?;
        if ft.is_symlink() {
            // Keep links working from the new location: point at the absolute target.
            let target = fs::read_link(&from).map_err(|e| ioe(&from, e))?;
            let target = if target.is_absolute() {
                target
            } else {
                src.join(target)
            };
            std::os::unix::fs::symlink(&target, &to).map_err(|e| ioe(&to, e))?;
        } else if ft.is_dir() {
            // Build trees and VCS metadata are not part of a packed charm.
            let name = entry.file_name();
            if name == ".git" || name == "target" {
                continue;
            }
            fs::create_dir_all(&to).map_err(|e| ioe(&to, e))?;
            copy_dir(&from, &to)?;
        } else {
            fs::copy(&from, &to).map_err(|e| ioe(&from, e))?;
        }
    }
    Ok(())
}

fn unzip(src: &Path, dest: &Path) -> Result<()> {
    let bad = |message: String| Error::Charm {
        path: src.to_path_buf(),
        message,
    };
    let file = fs::File::open(src).map_err(|e| Error::io(src.display().to_string(), e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        let Some(rel) = entry.enclosed_name() else {
            return Err(bad(format!("unsafe path in archive: {}", entry.name())));
        };
        let out: PathBuf = dest.join(rel);
        if entry.is_dir() {
            fs::create_dir_all(&out).map_err(|e| Error::io(out.display().to_string(), e))?;
            continue;
        }
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent.display().to_string(), e))?;
        }
        let mut f = fs::File::create(&out).map_err(|e| Error::io(out.display().to_string(), e))?;
        std::io::copy(&mut entry, &mut f).map_err(|e| Error::io(out.display().to_string(), e))?;
        if let Some(mode) = entry.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&out, fs::Permissions::from_mode(mode & 0o7777))
                .map_err(|e| Error::io(out.display().to_string(), e))?;
        }
    }
    Ok(())
}

/// Reads the charm metadata from a source (dir or zip) by materialising it into `scratch`.
pub fn inspect(src: &Path, scratch: &Path) -> Result<CharmMeta> {
    if src.is_dir() {
        return CharmMeta::load(src);
    }
    if !src.exists() {
        return Err(Error::NotFound(format!(
            "charm or bundle at \"{}\" not found",
            src.display()
        )));
    }
    materialise(src, scratch)?;
    CharmMeta::load(scratch)
}

/// Checks and converts a user-supplied config value to the option's type, as `juju config` does.
pub fn parse_config_value(key: &str, opt: &ConfigOption, raw: &str) -> Result<serde_json::Value> {
    use serde_json::Value;
    let bad = |t: &str| Error::juju(format!("option \"{key}\" expected {t}, got \"{raw}\""));
    Ok(match opt.kind.as_str() {
        "int" => Value::from(raw.trim().parse::<i64>().map_err(|_| bad("int"))?),
        "float" => {
            let f = raw.trim().parse::<f64>().map_err(|_| bad("float"))?;
            serde_json::Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| bad("float"))?
        }
        "boolean" => Value::Bool(parse_go_bool(raw.trim()).ok_or_else(|| bad("boolean"))?),
        _ => Value::String(raw.to_string()),
    })
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charmcraft_yaml_alone_gives_metadata_config_and_actions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("charmcraft.yaml"),
            "name: beacon\ntype: charm\nprovides:\n  service-mesh:\n    interface: service_mesh\n    limit: 3\nrequires:\n  metrics: prometheus_scrape\npeers:\n  peers:\n    interface: beacon_peers\nconfig:\n  options:\n    model-on-mesh:\n      type: boolean\n      default: false\nactions:\n  show:\n    description: show things\n    params:\n      verbose:\n        type: boolean\n        default: true\n",
        )
        .unwrap();
        let m = CharmMeta::load(dir.path()).unwrap();
        assert_eq!(m.name, "beacon");
        let sm = m.endpoint("service-mesh").unwrap();
        assert_eq!(
            (sm.role, sm.interface.as_str(), sm.limit),
            (Role::Provider, "service_mesh", Some(3))
        );
        assert_eq!(
            m.endpoint("metrics").unwrap().interface,
            "prometheus_scrape"
        );
        assert_eq!(m.endpoint("peers").unwrap().role, Role::Peer);
        assert_eq!(
            m.config["model-on-mesh"].default,
            Some(serde_json::json!(false))
        );
        assert_eq!(
            m.actions["show"].params["verbose"]["default"],
            serde_json::json!(true)
        );
        assert_eq!(
            parse_config_value("model-on-mesh", &m.config["model-on-mesh"], "yes")
                .unwrap_err()
                .to_string(),
            "option \"model-on-mesh\" expected boolean, got \"yes\""
        );
        assert_eq!(
            parse_config_value("model-on-mesh", &m.config["model-on-mesh"], "True").unwrap(),
            serde_json::json!(true)
        );
    }
}
