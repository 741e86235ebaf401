//! The human-readable tables the client commands print.

use super::wire;
use comfy_table::{Table, presets};
use transcoder::proto as pb;

/// A table with `header`, drawn with light rules.
pub fn new(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_style(presets::UTF8_HORIZONTAL_ONLY);
    table.set_header(header.to_vec());
    table
}

/// "-" for a missing value.
fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// A finished job's results: each output with its URLs, duration and billed minutes,
/// each thumbnail, and the bill.
pub fn results(job: &pb::Job) -> String {
    let mut table = new(&["output", "state", "duration", "size", "billed min", "url"]);
    let w = wire::Job::from(job);
    let lines = w
        .billing
        .as_ref()
        .map(|b| b.lines.as_slice())
        .unwrap_or_default();
    for o in w.outputs {
        let billed = lines
            .iter()
            .find(|l| l.output_label == o.label)
            .map(|l| l.billable_minutes);
        table.add_row(vec![
            o.label,
            o.state,
            or_dash(
                o.duration_seconds
                    .filter(|d| *d > 0.0)
                    .map(|d| format!("{d:.2} s")),
            ),
            or_dash(o.size_bytes.filter(|s| *s > 0).map(human_size)),
            or_dash(billed),
            o.urls.join("\n"),
        ]);
    }
    for t in w.thumbnails {
        table.add_row(vec![
            t.label,
            t.state,
            format!("at {:.1} s", t.time_seconds),
            format!("{}x{}", t.width, t.height),
            "-".into(),
            t.urls.join("\n"),
        ]);
    }
    let mut text = format!("job {}: {}\n{table}", job.id, wire::job_state(job.state));
    if let Some(b) = &job.billing {
        text.push_str(&format!(
            "\nbilled: {} minutes, {} {} ({} {} a minute)",
            b.billable_minutes, b.total_cost_decimal, b.currency, b.price_per_minute, b.currency
        ));
    }
    if let Some(e) = &job.error {
        text.push_str(&format!("\nerror: {}: {}", e.code, e.message));
    }
    text
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}
