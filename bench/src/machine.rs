//! A description of the machine the figures were measured on.

use std::process::Command;

fn first_match(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':').or_else(|| l.split_once('=')))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
}

fn command_first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.lines().next().map(str::to_owned)
        })
        .unwrap_or_else(|| format!("{program}: not found"))
}

/// Markdown bullet list: CPU, cores, memory, OS, kernel, tool versions, build, date.
pub fn describe() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mem_gib = first_match(&meminfo, "MemTotal")
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let profile = if cfg!(debug_assertions) {
        "dev profile (our crate unoptimised, dependencies at opt-level 1)"
    } else {
        "release profile"
    };
    [
        format!(
            "CPU: {}",
            first_match(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into())
        ),
        format!("Cores available: {}", transcoder::config::available_cores()),
        format!("Memory: {mem_gib}"),
        format!(
            "OS: {}, kernel {}",
            first_match(&os, "PRETTY_NAME").unwrap_or_else(|| "unknown".into()),
            kernel.trim()
        ),
        format!("GStreamer: {}", gstreamer::version_string()),
        format!("ffmpeg: {}", command_first_line("ffmpeg", &["-version"])),
        format!("transcoder build: {profile}"),
        // Other work on the machine skews wall times (not CPU times): say how busy it was.
        format!(
            "Load average when the report was written (1, 5, 15 min): {}",
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!("Date: {}", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")),
    ]
    .iter()
    .map(|l| format!("- {l}\n"))
    .collect()
}
