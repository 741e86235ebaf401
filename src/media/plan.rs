//! Pure planning: what each output branch encodes, from the profile and the probed
//! source. No GStreamer calls here, so every rule is unit-tested.

use super::MediaError;
use super::encoders::{AudioEncoder, RateControl, VideoEncoder};
use super::sizing::{effective_kbps, fit_dimensions, source_video_bps, would_upscale};
use crate::domain::MediaInfo;
use crate::domain::encode_settings::EncodeSettings;
use crate::domain::media_info::VideoStreamInfo;
use crate::domain::order::OutputSpec;
use crate::domain::profile::{Container, LadderRung, Profile, SegmentFormat, VideoSettings};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct VideoPlan {
    pub encoder: VideoEncoder,
    pub width: u32,
    pub height: u32,
    pub rate: RateControl,
    /// None keeps the source's frame rate.
    pub frame_rate: Option<f64>,
    pub keyframe_interval_seconds: f64,
    pub keyframe_interval_frames: u32,
    pub threads: u32,
    /// Index of the rendition whose scaled frames this one scales down from, instead of
    /// from the decoded source (see `assign_scale_sources`).
    pub scale_from: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AudioPlan {
    pub encoder: AudioEncoder,
    pub bitrate_bps: u32,
    pub channels: u32,
    pub sample_rate: u32,
}

/// Where one branch's encoded streams go.
#[derive(Debug, Clone, PartialEq)]
pub enum Sink {
    /// One file in `container`.
    File { path: PathBuf, container: Container },
    /// A media playlist and its segments in `dir`.
    Segments {
        dir: PathBuf,
        format: SegmentFormat,
        segment_seconds: f64,
    },
}

/// One encode branch of the job's pipeline: a file, or one rung of a ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    /// The output's label, and the rung's name for a ladder ("hls/720p").
    pub label: String,
    /// The output this branch belongs to (index into the order's outputs).
    pub output: usize,
    pub sink: Sink,
    pub video: Option<VideoPlan>,
    pub audio: Option<AudioPlan>,
}

impl Rendition {
    /// The file written, for a file sink.
    pub fn path(&self) -> Option<&Path> {
        match &self.sink {
            Sink::File { path, .. } => Some(path),
            Sink::Segments { .. } => None,
        }
    }

    /// What the result reports as the settings used.
    pub fn encode_settings(&self) -> EncodeSettings {
        let mut s = EncodeSettings::default();
        if let Some(v) = &self.video {
            v.encoder.describe(&mut s);
            (s.width, s.height) = (v.width, v.height);
            match v.rate {
                RateControl::Bitrate { kbps, capped } => {
                    s.video_bitrate_kbps = kbps;
                    s.bitrate_capped_by_source = capped;
                }
                RateControl::Quality(q) => s.quality = q,
            }
            s.frame_rate = v.frame_rate.unwrap_or(0.0);
            s.keyframe_interval_seconds = v.keyframe_interval_seconds;
        }
        if let Some(a) = &self.audio {
            a.encoder.describe(&mut s);
            s.audio_bitrate_kbps = a.bitrate_bps / 1000;
            s.audio_channels = a.channels;
            s.audio_sample_rate = a.sample_rate;
        }
        s
    }
}

/// An HLS or DASH output: its rungs are renditions of their own; this is what the master
/// playlist (or MPD) is written from once they are done.
#[derive(Debug, Clone, PartialEq)]
pub struct LadderPlan {
    pub output: usize,
    pub container: Container,
    /// The output's tree, written under the work dir.
    pub dir: PathBuf,
    /// The master playlist's (or MPD's) file name inside `dir`: the order's filename.
    pub master: String,
    /// Indexes of its renditions in the job's list, largest first (audio last).
    pub renditions: Vec<usize>,
}

/// Everything one job's pipeline writes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobPlan {
    pub renditions: Vec<Rendition>,
    pub ladders: Vec<LadderPlan>,
}

