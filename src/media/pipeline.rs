//! Builds one pipeline per job: filesrc -> decodebin -> (video: deinterlace, turn
//! upright) -> tee per stream -> one branch per rendition (queue -> convert/scale[/rate]
//! -> encoder -> parser -> muxer -> filesink, or a segmenting sink for a ladder's rung).
//! Renditions cascade: a smaller one scales from a larger one's scaled frames (plan.rs).

use super::encoders::muxer;
use super::plan::{AudioPlan, Rendition, Sink, VideoPlan, is_scale_source};
use super::video_prep::video_prep;
use super::{MediaError, make, segments};
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How far one output's encoder has got, updated from its streaming thread.
#[derive(Debug, Default)]
pub struct BranchProgress {
    /// Highest presentation time fed to the encoder so far, in nanoseconds.
    pub position_ns: AtomicU64,
    /// Frames (or audio buffers, for audio-only outputs) fed to the encoder so far.
    pub units: AtomicU64,
}

pub struct BuiltPipeline {
    pub pipeline: gst::Pipeline,
    /// Elements that read and decode the source: their stream errors mean bad input.
    pub decode_side: Vec<gst::Element>,
    /// One per rendition, in order.
    pub progress: Vec<Arc<BranchProgress>>,
}

fn sys(e: impl std::fmt::Display) -> MediaError {
    MediaError::System(e.to_string())
}

/// `videoscale`'s method: Catmull-Rom, a bicubic filter whose taps widen with the
/// downscale factor, like ffmpeg's default. The default 2-tap bilinear aliases when
/// downscaling and cost several dB of PSNR against ffmpeg (docs/benchmarks.md).
pub const SCALE_METHOD: &str = "catrom";

fn queue(max_time_ns: u64) -> Result<gst::Element, MediaError> {
    // Behind a tee, the default limits (200 buffers, 10 MB, 1 s) let one deep encoder
    // (x264's lookahead) stall the others: bound by time only.
    let q = make("queue")?;
    q.set_property("max-size-buffers", 0u32);
    q.set_property("max-size-bytes", 0u32);
    q.set_property("max-size-time", max_time_ns);
    Ok(q)
}

fn capsfilter(caps: gst::Caps) -> Result<gst::Element, MediaError> {
    let f = make("capsfilter")?;
    f.set_property("caps", caps);
    Ok(f)
}

fn add_and_link(pipeline: &gst::Pipeline, chain: &[gst::Element]) -> Result<(), MediaError> {
    pipeline.add_many(chain).map_err(sys)?;
    gst::Element::link_many(chain).map_err(sys)
}

fn video_branch(plan: &VideoPlan) -> Result<Vec<gst::Element>, MediaError> {
    let mut raw_caps = gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .field("width", plan.width as i32)
        .field("height", plan.height as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1));
    let scale = make("videoscale")?;
    scale.set_property_from_str("method", SCALE_METHOD);
    let mut chain = vec![
        queue(gst::ClockTime::SECOND.nseconds())?,
        make("videoconvert")?,
        scale,
    ];
    if let Some(fps) = plan.frame_rate {
        chain.push(make("videorate")?);
        raw_caps = raw_caps.field("framerate", frame_rate_fraction(fps));
    }
    chain.push(capsfilter(raw_caps.build())?);
    chain.extend(
        plan.encoder
            .elements(plan.rate, plan.keyframe_interval_frames, plan.threads)?,
    );
    Ok(chain)
}

/// 29.97 as 30000/1001, 25 as 25/1.
pub fn frame_rate_fraction(fps: f64) -> gst::Fraction {
    let rounded = fps.round();
    if (fps - rounded).abs() < 1e-3 {
        return gst::Fraction::new(rounded as i32, 1);
    }
    let ntsc = fps * 1.001;
    if (ntsc - ntsc.round()).abs() < 1e-2 {
        return gst::Fraction::new((ntsc.round() * 1000.0) as i32, 1001);
    }
    gst::Fraction::new((fps * 1000.0).round() as i32, 1000)
}

