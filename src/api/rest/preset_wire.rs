//! The preset dialect's JSON (seed 004), as its clients send and read it.

use super::lenient;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `POST /job`: the body itself, or a form field `json`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PresetJobBody {
    /// The company's application id; a Bearer token may be sent instead.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<String>)]
    pub application_id: Option<String>,
    /// Where the source is (http(s):// or s3://bucket/key).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = String)]
    pub src: Option<String>,
    /// "pre_process_only"; accepted and not used.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<String>)]
    pub src_type: Option<String>,
    /// Any value; accepted and not used.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub v: Option<serde_json::Value>,
    /// Where the result is POSTed when the job ends.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<String>)]
    pub postback_url: Option<String>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub pre_process: Vec<PreProcessNode>,
}

/// One step: `transcode` (also spelled `trancode`, as the seed's prose does).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PreProcessNode {
    #[serde(default)]
    pub transcode: Option<TranscodeNode>,
    #[serde(default)]
    pub trancode: Option<TranscodeNode>,
    /// Any other step is refused, naming it.
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TranscodeNode {
    /// A preset's id (numeric or Elastic Transcoder's), or its description, matched
    /// ignoring case and punctuation.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = String)]
    pub preset_id: Option<String>,
    /// Echoed in the postback.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<String>)]
    pub video_identifier: Option<String>,
    pub s3_destination: Option<S3DestinationBody>,
    /// Any other output kind (`*_destination`) is refused, naming it.
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// The output's exact place: `key` is the whole object key, not a prefix.
#[derive(Debug, Deserialize, ToSchema)]
pub struct S3DestinationBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = String)]
    pub bucket: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = String)]
    pub key: Option<String>,
}

/// The answer to `POST /job`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresetAcceptedBody {
    pub results: PresetAcceptedResults,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PresetAcceptedResults {
    pub job_id: String,
}
