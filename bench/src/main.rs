//! `transcoder-bench`: measures the service against its targets and writes
//! docs/benchmarks.md. The service under test is always the built `transcoder` binary,
//! run as separate processes (`--transcoder`); this crate uses the library only for the
//! clip generator, the per-run PostgreSQL database (its `test-support` feature), the
//! gRPC client, and the planner that the ffmpeg and gst-launch comparisons copy.
//! `--quick` runs the same code on tiny inputs in seconds (part of `make test`, so the
//! harness never rots); its figures mean nothing.

mod concurrency;
mod control_plane;
mod fanout;
mod hls_ladder;
mod machine;
mod measure;
mod media;
mod media_commands;
mod report;
mod rpc;
mod scale_out;
mod service_child;
mod start_latency;

use anyhow::Context;
use report::{SectionResult, Table};
use std::path::{Path, PathBuf};
use transcoder::test_support::clip::{ClipSpec, generate_clip};

#[derive(clap::Parser)]
#[command(
    name = "transcoder-bench",
    about = "Measure throughput, latency and fan-out against the targets; write docs/benchmarks.md"
)]
pub struct BenchArgs {
    /// The `transcoder` binary under test (default: the one beside this binary, as cargo
    /// builds them into one target dir).
    #[arg(long)]
    transcoder: Option<PathBuf>,
    /// Tiny inputs, few clients: checks the harness works, in well under a minute.
    #[arg(long)]
    quick: bool,
    /// Sections to run (1 media, 2 concurrency, 3 control plane, 4 fan-out, 5 start latency,
    /// 6 scale-out).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4,5,6")]
    sections: Vec<u8>,
    /// Length of the 1080p30 source for section 1, in seconds.
    #[arg(long, default_value_t = 60)]
    media_seconds: u32,
    /// Section 1 runs its four variants this many times, interleaved, and reports each
    /// variant's median run by wall time (a shared machine drifts by 10-15% run to run).
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Section 1's cases to run: one (one output), ladder (three MP4s), hls (an HLS ladder).
    #[arg(long, value_delimiter = ',', default_value = "one,ladder,hls")]
    media_cases: Vec<String>,
    /// Where generated sources and outputs are kept (sources are reused between runs).
    #[arg(long, default_value = "/tmp/transcoder-bench")]
    work_dir: PathBuf,
    /// The Markdown report (default: docs/benchmarks.md, or the work dir with --quick).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub struct BenchContext {
    /// The `transcoder` binary every section runs.
    pub transcoder: PathBuf,
    pub quick: bool,
    pub media_seconds: u32,
    /// Interleaved rounds of section 1's variants.
    pub rounds: u32,
    /// Section 1's cases, by slug.
    pub media_cases: Vec<String>,
    /// Generated sources, kept between runs (each service gets its own link to one).
    pub media_dir: PathBuf,
    /// Scratch space for outputs and service data dirs.
    pub scratch: PathBuf,
}

impl BenchContext {
    /// Generates `name` once (written aside, then renamed) and returns its path.
    pub async fn clip(&self, name: &str, spec: ClipSpec) -> anyhow::Result<PathBuf> {
        let path = self.media_dir.join(name);
        if !path.exists() {
            let partial = self.media_dir.join(format!("partial-{name}"));
            let target = partial.clone();
            eprintln!(
                "generating {name} ({}x{}, {} s) ...",
                spec.width, spec.height, spec.seconds
            );
            tokio::task::spawn_blocking(move || generate_clip(&target, &spec)).await??;
            std::fs::rename(&partial, &path)?;
        }
        Ok(path)
    }

    /// 1 s, 320x180, with audio: for the control-plane sections.
    pub async fn tiny_clip(&self) -> anyhow::Result<PathBuf> {
        let spec = ClipSpec {
            seconds: 1,
            width: 320,
            height: 180,
            ..ClipSpec::default()
        };
        self.clip("tiny-1s-320x180.mp4", spec).await
    }

