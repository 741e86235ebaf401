//! A company profile as a client sends it (CreateProfile, UpdateProfile), and the checks
//! it must pass before it is saved: every bad field is named.

use super::company::CompanyId;
use super::profile::{
    AudioCodec, AudioSettings, Container, LadderRung, Profile, ProfileCatalogue, ProfileId,
    StreamingSettings, is_system_id, normalize_description,
};
use super::profile_rules::{Bad, check_combinations, validate_streaming, validate_video};
use crate::error::{Error, FieldViolation};

#[derive(Debug, Clone, Default)]
pub struct ProfileDraft {
    pub description: String,
    pub container: String,
    pub video: Option<VideoDraft>,
    pub audio: Option<AudioDraft>,
    pub restrict_bitrate: bool,
    pub allow_upscale: bool,
    pub streaming: Option<StreamingDraft>,
}

#[derive(Debug, Clone, Default)]
pub struct VideoDraft {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    /// 0: not set (bitrate mode).
    pub quality: u32,
    pub codec_profile: String,
    pub level: String,
    pub keyframe_interval_seconds: f64,
    pub frame_rate: f64,
    pub speed: String,
}

#[derive(Debug, Clone, Default)]
pub struct AudioDraft {
    pub codec: String,
    pub bitrate_kbps: u32,
    pub channels: u32,
    pub sample_rate: u32,
}

#[derive(Debug, Clone, Default)]
pub struct StreamingDraft {
    pub segment_seconds: f64,
    pub segment_format: String,
    /// (width, height, bitrate_kbps), largest first.
    pub rungs: Vec<(u32, u32, u32)>,
}

impl StreamingDraft {
    /// The ladder as sent, unchecked: its rungs largest first, its segment length or 6.
    pub(super) fn as_hint(&self) -> StreamingSettings {
        let mut rungs: Vec<LadderRung> = self
            .rungs
            .iter()
            .map(|&(width, height, bitrate_kbps)| LadderRung {
                width,
                height,
                bitrate_kbps,
            })
            .collect();
        rungs.sort_by_key(|r| std::cmp::Reverse(u64::from(r.width) * u64::from(r.height)));
        StreamingSettings {
            segment_seconds: if self.segment_seconds > 0.0 {
                self.segment_seconds
            } else {
                6.0
            },
            segment_format: Default::default(),
            rungs,
        }
    }
}

pub const MAX_DESCRIPTION_CHARS: usize = 200;
pub const MAX_DIMENSION: u32 = 7680;
pub const VIDEO_KBPS: std::ops::RangeInclusive<u32> = 50..=100_000;
pub const AUDIO_KBPS: std::ops::RangeInclusive<u32> = 16..=512;
pub const KEYFRAME_SECONDS: std::ops::RangeInclusive<f64> = 0.1..=20.0;
pub const FRAME_RATES: std::ops::RangeInclusive<f64> = 1.0..=120.0;
pub const SEGMENT_SECONDS: std::ops::RangeInclusive<f64> = 1.0..=20.0;
pub const MAX_RUNGS: usize = 8;
/// Every sample rate some audio encoder takes (each codec narrows it).
pub const SAMPLE_RATES: [u32; 7] = [8_000, 12_000, 16_000, 22_050, 32_000, 44_100, 48_000];

impl ProfileDraft {
    /// Checks every field and makes the profile `id` of `company`. `catalogue` is what
    /// the company can already use: descriptions must stay unique in it (orders name
    /// profiles by description), ignoring the profile being replaced.
    pub fn validate(
        self,
        id: ProfileId,
        company: &CompanyId,
        catalogue: &ProfileCatalogue,
    ) -> Result<Profile, Error> {
        let mut bad = Bad::default();
        let description = self.description.trim().to_owned();
        check_description(&description, id, catalogue, &mut bad);
        let container = parse_container(&self.container, &mut bad);
        // The video box and bitrate may come from the ladder's top rung: read them from the
        // draft even when the ladder is refused, so its errors are not echoed on video.
        let hint = self.streaming.as_ref().map(StreamingDraft::as_hint);
        let streaming = validate_streaming(container, self.streaming, &mut bad);
        let video = self.video.and_then(|v| {
            let ladder = streaming.as_ref().or(hint.as_ref());
            validate_video(v, ladder, &mut bad)
        });
        let audio = self.audio.and_then(|a| validate_audio(a, &mut bad));
        if bad.is_empty() && video.is_none() && audio.is_none() {
            bad.add("profile", "needs video settings, audio settings or both");
        }
        // Pairs are judged once every field is good (a bad codec is already named).
        if let (true, Some(container)) = (bad.is_empty(), container) {
            check_combinations(container, video.as_ref(), audio.as_ref(), &mut bad);
        }
        if !bad.is_empty() {
            return Err(Error::invalid_fields(bad.into_violations()));
        }
        Ok(Profile {
            id,
            company_id: Some(company.clone()),
            description,
            container: container.expect("checked above"),
            video,
            audio,
            restrict_bitrate: self.restrict_bitrate,
            allow_upscale: self.allow_upscale,
            streaming,
            elastic_transcoder_id: None,
        })
    }
}

