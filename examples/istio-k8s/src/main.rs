//! istio-k8s stand-in: on every hook the leader installs the two CRDs (needs `--trust`) and
//! writes the ConfigMap `istio` announcing istiod and its `PILOT_AUTO_ALLOW_WAYPOINT_POLICY`;
//! on `remove` it deletes what it created, CRDs included, as the real charm does.

use std::collections::BTreeMap;
use std::process::ExitCode;

use charm::{Context, Event, HookTools, ProcessHookTools, Status};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client};

const CRDS: [&str; 2] = [
    include_str!("../../../data/crds/authorizationpolicies.security.istio.io.yaml"),
    include_str!("../../../data/crds/gateways.gateway.networking.k8s.io.yaml"),
];
const FIELD_MANAGER: &str = "istio-k8s";

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("hook context: {0}")]
    Context(#[from] charm::ContextError),
    #[error("hook tool: {0}")]
    Tool(#[from] charm::ToolError),
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("kubeconfig: {0}")]
    KubeConfig(String),
    #[error("CRD manifest: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("runtime: {0}")]
    Io(#[from] std::io::Error),
}

async fn client() -> Result<Client, Error> {
    let cfg = kube::Config::infer()
        .await
        .map_err(|e| Error::KubeConfig(e.to_string()))?;
    Client::try_from(cfg).map_err(Error::Kube)
}

fn is_forbidden(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403)
}

async fn reconcile(tools: &ProcessHookTools, model: &str, app: &str) -> Result<(), Error> {
    let cfg = tools.config_get()?;
    let auto_allow = cfg
        .bool_or("auto-allow-waypoint-policy", true)
        .unwrap_or(true);
    let client = client().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    for doc in CRDS {
        let crd: CustomResourceDefinition = serde_yaml::from_str(doc)?;
        let name = crd.metadata.name.clone().unwrap_or_default();
        if let Err(e) = crds.patch(&name, &pp, &Patch::Apply(&crd)).await {
            if is_forbidden(&e) {
                tools.status_set(
                    &Status::blocked(format!(
                        "installing CRDs needs cluster access: juju trust {app} --scope=cluster"
                    )),
                    false,
                )?;
                return Ok(());
            }
            return Err(e.into());
        }
    }
    let cms: Api<ConfigMap> = Api::namespaced(client, model);
    let mut labels = BTreeMap::new();
    labels.insert("app.kubernetes.io/name".to_string(), "istiod".to_string());
    labels.insert("app.kubernetes.io/managed-by".to_string(), app.to_string());
    let mut data = BTreeMap::new();
    data.insert(
        "PILOT_AUTO_ALLOW_WAYPOINT_POLICY".to_string(),
        auto_allow.to_string(),
    );
    let cm = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("istio".into()),
            namespace: Some(model.into()),
            labels: Some(labels),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    };
    cms.patch("istio", &pp, &Patch::Apply(&cm)).await?;
    tools.status_set(&Status::active(""), false)?;
    Ok(())
}

async fn remove(model: &str) -> Result<(), Error> {
    let client = client().await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), model);
    let _ = cms.delete("istio", &DeleteParams::default()).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    for doc in CRDS {
        let crd: CustomResourceDefinition = serde_yaml::from_str(doc)?;
        let _ = crds
            .delete(
                &crd.metadata.name.unwrap_or_default(),
                &DeleteParams::default(),
            )
            .await;
    }
    Ok(())
}

fn run() -> Result<(), Error> {
    let ctx = Context::from_env()?;
    let tools = ProcessHookTools::new();
    let model = ctx.model_name.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match ctx.event {
        Event::Remove => rt.block_on(remove(&model)),
        Event::Stop => Ok(()),
        _ => {
            if tools.is_leader()? {
                rt.block_on(reconcile(&tools, &model, &ctx.app_name))
            } else {
                tools.status_set(&Status::active(""), false)?;
                Ok(())
            }
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("istio-k8s: {e}");
            let _ = ProcessHookTools::new().juju_log(charm::LogLevel::Error, &e.to_string());
            ExitCode::FAILURE
        }
    }
}
