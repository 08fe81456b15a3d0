//! The hook-tool side: a multi-call binary that forwards its argv to the emulator over
//! the unit agent's unix socket and replays the answer (stdout, stderr, exit code).
//! Wire format: one JSON [`ToolRequest`] line, answered by one JSON [`ToolResponse`] line.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;

use serde::{Deserialize, Serialize};

/// Every hook tool jujusim serves (the names of the symlinks put on a hook's PATH).
pub const TOOL_NAMES: &[&str] = &[
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "close-port",
    "config-get",
    "goal-state",
    "is-leader",
    "juju-log",
    "leader-get",
    "leader-set",
    "network-get",
    "open-port",
    "opened-ports",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-model-get",
    "relation-set",
    "state-delete",
    "state-get",
    "state-set",
    "status-get",
    "status-set",
    "unit-get",
];

/// Env var naming the socket (as Juju's own).
pub const SOCKET_ENV: &str = "JUJU_AGENT_SOCKET_ADDRESS";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolRequest {
    pub context_id: String,
    pub tool: String,
    pub args: Vec<String>,
    pub cwd: String,
    /// The tool's standard input, sent only when an argument names `-` as a file.
    pub stdin: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ToolResponse {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

fn wants_stdin(tool: &str, args: &[String]) -> bool {
    if !matches!(tool, "relation-set" | "state-set") {
        return false;
    }
    args.iter()
        .zip(args.iter().skip(1))
        .any(|(a, b)| a == "--file" && b == "-")
        || args.iter().any(|a| a == "--file=-")
}

/// Entry point of the multi-call hook-tool binary. The tool is argv[0]'s basename; when
/// called under another name (e.g. `jujusim-hook-tool relation-get ...`) argv[1] names it.
/// Returns the process exit code.
pub fn hook_tool_main() -> i32 {
    let mut argv: Vec<String> = std::env::args().collect();
    let arg0 = argv.first().cloned().unwrap_or_default();
    let base = std::path::Path::new(&arg0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tool = if TOOL_NAMES.contains(&base.as_str()) {
        argv.remove(0);
        base
    } else if argv.len() > 1 && TOOL_NAMES.contains(&argv[1].as_str()) {
        argv.remove(0);
        argv.remove(0)
    } else {
        eprintln!(
            "ERROR unknown hook tool {base:?}; known: {}",
            TOOL_NAMES.join(", ")
        );
        return 2;
    };
    let (Ok(socket), Ok(context_id)) =
        (std::env::var(SOCKET_ENV), std::env::var("JUJU_CONTEXT_ID"))
    else {
        eprintln!("ERROR JUJU_CONTEXT_ID or {SOCKET_ENV} not set: {tool} must run inside a hook");
        return 1;
    };
    let stdin = if wants_stdin(&tool, &argv) {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            eprintln!("ERROR reading stdin: {e}");
            return 1;
        }
        Some(s)
    } else {
        None
    };
    let req = ToolRequest {
        context_id,
        tool,
        args: argv,
        cwd: std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        stdin,
    };
    match call(&socket, &req) {
        Ok(resp) => {
            print!("{}", resp.stdout);
            eprint!("{}", resp.stderr);
            let _ = std::io::stdout().flush();
            resp.code
        }
        Err(e) => {
            eprintln!("ERROR cannot reach the unit agent at {socket}: {e}");
            1
        }
    }
}

/// Sends one request to the agent socket and reads the answer.
pub fn call(socket: &str, req: &ToolRequest) -> std::io::Result<ToolResponse> {
    let mut stream = UnixStream::connect(socket)?;
    let mut line = serde_json::to_string(req)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    stream.flush()?;
    let mut reader = BufReader::new(stream);
    let mut answer = String::new();
    reader.read_line(&mut answer)?;
    serde_json::from_str(&answer)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}
