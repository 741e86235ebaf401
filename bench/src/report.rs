//! Tables printed to the terminal and written as Markdown, and figures checked against
//! their targets (PASS/MISS). Targets live here, in the bench output, never in tests.

use std::fmt::Write;

pub struct Table {
    pub title: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    notes: Vec<String>,
}

impl Table {
    pub fn new(title: impl Into<String>, headers: &[&str]) -> Self {
        Self {
            title: title.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(cell.chars().count());
                }
            }
        }
        widths
    }

    pub fn print(&self) {
        let widths = self.widths();
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
        };
        println!("\n== {} ==", self.title);
        println!("{}", line(&self.headers));
        for row in &self.rows {
            println!("{}", line(row));
        }
        for note in &self.notes {
            println!("  note: {note}");
        }
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n| {} |\n|", self.title, self.headers.join(" | "));
        out += &"---|".repeat(self.headers.len());
        out.push('\n');
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        for note in &self.notes {
            let _ = writeln!(out, "\n{note}");
        }
        out
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Goal {
    AtMost(f64),
    AtLeast(f64),
}

/// One figure beside its target.
pub struct Check {
    pub figure: String,
    pub value: f64,
    pub unit: &'static str,
    pub goal: Goal,
}

impl Check {
    pub fn new(figure: impl Into<String>, value: f64, unit: &'static str, goal: Goal) -> Self {
        Self {
            figure: figure.into(),
            value,
            unit,
            goal,
        }
    }

    pub fn passed(&self) -> bool {
        match self.goal {
            Goal::AtMost(t) => self.value <= t,
            Goal::AtLeast(t) => self.value >= t,
        }
    }

    pub fn target(&self) -> String {
        match self.goal {
            Goal::AtMost(t) => format!("<= {} {}", num(t), self.unit),
            Goal::AtLeast(t) => format!(">= {} {}", num(t), self.unit),
        }
    }
}

/// What one section measured.
#[derive(Default)]
pub struct SectionResult {
    pub tables: Vec<Table>,
    pub checks: Vec<Check>,
}

/// A number with a sensible number of decimals for a table.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The summary table: each figure beside its target.
pub fn targets_table(checks: &[Check], command: &str) -> Table {
    let mut table = Table::new("Targets", &["figure", "measured", "target", "verdict"]);
    for c in checks {
        table.row(vec![
            c.figure.clone(),
            format!("{} {}", num(c.value), c.unit),
            c.target(),
            if c.passed() { "PASS" } else { "MISS" }.into(),
        ]);
    }
    table.note(format!("Produced by `{command}`."));
    table
}

/// Percentile (0..=100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 51.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
    }
}
