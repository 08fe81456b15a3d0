//! Both sides of the interface against the in-memory hook tools: the bags they write are
//! compared byte for byte with the vectors the Python library produced.

use std::cell::RefCell;

use charm::testing::FakeHookTools;
use charm::{Context, Event, HookTools, RelationEvent, RelationId};
use service_mesh::*;

const VECTORS: &str = include_str!("../../../data/fixtures/service-mesh-vectors.json");

fn vector_bag(id: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()["policies_databag"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ctx(unit: &str, model: &str, event: Event) -> Context {
    Context {
        dispatch_path: "hooks/x".into(),
        event,
        unit_name: unit.into(),
        app_name: unit.split('/').next().unwrap().into(),
        model_name: model.into(),
        model_uuid: "uuid".into(),
        charm_dir: None,
        juju_version: None,
    }
}

fn rel_event(id: &RelationId, app: &str) -> RelationEvent {
    RelationEvent {
        relation: id.clone(),
        remote_app: Some(app.into()),
        remote_unit: None,
        departing_unit: None,
    }
}

fn get(path: &str) -> Endpoint {
    Endpoint {
        hosts: None,
        ports: Some(vec![9080]),
        methods: Some(vec![Method::Get]),
        paths: Some(vec!["/health".into(), format!("/{path}/*")]),
    }
}

fn details_consumer() -> ServiceMeshConsumer {
    ServiceMeshConsumer::new(vec![
        AppPolicy {
            relation: "details".into(),
            endpoints: vec![get("details")],
            service: None,
        }
        .into(),
        UnitPolicy {
            relation: "peers".into(),
            ports: vec![9080],
        }
        .into(),
    ])
}

#[derive(Default)]
struct MemLabels {
    calls: RefCell<Vec<String>>,
}

impl LabelStore for MemLabels {
    fn reconcile(&self, app: &str, ns: &str, labels: &LabelMap) -> Result<(), LabelError> {
        self.calls.borrow_mut().push(format!(
            "reconcile {ns}/{app} {}",
            to_python_json(labels).unwrap()
        ));
        Ok(())
    }
    fn forget(&self, app: &str, ns: &str) -> Result<(), LabelError> {
        self.calls.borrow_mut().push(format!("forget {ns}/{app}"));
        Ok(())
    }
}

#[test]
fn in_model_policies_match_the_python_bag() {
    let t = FakeHookTools::new("bookinfo-details-k8s/0", "uuid");
    t.set_leader(true);
    let mesh = t.add_relation("service-mesh", "istio-beacon-k8s", &["istio-beacon-k8s/0"]);
    t.add_relation(
        "details",
        "bookinfo-productpage-k8s",
        &["bookinfo-productpage-k8s/0"],
    );
    t.add_relation("peers", "bookinfo-details-k8s", &[]);
    let c = ctx(
        "bookinfo-details-k8s/0",
        "bookinfo",
        Event::RelationCreated(rel_event(&mesh, "istio-beacon-k8s")),
    );
    let out = details_consumer().handle(&c, &t, None).unwrap();
    assert!(out.policies_changed);
    assert_eq!(out.policies.as_ref().map(Vec::len), Some(2));
    assert_eq!(
        t.local_app_data(&mesh).get("policies").cloned(),
        Some(vector_bag("in-model-app-policy"))
    );
    // Nothing changed: no second write.
    let writes = t.count("relation-set");
    let c = ctx("bookinfo-details-k8s/0", "bookinfo", Event::UpdateStatus);
    let out = details_consumer().handle(&c, &t, None).unwrap();
    assert!(!out.policies_changed);
    assert_eq!(t.count("relation-set"), writes);
}

#[test]
fn cross_model_caller_is_resolved_through_provide_cmr_mesh() {
    let t = FakeHookTools::new("bookinfo-reviews-k8s/0", "uuid2");
    t.set_leader(true);
    let mesh = t.add_relation("service-mesh", "istio-beacon-k8s", &["istio-beacon-k8s/0"]);
    t.add_relation("reviews", "remote-6f1c2a", &["remote-6f1c2a/0"]);
    let reviews = ServiceMeshConsumer::new(vec![AppPolicy {
        relation: "reviews".into(),
        endpoints: vec![get("reviews")],
        service: None,
    }
    .into()]);
    let c = ctx("bookinfo-reviews-k8s/0", "bookinfo-2", Event::UpdateStatus);

    // Without provide-cmr-mesh the caller is only known by its alias, in our own namespace.
    reviews.handle(&c, &t, None).unwrap();
    let bag = t.local_app_data(&mesh)["policies"].clone();
    let p = parse_policies(&bag).unwrap();
    assert_eq!(p[0].source_app_name, "remote-6f1c2a");
    assert_eq!(p[0].source_namespace, "bookinfo-2");

    let cmr = t.add_relation("provide-cmr-mesh", "remote-6f1c2a", &["remote-6f1c2a/0"]);
    t.set_remote_app_data(
        &cmr,
        &[(
            "cmr_data",
            r#"{"app_name": "bookinfo-productpage-k8s", "juju_model_name": "bookinfo"}"#,
        )],
    );
    let c = ctx(
        "bookinfo-reviews-k8s/0",
        "bookinfo-2",
        Event::RelationChanged(rel_event(&cmr, "remote-6f1c2a")),
    );
    reviews.handle(&c, &t, None).unwrap();
    assert_eq!(
        t.local_app_data(&mesh)["policies"],
        vector_bag("cross-model-app-policy")
    );

    // Invalid cmr_data is skipped (alias again), not an error.
    t.set_remote_app_data(&cmr, &[("cmr_data", "{\"app_name\": 3}")]);
    reviews.handle(&c, &t, None).unwrap();
    let p = parse_policies(&t.local_app_data(&mesh)["policies"]).unwrap();
    assert_eq!(p[0].source_app_name, "remote-6f1c2a");
}

#[test]
fn broken_relation_is_left_out_and_non_leaders_write_nothing() {
    let t = FakeHookTools::new("bookinfo-details-k8s/1", "uuid");
    let mesh = t.add_relation("service-mesh", "istio-beacon-k8s", &[]);
    let details = t.add_relation("details", "bookinfo-productpage-k8s", &[]);
    t.add_relation("peers", "bookinfo-details-k8s", &[]);
    let c = ctx(
        "bookinfo-details-k8s/1",
        "bookinfo",
        Event::RelationBroken(rel_event(&details, "bookinfo-productpage-k8s")),
    );
    let out = details_consumer().handle(&c, &t, None).unwrap();
    assert_eq!(out.policies, None);
    assert_eq!(t.count("relation-set"), 0);

    t.set_leader(true);
    details_consumer().handle(&c, &t, None).unwrap();
    let p = parse_policies(&t.local_app_data(&mesh)["policies"]).unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].target_type, PolicyTargetType::Unit);

    // The mesh relation itself breaking: nothing to write to.
    let c = ctx(
        "bookinfo-details-k8s/1",
        "bookinfo",
        Event::RelationBroken(rel_event(&mesh, "istio-beacon-k8s")),
    );
    let writes = t.count("relation-set");
    let out = details_consumer().handle(&c, &t, None).unwrap();
    assert_eq!(out.policies, None);
    assert_eq!(t.count("relation-set"), writes);
}

