//! The order dialect's JSON, as its clients send and read it. These types are the wire
//! contract: they are translated to and from the domain in `order_dialect.rs`, so a
//! renamed domain field never changes what a client sees.

use super::lenient;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// The `order` a client posts to `/{company_id}/transcode`. Unknown fields are ignored;
/// numbers may be strings; empty strings mean "not given".
#[derive(Debug, Deserialize, ToSchema)]
pub struct OrderBody {
    /// 5 (normal) to 10; above 5 needs the priority-transcoding entitlement.
    #[serde(default, deserialize_with = "lenient::opt_i32")]
    #[schema(value_type = Option<i32>, minimum = 5, maximum = 10)]
    pub priority: Option<i32>,
    /// Where the source is: http(s)://, s3://bucket/key, or file:// where allowed.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = String)]
    pub origin: Option<String>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub notifications: Vec<NotificationBody>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub destinations: Vec<DestinationBody>,
    /// The outputs to make.
    #[serde(default, deserialize_with = "lenient::list")]
    pub jobs: Vec<JobSpecBody>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub thumbnails: Vec<ThumbnailBody>,
}

/// One of `email`, `webhook_url` or `url` (a synonym of `webhook_url`); an entry whose
/// fields are all empty is skipped.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NotificationBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<String>)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<String>)]
    pub webhook_url: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<String>)]
    pub url: Option<String>,
}

/// A destination: a URI string (`s3://bucket/prefix/`), or an object with `url` or `uri`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum DestinationBody {
    Uri(String),
    Object(DestinationObject),
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DestinationObject {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<String>)]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<String>)]
    pub uri: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<String>)]
    pub acl: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<String>)]
    pub storage_class: Option<String>,
}

/// A profile named by id (a number, or a string holding one) or by description (or an
/// Elastic Transcoder preset id).
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileRefBody {
    Id(u64),
    Name(String),
}

fn profile_ref<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ProfileRefBody>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
        Null(()),
    }
    Ok(
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "must be a profile id (a whole number) or a profile's description",
            )
        })? {
            Raw::Number(n) => Some(ProfileRefBody::Id(n)),
            Raw::Text(t) if t.trim().is_empty() => None,
            Raw::Text(t) => match t.trim().parse::<u64>() {
                Ok(n) => Some(ProfileRefBody::Id(n)),
                Err(_) => Some(ProfileRefBody::Name(t.trim().to_owned())),
            },
            Raw::Null(()) => None,
        },
    )
}

/// One output (the dialect calls them jobs).
#[derive(Debug, Deserialize, ToSchema)]
pub struct JobSpecBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<String>)]
    pub label: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = String)]
    pub filename: Option<String>,
    #[serde(default, deserialize_with = "profile_ref")]
    #[schema(value_type = Option<u64>)]
    pub profile_id: Option<ProfileRefBody>,
    /// A synonym of `profile_id`.
    #[serde(default, deserialize_with = "profile_ref")]
    #[schema(value_type = Option<u64>)]
    pub transcoding_profile: Option<ProfileRefBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ThumbnailBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = String)]
    pub filename: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<String>)]
    pub label: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    #[schema(value_type = Option<u32>)]
    pub width: Option<u32>,
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    #[schema(value_type = Option<u32>)]
    pub height: Option<u32>,
    /// Seconds into the source.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    #[schema(value_type = Option<f64>)]
    pub time: Option<f64>,
}

/// A job as the dialect shows it (the answer to POST, and to GET on its status URL).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobBody {
    pub id: String,
    pub company_id: String,
    /// queued, running, succeeded, failed or canceled.
    pub status: String,
    /// downloading, probing, transcoding, uploading or notifying, while running.
    pub phase: Option<String>,
    /// 0 to 100.
    pub progress: f64,
    pub priority: i32,
    /// Where to GET this job.
    pub status_url: String,
    pub origin: String,
    pub outputs: Vec<OutputBody>,
    pub thumbnails: Vec<ThumbnailResultBody>,
    pub billing: Option<BillingBody>,
    pub error: Option<super::errors::ErrorDetail>,
    pub attempts: u32,
    /// RFC 3339.
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutputBody {
    pub label: String,
    pub filename: String,
    pub profile_id: u64,
    /// The profile's description when the job was submitted.
    pub profile: String,
    /// pending, running, succeeded or failed.
    pub status: String,
    /// One URL per destination.
    pub urls: Vec<String>,
    pub metadata: Option<MediaBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ThumbnailResultBody {
    pub label: String,
    pub filename: String,
    pub status: String,
    pub urls: Vec<String>,
    pub width: u32,
    pub height: u32,
}

/// What a probe found in a written file.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaBody {
    pub duration_seconds: f64,
    pub size_bytes: u64,
    pub bitrate_bps: u64,
    pub container: String,
    pub mime_type: String,
    pub video_codec: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub frame_rate: Option<f64>,
    pub audio_codec: Option<String>,
    pub audio_channels: Option<u32>,
    pub audio_sample_rate: Option<u32>,
}

/// Money as decimal strings, never floats.
#[derive(Debug, Serialize, ToSchema)]
pub struct BillingBody {
    pub currency: String,
    pub price_per_minute: String,
    pub billable_minutes: u64,
    pub total: String,
    pub outputs: Vec<BillingLineBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BillingLineBody {
    pub label: String,
    pub profile_id: u64,
    pub duration_seconds: f64,
    pub billable_minutes: u64,
    pub cost: String,
}

/// `GET /{company_id}/transcoding_profiles/`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfilesBody {
    pub profiles: Vec<ProfileBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileBody {
    /// What an order puts in `profile_id`.
    pub id: u64,
    pub description: String,
    /// System presets are shared and read-only.
    pub system: bool,
    pub container: String,
    pub video: Option<VideoBody>,
    pub audio: Option<AudioBody>,
    /// The encode uses min(source bitrate, profile bitrate).
    pub restrict_bitrate: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VideoBody {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub codec_profile: String,
    pub keyframe_interval_seconds: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AudioBody {
    pub codec: String,
    pub bitrate_kbps: u32,
    pub channels: u32,
    pub sample_rate: u32,
}
