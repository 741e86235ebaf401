//! A company profile as a client sends it (CreateProfile, UpdateProfile), and the checks
//! it must pass before it is saved: every bad field is named.

use super::company::CompanyId;
use super::profile::{
    AudioCodec, AudioSettings, Container, H264Profile, Profile, ProfileCatalogue, ProfileId,
    VideoCodec, VideoSettings, is_system_id, normalize_description,
};
use crate::error::{Error, FieldViolation};

#[derive(Debug, Clone, Default)]
pub struct ProfileDraft {
    pub description: String,
    pub container: String,
    pub video: Option<VideoDraft>,
    pub audio: Option<AudioDraft>,
    pub restrict_bitrate: bool,
}

#[derive(Debug, Clone, Default)]
pub struct VideoDraft {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub codec_profile: String,
    pub keyframe_interval_seconds: f64,
    pub frame_rate: f64,
}

#[derive(Debug, Clone, Default)]
pub struct AudioDraft {
    pub codec: String,
    pub bitrate_kbps: u32,
    pub channels: u32,
    pub sample_rate: u32,
}

pub const MAX_DESCRIPTION_CHARS: usize = 200;
pub const MAX_DIMENSION: u32 = 7680;
pub const VIDEO_KBPS: std::ops::RangeInclusive<u32> = 50..=100_000;
pub const AUDIO_KBPS: std::ops::RangeInclusive<u32> = 16..=512;
pub const KEYFRAME_SECONDS: std::ops::RangeInclusive<f64> = 0.1..=20.0;
pub const SAMPLE_RATES: [u32; 6] = [8_000, 16_000, 22_050, 32_000, 44_100, 48_000];

#[derive(Default)]
struct Bad(Vec<FieldViolation>);

impl Bad {
    fn add(&mut self, field: &str, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }
}

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
        if description.is_empty() || normalize_description(&description).is_empty() {
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
            .find_by_description(&description)
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
        let container = parse_container(&self.container, &mut bad);
        let video = self.video.and_then(|v| validate_video(v, &mut bad));
        let audio = self.audio.and_then(|a| validate_audio(a, &mut bad));
        if bad.0.is_empty() && video.is_none() && audio.is_none() {
            bad.add("profile", "needs video settings, audio settings or both");
        }
        if let Some(container) = container {
            check_combinations(container, video.as_ref(), audio.as_ref(), &mut bad);
        }
        if !bad.0.is_empty() {
            return Err(Error::invalid_fields(bad.0));
        }
        Ok(Profile {
            id,
            company_id: Some(company.clone()),
            description,
            container: container.expect("checked above"),
            video,
            audio,
            restrict_bitrate: self.restrict_bitrate,
            elastic_transcoder_id: None,
        })
    }
}

fn parse_container(raw: &str, bad: &mut Bad) -> Option<Container> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "mp4" => Some(Container::Mp4),
        "" => {
            bad.add("profile.container", "is required (supported: mp4)");
            None
        }
        other => {
            bad.add(
                "profile.container",
                format!("'{other}' is not supported (supported: mp4)"),
            );
            None
        }
    }
}

fn validate_video(v: VideoDraft, bad: &mut Bad) -> Option<VideoSettings> {
    let before = bad.0.len();
    let codec = match v.codec.trim().to_ascii_lowercase().as_str() {
        "h264" | "h.264" | "avc" => Some(VideoCodec::H264),
        other => {
            bad.add(
                "profile.video.codec",
                format!("'{other}' is not supported (supported: h264)"),
            );
            None
        }
    };
    for (field, value) in [
        ("profile.video.width", v.width),
        ("profile.video.height", v.height),
    ] {
        if !(2..=MAX_DIMENSION).contains(&value) {
            bad.add(field, format!("must be between 2 and {MAX_DIMENSION}"));
        } else if value % 2 != 0 {
            bad.add(field, format!("must be even (4:2:0 video), got {value}"));
        }
    }
    if !VIDEO_KBPS.contains(&v.bitrate_kbps) {
        bad.add(
            "profile.video.bitrate_kbps",
            format!(
                "must be between {} and {}",
                VIDEO_KBPS.start(),
                VIDEO_KBPS.end()
            ),
        );
    }
    let codec_profile = match v.codec_profile.trim().to_ascii_lowercase().as_str() {
        "" | "high" => Some(H264Profile::High),
        "main" => Some(H264Profile::Main),
        "baseline" => Some(H264Profile::Baseline),
        other => {
            bad.add(
                "profile.video.codec_profile",
                format!("'{other}' is not an H.264 profile (baseline, main or high)"),
            );
            None
        }
    };
    let keyframes = if v.keyframe_interval_seconds == 0.0 {
        2.0
    } else {
        v.keyframe_interval_seconds
    };
    if !KEYFRAME_SECONDS.contains(&keyframes) {
        bad.add(
            "profile.video.keyframe_interval_seconds",
            format!(
                "must be between {} and {} seconds (0 means 2)",
                KEYFRAME_SECONDS.start(),
                KEYFRAME_SECONDS.end()
            ),
        );
    }
    if v.frame_rate != 0.0 {
        bad.add(
            "profile.video.frame_rate",
            "only 0 (keep the source's frame rate) is supported by this server",
        );
    }
    if bad.0.len() != before {
        return None;
    }
    Some(VideoSettings {
        codec: codec?,
        width: v.width,
        height: v.height,
        bitrate_kbps: v.bitrate_kbps,
        codec_profile: codec_profile?,
        keyframe_interval_seconds: keyframes,
    })
}

