//! Profiles: the system presets (read-only) and the company's own, which can be created,
//! edited (restrict bitrate included) and deleted. Plain HTML forms: a refused save
//! shows the form again, as typed, with each error next to its field.

use super::WebState;
use super::layout::{self, FieldErrors, Nav};
use super::profile_form;
use super::profile_values::{self, Values};
use super::session::{CsrfForm, SignedIn};
use crate::domain::{Profile, ProfileId};
use crate::error::{Error, ErrorCode};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

/// `GET /ui/profiles`.
pub async fn list(State(state): State<WebState>, signed_in: SignedIn) -> Response {
    let profiles = match state.service.list_profiles(&signed_in.caller).await {
        Ok(profiles) => profiles,
        Err(e) => return layout::error_response(e),
    };
    let (system, own): (Vec<&Profile>, Vec<&Profile>) =
        profiles.iter().partition(|p| p.is_system());
    let table = |profiles: &[&Profile], caption: &str, editable: bool| {
        html! {
            table.profiles {
                caption { (caption) }
                thead { tr {
                    th scope="col" { "Description" }
                    th scope="col" { "Container" }
                    th scope="col" { "Video" }
                    th scope="col" { "Audio" }
                    th scope="col" { "Restrict bitrate" }
                    th scope="col" { span.visually-hidden { "Actions" } }
                } }
                tbody {
                    @for p in profiles {
                        tr data-profile-id=(p.id.0) {
                            td data-label="Description" { (p.description) }
                            td data-label="Container" { (p.container.as_str()) }
                            td data-label="Video" {
                                @if let Some(v) = &p.video { (v.codec.as_str()) " " (v.width) "×" (v.height) " " (v.bitrate_kbps) " kb/s" } @else { "–" }
                            }
                            td data-label="Audio" {
                                @if let Some(a) = &p.audio { (a.codec.as_str()) " " (a.bitrate_kbps) " kb/s" } @else { "–" }
                            }
                            td data-label="Restrict bitrate" data-restrict { @if p.restrict_bitrate { "yes" } @else { "no" } }
                            td {
                                a href={ "/ui/profiles/" (p.id.0) } aria-label={ (if editable { "Edit " } else { "View " }) (p.description) } {
                                    @if editable { "Edit" } @else { "View" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        div.toolbar {
            h1 { "Profiles" }
            a.button.primary href="/ui/profiles/new" { "New profile" }
        }
        @if own.is_empty() { p.empty { "Your company has no profiles of its own yet." } }
        @else { (table(&own, "My profiles", true)) }
        (table(&system, "System presets (read-only)", false))
    };
    layout::page("Profiles", &signed_in, Nav::Profiles, body).into_response()
}

/// The form page: new (`id` None) or one profile, with errors when a save was refused.
fn form_page(
    signed_in: &SignedIn,
    profile: Option<&Profile>,
    values: &Values,
    errors: &FieldErrors,
) -> axum::response::Html<String> {
    let read_only = profile.is_some_and(Profile::is_system);
    let (title, action) = match profile {
        None => ("New profile".to_owned(), "/ui/profiles".to_owned()),
        Some(p) if read_only => (format!("Preset: {}", p.description), String::new()),
        Some(p) => (
            format!("Edit profile: {}", p.description),
            format!("/ui/profiles/{}", p.id.0),
        ),
    };
    let body = html! {
        h1 { (title) }
        @if read_only { p.note { "System presets are read-only. Make a profile of your own to change settings." } }
        form.profile-form method="post" action=(action) novalidate {
            input type="hidden" name="_csrf" value=(signed_in.csrf);
            (profile_form::fields(values, errors, read_only))
            @if !read_only {
                div.actions {
                    button.primary type="submit" { "Save profile" }
                    a href="/ui/profiles" { "Cancel" }
                }
            }
        }
        @if let Some(p) = profile.filter(|_| !read_only) {
            form.delete method="post" action={ "/ui/profiles/" (p.id.0) "/delete" } data-confirm="Delete this profile?" {
                input type="hidden" name="_csrf" value=(signed_in.csrf);
                button.danger type="submit" { "Delete profile" }
            }
        }
    };
    layout::page(&title, signed_in, Nav::Profiles, body)
}

/// `GET /ui/profiles/new`.
pub async fn new_form(signed_in: SignedIn) -> Response {
    form_page(
        &signed_in,
        None,
        &profile_values::new_values(),
        &FieldErrors::default(),
    )
    .into_response()
}

fn parse_id(raw: &str) -> Result<ProfileId, Error> {
    raw.parse()
        .map(ProfileId)
        .map_err(|_| Error::not_found(format!("profile {raw} not found")))
}

/// `GET /ui/profiles/{id}`: the edit form (read-only for a preset).
pub async fn edit_form(
    State(state): State<WebState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return layout::error_response(e),
    };
    match state.service.get_profile(&signed_in.caller, id).await {
        Ok(p) => form_page(
            &signed_in,
            Some(&p),
            &profile_values::values_of(&p),
            &FieldErrors::default(),
        )
        .into_response(),
        Err(e) => layout::error_response(e),
    }
}

/// A refused save: the form again, as typed, with the errors at their fields.
fn refused(
    signed_in: &SignedIn,
    profile: Option<&Profile>,
    values: &Values,
    error: Error,
) -> Response {
    if error.code != ErrorCode::InvalidArgument {
        return layout::error_response(error);
    }
    let errors = FieldErrors(error.fields);
    (
        StatusCode::BAD_REQUEST,
        form_page(signed_in, profile, values, &errors),
    )
        .into_response()
}

/// `POST /ui/profiles`: creates a profile.
pub async fn create(
    State(state): State<WebState>,
    signed_in: SignedIn,
    Form(values): Form<Values>,
) -> Response {
    if let Err(e) = signed_in.check_csrf(values.get("_csrf").map_or("", String::as_str)) {
        return layout::error_response(e);
    }
    let draft = match profile_values::draft(&values) {
        Ok(draft) => draft,
        Err(fields) => return refused(&signed_in, None, &values, Error::invalid_fields(fields)),
    };
    match state.service.create_profile(&signed_in.caller, draft).await {
        Ok(_) => Redirect::to("/ui/profiles").into_response(),
        Err(e) => refused(&signed_in, None, &values, e),
    }
}

/// `POST /ui/profiles/{id}`: replaces one of the company's profiles.
pub async fn update(
    State(state): State<WebState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Form(values): Form<Values>,
) -> Response {
    if let Err(e) = signed_in.check_csrf(values.get("_csrf").map_or("", String::as_str)) {
        return layout::error_response(e);
    }
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return layout::error_response(e),
    };
    let current = match state.service.get_profile(&signed_in.caller, id).await {
        Ok(p) => p,
        Err(e) => return layout::error_response(e),
    };
    let draft = match profile_values::draft(&values) {
        Ok(draft) => draft,
        Err(fields) => {
            return refused(
                &signed_in,
                Some(&current),
                &values,
                Error::invalid_fields(fields),
            );
        }
    };
    match state
        .service
        .update_profile(&signed_in.caller, id, draft)
        .await
    {
        Ok(_) => Redirect::to("/ui/profiles").into_response(),
        Err(e) => refused(&signed_in, Some(&current), &values, e),
    }
}

/// `POST /ui/profiles/{id}/delete`.
pub async fn delete(
    State(state): State<WebState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(e) = signed_in.check_csrf(&form.csrf) {
        return layout::error_response(e);
    }
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return layout::error_response(e),
    };
    match state.service.delete_profile(&signed_in.caller, id).await {
        Ok(()) => Redirect::to("/ui/profiles").into_response(),
        Err(e) => layout::error_response(e),
    }
}
