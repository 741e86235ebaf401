//! A job's events as they arrive: one progress bar per output on a terminal, plain lines
//! when stdout is not one, JSON lines with `--json`.

use super::error::ClientError;
use super::wire;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use transcoder::proto as pb;

enum Mode {
    Bars,
    Plain,
    Json,
}

/// One output's latest figures.
#[derive(Default, Clone, Copy)]
struct Rates {
    percent: f64,
    fps: f64,
    speed: f64,
    eta_seconds: Option<f64>,
}

pub struct Progress {
    mode: Mode,
    job_id: String,
    // Kept so the bars stay drawn together until the end.
    _multi: MultiProgress,
    header: ProgressBar,
    bars: Vec<(String, ProgressBar)>,
    latest: HashMap<String, Rates>,
    /// Plain mode prints a line per output every 10 %.
    printed_decile: HashMap<String, u64>,
}

impl Progress {
    /// Bars for `job`'s outputs (drawn on stdout when it is a terminal).
    pub fn new(job: &pb::Job, json: bool) -> Self {
        let mode = match (json, std::io::stdout().is_terminal()) {
            (true, _) => Mode::Json,
            (false, true) => Mode::Bars,
            (false, false) => Mode::Plain,
        };
        let target = match mode {
            Mode::Bars => ProgressDrawTarget::stdout(),
            _ => ProgressDrawTarget::hidden(),
        };
        let multi = MultiProgress::with_draw_target(target);
        let header = multi.add(ProgressBar::new(100));
        header.set_style(ProgressStyle::with_template("{prefix} {msg}").expect("valid template"));
        header.set_prefix(format!("job {}", job.id));
        header.set_message(wire::job_state(job.state));
        let width = job.outputs.iter().map(|o| o.label.len()).max().unwrap_or(0);
        let style = ProgressStyle::with_template(&format!(
            "  {{prefix:<{width}}} {{bar:30.cyan/blue}} {{pos:>3}}%  {{msg}}"
        ))
        .expect("valid template")
        .progress_chars("=> ");
        let bars = job
            .outputs
            .iter()
            .map(|o| {
                let bar = multi.add(ProgressBar::new(100));
                bar.set_style(style.clone());
                bar.set_prefix(o.label.clone());
                bar.set_message("waiting");
                (o.label.clone(), bar)
            })
            .collect();
        Self {
            mode,
            job_id: job.id.clone(),
            _multi: multi,
            header,
            bars,
            latest: HashMap::new(),
            printed_decile: HashMap::new(),
        }
    }

    /// Shows one event.
    pub fn event(&mut self, event: &pb::JobEvent) -> Result<(), ClientError> {
        use pb::job_event::Kind;
        if let Mode::Json = self.mode {
            return wire::print(&wire::Event::from(event));
        }
        match &event.kind {
            Some(Kind::StateChanged(s)) => {
                let mut state = wire::job_state(s.state);
                if s.phase != pb::JobPhase::Unspecified as i32 {
                    state = format!("{state} ({})", wire::job_phase(s.phase));
                }
                self.header.set_message(state.clone());
                self.plain(format!("job {}: {state}", self.job_id));
            }
            Some(Kind::Progress(p)) if p.outputs.is_empty() => {
                let phase = wire::job_phase(p.phase);
                self.header
                    .set_message(format!("running ({phase}) {:.0}%", p.percent));
            }
            Some(Kind::Progress(p)) => {
                self.header.set_message(format!(
                    "running ({}) {:.0}%",
                    wire::job_phase(p.phase),
                    p.percent
                ));
                for o in &p.outputs {
                    let rates = output_rates(p, o);
                    self.latest.insert(o.label.clone(), rates);
                    if let Some(bar) = self.bar(&o.label) {
                        bar.set_position(o.percent as u64);
                        bar.set_message(describe(&rates));
                    }
                    let decile = o.percent as u64 / 10;
                    if self.printed_decile.get(&o.label) < Some(&decile) {
                        self.printed_decile.insert(o.label.clone(), decile);
                        self.plain(format!(
                            "  {}: {:>3.0}%  {}",
                            o.label,
                            o.percent,
                            describe(&rates)
                        ));
                    }
                }
            }
            Some(Kind::OutputFinished(f)) => {
                let Some(o) = &f.output else { return Ok(()) };
                let succeeded = o.state == pb::OutputState::Succeeded as i32;
                let done = if succeeded { "done" } else { "failed" };
                let rates = self.latest.get(&o.label).copied().unwrap_or_default();
                let summary = format!("{:.0} fps  {:.1}x  {done}", rates.fps, rates.speed);
                if let Some(bar) = self.bar(&o.label) {
                    if succeeded {
                        bar.set_position(100);
                        bar.finish_with_message(summary.clone());
                    } else {
                        bar.abandon_with_message(summary.clone());
                    }
                }
                self.plain(format!("  {}: {summary}", o.label));
            }
            Some(Kind::JobFinished(f)) => {
                let state = wire::job_state(f.state);
                for (_, bar) in &self.bars {
                    if !bar.is_finished() {
                        bar.abandon_with_message(state.clone());
                    }
                }
                // The results table that follows starts with the job's end state.
                self.header.finish_with_message(state);
            }
            _ => {}
        }
        Ok(())
    }

    fn bar(&self, label: &str) -> Option<&ProgressBar> {
        self.bars.iter().find(|(l, _)| l == label).map(|(_, b)| b)
    }

    fn plain(&self, line: String) {
        if let Mode::Plain = self.mode {
            println!("{line}");
        }
    }
}

/// "55 fps  2.1x  ETA 0:03".
fn describe(r: &Rates) -> String {
    let eta = match r.eta_seconds {
        Some(s) if r.percent < 100.0 => {
            let s = s.round() as u64;
            format!("ETA {}:{:02}", s / 60, s % 60)
        }
        Some(_) => "ETA 0:00".to_owned(),
        None => "ETA -".to_owned(),
    };
    format!("{:>4.0} fps  {:>5.1}x  {eta}", r.fps, r.speed)
}

/// One output's speed and ETA. The job's tick gives them for the slowest output; every
/// output reads the same source, so one `p` of the way through is `p / slowest` times
/// as fast, and its time left scales with what it has left.
fn output_rates(tick: &pb::Progress, o: &pb::OutputProgress) -> Rates {
    let share = |percent: f64| (percent / 100.0).clamp(0.0, 1.0);
    let slowest = tick
        .outputs
        .iter()
        .map(|o| share(o.percent))
        .fold(1.0, f64::min);
    let mine = share(o.percent);
    let (speed, eta_seconds) = if slowest <= 0.0 || mine <= 0.0 {
        (tick.speed, None)
    } else if slowest >= 1.0 || mine >= 1.0 {
        (tick.speed * mine / slowest, Some(0.0))
    } else {
        let eta = tick.eta_seconds * (1.0 - mine) / (1.0 - slowest) * slowest / mine;
        (tick.speed * mine / slowest, Some(eta))
    };
    Rates {
        percent: o.percent,
        fps: o.fps,
        speed,
        eta_seconds,
    }
}
