//! Orders as clients send them, and the validated form the service persists.

pub use super::company::CompanyId;
use super::company::{Caller, Entitlements};
use super::profile::{Profile, ProfileCatalogue, ProfileId};
use crate::error::{Error, ErrorCode, FieldViolation};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::PathBuf;
use url::Url;

mod caps;
mod destinations;
mod location;
mod storyboard;
mod thumbnail;

pub use caps::{MAX_EMAIL_CHARS, MAX_LABEL_CHARS, MAX_URI_CHARS};
pub use destinations::{S3_CANNED_ACLS, S3_STORAGE_CLASSES};
use destinations::{check_location_allowed, validate_destinations};
pub use location::{Location, LocationError, is_under_roots};
pub use storyboard::{MAX_STORYBOARDS, StoryboardRequest, StoryboardSpec};
use thumbnail::validate_thumbnails;
pub use thumbnail::{
    ImageFormat, MAX_THUMBNAILS, THUMBNAIL_MAX_SIDE, THUMBNAIL_MIN_SIDE, ThumbnailRequest,
    ThumbnailSpec,
};

/// Job priority, 5 (normal) to 10 (most urgent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Priority(i32);

/// A priority outside [`Priority::MIN`]..=[`Priority::MAX`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriorityError {
    #[error("must be between {min} and {max}, got {0}", min = Priority::MIN, max = Priority::MAX)]
    OutOfRange(i32),
}

impl PriorityError {
    /// A stable code for the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::OutOfRange(_) => "PRIORITY_OUT_OF_RANGE",
        }
    }
}

impl Priority {
    pub const MIN: i32 = 5;
    pub const MAX: i32 = 10;
    pub const NORMAL: Priority = Priority(5);

    pub fn parse(value: i32) -> Result<Self, PriorityError> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(PriorityError::OutOfRange(value))
        }
    }
    pub fn get(self) -> i32 {
        self.0
    }
}

/// An order as a client sends it, before validation.
#[derive(Debug, Clone, Default)]
pub struct OrderRequest {
    pub priority: Option<i32>,
    pub origin: String,
    pub notifications: Vec<NotificationRequest>,
    pub destinations: Vec<DestinationRequest>,
    pub outputs: Vec<OutputRequest>,
    pub thumbnails: Vec<ThumbnailRequest>,
    pub storyboards: Vec<StoryboardRequest>,
}

#[derive(Debug, Clone)]
pub enum NotificationRequest {
    Email(String),
    Webhook(String),
    /// The preset dialect's `postback_url`: an http(s) URL, like a webhook's.
    Postback(String),
    Empty,
}

#[derive(Debug, Clone, Default)]
pub struct DestinationRequest {
    pub uri: String,
    pub acl: String,
    pub storage_class: String,
}

#[derive(Debug, Clone)]
pub enum ProfileRef {
    Id(u64),
    Description(String),
    Missing,
}

#[derive(Debug, Clone)]
pub struct OutputRequest {
    pub label: String,
    pub filename: String,
    pub profile: ProfileRef,
    /// The client's own name for this output (the preset dialect's `video_identifier`),
    /// echoed on its result; empty for none, at most [`MAX_REFERENCE_CHARS`] characters.
    pub reference: String,
}

/// The longest [`OutputRequest::reference`] accepted, in characters.
pub const MAX_REFERENCE_CHARS: usize = 256;

