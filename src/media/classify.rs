//! Turns a bus error into a typed [`MediaError`]: bad input or our failure.

use super::MediaError;
use gstreamer as gst;
use gstreamer::prelude::*;

/// `decode_side` are the elements that read and decode the source: stream errors
/// raised inside them mean the input is bad.
pub fn classify_bus_error(err: &gst::message::Error, decode_side: &[gst::Element]) -> MediaError {
    let glib_err = err.error();
    let from = err.src();
    let src_name = from.map(|s| s.name().to_string()).unwrap_or_default();
    let message = match err.debug() {
        Some(debug) => format!("{} ({src_name}: {debug})", glib_err.message()),
        None => format!("{} ({src_name})", glib_err.message()),
    };
    let on_decode_side = from.is_some_and(|src| {
        decode_side.iter().any(|el| {
            let el_obj = el.upcast_ref::<gst::Object>();
            src == el_obj || src.has_as_ancestor(el_obj)
        })
    });

    if let Some(gst::CoreError::MissingPlugin) = glib_err.kind::<gst::CoreError>() {
        return MediaError::InvalidMedia(format!("no decoder for this source: {message}"));
    }
    if on_decode_side {
        if glib_err.kind::<gst::StreamError>().is_some() {
            return MediaError::InvalidMedia(glib_err.message().to_owned());
        }
        if let Some(gst::ResourceError::Read | gst::ResourceError::Seek) =
            glib_err.kind::<gst::ResourceError>()
        {
            return MediaError::InvalidMedia(format!("the source could not be read: {message}"));
        }
    }
    MediaError::System(message)
}