fn audio_branch(plan: &AudioPlan) -> Result<Vec<gst::Element>, MediaError> {
    let raw_caps = gst::Caps::builder("audio/x-raw")
        .field("rate", plan.sample_rate as i32)
        .field("channels", plan.channels as i32)
        .build();
    // Audio is tiny; an unbounded queue keeps it from blocking the demuxer while the
    // muxer waits for video that sits in the encoder's lookahead.
    let mut chain = vec![
        queue(0)?,
        make("audioconvert")?,
        make("audioresample")?,
        capsfilter(raw_caps)?,
    ];
    chain.extend(plan.encoder.elements(plan.bitrate_bps)?);
    Ok(chain)
}

/// Index of the encoder in a branch built by `video_branch`/`audio_branch`: right after
/// the capsfilter that fixes the raw format.
fn encoder_index(chain: &[gst::Element]) -> usize {
    chain
        .iter()
        .position(|e| e.factory().is_some_and(|f| f.name() == "capsfilter"))
        .map_or(0, |i| i + 1)
}

/// Adds one video branch fed from `feed` (a tee of decoded or already-scaled frames) into
/// `mux`; when `scaled_out` is given, the scaled frames also go to it for other
/// renditions to scale from. Returns the branch's encoder.
fn add_video_branch(
    pipeline: &gst::Pipeline,
    plan: &VideoPlan,
    feed: &gst::Element,
    scaled_out: Option<&gst::Element>,
    mux: &gst::Element,
) -> Result<gst::Element, MediaError> {
    let chain = video_branch(plan)?;
    let (scaling, encoding) = chain.split_at(encoder_index(&chain));
    pipeline.add_many(&chain).map_err(sys)?;
    gst::Element::link_many(scaling).map_err(sys)?;
    gst::Element::link_many(encoding).map_err(sys)?;
    let scaled = scaling.last().expect("a branch scales before it encodes");
    match scaled_out {
        Some(tee) => {
            scaled.link(tee).map_err(sys)?;
            tee.link(&encoding[0]).map_err(sys)?;
        }
        None => scaled.link(&encoding[0]).map_err(sys)?,
    }
    encoding[encoding.len() - 1].link(mux).map_err(sys)?;
    feed.link(&scaling[0]).map_err(sys)?;
    Ok(encoding[0].clone())
}

/// Counts buffers and tracks the highest timestamp on `pad`: an encoder's sink pad,
/// whose raw frames carry source time. (Encoded buffers do not: x264enc shifts its output
/// by 1000 hours to keep decoding timestamps positive.)
fn watch_progress(pad: &gst::Pad, progress: Arc<BranchProgress>) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(pts) = info.buffer().and_then(|b| b.pts()) {
            progress
                .position_ns
                .fetch_max(pts.nseconds(), Ordering::Relaxed);
            progress.units.fetch_add(1, Ordering::Relaxed);
        }
        gst::PadProbeReturn::Ok
    });
}

/// Adds what writes one rendition (a muxer and a file sink, or a segmenting sink) and
/// returns the element its encoded streams link to.
fn add_sink(pipeline: &gst::Pipeline, sink: &Sink) -> Result<gst::Element, MediaError> {
    match sink {
        Sink::File { path, container } => {
            let mut chain = muxer(*container)?;
            let file = make("filesink")?;
            file.set_property("location", path);
            file.set_property("sync", false);
            chain.push(file);
            add_and_link(pipeline, &chain)?;
            Ok(chain[0].clone())
        }
        Sink::Segments {
            dir,
            format,
            segment_seconds,
        } => {
            let sink = segments::segment_sink(dir, *format, *segment_seconds)?;
            pipeline.add(&sink).map_err(sys)?;
            Ok(sink)
        }
    }
}

