//! Multi-call hook-tool binary: run under a tool's name (symlink) inside a jujusim hook.
fn main() {
    std::process::exit(jujusim::hook_tool_main());
}
