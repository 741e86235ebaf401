//! The Amazon Elastic Transcoder system presets, kept as data in
//! `elastic_transcoder_presets.tsv` (the "System Presets" page of the Elastic Transcoder
//! developer guide, with each preset's settings from ET's ListPresets/ReadPreset output).
//! Elastic Transcoder reached end of support on 2025-11-13; its users stored these ids,
//! so the presets this server can produce join the system presets under their ET id.
//!
//! The file has a header line and one tab-separated row per preset; `-` marks a value
//! that does not apply and `auto` one that ET took from the source. Where ET's own
//! settings could not be found, the row says what was assumed in its `note` column.

use super::profile::{
    AudioCodec, AudioSettings, Container, H264Profile, Profile, ProfileId, VideoCodec,
    VideoSettings,
};
use std::sync::LazyLock;

const TABLE: &str = include_str!("elastic_transcoder_presets.tsv");

/// The columns of the table, in order.
pub const COLUMNS: [&str; 16] = [
    "et_id",
    "description",
    "producible",
    "container",
    "video_codec",
    "video_profile",
    "max_width",
    "max_height",
    "video_kbps",
    "frame_rate",
    "keyframes_max_dist",
    "audio_codec",
    "audio_kbps",
    "channels",
    "sample_rate",
    "note",
];

/// Catalogue ids of new presets: the table's row `i` (counted from 0, header excluded)
/// becomes system preset `FIRST_CATALOGUE_ID + i`. Ids follow the row, not the count of
/// producible rows, so that a preset becoming producible never renumbers the others.
pub const FIRST_CATALOGUE_ID: u64 = 7;

/// Frame rate assumed where ET's was `auto` (taken from the source), to turn a key
/// frame distance in frames into seconds.
const AUTO_FRAME_RATE: f64 = 30.0;

/// One Elastic Transcoder system preset, with the settings ET gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticPreset {
    /// ET's preset id, e.g. "1351620000001-000010".
    pub et_id: String,
    /// ET's preset name, e.g. "System preset: Generic 720p".
    pub description: String,
    /// Whether this server can write it (marked in the table, checked by `to_profile`).
    pub producible: bool,
    /// ET's container name: mp4, ts, fmp4, webm, mp3, ...
    pub container: String,
    pub video: Option<ElasticVideo>,
    pub audio: Option<ElasticAudio>,
    /// Where a value came from when ET's own was not found, and why a preset is not
    /// producible.
    pub note: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ElasticVideo {
    /// h264, vp8, vp9, mpeg2 or gif.
    pub codec: String,
    /// The codec profile (baseline, main, high for H.264), if ET set one.
    pub profile: Option<String>,
    /// None where ET used `auto`.
    pub max_width: Option<u32>,
    pub max_height: Option<u32>,
    pub bitrate_kbps: u32,
    /// None where ET used `auto`.
    pub frame_rate: Option<f64>,
    /// Maximum distance between key frames, in frames.
    pub keyframes_max_dist: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ElasticAudio {
    /// aac, mp3, mp2, pcm, flac or vorbis.
    pub codec: String,
    /// None for lossless codecs.
    pub bitrate_kbps: Option<u32>,
    pub channels: u32,
    pub sample_rate: u32,
}

/// A row of the table that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("elastic_transcoder_presets.tsv line {line}: {problem}")]
pub struct TableError {
    /// 1-based, the header being line 1.
    pub line: usize,
    pub problem: String,
}

/// Why a preset cannot be made into a profile this server can produce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not producible: {0}")]
pub struct NotProducible(pub &'static str);

/// Every Elastic Transcoder system preset, in the table's order.
pub fn table() -> &'static [ElasticPreset] {
    static PARSED: LazyLock<Vec<ElasticPreset>> = LazyLock::new(|| {
        // The unit tests parse the embedded table, so a bad row fails them first.
        parse_table(TABLE).expect("elastic_transcoder_presets.tsv parses")
    });
    &PARSED
}

/// The preset with Elastic Transcoder id `et_id`, producible or not.
pub fn find(et_id: &str) -> Option<&'static ElasticPreset> {
    let et_id = et_id.trim();
    table().iter().find(|p| p.et_id == et_id)
}

/// The catalogue id of the table's row `index` (see `FIRST_CATALOGUE_ID`).
pub fn catalogue_id(index: usize) -> ProfileId {
    ProfileId(FIRST_CATALOGUE_ID + index as u64)
}

