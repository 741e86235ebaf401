//! Encoders and muxers as values: each encoder with its own settings, and the GStreamer
//! elements that make it. The pipeline asks these for elements by what they are, never
//! by a hard-coded name.

use super::{MediaError, make};
use crate::domain::encode_settings::EncodeSettings;
use crate::domain::profile::{
    AudioCodec, Container, EncoderSpeed, H264Profile, VideoCodec, VideoSettings,
};
use gstreamer as gst;
use gstreamer::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateControl {
    /// Average bitrate; `capped` when restrict_bitrate lowered it to the source's.
    Bitrate { kbps: u32, capped: bool },
    /// Constant quality: CRF (x264, x265) or quantizer (libvpx, libaom).
    Quality(u32),
}

impl RateControl {
    /// The average bitrate; 0 in constant-quality mode.
    pub fn kbps(self) -> u32 {
        match self {
            RateControl::Bitrate { kbps, .. } => kbps,
            RateControl::Quality(_) => 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum VideoEncoder {
    X264 {
        profile: H264Profile,
        level: Option<String>,
        speed: EncoderSpeed,
    },
    X265 {
        speed: EncoderSpeed,
    },
    Vp9 {
        speed: EncoderSpeed,
    },
    Av1 {
        speed: EncoderSpeed,
    },
}

impl VideoEncoder {
    pub fn for_settings(v: &VideoSettings) -> Self {
        match v.codec {
            VideoCodec::H264 => VideoEncoder::X264 {
                profile: v.codec_profile.unwrap_or(H264Profile::High),
                level: v.level.clone(),
                speed: v.speed,
            },
            VideoCodec::H265 => VideoEncoder::X265 { speed: v.speed },
            VideoCodec::Vp9 => VideoEncoder::Vp9 { speed: v.speed },
            VideoCodec::Av1 => VideoEncoder::Av1 { speed: v.speed },
        }
    }

    /// x264's preset name, for x264 only.
    pub fn x264_preset(&self) -> Option<&'static str> {
        match self {
            VideoEncoder::X264 { speed, .. } => Some(Self::x26x_preset(*speed)),
            _ => None,
        }
    }

    /// The H.264 profile's name, for x264 only.
    pub fn h264_profile(&self) -> Option<&'static str> {
        match self {
            VideoEncoder::X264 { profile, .. } => Some(profile.as_str()),
            _ => None,
        }
    }

    pub fn codec(&self) -> VideoCodec {
        match self {
            VideoEncoder::X264 { .. } => VideoCodec::H264,
            VideoEncoder::X265 { .. } => VideoCodec::H265,
            VideoEncoder::Vp9 { .. } => VideoCodec::Vp9,
            VideoEncoder::Av1 { .. } => VideoCodec::Av1,
        }
    }

    pub fn element_name(&self) -> &'static str {
        match self {
            VideoEncoder::X264 { .. } => "x264enc",
            VideoEncoder::X265 { .. } => "x265enc",
            VideoEncoder::Vp9 { .. } => "vp9enc",
            VideoEncoder::Av1 { .. } => "av1enc",
        }
    }

    fn speed(&self) -> EncoderSpeed {
        match self {
            VideoEncoder::X264 { speed, .. }
            | VideoEncoder::X265 { speed }
            | VideoEncoder::Vp9 { speed }
            | VideoEncoder::Av1 { speed } => *speed,
        }
    }