/// What the engine cannot make of an already-saved profile (one stored before a rule
/// existed), checked again at submit; each problem names its field under `prefix`.
pub fn producibility_problems(profile: &Profile, prefix: &str) -> Vec<FieldViolation> {
    let mut bad = Bad::default();
    check_combinations(
        profile.container,
        profile.video.as_ref(),
        profile.audio.as_ref(),
        &mut bad,
    );
    if profile.container.is_streaming() != profile.streaming.is_some() {
        bad.add(
            "profile.streaming",
            format!(
                "a {} profile {} streaming settings",
                profile.container.as_str(),
                if profile.container.is_streaming() {
                    "needs"
                } else {
                    "takes no"
                }
            ),
        );
    }
    bad.into_violations()
        .into_iter()
        .map(|v| {
            let field = v.field.replacen("profile", prefix, 1);
            FieldViolation::new(field, v.description)
        })
        .collect()
}

fn check_description(
    description: &str,
    id: ProfileId,
    catalogue: &ProfileCatalogue,
    bad: &mut Bad,
) {
    if description.is_empty() || normalize_description(description).is_empty() {
        bad.add(
            "profile.description",
            "is required (letters or digits), orders may name the profile by it",
        );
    } else if description.chars().count() > MAX_DESCRIPTION_CHARS {
        bad.add(
            "profile.description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        );
    } else if let Some(taken) = catalogue
        .find_by_description(description)
        .filter(|p| p.id != id)
    {
        let owner = if is_system_id(taken.id) {
            "a system preset"
        } else {
            "another of the company's profiles"
        };
        bad.add(
            "profile.description",
            format!(
                "'{}' is taken by {owner} (id {}); descriptions are compared ignoring case and punctuation",
                taken.description, taken.id.0
            ),
        );
    }
}

fn parse_container(raw: &str, bad: &mut Bad) -> Option<Container> {
    let found = Container::parse(raw);
    if found.is_none() {
        let problem = if raw.trim().is_empty() {
            "is required".to_owned()
        } else {
            format!("'{}' is not supported", raw.trim())
        };
        bad.add(
            "profile.container",
            format!("{problem} (supported: {})", Container::names()),
        );
    }
    found
}

fn validate_audio(a: AudioDraft, bad: &mut Bad) -> Option<AudioSettings> {
    let before = bad.len();
    let codec = AudioCodec::parse(&a.codec);
    if codec.is_none() {
        bad.add(
            "profile.audio.codec",
            format!(
                "'{}' is not supported (supported: {})",
                a.codec.trim(),
                AudioCodec::names()
            ),
        );
    }
    let max_kbps = codec.map_or(*AUDIO_KBPS.end(), AudioCodec::max_bitrate_kbps);
    if !(*AUDIO_KBPS.start()..=max_kbps).contains(&a.bitrate_kbps) {
        bad.add(
            "profile.audio.bitrate_kbps",
            format!("must be between {} and {max_kbps}", AUDIO_KBPS.start()),
        );
    }
    if !(1..=2).contains(&a.channels) {
        bad.add("profile.audio.channels", "must be 1 (mono) or 2 (stereo)");
    }
    let rates = codec.map_or(&SAMPLE_RATES[..], AudioCodec::sample_rates);
    if !rates.contains(&a.sample_rate) {
        let codec_name = codec.map_or("audio", AudioCodec::as_str);
        bad.add(
            "profile.audio.sample_rate",
            format!("{codec_name} takes one of {rates:?}"),
        );
    }
    if bad.len() != before {
        return None;
    }
    Some(AudioSettings {
        codec: codec?,
        bitrate_kbps: a.bitrate_kbps,
        channels: a.channels,
        sample_rate: a.sample_rate,
    })
}

#[cfg(test)]
#[path = "profile_draft_tests.rs"]
mod tests;
