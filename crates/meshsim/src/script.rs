//! Turning files into command lines: plain scripts, and the fenced `bash` blocks of Markdown.

/// One command line with where it came from (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub file: String,
    /// 1-based line number of the command's first line.
    pub line: usize,
    pub text: String,
}

/// Is this file Markdown (by extension)?
pub fn is_markdown(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".markdown")
}

/// Command lines of a file: Markdown files contribute the lines of their ```bash fences
/// (indented fences inside list items included); other files are scripts.
pub fn commands(file: &str, text: &str) -> Vec<CommandLine> {
    if is_markdown(file) {
        markdown_commands(file, text)
    } else {
        script_commands(file, text.lines().enumerate().map(|(i, l)| (i + 1, l)))
    }
}

fn script_commands<'a>(
    file: &str,
    lines: impl Iterator<Item = (usize, &'a str)>,
) -> Vec<CommandLine> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (no, raw) in lines {
        let line = raw.trim_end();
        let (start, mut acc) = match pending.take() {
            Some((s, acc)) => (s, acc),
            None => {
                let t = line.trim_start();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                (no, String::new())
            }
        };
        let piece = line.trim_start();
        // A trailing backslash continues the command on the next line, as in a shell.
        if let Some(stripped) = piece.strip_suffix('\\') {
            acc.push_str(stripped.trim_end());
            acc.push(' ');
            pending = Some((start, acc));
        } else {
            acc.push_str(piece);
            out.push(CommandLine {
                file: file.to_string(),
                line: start,
                text: acc.trim().to_string(),
            });
        }
    }
    if let Some((start, acc)) = pending {
        out.push(CommandLine {
            file: file.to_string(),
            line: start,
            text: acc.trim().to_string(),
        });
    }
    out
}

fn markdown_commands(file: &str, text: &str) -> Vec<CommandLine> {
    let mut out = Vec::new();
    let mut block: Option<(String, Vec<(usize, String)>)> = None;
    for (i, raw) in text.lines().enumerate() {
        let no = i + 1;
        let trimmed = raw.trim_start();
        let indent = raw.len() - trimmed.len();
        match &mut block {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let lang = info.trim();
                    if lang == "bash" || lang == "shell" || lang == "sh" {
                        block = Some((" ".repeat(indent), Vec::new()));
                    } else {
                        // Another fence (text, note, ...): skip it whole.
                        block = Some(("\u{0}skip".to_string(), Vec::new()));
                    }
                }
            }
            Some((prefix, lines)) => {
                if trimmed.starts_with("```") {
                    if !prefix.starts_with('\u{0}') {
                        let lines = std::mem::take(lines);
                        out.extend(script_commands(
                            file,
                            lines.iter().map(|(n, l)| (*n, l.as_str())),
                        ));
                    }
                    block = None;
                } else {
                    // Content of an indented fence is indented by the fence's indentation.
                    let content = raw.strip_prefix(prefix.as_str()).unwrap_or(trimmed);
                    lines.push((no, content.to_string()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_skips_comments_and_joins_continuations() {
        let c = commands(
            "x.sh",
            "# comment\n\njuju add-model a\n  juju deploy b \\\n   --trust\n",
        );
        let texts: Vec<_> = c.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["juju add-model a", "juju deploy b --trust"]);
        assert_eq!(c[1].line, 4);
    }

    #[test]
    fn markdown_takes_only_bash_fences_even_indented() {
        let md = "# T\n\n```bash\n# c\njuju status\n```\n\n```{note}\njuju nope\n```\n\n1. x:\n   ```bash\n   kubectl get pods -n a\n   ```\n```text\nno\n```\n";
        let c = commands("t.md", md);
        let texts: Vec<_> = c.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["juju status", "kubectl get pods -n a"]);
        assert_eq!(c[0].line, 5);
        assert_eq!(c[1].line, 14);
    }
}
