//! The simulated `curl` a unit runs: argument parsing and what curl prints for each decision.

use authz::Decision;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurlArgs {
    pub silent: bool,
    pub show_error: bool,
    pub include: bool,
    /// `-I`: a HEAD request, headers printed, no body.
    pub head: bool,
    pub fail: bool,
    pub method: Option<String>,
    pub data: Option<String>,
    pub headers: Vec<(String, String)>,
    pub output: Option<String>,
    pub write_out: Option<String>,
    pub url: String,
}

/// A parsed `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// What curl would print and return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurlResult {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
    /// Body to write to the `-o` file, if any.
    pub output_file: Option<(String, String)>,
}

fn usage(msg: &str) -> CurlResult {
    CurlResult {
        stderr: format!("curl: {msg}\ncurl: try 'curl --help' for more information\n"),
        code: 2,
        ..Default::default()
    }
}

/// Parses curl's argv (without the leading `curl`).
pub fn parse(args: &[String]) -> Result<CurlArgs, CurlResult> {
    let mut a = CurlArgs::default();
    let mut it = args.iter().peekable();
    let mut url: Option<String> = None;
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<String, CurlResult> {
            it.next()
                .cloned()
                .ok_or_else(|| usage(&format!("option {name}: requires parameter")))
        };
        match arg.as_str() {
            "--silent" => a.silent = true,
            "--show-error" => a.show_error = true,
            "--include" => a.include = true,
            "--head" => a.head = true,
            "--fail" => a.fail = true,
            "--location" | "--verbose" | "--insecure" => {}
            "--request" => a.method = Some(value(arg)?),
            "--data" | "--data-raw" | "--data-binary" => a.data = Some(value(arg)?),
            "--header" => {
                let h = value(arg)?;
                if let Some((k, v)) = h.split_once(':') {
                    a.headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            "--output" => a.output = Some(value(arg)?),
            "--write-out" => a.write_out = Some(value(arg)?),
            "--max-time" | "--connect-timeout" => {
                value(arg)?;
            }
            s if s.starts_with("--") => return Err(usage(&format!("option {s}: is unknown"))),
            s if s.starts_with('-') && s.len() > 1 => {
                // Short options, possibly grouped (`-sS`, `-si`). An option taking a value takes
                // the rest of the word when there is one (`-XPOST`, `-o/dev/null`,
                // `-w%{http_code}`), else the next word, as curl does.
                for (i, ch) in s[1..].char_indices() {
                    let rest = &s[1 + i + ch.len_utf8()..];
                    let takes_value = matches!(ch, 'X' | 'o' | 'w' | 'd' | 'H' | 'm');
                    let v = if takes_value {
                        if rest.is_empty() {
                            Some(value(&format!("-{ch}"))?)
                        } else {
                            Some(rest.to_string())
                        }
                    } else {
                        None
                    };
                    match (ch, v) {
                        ('s', _) => a.silent = true,
                        ('S', _) => a.show_error = true,
                        ('i', _) => a.include = true,
                        ('I', _) => a.head = true,
                        ('f', _) => a.fail = true,
                        ('L' | 'v' | 'k', _) => {}
                        ('X', Some(v)) => a.method = Some(v),
                        ('o', Some(v)) => a.output = Some(v),
                        ('w', Some(v)) => a.write_out = Some(v),
                        ('d', Some(v)) => a.data = Some(v),
                        ('H', Some(h)) => {
                            if let Some((k, v)) = h.split_once(':') {
                                a.headers.push((k.trim().to_string(), v.trim().to_string()));
                            }
                        }
                        ('m', Some(_)) => {}
                        (other, _) => return Err(usage(&format!("option -{other}: is unknown"))),
                    }
                    if takes_value {
                        break;
                    }
                }
            }
            _ => url = Some(arg.clone()),
        }
    }
    a.url = url.ok_or_else(|| usage("no URL specified"))?;
    Ok(a)
}

impl CurlArgs {
    /// The method curl sends: `-X`, else HEAD for `-I`, else POST when there is `-d`, else GET.
    pub fn effective_method(&self) -> String {
        match (&self.method, &self.data) {
            (Some(m), _) => m.clone(),
            (None, _) if self.head => "HEAD".into(),
            (None, Some(_)) => "POST".into(),
            _ => "GET".into(),
        }
    }
}

/// Parses an `http://` URL. `Err` is curl's own result (exit 1 unsupported protocol, 3 bad URL).
pub fn parse_url(url: &str) -> Result<Url, CurlResult> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => ("http".to_string(), url),
    };
    let default_port = match scheme.as_str() {
        "http" => 80,
        other => {
            return Err(CurlResult {
                stderr: format!(
                    "curl: (1) Protocol \"{other}\" not supported (the simulated mesh speaks plain HTTP; mTLS is ztunnel's job)\n"
                ),
                code: 1,
                ..Default::default()
            })
        }
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let bad = || CurlResult {
        stderr: format!("curl: (3) URL rejected: Bad hostname or port in {url}\n"),
        code: 3,
        ..Default::default()
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse::<u16>().map_err(|_| bad())?),
        None => (authority.to_string(), default_port),
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok(Url { host, port, path })
}

