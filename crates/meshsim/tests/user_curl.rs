//! curl command lines an operator types from habit, parsed as the real curl parses them.
//! No charms: these check the simulated curl's argument handling and rendering directly.

use authz::Decision;
use meshsim::curl::{parse, parse_url, render, CurlArgs, Url};

fn argv(s: &str) -> Vec<String> {
    shell_words::split(s).unwrap_or_default()
}

fn parsed(s: &str) -> CurlArgs {
    match parse(&argv(s)) {
        Ok(a) => a,
        Err(r) => panic!("curl {s}: exit {}: {}", r.code, r.stderr),
    }
}

fn url(a: &CurlArgs) -> Url {
    match parse_url(&a.url) {
        Ok(u) => u,
        Err(r) => panic!("{}: {}", a.url, r.stderr),
    }
}

fn allowed() -> Decision {
    Decision::Allowed {
        namespace: "shop".into(),
        service: "details".into(),
        pod: "details-0".into(),
        app: Some("details".into()),
        waypoint: None,
    }
}

/// curl's short options take their value attached as well as in the next word
/// (`-XPOST`, `-o/dev/null`, `-w%{http_code}`, `-HHost:x`, `-dx`), as in `man curl`:
/// "For options that take an argument, the argument can be attached: -d'data' or -d 'data'".
#[test]
fn short_options_take_attached_values() {
    let a = parsed("-sXPOST http://details.shop.svc.cluster.local:9080/x");
    assert_eq!(a.effective_method(), "POST");
    assert!(a.silent);

    let a = parsed("-XDELETE http://details.shop.svc.cluster.local:9080/x");
    assert_eq!(a.effective_method(), "DELETE");

    let a = parsed("-s -o/dev/null -w%{http_code} -HHost:example.com -dx http://h:9080/x");
    assert_eq!(a.output.as_deref(), Some("/dev/null"));
    assert_eq!(a.write_out.as_deref(), Some("%{http_code}"));
    assert_eq!(
        a.headers,
        vec![("Host".to_string(), "example.com".to_string())]
    );
    assert_eq!(a.data.as_deref(), Some("x"));
    assert_eq!(a.effective_method(), "POST");
    let r = render(&a, &url(&a), "POST", &allowed());
    assert_eq!((r.stdout.as_str(), r.code), ("200", 0));
}

/// `curl -I` sends HEAD and prints the response headers only (man curl: "-I, --head Fetch the
/// headers only!").
#[test]
fn head_request_prints_headers_only() {
    let a = parsed("-I http://details.shop.svc.cluster.local:9080/details/1");
    assert_eq!(a.effective_method(), "HEAD");
    let r = render(&a, &url(&a), "HEAD", &allowed());
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{}", r.stdout);
    assert!(r.stdout.ends_with("\r\n\r\n"), "{:?}", r.stdout);
    assert!(!r.stdout.contains("\"app\""), "{}", r.stdout);

    let a = parsed("-sI http://details.shop.svc.cluster.local:9080/");
    let r = render(
        &a,
        &url(&a),
        "HEAD",
        &Decision::DeniedAtWaypoint {
            waypoint: "w".into(),
            policy: None,
        },
    );
    assert!(
        r.stdout.starts_with("HTTP/1.1 403 Forbidden\r\n"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("RBAC: access denied"), "{}", r.stdout);
}