/// Plans every output, or says which output the source cannot feed.
pub fn plan_outputs(
    outputs: &[OutputSpec],
    source: &MediaInfo,
    work_dir: &Path,
    encoder_threads: u32,
) -> Result<JobPlan, MediaError> {
    if source.video.is_none() && source.audio.is_none() {
        return Err(MediaError::InvalidMedia(
            "the source has neither video nor audio".into(),
        ));
    }
    let mut plan = JobPlan::default();
    for (index, out) in outputs.iter().enumerate() {
        let p = &out.profile;
        needs_streams(p, source, &out.label)?;
        match &p.streaming {
            None => {
                let sink = Sink::File {
                    path: work_dir.join(&out.filename),
                    container: p.container,
                };
                let video = match (&p.video, &source.video) {
                    (Some(v), Some(src)) => Some(video_plan(
                        v,
                        v.bitrate_kbps,
                        (v.width, v.height),
                        p,
                        src,
                        source,
                        encoder_threads,
                    )),
                    _ => None,
                };
                plan.renditions.push(Rendition {
                    label: out.label.clone(),
                    output: index,
                    sink,
                    video,
                    audio: audio_plan(p, source),
                });
            }
            Some(streaming) => {
                let dir = work_dir.join(ladder_dir_name(&out.filename));
                let mut members = Vec::new();
                let (v, src) = match (&p.video, &source.video) {
                    (Some(v), Some(src)) => (v, src),
                    _ => unreachable!("needs_streams checked a ladder's video"),
                };
                let audio = audio_plan(p, source);
                let separate_audio = streaming.segment_format == SegmentFormat::Fmp4;
                for rung in kept_rungs(&streaming.rungs, src, p.allow_upscale) {
                    let mut video = video_plan(
                        v,
                        rung.bitrate_kbps,
                        (rung.width, rung.height),
                        p,
                        src,
                        source,
                        encoder_threads,
                    );
                    video.keyframe_interval_seconds = streaming.segment_seconds;
                    video.keyframe_interval_frames =
                        keyframe_frames(streaming.segment_seconds, video.frame_rate, src);
                    let name = format!("{}p", video.height);
                    members.push(plan.renditions.len());
                    plan.renditions.push(Rendition {
                        label: format!("{}/{name}", out.label),
                        output: index,
                        sink: Sink::Segments {
                            dir: dir.join(&name),
                            format: streaming.segment_format,
                            segment_seconds: streaming.segment_seconds,
                        },
                        video: Some(video),
                        audio: if separate_audio { None } else { audio.clone() },
                    });
                }
                if let (true, Some(audio)) = (separate_audio, audio) {
                    members.push(plan.renditions.len());
                    plan.renditions.push(Rendition {
                        label: format!("{}/audio", out.label),
                        output: index,
                        sink: Sink::Segments {
                            dir: dir.join("audio"),
                            format: streaming.segment_format,
                            segment_seconds: streaming.segment_seconds,
                        },
                        video: None,
                        audio: Some(audio),
                    });
                }
                plan.ladders.push(LadderPlan {
                    output: index,
                    container: p.container,
                    dir,
                    master: out.filename.clone(),
                    renditions: members,
                });
            }
        }
    }
    if let Some(src) = &source.video {
        assign_scale_sources(&mut plan.renditions, (src.width, src.height));
    }
    Ok(plan)
}

pub use crate::domain::media_format::ladder_dir_name;

fn needs_streams(p: &Profile, source: &MediaInfo, label: &str) -> Result<(), MediaError> {
    let has_video = p.video.is_some() && source.video.is_some();
    let has_audio = p.audio.is_some() && source.audio.is_some();
    let missing = if p.streaming.is_some() && source.video.is_none() {
        Some("a video stream")
    } else if !has_video && !has_audio {
        Some(if p.video.is_some() {
            "a video stream"
        } else {
            "an audio stream"
        })
    } else {
        None
    };
    match missing {
        Some(needs) => Err(MediaError::Unsupported(format!(
            "output '{label}' needs {needs}, and the source has none"
        ))),
        None => Ok(()),
    }
}

