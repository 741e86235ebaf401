//! The operator commands, run as the binary an operator would run: companies and tokens
//! in the database under --data-dir, used against a server on that data dir.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use transcoder::app::RunningApp;
use transcoder::config::Settings;
use transcoder::proto as pb;

fn transcoder(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_transcoder"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn fails(output: Output, says: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "should have failed");
    assert!(stderr.contains(says), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_manage_companies_and_tokens_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let application_id = ok(transcoder(
        data,
        &[
            "company",
            "create",
            "acme",
            "--name",
            "Acme Corp",
            "--rate-limit",
            "5",
        ],
    ));
    assert!(application_id.starts_with("app_") && application_id.len() > 40);
    fails(
        transcoder(data, &["company", "create", "acme"]),
        "already exists",
    );
    fails(transcoder(data, &["company", "create", "Bad_Slug"]), "slug");
    fails(
        transcoder(data, &["token", "create", "nobody"]),
        "no company 'nobody'",
    );
    ok(transcoder(
        data,
        &[
            "company",
            "update",
            "acme",
            "--priority-transcoding",
            "true",
        ],
    ));
    let companies = ok(transcoder(data, &["company", "list"]));
    assert!(
        companies.contains("acme") && companies.contains("Acme Corp"),
        "{companies}"
    );
    assert!(
        companies.contains("priority-transcoding=true"),
        "{companies}"
    );
    assert!(companies.contains("5/s burst 5"), "{companies}");
    let rotated = ok(transcoder(
        data,
        &["company", "rotate-application-id", "acme"],
    ));
    assert_ne!(rotated, application_id);

    let token = ok(transcoder(
        data,
        &["token", "create", "acme", "--name", "laptop"],
    ));
    assert!(token.starts_with("tc_"), "{token}");
    let listed = ok(transcoder(data, &["token", "list", "acme"]));
    assert!(listed.contains("laptop"), "{listed}");
    assert!(!listed.contains(&token), "the token is never listed");
    assert!(!companies.contains(&application_id));
    let token_id = listed
        .lines()
        .find(|l| l.contains("laptop"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();

    // The printed token works against a server on the same data dir.
    let mut settings = Settings {
        data_dir: data.to_owned(),
        ..Settings::default()
    };
    settings.database.url = None;
    settings.server.grpc_addr = ([127, 0, 0, 1], 0).into();
    settings.server.http_addr = ([127, 0, 0, 1], 0).into();
    settings.workers.paused = true;
    let app = RunningApp::start(settings).await.unwrap();
    let mut client = common::connect(&app, &token).await;
    let me = client
        .list_profiles(pb::ListProfilesRequest {
            company_id: "acme".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        me.profiles.len(),
        transcoder::domain::profile::SYSTEM_PRESETS.len()
    );

    ok(transcoder(data, &["token", "revoke", &token_id]));
    fails(
        transcoder(data, &["token", "revoke", &token_id]),
        "already revoked",
    );
    fails(
        transcoder(data, &["token", "revoke", "tok_missing"]),
        "no token",
    );
    let listed = ok(transcoder(data, &["token", "list", "acme"]));
    assert!(
        !listed.lines().last().unwrap().ends_with('-'),
        "revocation time shown: {listed}"
    );
    ok(transcoder(data, &["company", "delete", "acme"]));
    fails(
        transcoder(data, &["company", "update", "acme", "--disable"]),
        "no company",
    );
    app.shutdown().await;
}
