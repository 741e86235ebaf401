//! Transcoding profiles and the built-in, read-only system presets.

use super::company::CompanyId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProfileId(pub u64);

/// System presets own the ids below this one; company profiles get ids from a database
/// sequence that starts here, so the two can never collide.
pub const FIRST_COMPANY_PROFILE_ID: u64 = 100;

pub fn is_system_id(id: ProfileId) -> bool {
    id.0 < FIRST_COMPANY_PROFILE_ID
}

pub use super::media_format::{
    AudioCodec, Container, EncoderSpeed, H264Profile, SegmentFormat, VideoCodec,
};

/// Video settings. Fields added after the first release default, so profiles and job
/// snapshots stored before them still decode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoSettings {
    pub codec: VideoCodec,
    /// The output fits inside `width` x `height`, keeping the source's aspect ratio.
    pub width: u32,
    pub height: u32,
    /// Average bitrate; 0 when `quality` sets constant quality instead.
    pub bitrate_kbps: u32,
    /// Constant quality (CRF for H.264/H.265, a quantizer for VP9/AV1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<u32>,
    /// H.264 only.
    #[serde(default)]
    pub codec_profile: Option<H264Profile>,
    /// H.264 only: "3.1", "4", ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    pub keyframe_interval_seconds: f64,
    /// None keeps the source's frame rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<f64>,
    #[serde(default)]
    pub speed: EncoderSpeed,
}

impl VideoSettings {
    /// The H.264 profile's name; empty for the other codecs.
    pub fn codec_profile_name(&self) -> &'static str {
        self.codec_profile.map_or("", H264Profile::as_str)
    }

    /// The usual settings for `codec` at a bitrate: medium speed, 2 s key frames, the
    /// source's frame rate, High profile for H.264.
    pub fn new(codec: VideoCodec, width: u32, height: u32, bitrate_kbps: u32) -> Self {
        Self {
            codec,
            width,
            height,
            bitrate_kbps,
            quality: None,
            codec_profile: (codec == VideoCodec::H264).then_some(H264Profile::High),
            level: None,
            keyframe_interval_seconds: 2.0,
            frame_rate: None,
            speed: EncoderSpeed::Medium,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioSettings {
    pub codec: AudioCodec,
    pub bitrate_kbps: u32,
    pub channels: u32,
    pub sample_rate: u32,
}

/// An adaptive-streaming ladder (HLS, DASH): one encode per rung from one decode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamingSettings {
    pub segment_seconds: f64,
    pub segment_format: SegmentFormat,
    /// Largest first.
    pub rungs: Vec<LadderRung>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderRung {
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
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
    /// Off: a source smaller than the box keeps its size.
    #[serde(default)]
    pub allow_upscale: bool,
    /// Required for HLS and DASH, absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streaming: Option<StreamingSettings>,
    /// The Amazon Elastic Transcoder system preset this one stands for
    /// ("1351620000001-000010"); None for the others and for company profiles.
    /// Defaulted so that profile snapshots stored before it existed still decode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elastic_transcoder_id: Option<String>,
}

impl Profile {
    pub fn is_system(&self) -> bool {
        self.company_id.is_none()
    }

    /// Encodes slowly (AV1): well below realtime.
    pub fn is_slow(&self) -> bool {
        self.video.as_ref().is_some_and(|v| v.codec.is_slow())
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

pub use super::system_presets::SYSTEM_PRESETS;

/// The system preset named `description` (case and punctuation ignored), if any.
pub fn system_preset_named(description: &str) -> Option<&'static Profile> {
    let wanted = normalize_description(description);
    SYSTEM_PRESETS
        .iter()
        .find(|p| normalize_description(&p.description) == wanted)
}

/// The system preset `reference` names, looked up like `ProfileCatalogue::find_by_preset_ref`.
pub fn system_preset_by_ref(reference: &str) -> Option<&'static Profile> {
    find_by_ref(&SYSTEM_PRESETS, reference)
}

/// An Elastic Transcoder id first, then a numeric profile id, then a description
/// (ignoring case and punctuation).
fn find_by_ref<'a>(profiles: &'a [Profile], reference: &str) -> Option<&'a Profile> {
    let reference = reference.trim();
    if reference.is_empty() {
        return None;
    }
    profiles
        .iter()
        .find(|p| p.elastic_transcoder_id.as_deref() == Some(reference))
        .or_else(|| {
            let id = ProfileId(reference.parse().ok()?);
            profiles.iter().find(|p| p.id == id)
        })
        .or_else(|| {
            let wanted = normalize_description(reference);
            profiles
                .iter()
                .find(|p| normalize_description(&p.description) == wanted)
        })
}

/// The profiles one company can use: the system presets and its own (not deleted).
/// Orders are validated against it. The presets are looked up where they are (a static),
/// not copied: most orders name only presets, and every submit builds a catalogue.
#[derive(Debug, Clone, Default)]
pub struct ProfileCatalogue {
    own: Vec<Profile>,
}

impl ProfileCatalogue {
    pub fn system_presets() -> Self {
        Self::default()
    }

    pub fn with_company_profiles(own: Vec<Profile>) -> Self {
        Self { own }
    }

    /// The presets, then the company's own.
    pub fn iter(&self) -> impl Iterator<Item = &Profile> {
        SYSTEM_PRESETS.iter().chain(self.own.iter())
    }

