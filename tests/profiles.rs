//! Company profiles over gRPC: create, read, update, delete, validation naming every
//! field, isolation between companies, and jobs keeping the settings they were
//! submitted with.

mod common;

use common::{Backend, clip_5s, order};
use tonic::Code;
use transcoder::proto as pb;

use common::bad_fields;

use common::create_profile as create;

async fn update(client: &mut common::Client, p: pb::Profile) -> Result<pb::Profile, tonic::Status> {
    client
        .update_profile(pb::UpdateProfileRequest {
            company_id: String::new(),
            profile: Some(p),
        })
        .await
        .map(|r| r.into_inner())
}

async fn get(client: &mut common::Client, id: u64) -> Result<pb::Profile, tonic::Status> {
    client
        .get_profile(pb::GetProfileRequest {
            company_id: String::new(),
            profile_id: id,
        })
        .await
        .map(|r| r.into_inner())
}

async fn list(client: &mut common::Client) -> Vec<pb::Profile> {
    client
        .list_profiles(pb::ListProfilesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .profiles
}

async fn crud_and_validation(backend: Backend) {
    let app = common::spawn_paused(backend).await;
    let mut acme = app.client.clone();

    // Every bad field is named, and nothing is saved.
    let mut bad = common::h264_profile("", 641, 0);
    bad.container = "avi".into();
    let video = bad.video.as_mut().unwrap();
    video.codec = "h263".into();
    video.bitrate_kbps = 10;
    video.codec_profile = "ultra".into();
    video.keyframe_interval_seconds = 99.0;
    video.frame_rate = 500.0;
    let audio = bad.audio.as_mut().unwrap();
    audio.codec = "flac".into();
    audio.bitrate_kbps = 1;
    audio.channels = 9;
    audio.sample_rate = 1234;
    let status = create(&mut acme, bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&status),
        vec![
            "profile.description",
            "profile.container",
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
    let status = create(
        &mut acme,
        common::h264_profile("System preset: generic 720P", 640, 360),
    )
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&status), vec!["profile.description"]);
    assert_eq!(
        list(&mut acme).await.len(),
        transcoder::domain::profile::SYSTEM_PRESETS.len(),
        "only the system presets"
    );

    // Create, read, list.
    let small = create(&mut acme, common::h264_profile("Acme small", 320, 180))
        .await
        .unwrap();
    assert!(
        small.id >= 100,
        "company ids never collide with presets: {}",
        small.id
    );
    assert_eq!(small.company_id, "acme");
    assert!(!small.system);
    assert_eq!(get(&mut acme, small.id).await.unwrap(), small);
    let listed = list(&mut acme).await;
    assert_eq!(
        listed.len(),
        transcoder::domain::profile::SYSTEM_PRESETS.len() + 1
    );
    assert!(listed.iter().any(|p| p.id == small.id));
    let dup = create(&mut acme, common::h264_profile("ACME-small", 640, 360))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&dup), vec!["profile.description"]);

    // Update, including switching restrict_bitrate on and off.
    let mut changed = small.clone();
    changed.restrict_bitrate = true;
    changed.video.as_mut().unwrap().bitrate_kbps = 450;
    let saved = update(&mut acme, changed.clone()).await.unwrap();
    assert!(saved.restrict_bitrate);
    assert_eq!(get(&mut acme, small.id).await.unwrap(), saved);
    changed.restrict_bitrate = false;
    assert!(!update(&mut acme, changed).await.unwrap().restrict_bitrate);
    let mut odd = small.clone();
    odd.video.as_mut().unwrap().height = 181;
    assert_eq!(
        bad_fields(&update(&mut acme, odd).await.unwrap_err()),
        vec!["profile.video.height"]
    );

    // System presets are read-only; unknown ids are not found.
    let mut preset = get(&mut acme, 2).await.unwrap();
    preset.description = "mine now".into();
    assert_eq!(
        update(&mut acme, preset).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let deleted_preset = acme
        .delete_profile(pb::DeleteProfileRequest {
            company_id: String::new(),
            profile_id: 2,
        })
        .await
        .unwrap_err();
    assert_eq!(deleted_preset.code(), Code::PermissionDenied);
    assert_eq!(
        get(&mut acme, 99_999).await.unwrap_err().code(),
        Code::NotFound
    );

    // Another company sees none of it, and cannot use it in an order.
    let mut globex = app.client_of("globex").await;
    assert_eq!(
        get(&mut globex, small.id).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        list(&mut globex).await.len(),
        transcoder::domain::profile::SYSTEM_PRESETS.len()
    );
    let mut theirs = small.clone();
    theirs.description = "hijack".into();
    assert_eq!(
        update(&mut globex, theirs).await.unwrap_err().code(),
        Code::NotFound
    );
    let mut foreign_order = order(&clip_5s(), Vec::new());
    foreign_order.outputs = vec![pb::OutputSpec {
        label: String::new(),
        filename: "x.mp4".into(),
        profile: Some(pb::output_spec::Profile::ProfileId(small.id)),
        reference: String::new(),
    }];
    let refused = globex
        .submit_job(pb::SubmitJobRequest {
            company_id: String::new(),
            order: Some(foreign_order),
            idempotency_key: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&refused), vec!["order.outputs[0].profile_id"]);
    // The same description is free in another company.
    create(&mut globex, common::h264_profile("Acme small", 320, 180))
        .await
        .unwrap();

    // Delete is soft: gone for new use, unknown afterwards.
    acme.delete_profile(pb::DeleteProfileRequest {
        company_id: String::new(),
        profile_id: small.id,
    })
    .await
    .unwrap();
    assert_eq!(
        get(&mut acme, small.id).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        list(&mut acme).await.len(),
        transcoder::domain::profile::SYSTEM_PRESETS.len()
    );
    app.shutdown().await;
}
on_both_backends!(profile_crud_and_validation, super::crud_and_validation);

