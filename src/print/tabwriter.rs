//! Go's `text/tabwriter`, as kubectl configures it.
//!
//! Text is cut into cells by `\t`; a cell is tab-terminated, so the text
//! after a line's last tab is not part of any column. A column block is a
//! run of adjacent lines that all have a cell in that column; each block is
//! as wide as its widest cell plus the padding, at least `min_width`, and
//! blocks are laid out recursively from left to right exactly as Go's
//! `Writer.format` does. Cell widths count characters (runes), not bytes.
//!
//! kubectl's `get` writer (cli-runtime `printers/tabwriter.go`) is
//! minwidth 6, tabwidth 4, padding 3, padchar ' ', with the
//! `RememberWidths` flag of liggitt/tabwriter: column widths are kept
//! across flushes, so rows printed later by `get -w` line up with the
//! table printed first. `describe` uses minwidth 0, tabwidth 8, padding 2.

/// Settings of one writer (Go's `Writer.Init` arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub min_width: usize,
    pub padding: usize,
    /// Keep the widest width seen per column across flushes.
    pub remember_widths: bool,
}

/// `kubectl get`: `tabwriter.NewWriter(out, 6, 4, 3, ' ', RememberWidths)`.
pub const GET: Settings = Settings {
    min_width: 6,
    padding: 3,
    remember_widths: true,
};

/// `kubectl describe`: `out.Init(buf, 0, 8, 2, ' ', 0)`.
pub const DESCRIBE: Settings = Settings {
    min_width: 0,
    padding: 2,
    remember_widths: false,
};

/// A tab writer that buffers text until `flush`.
#[derive(Debug, Clone)]
pub struct TabWriter {
    settings: Settings,
    buffer: String,
    /// Widths remembered across flushes (RememberWidths).
    max_widths: Vec<usize>,
}

struct Cell<'a> {
    text: &'a str,
    width: usize,
}

impl TabWriter {
    pub fn new(settings: Settings) -> TabWriter {
        TabWriter {
            settings,
            buffer: String::new(),
            max_widths: Vec::new(),
        }
    }

    /// Buffers text; nothing is laid out until `flush`.
    pub fn write(&mut self, text: &str) {
        self.buffer.push_str(text);
    }

    /// Lays out and returns everything written since the last flush.
    pub fn flush(&mut self) -> String {
        let text = std::mem::take(&mut self.buffer);
        let lines: Vec<Vec<Cell>> = split_lines(&text);
        let mut out = String::with_capacity(text.len() * 2);
        let mut widths = Vec::new();
        self.format(&mut out, &lines, &mut widths, 0, lines.len());
        out
    }

    /// Forgets the remembered widths (kubectl does so when the kind
    /// changes: `w.SetRememberedWidths(nil)`).
    pub fn reset_widths(&mut self) {
        self.max_widths.clear();
    }

    fn format(
        &mut self,
        out: &mut String,
        lines: &[Vec<Cell>],
        widths: &mut Vec<usize>,
        line0: usize,
        line1: usize,
    ) {
        let column = widths.len();
        let mut line0 = line0;
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            // A cell exists in this column: print the lines before the
            // block, then measure the block.
            write_lines(out, lines, widths, line0, this, self.settings);
            line0 = this;
            let mut width = self.settings.min_width;
            while this < line1 && column + 1 < lines[this].len() {
                width = width.max(lines[this][column].width + self.settings.padding);
                this += 1;
            }
            if self.settings.remember_widths {
                if self.max_widths.len() < widths.len() {
                    let missing = widths[self.max_widths.len()..].to_vec();
                    self.max_widths.extend(missing);
                }
                if self.max_widths.len() == widths.len() {
                    self.max_widths.push(width);
                } else if self.max_widths[widths.len()] > width {
                    width = self.max_widths[widths.len()];
                } else {
                    self.max_widths[widths.len()] = width;
                }
            }
            widths.push(width);
            self.format(out, lines, widths, line0, this);
            widths.pop();
            line0 = this;
        }
        write_lines(out, lines, widths, line0, line1, self.settings);
    }
}

