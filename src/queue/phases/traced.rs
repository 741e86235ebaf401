//! What each phase's span records, where it is cheap to know: bytes in and out, media
//! seconds, the transcode's realtime factor. Trace attributes only (no log line).

use super::Attempt;
use crate::domain::Phase;
use crate::telemetry::jobs::float;
use opentelemetry::KeyValue;
use std::time::Duration;

/// Known before the phase runs (the upload phase consumes what it uploads).
pub(super) fn before(phase: Phase, at: &Attempt<'_>) -> Vec<KeyValue> {
    match phase {
        Phase::Uploading => at
            .produced
            .as_ref()
            .map(|produced| {
                let bytes: u64 = produced.results.iter().map(|w| w.media.size_bytes).sum();
                let files: usize = produced.results.iter().map(|w| w.files.len()).sum();
                vec![
                    KeyValue::new("job.bytes_out", saturating_i64(bytes)),
                    KeyValue::new("job.files_out", files as i64),
                    KeyValue::new("job.destinations", at.job.order.destinations.len() as i64),
                ]
            })
            .unwrap_or_default(),
        Phase::Notifying => vec![KeyValue::new(
            "job.notifications",
            at.job.order.notifications.len() as i64,
        )],
        _ => Vec::new(),
    }
}

/// Known once the phase succeeded, `took` after it started.
pub(super) async fn after(phase: Phase, at: &Attempt<'_>, took: Duration) -> Vec<KeyValue> {
    match phase {
        Phase::Downloading => match at.source.as_deref() {
            Some(source) => match tokio::fs::metadata(source).await {
                Ok(meta) => vec![KeyValue::new("job.bytes_in", saturating_i64(meta.len()))],
                Err(_) => Vec::new(),
            },
            None => Vec::new(),
        },
        Phase::Probing => at
            .info
            .as_ref()
            .map(|info| {
                let mut attributes = vec![
                    float("media.duration_seconds", info.duration_seconds),
                    KeyValue::new("media.container", info.container.clone()),
                ];
                if let Some(video) = &info.video {
                    attributes.push(KeyValue::new("media.width", i64::from(video.width)));
                    attributes.push(KeyValue::new("media.height", i64::from(video.height)));
                }
                attributes
            })
            .unwrap_or_default(),
        Phase::Transcoding => {
            let media_seconds = at.info.as_ref().map_or(0.0, |i| i.duration_seconds);
            let mut attributes = vec![
                float("media.duration_seconds", media_seconds),
                KeyValue::new("job.outputs", at.job.outputs.len() as i64),
            ];
            if let Some(factor) = realtime_factor(media_seconds, took) {
                attributes.push(float("job.realtime_factor", factor));
            }
            attributes
        }
        _ => Vec::new(),
    }
}

/// Media seconds encoded per wall-clock second.
fn realtime_factor(media_seconds: f64, took: Duration) -> Option<f64> {
    let wall = took.as_secs_f64();
    (media_seconds > 0.0 && wall > 0.0).then(|| media_seconds / wall)
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::realtime_factor;
    use std::time::Duration;

    #[test]
    fn realtime_factor_is_media_seconds_per_wall_second() {
        assert_eq!(realtime_factor(10.0, Duration::from_secs(4)), Some(2.5));
        assert_eq!(realtime_factor(0.0, Duration::from_secs(4)), None);
        assert_eq!(realtime_factor(10.0, Duration::ZERO), None);
    }
}
