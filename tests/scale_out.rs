//! Issue 17: many `transcoder serve` replicas against one PostgreSQL, as real OS
//! processes: claims, reclaiming a dead or stopped worker's job, fencing, cancelling,
//! draining on SIGTERM and backing off after a retryable failure.

mod common;
#[path = "scale_out/soak.rs"]
mod soak;

use common::peers::{OriginPeer, S3_ACCESS_KEY, S3_SECRET_KEY, S3Peer};
use common::procs::{
    Cluster, JobWatch, Role, ServeProcess, assert_gapless, holder_of, in_phase, is_finished,
    is_state, running_attempts,
};
use common::{COMPANY, Client, Kind, clip_5s, file_uri, generated_clip, output};
use std::path::{Path, PathBuf};
use std::time::Duration;
use transcoder::media::probe::probe_file;
use transcoder::proto as pb;
use transcoder::test_support::clip::ClipSpec;

const SMALL: &str = "System preset: Generic 360p";
const HD: &str = "System preset: Generic 720p";
/// Short leases so a dead worker's job comes back within seconds.
const SHORT_LEASE: &[(&str, &str)] = &[
    ("TRANSCODER__WORKERS__LEASE_SECONDS", "3"),
    ("TRANSCODER__WORKERS__HEARTBEAT_SECONDS", "1"),
];
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// 24 s of 720p: several seconds of encoding, so a job can be caught mid-transcode.
fn long_clip() -> PathBuf {
    generated_clip(
        "clip-24s-720p.mp4",
        &ClipSpec {
            seconds: 24,
            width: 1280,
            height: 720,
            ..ClipSpec::default()
        },
    )
}

