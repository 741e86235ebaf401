//! Wall time, CPU time and peak RSS of child processes (wait4's rusage, and /proc while
//! they run).

use anyhow::Context;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub wall: Duration,
    /// User + system CPU time.
    pub cpu: Duration,
    pub peak_rss_kib: u64,
}

impl Usage {
    pub fn peak_rss_mib(&self) -> f64 {
        self.peak_rss_kib as f64 / 1024.0
    }

    /// Several commands run one after the other: times add up, memory is the peak.
    pub fn then(self, next: Usage) -> Usage {
        Usage {
            wall: self.wall + next.wall,
            cpu: self.cpu + next.cpu,
            peak_rss_kib: self.peak_rss_kib.max(next.peak_rss_kib),
        }
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

/// Reaps `pid`, returning its exit status and resource usage.
pub fn wait_with_usage(pid: i32) -> anyhow::Result<(i32, Duration, u64)> {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for the child we spawned.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    anyhow::ensure!(
        rc == pid,
        "wait4({pid}) failed: {}",
        std::io::Error::last_os_error()
    );
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    let cpu = timeval(usage.ru_utime) + timeval(usage.ru_stime);
    Ok((code, cpu, usage.ru_maxrss as u64))
}

/// Runs `command` to completion, its stderr going to `log`; fails on a non-zero exit.
pub fn run_measured(command: &mut Command, log: &Path) -> anyhow::Result<Usage> {
    let stderr = std::fs::File::create(log)?;
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    let (code, cpu, peak_rss_kib) = wait_with_usage(child.id() as i32)?;
    let wall = started.elapsed();
    if code != 0 {
        let tail = std::fs::read_to_string(log).unwrap_or_default();
        let tail: String = tail.lines().rev().take(15).collect::<Vec<_>>().join("\n");
        anyhow::bail!("{command:?} exited with {code}; stderr (last lines, reversed):\n{tail}");
    }
    Ok(Usage {
        wall,
        cpu,
        peak_rss_kib,
    })
}

/// User + system CPU time a running process has used so far (/proc/<pid>/stat).
pub fn process_cpu(pid: i32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let after = stat.rsplit_once(')').context("malformed stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_millis(ticks * 1000 / hz))
}

/// A `VmHWM` (peak) or `VmRSS` (current) figure of process `pid`, in KiB.
pub fn memory_kib(pid: i32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Lets this process hold many sockets (10,000 watchers need more than the default 1024).
pub fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit on our own process with a valid struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Starts `pid`'s `VmHWM` afresh from its current RSS (Linux 4.0+), so a measurement's
/// peak is its own.
pub fn reset_peak_rss(pid: i32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}
