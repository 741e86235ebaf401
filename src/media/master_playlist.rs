//! The HLS master playlist, from the measured rungs. Pure: written by `ladder.rs`.

use super::hls_rung::WrittenRung;
use m3u8_rs::{AlternativeMedia, AlternativeMediaType, MasterPlaylist, Resolution, VariantStream};

/// The group every variant names when the audio is a rendition of its own (fMP4).
pub const AUDIO_GROUP: &str = "audio";

/// `rung_uri` gives a rung's media playlist URI relative to the master.
/// Video rungs become variants in the given order (largest first); an audio-only rung
/// becomes the audio group, and each variant's bandwidth and codecs include it.
pub fn master_playlist(
    rungs: &[WrittenRung],
    rung_uri: impl Fn(&WrittenRung) -> String,
) -> MasterPlaylist {
    let audio = rungs.iter().find(|r| r.media.video.is_none());
    let alternatives = audio
        .map(|a| AlternativeMedia {
            media_type: AlternativeMediaType::Audio,
            uri: Some(rung_uri(a)),
            group_id: AUDIO_GROUP.into(),
            name: a.name.clone(),
            default: true,
            autoselect: true,
            channels: a.media.audio.as_ref().map(|s| s.channels.to_string()),
            ..Default::default()
        })
        .into_iter()
        .collect();
    let variants = rungs
        .iter()
        .filter(|r| r.media.video.is_some())
        .map(|rung| variant(rung, audio, rung_uri(rung)))
        .collect();
    MasterPlaylist {
        version: rungs.iter().filter_map(|r| r.playlist_version).max(),
        independent_segments: true,
        alternatives,
        variants,
        ..Default::default()
    }
}

fn variant(rung: &WrittenRung, audio: Option<&WrittenRung>, uri: String) -> VariantStream {
    let video = rung.media.video.as_ref();
    let mut codecs = rung.codecs.clone();
    if let Some(a) = audio {
        codecs.extend(a.codecs.iter().cloned());
    }
    VariantStream {
        uri,
        bandwidth: rung.peak_bps + audio.map_or(0, |a| a.peak_bps),
        average_bandwidth: Some(rung.average_bps + audio.map_or(0, |a| a.average_bps)),
        codecs: Some(codecs.join(",")),
        resolution: video.map(|v| Resolution {
            width: u64::from(v.width),
            height: u64::from(v.height),
        }),
        // The spec asks for three decimals at most (29.97, not 29.97002997).
        frame_rate: video
            .filter(|v| v.frame_rate > 0.0)
            .map(|v| (v.frame_rate * 1000.0).round() / 1000.0),
        audio: audio.map(|_| AUDIO_GROUP.into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MediaInfo;
    use crate::domain::media_info::{AudioStreamInfo, VideoStreamInfo};

    fn rung(
        name: &str,
        video: Option<(u32, u32)>,
        peak: u64,
        average: u64,
        codecs: &[&str],
    ) -> WrittenRung {
        WrittenRung {
            name: name.into(),
            dir: name.into(),
            playlist_version: Some(if video.is_some() { 7 } else { 6 }),
            media_files: Vec::new(),
            segments: 2,
            duration_seconds: 8.0,
            max_segment_seconds: 6.0,
            peak_bps: peak,
            average_bps: average,
            media: MediaInfo {
                video: video.map(|(width, height)| VideoStreamInfo {
                    width,
                    height,
                    frame_rate: 30000.0 / 1001.0,
                    ..Default::default()
                }),
                audio: Some(AudioStreamInfo {
                    channels: 2,
                    ..Default::default()
                }),
                ..Default::default()
            },
            codecs: codecs.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn separate_audio_is_a_group_counted_in_every_variant() {
        let rungs = [
            rung(
                "720p",
                Some((1280, 720)),
                3_000_000,
                2_500_000,
                &["avc1.64001f"],
            ),
            rung("360p", Some((640, 360)), 900_000, 700_000, &["avc1.64001e"]),
            rung("audio", None, 130_000, 128_000, &["mp4a.40.2"]),
        ];
        let m = master_playlist(&rungs, |r| format!("v/{}/index.m3u8", r.name));
        assert_eq!(m.version, Some(7));
        assert!(m.independent_segments);
        assert_eq!(m.alternatives.len(), 1);
        assert_eq!(m.alternatives[0].uri.as_deref(), Some("v/audio/index.m3u8"));
        assert_eq!(m.alternatives[0].channels.as_deref(), Some("2"));
        assert_eq!(m.variants.len(), 2);
        let top = &m.variants[0];
        assert_eq!(top.uri, "v/720p/index.m3u8");
        assert_eq!(top.bandwidth, 3_130_000);
        assert_eq!(top.average_bandwidth, Some(2_628_000));
        assert_eq!(top.codecs.as_deref(), Some("avc1.64001f,mp4a.40.2"));
        assert_eq!(
            top.resolution.map(|r| (r.width, r.height)),
            Some((1280, 720))
        );
        assert_eq!(top.frame_rate, Some(29.97));
        assert_eq!(top.audio.as_deref(), Some(AUDIO_GROUP));
    }

    #[test]
    fn muxed_audio_needs_no_group() {
        let rungs = [rung(
            "360p",
            Some((640, 360)),
            900_000,
            700_000,
            &["avc1.64001e", "mp4a.40.2"],
        )];
        let m = master_playlist(&rungs, |r| format!("{}/index.m3u8", r.name));
        assert!(m.alternatives.is_empty());
        assert_eq!(m.variants[0].bandwidth, 900_000);
        assert_eq!(m.variants[0].audio, None);
        assert_eq!(
            m.variants[0].codecs.as_deref(),
            Some("avc1.64001e,mp4a.40.2")
        );
    }
}
