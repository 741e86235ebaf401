use super::*;
use std::path::Path;

fn policy() -> OrderPolicy {
    OrderPolicy {
        file_roots: vec![PathBuf::from("/srv/media")],
        max_outputs: 4,
        default_output_root: PathBuf::from("/srv/media/outputs"),
    }
}

fn caller(priority_transcoding: bool) -> Caller {
    Caller::operator(
        CompanyId::parse("acme").unwrap(),
        Entitlements {
            priority_transcoding,
        },
    )
}

fn output(filename: &str, profile: ProfileRef) -> OutputRequest {
    OutputRequest {
        label: String::new(),
        filename: filename.into(),
        profile,
        reference: String::new(),
    }
}

fn fields(err: Error) -> Vec<String> {
    err.fields.into_iter().map(|f| f.field).collect()
}

#[test]
fn a_good_order_validates_and_resolves_profiles() {
    let order = OrderRequest {
        origin: "file:///srv/media/in.mp4".into(),
        outputs: vec![
            output("a.mp4", ProfileRef::Id(2)),
            output(
                "b.mp4",
                ProfileRef::Description("system preset generic 360p".into()),
            ),
        ],
        ..Default::default()
    };
    let valid = order
        .validate(
            &caller(false),
            &ProfileCatalogue::system_presets(),
            &policy(),
        )
        .unwrap();
    assert_eq!(valid.priority, Priority::NORMAL);
    assert_eq!(valid.outputs[0].profile.id, ProfileId(2));
    assert_eq!(valid.outputs[1].profile.id, ProfileId(4));
    assert_eq!(valid.outputs[0].label, "a.mp4");
}

#[test]
fn every_bad_field_is_named() {
    let order = OrderRequest {
        priority: Some(11),
        origin: "not a uri".into(),
        destinations: vec![DestinationRequest {
            uri: "file:///etc/".into(),
            ..Default::default()
        }],
        notifications: vec![NotificationRequest::Email("nobody".into())],
        outputs: vec![
            output("../x.mp4", ProfileRef::Id(2)),
            output("dir/y.mp4", ProfileRef::Id(999)),
            output("z.mp4", ProfileRef::Description("no such preset".into())),
            output("z.mp4", ProfileRef::Id(1)),
        ],
        ..Default::default()
    };
    let err = order
        .validate(
            &caller(false),
            &ProfileCatalogue::system_presets(),
            &policy(),
        )
        .unwrap_err();
    assert_eq!(
        fields(err),
        vec![
            "order.priority",
            "order.origin",
            "order.notifications[0].email",
            "order.destinations[0].uri",
            "order.outputs[0].filename",
            "order.outputs[1].filename",
            "order.outputs[1].profile_id",
            "order.outputs[2].preset",
            "order.outputs[3].label",
        ]
    );
}

#[test]
fn no_outputs_and_empty_origin_are_refused() {
    let err = OrderRequest::default()
        .validate(
            &caller(false),
            &ProfileCatalogue::system_presets(),
            &policy(),
        )
        .unwrap_err();
    assert_eq!(fields(err), vec!["order.origin", "order.outputs"]);
}

#[test]
fn file_paths_must_stay_under_roots() {
    let roots = [PathBuf::from("/srv/media")];
    assert!(is_under_roots(Path::new("/srv/media/a/b.mp4"), &roots));
    assert!(!is_under_roots(Path::new("/srv/media2/b.mp4"), &roots));
    assert!(!is_under_roots(
        Path::new("/srv/media/../etc/passwd"),
        &roots
    ));
    assert!(!is_under_roots(Path::new("relative.mp4"), &roots));
}