/// Builds (does not start) the pipeline for `source` and `renditions`.
pub fn build(source: &Path, renditions: &[Rendition]) -> Result<BuiltPipeline, MediaError> {
    super::init()?;
    let pipeline = gst::Pipeline::with_name("transcode");
    let src = make("filesrc")?;
    src.set_property("location", source);
    let decode = make("decodebin")?;
    add_and_link(&pipeline, &[src.clone(), decode.clone()])?;
    let thread_budget = renditions
        .iter()
        .filter_map(|r| r.video.as_ref())
        .map(|v| v.threads)
        .max();
    if let Some(threads) = thread_budget {
        cap_decoder_threads(&decode, threads);
    }

    let needs_video = renditions.iter().any(|r| r.video.is_some());
    let needs_audio = renditions.iter().any(|r| r.audio.is_some());
    let video_tee = needs_video.then(|| make("tee")).transpose()?;
    let audio_tee = needs_audio.then(|| make("tee")).transpose()?;
    for tee in video_tee.iter().chain(audio_tee.iter()) {
        pipeline.add(tee).map_err(sys)?;
    }
    let video_input = match &video_tee {
        Some(tee) => {
            let prep = video_prep(is_gif(source))?;
            add_and_link(&pipeline, &prep)?;
            prep[prep.len() - 1].link(tee).map_err(sys)?;
            Some(prep[0].clone())
        }
        None => None,
    };

    let mut progress = Vec::new();
    // A tee after the scaler of every rendition that others cascade from (plan.rs).
    let scaled_tees = renditions
        .iter()
        .enumerate()
        .map(|(index, _)| {
            is_scale_source(renditions, index)
                .then(|| make("tee"))
                .transpose()
        })
        .collect::<Result<Vec<_>, _>>()?;
    for tee in scaled_tees.iter().flatten() {
        pipeline.add(tee).map_err(sys)?;
    }

    for (index, rendition) in renditions.iter().enumerate() {
        let counter = Arc::new(BranchProgress::default());
        let sink_input = add_sink(&pipeline, &rendition.sink)?;

        let mut watched = false;
        if let (Some(plan), Some(source_tee)) = (&rendition.video, &video_tee) {
            let feed = plan
                .scale_from
                .and_then(|parent| scaled_tees[parent].as_ref())
                .unwrap_or(source_tee);
            let encoder = add_video_branch(
                &pipeline,
                plan,
                feed,
                scaled_tees[index].as_ref(),
                &sink_input,
            )?;
            watch_progress(
                &encoder
                    .static_pad("sink")
                    .expect("an encoder has a sink pad"),
                counter.clone(),
            );
            watched = true;
        }
        if let (Some(plan), Some(tee)) = (&rendition.audio, &audio_tee) {
            let chain = audio_branch(plan)?;
            let encoder = chain[encoder_index(&chain)].clone();
            add_and_link(&pipeline, &chain)?;
            chain[chain.len() - 1].link(&sink_input).map_err(sys)?;
            tee.link(&chain[0]).map_err(sys)?;
            if !watched {
                watch_progress(
                    &encoder
                        .static_pad("sink")
                        .expect("an encoder has a sink pad"),
                    counter.clone(),
                );
            }
        }
        progress.push(counter);
    }

    connect_decoded_pads(&pipeline, &decode, video_input, audio_tee);
    Ok(BuiltPipeline {
        pipeline,
        decode_side: vec![src, decode],
        progress,
    })
}

/// Whether the file starts like a GIF: GStreamer reads those with libav's demuxer, which
/// never ends on its own (`video_prep`).
fn is_gif(source: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(source)
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut magic))
        .is_ok_and(|()| &magic == b"GIF8")
}