#[test]
fn cmr_data_is_kept_written_on_every_event() {
    let t = FakeHookTools::new("bookinfo-productpage-k8s/0", "uuid");
    let req = t.add_relation("require-cmr-mesh", "remote-aa11", &[]);
    let c = ctx(
        "bookinfo-productpage-k8s/0",
        "bookinfo",
        Event::ConfigChanged,
    );
    let consumer = ServiceMeshConsumer::new(vec![]);
    assert_eq!(consumer.handle(&c, &t, None).unwrap().cmr_data_written, 0);
    t.set_leader(true);
    assert_eq!(consumer.handle(&c, &t, None).unwrap().cmr_data_written, 1);
    let expected = r#"{"app_name": "bookinfo-productpage-k8s", "juju_model_name": "bookinfo"}"#;
    assert_eq!(t.local_app_data(&req)["cmr_data"], expected);
    // Already there: not rewritten.
    assert_eq!(consumer.handle(&c, &t, None).unwrap().cmr_data_written, 0);
    // Lost (for example wiped by hand): healed on the next event of any kind.
    t.state()
        .relations
        .get_mut(&req)
        .unwrap()
        .local_app_data
        .clear();
    let c = ctx(
        "bookinfo-productpage-k8s/0",
        "bookinfo",
        Event::UpdateStatus,
    );
    assert_eq!(consumer.handle(&c, &t, None).unwrap().cmr_data_written, 1);
    assert_eq!(t.local_app_data(&req)["cmr_data"], expected);
}

