//! The preset dialect's postback body: its own wire types, so renaming a domain field
//! never changes what a receiver gets.
//!
//! A job that succeeded posts
//! ```json
//! {"results": {
//!   "job_id": "…",
//!   "video": {"meta": {"FileSize": "11 MB", "Duration": "0:00:35", …},
//!             "s3_url": "https://bucket.s3.region.amazonaws.com/key",
//!             "video_identifier": "…"},
//!   "videos": [{"meta": …, "s3_url": …, "video_identifier": …}, …]
//! }}
//! ```
//! `video` is the first output (the first transcode node), as older receivers expect;
//! `videos` has one object per output, in the order's order, the first one included.
//! `meta` is exiftool's output for the written file (`media::exiftool`), `s3_url` the
//! https URL of the object at the output's first S3 destination (empty when it has none),
//! and `video_identifier` the output's `reference` as the client sent it.
//!
//! A job that failed or was canceled posts `{"results": {"job_id": "…", "error": "…"}}`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostbackBody {
    pub results: PostbackResults,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostbackResults {
    pub job_id: String,
    /// The first output; absent on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<PostbackVideo>,
    /// Every output, the first included; absent on failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub videos: Vec<PostbackVideo>,
    /// Why the job did not succeed; absent on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostbackVideo {
    /// exiftool's keys and values for the file, e.g. `"AvgBitrate": "2.51 Mbps"`.
    pub meta: BTreeMap<String, serde_json::Value>,
    pub s3_url: String,
    pub video_identifier: String,
}

impl PostbackBody {
    /// A succeeded job's body: `video` is the first of `videos`.
    pub fn succeeded(job_id: String, videos: Vec<PostbackVideo>) -> Self {
        Self {
            results: PostbackResults {
                job_id,
                video: videos.first().cloned(),
                videos,
                error: None,
            },
        }
    }

    /// A failed or canceled job's body.
    pub fn failed(job_id: String, error: String) -> Self {
        Self {
            results: PostbackResults {
                job_id,
                video: None,
                videos: Vec::new(),
                error: Some(error),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn video(id: &str) -> PostbackVideo {
        PostbackVideo {
            meta: [("FileSize".to_owned(), json!("11 MB"))].into(),
            s3_url: format!("https://b.s3.us-east-1.amazonaws.com/{id}.mp4"),
            video_identifier: id.into(),
        }
    }

    #[test]
    fn success_has_the_first_video_and_all_videos() {
        let body = PostbackBody::succeeded("j1".into(), vec![video("a"), video("b")]);
        let expected_a = json!({"meta": {"FileSize": "11 MB"},
            "s3_url": "https://b.s3.us-east-1.amazonaws.com/a.mp4", "video_identifier": "a"});
        let expected_b = json!({"meta": {"FileSize": "11 MB"},
            "s3_url": "https://b.s3.us-east-1.amazonaws.com/b.mp4", "video_identifier": "b"});
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"results": {"job_id": "j1", "video": expected_a,
                "videos": [expected_a, expected_b]}})
        );
    }

    #[test]
    fn failure_has_only_the_job_and_the_error() {
        let body = PostbackBody::failed("j1".into(), "the source is not valid media".into());
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"results": {"job_id": "j1", "error": "the source is not valid media"}})
        );
    }
}
