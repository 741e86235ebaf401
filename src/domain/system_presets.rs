//! The built-in, read-only presets. Ids are stable: clients store them.

use super::elastic_presets;
use super::profile::{
    AudioCodec, AudioSettings, Container, H264Profile, LadderRung, Profile, ProfileId,
    SegmentFormat, StreamingSettings, VideoCodec, VideoSettings, normalize_description,
};
use std::sync::LazyLock;

/// The built-in presets: this server's first six, then the Elastic Transcoder system
/// presets it can produce (see `elastic_presets`), then the later ones (ids 80 up).
/// An ET preset named like one of this server's (Generic 1080p, Generic 720p) gives that
/// preset its ET id instead of adding a second one; the others take the id of their row
/// in the table (`elastic_presets::catalogue_id`).
pub static SYSTEM_PRESETS: LazyLock<Vec<Profile>> = LazyLock::new(|| {
    let mut presets = original_presets();
    let originals = presets.len();
    for (index, row) in elastic_presets::table().iter().enumerate() {
        if !row.producible {
            continue;
        }
        let wanted = normalize_description(&row.description);
        if let Some(same) = presets[..originals]
            .iter_mut()
            .find(|p| normalize_description(&p.description) == wanted)
        {
            same.elastic_transcoder_id = Some(row.et_id.clone());
            continue;
        }
        let profile = row
            .to_profile(elastic_presets::catalogue_id(index))
            // `elastic_presets::parse_table` converts every producible row already.
            .expect("a producible Elastic Transcoder preset converts");
        presets.push(profile);
    }
    presets.extend(later_presets());
    presets
});

fn preset(id: u64, name: &str, container: Container) -> Profile {
    Profile {
        id: ProfileId(id),
        company_id: None,
        description: format!("System preset: {name}"),
        container,
        video: None,
        audio: None,
        restrict_bitrate: true,
        allow_upscale: false,
        streaming: None,
        elastic_transcoder_id: None,
    }
}

fn with_video(mut p: Profile, video: VideoSettings) -> Profile {
    p.video = Some(video);
    p
}

fn with_audio(mut p: Profile, codec: AudioCodec, kbps: u32) -> Profile {
    p.audio = Some(audio(codec, kbps));
    p
}

fn audio(codec: AudioCodec, bitrate_kbps: u32) -> AudioSettings {
    AudioSettings {
        codec,
        bitrate_kbps,
        channels: 2,
        sample_rate: 48_000,
    }
}

fn h264_aac(
    id: u64,
    name: &str,
    (width, height): (u32, u32),
    kbps: u32,
    profile: H264Profile,
) -> Profile {
    let mut video = VideoSettings::new(VideoCodec::H264, width, height, kbps);
    video.codec_profile = Some(profile);
    let audio_kbps = if profile == H264Profile::Baseline {
        96
    } else {
        128
    };
    with_audio(
        with_video(preset(id, name, Container::Mp4), video),
        AudioCodec::Aac,
        audio_kbps,
    )
}

/// Presets 1..6, as this server first shipped them (6 now says what it always was: M4A).
fn original_presets() -> Vec<Profile> {
    use H264Profile::*;
    vec![
        h264_aac(1, "Generic 1080p", (1920, 1080), 5000, High),
        h264_aac(2, "Generic 720p", (1280, 720), 2800, High),
        h264_aac(3, "Generic 480p", (854, 480), 1200, High),
        h264_aac(4, "Generic 360p", (640, 360), 700, High),
        h264_aac(
            5,
            "Web and mobile 360p (H.264 Baseline)",
            (640, 360),
            600,
            Baseline,
        ),
        with_audio(
            preset(6, "Audio only AAC 128k", Container::M4a),
            AudioCodec::Aac,
            128,
        ),
    ]
}

/// The standard HLS/DASH ladder, dropped rung by rung above the source's size.
pub fn standard_ladder() -> Vec<LadderRung> {
    [
        (1920, 1080, 5000),
        (1280, 720, 2800),
        (854, 480, 1200),
        (640, 360, 700),
    ]
    .map(|(width, height, bitrate_kbps)| LadderRung {
        width,
        height,
        bitrate_kbps,
    })
    .to_vec()
}

