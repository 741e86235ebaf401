//! Pure domain types and rules: no I/O here.

pub mod billing;
pub mod company;
pub mod elastic_presets;
pub mod encode_settings;
pub mod event;
pub mod job;
pub mod media_format;
pub mod media_info;
pub mod notification;
pub mod order;
pub mod profile;
pub mod profile_draft;
pub mod profile_rules;
pub mod system_presets;

pub use billing::{Billing, BillingLine, Tariff, Usage, UsageLine};
pub use company::{Caller, Company, Entitlements, RateLimit};
pub use event::{EventKind, JobEvent, ProgressTick};
pub use job::{
    Job, JobId, JobState, OutputResult, OutputState, Phase, StoryboardResult, ThumbnailResult,
};
pub use media_info::MediaInfo;
pub use order::{
    CompanyId, Destination, Notification, OrderRequest, OutputSpec, Priority, ValidOrder,
};
pub use profile::{Profile, ProfileCatalogue, ProfileId};
