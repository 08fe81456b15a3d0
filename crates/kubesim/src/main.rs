//! `kubesim serve --listen 127.0.0.1:PORT [--crd FILE]... [--kubeconfig-out FILE]`

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kubesim",
    about = "Emulated Kubernetes API server for tests and simulations"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the emulated API over plain HTTP until interrupted.
    Serve {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// CustomResourceDefinition YAML file to install at start (repeatable).
        #[arg(long = "crd")]
        crds: Vec<PathBuf>,
        /// Also install the vendored Istio AuthorizationPolicy and Gateway API Gateway CRDs.
        #[arg(long)]
        with_vendored_crds: bool,
        /// Write a cluster-admin kubeconfig for the server to this file.
        #[arg(long)]
        kubeconfig_out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Serve {
            listen,
            crds,
            with_vendored_crds,
            kubeconfig_out,
        } => {
            let mut crd_yaml = Vec::new();
            if with_vendored_crds {
                crd_yaml.push(kubesim::ISTIO_AUTHORIZATION_POLICY_CRD.to_string());
                crd_yaml.push(kubesim::GATEWAY_CRD.to_string());
            }
            for f in &crds {
                match std::fs::read_to_string(f) {
                    Ok(s) => crd_yaml.push(s),
                    Err(e) => {
                        eprintln!("kubesim: cannot read CRD file {}: {e}", f.display());
                        return ExitCode::from(2);
                    }
                }
            }
            let server = match kubesim::Server::start(kubesim::Config { listen, crd_yaml }) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("kubesim: {e}");
                    return ExitCode::from(1);
                }
            };
            if let Some(path) = kubeconfig_out {
                if let Err(e) = std::fs::write(&path, server.kubeconfig(None)) {
                    eprintln!("kubesim: cannot write kubeconfig {}: {e}", path.display());
                    return ExitCode::from(1);
                }
            }
            println!("{}", server.url());
            // Serve until the process is killed; parking keeps the server threads alive.
            loop {
                std::thread::park();
            }
        }
    }
}
