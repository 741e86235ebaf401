//! `GET /ui/jobs/live?jobs=ID:SEQ,...`: the events of the jobs a page shows, as one
//! server-sent-events stream (browsers allow few connections per host, so a page opens
//! one stream, not one per job). Each job's part is the service's WatchJob stream from
//! `SEQ`, so nothing is missed between the page's render and the stream's start.

use super::WebState;
use super::session::SignedIn;
use crate::domain::{EventKind, JobEvent, JobState, Phase};
use crate::error::ErrorCode;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;

/// Jobs one stream follows at most (a page of the list holds fewer).
pub const MAX_LIVE_JOBS: usize = 100;

#[derive(Deserialize)]
pub struct LiveQuery {
    #[serde(default)]
    jobs: String,
}

/// What the page needs of one event.
#[derive(Serialize)]
struct LiveEvent {
    job_id: String,
    sequence: u64,
    /// The job's state after the event, when the event says.
    state: Option<&'static str>,
    phase: Option<&'static str>,
    percent: Option<f64>,
    fps: Option<f64>,
    speed: Option<f64>,
    eta_seconds: Option<f64>,
    /// A timeline line; empty for progress ticks (they update the bar only).
    text: String,
    time: String,
    terminal: bool,
}

pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Downloading => "downloading",
        Phase::Probing => "probing",
        Phase::Transcoding => "transcoding",
        Phase::Uploading => "uploading",
        Phase::Notifying => "notifying",
    }
}

/// The timeline's line for an event; None for progress ticks.
pub fn describe(kind: &EventKind) -> Option<String> {
    Some(match kind {
        EventKind::StateChanged {
            state,
            phase,
            attempt,
        } => {
            let mut text = state.as_str().to_owned();
            if let Some(phase) = phase {
                text += &format!(" ({})", phase_name(*phase));
            }
            if *attempt > 1 {
                text += &format!(", attempt {attempt}");
            }
            text
        }
        EventKind::Progress(_) => return None,
        EventKind::OutputFinished(o) => format!("output {} {:?}", o.label, o.state),
        EventKind::ThumbnailFinished(t) => format!("thumbnail {} {:?}", t.label, t.state),
        EventKind::StoryboardFinished(s) => format!("storyboard {} {:?}", s.label, s.state),
        EventKind::JobFinished { state, error } => match error {
            Some(e) => format!("finished {}: {} {}", state.as_str(), e.code, e.message),
            None => format!("finished {}", state.as_str()),
        },
    })
}

fn view(event: &JobEvent) -> LiveEvent {
    let (state, phase, tick) = match &event.kind {
        EventKind::StateChanged { state, phase, .. } => (Some(*state), *phase, None),
        EventKind::Progress(tick) => (Some(JobState::Running), Some(tick.phase), Some(tick)),
        EventKind::JobFinished { state, .. } => (Some(*state), None, None),
        _ => (None, None, None),
    };
    LiveEvent {
        job_id: event.job_id.to_string(),
        sequence: event.sequence,
        state: state.map(JobState::as_str),
        phase: phase.map(phase_name),
        percent: tick.map(|t| t.percent),
        fps: tick.map(|t| t.fps),
        speed: tick.map(|t| t.speed),
        eta_seconds: tick.map(|t| t.eta_seconds),
        text: describe(&event.kind).unwrap_or_default(),
        time: event.time.format("%H:%M:%S").to_string(),
        terminal: event.is_terminal(),
    }
}

/// `ID:SEQ` pairs; a bare `ID` is from the start.
fn parse_jobs(raw: &str) -> Vec<(&str, u64)> {
    raw.split(',')
        .filter(|part| !part.trim().is_empty())
        .take(MAX_LIVE_JOBS)
        .map(|part| match part.split_once(':') {
            Some((id, seq)) => (id.trim(), seq.trim().parse().unwrap_or(0)),
            None => (part.trim(), 0),
        })
        .collect()
}

/// The merged stream of the named jobs' events, each as `event: job` with JSON data. It
/// ends when every job has ended (204 when none is left to follow, which tells the
/// browser not to reconnect) or the server drains.
pub async fn events(
    State(state): State<WebState>,
    signed_in: SignedIn,
    Query(query): Query<LiveQuery>,
) -> Response {
    let mut streams = Vec::new();
    for (job_id, after) in parse_jobs(&query.jobs) {
        match state
            .service
            .watch_job(&signed_in.caller, job_id, after)
            .await
        {
            Ok(stream) => streams.push(stream),
            // A job of another company, or a mangled id: nothing to follow.
            Err(e) if matches!(e.code, ErrorCode::NotFound | ErrorCode::InvalidArgument) => {}
            Err(e) => return super::layout::error_response(e),
        }
    }
    if streams.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let shutdown = state.shutdown.clone();
    let events = futures::stream::select_all(streams)
        // An error ends that job's stream (the server drains, say); the browser
        // reconnects to follow it again.
        .filter_map(|item| async move { item.ok() })
        .map(|event| {
            Ok::<_, Infallible>(
                Event::default()
                    .event("job")
                    .json_data(view(&event))
                    .unwrap_or_else(|_| Event::default().comment("unencodable event")),
            )
        })
        .take_until(shutdown.cancelled_owned());
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_lists_are_pairs_capped() {
        assert_eq!(
            parse_jobs("a:3, b ,,c:x"),
            vec![("a", 3), ("b", 0), ("c", 0)]
        );
        let many = vec!["j:1"; MAX_LIVE_JOBS + 5].join(",");
        assert_eq!(parse_jobs(&many).len(), MAX_LIVE_JOBS);
    }
}