    /// x264's and x265's preset for a speed.
    pub fn x26x_preset(speed: EncoderSpeed) -> &'static str {
        match speed {
            EncoderSpeed::Fastest => "ultrafast",
            EncoderSpeed::Fast => "veryfast",
            EncoderSpeed::Medium => "medium",
            EncoderSpeed::Slow => "slow",
            EncoderSpeed::Slowest => "veryslow",
        }
    }

    /// libvpx's and libaom's cpu-used for a speed (higher is faster).
    fn cpu_used(&self) -> i32 {
        let steps = match self {
            VideoEncoder::Av1 { .. } => [8, 7, 6, 4, 2],
            _ => [8, 6, 5, 2, 0],
        };
        steps[self.speed() as usize]
    }

    pub fn describe(&self, s: &mut EncodeSettings) {
        s.video_codec = self.codec().short_name().into();
        s.video_encoder = self.element_name().into();
        s.speed = self.speed().as_str().into();
        if let VideoEncoder::X264 { profile, level, .. } = self {
            s.codec_profile = profile.as_str().into();
            s.level = level.clone().unwrap_or_default();
        }
    }

    /// encoder ! capsfilter ! parser, configured.
    pub fn elements(
        &self,
        rate: RateControl,
        keyframe_frames: u32,
        threads: u32,
    ) -> Result<Vec<gst::Element>, MediaError> {
        let encoder = make(self.element_name())?;
        match self {
            VideoEncoder::X264 { speed, level, .. } => {
                encoder.set_property("threads", threads);
                encoder.set_property("key-int-max", keyframe_frames);
                encoder.set_property_from_str("speed-preset", Self::x26x_preset(*speed));
                match rate {
                    RateControl::Bitrate { kbps, .. } => encoder.set_property("bitrate", kbps),
                    RateControl::Quality(q) => {
                        encoder.set_property_from_str("pass", "qual");
                        encoder.set_property("quantizer", q);
                    }
                }
                if let Some(level) = level {
                    encoder.set_property("option-string", format!("level={level}"));
                }
            }
            VideoEncoder::X265 { speed } => {
                encoder.set_property("key-int-max", keyframe_frames as i32);
                encoder.set_property_from_str("speed-preset", Self::x26x_preset(*speed));
                let mut options = format!("pools={threads}:frame-threads={}", threads.min(2));
                match rate {
                    RateControl::Bitrate { kbps, .. } => encoder.set_property("bitrate", kbps),
                    RateControl::Quality(q) => options.push_str(&format!(":crf={q}")),
                }
                encoder.set_property("option-string", options);
                encoder.set_property_from_str("log-level", "error");
            }
            VideoEncoder::Vp9 { .. } => {
                encoder.set_property("threads", threads as i32);
                encoder.set_property("row-mt", true);
                encoder.set_property("keyframe-max-dist", keyframe_frames as i32);
                encoder.set_property("cpu-used", self.cpu_used());
                // Realtime deadline: libvpx's "good" mode runs at a few frames a second.
                encoder.set_property("deadline", 1i64);
                match rate {
                    RateControl::Bitrate { kbps, .. } => {
                        encoder.set_property("target-bitrate", (kbps * 1000) as i32)
                    }
                    RateControl::Quality(q) => {
                        // A fixed quantizer: at the realtime deadline libvpx's CQ mode
                        // stays near its bitrate cap whatever the level (20 and 45
                        // gave 251 and 236 kb/s).
                        encoder.set_property("min-quantizer", q as i32);
                        encoder.set_property("max-quantizer", q as i32);
                    }
                }
            }
            VideoEncoder::Av1 { .. } => {
                encoder.set_property("threads", threads);
                encoder.set_property("row-mt", true);
                encoder.set_property("keyframe-max-dist", keyframe_frames as i32);
                encoder.set_property("cpu-used", self.cpu_used());
                match rate {
                    RateControl::Bitrate { kbps, .. } => {
                        encoder.set_property("target-bitrate", kbps);
                        // av1enc's quantizer bounds default to 0..0, lossless whatever
                        // the target: a 400 kb/s target came out at 4 Mb/s.
                        encoder.set_property("min-quantizer", 0u32);
                        encoder.set_property("max-quantizer", 63u32);
                    }
                    RateControl::Quality(q) => {
                        encoder.set_property_from_str("end-usage", "q");
                        encoder.set_property("min-quantizer", q);
                        encoder.set_property("max-quantizer", q);
                    }
                }
            }
        }
        let (caps, parser) = match self {
            VideoEncoder::X264 { profile, .. } => (
                gst::Caps::builder("video/x-h264")
                    .field("profile", profile.as_str())
                    .build(),
                "h264parse",
            ),
            VideoEncoder::X265 { .. } => (gst::Caps::new_empty_simple("video/x-h265"), "h265parse"),
            VideoEncoder::Vp9 { .. } => (gst::Caps::new_empty_simple("video/x-vp9"), "vp9parse"),
            VideoEncoder::Av1 { .. } => (gst::Caps::new_empty_simple("video/x-av1"), "av1parse"),
        };
        let filter = make("capsfilter")?;
        filter.set_property("caps", caps);
        Ok(vec![encoder, filter, make(parser)?])
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AudioEncoder {
    /// libav's AAC encoder.
    Aac,
    Opus,
    /// LAME.
    Mp3,
}

impl AudioEncoder {
    pub fn for_codec(codec: AudioCodec) -> Self {
        match codec {
            AudioCodec::Aac => AudioEncoder::Aac,
            AudioCodec::Opus => AudioEncoder::Opus,
            AudioCodec::Mp3 => AudioEncoder::Mp3,
        }
    }

    pub fn codec(self) -> AudioCodec {
        match self {
            AudioEncoder::Aac => AudioCodec::Aac,
            AudioEncoder::Opus => AudioCodec::Opus,
            AudioEncoder::Mp3 => AudioCodec::Mp3,
        }
    }

    pub fn element_name(self) -> &'static str {
        match self {
            AudioEncoder::Aac => "avenc_aac",
            AudioEncoder::Opus => "opusenc",
            AudioEncoder::Mp3 => "lamemp3enc",
        }
    }

    pub fn describe(self, s: &mut EncodeSettings) {
        s.audio_codec = self.codec().as_str().into();
        s.audio_encoder = self.element_name().into();
    }

    /// encoder ! parser, configured.
    pub fn elements(self, bitrate_bps: u32) -> Result<Vec<gst::Element>, MediaError> {
        let encoder = make(self.element_name())?;
        let parser = match self {
            AudioEncoder::Aac => {
                encoder.set_property("bitrate", bitrate_bps as i32);
                "aacparse"
            }
            AudioEncoder::Opus => {
                encoder.set_property("bitrate", bitrate_bps as i32);
                "opusparse"
            }
            AudioEncoder::Mp3 => {
                encoder.set_property_from_str("target", "bitrate");
                encoder.set_property("bitrate", (bitrate_bps / 1000) as i32);
                encoder.set_property("cbr", true);
                "mpegaudioparse"
            }
        };
        Ok(vec![encoder, make(parser)?])
    }
}

/// The elements that write a file in `container`: streams link to the first, the last
/// links to the file sink.
pub fn muxer(container: Container) -> Result<Vec<gst::Element>, MediaError> {
    let chain = match container {
        Container::Mp4 | Container::M4a => {
            let mux = make("mp4mux")?;
            mux.set_property("faststart", true);
            vec![mux]
        }
        Container::Fmp4 => {
            let mux = make("mp4mux")?;
            // One fragment a second: playable while it is written.
            mux.set_property("fragment-duration", 1000u32);
            vec![mux]
        }
        Container::Webm => vec![make("webmmux")?],
        Container::Mkv => vec![make("matroskamux")?],
        Container::Ts => vec![make("mpegtsmux")?],
        Container::Ogg => vec![make("oggmux")?],
        // A Xing header makes the duration exact; ID3v2 carries the tags.
        Container::Mp3 => vec![make("xingmux")?, make("id3v2mux")?],
        Container::Hls | Container::Dash => {
            return Err(MediaError::System(format!(
                "{} is a ladder, not a file",
                container.as_str()
            )));
        }
    };
    Ok(chain)
}
