//! The rules that size an encode from its source: fit inside a box without upscaling
//! (unless allowed), and restrict the bitrate to the source's.

use crate::domain::MediaInfo;

/// Fits `src` (display dimensions) inside `max_w` x `max_h`, keeping the aspect ratio,
/// rounded to even numbers as 4:2:0 chroma needs. Without `allow_upscale` a source that
/// already fits keeps its own size (rounded down to even).
pub fn fit_dimensions(
    src_w: u32,
    src_h: u32,
    max_w: u32,
    max_h: u32,
    allow_upscale: bool,
) -> (u32, u32) {
    let (box_w, box_h) = (floor_even(max_w), floor_even(max_h));
    if src_w == 0 || src_h == 0 {
        return (box_w, box_h);
    }
    let mut scale = (max_w as f64 / src_w as f64).min(max_h as f64 / src_h as f64);
    let (mut limit_w, mut limit_h) = (box_w, box_h);
    if !allow_upscale && scale >= 1.0 {
        scale = 1.0;
        (limit_w, limit_h) = (floor_even(src_w).min(box_w), floor_even(src_h).min(box_h));
    }
    let w = round_even(src_w as f64 * scale).min(limit_w);
    let h = round_even(src_h as f64 * scale).min(limit_h);
    (w, h)
}

/// Whether fitting the source into this box would enlarge it.
pub fn would_upscale(src_w: u32, src_h: u32, max_w: u32, max_h: u32) -> bool {
    src_w > 0 && src_h > 0 && (max_w as f64 / src_w as f64).min(max_h as f64 / src_h as f64) > 1.0
}

fn round_even(v: f64) -> u32 {
    ((v / 2.0).round() as u32 * 2).max(2)
}

fn floor_even(v: u32) -> u32 {
    (v / 2 * 2).max(2)
}

/// The lowest bitrate a restricted encode is given, whatever the source's.
pub const MIN_RESTRICTED_KBPS: u32 = 50;

/// The source's video bitrate: the stream's own when the container declares it, else the
/// whole file's (size x 8 / duration, as the probe computes it) less the audio's.
pub fn source_video_bps(info: &MediaInfo) -> u64 {
    let Some(video) = &info.video else { return 0 };
    if video.bitrate_bps > 0 {
        return video.bitrate_bps;
    }
    let audio = info.audio.as_ref().map_or(0, |a| a.bitrate_bps);
    info.bitrate_bps.saturating_sub(audio)
}

/// min(source, profile) when the profile restricts bitrate and the source's is known;
/// the second value says whether the source's bitrate was the smaller.
pub fn effective_kbps(profile_kbps: u32, source_bps: u64, restrict: bool) -> (u32, bool) {
    let source_kbps = u32::try_from(source_bps / 1000).unwrap_or(u32::MAX);
    if restrict && source_kbps > 0 && source_kbps < profile_kbps {
        (source_kbps.max(MIN_RESTRICTED_KBPS), true)
    } else {
        (profile_kbps, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::media_info::{AudioStreamInfo, VideoStreamInfo};

    #[test]
    fn fits_inside_the_box_keeping_aspect() {
        assert_eq!(fit_dimensions(640, 360, 1280, 720, true), (1280, 720));
        assert_eq!(fit_dimensions(1920, 1080, 640, 360, false), (640, 360));
        // Portrait source in a landscape box: height bound.
        assert_eq!(fit_dimensions(1080, 1920, 1280, 720, false), (406, 720));
        // 4:3 source in a 16:9 box.
        assert_eq!(fit_dimensions(640, 480, 1280, 720, true), (960, 720));
    }

    #[test]
    fn never_upscales_unless_allowed() {
        // The example: a 640x272 clip and "Generic 720p".
        assert_eq!(fit_dimensions(640, 272, 1280, 720, false), (640, 272));
        assert_eq!(fit_dimensions(640, 272, 1280, 720, true), (1280, 544));
        // Odd sizes round down, never up past the source.
        assert_eq!(fit_dimensions(641, 361, 1280, 720, false), (640, 360));
        assert!(would_upscale(640, 360, 1280, 720));
        assert!(!would_upscale(1920, 1080, 1280, 720));
    }

    #[test]
    fn dimensions_are_even() {
        let (w, h) = fit_dimensions(641, 361, 641, 361, true);
        assert_eq!((w % 2, h % 2), (0, 0));
    }

    #[test]
    fn bitrate_is_capped_by_the_source_when_restricted() {
        // The seed's rule: 985 kb/s source, 1200 kb/s profile.
        assert_eq!(effective_kbps(1200, 985_000, true), (985, true));
        assert_eq!(effective_kbps(1200, 985_000, false), (1200, false));
        assert_eq!(effective_kbps(2800, 0, true), (2800, false));
        assert_eq!(effective_kbps(700, 5_000_000, true), (700, false));
        assert_eq!(
            effective_kbps(700, 10_000, true),
            (MIN_RESTRICTED_KBPS, true)
        );
    }

    #[test]
    fn an_undeclared_video_bitrate_comes_from_size_over_duration() {
        let mut info = MediaInfo {
            bitrate_bps: 1_128_000,
            video: Some(VideoStreamInfo::default()),
            audio: Some(AudioStreamInfo {
                bitrate_bps: 128_000,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(source_video_bps(&info), 1_000_000);
        info.video.as_mut().unwrap().bitrate_bps = 900_000;
        assert_eq!(source_video_bps(&info), 900_000);
        info.video = None;
        assert_eq!(source_video_bps(&info), 0);
    }
}
