//! What every decoded video stream goes through once, before the tee that feeds the
//! renditions, so that odd sources come out right (docs/design-notes.md, "Odd sources").

use super::{MediaError, make};
use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::{Mutex, PoisonError};

/// `videoconvert` (passthrough unless `deinterlace` cannot take the format), `deinterlace`
/// (default mode `auto`: interlaced frames are deinterlaced, one frame per frame, and
/// progressive ones pass through untouched) and `videoflip video-direction=auto`, which
/// turns the picture as the stream's image-orientation tag says. The tag is taken off
/// after the flip, so no muxer writes the rotation a second time; and timestamps that do
/// not advance are mended before anything else sees them.
///
/// `never_ends`: the source's demuxer sends no EOS (see `keep_timestamps_advancing`).
pub(super) fn video_prep(never_ends: bool) -> Result<Vec<gst::Element>, MediaError> {
    let convert = make("videoconvert")?;
    let sink = convert
        .static_pad("sink")
        .expect("videoconvert has a sink pad");
    keep_timestamps_advancing(&sink, never_ends);
    let deinterlace = make("deinterlace")?;
    deinterlace.set_property_from_str("fields", "top");
    let flip = make("videoflip")?;
    flip.set_property_from_str("video-direction", "auto");
    drop_orientation_tags(&flip.static_pad("src").expect("videoflip has a src pad"));
    Ok(vec![convert, deinterlace, flip])
}

/// Removes the image-orientation tag from the tag events leaving `pad`.
fn drop_orientation_tags(pad: &gst::Pad) {
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, |_, info| {
        if let Some(gst::PadProbeData::Event(event)) = &mut info.data
            && let gst::EventView::Tag(tag) = event.view()
            && tag.tag().get::<gst::tags::ImageOrientation>().is_some()
        {
            let mut tags = tag.tag().to_owned();
            tags.make_mut().remove::<gst::tags::ImageOrientation>();
            let seqnum = event.seqnum();
            *event = gst::event::Tag::builder(tags).seqnum(seqnum).build();
        }
        gst::PadProbeReturn::Ok
    });
}

/// The last frame let through: where it starts and ends, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shown {
    pts: u64,
    end: u64,
}

/// Where a frame belongs: at its own time when that comes after the previous frame's;
/// else (no time, or one that does not advance) where the previous frame ends.
fn mended_pts(pts: Option<u64>, previous: Option<Shown>) -> Option<u64> {
    match (pts, previous) {
        (Some(pts), Some(previous)) if pts > previous.pts => Some(pts),
        (_, Some(previous)) => Some(previous.end.max(previous.pts + 1)),
        (pts, None) => pts,
    }
}

/// One frame's duration at the pad's frame rate, or 1/25 s when the caps have none.
fn frame_duration_ns(pad: &gst::Pad) -> u64 {
    pad.current_caps()
        .and_then(|caps| {
            let rate = caps.structure(0)?.get::<gst::Fraction>("framerate").ok()?;
            let numer = u64::try_from(rate.numer()).ok().filter(|n| *n > 0)?;
            let denom = u64::try_from(rate.denom()).ok()?;
            Some(1_000_000_000 * denom / numer)
        })
        .filter(|ns| *ns > 0)
        .unwrap_or(40_000_000)
}

/// libav's GIF decoder stamps every frame 0, so nothing downstream advances (videorate
/// drops all but one frame, mp4mux fails, progress stalls). Frames whose time does not
/// advance are moved to where the frame before them ends; real sources never trip this.
///
/// With `end_at_duration`, the frame that reaches the duration upstream reports is the
/// last: EOS follows it. GStreamer 1.22's libav demuxers (GIF's) never end on their own:
/// gst-libav 1.22.0 answers a read at the end of the file with 0 bytes, which FFmpeg 5
/// takes as "try again", so the demuxer spins at the end forever.
fn keep_timestamps_advancing(pad: &gst::Pad, end_at_duration: bool) {
    let previous = Mutex::new((None::<Shown>, false));
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let mut state = previous.lock().unwrap_or_else(PoisonError::into_inner);
        let (previous, ended) = &mut *state;
        let Some(gst::PadProbeData::Buffer(buffer)) = &mut info.data else {
            return gst::PadProbeReturn::Ok;
        };
        if *ended {
            return gst::PadProbeReturn::Ok;
        }
        let pts = buffer.pts().map(gst::ClockTime::nseconds);
        let Some(mended) = mended_pts(pts, *previous) else {
            return gst::PadProbeReturn::Ok;
        };
        if pts != Some(mended) {
            buffer
                .make_mut()
                .set_pts(gst::ClockTime::from_nseconds(mended));
        }
        let duration = buffer
            .duration()
            .map(gst::ClockTime::nseconds)
            .unwrap_or_else(|| frame_duration_ns(pad));
        let end = mended + duration;
        *previous = Some(Shown { pts: mended, end });
        let total = pad.peer_query_duration::<gst::ClockTime>();
        if !(end_at_duration && total.is_some_and(|t| end + 1_000_000 >= t.nseconds())) {
            return gst::PadProbeReturn::Ok;
        }
        *ended = true;
        drop(state);
        let Some(gst::PadProbeData::Buffer(last)) = info.data.take() else {
            return gst::PadProbeReturn::Ok;
        };
        info.flow_res = pad.chain(last);
        pad.send_event(gst::event::Eos::new());
        gst::PadProbeReturn::Handled
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_times_are_kept() {
        let previous = Some(Shown { pts: 0, end: 100 });
        assert_eq!(mended_pts(Some(100), previous), Some(100));
        // A gap (a variable frame rate) is the source's to keep.
        assert_eq!(mended_pts(Some(500), previous), Some(500));
        assert_eq!(mended_pts(Some(7), None), Some(7));
        assert_eq!(mended_pts(None, None), None);
    }

    #[test]
    fn stuck_or_missing_times_follow_the_previous_frame() {
        let previous = Some(Shown { pts: 100, end: 200 });
        assert_eq!(mended_pts(Some(0), previous), Some(200));
        assert_eq!(mended_pts(Some(100), previous), Some(200));
        assert_eq!(mended_pts(None, previous), Some(200));
        // A frame of no duration still moves time on.
        let zero_length = Some(Shown { pts: 100, end: 100 });
        assert_eq!(mended_pts(Some(100), zero_length), Some(101));
    }
}