#[test]
fn locations_parse() {
    assert_eq!(
        Location::parse("s3://bucket/some/key.mp4").unwrap(),
        Location::S3 {
            bucket: "bucket".into(),
            key: "some/key.mp4".into()
        }
    );
    let scheme = Location::parse("ftp://host/x").unwrap_err();
    assert_eq!(scheme.code(), "LOCATION_SCHEME_UNSUPPORTED");
    assert_eq!(
        scheme.to_string(),
        "scheme 'ftp' is not supported (use file, http, https or s3)"
    );
    assert_eq!(Location::parse("").unwrap_err().code(), "LOCATION_REQUIRED");
    assert_eq!(
        Location::parse("file://remote-host/x").unwrap_err(),
        LocationError::FileHost
    );
}

#[test]
fn priority_above_normal_needs_the_entitlement() {
    let order = |priority| OrderRequest {
        priority: Some(priority),
        origin: "file:///srv/media/in.mp4".into(),
        outputs: vec![output("a.mp4", ProfileRef::Id(2))],
        ..Default::default()
    };
    let catalogue = ProfileCatalogue::system_presets();
    let err = order(7)
        .validate(&caller(false), &catalogue, &policy())
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    assert_eq!(fields(err.clone()), vec!["order.priority"]);
    assert!(err.fields[0].description.contains("priority-transcoding"));
    assert!(
        order(5)
            .validate(&caller(false), &catalogue, &policy())
            .is_ok()
    );
    let valid = order(10)
        .validate(&caller(true), &catalogue, &policy())
        .unwrap();
    assert_eq!(valid.priority.get(), 10);
    // Out of range is a validation error whatever the entitlement.
    let err = order(11)
        .validate(&caller(false), &catalogue, &policy())
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
}

#[test]
fn company_profiles_are_found_in_the_catalogue() {
    let mut own = crate::domain::profile::SYSTEM_PRESETS[3].clone();
    own.id = ProfileId(666);
    own.company_id = Some(CompanyId::parse("acme").unwrap());
    own.description = "Acme mobile".into();
    let catalogue = ProfileCatalogue::with_company_profiles(vec![own]);
    let order = OrderRequest {
        origin: "file:///srv/media/in.mp4".into(),
        outputs: vec![
            output("a.mp4", ProfileRef::Id(666)),
            output("b.mp4", ProfileRef::Description("acme MOBILE".into())),
        ],
        ..Default::default()
    };
    assert!(names_company_profiles(&order.outputs));
    let valid = order
        .validate(&caller(false), &catalogue, &policy())
        .unwrap();
    assert_eq!(valid.outputs[0].profile.id, ProfileId(666));
    assert_eq!(valid.outputs[1].profile.description, "Acme mobile");
    assert!(!names_company_profiles(&[output(
        "c.mp4",
        ProfileRef::Id(2)
    )]));
}

#[test]
fn postbacks_validate_like_webhooks_and_references_are_kept() {
    let mut referenced = output("a.mp4", ProfileRef::Id(2));
    referenced.reference = " clip-42 ".into();
    let order = OrderRequest {
        origin: "file:///srv/media/in.mp4".into(),
        notifications: vec![NotificationRequest::Postback(
            "https://example.com/done".into(),
        )],
        outputs: vec![referenced],
        ..Default::default()
    };
    let valid = order
        .validate(
            &caller(false),
            &ProfileCatalogue::system_presets(),
            &policy(),
        )
        .unwrap();
    assert_eq!(
        valid.notifications,
        vec![Notification::Postback("https://example.com/done".into())]
    );
    assert_eq!(valid.outputs[0].reference, "clip-42");

    let mut long = output("b.mp4", ProfileRef::Id(2));
    long.reference = "r".repeat(MAX_REFERENCE_CHARS + 1);
    let order = OrderRequest {
        origin: "file:///srv/media/in.mp4".into(),
        notifications: vec![NotificationRequest::Postback("ftp://example.com/".into())],
        outputs: vec![long],
        ..Default::default()
    };
    let err = order
        .validate(
            &caller(false),
            &ProfileCatalogue::system_presets(),
            &policy(),
        )
        .unwrap_err();
    assert_eq!(
        fields(err),
        vec![
            "order.notifications[0].postback_url",
            "order.outputs[0].reference"
        ]
    );
}

