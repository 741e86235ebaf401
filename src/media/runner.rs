//! Runs a built pipeline to EOS on tokio: bus messages, progress sampling, a stall
//! watchdog, and cancellation. The pipeline is set to `Null` however the run ends.

use super::MediaError;
use super::classify::classify_bus_error;
use super::pipeline::BuiltPipeline;
use futures::StreamExt;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How far one rendition's encoder has got.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BranchSample {
    pub position: Duration,
    /// Frames (or audio buffers, for an audio-only rendition) encoded so far.
    pub units: u64,
}

/// A progress reading of the whole pipeline: the slowest output decides `position` and
/// `units`; `renditions` has each one's own, in plan order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProgressSample {
    pub position: Duration,
    /// Frames (or audio buffers) the slowest output has encoded.
    pub units: u64,
    pub elapsed: Duration,
    pub renditions: Vec<BranchSample>,
}

#[derive(Debug, Clone)]
pub struct RunLimits {
    pub progress_interval: Duration,
    pub stall_timeout: Duration,
    /// Where the probe says the source ends; used to detect truncated input.
    pub expected_duration: Duration,
}

/// Sets the pipeline to `Null` when dropped, so no path leaves it running; on a runtime
/// the (blocking) change is made on the blocking pool, so that dropping a run (its job
/// past its deadline) never blocks an async worker.
struct NullOnDrop(Option<gst::Pipeline>);

impl NullOnDrop {
    /// The pipeline, for the caller to stop and wait for.
    fn disarm(mut self) -> gst::Pipeline {
        self.0.take().expect("armed until disarmed")
    }
}

impl Drop for NullOnDrop {
    fn drop(&mut self) {
        let Some(pipeline) = self.0.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || pipeline.set_state(gst::State::Null));
            }
            Err(_) => {
                let _ = pipeline.set_state(gst::State::Null);
            }
        }
    }
}

fn sample(built: &BuiltPipeline, started: Instant) -> ProgressSample {
    let renditions: Vec<BranchSample> = built
        .progress
        .iter()
        .map(|p| BranchSample {
            position: Duration::from_nanos(p.position_ns.load(Ordering::Relaxed)),
            units: p.units.load(Ordering::Relaxed),
        })
        .collect();
    let slowest = renditions
        .iter()
        .min_by_key(|r| r.position)
        .copied()
        .unwrap_or_default();
    ProgressSample {
        position: slowest.position,
        units: slowest.units,
        elapsed: started.elapsed(),
        renditions,
    }
}

/// Plays `built` to the end. `on_progress` is called every `progress_interval`.
pub async fn run(
    built: BuiltPipeline,
    limits: RunLimits,
    cancel: CancellationToken,
    mut on_progress: impl FnMut(ProgressSample),
) -> Result<ProgressSample, MediaError> {
    let guard = NullOnDrop(Some(built.pipeline.clone()));
    let bus = built.pipeline.bus().expect("a pipeline has a bus");
    let mut messages = bus.stream();
    let pipeline = built.pipeline.clone();
    tokio::task::spawn_blocking(move || pipeline.set_state(gst::State::Playing))
        .await
        .map_err(|e| MediaError::System(e.to_string()))?
        .map_err(|_| MediaError::System("the pipeline refused to start".into()))?;

    let started = Instant::now();
    let mut ticker = tokio::time::interval(limits.progress_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_position = Duration::ZERO;
    let mut last_advance = Instant::now();

    let outcome = loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else {
                    break Err(MediaError::System("the bus closed before the end".into()));
                };
                match message.view() {
                    gst::MessageView::Eos(_) => break Ok(()),
                    gst::MessageView::Error(err) => {
                        break Err(classify_bus_error(err, &built.decode_side));
                    }
                    gst::MessageView::Warning(w) => {
                        tracing::warn!(warning = %w.error(), debug = ?w.debug(), "pipeline warning");
                    }
                    _ => {}
                }
            }
            _ = ticker.tick() => {
                let now = sample(&built, started);
                if now.position > last_position {
                    last_position = now.position;
                    last_advance = Instant::now();
                } else if last_advance.elapsed() > limits.stall_timeout {
                    break Err(MediaError::Stalled(limits.stall_timeout.as_secs()));
                }
                on_progress(now);
            }
            _ = cancel.cancelled() => break Err(MediaError::Canceled),
        }
    };

    // Null blocks while streaming threads stop; keep that off the async workers, and
    // wait for it so the outputs are closed before anyone reads them.
    let pipeline = guard.disarm();
    let _ = tokio::task::spawn_blocking(move || pipeline.set_state(gst::State::Null))
        .await
        .map_err(|e| MediaError::System(e.to_string()))?;
    outcome?;

    let last = sample(&built, started);
    check_not_truncated(last.position, limits.expected_duration)?;
    Ok(last)
}

/// A source whose streams stop well before the duration its header declares is truncated.
pub fn check_not_truncated(reached: Duration, expected: Duration) -> Result<(), MediaError> {
    let tolerance = Duration::from_secs(1).max(expected / 20);
    if expected > tolerance && reached + tolerance < expected {
        return Err(MediaError::InvalidMedia(format!(
            "the source ends at {:.1} s but declares {:.1} s: it is truncated or corrupt",
            reached.as_secs_f64(),
            expected.as_secs_f64()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real pipeline whose source never produces: the watchdog ends it as stalled.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pipeline_that_makes_no_progress_is_stopped_as_stalled() {
        crate::media::init().unwrap();
        let pipeline = gst::parse::launch("appsrc is-live=true ! fakesink")
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        let built = BuiltPipeline {
            pipeline: pipeline.clone(),
            decode_side: Vec::new(),
            progress: vec![Default::default()],
        };
        let limits = RunLimits {
            progress_interval: Duration::from_millis(50),
            stall_timeout: Duration::from_secs(1),
            expected_duration: Duration::from_secs(5),
        };
        let started = Instant::now();
        let run = run(built, limits, CancellationToken::new(), |_| {});
        let outcome = tokio::time::timeout(Duration::from_secs(20), run)
            .await
            .expect("the watchdog fires within its timeout");
        assert_eq!(outcome.unwrap_err(), MediaError::Stalled(1));
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert_eq!(pipeline.current_state(), gst::State::Null);
    }

    #[test]
    fn truncation_is_detected_beyond_tolerance() {
        let s = Duration::from_secs_f64;
        assert!(check_not_truncated(s(4.97), s(5.0)).is_ok());
        assert!(check_not_truncated(s(2.0), s(5.0)).is_err());
        assert!(check_not_truncated(s(0.0), s(0.5)).is_ok());
    }
}
