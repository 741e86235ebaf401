//! Pure mappings from what Discoverer reports (caps names and fields, tags, sizes) to
//! the fields of a probe result: short codec and container names, MIME types, display
//! aspect ratios and per-stream bitrates.

/// The short name ffprobe would give a stream ("h264", "hevc", "aac", "mp3"), from its
/// caps' media type and, for MPEG audio and video, their `mpegversion` and `layer`.
/// Unknown types fall back to the media type without its "video/x-" style prefix.
pub fn codec_short_name(media_type: &str, mpegversion: Option<i32>, layer: Option<i32>) -> String {
    let known = match (media_type, mpegversion, layer) {
        ("video/x-h264", ..) => "h264",
        ("video/x-h265", ..) => "hevc",
        ("video/x-vp8", ..) => "vp8",
        ("video/x-vp9", ..) => "vp9",
        ("video/x-av1", ..) => "av1",
        ("video/x-theora", ..) => "theora",
        ("video/x-h263", ..) => "h263",
        ("video/x-prores", ..) => "prores",
        ("video/x-divx" | "video/x-xvid", ..) => "mpeg4",
        ("video/mpeg", Some(4), _) => "mpeg4",
        ("video/mpeg", Some(2), _) => "mpeg2video",
        ("video/mpeg", Some(1), _) => "mpeg1video",
        ("image/jpeg", ..) => "mjpeg",
        ("video/x-raw", ..) => "rawvideo",
        ("audio/mpeg", Some(2 | 4), _) => "aac",
        ("audio/mpeg", Some(1), Some(3) | None) => "mp3",
        ("audio/mpeg", Some(1), Some(2)) => "mp2",
        ("audio/mpeg", Some(1), Some(1)) => "mp1",
        ("audio/x-opus", ..) => "opus",
        ("audio/x-vorbis", ..) => "vorbis",
        ("audio/x-flac", ..) => "flac",
        ("audio/x-ac3" | "audio/ac3", ..) => "ac3",
        ("audio/x-eac3", ..) => "eac3",
        ("audio/x-dts", ..) => "dts",
        ("audio/x-alac", ..) => "alac",
        ("audio/x-speex", ..) => "speex",
        ("audio/x-raw", ..) => "pcm",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    let bare = media_type
        .split_once('/')
        .map_or(media_type, |(_, subtype)| subtype);
    bare.strip_prefix("x-").unwrap_or(bare).to_owned()
}

/// The container's short name ("mp4", "webm", "mkv", "ts", "mp3", "ogg") from the caps
/// name of Discoverer's top stream. A bare elementary stream, or one behind an ID3/APE
/// tag, is named after its audio codec ("mp3", "aac", "flac").
pub fn container_short_name(container_caps: &str, audio_codec: &str) -> String {
    let name = match container_caps {
        "video/quicktime" | "audio/x-m4a" | "application/x-3gp" => "mp4",
        "video/webm" | "audio/webm" => "webm",
        "video/x-matroska" | "audio/x-matroska" => "mkv",
        "video/mpegts" => "ts",
        "application/ogg" | "audio/ogg" | "video/ogg" => "ogg",
        "video/x-msvideo" => "avi",
        "video/x-flv" => "flv",
        "application/x-id3" | "application/x-apetag" | "audio/mpeg" | "audio/x-flac"
            if !audio_codec.is_empty() =>
        {
            audio_codec
        }
        other => other,
    };
    name.to_owned()
}

/// The MIME type of a file, from its container's short name and whether it has video.
pub fn mime_type(container: &str, has_video: bool) -> String {
    let kind = if has_video { "video" } else { "audio" };
    match container {
        "mp4" => format!("{kind}/mp4"),
        "webm" => format!("{kind}/webm"),
        "mkv" => format!("{kind}/x-matroska"),
        "ogg" => format!("{kind}/ogg"),
        "ts" => "video/mp2t".into(),
        "mp3" => "audio/mpeg".into(),
        "aac" => "audio/aac".into(),
        "flac" => "audio/flac".into(),
        "avi" => "video/x-msvideo".into(),
        "flv" => "video/x-flv".into(),
        "" => "application/octet-stream".into(),
        // An unknown container keeps its caps name, which is a media type already.
        other => other.into(),
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The display aspect ratio, reduced ("16:9", "427:240"), from the stored frame size and
/// pixel aspect ratio; `rotated` swaps it for a 90/270 degree rotation tag. Empty when
/// the size is unknown.
pub fn display_aspect_ratio(
    width: u32,
    height: u32,
    par_numer: i32,
    par_denom: i32,
    rotated: bool,
) -> String {
    let (par_n, par_d) = if par_numer > 0 && par_denom > 0 {
        (par_numer as u64, par_denom as u64)
    } else {
        (1, 1)
    };
    let (mut w, mut h) = (width as u64 * par_n, height as u64 * par_d);
    if w == 0 || h == 0 {
        return String::new();
    }
    if rotated {
        std::mem::swap(&mut w, &mut h);
    }
    let divisor = gcd(w, h);
    format!("{}:{}", w / divisor, h / divisor)
}

/// What Discoverer declares for a stream: its `bitrate` tag, else its `maximum-bitrate`;
/// 0 when it has neither.
pub fn declared_bitrate(bitrate: u32, max_bitrate: u32) -> u64 {
    if bitrate > 0 {
        bitrate as u64
    } else {
        max_bitrate as u64
    }
}

/// Each stream's bitrate (None when the file has no such stream). A declared rate is
/// kept. An undeclared one comes from the file's mean rate (size x 8 / duration): all of
/// it for an audio-only file, and for video whatever the audio's declared rate leaves.
/// That fallback counts the container's overhead, and a video stream whose audio
/// declares nothing too is credited with the audio's share as well (audio stays 0,
/// unknown).
///
/// What GStreamer 1.22's muxers leave for Discoverer to declare: mp4mux, both streams
/// (from btrt/esds); matroskamux, both (the encoders' tags); webmmux, Opus only (so VP9
/// and AV1 get the remainder); mpegtsmux, neither (video gets the whole mean, several
/// percent of it TS overhead); oggmux, nothing (Opus gets the mean); a CBR MP3, its
/// frames' nominal rate.
pub fn stream_bitrates(
    video_declared: Option<u64>,
    audio_declared: Option<u64>,
    size_bytes: u64,
    duration_seconds: f64,
) -> (Option<u64>, Option<u64>) {
    let mean = if duration_seconds > 0.0 {
        (size_bytes as f64 * 8.0 / duration_seconds) as u64
    } else {
        0
    };
    let audio = audio_declared.map(|declared| match (declared, video_declared) {
        (0, None) => mean,
        (declared, _) => declared,
    });
    let video = video_declared.map(|declared| match declared {
        0 => mean.saturating_sub(audio.unwrap_or(0)),
        declared => declared,
    });
    (video, audio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_get_ffprobe_short_names() {
        let cases = [
            ("video/x-h264", None, None, "h264"),
            ("video/x-h265", None, None, "hevc"),
            ("video/x-vp9", None, None, "vp9"),
            ("video/x-av1", None, None, "av1"),
            ("video/x-vp8", None, None, "vp8"),
            ("video/mpeg", Some(2), None, "mpeg2video"),
            ("audio/mpeg", Some(4), None, "aac"),
            ("audio/mpeg", Some(2), None, "aac"),
            ("audio/mpeg", Some(1), Some(3), "mp3"),
            ("audio/mpeg", Some(1), Some(2), "mp2"),
            ("audio/x-opus", None, None, "opus"),
            ("audio/x-vorbis", None, None, "vorbis"),
            ("audio/x-flac", None, None, "flac"),
        ];
        for (caps, version, layer, expected) in cases {
            assert_eq!(codec_short_name(caps, version, layer), expected, "{caps}");
        }
    }

    #[test]
    fn unknown_codecs_fall_back_to_the_bare_subtype() {
        assert_eq!(codec_short_name("video/x-wmv", None, None), "wmv");
        assert_eq!(codec_short_name("audio/AMR", None, None), "AMR");
        assert_eq!(codec_short_name("weird", None, None), "weird");
    }

    #[test]
    fn containers_get_short_names_and_mime_types() {
        let cases = [
            ("video/quicktime", "aac", true, "mp4", "video/mp4"),
            ("video/quicktime", "aac", false, "mp4", "audio/mp4"),
            ("video/webm", "opus", true, "webm", "video/webm"),
            ("video/webm", "opus", false, "webm", "audio/webm"),
            ("video/x-matroska", "aac", true, "mkv", "video/x-matroska"),
            ("video/x-matroska", "aac", false, "mkv", "audio/x-matroska"),
            ("video/mpegts", "aac", true, "ts", "video/mp2t"),
            ("application/x-id3", "mp3", false, "mp3", "audio/mpeg"),
            ("audio/mpeg", "mp3", false, "mp3", "audio/mpeg"),
            ("audio/mpeg", "aac", false, "aac", "audio/aac"),
            ("audio/ogg", "opus", false, "ogg", "audio/ogg"),
            ("application/ogg", "vorbis", false, "ogg", "audio/ogg"),
        ];
        for (caps, audio, has_video, short, mime) in cases {
            let container = container_short_name(caps, audio);
            assert_eq!(container, short, "{caps}");
            assert_eq!(mime_type(&container, has_video), mime, "{caps}");
        }
        assert_eq!(
            container_short_name("video/x-unknown", ""),
            "video/x-unknown"
        );
        assert_eq!(mime_type("video/x-unknown", true), "video/x-unknown");
        assert_eq!(mime_type("", false), "application/octet-stream");
    }

    #[test]
    fn aspect_ratio_is_reduced_and_follows_pixel_shape_and_rotation() {
        assert_eq!(display_aspect_ratio(1920, 1080, 1, 1, false), "16:9");
        assert_eq!(display_aspect_ratio(1920, 1080, 1, 1, true), "9:16");
        assert_eq!(display_aspect_ratio(854, 480, 1, 1, false), "427:240");
        // Anamorphic PAL widescreen: 720x576 stored, 64:45 pixels.
        assert_eq!(display_aspect_ratio(720, 576, 64, 45, false), "16:9");
        assert_eq!(display_aspect_ratio(640, 480, 0, 0, false), "4:3");
        assert_eq!(display_aspect_ratio(0, 480, 1, 1, false), "");
    }

    #[test]
    fn declared_bitrate_prefers_the_mean_tag() {
        assert_eq!(declared_bitrate(1_500_000, 2_000_000), 1_500_000);
        assert_eq!(declared_bitrate(0, 2_000_000), 2_000_000);
        assert_eq!(declared_bitrate(0, 0), 0);
    }

    #[test]
    fn undeclared_bitrates_come_from_size_over_duration() {
        // 1 MB over 8 s is 1 Mbit/s.
        let (size, secs) = (1_000_000, 8.0);
        assert_eq!(
            stream_bitrates(Some(900), Some(100), size, secs),
            (Some(900), Some(100))
        );
        assert_eq!(
            stream_bitrates(Some(0), Some(128_000), size, secs),
            (Some(872_000), Some(128_000))
        );
        assert_eq!(
            stream_bitrates(Some(0), Some(0), size, secs),
            (Some(1_000_000), Some(0))
        );
        assert_eq!(
            stream_bitrates(None, Some(0), size, secs),
            (None, Some(1_000_000))
        );
        assert_eq!(
            stream_bitrates(Some(0), None, size, secs),
            (Some(1_000_000), None)
        );
        assert_eq!(stream_bitrates(Some(0), None, size, 0.0), (Some(0), None));
        assert_eq!(stream_bitrates(None, None, size, secs), (None, None));
    }
}
