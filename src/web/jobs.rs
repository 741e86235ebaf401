//! The job list: newest first, filtered by state, a page at a time, with a live progress
//! bar on every job still queued or running, and the "New job" menu on top.

use super::layout::{self, Nav};
use super::live::phase_name;
use super::session::SignedIn;
use super::{WebState, new_job};
use crate::domain::{Job, JobState};
use crate::error::Error;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

/// Jobs per page.
pub const PAGE_SIZE: u32 = 20;

const STATES: [JobState; 5] = [
    JobState::Queued,
    JobState::Running,
    JobState::Succeeded,
    JobState::Failed,
    JobState::Canceled,
];

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    page_token: String,
}

/// `GET /ui/jobs`.
pub async fn list(
    State(state): State<WebState>,
    signed_in: SignedIn,
    Query(query): Query<ListQuery>,
) -> Response {
    let filter = match query.state.as_str() {
        "" => None,
        raw => match JobState::parse(raw) {
            Some(s) => Some(s),
            None => {
                return layout::error_response(Error::invalid_argument(
                    "state",
                    "must be QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELED",
                ));
            }
        },
    };
    let caller = &signed_in.caller;
    let page = state
        .service
        .list_jobs(caller, PAGE_SIZE, &query.page_token, filter)
        .await;
    let profiles = state.service.list_profiles(caller).await;
    let ((jobs, next), profiles) = match (page, profiles) {
        (Ok(page), Ok(profiles)) => (page, profiles),
        (Err(e), _) | (_, Err(e)) => return layout::error_response(e),
    };
    let first_page = query.page_token.is_empty();
    let body = html! {
        div.toolbar {
            h1 { "Jobs" }
            (new_job::menu())
        }
        form.filters method="get" action="/ui/jobs" {
            label for="state-filter" { "State" }
            select #state-filter name="state" data-autosubmit {
                option value="" selected[filter.is_none()] { "All" }
                @for s in STATES {
                    option value=(s.as_str()) selected[filter == Some(s)] { (s.as_str()) }
                }
            }
            noscript { button type="submit" { "Filter" } }
        }
        p #live-status .visually-hidden role="status" aria-live="polite" {}
        table #jobs .jobs data-live="/ui/jobs/live" data-prepend=[first_page.then_some("true")] {
            caption.visually-hidden { "Jobs, newest first" }
            thead { tr {
                th scope="col" { "Job" }
                th scope="col" { "State" }
                th scope="col" { "Progress" }
                th scope="col" { "Outputs" }
            } }
            tbody {
                @for job in &jobs { (row(job)) }
            }
        }
        @if jobs.is_empty() { p #no-jobs .empty { "No jobs yet." } }
        nav.pager aria-label="Pages" {
            @if !first_page {
                a href={ "/ui/jobs?state=" (query.state) } { "Newest" }
            }
            @if let Some(next) = next {
                a rel="next" href={ "/ui/jobs?state=" (query.state) "&page_token=" (next) } { "Older jobs" }
            }
        }
        (new_job::dialog(caller, &profiles))
    };
    layout::page("Jobs", &signed_in, Nav::Jobs, body).into_response()
}

/// The live part of a job: a progress bar and its phase, fps, speed and ETA. The script
/// finds it by `data-job-id` and follows the job from `data-sequence` (0: replayed from
/// the start, which also shows where a running job is now).
pub fn progress(job: &Job) -> Markup {
    let percent = match job.state {
        JobState::Succeeded => 100.0,
        _ => job.progress_percent,
    };
    html! {
        div.progress data-progress {
            progress value=(format!("{percent:.1}")) max="100"
                aria-label={ "Progress of job " (short_id(job)) } {}
            span.percent data-percent { (format!("{percent:.0}%")) }
            span.detail data-detail {
                @if let (JobState::Running, Some(phase)) = (job.state, job.phase) { (phase_name(phase)) }
            }
        }
    }
}

fn short_id(job: &Job) -> String {
    job.id.to_string().chars().skip(24).collect()
}

/// One job's row, as the list renders it and as a submit adds it.
pub fn row(job: &Job) -> Markup {
    let id = job.id.to_string();
    let live = !job.state.is_terminal();
    html! {
        tr id={ "job-" (id) } data-job-id=(id) data-state=(job.state.as_str())
            data-sequence=[live.then_some("0")] {
            td data-label="Job" {
                a href={ "/ui/jobs/" (id) } { code { "…" (short_id(job)) } }
                br;
                small { (layout::time(job.created_at)) }
            }
            td data-label="State" data-state-cell { (layout::state_badge(job.state)) }
            td data-label="Progress" { (progress(job)) }
            td data-label="Outputs" {
                (job.outputs.iter().map(|o| o.filename.as_str()).collect::<Vec<_>>().join(", "))
                @if let Some(e) = &job.error { br; code.code { (e.code) } }
            }
        }
    }
}
