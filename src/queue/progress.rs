//! Turns pipeline samples into transcoding progress ticks: the job's percent follows the
//! slowest rendition, and each output gets its own percent (a ladder, its slowest rung's).

use crate::domain::event::OutputProgress;
use crate::domain::{Phase, ProgressTick};
use crate::media::runner::{BranchSample, ProgressSample};
use std::time::Duration;

/// Percent (0..=100) of `position` through `total`; 0 when the length is unknown.
fn percent_of(position: Duration, total: Duration) -> f64 {
    if total.is_zero() {
        return 0.0;
    }
    (100.0 * position.as_secs_f64() / total.as_secs_f64()).clamp(0.0, 100.0)
}

/// Each output's progress, in output order. `rendition_outputs[i]` is the output the
/// sample's i-th rendition belongs to; `labels` are the order's output labels. Outputs
/// with no rendition in the sample are left out.
pub fn output_progress(
    sample: &ProgressSample,
    rendition_outputs: &[usize],
    labels: &[String],
    duration: Duration,
) -> Vec<OutputProgress> {
    let elapsed = sample.elapsed.as_secs_f64().max(1e-3);
    labels
        .iter()
        .enumerate()
        .filter_map(|(output, label)| {
            let slowest = sample
                .renditions
                .iter()
                .zip(rendition_outputs)
                .filter(|(_, owner)| **owner == output)
                .map(|(branch, _)| *branch)
                .min_by_key(|branch: &BranchSample| branch.position)?;
            Some(OutputProgress {
                label: label.clone(),
                percent: percent_of(slowest.position, duration),
                fps: slowest.units as f64 / elapsed,
            })
        })
        .collect()
}

/// The transcoding phase's tick for `sample`, with every output's own progress.
pub fn transcoding_tick(
    sample: &ProgressSample,
    rendition_outputs: &[usize],
    labels: &[String],
    duration: Duration,
) -> ProgressTick {
    let elapsed = sample.elapsed.as_secs_f64().max(1e-3);
    let done = sample.position.as_secs_f64();
    let total = duration.as_secs_f64();
    let speed = done / elapsed;
    ProgressTick {
        phase: Phase::Transcoding,
        percent: Phase::Transcoding.overall_percent(percent_of(sample.position, duration) / 100.0),
        output_label: String::new(),
        fps: sample.units as f64 / elapsed,
        speed,
        eta_seconds: if speed > 0.0 {
            ((total - done) / speed).max(0.0)
        } else {
            0.0
        },
        outputs: output_progress(sample, rendition_outputs, labels, duration),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(seconds: f64, units: u64) -> BranchSample {
        BranchSample {
            position: Duration::from_secs_f64(seconds),
            units,
        }
    }

    fn sample(renditions: Vec<BranchSample>) -> ProgressSample {
        let slowest = renditions.iter().min_by_key(|b| b.position).copied();
        ProgressSample {
            position: slowest.unwrap_or_default().position,
            units: slowest.unwrap_or_default().units,
            elapsed: Duration::from_secs(2),
            renditions,
        }
    }

    #[test]
    fn each_output_has_its_own_percent_and_a_ladder_its_slowest_rungs() {
        let labels = ["film".to_owned(), "ladder".to_owned(), "sound".to_owned()];
        // film; ladder's 720p, 360p and audio rungs; sound.
        let owners = [0, 1, 1, 1, 2];
        let s = sample(vec![
            branch(2.0, 60),
            branch(1.0, 30),
            branch(3.0, 90),
            branch(8.0, 375),
            branch(10.0, 470),
        ]);
        let outputs = output_progress(&s, &owners, &labels, Duration::from_secs(10));
        let got: Vec<_> = outputs
            .iter()
            .map(|o| (o.label.as_str(), o.percent, o.fps))
            .collect();
        assert_eq!(
            got,
            [
                ("film", 20.0, 30.0),
                ("ladder", 10.0, 15.0),
                ("sound", 100.0, 235.0)
            ]
        );
    }

    #[test]
    fn the_job_follows_the_slowest_output() {
        let labels = ["a".to_owned(), "b".to_owned()];
        let s = sample(vec![branch(5.0, 150), branch(2.5, 75)]);
        let tick = transcoding_tick(&s, &[0, 1], &labels, Duration::from_secs(10));
        assert_eq!(tick.percent, Phase::Transcoding.overall_percent(0.25));
        assert_eq!(tick.outputs[0].percent, 50.0);
        assert_eq!(tick.outputs[1].percent, 25.0);
        assert_eq!(tick.speed, 1.25);
        assert_eq!(tick.eta_seconds, 6.0);
    }

    #[test]
    fn an_unknown_length_reports_zero_and_overshoot_is_capped() {
        let labels = ["a".to_owned()];
        let s = sample(vec![branch(12.0, 1)]);
        let unknown = output_progress(&s, &[0], &labels, Duration::ZERO);
        assert_eq!(unknown[0].percent, 0.0);
        let past_end = output_progress(&s, &[0], &labels, Duration::from_secs(10));
        assert_eq!(past_end[0].percent, 100.0);
        // An output whose branches are not in the sample is left out.
        assert!(output_progress(&s, &[1], &labels, Duration::from_secs(10)).is_empty());
    }
}
