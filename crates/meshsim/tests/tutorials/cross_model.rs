//! docs/tutorials/cross-model.md passes `meshsim run`: an application relation across models
//! without the cross-model mesh relation does not let the caller in; with it, the declared
//! calls answer and the others get `RBAC: access denied`; teardown leaves nothing owned.

use crate::common::{
    answer, assert_all_succeeded, outputs, owned_objects, repo_root, run_lines, setup,
};

const REVIEWS: &str = "http://bookinfo-reviews-k8s.bookinfo-2.svc.cluster.local:9080";

#[test]
fn cross_model_tutorial() {
    setup();
    let doc = repo_root().join("docs/tutorials/cross-model.md");
    let lines = meshsim::load_commands(&[doc]).expect("tutorial readable");
    let mut sim = meshsim::Sim::new(None).expect("simulator starts");
    let steps = run_lines(&mut sim, &lines, true);
    assert_all_succeeded(&steps);
    assert_eq!(steps.len(), lines.len());

    let pp = "juju exec -m bookinfo -u bookinfo-productpage-k8s/0 -- curl -s";
    // Without provide-cmr-mesh the caller is not allowed.
    let without = outputs(
        &steps,
        &format!("{pp} -o /dev/null -w '%{{http_code}}' {REVIEWS}/reviews/1"),
    );
    assert_eq!(without[0].stdout, "403");
    // With it, GET /health and /reviews/* answer; the rest is refused.
    for path in ["/health", "/reviews/1"] {
        let o = outputs(&steps, &format!("{pp} {REVIEWS}{path}"));
        assert_eq!(
            answer(o[0])["app"],
            "bookinfo-reviews-k8s",
            "{}",
            o[0].stdout
        );
    }
    for c in [
        format!("{pp} {REVIEWS}/"),
        format!("{pp} -X POST {REVIEWS}/reviews/1 -d '{{}}'"),
    ] {
        assert_eq!(outputs(&steps, &c)[0].stdout, "RBAC: access denied", "{c}");
    }
    let ap = outputs(
        &steps,
        "kubectl get authorizationpolicies -n bookinfo-2 -o yaml",
    );
    assert!(ap[0]
        .stdout
        .contains("- cluster.local/ns/bookinfo/sa/bookinfo-productpage-k8s"));
    assert_eq!(owned_objects(&sim), Vec::<String>::new());
}