/// Juju unit name of a pod `<app>-<n>`.
pub fn unit_of_pod(pod: &str) -> String {
    match pod.rsplit_once('-') {
        Some((app, n)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
            format!("{app}/{n}")
        }
        _ => pod.to_string(),
    }
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        403 => "Forbidden",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Expands `-w` format: `%{http_code}`/`%{response_code}`, `\n`.
fn write_out(fmt: &str, code: Option<u16>) -> String {
    let code = format!("{:03}", code.unwrap_or(0));
    fmt.replace("%{http_code}", &code)
        .replace("%{response_code}", &code)
        .replace("\\n", "\n")
}

/// What curl prints for the mesh's decision.
pub fn render(args: &CurlArgs, url: &Url, method: &str, decision: &Decision) -> CurlResult {
    let mut r = CurlResult::default();
    let err = |r: &mut CurlResult, code: i32, msg: String| {
        r.code = code;
        if !args.silent || args.show_error {
            r.stderr = format!("curl: ({code}) {msg}\n");
        }
    };
    let (status, body, server) = match decision {
        Decision::Allowed {
            namespace,
            service,
            pod,
            app,
            ..
        } => {
            let body = serde_json::json!({
                "app": app.clone().unwrap_or_else(|| service.clone()),
                "unit": unit_of_pod(pod),
                "namespace": namespace,
                "method": method,
                "path": url.path,
            });
            (200u16, format!("{body}\n"), "simulated-workload")
        }
        Decision::DeniedAtWaypoint { .. } => (403, "RBAC: access denied".to_string(), "istio-envoy"),
        Decision::UpstreamReset { .. } => (
            503,
            "upstream connect error or disconnect/reset before headers. reset reason: connection termination".to_string(),
            "istio-envoy",
        ),
        Decision::DeniedAtZtunnel { .. } | Decision::WaypointUnavailable { .. } => {
            err(&mut r, 56, "Recv failure: Connection reset by peer".into());
            if let Some(w) = &args.write_out {
                r.stdout = write_out(w, None);
            }
            return r;
        }
        Decision::UnknownHost { host } => {
            err(&mut r, 6, format!("Could not resolve host: {host}"));
            if let Some(w) = &args.write_out {
                r.stdout = write_out(w, None);
            }
            return r;
        }
        Decision::ConnectionRefused { .. } => {
            err(
                &mut r,
                7,
                format!(
                    "Failed to connect to {} port {} after 0 ms: Couldn't connect to server",
                    url.host, url.port
                ),
            );
            if let Some(w) = &args.write_out {
                r.stdout = write_out(w, None);
            }
            return r;
        }
    };
    if args.fail && status >= 400 {
        err(
            &mut r,
            22,
            format!("The requested URL returned error: {status}"),
        );
        if let Some(w) = &args.write_out {
            r.stdout = write_out(w, Some(status));
        }
        return r;
    }
    let content_type = if status == 200 {
        "application/json"
    } else {
        "text/plain"
    };
    let mut out = String::new();
    if args.include || args.head {
        out.push_str(&format!(
            "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\ncontent-type: {content_type}\r\nserver: {server}\r\n\r\n",
            reason_phrase(status),
            body.len()
        ));
    }
    if !args.head {
        out.push_str(&body);
    }
    match &args.output {
        Some(path) => {
            if path != "/dev/null" {
                r.output_file = Some((path.clone(), out));
            }
        }
        None => r.stdout.push_str(&out),
    }
    if let Some(w) = &args.write_out {
        r.stdout.push_str(&write_out(w, Some(status)));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        shell_words::split(s).unwrap_or_default()
    }

    #[test]
    fn parses_the_flags_the_tutorials_use() {
        let a = parse(&argv(
            "-s -X POST http://r.ns.svc.cluster.local:9080/reviews/1 -d '{}' -H 'X-A: b' -o /dev/null -w '%{http_code}'",
        ))
        .unwrap_or_default();
        assert!(a.silent);
        assert_eq!(a.effective_method(), "POST");
        assert_eq!(a.data.as_deref(), Some("{}"));
        assert_eq!(a.headers, vec![("X-A".to_string(), "b".to_string())]);
        assert_eq!(a.output.as_deref(), Some("/dev/null"));
        let u = parse_url(&a.url).unwrap_or_else(|_| Url {
            host: String::new(),
            port: 0,
            path: String::new(),
        });
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("r.ns.svc.cluster.local", 9080, "/reviews/1")
        );
        assert_eq!(
            parse(&argv("-d x http://h/"))
                .map(|a| a.effective_method())
                .ok(),
            Some("POST".into())
        );
        assert_eq!(
            parse(&argv("-si http://h/")).map(|a| a.include).ok(),
            Some(true)
        );
        assert_eq!(parse(&argv("-s")).err().map(|r| r.code), Some(2));
    }

    #[test]
    fn renders_curl_exit_codes_and_bodies() {
        let a = parse(&argv("-s http://h:9080/x")).unwrap_or_default();
        let u = parse_url(&a.url).unwrap_or_else(|_| Url {
            host: String::new(),
            port: 0,
            path: String::new(),
        });
        let denied = render(
            &a,
            &u,
            "GET",
            &Decision::DeniedAtWaypoint {
                waypoint: "w".into(),
                policy: None,
            },
        );
        assert_eq!(
            (denied.stdout.as_str(), denied.code),
            ("RBAC: access denied", 0)
        );
        let reset = render(
            &a,
            &u,
            "GET",
            &Decision::DeniedAtZtunnel {
                pod: "p".into(),
                policy: None,
            },
        );
        assert_eq!((reset.code, reset.stderr.as_str()), (56, ""));
        let loud = parse(&argv("http://h:9080/x")).unwrap_or_default();
        let unknown = render(
            &loud,
            &u,
            "GET",
            &Decision::UnknownHost { host: "h".into() },
        );
        assert_eq!(unknown.code, 6);
        assert_eq!(unknown.stderr, "curl: (6) Could not resolve host: h\n");
        let refused = render(
            &loud,
            &u,
            "GET",
            &Decision::ConnectionRefused { reason: "x".into() },
        );
        assert_eq!(refused.code, 7);
        let w = parse(&argv("-s -o /dev/null -w '%{http_code}' http://h/")).unwrap_or_default();
        let ok = render(
            &w,
            &u,
            "GET",
            &Decision::Allowed {
                namespace: "n".into(),
                service: "s".into(),
                pod: "app-0".into(),
                app: Some("app".into()),
                waypoint: None,
            },
        );
        assert_eq!((ok.stdout.as_str(), ok.code), ("200", 0));
        let ok = render(
            &a,
            &u,
            "GET",
            &Decision::Allowed {
                namespace: "n".into(),
                service: "s".into(),
                pod: "app-1".into(),
                app: Some("app".into()),
                waypoint: None,
            },
        );
        assert!(ok.stdout.contains("\"unit\":\"app/1\""), "{}", ok.stdout);
        let i = parse(&argv("-i http://h/")).unwrap_or_default();
        let head = render(
            &i,
            &u,
            "GET",
            &Decision::DeniedAtWaypoint {
                waypoint: "w".into(),
                policy: None,
            },
        );
        assert!(head.stdout.starts_with("HTTP/1.1 403 Forbidden\r\n"));
        let f = parse(&argv("-sf http://h/")).unwrap_or_default();
        assert_eq!(
            render(
                &f,
                &u,
                "GET",
                &Decision::DeniedAtWaypoint {
                    waypoint: "w".into(),
                    policy: None
                }
            )
            .code,
            22
        );
    }
}
