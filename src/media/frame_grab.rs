//! Still frames from a local source, one seek at a time: `uridecodebin ! videoconvert !
//! videoflip ! videoscale ! videoconvert ! capsfilter ! [encoder] ! appsink`, prerolled in
//! PAUSED; each flushing ACCURATE seek prerolls the frame showing at its time, which the
//! sink hands over. Thumbnails and storyboards share it. Blocking throughout.

use super::classify::classify_bus_error;
use super::pipeline::SCALE_METHOD;
use super::{MediaError, make};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// An open, prerolled grabbing pipeline; set to `Null` when dropped.
pub(super) struct FrameGrabber {
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    decode: gst::Element,
    deadline: Deadline,
}

impl Drop for FrameGrabber {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl FrameGrabber {
    /// Opens `source` scaled to `caps` (raw video caps: size, pixel aspect, maybe format),
    /// through `encoder` when given, and waits for it to preroll. Every wait from now on
    /// ends by `timeout`; `what` names the work in errors. A source without video is
    /// INVALID_MEDIA.
    pub fn open(
        source: &Path,
        caps: gst::Caps,
        encoder: Option<gst::Element>,
        what: String,
        timeout: Duration,
    ) -> Result<Self, MediaError> {
        super::init()?;
        let deadline = Deadline {
            until: Instant::now() + timeout,
            seconds: timeout.as_secs(),
            what,
        };
        let sys = |e: gst::glib::BoolError| MediaError::System(e.to_string());
        let uri = gst::glib::filename_to_uri(source, None)
            .map_err(|e| MediaError::System(format!("file URI for {}: {e}", source.display())))?;
        let pipeline = gst::Pipeline::with_name("frame-grab");
        let decode = make("uridecodebin")?;
        decode.set_property("uri", uri.as_str());
        let flip = make("videoflip")?;
        // Rotation arrives as an image-orientation tag; the probe's sizes are after it.
        flip.set_property_from_str("video-direction", "auto");
        let scale = make("videoscale")?;
        scale.set_property_from_str("method", SCALE_METHOD);
        let filter = make("capsfilter")?;
        filter.set_property("caps", caps);
        let sink = gst_app::AppSink::builder()
            .sync(false)
            .enable_last_sample(false)
            .build();
        let mut chain = vec![
            make("videoconvert")?,
            flip,
            scale,
            make("videoconvert")?,
            filter,
        ];
        chain.extend(encoder);
        chain.push(sink.clone().upcast());
        pipeline.add(&decode).map_err(sys)?;
        pipeline.add_many(&chain).map_err(sys)?;
        gst::Element::link_many(&chain).map_err(sys)?;
        connect_pads(&pipeline, &decode, &chain[0]);

        let grabber = Self {
            pipeline,
            sink,
            decode,
            deadline,
        };
        grabber
            .pipeline
            .set_state(gst::State::Paused)
            .map_err(|_| MediaError::System("the frame pipeline refused to pause".into()))?;
        grabber.wait_async_done()?;
        Ok(grabber)
    }

    /// The source's duration as the pipeline knows it.
    pub fn duration(&self) -> Option<gst::ClockTime> {
        self.pipeline.query_duration::<gst::ClockTime>()
    }

    /// One frame's duration from the negotiated caps, or 1/30 s when the rate is unknown.
    pub fn frame_duration(&self) -> gst::ClockTime {
        let fps = self
            .sink
            .static_pad("sink")
            .and_then(|p| p.current_caps())
            .and_then(|c| {
                c.structure(0)
                    .and_then(|s| s.get::<gst::Fraction>("framerate").ok())
            })
            .filter(|f| f.numer() > 0 && f.denom() > 0);
        match fps {
            Some(f) => gst::ClockTime::from_nseconds(
                1_000_000_000u64 * f.denom() as u64 / f.numer() as u64,
            ),
            None => gst::ClockTime::from_nseconds(1_000_000_000 / 30),
        }
    }

