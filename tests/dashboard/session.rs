//! The dashboard's session guards over plain HTTP (no browser).

use super::browser::WAIT;
use super::common::{self, Backend, clip_5s, file_uri};
use serde_json::{Value, json};
use transcoder::proto as pb;

/// The session's guards without a browser: no cookie, no page; the cookie's flags; a
/// state-changing request without the CSRF token or from another origin is refused;
/// another company's job is invisible (its thumbnail and its live stream); signing out
/// ends the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_need_a_cookie_a_csrf_token_and_the_same_origin() {
    use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
    let app = common::spawn_paused(Backend::Sqlite).await;
    let base = format!("http://{}", app.app().http_addr);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(WAIT)
        .build()
        .unwrap();
    let to_sign_in = |r: &reqwest::Response| {
        r.status() == 303 && r.headers()[LOCATION].to_str().unwrap() == "/ui/sign-in"
    };
    assert!(to_sign_in(
        &http.get(format!("{base}/ui/jobs")).send().await.unwrap()
    ));

    let sign_in = |origin: &str| {
        http.post(format!("{base}/ui/sign-in"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ORIGIN, origin)
            .body(format!("token={}", app.token))
    };
    let cross = sign_in("http://evil.example").send().await.unwrap();
    assert_eq!(cross.status(), 403, "login CSRF refused");
    let same = format!("http://{}", app.app().http_addr);
    let signed_in = sign_in(&same).send().await.unwrap();
    assert_eq!(signed_in.status(), 303);
    let set_cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(flag), "{set_cookie} lacks {flag}");
    }
    assert!(!set_cookie.contains("Secure"), "plain HTTP: {set_cookie}");
    assert!(
        !set_cookie.contains(&app.token),
        "the cookie is not the token"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let page = http
        .get(format!("{base}/ui/jobs"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let order = json!({"origin": file_uri(&clip_5s()), "outputs": [{"profile_id": "4", "filename": "a.mp4"}]});
    let submit = |token: &str, origin: &str| {
        http.post(format!("{base}/ui/jobs"))
            .header(COOKIE, &cookie)
            .header("x-csrf-token", token)
            .header(ORIGIN, origin)
            .json(&order)
    };
    assert_eq!(
        submit("", &same).send().await.unwrap().status(),
        403,
        "no CSRF token"
    );
    assert_eq!(
        submit(csrf, "http://evil.example")
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let created = submit(csrf, &same).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert!(
        created["row"]
            .as_str()
            .unwrap()
            .contains(created["job_id"].as_str().unwrap())
    );

    // Another company's job: not found, and nothing to follow.
    let other = app.client_of("globex").await;
    let theirs = other
        .clone()
        .submit_job(pb::SubmitJobRequest {
            company_id: "globex".into(),
            order: Some(common::order(
                &clip_5s(),
                vec![common::output("b.mp4", "System preset: Generic 360p")],
            )),
            idempotency_key: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let get = |path: String| {
        http.get(format!("{base}{path}"))
            .header(COOKIE, &cookie)
            .send()
    };
    assert_eq!(
        get(format!("/ui/jobs/{}/thumbnails/0", theirs.id))
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        get(format!("/ui/jobs/{}", theirs.id))
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        get(format!("/ui/jobs/live?jobs={}:0", theirs.id))
            .await
            .unwrap()
            .status(),
        204
    );

    let sign_out = http
        .post(format!("{base}/ui/sign-out"))
        .header(COOKIE, &cookie)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("_csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(sign_out.status(), 303);
    assert!(
        to_sign_in(&get("/ui/jobs".into()).await.unwrap()),
        "the session ended"
    );
    app.shutdown().await;
}
