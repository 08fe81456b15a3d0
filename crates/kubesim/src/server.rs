//! The HTTP front end (axum on its own thread and tokio runtime).

use crate::error::Error;
use crate::store::{Store, TokenScope};
use std::net::SocketAddr;

/// Server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// CustomResourceDefinition YAML documents installed before serving.
    pub crd_yaml: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            crd_yaml: Vec::new(),
        }
    }
}

/// A running emulated API server. Dropping it (or `shutdown`) stops it.
pub struct Server {
    addr: SocketAddr,
    store: Store,
    admin_token: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn new_token() -> String {
    format!("kubesim-{}", uuid::Uuid::new_v4().simple())
}

impl Server {
    pub fn start(config: Config) -> Result<Server, Error> {
        let store = Store::new();
        for y in &config.crd_yaml {
            store.install_crd_yaml(y).map_err(Error::Crd)?;
        }
        let admin_token = new_token();
        store.add_token(&admin_token, TokenScope::Cluster);
        let std_listener =
            std::net::TcpListener::bind(config.listen).map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
        std_listener.set_nonblocking(true).map_err(Error::Runtime)?;
        let addr = std_listener.local_addr().map_err(Error::Runtime)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("kubesim")
            .build()
            .map_err(Error::Runtime)?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), std::io::Error>>();
        let app_store = store.clone();
        let thread = std::thread::Builder::new()
            .name("kubesim-server".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    crate::http::serve(listener, app_store, rx).await;
                });
            })
            .map_err(Error::Runtime)?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Runtime(e)),
            Err(_) => return Err(Error::Startup),
        }
        tracing::info!("kubesim serving on http://{addr}");
        Ok(Server {
            addr,
            store,
            admin_token,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Kubeconfig YAML with a cluster-admin token; `namespace` becomes the context's namespace.
    pub fn kubeconfig(&self, namespace: Option<&str>) -> String {
        self.kubeconfig_for_token(&self.admin_token, namespace)
    }

    pub fn kubeconfig_for_token(&self, token: &str, namespace: Option<&str>) -> String {
        let ns = namespace
            .map(|n| format!("    namespace: {n}\n"))
            .unwrap_or_default();
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kubesim\n  cluster:\n    server: {url}\ncontexts:\n- name: kubesim\n  context:\n    cluster: kubesim\n    user: kubesim\n{ns}current-context: kubesim\nusers:\n- name: kubesim\n  user:\n    token: {token}\npreferences: {{}}\n",
            url = self.url()
        )
    }

    /// A new bearer token with this scope.
    pub fn issue_token(&self, scope: TokenScope) -> String {
        let t = new_token();
        self.store.add_token(&t, scope);
        t
    }

    /// The cluster-admin token of `kubeconfig`.
    pub fn admin_token(&self) -> String {
        self.admin_token.clone()
    }

    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Stop serving and wait for the server thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