/// What the server allows, for the checks that depend on configuration.
#[derive(Debug, Clone)]
pub struct OrderPolicy {
    /// Absolute directories `file://` origins and destinations may use.
    pub file_roots: Vec<PathBuf>,
    pub max_outputs: usize,
    /// Where outputs go when an order names no destination: `<root>/<company>/<job id>/`.
    pub default_output_root: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Notification {
    Email(String),
    Webhook(String),
    /// POSTed the preset dialect's result body when the job ends.
    Postback(String),
}

impl Notification {
    pub fn is_postback(&self) -> bool {
        matches!(self, Notification::Postback(_))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    /// As the client wrote it.
    pub uri: String,
    pub location: Location,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub acl: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub storage_class: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputSpec {
    pub label: String,
    pub filename: String,
    /// A snapshot of the profile at submission, so later edits do not change queued jobs.
    pub profile: Profile,
    /// How the client named the profile, echoed back.
    pub requested_preset: Option<String>,
    /// The client's own name for this output; empty for none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
}

/// An order that passed every check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidOrder {
    pub priority: Priority,
    pub origin: String,
    pub origin_location: Location,
    pub notifications: Vec<Notification>,
    pub destinations: Vec<Destination>,
    pub outputs: Vec<OutputSpec>,
    pub thumbnails: Vec<ThumbnailSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storyboards: Vec<StoryboardSpec>,
}

/// Checks a file name for an output or thumbnail; returns the problem, if any.
fn filename_problem(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("is required")
    } else if name.contains('/') || name.contains('\\') {
        Some("must not contain a path separator")
    } else if name == "." || name.contains("..") {
        Some("must not contain '..'")
    } else if name.len() > 255 {
        Some("must be at most 255 bytes")
    } else if name.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else {
        None
    }
}

impl OrderRequest {
    /// Validates the whole order, collecting every bad field before answering. Profiles
    /// are looked up in `catalogue` (the system presets and the caller's own); a
    /// priority above normal needs the caller's entitlement.
    pub fn validate(
        self,
        caller: &Caller,
        catalogue: &ProfileCatalogue,
        policy: &OrderPolicy,
    ) -> Result<ValidOrder, Error> {
        check_priority_entitlement(self.priority, &caller.entitlements)?;
        let mut bad = Violations::default();

        let priority = match self.priority {
            None => Priority::NORMAL,
            Some(p) => Priority::parse(p).unwrap_or_else(|e| {
                bad.add("order.priority", e.to_string());
                Priority::NORMAL
            }),
        };

        let origin_location = match Location::parse(&self.origin) {
            _ if caps::too_long(&self.origin, MAX_URI_CHARS, "order.origin", &mut bad) => None,
            Ok(loc) => {
                check_location_allowed(&loc, policy, "order.origin", &mut bad, true);
                Some(loc)
            }
            Err(e) => {
                bad.add("order.origin", e.to_string());
                None
            }
        };

        let notifications = validate_notifications(self.notifications, &mut bad);
        let destinations = validate_destinations(self.destinations, policy, &mut bad);
        let outputs = validate_outputs(self.outputs, catalogue, policy, &mut bad);
        let thumbnails = validate_thumbnails(self.thumbnails, &outputs, &mut bad);

        // Outputs and thumbnails share each destination, so their names must not collide.
        let mut names = HashSet::new();
        for (i, o) in outputs.iter().enumerate() {
            if !names.insert(o.filename.clone()) {
                bad.add(
                    format!("order.outputs[{i}].filename"),
                    format!("duplicates another output's filename '{}'", o.filename),
                );
            }
        }
        for (i, t) in thumbnails.iter().enumerate() {
            if !names.insert(t.filename.clone()) {
                bad.add(
                    format!("order.thumbnails[{i}].filename"),
                    format!("duplicates another filename '{}'", t.filename),
                );
            }
        }

        let storyboards = storyboard::validate_storyboards(
            self.storyboards,
            (&outputs, &thumbnails),
            &mut names,
            &mut bad,
        );

        bad.into_result()?;
        Ok(ValidOrder {
            priority,
            origin: self.origin.trim().to_owned(),
            origin_location: origin_location.expect("checked above"),
            notifications,
            destinations,
            outputs,
            thumbnails,
            storyboards,
        })
    }
}

/// A valid priority above normal needs the priority-transcoding entitlement (an
/// out-of-range one is a plain validation error, reported with the other fields).
fn check_priority_entitlement(
    priority: Option<i32>,
    entitlements: &Entitlements,
) -> Result<(), Error> {
    match priority.map(Priority::parse) {
        Some(Ok(p)) if p > Priority::NORMAL && !entitlements.priority_transcoding => Err(Error {
            fields: vec![FieldViolation::new(
                "order.priority",
                format!(
                    "a priority above {} needs the company's {} entitlement",
                    Priority::MIN,
                    Entitlements::PRIORITY_TRANSCODING
                ),
            )],
            ..Error::new(
                ErrorCode::PermissionDenied,
                format!(
                    "order.priority {} needs the {} entitlement",
                    p.get(),
                    Entitlements::PRIORITY_TRANSCODING
                ),
            )
        }),
        _ => Ok(()),
    }
}

/// Whether an order names a profile that is not a system preset, so the company's own
/// profiles must be read to validate it.
pub fn names_company_profiles(outputs: &[OutputRequest]) -> bool {
    outputs.iter().any(|o| match &o.profile {
        ProfileRef::Id(id) => !super::profile::is_system_id(ProfileId(*id)),
        // An Elastic Transcoder id, a preset's id as text or a preset's description names
        // a system preset; anything else may be one of the company's own.
        ProfileRef::Description(name) => super::profile::system_preset_by_ref(name).is_none(),
        ProfileRef::Missing => false,
    })
}

#[derive(Default)]
struct Violations(Vec<FieldViolation>);

impl Violations {
    fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }
    fn into_result(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_fields(self.0))
        }
    }
}