/// An order of `origin` to one output in `dest` (a `file://` or `s3://` prefix).
fn order_to(origin: &str, dest: &str, preset: &str) -> pb::Order {
    pb::Order {
        origin: origin.into(),
        outputs: vec![output("out.mp4", preset)],
        destinations: vec![pb::Destination {
            uri: dest.into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn file_dest(dir: &Path) -> String {
    format!("{}/", file_uri(dir))
}

async fn submit(client: &Client, order: pb::Order) -> pb::Job {
    common::submit_with(client, order)
        .await
        .expect("job submitted")
}

async fn get(client: &Client, job_id: &str) -> pb::Job {
    client
        .clone()
        .get_job(pb::GetJobRequest {
            company_id: COMPANY.into(),
            job_id: job_id.into(),
        })
        .await
        .expect("job read")
        .into_inner()
}

async fn cancel(client: &Client, job_id: &str) -> Result<pb::Job, tonic::Status> {
    client
        .clone()
        .cancel_job(pb::CancelJobRequest {
            company_id: COMPANY.into(),
            job_id: job_id.into(),
        })
        .await
        .map(|r| r.into_inner())
}

/// Every event of the job from the start, replayed by a new stream (the job has ended).
async fn replay(client: &Client, job_id: &str) -> Vec<pb::JobEvent> {
    let mut watch = JobWatch::start(client.clone(), job_id);
    watch.until_finished(SECS(30)).await;
    watch.events()
}

fn is_running_attempt(event: &pb::JobEvent, attempt: u32) -> bool {
    matches!(&event.kind, Some(Kind::StateChanged(s))
        if s.state == pb::JobState::Running as i32 && s.attempt == attempt)
}

fn seconds(t: &Option<prost_types::Timestamp>) -> f64 {
    let t = t.as_ref().expect("event time");
    t.seconds as f64 + f64::from(t.nanos) / 1e9
}

/// The written output probes whole: as long as the source, give or take 0.3 s.
fn assert_output_matches(path: &Path, source: &Path) {
    let source = probe_file(source, 30).unwrap();
    let written =
        probe_file(path, 30).unwrap_or_else(|e| panic!("{} does not probe: {e}", path.display()));
    assert!(
        (written.duration_seconds - source.duration_seconds).abs() <= 0.3,
        "output lasts {} s, source {} s",
        written.duration_seconds,
        source.duration_seconds
    );
    assert!(written.video.is_some(), "the output has video");
}

/// Kills (or otherwise signals) one of two workers by name, returning the other.
fn pick<'a>(
    name: &str,
    a: &'a mut ServeProcess,
    b: &'a mut ServeProcess,
) -> (&'a mut ServeProcess, &'a mut ServeProcess) {
    if a.name == name { (a, b) } else { (b, a) }
}

/// An API replica and two single-slot workers.
async fn api_and_two_workers(
    cluster: &Cluster,
) -> (ServeProcess, ServeProcess, ServeProcess, Client) {
    let api = cluster.spawn_api().await;
    let w1 = cluster.spawn_worker("worker-1").await;
    let w2 = cluster.spawn_worker("worker-2").await;
    let client = cluster.client(&api).await;
    (api, w1, w2, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_spreads_over_two_workers_and_runs_each_job_once() {
    let cluster = Cluster::new(&[]).await;
    let (_api, w1, w2, client) = api_and_two_workers(&cluster).await;
    let source = clip_5s();
    let mut watches = Vec::new();
    for i in 0..6 {
        let dest = file_dest(&cluster.out_dir(&format!("batch-{i}")));
        let job = submit(&client, order_to(&file_uri(&source), &dest, SMALL)).await;
        watches.push(JobWatch::start(client.clone(), &job.id));
    }
    for watch in &mut watches {
        assert_eq!(
            watch.until_finished(SECS(300)).await,
            pb::JobState::Succeeded
        );
        assert_gapless(&watch.events());
        assert_eq!(watch.running_attempts(), vec![1], "one RUNNING, attempt 1");
        let job = get(&client, &watch.job_id).await;
        assert_eq!(job.attempts, 1, "{job:?}");
    }
    let ran = |w: &ServeProcess| watches.iter().filter(|j| w.log_contains(&j.job_id)).count();
    let (by_1, by_2) = (ran(&w1), ran(&w2));
    println!("jobs named in worker logs: worker-1 {by_1}, worker-2 {by_2}");
    if by_1 + by_2 == 0 {
        println!("workers do not log job ids: not checking that both ran jobs");
    } else {
        assert!(by_1 > 0 && by_2 > 0, "both workers ran jobs");
    }
}

/// Submits `origin` to `dest` in HD and watches the job until it reaches `phase`.
async fn submit_until(
    client: &Client,
    origin: &str,
    dest: &str,
    phase: pb::JobPhase,
) -> (pb::Job, JobWatch) {
    let job = submit(client, order_to(origin, dest, HD)).await;
    let mut watch = JobWatch::start(client.clone(), &job.id);
    watch
        .until(&format!("{phase:?}"), SECS(120), |e| in_phase(e, phase))
        .await;
    (job, watch)
}

/// Catches a job of the long clip in `phase` on one of two workers and kill -9s that
/// worker; the other must take the job over as attempt 2 within 15 s and finish it.
async fn kill_holder_in(
    cluster: &Cluster,
    phase: pb::JobPhase,
    origin: &str,
    dest: &str,
) -> (JobWatch, Client, [ServeProcess; 3]) {
    let (api, mut w1, mut w2, client) = api_and_two_workers(cluster).await;
    let (job, mut watch) = submit_until(&client, origin, dest, phase).await;
    let holder = holder_of(&[&w1, &w2], &job.id, SECS(5)).await.name.clone();
    let (victim, survivor) = pick(&holder, &mut w1, &mut w2);
    let killed_at = victim.kill9().await;
    let (_, reclaimed_at) = watch
        .until("RUNNING attempt 2", SECS(60), |e| is_running_attempt(e, 2))
        .await;
    let reclaim = reclaimed_at.saturating_duration_since(killed_at);
    println!("{phase:?}: kill -9 of {holder} -> RUNNING attempt 2 in {reclaim:?}");
    assert!(reclaim <= SECS(15), "reclaimed after {reclaim:?}");
    let state = watch.until_finished(SECS(180)).await;
    assert_eq!(
        state,
        pb::JobState::Succeeded,
        "{}",
        common::procs::tail(&survivor.log_path)
    );
    let events = watch.events();
    assert_gapless(&events);
    assert_eq!(
        replay(&client, &job.id).await,
        events,
        "a replay sees the same"
    );
    assert_eq!(running_attempts(&events), vec![1, 2]);
    (watch, client, [api, w1, w2])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_kill_9_while_transcoding_is_reclaimed_and_finished() {
    let cluster = Cluster::new(SHORT_LEASE).await;
    let source = long_clip();
    let dir = cluster.out_dir("b");
    let (watch, client, _processes) = kill_holder_in(
        &cluster,
        pb::JobPhase::Transcoding,
        &file_uri(&source),
        &file_dest(&dir),
    )
    .await;
    let job = get(&client, &watch.job_id).await;
    assert_eq!(job.state, pb::JobState::Succeeded as i32);
    assert_output_matches(&dir.join("out.mp4"), &source);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_kill_9_while_uploading_is_reclaimed_and_uploaded_once() {
    let s3 = S3Peer::start().await;
    s3.create_bucket("media").await;
    // Every upload request waits 3 s: the worker is caught with its upload in flight.
    s3.upload_delay_ms
        .store(3000, std::sync::atomic::Ordering::SeqCst);
    let endpoint = s3.endpoint();
    let mut env = SHORT_LEASE.to_vec();
    env.extend([
        ("TRANSCODER__S3__ENDPOINT_URL", endpoint.as_str()),
        ("TRANSCODER__S3__REGION", "us-east-1"),
        ("TRANSCODER__S3__FORCE_PATH_STYLE", "true"),
        ("TRANSCODER__S3__ACCESS_KEY_ID", S3_ACCESS_KEY),
        ("TRANSCODER__S3__SECRET_ACCESS_KEY", S3_SECRET_KEY),
        ("TRANSCODER__S3__MAX_ATTEMPTS", "2"),
    ]);
    let cluster = Cluster::new(&env).await;
    let source = clip_5s();
    let (watch, client, _processes) = kill_holder_in(
        &cluster,
        pb::JobPhase::Uploading,
        &file_uri(&source),
        "s3://media/c/",
    )
    .await;
    let finished = watch.events().iter().filter(|e| is_finished(e)).count();
    assert_eq!(finished, 1, "one JobFinished");
    let job = get(&client, &watch.job_id).await;
    assert_eq!(job.outputs[0].urls, vec!["s3://media/c/out.mp4".to_owned()]);
    let (bytes, _) = s3.get("media", "c/out.mp4").await.expect("the object");
    let scratch = tempfile::tempdir().unwrap();
    let fetched = scratch.path().join("out.mp4");
    std::fs::write(&fetched, bytes).unwrap();
    assert_output_matches(&fetched, &source);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d_a_stopped_worker_that_resumes_after_losing_its_lease_writes_nothing() {
    let cluster = Cluster::new(SHORT_LEASE).await;
    let (_api, mut w1, mut w2, client) = api_and_two_workers(&cluster).await;
    let source = long_clip();
    let dir = cluster.out_dir("d");
    let (job, mut watch) = submit_until(
        &client,
        &file_uri(&source),
        &file_dest(&dir),
        pb::JobPhase::Transcoding,
    )
    .await;
    let holder = holder_of(&[&w1, &w2], &job.id, SECS(5)).await.name.clone();
    let (stopped, _) = pick(&holder, &mut w1, &mut w2);
    stopped.sigstop();
    watch
        .until("RUNNING attempt 2", SECS(60), |e| is_running_attempt(e, 2))
        .await;
    assert_eq!(
        watch.until_finished(SECS(180)).await,
        pb::JobState::Succeeded
    );
    let events = watch.events();
    assert_gapless(&events);
    let done = get(&client, &job.id).await;

    stopped.sigcont();
    let line = stopped
        .wait_for_log(&["lease lost", &job.id], SECS(30))
        .await;
    println!("{holder} after SIGCONT: {line}");
    let after = get(&client, &job.id).await;
    assert_eq!(after.state, pb::JobState::Succeeded as i32);
    assert_eq!(
        after.attempts, done.attempts,
        "attempts as after the reclaim"
    );
    assert_eq!(after.finished_at, done.finished_at);
    assert_eq!(
        replay(&client, &job.id).await,
        events,
        "no event after the success"
    );
    assert_output_matches(&dir.join("out.mp4"), &source);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e1_cancelling_a_queued_job_ends_it_at_once() {
    let cluster = Cluster::new(&[]).await;
    let api = cluster.spawn_api().await;
    let client = cluster.client(&api).await;
    let dest = file_dest(&cluster.out_dir("e1"));
    let job = submit(&client, order_to(&file_uri(&clip_5s()), &dest, SMALL)).await;
    let canceled = cancel(&client, &job.id).await.expect("CancelJob");
    assert_eq!(
        canceled.state,
        pb::JobState::Canceled as i32,
        "{canceled:?}"
    );
    let mut watch = JobWatch::start(client.clone(), &job.id);
    assert_eq!(watch.until_finished(SECS(10)).await, pb::JobState::Canceled);
    assert_gapless(&watch.events());
    let job = get(&client, &job.id).await;
    assert!(
        job.billing.as_ref().is_none_or(|b| b.lines.is_empty()),
        "no bill: {:?}",
        job.billing
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2_cancelling_a_running_job_stops_its_worker() {
    let cluster = Cluster::new(&[]).await;
    let api = cluster.spawn_api().await;
    let _worker = cluster.spawn_worker("worker-1").await;
    let client = cluster.client(&api).await;
    let dir = cluster.out_dir("e2");
    let (job, mut watch) = submit_until(
        &client,
        &file_uri(&long_clip()),
        &file_dest(&dir),
        pb::JobPhase::Transcoding,
    )
    .await;
    let asked = tokio::time::Instant::now();
    cancel(&client, &job.id).await.expect("CancelJob");
    let (event, ended) = watch.until("JobFinished", SECS(10), is_finished).await;
    let took = ended.saturating_duration_since(asked);
    println!("CancelJob -> JobFinished CANCELED in {took:?} (target 2 s)");
    let Some(Kind::JobFinished(finished)) = event.kind else {
        unreachable!()
    };
    assert_eq!(finished.state(), pb::JobState::Canceled);
    assert_gapless(&watch.events());
    let job = get(&client, &job.id).await;
    assert_eq!(job.state, pb::JobState::Canceled as i32);
    assert!(
        job.billing.as_ref().is_none_or(|b| b.lines.is_empty()),
        "no bill: {:?}",
        job.billing
    );
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "nothing at the destination: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e3_cancelling_a_succeeded_job_is_refused() {
    let cluster = Cluster::new(&[]).await;
    let api = cluster.spawn_api().await;
    let _worker = cluster.spawn_worker("worker-1").await;
    let client = cluster.client(&api).await;
    let dest = file_dest(&cluster.out_dir("e3"));
    let job = submit(&client, order_to(&file_uri(&clip_5s()), &dest, SMALL)).await;
    let mut watch = JobWatch::start(client.clone(), &job.id);
    assert_eq!(
        watch.until_finished(SECS(120)).await,
        pb::JobState::Succeeded
    );
    let refused = cancel(&client, &job.id).await.expect_err("refused");
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert_eq!(
        get(&client, &job.id).await.state,
        pb::JobState::Succeeded as i32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_sigterm_lets_the_running_job_finish_within_the_grace() {
    let mut env = SHORT_LEASE.to_vec();
    env.push(("TRANSCODER__WORKERS__DRAIN_GRACE_SECONDS", "60"));
    let cluster = Cluster::new(&env).await;
    let api = cluster.spawn_api().await;
    let mut worker = cluster.spawn_worker("worker-1").await;
    let client = cluster.client(&api).await;
    let dir = cluster.out_dir("f1");
    let source = long_clip();
    let (_job, mut watch) = submit_until(
        &client,
        &file_uri(&source),
        &file_dest(&dir),
        pb::JobPhase::Transcoding,
    )
    .await;
    worker.sigterm();
    assert_eq!(
        watch.until_finished(SECS(120)).await,
        pb::JobState::Succeeded
    );
    let status = worker.wait_exit(SECS(60)).await;
    assert!(status.success(), "the drained worker exits 0: {status:?}");
    assert_eq!(
        watch.running_attempts(),
        vec![1],
        "it ran once, on that worker"
    );
    assert_gapless(&watch.events());
    assert_output_matches(&dir.join("out.mp4"), &source);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f2_sigterm_past_the_grace_hands_the_job_over_at_once() {
    let cluster = Cluster::new(&[
        ("TRANSCODER__WORKERS__LEASE_SECONDS", "30"),
        ("TRANSCODER__WORKERS__HEARTBEAT_SECONDS", "2"),
        ("TRANSCODER__WORKERS__DRAIN_GRACE_SECONDS", "1"),
    ])
    .await;
    let (_api, mut w1, mut w2, client) = api_and_two_workers(&cluster).await;
    let dir = cluster.out_dir("f2");
    let source = long_clip();
    let (job, mut watch) = submit_until(
        &client,
        &file_uri(&source),
        &file_dest(&dir),
        pb::JobPhase::Transcoding,
    )
    .await;
    let holder = holder_of(&[&w1, &w2], &job.id, SECS(5)).await.name.clone();
    let (drained, _) = pick(&holder, &mut w1, &mut w2);
    drained.sigterm();
    let status = drained.wait_exit(SECS(15)).await;
    let exited = tokio::time::Instant::now();
    assert!(status.success(), "the drained worker exits 0: {status:?}");
    // The drained worker hands the job back (QUEUED), then another claims it.
    watch
        .until("the hand-back's QUEUED", SECS(60), |e| {
            is_state(e, pb::JobState::Queued)
        })
        .await;
    let (_, restarted) = watch
        .until("the hand-over's RUNNING", SECS(60), |e| {
            is_state(e, pb::JobState::Running)
        })
        .await;
    // The next run may even start before the drained process is reaped (then 0).
    let handover = restarted.saturating_duration_since(exited);
    println!("SIGTERM drain: exit -> next RUNNING in {handover:?} (lease 30 s)");
    // Half the lease: an expired lease could not come back this soon.
    assert!(handover < SECS(15), "handed over after {handover:?}");
    assert_eq!(
        watch.until_finished(SECS(180)).await,
        pb::JobState::Succeeded
    );
    let attempts = watch.running_attempts();
    assert_eq!(attempts.len(), 2, "two runs: {attempts:?}");
    assert_eq!(attempts[0], attempts[1], "a hand-over is not an attempt");
    assert_gapless(&watch.events());
    assert_output_matches(&dir.join("out.mp4"), &source);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g_a_retryable_failure_waits_out_its_backoff() {
    let source = clip_5s();
    let origin = OriginPeer::start(&source).await;
    origin
        .flaky_failures_left
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let cluster = Cluster::new(&[
        ("TRANSCODER__WORKERS__RETRY_BACKOFF_BASE_SECONDS", "2"),
        ("TRANSCODER__WORKERS__MAX_ATTEMPTS", "3"),
    ])
    .await;
    let api = cluster.spawn_api().await;
    let worker = cluster.spawn("worker-1", Role::Worker, 1, &[]).await;
    let client = cluster.client(&api).await;
    let dir = cluster.out_dir("g");
    let job = submit(
        &client,
        order_to(&origin.url("/flaky.mp4"), &file_dest(&dir), SMALL),
    )
    .await;
    let mut watch = JobWatch::start(client.clone(), &job.id);
    watch
        .until("RUNNING attempt 1", SECS(60), |e| is_running_attempt(e, 1))
        .await;
    let (queued, _) = watch
        .until("QUEUED after the failure", SECS(60), |e| {
            is_state(e, pb::JobState::Queued)
        })
        .await;
    let (running, _) = watch
        .until("RUNNING attempt 2", SECS(60), |e| is_running_attempt(e, 2))
        .await;
    let waited = seconds(&running.time) - seconds(&queued.time);
    println!("requeued -> RUNNING attempt 2 after {waited:.3} s (backoff base 2 s)");
    assert!(waited >= 2.0 - 0.005, "claimed again after {waited} s");
    assert_eq!(
        watch.until_finished(SECS(120)).await,
        pb::JobState::Succeeded
    );
    assert_eq!(watch.running_attempts(), vec![1, 2]);
    assert_gapless(&watch.events());
    assert_eq!(get(&client, &job.id).await.attempts, 2);
    assert!(
        worker.log_contains("retryable failure"),
        "the worker logged the failure"
    );
    assert_output_matches(&dir.join("out.mp4"), &source);
}