    /// `seconds` of 1280x720 with audio, easy to compress: a job that lasts a while.
    pub async fn long_clip(&self, seconds: u32) -> anyhow::Result<PathBuf> {
        let spec = ClipSpec {
            seconds,
            width: 1280,
            height: 720,
            ..ClipSpec::default()
        };
        self.clip(&format!("long-{seconds}s-1280x720.mp4"), spec)
            .await
    }

    pub fn fresh_scratch(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = self.scratch.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(dir.canonicalize()?)
    }
}

/// The `transcoder` binary beside this one, as `cargo build --workspace` leaves it.
fn sibling_transcoder() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me.parent().context("this binary has a directory")?;
    Ok(dir.join("transcoder"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    run(<BenchArgs as clap::Parser>::parse()).await
}

async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let binary = match args.transcoder {
        Some(path) => path,
        None => sibling_transcoder()?,
    };
    anyhow::ensure!(
        binary.is_file(),
        "no `transcoder` binary at {} (build it: `cargo build --workspace --bins`, or pass \
         --transcoder PATH)",
        binary.display()
    );
    let binary = binary.canonicalize()?;
    eprintln!("service under test: {}", binary.display());
    transcoder::media::init()?;
    let media_dir = args.work_dir.join("media");
    std::fs::create_dir_all(&media_dir)?;
    let ctx = BenchContext {
        transcoder: binary,
        quick: args.quick,
        media_seconds: if args.quick { 2 } else { args.media_seconds },
        rounds: if args.quick { 1 } else { args.rounds.max(1) },
        media_cases: args.media_cases,
        media_dir: media_dir.canonicalize()?,
        scratch: args.work_dir.join("scratch"),
    };
    let command = std::env::args()
        .skip(1)
        .fold("transcoder-bench".to_string(), |acc, a| acc + " " + &a);
    let mut sections: Vec<(u8, &str, SectionResult)> = Vec::new();
    let titles = [
        (1, "1. Media throughput"),
        (2, "2. Concurrency"),
        (3, "3. Control plane"),
        (4, "4. WatchJob fan-out"),
        (5, "5. Enqueue-to-start latency"),
        (6, "6. Scale-out: separate processes on PostgreSQL"),
    ];
    for (number, title) in titles {
        if !args.sections.contains(&number) {
            continue;
        }
        eprintln!("running {title} ...");
        let result = match number {
            1 => media::run(&ctx).await,
            2 => concurrency::run(&ctx).await,
            3 => control_plane::run(&ctx).await,
            4 => fanout::run(&ctx).await,
            5 => start_latency::run(&ctx).await,
            _ => scale_out::run(&ctx).await,
        }
        .with_context(|| format!("section {title}"))?;
        for table in &result.tables {
            table.print();
        }
        sections.push((number, title, result));
    }
    let checks: Vec<_> = sections
        .iter_mut()
        .flat_map(|s| s.2.checks.drain(..))
        .collect();
    let summary = report::targets_table(&checks, &command);
    summary.print();
    let out = args.out.unwrap_or_else(|| {
        if args.quick {
            args.work_dir.join("benchmarks-quick.md")
        } else {
            PathBuf::from("docs/benchmarks.md")
        }
    });
    write_markdown(&out, &ctx, &command, &summary, &sections)?;
    println!("\nreport written to {}", out.display());
    Ok(())
}

fn write_markdown(
    out: &Path,
    ctx: &BenchContext,
    command: &str,
    summary: &Table,
    sections: &[(u8, &str, SectionResult)],
) -> anyhow::Result<()> {
    let mut md = String::from("# Benchmarks\n\n");
    md += &format!(
        "Produced by `{command}` ({} mode). Regenerate with `make bench`; `make bench-quick` \
         runs the same harness on tiny inputs as part of `make test` (its figures mean \
         nothing).\n\n## Machine\n\n{}\n## Summary\n\n{}\n",
        if ctx.quick { "quick" } else { "full" },
        machine::describe(),
        summary.markdown()
    );
    for (_, title, result) in sections {
        md += &format!("## {title}\n\n");
        for table in &result.tables {
            md += &table.markdown();
            md.push('\n');
        }
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, md)?;
    Ok(())
}