/// A job keeps the profile as it was at submission: editing or deleting the profile
/// while the job waits changes neither what it makes nor the name it shows.
async fn jobs_snapshot_their_profiles(backend: Backend) {
    let app = common::spawn_paused(backend).await;
    let mut acme = app.client.clone();
    let small = create(
        &mut acme,
        common::h264_profile("Acme thumbnail video", 320, 180),
    )
    .await
    .unwrap();
    let by_id = pb::OutputSpec {
        label: "by-id".into(),
        filename: "by-id.mp4".into(),
        profile: Some(pb::output_spec::Profile::ProfileId(small.id)),
        reference: String::new(),
    };
    let by_name = pb::OutputSpec {
        label: "by-name".into(),
        filename: "by-name.mp4".into(),
        profile: Some(pb::output_spec::Profile::Preset(
            "acme thumbnail-video".into(),
        )),
        reference: String::new(),
    };
    let job = app
        .submit(order(&clip_5s(), vec![by_id, by_name]))
        .await
        .unwrap();

    let mut bigger = small.clone();
    bigger.description = "Acme renamed".into();
    bigger.video.as_mut().unwrap().width = 640;
    bigger.video.as_mut().unwrap().height = 360;
    update(&mut acme, bigger).await.unwrap();
    acme.delete_profile(pb::DeleteProfileRequest {
        company_id: String::new(),
        profile_id: small.id,
    })
    .await
    .unwrap();

    app.app().workers.resume();
    let done = app.finish(&job.id).await;
    assert_eq!(
        done.state,
        pb::JobState::Succeeded as i32,
        "{:?}",
        done.error
    );
    for output in &done.outputs {
        let media = output.media.clone().unwrap();
        assert_eq!((media.width, media.height), (320, 180), "{}", output.label);
        assert_eq!(output.profile_id, small.id);
        assert_eq!(output.profile_description, "Acme thumbnail video");
    }
    app.shutdown().await;
}
on_both_backends!(
    edits_after_submit_leave_jobs_alone,
    super::jobs_snapshot_their_profiles
);
