//! Tests of profile_draft.rs and profile_rules.rs.
use super::*;
use crate::domain::profile::{H264Profile, VideoCodec};

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
            ..Default::default()
        }),
        audio: Some(AudioDraft {
            codec: "aac".into(),
            bitrate_kbps: 96,
            channels: 2,
            sample_rate: 44_100,
        }),
        restrict_bitrate: true,
        ..Default::default()
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
    assert_eq!(p.video.unwrap().codec_profile, Some(H264Profile::Main));
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
    v.frame_rate = 500.0;
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

#[test]
fn codecs_go_only_into_containers_that_hold_them() {
    let refused = |container: &str, video: Option<&str>, audio: Option<&str>| {
        let mut d = draft();
        d.container = container.into();
        match video {
            Some(codec) => {
                let v = d.video.as_mut().unwrap();
                v.codec = codec.into();
                v.codec_profile = String::new();
            }
            None => d.video = None,
        }
        match audio {
            Some(codec) => {
                let a = d.audio.as_mut().unwrap();
                a.codec = codec.into();
                a.sample_rate = 48_000;
            }
            None => d.audio = None,
        }
        d.validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
            .err()
            .map(fields)
    };
    assert_eq!(
        refused("webm", Some("h265"), Some("opus")),
        Some(vec!["profile.video.codec".to_owned()])
    );
    assert_eq!(
        refused("ts", Some("vp9"), Some("aac")),
        Some(vec!["profile.video.codec".to_owned()])
    );
    assert_eq!(
        refused("webm", Some("vp9"), Some("aac")),
        Some(vec!["profile.audio.codec".to_owned()])
    );
    assert_eq!(
        refused("mp3", Some("h264"), Some("mp3")),
        Some(vec!["profile.video".to_owned()])
    );
    assert_eq!(refused("webm", Some("vp9"), Some("opus")), None);
    assert_eq!(refused("mkv", Some("av1"), Some("mp3")), None);
    assert_eq!(refused("ogg", None, Some("opus")), None);
    assert_eq!(refused("mp4", Some("h265"), Some("aac")), None);
}

#[test]
fn quality_and_bitrate_are_exclusive_and_codec_ranged() {
    let mut d = draft();
    let v = d.video.as_mut().unwrap();
    v.quality = 23;
    let err = d
        .clone()
        .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
        .unwrap_err();
    assert_eq!(fields(err), vec!["profile.video.quality"]);
    d.video.as_mut().unwrap().bitrate_kbps = 0;
    let p = d
        .clone()
        .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
        .unwrap();
    assert_eq!(p.video.as_ref().unwrap().quality, Some(23));
    d.video.as_mut().unwrap().quality = 60;
    let err = d
        .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
        .unwrap_err();
    assert_eq!(fields(err), vec!["profile.video.quality"]);
}

#[test]
fn h264_only_fields_are_refused_for_other_codecs() {
    let mut d = draft();
    let v = d.video.as_mut().unwrap();
    v.codec = "vp9".into();
    v.level = "4.1".into();
    d.container = "webm".into();
    d.audio.as_mut().unwrap().codec = "opus".into();
    d.audio.as_mut().unwrap().sample_rate = 48_000;
    let err = d
        .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
        .unwrap_err();
    assert_eq!(
        fields(err),
        vec!["profile.video.codec_profile", "profile.video.level"]
    );
}

#[test]
fn a_ladder_needs_its_rungs_and_takes_its_box_from_the_top() {
    let mut d = draft();
    d.container = "hls".into();
    let err = d
        .clone()
        .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
        .unwrap_err();
    assert_eq!(fields(err), vec!["profile.streaming"]);
    d.streaming = Some(StreamingDraft {
        segment_seconds: 4.0,
        segment_format: "ts".into(),
        rungs: vec![(640, 360, 700), (1280, 720, 2800)],
    });
    let v = d.video.as_mut().unwrap();
    (
        v.width,
        v.height,
        v.bitrate_kbps,
        v.keyframe_interval_seconds,
    ) = (0, 0, 0, 0.0);
    let p = d
        .clone()
        .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
        .unwrap();
    let v = p.video.unwrap();
    assert_eq!((v.width, v.height, v.bitrate_kbps), (1280, 720, 2800));
    assert_eq!(v.keyframe_interval_seconds, 4.0);
    assert_eq!(v.codec, VideoCodec::H264);
    let rungs = p.streaming.unwrap().rungs;
    assert_eq!((rungs[0].height, rungs[1].height), (720, 360));

    let mut half = d.clone();
    half.streaming.as_mut().unwrap().segment_seconds = 2.5;
    let err = half
        .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
        .unwrap_err();
    assert_eq!(fields(err), vec!["profile.streaming.segment_seconds"]);

    d.container = "dash".into();
    d.streaming.as_mut().unwrap().rungs.push((641, 0, 1));
    let err = d
        .validate(ProfileId(100), &acme(), &ProfileCatalogue::system_presets())
        .unwrap_err();
    assert_eq!(
        fields(err),
        vec![
            "profile.streaming.segment_format",
            "profile.streaming.rungs[2].width",
            "profile.streaming.rungs[2].height",
            "profile.streaming.rungs[2].bitrate_kbps",
        ]
    );
}

#[test]
fn system_presets_are_all_producible() {
    for p in crate::domain::profile::SYSTEM_PRESETS.iter() {
        assert_eq!(
            producibility_problems(p, "outputs[0].profile"),
            vec![],
            "{}",
            p.description
        );
    }
}