fn validate_audio(a: AudioDraft, bad: &mut Bad) -> Option<AudioSettings> {
    let before = bad.0.len();
    let codec = match a.codec.trim().to_ascii_lowercase().as_str() {
        "aac" => Some(AudioCodec::Aac),
        other => {
            bad.add(
                "profile.audio.codec",
                format!("'{other}' is not supported (supported: aac)"),
            );
            None
        }
    };
    if !AUDIO_KBPS.contains(&a.bitrate_kbps) {
        bad.add(
            "profile.audio.bitrate_kbps",
            format!(
                "must be between {} and {}",
                AUDIO_KBPS.start(),
                AUDIO_KBPS.end()
            ),
        );
    }
    if !(1..=2).contains(&a.channels) {
        bad.add("profile.audio.channels", "must be 1 (mono) or 2 (stereo)");
    }
    if !SAMPLE_RATES.contains(&a.sample_rate) {
        bad.add(
            "profile.audio.sample_rate",
            format!("must be one of {SAMPLE_RATES:?}"),
        );
    }
    if bad.0.len() != before {
        return None;
    }
    Some(AudioSettings {
        codec: codec?,
        bitrate_kbps: a.bitrate_kbps,
        channels: a.channels,
        sample_rate: a.sample_rate,
    })
}

/// The container and codec pairs the media engine can write.
fn check_combinations(
    container: Container,
    video: Option<&VideoSettings>,
    audio: Option<&AudioSettings>,
    bad: &mut Bad,
) {
    let video_ok = |c: VideoCodec| matches!((container, c), (Container::Mp4, VideoCodec::H264));
    let audio_ok = |c: AudioCodec| matches!((container, c), (Container::Mp4, AudioCodec::Aac));
    if let Some(v) = video.filter(|v| !video_ok(v.codec)) {
        bad.add(
            "profile.video.codec",
            format!(
                "{:?} cannot be written into {}",
                v.codec,
                container.as_str()
            ),
        );
    }
    if let Some(a) = audio.filter(|a| !audio_ok(a.codec)) {
        bad.add(
            "profile.audio.codec",
            format!(
                "{:?} cannot be written into {}",
                a.codec,
                container.as_str()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> ProfileDraft {
        ProfileDraft {
            description: "Acme mobile".into(),
            container: "mp4".into(),
            video: Some(VideoDraft {
                codec: "h264".into(),
                width: 640,
                height: 360,
                bitrate_kbps: 800,
                codec_profile: "main".into(),
                keyframe_interval_seconds: 2.0,
                frame_rate: 0.0,
            }),
            audio: Some(AudioDraft {
                codec: "aac".into(),
                bitrate_kbps: 96,
                channels: 2,
                sample_rate: 44_100,
            }),
            restrict_bitrate: true,
        }
    }

    fn acme() -> CompanyId {
        CompanyId::parse("acme").unwrap()
    }

    fn fields(err: Error) -> Vec<String> {
        err.fields.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn a_good_draft_becomes_a_company_profile() {
        let p = draft()
            .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
            .unwrap();
        assert_eq!(p.company_id, Some(acme()));
        assert_eq!(p.video.unwrap().codec_profile, H264Profile::Main);
        assert!(p.restrict_bitrate);
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut d = draft();
        d.description = "  ".into();
        let v = d.video.as_mut().unwrap();
        v.codec = "vp7".into();
        v.width = 641;
        v.height = 0;
        v.bitrate_kbps = 1;
        v.codec_profile = "extreme".into();
        v.keyframe_interval_seconds = 60.0;
        v.frame_rate = 25.0;
        let a = d.audio.as_mut().unwrap();
        a.codec = "flac".into();
        a.bitrate_kbps = 5000;
        a.channels = 6;
        a.sample_rate = 12_345;
        let err = d
            .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
            .unwrap_err();
        assert_eq!(
            fields(err),
            vec![
                "profile.description",
                "profile.video.codec",
                "profile.video.width",
                "profile.video.height",
                "profile.video.bitrate_kbps",
                "profile.video.codec_profile",
                "profile.video.keyframe_interval_seconds",
                "profile.video.frame_rate",
                "profile.audio.codec",
                "profile.audio.bitrate_kbps",
                "profile.audio.channels",
                "profile.audio.sample_rate",
            ]
        );
        let mut d = draft();
        d.container = "avi".into();
        let err = d
            .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
            .unwrap_err();
        assert_eq!(fields(err), vec!["profile.container"]);
        let mut d = draft();
        d.video = None;
        d.audio = None;
        let err = d
            .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
            .unwrap_err();
        assert_eq!(fields(err), vec!["profile"]);
    }

    #[test]
    fn descriptions_stay_unique_ignoring_case_and_punctuation() {
        let mut d = draft();
        d.description = "system preset: GENERIC 720p".into();
        let err = d
            .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
            .unwrap_err();
        assert_eq!(fields(err), vec!["profile.description"]);

        let existing = draft()
            .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
            .unwrap();
        let catalogue = ProfileCatalogue::with_company_profiles(vec![existing]);
        let mut d = draft();
        d.description = "acme-mobile".into();
        assert!(
            d.clone()
                .validate(ProfileId(101), &acme(), &catalogue)
                .is_err()
        );
        // Saving the same profile again keeps its own description.
        assert!(d.validate(ProfileId(100), &acme(), &catalogue).is_ok());
    }
}