/// The rungs a source can feed: those that would enlarge it are dropped (unless the
/// profile allows upscaling), but the smallest is always kept.
pub fn kept_rungs(
    rungs: &[LadderRung],
    src: &VideoStreamInfo,
    allow_upscale: bool,
) -> Vec<LadderRung> {
    let mut kept: Vec<LadderRung> = rungs
        .iter()
        .copied()
        .filter(|r| allow_upscale || !would_upscale(src.width, src.height, r.width, r.height))
        .collect();
    if kept.is_empty()
        && let Some(smallest) = rungs
            .iter()
            .min_by_key(|r| u64::from(r.width) * u64::from(r.height))
    {
        kept.push(*smallest);
    }
    kept
}

fn keyframe_frames(seconds: f64, frame_rate: Option<f64>, src: &VideoStreamInfo) -> u32 {
    let fps = frame_rate.unwrap_or(if src.frame_rate > 0.0 {
        src.frame_rate
    } else {
        30.0
    });
    ((fps * seconds).round() as u32).max(1)
}

fn video_plan(
    v: &VideoSettings,
    bitrate_kbps: u32,
    (box_w, box_h): (u32, u32),
    p: &Profile,
    src: &VideoStreamInfo,
    source: &MediaInfo,
    threads: u32,
) -> VideoPlan {
    let (width, height) = fit_dimensions(src.width, src.height, box_w, box_h, p.allow_upscale);
    let rate = match v.quality {
        Some(q) => RateControl::Quality(q),
        None => {
            let (kbps, capped) =
                effective_kbps(bitrate_kbps, source_video_bps(source), p.restrict_bitrate);
            RateControl::Bitrate { kbps, capped }
        }
    };
    VideoPlan {
        encoder: VideoEncoder::for_settings(v),
        width,
        height,
        rate,
        frame_rate: v.frame_rate,
        keyframe_interval_seconds: v.keyframe_interval_seconds,
        keyframe_interval_frames: keyframe_frames(v.keyframe_interval_seconds, v.frame_rate, src),
        threads,
        scale_from: None,
    }
}

fn audio_plan(p: &Profile, source: &MediaInfo) -> Option<AudioPlan> {
    match (&p.audio, &source.audio) {
        (Some(a), Some(_)) => Some(AudioPlan {
            encoder: AudioEncoder::for_codec(a.codec),
            bitrate_bps: a.bitrate_kbps * 1000,
            channels: a.channels,
            sample_rate: a.sample_rate,
        }),
        _ => None,
    }
}

/// Cascades a ladder: each video rendition scales from the smallest other rendition
/// that is larger, has the same shape and frame rate, and is itself downscaled from the
/// source (so the parent's scaler does real work that the child reuses). 1080p -> 720p ->
/// 480p scales 2.6 Mpx less per 1080p frame than scaling both from the source, and the two
/// gentler steps (1.5x each) lose less detail than one 2.25x step (docs/benchmarks.md).
pub fn assign_scale_sources(renditions: &mut [Rendition], source: (u32, u32)) {
    let dims: Vec<Option<(u32, u32, Option<f64>)>> = renditions
        .iter()
        .map(|r| r.video.as_ref().map(|v| (v.width, v.height, v.frame_rate)))
        .collect();
    let area = |(w, h): (u32, u32)| u64::from(w) * u64::from(h);
    for (child, rendition) in renditions.iter_mut().enumerate() {
        let Some(video) = rendition.video.as_mut() else {
            continue;
        };
        let own = (video.width, video.height);
        let own_rate = video.frame_rate;
        video.scale_from = dims
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.map(|(w, h, rate)| (i, (w, h), rate)))
            .filter(|&(i, parent, rate)| {
                i != child
                    && rate == own_rate
                    && parent.0 >= own.0
                    && parent.1 >= own.1
                    && parent != own
                    && area(parent) < area(source)
                    && same_shape(parent, own)
            })
            .min_by_key(|&(i, parent, _)| (area(parent), i))
            .map(|(i, _, _)| i);
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
#[path = "plan_tests.rs"]
pub(crate) mod tests;
