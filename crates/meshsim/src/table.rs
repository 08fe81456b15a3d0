//! Juju's tabular output: left-aligned columns separated by two spaces, trailing blanks trimmed.

/// Formats rows (first row = header) as Juju does.
pub fn render(rows: &[Vec<String>]) -> String {
    render_gap(rows, 2)
}

/// Same with `gap` blanks between columns (kubectl uses three).
pub fn render_gap(rows: &[Vec<String>], gap: usize) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                let pad = widths[i] - c.chars().count() + gap;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Right-aligns the given column (Juju right-aligns numbers such as Scale and Rev).
pub fn render_with_right(rows: &[Vec<String>], right: &[usize]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            let w = widths[i];
            let len = c.chars().count();
            if right.contains(&i) {
                line.push_str(&" ".repeat(w - len));
                line.push_str(c);
                if i + 1 < r.len() {
                    line.push_str("  ");
                }
            } else {
                line.push_str(c);
                if i + 1 < r.len() {
                    line.push_str(&" ".repeat(w - len + 2));
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn aligns_columns() {
        let rows = vec![
            vec![
                "App".to_string(),
                "Scale".to_string(),
                "Message".to_string(),
            ],
            vec!["a-long-name".to_string(), "1".to_string(), String::new()],
        ];
        assert_eq!(
            super::render_with_right(&rows, &[1]),
            "App          Scale  Message\na-long-name      1\n"
        );
        assert_eq!(
            super::render(&rows),
            "App          Scale  Message\na-long-name  1\n"
        );
    }
}
