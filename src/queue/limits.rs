//! The source limits, checked on the probe's findings before anything is decoded, and
//! the job deadline that follows from the source's duration. Each refusal names the
//! setting and the value that broke it, so an operator knows what to raise.

use crate::config::Limits;
use crate::domain::MediaInfo;
use crate::error::{Error, ErrorCode};
use std::time::Duration;

fn exceeded(what: String, setting: &str, limit: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::LimitExceeded,
        format!("{what}, over limits.{setting} = {limit}"),
    )
}

/// Refuses a source over any limit (file size, duration, pixels per frame, streams),
/// then a still image: a picture is not a video, whatever its file is named.
pub fn check_source(info: &MediaInfo, limits: &Limits) -> Result<(), Error> {
    if info.size_bytes > limits.max_source_bytes {
        return Err(exceeded(
            format!("the source has {} bytes", info.size_bytes),
            "max_source_bytes",
            limits.max_source_bytes,
        ));
    }
    if info.duration_seconds > limits.max_duration_seconds {
        return Err(exceeded(
            format!("the source lasts {:.1} s", info.duration_seconds),
            "max_duration_seconds",
            limits.max_duration_seconds,
        ));
    }
    if let Some(v) = &info.video {
        let pixels = u64::from(v.width) * u64::from(v.height);
        if pixels > limits.max_pixels {
            return Err(exceeded(
                format!("the source is {}x{} ({pixels} pixels)", v.width, v.height),
                "max_pixels",
                limits.max_pixels,
            ));
        }
    }
    if info.stream_count > limits.max_streams {
        return Err(exceeded(
            format!("the source has {} streams", info.stream_count),
            "max_streams",
            limits.max_streams,
        ));
    }
    check_not_still_image(info)
}

/// A source whose container is a picture format (PNG, JPEG, a one-frame GIF) and that
/// lasts no time: it would otherwise come out as a one-frame video.
fn check_not_still_image(info: &MediaInfo) -> Result<(), Error> {
    let caps = if info.container_caps.is_empty() {
        &info.container
    } else {
        &info.container_caps
    };
    let Some(format) = caps.strip_prefix("image/") else {
        return Ok(());
    };
    if info.duration_seconds > 0.0 {
        return Ok(());
    }
    let found = info
        .video
        .as_ref()
        .map(|v| v.codec_description.as_str())
        .filter(|d| !d.is_empty())
        .map_or_else(|| format.to_uppercase(), str::to_owned);
    Err(Error::new(
        ErrorCode::InvalidMedia,
        format!("the source is a still image ({found}), not a video"),
    ))
}

/// How long a job on a source of `duration_seconds` may run:
/// `job_deadline_floor_seconds + job_deadline_factor x duration`.
pub fn job_budget(duration_seconds: f64, limits: &Limits) -> Duration {
    let proportional = (limits.job_deadline_factor * duration_seconds.max(0.0)).max(0.0);
    let floor = Duration::from_secs(limits.job_deadline_floor_seconds);
    // A factor so large it overflows means no practical deadline.
    floor.saturating_add(Duration::try_from_secs_f64(proportional).unwrap_or(Duration::MAX))
}

/// The TIMEOUT a job past its deadline fails with: the same source would take as long
/// again, so it is not retried.
pub fn deadline_passed(budget: Duration, duration_seconds: f64, limits: &Limits) -> Error {
    Error::new(
        ErrorCode::Timeout,
        format!(
            "the job did not finish within its deadline of {:.1} s \
             (limits.job_deadline_floor_seconds = {} + limits.job_deadline_factor = {} x {:.1} s of source)",
            budget.as_secs_f64(),
            limits.job_deadline_floor_seconds,
            limits.job_deadline_factor,
            duration_seconds
        ),
    )
    .retryable(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::domain::media_info::VideoStreamInfo;

    fn source() -> MediaInfo {
        MediaInfo {
            duration_seconds: 10.0,
            size_bytes: 1000,
            stream_count: 2,
            video: Some(VideoStreamInfo {
                width: 1920,
                height: 1080,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn each_limit_is_named_with_the_value_that_broke_it() {
        let limits = Settings::default().limits;
        assert!(check_source(&source(), &limits).is_ok());
        type Tighten = fn(&mut Limits);
        let cases: [(&str, Tighten, &str); 4] = [
            (
                "max_source_bytes",
                |l| l.max_source_bytes = 999,
                "1000 bytes",
            ),
            (
                "max_duration_seconds",
                |l| l.max_duration_seconds = 9.5,
                "10.0 s",
            ),
            ("max_pixels", |l| l.max_pixels = 1280 * 720, "1920x1080"),
            ("max_streams", |l| l.max_streams = 1, "2 streams"),
        ];
        for (setting, tighten, value) in cases {
            let mut tight = limits.clone();
            tighten(&mut tight);
            let error = check_source(&source(), &tight).unwrap_err();
            assert_eq!(error.code, ErrorCode::LimitExceeded);
            assert!(!error.retryable);
            assert!(
                error.message.contains(&format!("limits.{setting}")),
                "{error}"
            );
            assert!(error.message.contains(value), "{error}");
        }
    }

    #[test]
    fn a_still_image_is_refused_naming_what_was_found() {
        let limits = Settings::default().limits;
        let png = MediaInfo {
            duration_seconds: 0.0,
            container: "image/png".into(),
            container_caps: "image/png".into(),
            video: Some(VideoStreamInfo {
                codec: "png".into(),
                codec_description: "PNG".into(),
                width: 320,
                height: 240,
                ..Default::default()
            }),
            ..source()
        };
        let error = check_source(&png, &limits).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidMedia);
        assert!(!error.retryable);
        assert!(
            error.message.contains("a still image (PNG), not a video"),
            "{error}"
        );
        let animation = MediaInfo {
            duration_seconds: 2.0,
            container_caps: "image/gif".into(),
            ..png
        };
        assert!(check_source(&animation, &limits).is_ok());
    }

    #[test]
    fn the_budget_is_a_floor_plus_a_share_of_the_duration() {
        let mut limits = Settings::default().limits;
        limits.job_deadline_floor_seconds = 60;
        limits.job_deadline_factor = 3.0;
        assert_eq!(job_budget(10.0, &limits), Duration::from_secs(90));
        assert_eq!(job_budget(0.0, &limits), Duration::from_secs(60));
        limits.job_deadline_factor = f64::MAX;
        assert_eq!(job_budget(10.0, &limits), Duration::MAX);
        let error = deadline_passed(Duration::from_secs(90), 10.0, &limits);
        assert_eq!(error.code, ErrorCode::Timeout);
        assert!(!error.retryable);
    }
}
