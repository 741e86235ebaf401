//! A job's page: its timeline, outputs (metadata, URLs, billing), thumbnails as images,
//! its error with the code, and a cancel button while it can still be canceled.

use super::WebState;
use super::jobs::progress;
use super::layout::{self, Nav};
use super::live::describe;
use super::session::{CsrfForm, SignedIn};
use crate::domain::order::Location;
use crate::domain::{Job, JobEvent, MediaInfo, OutputResult, ThumbnailResult};
use crate::error::{Error, ErrorCode};
use crate::service::MAX_HISTORY_EVENTS;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

/// The largest thumbnail the dashboard serves.
const MAX_THUMBNAIL_BYTES: u64 = 32 * 1024 * 1024;

/// `GET /ui/jobs/{job_id}`.
pub async fn show(
    State(state): State<WebState>,
    signed_in: SignedIn,
    Path(job_id): Path<String>,
) -> Response {
    let caller = &signed_in.caller;
    let job = match state.service.get_job(caller, &job_id).await {
        Ok(job) => job,
        Err(e) => return layout::error_response(e),
    };
    let events = match (state.service)
        .job_events(caller, &job_id, 0, MAX_HISTORY_EVENTS)
        .await
    {
        Ok(events) => events,
        Err(e) => return layout::error_response(e),
    };
    let id = job.id.to_string();
    let live = !job.state.is_terminal();
    let last = events.last().map_or(0, |e| e.sequence);
    let body = html! {
        div.toolbar {
            h1 { "Job " code { (id) } }
            @if live {
                form method="post" action={ "/ui/jobs/" (id) "/cancel" } {
                    input type="hidden" name="_csrf" value=(signed_in.csrf);
                    button.danger type="submit" { "Cancel job" }
                }
            }
        }
        section.card #job data-job-id=(id) data-state=(job.state.as_str())
            data-sequence=[live.then_some(last)] data-reload-on-end {
            dl.facts {
                dt { "State" } dd data-state-cell { (layout::state_badge(job.state)) }
                dt { "Progress" } dd { (progress(&job)) }
                dt { "Source" } dd { code.wrap { (job.order.origin) } }
                dt { "Priority" } dd { (job.order.priority.get()) }
                dt { "Attempts" } dd { (job.attempts) }
                dt { "Created" } dd { (layout::time(job.created_at)) }
                dt { "Finished" } dd { (layout::opt_time(job.finished_at)) }
            }
            @if let Some(e) = &job.error {
                div.error-box role="alert" {
                    p { code.code { (e.code) } " " (e.message) }
                    @for f in &e.fields { p { code { (f.field) } ": " (f.description) } }
                }
            }
        }
        @if !job.thumbnails.is_empty() {
            section.card {
                h2 { "Thumbnails" }
                div.thumbs {
                    @for (i, t) in job.thumbnails.iter().enumerate() { (thumbnail_figure(&job, i, t)) }
                }
            }
        }
        section.card {
            h2 { "Outputs" }
            @for output in &job.outputs { (output_card(&job, output)) }
            @if let Some(b) = &job.billing {
                p.totals { "Billed in total: " strong { (b.total_minutes) " min, " (b.total_cost) " " (b.currency) } }
            }
        }
        section.card {
            h2 { "Timeline" }
            ol #timeline .timeline {
                @for event in &events { (timeline_entry(event)) }
            }
        }
    };
    layout::page("Job", &signed_in, Nav::Jobs, body).into_response()
}

fn timeline_entry(event: &JobEvent) -> Markup {
    match describe(&event.kind) {
        Some(text) => html! { li { (layout::time(event.time)) " " (text) } },
        None => html! {},
    }
}

fn media_facts(media: &MediaInfo) -> Markup {
    html! {
        dt { "Container" } dd { (media.container) " (" (media.mime_type) ")" }
        dt { "Duration" } dd { (format!("{:.2} s", media.duration_seconds)) }
        dt { "Size" } dd { (media.size_bytes) " bytes" }
        dt { "Bitrate" } dd { (media.bitrate_bps / 1000) " kb/s" }
        @if let Some(v) = &media.video {
            dt { "Video" } dd { (v.codec) " " (v.width) "×" (v.height) " @ " (format!("{:.2}", v.frame_rate)) " fps" }
        }
        @if let Some(a) = &media.audio {
            dt { "Audio" } dd { (a.codec) " " (a.channels) " ch " (a.sample_rate) " Hz" }
        }
    }
}