/// Notifications per order, at most: each is a delivery with its own retries.
pub const MAX_NOTIFICATIONS: usize = 10;
/// Destinations per order, at most: every output and thumbnail goes to each.
pub const MAX_DESTINATIONS: usize = 10;

/// Refuses a list longer than `max` (one violation naming the list, not one per entry).
fn over_cap<T>(raw: &[T], max: usize, field: &str, bad: &mut Violations) -> bool {
    let over = raw.len() > max;
    if over {
        bad.add(field, format!("at most {max} per order, got {}", raw.len()));
    }
    over
}

fn validate_notifications(
    raw: Vec<NotificationRequest>,
    bad: &mut Violations,
) -> Vec<Notification> {
    if over_cap(&raw, MAX_NOTIFICATIONS, "order.notifications", bad) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, n) in raw.into_iter().enumerate() {
        if let NotificationRequest::Webhook(url) | NotificationRequest::Postback(url) = &n
            && caps::too_long(url, MAX_URI_CHARS, &notification_url_field(&n, i), bad)
        {
            continue;
        }
        match n {
            NotificationRequest::Email(email) => {
                let field = format!("order.notifications[{i}].email");
                if caps::too_long(&email, MAX_EMAIL_CHARS, &field, bad) {
                    continue;
                }
                let e = email.trim();
                let valid = e.split_once('@').is_some_and(|(user, host)| {
                    !user.is_empty() && host.contains('.') && !e.contains(char::is_whitespace)
                });
                if valid {
                    out.push(Notification::Email(e.to_owned()));
                } else {
                    bad.add(
                        format!("order.notifications[{i}].email"),
                        "is not an email address",
                    );
                }
            }
            NotificationRequest::Webhook(url) => match http_url(&url) {
                Some(u) => out.push(Notification::Webhook(u)),
                None => bad.add(
                    format!("order.notifications[{i}].webhook_url"),
                    "must be an http(s) URL",
                ),
            },
            NotificationRequest::Postback(url) => match http_url(&url) {
                Some(u) => out.push(Notification::Postback(u)),
                None => bad.add(
                    format!("order.notifications[{i}].postback_url"),
                    "must be an http(s) URL",
                ),
            },
            NotificationRequest::Empty => bad.add(
                format!("order.notifications[{i}]"),
                "needs an email or a webhook_url",
            ),
        }
    }
    out
}

fn notification_url_field(n: &NotificationRequest, i: usize) -> String {
    let name = match n {
        NotificationRequest::Postback(_) => "postback_url",
        _ => "webhook_url",
    };
    format!("order.notifications[{i}].{name}")
}

