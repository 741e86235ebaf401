//! The "New job" menu and dialog, and `POST /ui/jobs`, which the dialog's script calls
//! with JSON. The order goes through `Service::submit_job` exactly as gRPC's does; its
//! field violations come back by the domain's field names (`order.outputs[0].filename`),
//! which the dialog's inputs carry in `data-field`.

use super::WebState;
use super::jobs;
use super::session::SignedIn;
use crate::domain::order::{
    DestinationRequest, NotificationRequest, OutputRequest, ProfileRef, ThumbnailRequest,
};
use crate::domain::{Caller, OrderRequest, Priority, Profile};
use crate::error::Error;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

/// Entries of any one list the form reads (the order's own caps are lower).
const MAX_ENTRIES: usize = 100;

/// The dialog's order, as its script sends it.
#[derive(Deserialize)]
pub struct JobForm {
    #[serde(default)]
    origin: String,
    #[serde(default)]
    priority: Option<i32>,
    #[serde(default)]
    outputs: Vec<OutputForm>,
    #[serde(default)]
    thumbnails: Vec<ThumbnailForm>,
    #[serde(default)]
    destinations: Vec<String>,
    #[serde(default)]
    notifications: Vec<NotificationForm>,
    #[serde(default)]
    idempotency_key: String,
}

#[derive(Deserialize)]
struct OutputForm {
    #[serde(default)]
    profile_id: String,
    #[serde(default)]
    filename: String,
    #[serde(default)]
    label: String,
}

#[derive(Deserialize)]
struct ThumbnailForm {
    #[serde(default)]
    filename: String,
    #[serde(default)]
    time_seconds: Option<f64>,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
}

#[derive(Deserialize)]
struct NotificationForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
}

impl JobForm {
    fn into_order(self) -> Result<OrderRequest, Error> {
        for (name, len) in [
            ("order.outputs", self.outputs.len()),
            ("order.thumbnails", self.thumbnails.len()),
            ("order.destinations", self.destinations.len()),
            ("order.notifications", self.notifications.len()),
        ] {
            if len > MAX_ENTRIES {
                return Err(Error::invalid_argument(
                    name,
                    format!("at most {MAX_ENTRIES} entries are read"),
                ));
            }
        }
        let outputs = self.outputs.into_iter().map(|o| OutputRequest {
            label: o.label,
            filename: o.filename,
            profile: match o.profile_id.trim().parse() {
                Ok(id) => ProfileRef::Id(id),
                Err(_) => ProfileRef::Missing,
            },
            reference: String::new(),
        });
        let thumbnails = self.thumbnails.into_iter().map(|t| ThumbnailRequest {
            filename: t.filename,
            width: t.width.unwrap_or(0),
            height: t.height.unwrap_or(0),
            time_seconds: t.time_seconds.unwrap_or(0.0),
            ..ThumbnailRequest::default()
        });
        let notifications = self
            .notifications
            .into_iter()
            .map(|n| match n.kind.as_str() {
                _ if n.value.trim().is_empty() => NotificationRequest::Empty,
                "email" => NotificationRequest::Email(n.value),
                _ => NotificationRequest::Webhook(n.value),
            });
        Ok(OrderRequest {
            priority: self.priority,
            origin: self.origin,
            outputs: outputs.collect(),
            thumbnails: thumbnails.collect(),
            destinations: (self.destinations.into_iter())
                .map(|uri| DestinationRequest {
                    uri,
                    ..DestinationRequest::default()
                })
                .collect(),
            notifications: notifications.collect(),
            storyboards: Vec::new(),
        })
    }
}

fn error_json(error: Error) -> Response {
    let status =
        StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(serde_json::json!({ "error": error }))).into_response()
}