#[test]
fn labels_are_applied_and_removed() {
    let t = FakeHookTools::new("bookinfo-details-k8s/0", "uuid");
    t.set_leader(true);
    let mesh = t.add_relation("service-mesh", "istio-beacon-k8s", &["istio-beacon-k8s/0"]);
    let labels: LabelMap = [
        ("istio.io/dataplane-mode", "ambient"),
        (
            "istio.io/use-waypoint",
            "bookinfo-istio-beacon-k8s-waypoint",
        ),
        ("istio.io/use-waypoint-namespace", "bookinfo"),
    ]
    .into_iter()
    .collect();
    let data = ServiceMeshProvider::app_data(&labels, MeshType::Istio);
    {
        let mut st = t.state();
        st.relations.get_mut(&mesh).unwrap().remote_app_data = data;
    }
    let store = MemLabels::default();
    let changed = ctx(
        "bookinfo-details-k8s/0",
        "bookinfo",
        Event::RelationChanged(rel_event(&mesh, "istio-beacon-k8s")),
    );
    let out = details_consumer()
        .handle(&changed, &t, Some(&store))
        .unwrap();
    assert_eq!(out.labels_applied, Some(labels.clone()));
    // Irrelevant events do not touch Kubernetes.
    let c = ctx("bookinfo-details-k8s/0", "bookinfo", Event::UpdateStatus);
    details_consumer().handle(&c, &t, Some(&store)).unwrap();
    let broken = ctx(
        "bookinfo-details-k8s/0",
        "bookinfo",
        Event::RelationBroken(rel_event(&mesh, "istio-beacon-k8s")),
    );
    details_consumer()
        .handle(&broken, &t, Some(&store))
        .unwrap();
    assert_eq!(
        store.calls.borrow().clone(),
        vec![
            format!(
                "reconcile bookinfo/bookinfo-details-k8s {}",
                to_python_json(&labels).unwrap()
            ),
            "reconcile bookinfo/bookinfo-details-k8s {}".to_string(),
            "forget bookinfo/bookinfo-details-k8s".to_string(),
        ]
    );

    // A provider bag with bad data is an error naming the key, and nothing is labelled.
    t.set_remote_app_data(&mesh, &[("labels", "not json"), ("mesh_type", "\"istio\"")]);
    let store = MemLabels::default();
    let err = details_consumer()
        .handle(&changed, &t, Some(&store))
        .unwrap_err();
    assert!(err.to_string().contains("(labels)"), "{err}");
    assert!(store.calls.borrow().is_empty());
}