/// `raw` as a normalised http(s) URL that names a host; whether the host may be reached
/// is the egress guard's call at delivery.
fn http_url(raw: &str) -> Option<String> {
    Url::parse(raw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .map(String::from)
}

fn validate_outputs(
    raw: Vec<OutputRequest>,
    catalogue: &ProfileCatalogue,
    policy: &OrderPolicy,
    bad: &mut Violations,
) -> Vec<OutputSpec> {
    if raw.is_empty() {
        bad.add("order.outputs", "at least one output is required");
    }
    if raw.len() > policy.max_outputs {
        bad.add(
            "order.outputs",
            format!("at most {} outputs per order", policy.max_outputs),
        );
    }
    let mut labels = HashSet::new();
    let mut ladder_dirs = HashSet::new();
    let mut out = Vec::new();
    for (i, o) in raw.into_iter().enumerate() {
        let mut ok = true;
        if let Some(problem) = filename_problem(&o.filename) {
            bad.add(format!("order.outputs[{i}].filename"), problem);
            ok = false;
        }
        let label_field = format!("order.outputs[{i}].label");
        if caps::too_long(&o.label, MAX_LABEL_CHARS, &label_field, bad) {
            ok = false;
        }
        let label = if o.label.trim().is_empty() {
            o.filename.clone()
        } else {
            o.label.trim().to_owned()
        };
        let reference = o.reference.trim().to_owned();
        if reference.chars().count() > MAX_REFERENCE_CHARS {
            bad.add(
                format!("order.outputs[{i}].reference"),
                format!("must be at most {MAX_REFERENCE_CHARS} characters"),
            );
            ok = false;
        }
        if !labels.insert(label.clone()) {
            bad.add(
                format!("order.outputs[{i}].label"),
                format!("duplicates another output's label '{label}'"),
            );
            ok = false;
        }
        let (profile, requested) = match &o.profile {
            ProfileRef::Id(id) => {
                let found = catalogue.find_by_id(ProfileId(*id)).cloned();
                if found.is_none() {
                    bad.add(
                        format!("order.outputs[{i}].profile_id"),
                        format!("no profile with id {id}"),
                    );
                }
                (found, None)
            }
            ProfileRef::Description(name) => {
                let found = catalogue.find_by_preset_ref(name).cloned();
                if found.is_none() {
                    // An Elastic Transcoder preset the engine cannot write yet is told
                    // apart from a name that is simply unknown.
                    let why = match super::elastic_presets::find(name) {
                        Some(et) => format!(
                            "'{name}' is the Elastic Transcoder preset '{}' ({}), which this server cannot produce yet",
                            et.description, et.container
                        ),
                        None => format!("no profile named '{name}'"),
                    };
                    bad.add(format!("order.outputs[{i}].preset"), why);
                }
                (found, Some(name.clone()))
            }
            ProfileRef::Missing => {
                bad.add(
                    format!("order.outputs[{i}].profile_id"),
                    "a profile_id or preset is required",
                );
                (None, None)
            }
        };
        if let Some(profile) = &profile {
            let field = format!("order.outputs[{i}].profile");
            for problem in super::profile_draft::producibility_problems(profile, &field) {
                bad.add(problem.field, problem.description);
                ok = false;
            }
            if profile.container.is_streaming() {
                let dir = super::media_format::ladder_dir_name(&o.filename);
                if !ladder_dirs.insert(dir.clone()) {
                    bad.add(
                        format!("order.outputs[{i}].filename"),
                        format!("another ladder of this order already writes into '{dir}/'"),
                    );
                    ok = false;
                }
            }
        }
        if let (true, Some(profile)) = (ok, profile) {
            out.push(OutputSpec {
                label,
                filename: o.filename,
                profile,
                requested_preset: requested,
                reference,
            });
        }
    }
    out
}

#[cfg(test)]
mod storyboard_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod thumbnail_tests;
