//! Transcoding profiles and the built-in, read-only system presets.

use super::company::CompanyId;
use super::elastic_presets;
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
        elastic_transcoder_id: None,
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

/// The built-in presets: this server's first six, then the Elastic Transcoder system
/// presets it can produce (see `elastic_presets`). Ids are stable: clients store them.
/// An ET preset named like one of the first six (Generic 1080p, Generic 720p) gives
/// that preset its ET id instead of adding a second one; the others take the id of
/// their row in the table (`elastic_presets::catalogue_id`).
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
    presets
});

/// Presets 1..6, as this server first shipped them.
fn original_presets() -> Vec<Profile> {
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
            elastic_transcoder_id: None,
        },
    ]
}

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
        assert_eq!(SYSTEM_PRESETS.len(), 6 + 17);
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
        assert_eq!((v.bitrate_kbps, v.codec_profile), (5000, H264Profile::High));
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
