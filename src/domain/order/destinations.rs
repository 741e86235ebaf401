//! Checks of where an order reads from and writes to: allowed roots and schemes, and the
//! object options S3 destinations may carry.

use super::{Destination, DestinationRequest, Location, OrderPolicy, Violations, is_under_roots};

pub(super) fn check_location_allowed(
    loc: &Location,
    policy: &OrderPolicy,
    field: &str,
    bad: &mut Violations,
    is_origin: bool,
) {
    match loc {
        Location::File { path } if !is_under_roots(path, &policy.file_roots) => bad.add(
            field,
            format!(
                "file path {} is outside the directories this server allows",
                path.display()
            ),
        ),
        Location::Http { .. } if !is_origin => {
            bad.add(field, "destinations must be s3:// or file://")
        }
        Location::S3 { key, .. } if is_origin && (key.is_empty() || key.ends_with('/')) => {
            bad.add(field, "must name an object: s3://bucket/key")
        }
        // Remote hosts are checked by the egress guard when they are resolved.
        Location::File { .. } | Location::Http { .. } | Location::S3 { .. } => {}
    }
}

/// The canned ACLs an S3 destination may ask for.
pub const S3_CANNED_ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

/// The storage classes an S3 destination may ask for.
pub const S3_STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
];

/// An object option (ACL, storage class) is one S3 knows, and only on S3 destinations:
/// passed to the store, never dropped silently.
fn check_object_option(
    location: &Location,
    value: &str,
    allowed: &[&str],
    field: &str,
    bad: &mut Violations,
) {
    if value.is_empty() {
        return;
    }
    if !matches!(location, Location::S3 { .. }) {
        bad.add(field, "applies to s3:// destinations only");
    } else if !allowed.contains(&value) {
        bad.add(
            field,
            format!("'{value}' is not one of {}", allowed.join(", ")),
        );
    }
}

pub(super) fn validate_destinations(
    raw: Vec<DestinationRequest>,
    policy: &OrderPolicy,
    bad: &mut Violations,
) -> Vec<Destination> {
    if super::over_cap(&raw, super::MAX_DESTINATIONS, "order.destinations", bad) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, d) in raw.into_iter().enumerate() {
        let field = format!("order.destinations[{i}].uri");
        if super::caps::too_long(&d.uri, super::MAX_URI_CHARS, &field, bad) {
            continue;
        }
        match Location::parse(&d.uri) {
            Ok(location) => {
                check_location_allowed(&location, policy, &field, bad, false);
                let acl = d.acl.trim().to_owned();
                let storage_class = d.storage_class.trim().to_owned();
                check_object_option(
                    &location,
                    &acl,
                    S3_CANNED_ACLS,
                    &format!("order.destinations[{i}].acl"),
                    bad,
                );
                check_object_option(
                    &location,
                    &storage_class,
                    S3_STORAGE_CLASSES,
                    &format!("order.destinations[{i}].storage_class"),
                    bad,
                );
                out.push(Destination {
                    uri: d.uri.trim().to_owned(),
                    location,
                    acl,
                    storage_class,
                });
            }
            Err(e) => bad.add(field, e.to_string()),
        }
    }
    out
}
