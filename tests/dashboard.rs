//! The dashboard in a real headless Chromium (Debian's `chromium` and `chromium-driver`,
//! which `make deps` installs), driven over WebDriver by fantoccini against the real app:
//! sign in, the new-job dialog (keyboard, a refused value at its field, then a job that
//! runs to SUCCEEDED with its progress bar moving and no reload), the job's page with its
//! thumbnail loaded, a profile's restrict bitrate edited and read back over gRPC, usage,
//! a narrow screen, sign out. Each screen is saved under docs/screenshots/ for the README.

mod common;

#[path = "dashboard/browser.rs"]
mod browser;
#[path = "dashboard/session.rs"]
mod session;

use browser::{ChromeDriver, JOB_WAIT, WAIT, css, js, screenshot, type_into, wait_js, wait_path};
use common::{Backend, clip_5s, create_profile, file_uri, h264_profile, spawn_app};
use fantoccini::Client as Browser;
use fantoccini::key::Key;
use futures::FutureExt;
use serde_json::Value;
use std::time::Duration;
use transcoder::proto as pb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser() {
    let app = spawn_app(Backend::Sqlite).await;
    let driver = ChromeDriver::start().await;
    let browser = driver.browser().await;
    let outcome = std::panic::AssertUnwindSafe(tokio::time::timeout(
        Duration::from_secs(600),
        walk_through(&app, &browser),
    ))
    .catch_unwind()
    .await;
    let _ = browser.close().await;
    drop(driver);
    app.shutdown().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(_)) => panic!("the walk-through took over 10 minutes"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

async fn walk_through(app: &common::TestApp, b: &Browser) {
    let base = format!("http://{}", app.app().http_addr);
    let job_id = sign_in_and_submit(app, b, &base).await;
    job_detail(app, b, &job_id).await;
    profiles(app, b, &base).await;
    usage(b, &base).await;
    narrow_screen_and_sign_out(b, &base).await;
}

async fn sign_in_and_submit(app: &common::TestApp, b: &Browser, base: &str) -> String {
    // Signed out, the dashboard sends the browser to sign in.
    b.goto(&format!("{base}/")).await.unwrap();
    wait_path(b, "/ui/sign-in").await;
    type_into(b, "#token", "tc_not-a-token").await;
    css(b, "form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    wait_js(
        b,
        "the refusal at the token field",
        WAIT,
        "return (document.querySelector('#token-error')?.textContent || '').includes('malformed')",
    )
    .await;
    screenshot(b, "sign-in").await;
    type_into(b, "#token", &app.token).await;
    css(b, "form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    wait_path(b, "/ui/jobs").await;
    assert_eq!(css(b, "h1").await.text().await.unwrap(), "Jobs");

    // The dialog by keyboard: the menu opens with Enter, the option opens the labelled
    // dialog with the focus in its first field, Escape closes it.
    css(b, "details.menu > summary")
        .await
        .send_keys(&Key::Enter)
        .await
        .unwrap();
    css(b, "button[data-mode=source]")
        .await
        .send_keys(&Key::Enter)
        .await
        .unwrap();
    wait_js(b, "the dialog open, focus on the source", WAIT,
        "const d = document.getElementById('new-job'); return d.open && document.activeElement.id === 'origin' \
         && document.getElementById(d.getAttribute('aria-labelledby')).textContent.includes('New job')").await;
    b.active_element()
        .await
        .unwrap()
        .send_keys(&Key::Escape)
        .await
        .unwrap();
    wait_js(
        b,
        "Escape closes the dialog",
        WAIT,
        "return !document.getElementById('new-job').open",
    )
    .await;

    // Through the steps with the mouse.
    css(b, "details.menu > summary")
        .await
        .click()
        .await
        .unwrap();
    css(b, "button[data-mode=source]")
        .await
        .click()
        .await
        .unwrap();
    type_into(b, "#origin", &file_uri(&clip_5s())).await;
    css(b, "[data-next]").await.click().await.unwrap();
    css(b, "[data-list=outputs] select")
        .await
        .select_by_label("System preset: Generic 360p")
        .await
        .unwrap();
    type_into(b, "[data-list=outputs] input[name=filename]", "web.mp4").await;
    screenshot(b, "new-job-dialog").await;
    css(b, "[data-next]").await.click().await.unwrap();
    css(b, "button[data-add=thumbnails]")
        .await
        .click()
        .await
        .unwrap();
    // A file name no image format has: refused by the service, shown at the field.
    type_into(
        b,
        "[data-list=thumbnails] input[name=filename]",
        "poster.gif",
    )
    .await;
    type_into(b, "[data-list=thumbnails] input[name=time_seconds]", "1").await;
    type_into(b, "[data-list=thumbnails] input[name=width]", "160").await;
    for _ in 0..3 {
        css(b, "[data-next]").await.click().await.unwrap();
    }
    let priority = css(b, "#priority").await;
    assert!(
        !priority.is_enabled().await.unwrap(),
        "no priority entitlement: disabled"
    );
    let note = css(b, "#priority-note").await.text().await.unwrap();
    assert!(note.contains("entitlement"), "{note}");
    css(b, "[data-submit]").await.click().await.unwrap();
    let slot = "[data-field='order.thumbnails[0].filename'] > .field-error";
    wait_js(
        b,
        "the error at the thumbnail's file name",
        WAIT,
        &format!("return (document.querySelector(\"{slot}\")?.textContent || '').includes('.jpg')"),
    )
    .await;
    wait_js(
        b,
        "the dialog back on the thumbnails step",
        WAIT,
        "return !document.querySelector('fieldset[data-step=\"3\"]').hidden",
    )
    .await;
    let invalid = css(b, "[data-list=thumbnails] input[name=filename]").await;
    assert_eq!(
        invalid.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    screenshot(b, "new-job-error").await;
    type_into(
        b,
        "[data-list=thumbnails] input[name=filename]",
        "poster.jpg",
    )
    .await;

    // Record every percent and detail line the new job's row shows, and mark the page: a
    // reload loses the mark.
    js(b, "window.__notReloaded = true; window.__percents = []; window.__details = [];
        new MutationObserver((records) => { for (const r of records) for (const n of r.addedNodes) {
          if (n.nodeType !== 3) continue;
          if (n.parentElement?.matches('[data-percent]')) window.__percents.push(n.data);
          if (n.parentElement?.matches('[data-detail]')) window.__details.push(n.data); } })
          .observe(document.getElementById('jobs'), { subtree: true, childList: true }); return true;").await;
    css(b, "[data-submit]").await.click().await.unwrap();
    wait_js(
        b,
        "the dialog closes",
        WAIT,
        "return !document.getElementById('new-job').open",
    )
    .await;
    let row = css(b, "#jobs tbody tr[data-job-id]").await;
    let job_id = row.attr("data-job-id").await.unwrap().expect("a job id");
    wait_js(
        b,
        "the job SUCCEEDED in the list",
        JOB_WAIT,
        &format!("return document.getElementById('job-{job_id}').dataset.state === 'SUCCEEDED'"),
    )
    .await;
    assert_eq!(
        js(b, "return window.__notReloaded === true").await,
        Value::Bool(true)
    );
    let seen = js(b, "return window.__percents").await;
    let percents: Vec<f64> = seen
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str()?.trim_end_matches('%').parse().ok())
        .collect();
    assert!(
        percents.iter().any(|p| *p > 0.0 && *p < 100.0),
        "the bar moved through: {percents:?}"
    );
    assert_eq!(percents.last(), Some(&100.0), "{percents:?}");
    assert!(
        percents.windows(2).all(|w| w[0] <= w[1]),
        "never backwards: {percents:?}"
    );
    // Phase, frames per second, speed and ETA, as the transcoding ticks gave them.
    let details = js(b, "return window.__details").await;
    let details: Vec<&str> = details
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        details.iter().any(|d| d.starts_with("transcoding")
            && d.contains(" fps")
            && d.contains('×')
            && d.contains("ETA ")),
        "{details:?}"
    );
    assert_eq!(app.get(&job_id).await.state, pb::JobState::Succeeded as i32);
    screenshot(b, "jobs").await;
    job_id
}

async fn job_detail(app: &common::TestApp, b: &Browser, job_id: &str) {
    css(b, &format!("#job-{job_id} a"))
        .await
        .click()
        .await
        .unwrap();
    wait_path(b, &format!("/ui/jobs/{job_id}")).await;
    wait_js(b, "the thumbnail loaded", WAIT,
        "const i = document.querySelector('.thumbs img'); return !!i && i.complete && i.naturalWidth > 0").await;
    let width = js(
        b,
        "return document.querySelector('.thumbs img').naturalWidth",
    )
    .await;
    let expected = app.get(job_id).await.thumbnails[0].width;
    assert_eq!(width.as_u64(), Some(u64::from(expected)));
    assert_eq!(expected, 160);
    let timeline = css(b, "#timeline").await.text().await.unwrap();
    assert!(timeline.contains("finished SUCCEEDED"), "{timeline}");
    let outputs = css(b, "article.output").await.text().await.unwrap();
    assert!(
        outputs.contains("web.mp4") && outputs.contains("Billed"),
        "{outputs}"
    );
    screenshot(b, "job-detail").await;
}

async fn profiles(app: &common::TestApp, b: &Browser, base: &str) {
    let mut client = app.client.clone();
    let created = create_profile(&mut client, h264_profile("Dashboard 480p", 854, 480))
        .await
        .unwrap();
    assert!(!created.restrict_bitrate);
    b.goto(&format!("{base}/ui/profiles")).await.unwrap();
    css(b, &format!("a[href='/ui/profiles/{}']", created.id))
        .await
        .click()
        .await
        .unwrap();
    let restrict = css(b, "#restrict_bitrate").await;
    assert!(!restrict.is_selected().await.unwrap());
    restrict.click().await.unwrap();
    type_into(b, "#video_bitrate_kbps", "10").await;
    css(b, ".profile-form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    wait_js(b, "the bitrate's error at its field", WAIT,
        "return (document.getElementById('video_bitrate_kbps-error')?.textContent || '').includes('between')").await;
    let input = css(b, "#video_bitrate_kbps").await;
    assert_eq!(
        input.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    assert!(
        css(b, "#restrict_bitrate")
            .await
            .is_selected()
            .await
            .unwrap(),
        "the form keeps what was typed"
    );
    screenshot(b, "profile-edit").await;
    type_into(b, "#video_bitrate_kbps", "900").await;
    css(b, ".profile-form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    wait_path(b, "/ui/profiles").await;
    let shown = css(
        b,
        &format!("tr[data-profile-id='{}'] [data-restrict]", created.id),
    )
    .await;
    assert_eq!(shown.text().await.unwrap(), "yes");
    let saved = client
        .get_profile(pb::GetProfileRequest {
            company_id: String::new(),
            profile_id: created.id,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(saved.restrict_bitrate, "GetProfile sees the change");
    assert_eq!(saved.video.unwrap().bitrate_kbps, 900);
    screenshot(b, "profiles").await;
}

async fn usage(b: &Browser, base: &str) {
    b.goto(&format!("{base}/ui/usage")).await.unwrap();
    css(b, "svg rect.bar").await;
    let tallest = js(b, "return Math.max(...[...document.querySelectorAll('svg rect.bar')].map(r => Number(r.getAttribute('height'))))").await;
    assert!(tallest.as_f64().unwrap() > 0.0, "today's bar: {tallest}");
    let minutes: u64 = css(b, ".totals strong")
        .await
        .text()
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(minutes >= 1, "the job's minute is billed");
    screenshot(b, "usage").await;
}

async fn narrow_screen_and_sign_out(b: &Browser, base: &str) {
    b.set_window_size(390, 844).await.unwrap();
    b.goto(&format!("{base}/ui/jobs")).await.unwrap();
    css(b, "#jobs tbody tr").await;
    let fits = js(
        b,
        "return document.documentElement.scrollWidth <= window.innerWidth + 1",
    )
    .await;
    assert_eq!(fits, Value::Bool(true), "no sideways scrolling on a phone");
    screenshot(b, "jobs-narrow").await;
    b.set_window_size(1280, 1000).await.unwrap();
    css(b, "form.sign-out button").await.click().await.unwrap();
    wait_path(b, "/ui/sign-in").await;
    b.goto(&format!("{base}/ui/jobs")).await.unwrap();
    wait_path(b, "/ui/sign-in").await;
}
