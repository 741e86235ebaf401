//! Reading back one written rung of an HLS ladder: its media playlist, the files it
//! names, their bitrates, and a probe of its first segment (with the CMAF init segment
//! in front) for the stream's description and RFC 6381 codec strings.

use super::MediaError;
use super::probe::probe_file;
use super::segments::MEDIA_PLAYLIST;
use crate::domain::MediaInfo;
use gstreamer as gst;
use gstreamer_pbutils as pbutils;
use gstreamer_pbutils::prelude::*;
use m3u8_rs::MediaPlaylist;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a rung's sink wrote, measured.
#[derive(Debug, Clone)]
pub struct WrittenRung {
    /// The directory's name: "720p", "audio".
    pub name: String,
    pub dir: PathBuf,
    pub playlist_version: Option<usize>,
    /// Its files as the playlist names them (relative to `dir`): the init segment
    /// first (fMP4), then the segments in order.
    pub media_files: Vec<String>,
    pub segments: u32,
    pub duration_seconds: f64,
    pub max_segment_seconds: f64,
    /// The highest bitrate of any one segment (HLS BANDWIDTH), bits per second.
    pub peak_bps: u64,
    /// All segment bytes over the whole duration (HLS AVERAGE-BANDWIDTH).
    pub average_bps: u64,
    /// The first segment's probe, with duration, size and bitrate set to the rung's.
    pub media: MediaInfo,
    /// RFC 6381 codec strings, video first ("avc1.64001f", "mp4a.40.2").
    pub codecs: Vec<String>,
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> MediaError {
    MediaError::System(format!("{}: {e}", path.display()))
}

fn read_playlist(path: &Path) -> Result<MediaPlaylist, MediaError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    m3u8_rs::parse_media_playlist_res(&bytes)
        .map_err(|e| io_error(path, format!("not a media playlist: {e}")))
}

fn file_size(path: &Path) -> Result<u64, MediaError> {
    Ok(std::fs::metadata(path)
        .map_err(|e| io_error(path, e))?
        .len())
}

/// Reads, measures and probes the rung written into `dir`. Blocking.
pub fn read_rung(dir: &Path, probe_timeout_secs: u64) -> Result<WrittenRung, MediaError> {
    let playlist_path = dir.join(MEDIA_PLAYLIST);
    let playlist = read_playlist(&playlist_path)?;
    if playlist.segments.is_empty() || !playlist.end_list {
        return Err(io_error(
            &playlist_path,
            "the playlist is unfinished (no segments, or no EXT-X-ENDLIST)",
        ));
    }
    let mut media_files = Vec::new();
    let (mut total_bytes, mut duration, mut max_segment, mut peak_bps) = (0u64, 0f64, 0f64, 0u64);
    for segment in &playlist.segments {
        if let Some(map) = &segment.map
            && !media_files.contains(&map.uri)
        {
            media_files.push(map.uri.clone());
        }
        let bytes = file_size(&dir.join(&segment.uri))?;
        let seconds = f64::from(segment.duration);
        total_bytes += bytes;
        duration += seconds;
        max_segment = max_segment.max(seconds);
        if seconds > 0.0 {
            peak_bps = peak_bps.max((bytes as f64 * 8.0 / seconds).ceil() as u64);
        }
        media_files.push(segment.uri.clone());
    }
    let average_bps = if duration > 0.0 {
        (total_bytes as f64 * 8.0 / duration).ceil() as u64
    } else {
        0
    };
    let first = &playlist.segments[0];
    let init = first.map.as_ref().map(|m| dir.join(&m.uri));
    let sample = Sample::new(dir, init.as_deref(), &dir.join(&first.uri))?;
    let mut media = probe_file(sample.path(), probe_timeout_secs)?;
    media.duration_seconds = duration;
    media.size_bytes = total_bytes;
    media.bitrate_bps = average_bps;
    let codecs = mime_codecs(sample.path(), probe_timeout_secs)?;
    Ok(WrittenRung {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        dir: dir.to_owned(),
        playlist_version: playlist.version,
        media_files,
        segments: playlist.segments.len() as u32,
        duration_seconds: duration,
        max_segment_seconds: max_segment,
        peak_bps,
        average_bps,
        media,
        codecs,
    })
}

/// A file that plays on its own: the first segment, or (fMP4) a temporary copy of the
/// init segment followed by it.
enum Sample {
    Segment(PathBuf),
    Joined(tempfile::TempPath),
}

impl Sample {
    fn new(dir: &Path, init: Option<&Path>, segment: &Path) -> Result<Self, MediaError> {
        let Some(init) = init else {
            return Ok(Self::Segment(segment.to_owned()));
        };
        let mut joined = tempfile::Builder::new()
            .prefix(".probe-")
            .suffix(".mp4")
            .tempfile_in(dir)
            .map_err(|e| io_error(dir, e))?;
        for part in [init, segment] {
            let bytes = std::fs::read(part).map_err(|e| io_error(part, e))?;
            joined.write_all(&bytes).map_err(|e| io_error(dir, e))?;
        }
        Ok(Self::Joined(joined.into_temp_path()))
    }

    fn path(&self) -> &Path {
        match self {
            Self::Segment(p) => p,
            Self::Joined(p) => p,
        }
    }
}

/// The RFC 6381 codec string of every stream in `path`, video first.
fn mime_codecs(path: &Path, timeout_secs: u64) -> Result<Vec<String>, MediaError> {
    let uri = gst::glib::filename_to_uri(path, None).map_err(|e| io_error(path, e))?;
    let discoverer = pbutils::Discoverer::new(gst::ClockTime::from_seconds(timeout_secs))
        .map_err(|e| io_error(path, e))?;
    let info = discoverer
        .discover_uri(&uri)
        .map_err(|e| io_error(path, e))?;
    let streams = info
        .video_streams()
        .into_iter()
        .filter_map(|s| s.caps())
        .chain(info.audio_streams().into_iter().filter_map(|s| s.caps()));
    streams
        .map(|caps| {
            let codec = pbutils::functions::codec_utils_caps_get_mime_codec(&caps)
                .map_err(|_| io_error(path, format!("no RFC 6381 codec string for {caps}")))?;
            let aac_profile = caps
                .structure(0)
                .and_then(|s| s.get::<String>("profile").ok());
            Ok(with_aac_object_type(&codec, aac_profile.as_deref()))
        })
        .collect()
}

/// AAC in ADTS (TS segments) has no codec_data, so GStreamer's string stops at
/// "mp4a.40"; the caps' profile gives the audio object type players need.
fn with_aac_object_type(codec: &str, profile: Option<&str>) -> String {
    let object_type = match profile {
        Some("main") => 1,
        Some("lc") => 2,
        Some("ssr") => 3,
        Some("ltp") => 4,
        Some("he-aac") => 5,
        Some("he-aac-v2") => 29,
        _ => return codec.to_owned(),
    };
    if codec == "mp4a.40" {
        format!("mp4a.40.{object_type}")
    } else {
        codec.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::with_aac_object_type;

    #[test]
    fn adts_aac_gets_its_object_type_from_the_profile() {
        assert_eq!(with_aac_object_type("mp4a.40", Some("lc")), "mp4a.40.2");
        assert_eq!(with_aac_object_type("mp4a.40", Some("he-aac")), "mp4a.40.5");
        assert_eq!(with_aac_object_type("mp4a.40.2", Some("lc")), "mp4a.40.2");
        assert_eq!(with_aac_object_type("mp4a.40", None), "mp4a.40");
        assert_eq!(
            with_aac_object_type("avc1.64001f", Some("high")),
            "avc1.64001f"
        );
    }
}
