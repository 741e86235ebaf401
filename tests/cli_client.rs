//! The client commands (`submit`, `watch`, `jobs`, `profiles`, `cancel`, `usage`) run as
//! a user runs the binary, against a real server: `--json` parsed, refusals with their
//! fields and exit codes, and the progress bars on a real terminal (a tmux pane).

mod common;
#[path = "cli_client/tmux.rs"]
mod tmux;

use common::{Backend, TestApp};
use serde_json::Value;
use std::process::Output;
use std::time::{Duration, Instant};
use tmux::Tmux;
use transcoder::proto as pb;

const BIN: &str = env!("CARGO_BIN_EXE_transcoder");
const GENERIC_720P: &str = "System preset: Generic 720p";
const VP9_360P: &str = "System preset: Webm VP9 360p";

fn url(app: &TestApp) -> String {
    format!("http://{}", app.app().grpc_addr.unwrap())
}

/// Runs `transcoder ARGS` with the server and token in the environment.
async fn client(app: &TestApp, args: &[&str]) -> Output {
    client_with(
        args,
        &[
            ("TRANSCODER_URL", &url(app)),
            ("TRANSCODER_TOKEN", &app.token),
        ],
    )
    .await
}

async fn client_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(args)
        .env_remove("TRANSCODER_URL")
        .env_remove("TRANSCODER_TOKEN")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the command ends within 2 minutes")
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The one JSON document a successful `--json` command printed.
fn json(o: &Output) -> Value {
    assert!(o.status.success(), "failed: {}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn job_ids(listing: &Value) -> Vec<&str> {
    listing["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_list_cancel_and_refusals_from_the_cli() {
    let app = common::spawn_paused(Backend::Sqlite).await;
    let mut grpc = app.client.clone();
    let own = common::create_profile(&mut grpc, common::h264_profile("Small H.264", 320, 180))
        .await
        .unwrap();

    let profiles = json(&client(&app, &["profiles", "--json"]).await);
    let profiles = profiles["profiles"].as_array().unwrap();
    assert_eq!(
        profiles.len(),
        transcoder::domain::profile::SYSTEM_PRESETS.len() + 1
    );
    let generic = profiles
        .iter()
        .find(|p| p["description"] == GENERIC_720P)
        .expect("the 720p preset is listed");
    assert_eq!(generic["container"], "mp4");
    assert!(
        generic["video"]
            .as_str()
            .unwrap()
            .starts_with("h264 1280x720")
    );
    assert!(
        profiles
            .iter()
            .any(|p| p["id"] == own.id && p["system"] == false)
    );

    // Outputs in the order given, across --preset and --profile; names defaulted from
    // each profile's container where no --output says otherwise.
    let origin = common::file_uri(&common::clip_5s());
    let own_id = own.id.to_string();
    let submitted = client(
        &app,
        &[
            "submit",
            "--json",
            "--origin",
            &origin,
            "--preset",
            VP9_360P,
            "--output",
            "first.webm",
            "--profile",
            &own_id,
            "--preset",
            GENERIC_720P,
        ],
    )
    .await;
    let submitted = json(&submitted);
    let job_id = submitted["id"].as_str().unwrap().to_owned();
    assert_eq!(submitted["state"], "queued");
    let job = app.get(&job_id).await;
    let outputs: Vec<_> = job
        .order
        .unwrap()
        .outputs
        .into_iter()
        .map(|o| (o.filename, o.profile.unwrap()))
        .collect();
    use pb::output_spec::Profile;
    assert_eq!(
        outputs,
        [
            ("first.webm".to_owned(), Profile::Preset(VP9_360P.into())),
            ("output-2.mp4".to_owned(), Profile::ProfileId(own.id)),
            (
                "output-3.mp4".to_owned(),
                Profile::Preset(GENERIC_720P.into())
            ),
        ]
    );

    let all = json(&client(&app, &["jobs", "--json"]).await);
    assert_eq!(job_ids(&all), [job_id.as_str()]);
    assert_eq!(all["jobs"][0]["outputs"].as_array().unwrap().len(), 3);
    let queued = json(&client(&app, &["jobs", "--state", "queued", "--json"]).await);
    assert_eq!(job_ids(&queued), [job_id.as_str()]);
    let done = json(&client(&app, &["jobs", "--state", "succeeded", "--json"]).await);
    assert!(job_ids(&done).is_empty());
    let table = client(&app, &["jobs", "--limit", "5"]).await;
    assert!(stdout(&table).contains(&job_id), "{}", stdout(&table));

    let canceled = json(&client(&app, &["cancel", &job_id, "--json"]).await);
    assert_eq!(canceled["state"], "canceled");
    let again = client(&app, &["cancel", &job_id]).await;
    assert_eq!(again.status.code(), Some(5), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("FAILED_PRECONDITION"),
        "{}",
        stderr(&again)
    );
    let missing = client(&app, &["watch", "0190f000-0000-7000-8000-000000000000"]).await;
    assert_eq!(missing.status.code(), Some(6), "{}", stderr(&missing));

    let usage = json(
        &client(
            &app,
            &[
                "usage",
                "--from",
                "2020-01-01",
                "--to",
                "2100-01-01",
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(usage["total_billable_minutes"], 0.0);
    assert!(usage["outputs"].as_array().unwrap().is_empty());
    assert_eq!(usage["from"], "2020-01-01T00:00:00.000Z");
    let bad_date = client(&app, &["usage", "--from", "last tuesday"]).await;
    assert_eq!(bad_date.status.code(), Some(2), "{}", stderr(&bad_date));

    // A refusal names every bad field, on stderr and in the --json error document.
    let bad = [
        "submit",
        "--origin",
        &origin,
        "--preset",
        "No such preset",
        "--output",
        "a.mp4",
        "--priority",
        "42",
    ];
    let refused = client(&app, &bad).await;
    assert_eq!(refused.status.code(), Some(5));
    let text = stderr(&refused);
    assert!(text.contains("INVALID_ARGUMENT"), "{text}");
    assert!(
        text.contains("order.outputs[0].preset: no profile named 'No such preset'"),
        "{text}"
    );
    assert!(
        text.contains("order.priority: must be between 5 and 10"),
        "{text}"
    );
    let refused = client(&app, &[&bad[..], &["--json"][..]].concat()).await;
    assert_eq!(refused.status.code(), Some(5));
    let error: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(error["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(error["error"]["exit_code"], 5);
    let mut fields: Vec<_> = error["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, ["order.outputs[0].preset", "order.priority"]);
    let jobs = json(&client(&app, &["jobs", "--json"]).await);
    assert_eq!(
        job_ids(&jobs).len(),
        1,
        "nothing was queued by the refusals"
    );

    // Flags win over the environment; each kind of failure has its own exit code.
    let url = url(&app);
    let flags = client_with(
        &["profiles", "--url", &url, "--token", &app.token],
        &[("TRANSCODER_TOKEN", "tc_not_a_token")],
    )
    .await;
    assert!(flags.status.success(), "{}", stderr(&flags));
    assert!(stdout(&flags).contains(GENERIC_720P));
    let stranger = client_with(
        &["profiles", "--url", &url, "--token", "tc_not_a_token"],
        &[],
    )
    .await;
    assert_eq!(stranger.status.code(), Some(4), "{}", stderr(&stranger));
    assert!(
        stderr(&stranger).contains("UNAUTHENTICATED"),
        "{}",
        stderr(&stranger)
    );
    let no_token = client_with(&["jobs", "--url", &url], &[]).await;
    assert_eq!(no_token.status.code(), Some(2), "{}", stderr(&no_token));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = client_with(&["jobs", "--url", &nobody, "--token", &app.token], &[]).await;
    assert_eq!(
        unreachable.status.code(),
        Some(3),
        "{}",
        stderr(&unreachable)
    );
    assert!(stderr(&unreachable).contains("cannot reach the server"));
    let help = client_with(&["submit", "--help"], &[]).await;
    assert!(stdout(&help).contains("Exit codes:"), "{}", stdout(&help));
    app.shutdown().await;
}

/// A bar line of `label`: its name, a percent and a frame rate.
fn bar_line<'a>(screen: &'a str, label: &str) -> Option<&'a str> {
    screen
        .lines()
        .find(|l| l.contains(label) && l.contains('%') && l.contains(" fps"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_watch_draws_a_bar_per_output_then_the_results() {
    let app = common::spawn_app(Backend::Sqlite).await;
    let origin = common::file_uri(&common::clip_5s());
    let url = url(&app);
    let tmux = Tmux::start(&[
        BIN,
        "submit",
        "--url",
        &url,
        "--token",
        &app.token,
        "--origin",
        &origin,
        "--preset",
        GENERIC_720P,
        "--output",
        "sd.mp4",
        "--preset",
        VP9_360P,
        "--output",
        "small.webm",
        "--watch",
    ])
    .await;

    // Poll the pane until the command ends, keeping every screen seen on the way.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut screens = Vec::new();
    let status = loop {
        let screen = tmux.screen().await;
        let status = Tmux::exit_status(&screen);
        screens.push(screen);
        if let Some(status) = status {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running:\n{}",
            screens.last().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let last = screens.last().unwrap().clone();
    assert_eq!(status, 0, "{last}");
    for label in ["sd.mp4", "small.webm"] {
        let bar = bar_line(&last, label).unwrap_or_else(|| panic!("no bar for {label}:\n{last}"));
        assert!(bar.contains("100%") && bar.contains("done"), "{bar}");
    }
    let running = screens
        .iter()
        .flat_map(|s| s.lines())
        .filter(|l| l.contains('%') && l.contains(" fps") && l.contains("ETA"))
        .count();
    println!(
        "{running} in-progress bar lines seen over {} screens",
        screens.len()
    );
    // The results table follows the bars.
    let table_at = last
        .find("billed min")
        .unwrap_or_else(|| panic!("no table:\n{last}"));
    assert!(
        last.find("sd.mp4").unwrap() < table_at,
        "the bars come first:\n{last}"
    );
    let rows: Vec<_> = last[table_at..]
        .lines()
        .filter(|l| l.contains("succeeded") && l.contains("file://"))
        .collect();
    assert_eq!(rows.len(), 2, "{last}");
    assert!(
        rows.iter().all(|r| r.contains(" s ")),
        "durations shown:\n{last}"
    );
    assert!(last.contains("billed: 2 minutes"), "{last}");
    let job_id = last
        .lines()
        .find_map(|l| l.strip_prefix("submitted job "))
        .unwrap()
        .trim()
        .to_owned();
    drop(tmux);

    // Without a terminal: plain lines, no escape codes, the same table.
    let plain = client(&app, &["watch", &job_id]).await;
    let text = stdout(&plain);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("  sd.mp4:") && l.contains(" fps")),
        "{text}"
    );
    assert!(text.contains(&format!("job {job_id}: succeeded")), "{text}");
    assert!(text.contains("billed min"), "{text}");

    // --json: a JSON line per event, then the job as it ended.
    let lines = client(&app, &["watch", &job_id, "--json"]).await;
    assert!(lines.status.success(), "{}", stderr(&lines));
    let docs: Vec<Value> = stdout(&lines)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (job, events) = docs.split_last().unwrap();
    let sequences: Vec<u64> = events
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=events.len() as u64).collect::<Vec<_>>());
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "progress"
                && e["outputs"].as_array().is_some_and(|o| o.len() == 2))
    );
    assert_eq!(events.last().unwrap()["type"], "job_finished");
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["billing"]["billable_minutes"], 2.0);
    assert_eq!(job["outputs"][1]["label"], "small.webm");
    assert_eq!(job["outputs"][1]["container"], "webm");

    let usage = json(&client(&app, &["usage", "--json"]).await);
    assert_eq!(usage["total_billable_minutes"], 2.0);
    let billed: Vec<_> = usage["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["job_id"].as_str().unwrap(),
                o["output_label"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        billed,
        [(job_id.as_str(), "sd.mp4"), (job_id.as_str(), "small.webm")]
    );
    app.shutdown().await;
}