/// Parses the whole table; a row marked producible must also convert to a profile.
pub fn parse_table(text: &str) -> Result<Vec<ElasticPreset>, TableError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let header: Vec<&str> = lines
        .next()
        .map(|(_, l)| l.split('\t').collect())
        .unwrap_or_default();
    if header != COLUMNS {
        return Err(TableError {
            line: 1,
            problem: format!("the header must be {COLUMNS:?}"),
        });
    }
    lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(line, l)| {
            let row = parse_row(l).map_err(|e| TableError { line, ..e })?;
            if row.producible {
                row.to_profile(ProfileId(0)).map_err(|e| TableError {
                    line,
                    problem: format!("marked producible but {e}"),
                })?;
            }
            Ok(row)
        })
        .collect()
}

/// A problem in a row; `parse_table` fills in the line.
fn problem(text: impl Into<String>) -> TableError {
    TableError {
        line: 0,
        problem: text.into(),
    }
}

fn parse_row(line: &str) -> Result<ElasticPreset, TableError> {
    let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
    let [
        et_id,
        description,
        producible,
        container,
        video_codec,
        video_profile,
        max_width,
        max_height,
        video_kbps,
        frame_rate,
        keyframes,
        audio_codec,
        audio_kbps,
        channels,
        sample_rate,
        note,
    ] = cells[..]
    else {
        return Err(problem(format!(
            "expected {} tab-separated cells, found {}",
            COLUMNS.len(),
            cells.len()
        )));
    };
    if !is_et_id(et_id) {
        return Err(problem(format!(
            "'{et_id}' is not an Elastic Transcoder id (13 digits, '-', 6 characters)"
        )));
    }
    if !description.starts_with("System preset: ") {
        return Err(problem(format!(
            "'{description}' must start with 'System preset: '"
        )));
    }
    let producible = match producible {
        "yes" => true,
        "no" => false,
        other => {
            return Err(problem(format!(
                "producible must be yes or no, not '{other}'"
            )));
        }
    };
    let video = match video_codec {
        "-" => None,
        codec => Some(ElasticVideo {
            codec: codec.to_owned(),
            profile: optional(video_profile).map(str::to_owned),
            max_width: auto_or(max_width, "max_width", parse_u32)?,
            max_height: auto_or(max_height, "max_height", parse_u32)?,
            bitrate_kbps: parse_u32(video_kbps, "video_kbps")?,
            frame_rate: auto_or(frame_rate, "frame_rate", parse_f64)?,
            keyframes_max_dist: optional(keyframes)
                .map(|k| parse_u32(k, "keyframes_max_dist"))
                .transpose()?,
        }),
    };
    let audio = match audio_codec {
        "-" => None,
        codec => Some(ElasticAudio {
            codec: codec.to_owned(),
            bitrate_kbps: optional(audio_kbps)
                .map(|k| parse_u32(k, "audio_kbps"))
                .transpose()?,
            channels: parse_u32(channels, "channels")?,
            sample_rate: parse_u32(sample_rate, "sample_rate")?,
        }),
    };
    if video.is_none() && audio.is_none() {
        return Err(problem("a preset needs video, audio or both"));
    }
    Ok(ElasticPreset {
        et_id: et_id.to_owned(),
        description: description.to_owned(),
        producible,
        container: container.to_owned(),
        video,
        audio,
        note: optional(note).unwrap_or_default().to_owned(),
    })
}

/// ET ids look like "1351620000001-000010": 13 digits, a dash, 6 word characters.
fn is_et_id(s: &str) -> bool {
    match s.split_once('-') {
        Some((head, tail)) => {
            head.len() == 13
                && head.bytes().all(|b| b.is_ascii_digit())
                && tail.len() == 6
                && tail.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }
        None => false,
    }
}

fn optional(cell: &str) -> Option<&str> {
    (cell != "-" && !cell.is_empty()).then_some(cell)
}

fn auto_or<T>(
    cell: &str,
    column: &str,
    parse: fn(&str, &str) -> Result<T, TableError>,
) -> Result<Option<T>, TableError> {
    match cell {
        "auto" | "-" => Ok(None),
        value => parse(value, column).map(Some),
    }
}

fn parse_u32(cell: &str, column: &str) -> Result<u32, TableError> {
    cell.parse()
        .map_err(|_| problem(format!("{column} must be a whole number, not '{cell}'")))
}

fn parse_f64(cell: &str, column: &str) -> Result<f64, TableError> {
    cell.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or_else(|| problem(format!("{column} must be a positive number, not '{cell}'")))
}

