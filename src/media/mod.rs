//! The media engine: probe with Discoverer, then one GStreamer pipeline per job that
//! decodes once and tees into one encoder branch per output.

mod classify;
pub mod error;
pub mod exiftool;
pub mod pipeline;
pub mod plan;
pub mod probe;
pub mod runner;
pub mod testclip;
pub mod thumbnail;

pub use error::MediaError;

use std::sync::Once;

/// Initialises GStreamer once per process. Call before any other media function.
pub fn init() -> Result<(), MediaError> {
    static INIT: Once = Once::new();
    let mut result = Ok(());
    INIT.call_once(|| {
        result = gstreamer::init().map_err(|e| MediaError::System(format!("gstreamer init: {e}")));
    });
    result
}

/// Makes an element, or says exactly which plugin element is missing.
pub(crate) fn make(factory: &str) -> Result<gstreamer::Element, MediaError> {
    gstreamer::ElementFactory::make(factory)
        .build()
        .map_err(|_| MediaError::MissingElement(factory.to_owned()))
}
