//! Soak (issue 17): 200 jobs through 1 API and 3 worker processes while a random worker
//! is kill -9'd every few seconds and restarted. Every job must succeed exactly once,
//! none may be left behind, and no webhook may report a stale or contradicting outcome.
//! Run by `make soak` (ignored by `make test`); the figures are printed. A module of the
//! scale_out test binary, so `make test` links one binary fewer.

use crate::common::peers::WebhookPeer;
use crate::common::procs::{Cluster, JobWatch, Role, ServeProcess, running_attempts};
use crate::common::{Kind, file_uri, generated_clip, output};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use transcoder::proto as pb;
use transcoder::test_support::clip::ClipSpec;

const JOBS: usize = 200;
const WORKERS: usize = 3;
/// Pacing of the kills: load, not synchronisation.
const KILL_EVERY: Duration = Duration::from_secs(4);
const ALL_DONE_WITHIN: Duration = Duration::from_secs(15 * 60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "soak: minutes long; run with `make soak`"]
async fn two_hundred_jobs_survive_workers_killed_every_few_seconds() {
    let clip = generated_clip(
        "clip-2s-320x180.mp4",
        &ClipSpec {
            seconds: 2,
            width: 320,
            height: 180,
            ..ClipSpec::default()
        },
    );
    let receiver = WebhookPeer::start(vec![200]).await;
    let cluster = Cluster::new(&[
        ("TRANSCODER__WORKERS__LEASE_SECONDS", "3"),
        ("TRANSCODER__WORKERS__HEARTBEAT_SECONDS", "1"),
        ("TRANSCODER__WEBHOOKS__POLL_INTERVAL_MS", "200"),
        ("RUST_LOG", "info,sqlx=warn"),
    ])
    .await;
    let api = cluster.spawn_api().await;
    let mut generation = 0;
    let mut workers: Vec<ServeProcess> = Vec::new();
    for i in 0..WORKERS {
        workers.push(spawn_worker(&cluster, i, generation).await);
    }
    let client = cluster.client(&api).await;

    let mut ids = Vec::new();
    let mut pending = JoinSet::new();
    for i in 0..JOBS {
        let dir = cluster.out_dir(&format!("soak-{i}"));
        let order = pb::Order {
            origin: file_uri(&clip),
            outputs: vec![output("out.mp4", "System preset: Generic 360p")],
            destinations: vec![pb::Destination {
                uri: format!("{}/", file_uri(&dir)),
                ..Default::default()
            }],
            notifications: vec![pb::Notification {
                target: Some(pb::notification::Target::WebhookUrl(receiver.url())),
            }],
            ..Default::default()
        };
        let job = super::submit(&client, order).await;
        ids.push((job.id.clone(), dir));
        let mut watch = JobWatch::start(client.clone(), &job.id);
        pending.spawn(async move {
            let state = watch.until_finished(ALL_DONE_WITHIN).await;
            (watch, state)
        });
    }

    // Kill a random worker every few seconds (and start a new one in its place) until
    // every job has ended.
    let started = Instant::now();
    let deadline = started + ALL_DONE_WITHIN;
    let mut kills: Vec<Instant> = Vec::new();
    let mut finished: Vec<(JobWatch, pb::JobState)> = Vec::new();
    let mut next_kill = Instant::now() + KILL_EVERY;
    while !pending.is_empty() {
        tokio::select! {
            done = pending.join_next() => finished.push(done.unwrap().expect("a watch")),
            _ = tokio::time::sleep_until(next_kill) => {
                let victim = rand::random_range(0..WORKERS);
                kills.push(workers[victim].kill9().await);
                generation += 1;
                workers[victim] = spawn_worker(&cluster, victim, generation).await;
                next_kill = Instant::now() + KILL_EVERY;
            }
            _ = tokio::time::sleep_until(deadline) => {
                let done: HashSet<_> = finished.iter().map(|(w, _)| w.job_id.clone()).collect();
                let stuck: Vec<_> = ids.iter().filter(|(id, _)| !done.contains(id)).collect();
                panic!("{} jobs never ended: {stuck:?}", stuck.len());
            }
        }
    }
    let elapsed = started.elapsed();

    // Every job succeeded exactly once, with its output in place.
    let mut reclaims = 0;
    let mut longest_reclaim = Duration::ZERO;
    for (watch, state) in &finished {
        assert_eq!(
            *state,
            pb::JobState::Succeeded,
            "job {}: {:#?}",
            watch.job_id,
            watch.events()
        );
        let replayed = JobWatch::start(client.clone(), &watch.job_id);
        let events = replay_all(replayed).await;
        let terminal = events
            .iter()
            .filter(|e| matches!(e.kind, Some(Kind::JobFinished(_))))
            .count();
        assert_eq!(terminal, 1, "job {}: one JobFinished", watch.job_id);
        if running_attempts(&events).len() > 1 {
            reclaims += 1;
        }
        // A reclaim's time: from the last kill before a later attempt's RUNNING to it.
        for (event, at) in &watch.seen {
            let is_retry = matches!(&event.kind, Some(Kind::StateChanged(s))
                if s.state == pb::JobState::Running as i32 && s.attempt > 1);
            if let Some(kill) = kills.iter().rev().find(|k| *k < at).filter(|_| is_retry) {
                longest_reclaim = longest_reclaim.max(*at - *kill);
            }
        }
    }
    for (id, dir) in &ids {
        assert!(
            dir.join("out.mp4").exists(),
            "job {id}: the output is there"
        );
    }

    // Webhooks: every job's outcome arrives; none says anything but job.succeeded.
    let wanted: HashSet<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
    let received = wait_for_webhooks(&receiver, &wanted, Duration::from_secs(120)).await;
    let mut deliveries_by_id: HashMap<String, usize> = HashMap::new();
    let mut types_by_job: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for request in &received {
        let id = request.headers["webhook-id"].to_str().unwrap().to_owned();
        *deliveries_by_id.entry(id).or_default() += 1;
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        let job = body["data"]["job_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let kind = body["type"].as_str().unwrap_or_default().to_owned();
        types_by_job.entry(job).or_default().insert(kind);
    }
    let duplicates: usize = deliveries_by_id.values().map(|n| n - 1).sum();
    let messages_per_job = deliveries_by_id.len() as f64 / JOBS as f64;
    println!(
        "soak: jobs {JOBS}, kills {}, reclaims {reclaims}, longest reclaim {longest_reclaim:?}, \
         webhook deliveries {}, duplicates {duplicates}, distinct webhook ids per job \
         {messages_per_job:.2}, took {elapsed:?}",
        kills.len(),
        received.len()
    );
    for (job, types) in &types_by_job {
        assert_eq!(
            types,
            &HashSet::from(["job.succeeded".to_owned()]),
            "job {job}: only job.succeeded, never a stale or other outcome"
        );
    }
    assert_eq!(
        deliveries_by_id.len(),
        JOBS,
        "one webhook message (id) per job"
    );
}

async fn spawn_worker(cluster: &Cluster, slot: usize, generation: usize) -> ServeProcess {
    let name = format!("worker-{slot}-g{generation}");
    cluster.spawn(&name, Role::Worker, 1, &[]).await
}

async fn replay_all(mut watch: JobWatch) -> Vec<pb::JobEvent> {
    watch.until_finished(Duration::from_secs(30)).await;
    watch.events()
}

/// Waits until every job in `wanted` has had a webhook delivery; returns all received.
async fn wait_for_webhooks(
    receiver: &WebhookPeer,
    wanted: &HashSet<&str>,
    timeout: Duration,
) -> Vec<crate::common::peers::Received> {
    let deadline = Instant::now() + timeout;
    loop {
        let received = receiver.received.lock().unwrap().clone();
        let delivered: HashSet<String> = received
            .iter()
            .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok())
            .filter_map(|b| b["data"]["job_id"].as_str().map(str::to_owned))
            .collect();
        let missing: Vec<_> = wanted
            .iter()
            .filter(|id| !delivered.contains(**id))
            .collect();
        if missing.is_empty() {
            return received;
        }
        assert!(
            Instant::now() < deadline,
            "{} jobs never got a webhook: {missing:?}",
            missing.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