impl ElasticPreset {
    /// This preset as system preset `id`: H.264 and/or AAC in MP4, fitting inside ET's
    /// maximum size, with ET's bitrates and key frame spacing. The engine keeps the
    /// source's frame rate (ET's presets fixed one), and bitrates are min(source, preset)
    /// like the other system presets.
    pub fn to_profile(&self, id: ProfileId) -> Result<Profile, NotProducible> {
        let container = match self.container.as_str() {
            "mp4" if self.video.is_none() => Container::M4a,
            "mp4" => Container::Mp4,
            "mp3" => Container::Mp3,
            "webm" => Container::Webm,
            _ => return Err(NotProducible("the container is not written as a file")),
        };
        let video = self.video.as_ref().map(video_settings).transpose()?;
        let audio = self
            .audio
            .as_ref()
            .map(|a| audio_settings(a, container))
            .transpose()?;
        let profile = Profile {
            id,
            company_id: None,
            description: self.description.clone(),
            container,
            video,
            audio,
            restrict_bitrate: true,
            allow_upscale: false,
            streaming: None,
            elastic_transcoder_id: Some(self.et_id.clone()),
        };
        if !super::profile_draft::producibility_problems(&profile, "profile").is_empty() {
            return Err(NotProducible(
                "its codecs cannot be written into its container",
            ));
        }
        Ok(profile)
    }
}

fn video_settings(v: &ElasticVideo) -> Result<VideoSettings, NotProducible> {
    let (codec, codec_profile) = match (v.codec.as_str(), v.profile.as_deref()) {
        ("h264", Some("baseline")) => (VideoCodec::H264, Some(H264Profile::Baseline)),
        ("h264", Some("main")) => (VideoCodec::H264, Some(H264Profile::Main)),
        ("h264", Some("high")) => (VideoCodec::H264, Some(H264Profile::High)),
        ("h264", _) => return Err(NotProducible("H.264 needs baseline, main or high")),
        ("vp9", _) => (VideoCodec::Vp9, None),
        _ => return Err(NotProducible("only H.264 and VP9 ET presets are written")),
    };
    let (Some(width), Some(height)) = (v.max_width, v.max_height) else {
        return Err(NotProducible("video needs a maximum width and height"));
    };
    if width < 2 || height < 2 || width % 2 != 0 || height % 2 != 0 {
        return Err(NotProducible("4:2:0 video needs even dimensions"));
    }
    let keyframes = v
        .keyframes_max_dist
        .ok_or(NotProducible("video needs a key frame distance"))?;
    let fps = v.frame_rate.unwrap_or(AUTO_FRAME_RATE);
    // 90 frames at 29.97 fps is 3.003 s: keep hundredths so the catalogue reads 3 s.
    let keyframe_interval_seconds = (keyframes as f64 / fps * 100.0).round() / 100.0;
    let mut settings = VideoSettings::new(codec, width, height, v.bitrate_kbps);
    settings.codec_profile = codec_profile;
    settings.keyframe_interval_seconds = keyframe_interval_seconds;
    Ok(settings)
}

