//! Transcoding profiles and the built-in, read-only system presets.

use super::company::CompanyId;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProfileId(pub u64);

/// System presets own the ids below this one; company profiles get ids from a database
/// sequence that starts here, so the two can never collide.
pub const FIRST_COMPANY_PROFILE_ID: u64 = 100;

pub fn is_system_id(id: ProfileId) -> bool {
    id.0 < FIRST_COMPANY_PROFILE_ID
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    Mp4,
}

impl Container {
    pub fn as_str(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    H264,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum H264Profile {
    Baseline,
    Main,
    High,
}

impl H264Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            H264Profile::Baseline => "baseline",
            H264Profile::Main => "main",
            H264Profile::High => "high",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioCodec {
    Aac,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoSettings {
    pub codec: VideoCodec,
    /// The output fits inside `width` x `height`, keeping the source's aspect ratio.
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub codec_profile: H264Profile,
    pub keyframe_interval_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioSettings {
    pub codec: AudioCodec,
    pub bitrate_kbps: u32,
    pub channels: u32,
    pub sample_rate: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub id: ProfileId,
    /// None for system presets.
    pub company_id: Option<CompanyId>,
    pub description: String,
    pub container: Container,
    pub video: Option<VideoSettings>,
    pub audio: Option<AudioSettings>,
    /// Effective bitrate is min(source, profile).
    pub restrict_bitrate: bool,
}

impl Profile {
    pub fn is_system(&self) -> bool {
        self.company_id.is_none()
    }
}

/// Lower-cases and keeps only letters and digits, one space between words, so that
/// "System preset generic 720p" and "System preset: Generic 720p" are the same name.
pub fn normalize_description(description: &str) -> String {
    description
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

fn h264_aac(
    id: u64,
    name: &str,
    width: u32,
    height: u32,
    kbps: u32,
    profile: H264Profile,
) -> Profile {
    Profile {
        id: ProfileId(id),
        company_id: None,
        description: format!("System preset: {name}"),
        container: Container::Mp4,
        video: Some(VideoSettings {
            codec: VideoCodec::H264,
            width,
            height,
            bitrate_kbps: kbps,
            codec_profile: profile,
            keyframe_interval_seconds: 2.0,
        }),
        audio: Some(aac(if profile == H264Profile::Baseline {
            96
        } else {
            128
        })),
        restrict_bitrate: true,
    }
}

fn aac(bitrate_kbps: u32) -> AudioSettings {
    AudioSettings {
        codec: AudioCodec::Aac,
        bitrate_kbps,
        channels: 2,
        sample_rate: 48_000,
    }
}

/// The built-in presets. Ids are stable: clients store them.
pub static SYSTEM_PRESETS: LazyLock<Vec<Profile>> = LazyLock::new(|| {
    use H264Profile::*;
    vec![
        h264_aac(1, "Generic 1080p", 1920, 1080, 5000, High),
        h264_aac(2, "Generic 720p", 1280, 720, 2800, High),
        h264_aac(3, "Generic 480p", 854, 480, 1200, High),
        h264_aac(4, "Generic 360p", 640, 360, 700, High),
        h264_aac(
            5,
            "Web and mobile 360p (H.264 Baseline)",
            640,
            360,
            600,
            Baseline,
        ),
        Profile {
            id: ProfileId(6),
            company_id: None,
            description: "System preset: Audio only AAC 128k".into(),
            container: Container::Mp4,
            video: None,
            audio: Some(aac(128)),
            restrict_bitrate: true,
        },
    ]
});

/// The system preset named `description` (case and punctuation ignored), if any.
pub fn system_preset_named(description: &str) -> Option<&'static Profile> {
    let wanted = normalize_description(description);
    SYSTEM_PRESETS
        .iter()
        .find(|p| normalize_description(&p.description) == wanted)
}

/// The profiles one company can use: the system presets and its own (not deleted).
/// Orders are validated against it.
#[derive(Debug, Clone)]
pub struct ProfileCatalogue {
    profiles: Vec<Profile>,
}

impl ProfileCatalogue {
    pub fn system_presets() -> Self {
        Self::with_company_profiles(Vec::new())
    }

    pub fn with_company_profiles(own: Vec<Profile>) -> Self {
        let mut profiles = SYSTEM_PRESETS.clone();
        profiles.extend(own);
        Self { profiles }
    }

    pub fn all(&self) -> &[Profile] {
        &self.profiles
    }

    pub fn into_vec(self) -> Vec<Profile> {
        self.profiles
    }

    pub fn find_by_id(&self, id: ProfileId) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.id == id)
    }

    /// Descriptions are unique within a catalogue (checked when a profile is saved).
    pub fn find_by_description(&self, description: &str) -> Option<&Profile> {
        let wanted = normalize_description(description);
        self.profiles
            .iter()
            .find(|p| normalize_description(&p.description) == wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_lookup_ignores_case_and_punctuation() {
        let catalogue = ProfileCatalogue::system_presets();
        let found = catalogue
            .find_by_description("System preset generic 720p")
            .unwrap();
        assert_eq!(found.id, ProfileId(2));
        let found = catalogue
            .find_by_description("SYSTEM PRESET: generic-1080p")
            .unwrap();
        assert_eq!(found.id, ProfileId(1));
        assert!(
            catalogue
                .find_by_description("System preset generic 721p")
                .is_none()
        );
        assert_eq!(
            system_preset_named("system preset generic 360p").map(|p| p.id),
            Some(ProfileId(4))
        );
    }

    #[test]
    fn preset_ids_and_descriptions_are_unique() {
        let mut ids: Vec<_> = SYSTEM_PRESETS.iter().map(|p| p.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), SYSTEM_PRESETS.len());
        assert!(ids.iter().all(|id| is_system_id(*id)));
        let mut names: Vec<_> = SYSTEM_PRESETS
            .iter()
            .map(|p| normalize_description(&p.description))
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SYSTEM_PRESETS.len());
    }
}