fn output_card(job: &Job, output: &OutputResult) -> Markup {
    let lines: Vec<_> = job
        .billing
        .iter()
        .flat_map(|b| b.lines.iter().map(move |l| (l, &b.currency)))
        .filter(|(l, _)| {
            l.output_label == output.label
                || l.output_label.starts_with(&format!("{}/", output.label))
        })
        .collect();
    html! {
        article.output {
            h3 { (output.label) " " small { (format!("{:?}", output.state)) } }
            dl.facts {
                dt { "File" } dd { (output.filename) " (" (output.kind.as_str()) ")" }
                dt { "Profile" } dd {
                    @match job.order.outputs.iter().find(|o| o.label == output.label) {
                        Some(spec) => { (spec.profile.description) " (" (output.profile_id.0) ")" }
                        None => { (output.profile_id.0) }
                    }
                }
                @if let Some(media) = &output.media { (media_facts(media)) }
                @for url in &output.urls { dt { "URL" } dd { code.wrap { (url) } } }
                @for (line, currency) in &lines {
                    dt { "Billed" }
                    dd { (line.billable_minutes) " min · " (line.cost) " " (currency) }
                }
            }
        }
    }
}

/// The first `file://` URL's path, if it lies in one of the job's file destinations.
fn local_file(job: &Job, urls: &[String]) -> Option<std::path::PathBuf> {
    let dirs: Vec<_> = (job.order.destinations.iter())
        .filter_map(|d| match &d.location {
            Location::File { path } => Some(path.clone()),
            _ => None,
        })
        .collect();
    urls.iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .filter(|u| u.scheme() == "file")
        .filter_map(|u| u.to_file_path().ok())
        .find(|p| {
            !p.components().any(|c| c == std::path::Component::ParentDir)
                && dirs.iter().any(|d| p.starts_with(d))
        })
}

fn thumbnail_figure(job: &Job, index: usize, t: &ThumbnailResult) -> Markup {
    let shown = local_file(job, &t.urls).is_some();
    html! {
        figure.thumb {
            @if shown {
                img src={ "/ui/jobs/" (job.id) "/thumbnails/" (index) } width=[(t.width > 0).then_some(t.width)]
                    height=[(t.height > 0).then_some(t.height)]
                    alt={ "Thumbnail " (t.label) " at " (format!("{:.1}", t.time_seconds)) " s" };
            }
            figcaption {
                (t.filename) " · " (format!("{:?}", t.state))
                @if t.width > 0 { " · " (t.width) "×" (t.height) }
                @for url in &t.urls { br; code.wrap { (url) } }
            }
        }
    }
}

/// `GET /ui/jobs/{job_id}/thumbnails/{index}`: the image, from the job's own file
/// destination, for the caller's company only.
pub async fn thumbnail(
    State(state): State<WebState>,
    signed_in: SignedIn,
    Path((job_id, index)): Path<(String, usize)>,
) -> Response {
    let job = match state.service.get_job(&signed_in.caller, &job_id).await {
        Ok(job) => job,
        Err(e) => return layout::error_response(e),
    };
    let not_found = || layout::error_response(Error::not_found("no such thumbnail"));
    let Some(t) = job.thumbnails.get(index) else {
        return not_found();
    };
    let Some(path) = local_file(&job, &t.urls) else {
        return not_found();
    };
    let read = async {
        let meta = tokio::fs::metadata(&path).await?;
        if meta.len() > MAX_THUMBNAIL_BYTES {
            return Err(std::io::Error::other("thumbnail too large to serve"));
        }
        tokio::fs::read(&path).await
    };
    match read.await {
        Ok(bytes) => {
            let mime = match t.format().map(|f| f.as_str()) {
                Some("png") => "image/png",
                Some("webp") => "image/webp",
                _ => "image/jpeg",
            };
            (
                [
                    (header::CONTENT_TYPE, mime),
                    (header::CACHE_CONTROL, "private, max-age=60"),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => not_found(),
        Err(e) => layout::error_response(Error::new(
            ErrorCode::Unavailable,
            format!("reading the thumbnail: {e}"),
        )),
    }
}

/// `POST /ui/jobs/{job_id}/cancel`.
pub async fn cancel(
    State(state): State<WebState>,
    signed_in: SignedIn,
    Path(job_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(e) = signed_in.check_csrf(&form.csrf) {
        return layout::error_response(e);
    }
    match state.service.cancel_job(&signed_in.caller, &job_id).await {
        Ok(job) => Redirect::to(&format!("/ui/jobs/{}", job.id)).into_response(),
        Err(e) => layout::error_response(e),
    }
}