/// ET's WebM presets carry Vorbis, which this server does not write: they get Opus at the
/// same bitrate and 48 kHz (Opus's own rate) instead, as the table's note says.
fn audio_settings(a: &ElasticAudio, container: Container) -> Result<AudioSettings, NotProducible> {
    let (codec, sample_rate) = match (a.codec.as_str(), container) {
        ("aac", _) => (AudioCodec::Aac, a.sample_rate),
        ("mp3", _) => (AudioCodec::Mp3, a.sample_rate),
        ("vorbis", Container::Webm) => (AudioCodec::Opus, 48_000),
        _ => {
            return Err(NotProducible(
                "only AAC, MP3 and (as Opus) Vorbis audio is written",
            ));
        }
    };
    let bitrate_kbps = a
        .bitrate_kbps
        .ok_or(NotProducible("audio needs a bitrate"))?;
    if !(1..=2).contains(&a.channels) {
        return Err(NotProducible("audio is written in mono or stereo"));
    }
    Ok(AudioSettings {
        codec,
        bitrate_kbps,
        channels: a.channels,
        sample_rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::profile::normalize_description;
    use crate::domain::profile_draft::{AUDIO_KBPS, KEYFRAME_SECONDS, SAMPLE_RATES, VIDEO_KBPS};
    use std::collections::HashSet;

    #[test]
    fn every_row_parses_and_the_table_is_whole() {
        let rows = parse_table(TABLE).unwrap();
        // The AWS page lists 62 current system presets.
        assert_eq!(rows.len(), 62);
        assert_eq!(table().len(), rows.len());
        assert!(rows.iter().any(|r| r.container == "webm"));
        assert!(rows.iter().any(|r| r.container == "ts"));
    }

    #[test]
    fn ids_and_descriptions_are_unique() {
        let ids: HashSet<_> = table().iter().map(|r| r.et_id.as_str()).collect();
        assert_eq!(ids.len(), table().len());
        let names: HashSet<_> = table()
            .iter()
            .map(|r| normalize_description(&r.description))
            .collect();
        assert_eq!(names.len(), table().len());
    }

    #[test]
    fn catalogue_ids_stay_below_company_profiles() {
        let last = catalogue_id(table().len() - 1);
        assert!(crate::domain::profile::is_system_id(last), "{last:?}");
    }

    #[test]
    fn producible_rows_are_exactly_the_convertible_ones() {
        for row in table() {
            let made = row.to_profile(ProfileId(7));
            if row.producible {
                assert!(made.is_ok(), "{row:?}: {made:?}");
            } else {
                // The 1080i presets are H.264 and AAC in MP4 but interlaced, which the
                // settings cannot express: the table marks them and says why.
                assert!(made.is_err() || row.note.contains("interlaced"), "{row:?}");
            }
        }
        let web = find("1351620000001-100070")
            .unwrap()
            .to_profile(ProfileId(9));
        let web = web.unwrap();
        assert_eq!(web.description, "System preset: Web");
        assert_eq!(
            web.elastic_transcoder_id.as_deref(),
            Some("1351620000001-100070")
        );
        let video = web.video.unwrap();
        assert_eq!(
            (video.width, video.height, video.bitrate_kbps),
            (1280, 720, 2200)
        );
        assert_eq!(video.codec_profile, Some(H264Profile::Main));
        assert_eq!(video.keyframe_interval_seconds, 3.0);
        assert_eq!(web.audio.unwrap().bitrate_kbps, 160);
    }

    #[test]
    fn producible_rows_pass_the_checks_a_company_profile_passes() {
        for p in table()
            .iter()
            .filter_map(|r| r.to_profile(ProfileId(7)).ok())
        {
            if let Some(v) = &p.video {
                assert!(VIDEO_KBPS.contains(&v.bitrate_kbps), "{p:?}");
                assert!(
                    KEYFRAME_SECONDS.contains(&v.keyframe_interval_seconds),
                    "{p:?}"
                );
            }
            if let Some(a) = &p.audio {
                assert!(AUDIO_KBPS.contains(&a.bitrate_kbps), "{p:?}");
                assert!(SAMPLE_RATES.contains(&a.sample_rate), "{p:?}");
            }
        }
    }

    #[test]
    fn not_producible_presets_say_why() {
        let webm = find("1351620000001-100240").unwrap();
        assert!(!webm.producible);
        assert_eq!(
            webm.to_profile(ProfileId(7)),
            Err(NotProducible("only H.264 and VP9 ET presets are written"))
        );
        let interlaced = find("1351620000001-100180").unwrap();
        assert_eq!(interlaced.container, "mp4");
        assert!(!interlaced.producible && interlaced.note.contains("interlaced"));
        assert!(find("1351620000001-999999").is_none());
    }

    #[test]
    fn bad_rows_are_refused_with_their_line() {
        let header = COLUMNS.join("\t");
        let row = |cells: &str| format!("{header}\n{}\n", cells.replace('|', "\t"));
        let good = "1351620000001-000010|System preset: Generic 720p|yes|mp4|h264|baseline|1280|720|2400|29.97|90|aac|160|2|44100|-";
        assert_eq!(parse_table(&row(good)).unwrap().len(), 1);
        for bad in [
            good.replace("1351620000001-000010", "135162-000010"),
            good.replace("|yes|", "|maybe|"),
            good.replace("|1280|", "|wide|"),
            good.replace("|mp4|", "|webm|"),
            good.replace("|baseline|", "|extended|"),
            good.replace("|-", ""),
            good.replace("System preset: ", ""),
        ] {
            let err = parse_table(&row(&bad)).unwrap_err();
            assert_eq!(err.line, 2, "{bad}: {err}");
        }
        assert_eq!(parse_table("et_id\n").unwrap_err().line, 1);
    }
}
