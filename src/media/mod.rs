//! The media engine: probe with Discoverer, then one GStreamer pipeline per job that
//! decodes once and tees into one encoder branch per output.

mod classify;
pub mod encoders;
pub mod error;
pub mod exiftool;
mod frame_grab;
pub mod hls_rung;
pub mod ladder;
pub mod master_playlist;
mod mp4_index;
pub mod pipeline;
pub mod plan;
pub mod probe;
pub mod probe_fields;
pub mod runner;
pub mod segments;
pub mod sizing;
pub mod storyboard;
pub mod thumbnail;
mod video_prep;

pub use error::MediaError;

use std::sync::Once;

/// Initialises GStreamer once per process. Call before any other media function.
pub fn init() -> Result<(), MediaError> {
    static INIT: Once = Once::new();
    let mut result = Ok(());
    INIT.call_once(|| {
        result = gstreamer::init()
            .map_err(|e| MediaError::System(format!("gstreamer init: {e}")))
            .and_then(|()| register_static_plugins());
    });
    result
}

/// The plugins linked into the binary: hlssink3 and hlscmafsink (HLS), and cmafmux, which
/// hlscmafsink builds on (gst-plugin-fmp4; docs/design-notes.md, "Adaptive streaming").
fn register_static_plugins() -> Result<(), MediaError> {
    let failed = |name: &str, e: &dyn std::fmt::Display| {
        MediaError::System(format!("registering the {name} plugin: {e}"))
    };
    gsthlssink3::plugin_register_static().map_err(|e| failed("hlssink3", &e))?;
    gstfmp4::plugin_register_static().map_err(|e| failed("fmp4", &e))
}

/// Makes an element, or says exactly which plugin element is missing.
pub(crate) fn make(factory: &str) -> Result<gstreamer::Element, MediaError> {
    gstreamer::ElementFactory::make(factory)
        .build()
        .map_err(|_| MediaError::MissingElement(factory.to_owned()))
}