/// `POST /ui/jobs`: submits the dialog's order; 201 with the new job's row, or the error
/// with its field violations.
pub async fn submit(
    State(state): State<WebState>,
    signed_in: SignedIn,
    headers: HeaderMap,
    Json(form): Json<JobForm>,
) -> Response {
    if let Err(e) = signed_in.check_csrf_header(&headers) {
        return error_json(e);
    }
    let key = form.idempotency_key.clone();
    let order = match form.into_order() {
        Ok(order) => order,
        Err(e) => return error_json(e),
    };
    match state
        .service
        .submit_job(&signed_in.caller, order, &key)
        .await
    {
        Ok(job) => (
            StatusCode::CREATED,
            Json(serde_json::json!({
                "job_id": job.id.to_string(),
                "row": jobs::row(&job).into_string(),
            })),
        )
            .into_response(),
        Err(e) => error_json(e),
    }
}

/// The button at the top of the list, with its options.
pub fn menu() -> Markup {
    html! {
        details.menu {
            summary.button.primary { "New job" }
            div.menu-items {
                button type="button" data-open-dialog="new-job" data-mode="source" { "From a URL or S3 source…" }
                button type="button" data-open-dialog="new-job" data-mode="preset" { "From a system preset…" }
                button type="button" data-open-dialog="new-job" data-mode="profile" { "From one of my profiles…" }
            }
        }
    }
}

/// A labelled input in a `data-field` wrapper with its error slot. `name` is the key the
/// script sends; `field` the domain's name for it (rows renumber theirs).
fn field(id: &str, name: &str, label: &str, input: Markup, help: Option<&str>) -> Markup {
    html! {
        div.field data-name=(name) {
            label for=(id) { (label) }
            (input)
            @if let Some(help) = help { p.help id={ (id) "-help" } { (help) } }
            p.field-error role="alert" {}
        }
    }
}

const STEPS: [&str; 6] = [
    "Source",
    "Outputs",
    "Thumbnails",
    "Destinations",
    "Notifications",
    "Priority",
];

fn profile_options(profiles: &[Profile]) -> Markup {
    let (system, own): (Vec<&Profile>, Vec<&Profile>) =
        profiles.iter().partition(|p| p.is_system());
    html! {
        option value="" { "Choose a profile" }
        optgroup label="System presets" data-group="preset" {
            @for p in &system { option value=(p.id.0) { (p.description) } }
        }
        optgroup label="My profiles" data-group="profile" {
            @for p in &own { option value=(p.id.0) { (p.description) } }
        }
    }
}

/// A row template: the script clones it into its list, numbering ids (`__i__`).
fn template(list: &str, inner: Markup) -> Markup {
    html! {
        template id={ "tpl-" (list) } {
            div.row data-row {
                (inner)
                button.link.remove type="button" data-remove { "Remove" }
                p.field-error role="alert" {}
            }
        }
    }
}

fn list(list: &str, step_help: &str, add_label: &str, inner: Markup) -> Markup {
    html! {
        p.help { (step_help) }
        div.rows data-list=(list) data-field={ "order." (list) } {
            p.field-error role="alert" {}
        }
        button type="button" data-add=(list) { (add_label) }
        (template(list, inner))
    }
}

