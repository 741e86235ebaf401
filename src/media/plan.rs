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
    /// Index of the rendition whose scaled frames this one scales down from, instead of
    /// from the decoded source (see `assign_scale_sources`).
    pub scale_from: Option<usize>,
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
    let mut renditions = outputs
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
                        scale_from: None,
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
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(src) = &source.video {
        assign_scale_sources(&mut renditions, (src.width, src.height));
    }
    Ok(renditions)
}

/// Cascades a ladder: each video rendition scales from the smallest other rendition
/// that is larger, has the same shape, and is itself downscaled from the source (so the
/// parent's scaler does real work that the child reuses). 1080p -> 720p -> 480p scales
/// 2.6 Mpx less per 1080p frame than scaling both from the source, and the two gentler
/// steps (1.5x each) lose less detail than one 2.25x step (docs/benchmarks.md).
pub fn assign_scale_sources(renditions: &mut [Rendition], source: (u32, u32)) {
    let dims: Vec<Option<(u32, u32)>> = renditions
        .iter()
        .map(|r| r.video.as_ref().map(|v| (v.width, v.height)))
        .collect();
    let area = |(w, h): (u32, u32)| u64::from(w) * u64::from(h);
    for (child, rendition) in renditions.iter_mut().enumerate() {
        let Some(video) = rendition.video.as_mut() else {
            continue;
        };
        let own = (video.width, video.height);
        video.scale_from = dims
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.map(|d| (i, d)))
            .filter(|&(i, parent)| {
                i != child
                    && parent.0 >= own.0
                    && parent.1 >= own.1
                    && parent != own
                    && area(parent) < area(source)
                    && same_shape(parent, own)
            })
            .min_by_key(|&(i, parent)| (area(parent), i))
            .map(|(i, _)| i);
    }
}

/// Whether some rendition scales from rendition `index`'s scaled frames.
pub fn is_scale_source(renditions: &[Rendition], index: usize) -> bool {
    renditions
        .iter()
        .any(|r| r.video.as_ref().and_then(|v| v.scale_from) == Some(index))
}

/// Aspect ratios within 1% (even rounding moves 854x480 off 16:9 by 0.08%).
fn same_shape(a: (u32, u32), b: (u32, u32)) -> bool {
    let cross_a = f64::from(a.0) * f64::from(b.1);
    let cross_b = f64::from(b.0) * f64::from(a.1);
    (cross_a - cross_b).abs() <= 0.01 * cross_a.max(cross_b)
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

    fn video_rendition(label: &str, width: u32, height: u32) -> Rendition {
        Rendition {
            label: label.into(),
            path: PathBuf::from(label),
            video: Some(VideoPlan {
                width,
                height,
                bitrate_kbps: 1000,
                codec_profile: "high",
                keyframe_interval_frames: 60,
                threads: 1,
                speed_preset: X264_SPEED_PRESET,
                scale_from: None,
            }),
            audio: None,
        }
    }

    fn scale_sources(renditions: &[Rendition]) -> Vec<Option<usize>> {
        renditions
            .iter()
            .map(|r| r.video.as_ref().and_then(|v| v.scale_from))
            .collect()
    }

    #[test]
    fn a_ladder_cascades_through_its_downscaled_rungs() {
        let mut ladder = vec![
            video_rendition("480p", 854, 480),
            video_rendition("1080p", 1920, 1080),
            video_rendition("720p", 1280, 720),
        ];
        assign_scale_sources(&mut ladder, (1920, 1080));
        // 480p from 720p; 720p from the source, since the 1080p rung does not scale.
        assert_eq!(scale_sources(&ladder), vec![Some(2), None, None]);
    }

    #[test]
    fn no_cascade_across_shapes_or_between_equal_sizes() {
        let mut outputs = vec![
            video_rendition("square", 720, 720),
            video_rendition("wide", 640, 360),
            video_rendition("wide-again", 640, 360),
        ];
        assign_scale_sources(&mut outputs, (1920, 1080));
        assert_eq!(scale_sources(&outputs), vec![None, None, None]);
    }

    #[test]
    fn bitrate_is_capped_by_the_source_when_restricted() {
        assert_eq!(effective_kbps(2800, 1_000_000, true), 1000);
        assert_eq!(effective_kbps(2800, 1_000_000, false), 2800);
        assert_eq!(effective_kbps(2800, 0, true), 2800);
        assert_eq!(effective_kbps(700, 5_000_000, true), 700);
    }
}