fn ladder(id: u64, name: &str, container: Container, segments: SegmentFormat) -> Profile {
    let mut video = VideoSettings::new(VideoCodec::H264, 1920, 1080, 5000);
    // Every segment starts on a key frame, so key frames come once a segment.
    video.keyframe_interval_seconds = 6.0;
    let mut p = with_audio(
        with_video(preset(id, name, container), video),
        AudioCodec::Aac,
        128,
    );
    p.streaming = Some(StreamingSettings {
        segment_seconds: 6.0,
        segment_format: segments,
        rungs: standard_ladder(),
    });
    p
}

/// Presets 80 and up: the other codecs and containers, and the ladders. (The MP3 and
/// WebM VP9 ones come from the Elastic Transcoder table, with their ET ids.)
fn later_presets() -> Vec<Profile> {
    let hevc = |id, name, (w, h), kbps| {
        with_audio(
            with_video(
                preset(id, name, Container::Mp4),
                VideoSettings::new(VideoCodec::H265, w, h, kbps),
            ),
            AudioCodec::Aac,
            128,
        )
    };
    vec![
        hevc(80, "HEVC MP4 1080p", (1920, 1080), 3500),
        hevc(81, "HEVC MP4 720p", (1280, 720), 2000),
        with_audio(
            with_video(
                preset(82, "AV1 720p (slow)", Container::Mp4),
                VideoSettings::new(VideoCodec::Av1, 1280, 720, 1500),
            ),
            AudioCodec::Opus,
            96,
        ),
        with_audio(
            preset(83, "Audio only Opus 96k", Container::Ogg),
            AudioCodec::Opus,
            96,
        ),
        ladder(84, "HLS ladder", Container::Hls, SegmentFormat::Fmp4),
        ladder(
            85,
            "HLS ladder (TS segments)",
            Container::Hls,
            SegmentFormat::Ts,
        ),
    ]
}

/// One README table row per preset: `| id | ET id | description | video | audio |`.
pub fn readme_row(p: &Profile) -> String {
    let video = p.video.as_ref().map_or("none".to_owned(), |v| {
        let codec = match (v.codec, v.codec_profile) {
            (VideoCodec::H264, Some(profile)) => format!("H.264 {}", capitalised(profile.as_str())),
            (VideoCodec::H264, None) => "H.264".to_owned(),
            (VideoCodec::H265, _) => "H.265".to_owned(),
            (VideoCodec::Vp9, _) => "VP9".to_owned(),
            (VideoCodec::Av1, _) => "AV1".to_owned(),
        };
        match &p.streaming {
            Some(s) => format!(
                "{codec} ladder {}, {} s {} segments",
                s.rungs
                    .iter()
                    .map(|r| format!("{}p {}k", r.height, r.bitrate_kbps))
                    .collect::<Vec<_>>()
                    .join(" / "),
                s.segment_seconds,
                s.segment_format.as_str()
            ),
            None => format!("{codec} {}x{} {} kbit/s", v.width, v.height, v.bitrate_kbps),
        }
    });
    let audio = p.audio.as_ref().map_or("none".to_owned(), |a| {
        let codec = match a.codec {
            AudioCodec::Aac => "AAC",
            AudioCodec::Mp3 => "MP3",
            AudioCodec::Opus => "Opus",
        };
        format!("{codec} {}k", a.bitrate_kbps)
    });
    format!(
        "| {} | {} | {} | {} | {video} | {audio} |",
        p.id.0,
        p.elastic_transcoder_id.as_deref().unwrap_or("-"),
        p.description,
        p.container.as_str()
    )
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table is the catalogue: a preset added or changed here fails this until
    /// the README says so too (`cargo test readme_lists -- --nocapture` prints the rows).
    #[test]
    fn readme_lists_every_system_preset() {
        let readme = include_str!("../../README.md");
        let mut missing = Vec::new();
        for p in SYSTEM_PRESETS.iter() {
            let row = readme_row(p);
            println!("{row}");
            if !readme.lines().any(|l| l == row) {
                missing.push(row);
            }
        }
        assert!(missing.is_empty(), "README lacks: {missing:#?}");
    }
}