    /// The frame showing at `target`, or none when the video has ended by then.
    pub fn frame_at(&self, target: gst::ClockTime) -> Result<Option<gst::Sample>, MediaError> {
        self.pipeline
            .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, target)
            .map_err(|_| MediaError::System(format!("seeking to {target}")))?;
        self.wait_async_done()?;
        // Past the video's end the sink prerolls on EOS and this returns at once.
        Ok(self.sink.try_pull_preroll(self.deadline.remaining()?))
    }

    /// Gives the work `budget` more from now: for a long series of frames, each one's
    /// own deadline.
    pub fn renew(&mut self, budget: Duration) {
        self.deadline.until = Instant::now() + budget;
    }

    /// Waits for the pipeline to finish prerolling (after PAUSED or a flushing seek).
    fn wait_async_done(&self) -> Result<(), MediaError> {
        let bus = self.pipeline.bus().expect("a pipeline has a bus");
        let message = bus
            .timed_pop_filtered(
                self.deadline.remaining()?,
                &[gst::MessageType::AsyncDone, gst::MessageType::Error],
            )
            .ok_or_else(|| self.deadline.timeout())?;
        match message.view() {
            gst::MessageView::Error(err) => {
                Err(classify_bus_error(err, std::slice::from_ref(&self.decode)))
            }
            _ => Ok(()),
        }
    }
}

/// The stream time of the frame in `sample`, if it carries one.
pub(super) fn frame_time(sample: &gst::Sample) -> Option<gst::ClockTime> {
    let pts = sample.buffer()?.pts()?;
    match sample
        .segment()
        .and_then(|s| s.downcast_ref::<gst::ClockTime>())
    {
        Some(segment) => segment.to_stream_time(pts),
        None => Some(pts),
    }
}

struct Deadline {
    until: Instant,
    seconds: u64,
    what: String,
}

impl Deadline {
    fn remaining(&self) -> Result<gst::ClockTime, MediaError> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timeout());
        }
        Ok(gst::ClockTime::from_nseconds(left.as_nanos() as u64))
    }

    fn timeout(&self) -> MediaError {
        MediaError::Timeout(self.what.clone(), self.seconds)
    }
}

/// Links the first decoded video pad to the chain; other pads go to fakesinks that do not
/// hold up prerolling. When the source has offered every pad and none was video, posts an
/// error so the wait for preroll ends at once.
fn connect_pads(pipeline: &gst::Pipeline, decode: &gst::Element, first: &gst::Element) {
    let saw_video = Arc::new(AtomicBool::new(false));
    // Weak references: a strong one in a callback would keep the pipeline alive forever.
    let weak_pipeline = pipeline.downgrade();
    let weak_first = first.downgrade();
    let linked = saw_video.clone();
    decode.connect_pad_added(move |_, pad| {
        let (Some(pipeline), Some(first)) = (weak_pipeline.upgrade(), weak_first.upgrade()) else {
            return;
        };
        let is_video = pad
            .current_caps()
            .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
            .unwrap_or(false);
        if is_video
            && let Some(sink_pad) = first.static_pad("sink")
            && !sink_pad.is_linked()
            && pad.link(&sink_pad).is_ok()
        {
            linked.store(true, Ordering::Release);
            return;
        }
        discard(&pipeline, pad);
    });
    decode.connect_no_more_pads(move |decode| {
        if !saw_video.load(Ordering::Acquire) {
            let _ = decode.post_message(
                gst::message::Error::builder(
                    gst::StreamError::WrongType,
                    "the source has no video stream",
                )
                .src(decode)
                .build(),
            );
        }
    });
}

fn discard(pipeline: &gst::Pipeline, pad: &gst::Pad) {
    let Ok(sink) = make("fakesink") else { return };
    sink.set_property("sync", false);
    // Not part of prerolling: only the frame's sink decides when the frame is ready.
    sink.set_property("async", false);
    if pipeline.add(&sink).is_ok() {
        let _ = sink.sync_state_with_parent();
        if let Some(sink_pad) = sink.static_pad("sink") {
            let _ = pad.link(&sink_pad);
        }
    }
}