#[test]
fn provider_reads_each_relation_on_its_own() {
    let t = FakeHookTools::new("istio-beacon-k8s/0", "uuid");
    let good = t.add_relation("service-mesh", "bookinfo-details-k8s", &[]);
    let missing = t.add_relation("service-mesh", "bookinfo-ratings-k8s", &[]);
    let bad_json = t.add_relation("service-mesh", "evil", &[]);
    let bad_policy = t.add_relation("service-mesh", "odd", &[]);
    let leaving = t.add_relation("service-mesh", "bookinfo-reviews-k8s", &[]);
    t.set_remote_app_data(&good, &[("policies", &vector_bag("in-model-app-policy"))]);
    t.set_remote_app_data(&bad_json, &[("policies", "[{\"source_namespace\": ")]);
    t.set_remote_app_data(
        &bad_policy,
        &[(
            "policies",
            r#"[{"source_namespace": "a", "source_app_name": "b", "target_namespace": "a", "target_type": "unit", "target_service": "x"}]"#,
        )],
    );
    t.set_remote_app_data(
        &leaving,
        &[("policies", &vector_bag("cross-model-app-policy"))],
    );
    let c = ctx(
        "istio-beacon-k8s/0",
        "bookinfo",
        Event::RelationBroken(rel_event(&leaving, "bookinfo-reviews-k8s")),
    );
    let res = ServiceMeshProvider::default()
        .read_policies(&c, &t)
        .unwrap();
    assert_eq!(res.len(), 4);
    assert_eq!(res[0].relation, good);
    assert_eq!(res[0].remote_app.as_deref(), Some("bookinfo-details-k8s"));
    assert_eq!(res[0].policies.as_ref().unwrap().len(), 2);
    assert_eq!(res[1].relation, missing);
    assert!(res[1].policies.as_ref().unwrap().is_empty());
    assert!(matches!(
        res[2].policies,
        Err(PolicyBagError::InvalidJson(_))
    ));
    assert!(matches!(
        res[3].policies,
        Err(PolicyBagError::InvalidPolicy {
            index: 0,
            error: PolicyValidationError::UnitWithService
        })
    ));
    assert_eq!(res[2].relation, bad_json);
    assert!(res[2]
        .policies
        .as_ref()
        .unwrap_err()
        .to_string()
        .starts_with("invalid policies data: "));
}

#[test]
fn provider_publishes_labels_and_mesh_type_json_encoded() {
    let t = FakeHookTools::new("istio-beacon-k8s/0", "uuid");
    let a = t.add_relation("service-mesh", "bookinfo-details-k8s", &[]);
    let b = t.add_relation("service-mesh", "bookinfo-reviews-k8s", &[]);
    let labels: LabelMap = [
        ("istio.io/dataplane-mode", "ambient"),
        (
            "istio.io/use-waypoint",
            "bookinfo-istio-beacon-k8s-waypoint",
        ),
        ("istio.io/use-waypoint-namespace", "bookinfo"),
    ]
    .into_iter()
    .collect();
    let c = ctx("istio-beacon-k8s/0", "bookinfo", Event::ConfigChanged);
    let p = ServiceMeshProvider::default();
    assert_eq!(p.publish(&c, &t, &labels, MeshType::Istio).unwrap(), 0);
    assert_eq!(t.count("relation-set"), 0);
    t.set_leader(true);
    assert_eq!(p.publish(&c, &t, &labels, MeshType::Istio).unwrap(), 2);
    for id in [&a, &b] {
        let bag = t.local_app_data(id);
        assert_eq!(
            bag["labels"],
            r#"{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "bookinfo-istio-beacon-k8s-waypoint", "istio.io/use-waypoint-namespace": "bookinfo"}"#
        );
        assert_eq!(bag["mesh_type"], r#""istio""#);
    }
    assert_eq!(p.publish(&c, &t, &labels, MeshType::Istio).unwrap(), 0);
    assert_eq!(
        p.publish(&c, &t, &LabelMap::new(), MeshType::Istio)
            .unwrap(),
        2
    );
    assert_eq!(t.local_app_data(&a)["labels"], "{}");
    assert!(t.is_leader().unwrap());
}