    pub fn into_vec(self) -> Vec<Profile> {
        SYSTEM_PRESETS.iter().cloned().chain(self.own).collect()
    }

    pub fn find_by_id(&self, id: ProfileId) -> Option<&Profile> {
        self.iter().find(|p| p.id == id)
    }

    /// Descriptions are unique within a catalogue (checked when a profile is saved).
    pub fn find_by_description(&self, description: &str) -> Option<&Profile> {
        let wanted = normalize_description(description);
        self.iter()
            .find(|p| normalize_description(&p.description) == wanted)
    }

    /// The profile an output's `preset` names: an Elastic Transcoder preset id
    /// ("1351620000001-000010"), a profile id given as a string ("2"), or a
    /// description ignoring case and punctuation ("system preset generic 720p"), tried in
    /// that order. (ET ids belong to presets only, ids and descriptions are unique across
    /// both lists, so looking in the presets first finds the same profile.)
    pub fn find_by_preset_ref(&self, reference: &str) -> Option<&Profile> {
        find_by_ref(&SYSTEM_PRESETS, reference).or_else(|| find_by_ref(&self.own, reference))
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
    fn elastic_transcoder_presets_join_with_pinned_ids() {
        // Clients store these ids: a reordered or edited table must fail here.
        let pinned = [
            (7, "1351620000001-100110", "System preset: Audio AAC - 256k"),
            (17, "1351620000001-100150", "System preset: KindleFireHDX"),
            (
                29,
                "1351620000001-000020",
                "System preset: Generic 480p 16:9",
            ),
            (47, "1351620000001-100020", "System preset: iPhone4S"),
            (64, "1351620000001-100070", "System preset: Web"),
        ];
        for (id, et_id, description) in pinned {
            let p = SYSTEM_PRESETS.iter().find(|p| p.id == ProfileId(id));
            let p = p.unwrap_or_else(|| panic!("no preset {id}"));
            assert_eq!(p.elastic_transcoder_id.as_deref(), Some(et_id));
            assert_eq!(p.description, description);
        }
        // Six originals, 23 ET presets (17 H.264/AAC, 4 MP3, 2 WebM VP9), six later ones.
        assert_eq!(SYSTEM_PRESETS.len(), 6 + 23 + 6);
        // Not producible yet, so not offered.
        assert!(system_preset_by_ref("1351620000001-100240").is_none());
        assert!(system_preset_by_ref("System preset: HLS 2M").is_none());
    }

    #[test]
    fn original_presets_keep_their_settings_and_gain_et_ids() {
        let p1 = &SYSTEM_PRESETS[0];
        assert_eq!(p1.id, ProfileId(1));
        assert_eq!(
            p1.elastic_transcoder_id.as_deref(),
            Some("1351620000001-000001")
        );
        let v = p1.video.as_ref().unwrap();
        assert_eq!(
            (v.bitrate_kbps, v.codec_profile),
            (5000, Some(H264Profile::High))
        );
        let p2 = &SYSTEM_PRESETS[1];
        assert_eq!(
            p2.elastic_transcoder_id.as_deref(),
            Some("1351620000001-000010")
        );
        assert_eq!(p2.video.as_ref().unwrap().bitrate_kbps, 2800);
        for p in &SYSTEM_PRESETS[2..6] {
            assert_eq!(p.elastic_transcoder_id, None, "{}", p.description);
        }
        assert_eq!(
            SYSTEM_PRESETS[..6]
                .iter()
                .map(|p| p.id.0)
                .collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn preset_refs_are_et_ids_then_ids_then_descriptions() {
        let catalogue = ProfileCatalogue::system_presets();
        let by = |r: &str| catalogue.find_by_preset_ref(r).map(|p| p.id.0);
        assert_eq!(by("1351620000001-000010"), Some(2));
        assert_eq!(by(" 1351620000001-100070 "), Some(64));
        assert_eq!(by("2"), Some(2));
        assert_eq!(by("64"), Some(64));
        assert_eq!(by("system preset generic 720p"), Some(2));
        assert_eq!(by("System preset: KindleFireHD8.9"), Some(18));
        assert_eq!(by("1351620000001-999999"), None);
        assert_eq!(by("99"), None);
        assert_eq!(by(""), None);
        assert_eq!(
            system_preset_by_ref("System preset: Web").map(|p| p.id.0),
            Some(64)
        );

        // A company profile is found by its id as text and its description, never by
        // an ET id (it has none).
        let mut own = SYSTEM_PRESETS[3].clone();
        own.id = ProfileId(150);
        own.company_id = Some(CompanyId::parse("acme").unwrap());
        own.description = "Acme small".into();
        let catalogue = ProfileCatalogue::with_company_profiles(vec![own]);
        assert_eq!(
            catalogue.find_by_preset_ref("150").map(|p| p.id.0),
            Some(150)
        );
        assert_eq!(
            catalogue.find_by_preset_ref("acme-SMALL").map(|p| p.id.0),
            Some(150)
        );
        assert!(system_preset_by_ref("150").is_none());
    }

    #[test]
    fn snapshots_without_an_et_id_still_decode() {
        let mut json = serde_json::to_value(&SYSTEM_PRESETS[2]).unwrap();
        json.as_object_mut()
            .unwrap()
            .remove("elastic_transcoder_id");
        let decoded: Profile = serde_json::from_value(json).unwrap();
        assert_eq!(decoded, SYSTEM_PRESETS[2]);
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