/// The dialog that walks through a new order, step by step.
pub fn dialog(caller: &Caller, profiles: &[Profile]) -> Markup {
    let entitled = caller.entitlements.priority_transcoding;
    let text = |name: &str, label: &str, placeholder: &str, help: Option<&str>| {
        let id = format!("{name}-__i__");
        field(
            &id,
            name,
            label,
            html! {
                input id=(id) name=(name) type="text" placeholder=(placeholder);
            },
            help,
        )
    };
    let number = |name: &str, label: &str, min: &str| {
        let id = format!("{name}-__i__");
        field(
            &id,
            name,
            label,
            html! {
                input id=(id) name=(name) type="number" min=(min) step="any" inputmode="decimal";
            },
            None,
        )
    };
    html! {
        dialog #new-job .dialog aria-labelledby="new-job-title" aria-describedby="new-job-step" {
            form #new-job-form novalidate data-steps=(STEPS.len()) {
                header.dialog-head {
                    h2 #new-job-title { "New job" }
                    button.link.close type="button" data-close aria-label="Close" { "✕" }
                }
                ol.steps aria-label="Steps" {
                    @for (i, name) in STEPS.iter().enumerate() { li data-step-marker=(i + 1) { (name) } }
                }
                p #new-job-step .step-label aria-live="polite" {}
                p.form-error role="alert" data-form-error {}
                fieldset data-step="1" {
                    legend { "Source" }
                    div.field data-field="order.origin" {
                        label for="origin" { "Source URL" }
                        input #origin name="origin" type="text" required aria-describedby="origin-help"
                            placeholder="https://example.com/video.mp4 or s3://bucket/key";
                        p #origin-help .help { "An http(s) URL, an s3:// object, or a file:// path the server allows." }
                        p.field-error role="alert" {}
                    }
                }
                fieldset data-step="2" hidden {
                    legend { "Outputs" }
                    (list("outputs", "Each output is one profile or preset written to a file name.", "Add output", html! {
                        @let id = "profile_id-__i__";
                        (field(id, "profile_id", "Profile or preset", html! {
                            select id=(id) name="profile_id" { (profile_options(profiles)) }
                        }, None))
                        (text("filename", "File name", "output.mp4", None))
                        (text("label", "Label (optional)", "", None))
                    }))
                }
                fieldset data-step="3" hidden {
                    legend { "Thumbnails" }
                    (list("thumbnails", "Still frames as JPEG, PNG or WebP (by the file name). Optional.", "Add thumbnail", html! {
                        (text("filename", "File name", "thumb.jpg", None))
                        (number("time_seconds", "At second", "0"))
                        (number("width", "Width (0: the source's)", "0"))
                        (number("height", "Height (0: the source's)", "0"))
                    }))
                }
                fieldset data-step="4" hidden {
                    legend { "Destinations" }
                    (list("destinations", "Where every file goes: s3://bucket/prefix/ or an allowed file:/// directory. None: the server's own output directory.", "Add destination", html! {
                        @let id = "uri-__i__";
                        div.field data-name="uri" {
                            label for=(id) { "Destination URI" }
                            input id=(id) name="uri" type="text" placeholder="s3://bucket/prefix/";
                            p.field-error role="alert" {}
                        }
                    }))
                }
                fieldset data-step="5" hidden {
                    legend { "Notifications" }
                    (list("notifications", "Who hears when the job ends. Optional.", "Add notification", html! {
                        @let kind = "kind-__i__";
                        div.field {
                            label for=(kind) { "By" }
                            select id=(kind) name="kind" {
                                option value="webhook" { "Webhook" }
                                option value="email" { "Email" }
                            }
                        }
                        @let id = "value-__i__";
                        div.field data-name="value" data-alias="email webhook_url" {
                            label for=(id) { "URL or address" }
                            input id=(id) name="value" type="text";
                            p.field-error role="alert" {}
                        }
                    }))
                }
                fieldset data-step="6" hidden {
                    legend { "Priority" }
                    div.field data-field="order.priority" {
                        label for="priority" { "Priority (" (Priority::MIN) " normal … " (Priority::MAX) " most urgent)" }
                        input #priority name="priority" type="number" min=(Priority::MIN) max=(Priority::MAX)
                            value=(Priority::MIN) disabled[!entitled] aria-describedby="priority-note";
                        p #priority-note .help {
                            @if entitled { "Higher priorities are claimed first." }
                            @else { "Your company does not have the priority-transcoding entitlement: jobs run at normal priority." }
                        }
                        p.field-error role="alert" {}
                    }
                }
                footer.dialog-foot {
                    button type="button" data-back { "Back" }
                    button type="button" data-next { "Next" }
                    button.primary type="submit" data-submit { "Create job" }
                }
            }
        }
    }
}