/// Gives libav's decoders the job's thread budget (what each encoder gets) instead of
/// their default of one thread per core: with many jobs at once, every job's decoder
/// spawning a thread per core oversubscribed the cores (docs/benchmarks.md, section 2).
fn cap_decoder_threads(decode: &gst::Element, threads: u32) {
    let Some(bin) = decode.downcast_ref::<gst::Bin>() else {
        return;
    };
    let threads = i32::try_from(threads.max(1)).unwrap_or(1);
    bin.connect_deep_element_added(move |_, _, element| {
        let is_libav_decoder = element
            .factory()
            .is_some_and(|f| f.name().starts_with("avdec_"));
        if is_libav_decoder && element.find_property("max-threads").is_some() {
            element.set_property("max-threads", threads);
        }
    });
}

/// Links the first decoded video stream to `video_input` (the start of `video_prep`) and
/// the first audio stream to its tee; every other stream goes to a fakesink so decodebin
/// never stalls on an unlinked pad.
fn connect_decoded_pads(
    pipeline: &gst::Pipeline,
    decode: &gst::Element,
    video_input: Option<gst::Element>,
    audio_tee: Option<gst::Element>,
) {
    // A weak reference: a strong one in the callback would keep the pipeline alive forever.
    let weak_pipeline = pipeline.downgrade();
    decode.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak_pipeline.upgrade() else {
            return;
        };
        let media = pad
            .current_caps()
            .and_then(|c| c.structure(0).map(|s| s.name().to_string()))
            .unwrap_or_default();
        let tee = if media.starts_with("video/") {
            video_input.as_ref()
        } else if media.starts_with("audio/") {
            audio_tee.as_ref()
        } else {
            None
        };
        if let Some(sink_pad) = tee.and_then(|t| t.static_pad("sink"))
            && !sink_pad.is_linked()
            && pad.link(&sink_pad).is_ok()
        {
            return;
        }
        discard(&pipeline, pad);
    });
}

fn discard(pipeline: &gst::Pipeline, pad: &gst::Pad) {
    let Ok(sink) = make("fakesink") else { return };
    sink.set_property("sync", false);
    if pipeline.add(&sink).is_ok() {
        let _ = sink.sync_state_with_parent();
        if let Some(sink_pad) = sink.static_pad("sink") {
            let _ = pad.link(&sink_pad);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::plan::assign_scale_sources;
    use crate::media::plan::tests::video_rendition;

    fn video_only(width: u32, height: u32) -> Rendition {
        video_rendition(&format!("{height}p"), width, height)
    }

    fn width_after(pad: &gst::Pad) -> Option<i32> {
        let filter = pad.peer()?.parent_element()?;
        let caps = filter.property::<gst::Caps>("caps");
        caps.structure(0)?.get::<i32>("width").ok()
    }

    #[test]
    fn a_smaller_rendition_is_fed_from_the_larger_ones_scaler() {
        let mut ladder = vec![video_only(640, 360), video_only(854, 480)];
        assign_scale_sources(&mut ladder, (1280, 720));
        let built = build(Path::new("/nonexistent/source.mp4"), &ladder).unwrap();

        let tees: Vec<gst::Element> = built
            .pipeline
            .iterate_elements()
            .into_iter()
            .flatten()
            .filter(|e| e.factory().is_some_and(|f| f.name() == "tee"))
            .collect();
        assert_eq!(
            tees.len(),
            2,
            "the source's video tee and 480p's scaled tee"
        );
        let scaled_tee = tees
            .iter()
            .find(|t| width_after(&t.static_pad("sink").unwrap()) == Some(854))
            .expect("a tee right after 480p's scaler");
        let mut fed: Vec<String> = scaled_tee
            .src_pads()
            .iter()
            .filter_map(|p| p.peer()?.parent_element()?.factory())
            .map(|f| f.name().to_string())
            .collect();
        fed.sort();
        assert_eq!(
            fed,
            ["queue", "x264enc"],
            "360p's branch and 480p's encoder"
        );
        let _ = built.pipeline.set_state(gst::State::Null);
    }
}
