//! Pure planning: what each output branch encodes, from the profile and the probed
//! source. No GStreamer calls here, so every rule is unit-tested.

use super::MediaError;
use crate::domain::MediaInfo;
use crate::domain::order::OutputSpec;
use std::path::PathBuf;

/// x264's speed/quality trade-off for every profile, for now.
pub const X264_SPEED_PRESET: &str = "medium";

#[derive(Debug, Clone, PartialEq)]
pub struct VideoPlan {
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub codec_profile: &'static str,
    pub keyframe_interval_frames: u32,
    pub threads: u32,
    pub speed_preset: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AudioPlan {
    pub bitrate_bps: u32,
    pub channels: u32,
    pub sample_rate: u32,
}

/// One output branch of the job's pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    pub label: String,
    pub path: PathBuf,
    pub video: Option<VideoPlan>,
    pub audio: Option<AudioPlan>,
}

/// Fits `src` (display dimensions) inside `max_w` x `max_h`, keeping the aspect ratio,
/// rounded to even numbers as 4:2:0 chroma needs.
pub fn fit_dimensions(src_w: u32, src_h: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let (box_w, box_h) = (floor_even(max_w), floor_even(max_h));
    if src_w == 0 || src_h == 0 {
        return (box_w, box_h);
    }
    let scale = (max_w as f64 / src_w as f64).min(max_h as f64 / src_h as f64);
    let w = round_even(src_w as f64 * scale).min(box_w);
    let h = round_even(src_h as f64 * scale).min(box_h);
    (w, h)
}

fn round_even(v: f64) -> u32 {
    ((v / 2.0).round() as u32 * 2).max(2)
}

fn floor_even(v: u32) -> u32 {
    (v / 2 * 2).max(2)
}

/// min(source, profile) when the profile restricts bitrate and the source's is known.
pub fn effective_kbps(profile_kbps: u32, source_bps: u64, restrict: bool) -> u32 {
    let source_kbps = (source_bps / 1000) as u32;
    if restrict && source_kbps > 0 {
        profile_kbps.min(source_kbps.max(100))
    } else {
        profile_kbps
    }
}

/// Plans every output, or says which output the source cannot feed.
pub fn plan_renditions(
    outputs: &[OutputSpec],
    source: &MediaInfo,
    work_dir: &std::path::Path,
    encoder_threads: u32,
) -> Result<Vec<Rendition>, MediaError> {
    if source.video.is_none() && source.audio.is_none() {
        return Err(MediaError::InvalidMedia(
            "the source has neither video nor audio".into(),
        ));
    }
    outputs
        .iter()
        .map(|out| {
            let p = &out.profile;
            let video = match (&p.video, &source.video) {
                (Some(v), Some(src)) => {
                    let (width, height) = fit_dimensions(src.width, src.height, v.width, v.height);
                    let fps = if src.frame_rate > 0.0 {
                        src.frame_rate
                    } else {
                        30.0
                    };
                    Some(VideoPlan {
                        width,
                        height,
                        bitrate_kbps: effective_kbps(
                            v.bitrate_kbps,
                            src.bitrate_bps,
                            p.restrict_bitrate,
                        ),
                        codec_profile: v.codec_profile.as_str(),
                        keyframe_interval_frames: ((fps * v.keyframe_interval_seconds).round()
                            as u32)
                            .max(1),
                        threads: encoder_threads,
                        speed_preset: X264_SPEED_PRESET,
                    })
                }
                _ => None,
            };
            let audio = match (&p.audio, &source.audio) {
                (Some(a), Some(_)) => Some(AudioPlan {
                    bitrate_bps: a.bitrate_kbps * 1000,
                    channels: a.channels,
                    sample_rate: a.sample_rate,
                }),
                _ => None,
            };
            if video.is_none() && audio.is_none() {
                let needs = if p.video.is_some() {
                    "a video stream"
                } else {
                    "an audio stream"
                };
                return Err(MediaError::Unsupported(format!(
                    "output '{}' needs {needs}, and the source has none",
                    out.label
                )));
            }
            Ok(Rendition {
                label: out.label.clone(),
                path: work_dir.join(&out.filename),
                video,
                audio,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_inside_the_box_keeping_aspect() {
        assert_eq!(fit_dimensions(640, 360, 1280, 720), (1280, 720));
        assert_eq!(fit_dimensions(640, 360, 854, 480), (854, 480));
        assert_eq!(fit_dimensions(1920, 1080, 640, 360), (640, 360));
        // Portrait source in a landscape box: height bound.
        assert_eq!(fit_dimensions(1080, 1920, 1280, 720), (406, 720));
        // 4:3 source in a 16:9 box.
        assert_eq!(fit_dimensions(640, 480, 1280, 720), (960, 720));
    }

    #[test]
    fn dimensions_are_even() {
        let (w, h) = fit_dimensions(641, 361, 641, 361);
        assert_eq!((w % 2, h % 2), (0, 0));
    }

    #[test]
    fn bitrate_is_capped_by_the_source_when_restricted() {
        assert_eq!(effective_kbps(2800, 1_000_000, true), 1000);
        assert_eq!(effective_kbps(2800, 1_000_000, false), 2800);
        assert_eq!(effective_kbps(2800, 0, true), 2800);
        assert_eq!(effective_kbps(700, 5_000_000, true), 700);
    }
}