/// Lays out `text` in one go with `settings`.
pub fn format(settings: Settings, text: &str) -> String {
    let mut writer = TabWriter::new(settings);
    writer.write(text);
    writer.flush()
}

fn split_lines(text: &str) -> Vec<Vec<Cell<'_>>> {
    let mut lines = Vec::new();
    let mut rest = text;
    loop {
        let (line, more) = match rest.find('\n') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        lines.push(
            line.split('\t')
                .map(|text| Cell {
                    text,
                    width: text.chars().count(),
                })
                .collect(),
        );
        match more {
            Some(m) => rest = m,
            None => break,
        }
    }
    lines
}

fn write_lines(
    out: &mut String,
    lines: &[Vec<Cell>],
    widths: &[usize],
    line0: usize,
    line1: usize,
    _settings: Settings,
) {
    for (i, line) in lines.iter().enumerate().take(line1).skip(line0) {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell.text);
            // The last cell of a line belongs to no column and is never
            // padded.
            if j + 1 < line.len()
                && let Some(&w) = widths.get(j)
            {
                out.extend(std::iter::repeat_n(' ', w.saturating_sub(cell.width)));
            }
        }
        // The last buffered line has no newline of its own.
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_get_pods_layout() {
        let text = "NAME\tREADY\tSTATUS\tRESTARTS\tAGE\nnginx\t1/1\tRunning\t0\t5m\nweb-1\t0/2\tInit:0/2\t0\t10s\n";
        assert_eq!(
            format(GET, text),
            "NAME    READY   STATUS     RESTARTS   AGE\n\
             nginx   1/1     Running    0          5m\n\
             web-1   0/2     Init:0/2   0          10s\n"
        );
    }

    #[test]
    fn min_width_applies_to_short_columns() {
        // kubectl's `NAME   AGE` for a 3-letter name: width max(3+3, 6).
        assert_eq!(
            format(GET, "NAME\tAGE\nfoo\t<unknown>\n"),
            "NAME   AGE\nfoo    <unknown>\n"
        );
    }

    #[test]
    fn describe_layout() {
        let text = "Name:\tnginx\nNamespace:\tdefault\nLabels:\t<none>\n";
        assert_eq!(
            format(DESCRIBE, text),
            "Name:       nginx\nNamespace:  default\nLabels:     <none>\n"
        );
    }

    #[test]
    fn blocks_are_broken_by_lines_without_the_column() {
        // A line with fewer cells ends the column block; the lines after
        // it are aligned on their own, as Go does.
        let text = "a\tb\nlonger\tc\nno tabs here\nx\ty\n";
        assert_eq!(
            format(DESCRIBE, text),
            "a       b\nlonger  c\nno tabs here\nx  y\n"
        );
    }

    #[test]
    fn nested_columns_align_within_their_block() {
        let text = "  Type\tStatus\n  Ready\tTrue\nEvents:\t<none>\n";
        assert_eq!(
            format(DESCRIBE, text),
            "  Type   Status\n  Ready  True\nEvents:  <none>\n"
        );
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        assert_eq!(format(DESCRIBE, "é\tx\nab\ty\n"), "é   x\nab  y\n");
    }

    #[test]
    fn trailing_tab_cells_are_padded() {
        // A tab-terminated last cell is part of the column and padded.
        assert_eq!(
            format(GET, "A\tB\t\nxx\ty\t\n"),
            "A     B     \nxx    y     \n"
        );
    }

    #[test]
    fn remembered_widths_survive_a_flush() {
        let mut w = TabWriter::new(GET);
        w.write("NAME\tSTATUS\nlong-pod-name\tRunning\n");
        let first = w.flush();
        w.write("a\tPending\n");
        let second = w.flush();
        assert_eq!(first, "NAME            STATUS\nlong-pod-name   Running\n");
        assert_eq!(second, "a               Pending\n");
        w.reset_widths();
        w.write("a\tPending\n");
        assert_eq!(w.flush(), "a     Pending\n");
    }

    #[test]
    fn text_without_final_newline_is_kept() {
        assert_eq!(format(DESCRIBE, "a\tb\nc"), "a  b\nc");
    }
}
