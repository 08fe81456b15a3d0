//! Endpoint inference for `juju integrate`, with Juju's error strings. Pure.

use crate::charm::EndpointSpec;
use crate::{Error, Result};

/// An application (or saas) as a candidate side of a relation.
pub struct Side<'a> {
    /// The argument as the user typed it ("app" or "app:ep").
    pub arg: &'a str,
    pub app: &'a str,
    pub endpoint: Option<&'a str>,
    pub endpoints: &'a [EndpointSpec],
}

/// Splits "app" / "app:endpoint".
pub fn parse_arg(arg: &str) -> (&str, Option<&str>) {
    match arg.split_once(':') {
        Some((a, e)) => (a, Some(e)),
        None => (arg, None),
    }
}

/// Finds the single provider/requirer pair the two arguments can mean.
pub fn infer(a: &Side, b: &Side) -> Result<(EndpointSpec, EndpointSpec)> {
    let pick = |s: &Side| -> Result<Vec<EndpointSpec>> {
        match s.endpoint {
            Some(ep) => match s.endpoints.iter().find(|e| e.name == ep) {
                Some(e) => Ok(vec![e.clone()]),
                None => Err(Error::juju(format!(
                    "application \"{}\" has no \"{}\" relation",
                    s.app, ep
                ))),
            },
            None => Ok(s.endpoints.to_vec()),
        }
    };
    let left = pick(a)?;
    let right = pick(b)?;
    let mut found = Vec::new();
    if a.app != b.app {
        for l in &left {
            for r in &right {
                if l.interface == r.interface && l.role.can_relate_to(r.role) {
                    found.push((l.clone(), r.clone()));
                }
            }
        }
    }
    match found.len() {
        0 => Err(Error::juju("no relations found")),
        1 => Ok(found.remove(0)),
        _ => {
            let options: Vec<String> = found
                .iter()
                .map(|(l, r)| format!("\"{}:{} {}:{}\"", a.app, l.name, b.app, r.name))
                .collect();
            Err(Error::juju(format!(
                "ambiguous relation: \"{} {}\" could refer to {}",
                a.arg,
                b.arg,
                options.join("; ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::Role;

    fn ep(name: &str, role: Role, iface: &str) -> EndpointSpec {
        EndpointSpec {
            name: name.into(),
            role,
            interface: iface.into(),
            limit: None,
            scope: "global".into(),
        }
    }

    #[test]
    fn ambiguous_and_none() {
        let a = [ep("x", Role::Requirer, "i"), ep("y", Role::Requirer, "j")];
        let b = [ep("x", Role::Provider, "i"), ep("y", Role::Provider, "j")];
        let sa = Side {
            arg: "a",
            app: "a",
            endpoint: None,
            endpoints: &a,
        };
        let sb = Side {
            arg: "b",
            app: "b",
            endpoint: None,
            endpoints: &b,
        };
        let e = infer(&sa, &sb).unwrap_err().to_string();
        assert_eq!(
            e,
            r#"ambiguous relation: "a b" could refer to "a:x b:x"; "a:y b:y""#
        );
        let sa = Side {
            arg: "a:y",
            app: "a",
            endpoint: Some("y"),
            endpoints: &a,
        };
        let (l, r) = infer(&sa, &sb).unwrap();
        assert_eq!((l.name.as_str(), r.name.as_str()), ("y", "y"));
        let c = [ep("z", Role::Provider, "k")];
        let sc = Side {
            arg: "c",
            app: "c",
            endpoint: None,
            endpoints: &c,
        };
        assert_eq!(
            infer(&sa, &sc).unwrap_err().to_string(),
            "no relations found"
        );
        let sc = Side {
            arg: "c:q",
            app: "c",
            endpoint: Some("q"),
            endpoints: &c,
        };
        assert_eq!(
            infer(&sa, &sc).unwrap_err().to_string(),
            r#"application "c" has no "q" relation"#
        );
    }
}
