//! `cargo xtask pack [--debug] [--out FILE]`: builds the charm binary and writes the `.charm`.
//! `cargo xtask unpack FILE DIR`: unpacks a `.charm` (keeps `dispatch` executable).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "xtask",
    about = "Packaging tasks of the istio-beacon-k8s charm"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the charm binary and write istio-beacon-k8s.charm (zip: dispatch, metadata.yaml,
    /// config.yaml, manifest.yaml).
    Pack {
        /// Build without optimisations (faster to build, larger charm).
        #[arg(long)]
        debug: bool,
        /// Pack this already-built binary instead of building one.
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Where to write the charm (default: <repo>/istio-beacon-k8s.charm).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Repository root holding metadata.yaml and config.yaml.
        #[arg(long)]
        root: Option<PathBuf>,
    },
    /// Unpack a .charm into a directory.
    Unpack { charm: PathBuf, dir: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Pack {
            debug,
            binary,
            out,
            root,
        } => {
            let root = root.unwrap_or_else(xtask::repo_root);
            match binary {
                Some(binary) => {
                    let out =
                        out.unwrap_or_else(|| root.join(format!("{}.charm", xtask::CHARM_NAME)));
                    xtask::write_charm(&root, &binary, &out).map(|()| out)
                }
                None => xtask::pack(&root, !debug, out.as_deref()),
            }
            .map(|out| println!("packed {}", out.display()))
        }
        Cmd::Unpack { charm, dir } => xtask::unpack(&charm, &dir).map(|names| {
            for name in names {
                println!("{name}");
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