#[test]
fn notification_and_destination_lists_are_capped() {
    let order = OrderRequest {
        origin: "file:///srv/media/in.mp4".into(),
        notifications: vec![NotificationRequest::Webhook("https://example.com/h".into()); 50_000],
        destinations: vec![
            DestinationRequest {
                uri: "s3://bucket/out/".into(),
                ..DestinationRequest::default()
            };
            MAX_DESTINATIONS + 1
        ],
        outputs: vec![output("a.mp4", ProfileRef::Id(2))],
        ..Default::default()
    };
    let err = order
        .validate(
            &caller(false),
            &ProfileCatalogue::system_presets(),
            &policy(),
        )
        .unwrap_err();
    assert_eq!(
        fields(err.clone()),
        vec!["order.notifications", "order.destinations"]
    );
    assert!(err.fields[0].description.contains("50000"), "{err:?}");
}

#[test]
fn long_strings_are_refused_naming_the_field() {
    let long = |n: usize| "x".repeat(n);
    let order = OrderRequest {
        origin: format!("https://example.com/{}", long(MAX_URI_CHARS)),
        notifications: vec![
            NotificationRequest::Email(format!("{}@example.com", long(MAX_EMAIL_CHARS))),
            NotificationRequest::Webhook(format!("https://example.com/{}", long(MAX_URI_CHARS))),
            NotificationRequest::Postback(format!("https://example.com/{}", long(MAX_URI_CHARS))),
        ],
        destinations: vec![DestinationRequest {
            uri: format!("s3://bucket/{}", long(MAX_URI_CHARS)),
            ..DestinationRequest::default()
        }],
        outputs: vec![OutputRequest {
            label: long(MAX_LABEL_CHARS + 1),
            ..output("a.mp4", ProfileRef::Id(2))
        }],
        thumbnails: vec![ThumbnailRequest {
            filename: "t.jpg".into(),
            label: long(MAX_LABEL_CHARS + 1),
            ..ThumbnailRequest::default()
        }],
        storyboards: vec![StoryboardRequest {
            filename: "s.vtt".into(),
            label: long(MAX_LABEL_CHARS + 1),
            ..StoryboardRequest::default()
        }],
        ..Default::default()
    };
    let err = order
        .validate(
            &caller(false),
            &ProfileCatalogue::system_presets(),
            &policy(),
        )
        .unwrap_err();
    assert_eq!(
        fields(err.clone()),
        vec![
            "order.origin",
            "order.notifications[0].email",
            "order.notifications[1].webhook_url",
            "order.notifications[2].postback_url",
            "order.destinations[0].uri",
            "order.outputs[0].label",
            "order.thumbnails[0].label",
            "order.storyboards[0].label",
        ]
    );
    assert!(
        err.fields[5]
            .description
            .contains(&format!("at most {MAX_LABEL_CHARS} characters, got 257")),
        "{err:?}"
    );
    // At the cap is fine.
    let at_cap = OrderRequest {
        origin: "file:///srv/media/in.mp4".into(),
        outputs: vec![OutputRequest {
            label: long(MAX_LABEL_CHARS),
            ..output("a.mp4", ProfileRef::Id(2))
        }],
        ..Default::default()
    };
    let valid = at_cap.validate(
        &caller(false),
        &ProfileCatalogue::system_presets(),
        &policy(),
    );
    assert!(valid.is_ok(), "{valid:?}");
}

#[test]
fn priorities_outside_the_range_are_refused_with_the_bounds() {
    assert_eq!(Priority::parse(10).unwrap().get(), 10);
    let refused = Priority::parse(11).unwrap_err();
    assert_eq!(refused.code(), "PRIORITY_OUT_OF_RANGE");
    assert_eq!(refused.to_string(), "must be between 5 and 10, got 11");
}
