//! Billing per output minute and usage per period, end to end: real jobs on real media,
//! billed at the configured price, summed by GetUsage.

mod common;

use common::peers::WebhookPeer;
use common::{AppOptions, Backend, TestApp, clip_5s, order, output, spawn_app_with};
use std::str::FromStr;
use transcoder::proto as pb;

/// Not the default (0.0389), so the bill shows the configured price reached it.
const PRICE: &str = "0.0425";

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions::configured(|s| {
            s.billing.price_per_minute = rust_decimal::Decimal::from_str(PRICE).unwrap();
            s.egress.allow = vec!["127.0.0.1".into()];
            s.webhooks.poll_interval_ms = 50;
        }),
    )
    .await
}

fn at(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

async fn usage(
    client: &common::Client,
    from: Option<prost_types::Timestamp>,
    to: Option<prost_types::Timestamp>,
) -> pb::GetUsageResponse {
    client
        .clone()
        .get_usage(pb::GetUsageRequest {
            company_id: String::new(),
            from,
            to,
        })
        .await
        .unwrap()
        .into_inner()
}

async fn jobs_are_billed_per_output_minute(backend: Backend) {
    let receiver = WebhookPeer::start(vec![204]).await;
    let app = app(backend).await;
    let started = chrono::Utc::now();

    let mut billed_order = order(
        &clip_5s(),
        vec![
            output("small.mp4", "System preset: Generic 360p"),
            output("medium.mp4", "System preset: Generic 480p"),
        ],
    );
    billed_order.notifications = vec![pb::Notification {
        target: Some(pb::notification::Target::WebhookUrl(receiver.url())),
    }];
    let job = app.submit(billed_order).await.unwrap();
    assert!(job.billing.is_none(), "a queued job has no bill");
    // `finish` returns once JobFinished was observed: the notification rows and the bill
    // were written with it, so they are there at once.
    let done = app.finish(&job.id).await;
    assert_eq!(done.state, pb::JobState::Succeeded as i32, "{done:?}");
    assert_eq!(done.notifications.len(), 1, "{done:?}");
    assert_eq!(done.notifications[0].target, receiver.url());
    let bill = done.billing.expect("a succeeded job is billed");
    assert_eq!(bill.currency, "USD");
    assert_eq!(bill.price_per_minute, PRICE);
    assert_eq!(bill.lines.len(), 2);
    for (line, result) in bill.lines.iter().zip(&done.outputs) {
        assert_eq!(line.output_label, result.label);
        assert_eq!(line.profile_id, result.profile_id);
        let measured = result.media.as_ref().unwrap().duration_seconds;
        assert_eq!(line.duration_seconds, measured);
        assert!((4.5..=5.5).contains(&measured), "{measured}");
        assert_eq!(line.billable_minutes, 1, "5 s rounds up to one minute");
        assert_eq!(line.cost_decimal, PRICE);
    }
    assert_eq!(bill.total_cost_decimal, "0.0850");
    assert_eq!(bill.billable_minutes, 2.0);
    assert!((bill.cost - 0.085).abs() < 1e-9, "{}", bill.cost);

    let missing = common::media_dir().join("no-such-file-to-bill.mp4");
    let failed = app
        .submit(order(
            &missing,
            vec![output("out.mp4", "System preset: Generic 360p")],
        ))
        .await
        .unwrap();
    let failed = app.finish(&failed.id).await;
    assert_eq!(failed.state, pb::JobState::Failed as i32);
    assert!(failed.billing.is_none(), "failed jobs are not billed");

    // The period holding both jobs: only the succeeded one's outputs count.
    let period = usage(&app.client, Some(at(started)), Some(at(chrono::Utc::now()))).await;
    assert_eq!(period.outputs.len(), 2, "{period:?}");
    assert!(period.outputs.iter().all(|o| o.job_id == job.id));
    // Oldest first, then by job and label.
    let labels: Vec<_> = period.outputs.iter().map(|o| &o.output_label).collect();
    let mut expected: Vec<_> = done.outputs.iter().map(|o| &o.label).collect();
    expected.sort();
    assert_eq!(labels, expected);
    assert!(period.outputs.iter().all(|o| o.cost_decimal == PRICE));
    assert_eq!(period.total_cost_decimal, "0.0850");
    assert_eq!(period.total_billable_minutes, 2.0);
    assert_eq!(period.currency, "USD");

    // Half-open: a period ending at the billing instant leaves it out, one starting
    // there takes it in.
    let billed_at = period.outputs[0].billed_at.unwrap();
    let before = usage(&app.client, Some(at(started)), Some(billed_at)).await;
    assert!(before.outputs.is_empty(), "{before:?}");
    let from_then = usage(&app.client, Some(billed_at), None).await;
    assert_eq!(from_then.outputs.len(), 2);

    // A period before the job: nothing, and a zero total.
    let earlier = usage(
        &app.client,
        Some(at(started - chrono::Duration::hours(1))),
        Some(at(started)),
    )
    .await;
    assert!(earlier.outputs.is_empty());
    assert_eq!(earlier.total_cost_decimal, "0");
    assert_eq!(earlier.total_billable_minutes, 0.0);

    // Another company sees none of it, over all time.
    let globex = app.client_of("globex").await;
    let theirs = usage(&globex, None, None).await;
    assert!(theirs.outputs.is_empty(), "{theirs:?}");
    assert_eq!(theirs.total_cost_decimal, "0");

    // A period that ends before it starts is refused, naming the field.
    let backwards = app
        .client
        .clone()
        .get_usage(pb::GetUsageRequest {
            company_id: String::new(),
            from: Some(at(chrono::Utc::now())),
            to: Some(at(started)),
        })
        .await
        .unwrap_err();
    assert_eq!(backwards.code(), tonic::Code::InvalidArgument);
    assert!(backwards.message().contains("to"), "{backwards:?}");
    app.shutdown().await;
}
on_both_backends!(
    billed_per_output_minute,
    super::jobs_are_billed_per_output_minute
);

/// The terminal write is one lease-checked transaction: without the lease nothing of it
/// lands (state, event, bill, deliveries, usage); with it, all of it does, once.
async fn terminal_write_is_all_or_nothing(backend: Backend) {
    use transcoder::domain::notification::{Channel, DeliveryState, Notification};
    use transcoder::domain::{Billing, CompanyId, EventKind, JobId, JobState, MediaInfo};
    use transcoder::domain::{OutputState, Tariff};

    let app = spawn_app_with(
        backend,
        AppOptions {
            paused: true,
            ..AppOptions::default()
        },
    )
    .await;
    let submitted = app
        .submit(order(
            &clip_5s(),
            vec![output("out.mp4", "System preset: Generic 360p")],
        ))
        .await
        .unwrap();
    let repo = app.app().repo.clone();
    let company = CompanyId::parse(common::COMPANY).unwrap();
    let now = chrono::Utc::now();
    let mut job = repo
        .claim_next("tester", std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .expect("the queued job is claimed")
        .job;
    assert_eq!(job.id, JobId::parse(&submitted.id).unwrap());

    job.state = JobState::Succeeded;
    job.finished_at = Some(now);
    job.outputs[0].state = OutputState::Succeeded;
    job.outputs[0].media = Some(MediaInfo {
        duration_seconds: 61.0,
        ..MediaInfo::default()
    });
    let tariff = Tariff {
        price_per_minute: rust_decimal::Decimal::from_str("0.0389").unwrap(),
        currency: "USD".into(),
    };
    let bill = Billing::for_outputs(&job.outputs, &tariff);
    let usage_lines = bill.usage_lines(job.id, &company, now);
    job.billing = Some(bill);
    let deliveries = [Notification {
        id: format!("msg_{}_0", job.id),
        job_id: job.id,
        company_id: company.as_str().into(),
        channel: Channel::Webhook {
            url: "http://127.0.0.1:9/hook".into(),
        },
        payload: "{}".into(),
        state: DeliveryState::Pending,
        attempts: Vec::new(),
        // Not due during the test: the dispatcher leaves it alone.
        next_attempt_at: Some(now + chrono::Duration::hours(1)),
        created_at: now,
    }];
    let finished = || EventKind::JobFinished {
        state: JobState::Succeeded,
        error: None,
    };

    let lost = repo
        .finish(&job, "intruder", finished(), &deliveries, &usage_lines)
        .await
        .unwrap();
    assert!(lost.is_none(), "another owner cannot end the job");
    let untouched = app.get(&submitted.id).await;
    assert_eq!(untouched.state, pb::JobState::Running as i32);
    assert!(untouched.billing.is_none());
    assert!(untouched.notifications.is_empty());
    assert!(usage(&app.client, None, None).await.outputs.is_empty());

    let event = repo
        .finish(&job, "tester", finished(), &deliveries, &usage_lines)
        .await
        .unwrap()
        .expect("the owner ends the job");
    assert!(matches!(event.kind, EventKind::JobFinished { .. }));
    assert_eq!(event.sequence, 2, "right after the first event");
    let ended = app.get(&submitted.id).await;
    assert_eq!(ended.state, pb::JobState::Succeeded as i32);
    let billing = ended.billing.expect("billed with the terminal state");
    assert_eq!(billing.lines[0].billable_minutes, 2, "61 s is two minutes");
    assert_eq!(billing.total_cost_decimal, "0.0778");
    assert_eq!(ended.notifications.len(), 1);
    let account = usage(&app.client, None, None).await;
    assert_eq!(account.outputs.len(), 1);
    assert_eq!(account.total_cost_decimal, "0.0778");

    let again = repo
        .finish(&job, "tester", finished(), &deliveries, &usage_lines)
        .await
        .unwrap();
    assert!(
        again.is_none(),
        "the lease was released by the first finish"
    );
    assert_eq!(usage(&app.client, None, None).await.outputs.len(), 1);
    app.shutdown().await;
}
on_both_backends!(terminal_write, super::terminal_write_is_all_or_nothing);
