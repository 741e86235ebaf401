//! The web address of an S3 object, as the configured store serves it: what the preset
//! dialect's postback calls `s3_url`.

use crate::config::S3Settings;

/// The region the store is addressed in: the setting, then `AWS_REGION` /
/// `AWS_DEFAULT_REGION`, then `us-east-1`, the order `S3Store::from_settings` uses.
pub fn effective_region(settings: &S3Settings) -> String {
    settings
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "us-east-1".to_owned())
}

/// The store's endpoint, if not AWS: the setting, then `AWS_ENDPOINT_URL_S3` /
/// `AWS_ENDPOINT_URL`, which the AWS SDK also honours.
pub fn effective_endpoint(settings: &S3Settings) -> Option<String> {
    settings
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .filter(|e| !e.trim().is_empty())
}

/// The URL of `bucket`/`key` under `settings` (see [`object_url`]).
pub fn https_url(settings: &S3Settings, bucket: &str, key: &str) -> String {
    object_url(
        effective_endpoint(settings).as_deref(),
        settings.force_path_style,
        &effective_region(settings),
        bucket,
        key,
    )
}

/// The URL of `bucket`/`key`, with the key percent-encoded segment by segment:
/// * AWS (no endpoint): `https://{bucket}.s3.{region}.amazonaws.com/{key}`, or
///   `https://s3.{region}.amazonaws.com/{bucket}/{key}` in path style;
/// * a configured endpoint: `{endpoint}/{bucket}/{key}` in path style, or the bucket
///   put before the endpoint's host (`https://{bucket}.{host}/{key}`) otherwise; the
///   endpoint's own scheme, port and path are kept.
///
/// A bucket name with a dot is always addressed path style, as the AWS SDK does: as a
/// host name it would not match the store's TLS certificate.
pub fn object_url(
    endpoint: Option<&str>,
    force_path_style: bool,
    region: &str,
    bucket: &str,
    key: &str,
) -> String {
    let path_style = force_path_style || bucket.contains('.');
    let key = encode_key(key);
    let endpoint = endpoint.map(str::trim).filter(|e| !e.is_empty());
    match endpoint {
        None if path_style => format!("https://s3.{region}.amazonaws.com/{bucket}/{key}"),
        None => format!("https://{bucket}.s3.{region}.amazonaws.com/{key}"),
        Some(endpoint) => {
            let endpoint = endpoint.trim_end_matches('/');
            match (path_style, endpoint.split_once("://")) {
                (false, Some((scheme, rest))) => format!("{scheme}://{bucket}.{rest}/{key}"),
                _ => format!("{endpoint}/{bucket}/{key}"),
            }
        }
    }
}

/// Percent-encodes each `/`-separated segment of an object key, keeping RFC 3986's
/// unreserved characters as they are.
pub fn encode_key(key: &str) -> String {
    key.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_urls_are_virtual_host_style_by_default() {
        assert_eq!(
            object_url(None, false, "eu-west-1", "media", "out/a.mp4"),
            "https://media.s3.eu-west-1.amazonaws.com/out/a.mp4"
        );
        assert_eq!(
            object_url(None, true, "eu-west-1", "media", "out/a.mp4"),
            "https://s3.eu-west-1.amazonaws.com/media/out/a.mp4"
        );
        // Dotted buckets cannot be a TLS host name under *.s3.amazonaws.com.
        assert_eq!(
            object_url(None, false, "us-east-1", "my.media", "a.mp4"),
            "https://s3.us-east-1.amazonaws.com/my.media/a.mp4"
        );
    }

    #[test]
    fn endpoints_keep_their_scheme_port_and_path() {
        assert_eq!(
            object_url(
                Some("http://127.0.0.1:9000/"),
                true,
                "us-east-1",
                "b",
                "k/v.mp4"
            ),
            "http://127.0.0.1:9000/b/k/v.mp4"
        );
        assert_eq!(
            object_url(
                Some("https://store.example.com/s3"),
                true,
                "us-east-1",
                "b",
                "v.mp4"
            ),
            "https://store.example.com/s3/b/v.mp4"
        );
        assert_eq!(
            object_url(
                Some("https://store.example.com"),
                false,
                "us-east-1",
                "b",
                "v.mp4"
            ),
            "https://b.store.example.com/v.mp4"
        );
    }

    #[test]
    fn keys_are_encoded_per_segment() {
        assert_eq!(
            encode_key("videos/my clip+1/été?.mp4"),
            "videos/my%20clip%2B1/%C3%A9t%C3%A9%3F.mp4"
        );
        assert_eq!(encode_key("a~b_c-d.e"), "a~b_c-d.e");
        assert_eq!(
            object_url(None, false, "us-east-1", "b", "a b/c#d"),
            "https://b.s3.us-east-1.amazonaws.com/a%20b/c%23d"
        );
    }

    #[test]
    fn the_region_setting_wins_over_the_environment() {
        let settings = S3Settings {
            region: Some("ap-south-1".into()),
            ..crate::config::Settings::default().s3
        };
        assert_eq!(effective_region(&settings), "ap-south-1");
        assert_eq!(
            https_url(&settings, "media", "a.mp4"),
            "https://media.s3.ap-south-1.amazonaws.com/a.mp4"
        );
    }
}
