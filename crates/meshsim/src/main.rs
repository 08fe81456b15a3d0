//! `meshsim run FILE... [--keep-going] [--state DIR]`.
//!
//! The same executable is jujusim's multi-call hook-tool binary: when started under a hook
//! tool's name (`relation-get`, `status-set`, ...) it behaves as that tool.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "meshsim",
    version,
    about = "Replays Juju service-mesh tutorials against a simulated controller, cluster and Istio ambient mesh"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the command lines of scripts and of the ```bash blocks of Markdown files, in order.
    Run {
        /// Scripts or Markdown files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Continue after a failing command (the exit status still reports the first failure).
        #[arg(long)]
        keep_going: bool,
        /// Keep the controller and cluster state in DIR between runs (default: a fresh world).
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let base = std::path::Path::new(&argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_string();
    if jujusim::TOOL_NAMES.contains(&base.as_str()) {
        let code = jujusim::hook_tool_main();
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MESHSIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            files,
            keep_going,
            state,
        } => {
            let opts = meshsim::RunOptions { keep_going, state };
            let mut stdout = std::io::stdout();
            match meshsim::run(&files, &opts, &mut stdout) {
                Ok(report) => {
                    if let Some((c, code)) = &report.failed {
                        eprintln!(
                            "meshsim: stopped{} at {}:{} (`{}`, exit status {code})",
                            if keep_going {
                                " counting failures; first failure"
                            } else {
                                ""
                            },
                            c.file,
                            c.line,
                            c.text
                        );
                    }
                    ExitCode::from(u8::try_from(report.code.clamp(0, 255)).unwrap_or(1))
                }
                Err(e) => {
                    eprintln!("meshsim: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
