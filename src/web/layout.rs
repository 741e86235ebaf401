//! The page shell (head, navigation, sign-out) and small rendering helpers shared by the
//! screens.

use super::session::SignedIn;
use crate::domain::JobState;
use crate::error::{Error, FieldViolation};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

/// The screens the navigation names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Jobs,
    Profiles,
    Usage,
}

fn head(title: &str, csrf: Option<&str>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            @if let Some(csrf) = csrf { meta name="csrf-token" content=(csrf); }
            title { (title) " · transcoder" }
            link rel="stylesheet" href=(super::asset_path("app.css"));
            script src=(super::asset_path("app.js")) defer {}
        }
    }
}

/// A signed-in page: navigation, the company, sign-out, then `body`.
pub fn page(title: &str, signed_in: &SignedIn, active: Nav, body: Markup) -> Html<String> {
    let link = |nav: Nav, href: &str, label: &str| {
        html! {
            a href=(href) aria-current=[(nav == active).then_some("page")] { (label) }
        }
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, Some(&signed_in.csrf)))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "transcoder" }
                    nav aria-label="Main" {
                        (link(Nav::Jobs, "/ui/jobs", "Jobs"))
                        (link(Nav::Profiles, "/ui/profiles", "Profiles"))
                        (link(Nav::Usage, "/ui/usage", "Usage"))
                    }
                    span.company title="Signed in company" { (signed_in.caller.company) }
                    form.sign-out method="post" action="/ui/sign-out" {
                        input type="hidden" name="_csrf" value=(signed_in.csrf);
                        button.link type="submit" { "Sign out" }
                    }
                }
                main #main tabindex="-1" { (body) }
            }
        }
    };
    Html(page.into_string())
}

/// A page without navigation (sign-in, errors before a session exists).
pub fn bare_page(title: &str, body: Markup) -> Html<String> {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body { main #main { (body) } }
        }
    };
    Html(page.into_string())
}

/// An error as a page, with the status of its code.
pub fn error_response(error: Error) -> Response {
    let status =
        StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = html! {
        section.card.narrow role="alert" {
            h1 { "Something went wrong" }
            p { code.code { (error.code) } " " (error.message) }
            @for field in &error.fields { p { code { (field.field) } ": " (field.description) } }
            p { a href="/ui/jobs" { "Back to the jobs" } }
        }
    };
    (status, bare_page("Error", body)).into_response()
}

/// A state as a coloured badge (the text says it; colour is only a hint).
pub fn state_badge(state: JobState) -> Markup {
    let name = state.as_str();
    html! { span class={ "badge state-" (name.to_ascii_lowercase()) } data-state=(name) { (name) } }
}

pub fn time(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S UTC")) } }
}

pub fn opt_time(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => time(at),
        None => html! { "–" },
    }
}

/// Field violations by field name, for forms to show next to their inputs.
#[derive(Default)]
pub struct FieldErrors(pub Vec<FieldViolation>);

impl FieldErrors {
    /// The descriptions of `field`, joined.
    pub fn get(&self, field: &str) -> Option<String> {
        let found: Vec<&str> = self
            .0
            .iter()
            .filter(|v| v.field == field)
            .map(|v| v.description.as_str())
            .collect();
        (!found.is_empty()).then(|| found.join("; "))
    }

    /// Violations whose field is none of `shown` (for a summary at the top).
    pub fn others<'a>(&'a self, shown: &'a [&str]) -> impl Iterator<Item = &'a FieldViolation> {
        self.0.iter().filter(|v| !shown.contains(&v.field.as_str()))
    }
}
