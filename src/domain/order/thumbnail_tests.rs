//! Thumbnail validation: every bad field is named, good ones pass with their defaults.

use super::*;

fn policy() -> OrderPolicy {
    OrderPolicy {
        file_roots: vec![PathBuf::from("/srv/media")],
        max_outputs: 4,
        default_output_root: PathBuf::from("/srv/media/outputs"),
    }
}

fn caller() -> Caller {
    Caller::operator(CompanyId::parse("acme").unwrap(), Entitlements::default())
}

fn thumb(filename: &str, width: u32, height: u32, time_seconds: f64) -> ThumbnailRequest {
    ThumbnailRequest {
        filename: filename.into(),
        label: String::new(),
        width,
        height,
        time_seconds,
        ..Default::default()
    }
}

fn order(thumbnails: Vec<ThumbnailRequest>) -> OrderRequest {
    OrderRequest {
        origin: "file:///srv/media/in.mp4".into(),
        outputs: vec![OutputRequest {
            label: "main".into(),
            filename: "out.mp4".into(),
            profile: ProfileRef::Id(2),
            reference: String::new(),
        }],
        thumbnails,
        ..Default::default()
    }
}

fn validate(thumbnails: Vec<ThumbnailRequest>) -> Result<ValidOrder, Error> {
    order(thumbnails).validate(&caller(), &ProfileCatalogue::system_presets(), &policy())
}

fn bad_fields(thumbnails: Vec<ThumbnailRequest>) -> Vec<String> {
    let err = validate(thumbnails).expect_err("the order should be refused");
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    err.fields.into_iter().map(|f| f.field).collect()
}

#[test]
fn good_thumbnails_validate_with_label_defaulting_to_the_filename() {
    let valid = validate(vec![
        thumb("poster.jpg", 720, 480, 0.3),
        thumb("small.PNG", 160, 0, 0.0),
        ThumbnailRequest {
            label: " cover ".into(),
            ..thumb("cover.jpeg", 0, 0, 12.5)
        },
    ])
    .unwrap();
    let labels: Vec<&str> = valid.thumbnails.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["poster.jpg", "small.PNG", "cover"]);
    let formats: Vec<ImageFormat> = valid.thumbnails.iter().map(|t| t.format()).collect();
    assert_eq!(
        formats,
        [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Jpeg]
    );
    assert_eq!(valid.thumbnails[0].width, 720);
    assert_eq!(valid.thumbnails[0].time_seconds, 0.3);
}

#[test]
fn every_bad_thumbnail_field_is_named() {
    let fields = bad_fields(vec![
        thumb("", 0, 0, 0.0),
        thumb("a/b.jpg", 0, 0, 0.0),
        thumb("clip.gif", 0, 0, 0.0),
        thumb("noext", 0, 0, 0.0),
        thumb("w.jpg", 1, 0, 0.0),
        thumb("h.jpg", 0, 7681, 0.0),
        thumb("t.jpg", 0, 0, -1.0),
        thumb("nan.jpg", 0, 0, f64::NAN),
        thumb("inf.jpg", 0, 0, f64::INFINITY),
    ]);
    assert_eq!(
        fields,
        [
            "order.thumbnails[0].filename",
            "order.thumbnails[1].filename",
            "order.thumbnails[2].filename",
            "order.thumbnails[3].filename",
            "order.thumbnails[4].width",
            "order.thumbnails[5].height",
            "order.thumbnails[6].time_seconds",
            "order.thumbnails[7].time_seconds",
            "order.thumbnails[8].time_seconds",
        ]
    );
}

#[test]
fn sizes_at_the_bounds_are_accepted() {
    let valid = validate(vec![
        thumb("a.jpg", 2, 7680, 0.0),
        thumb("b.jpg", 7680, 2, 0.0),
    ]);
    assert_eq!(valid.unwrap().thumbnails.len(), 2);
}

#[test]
fn labels_must_be_unique_among_thumbnails_and_outputs() {
    let fields = bad_fields(vec![
        ThumbnailRequest {
            label: "main".into(),
            ..thumb("a.jpg", 0, 0, 0.0)
        },
        ThumbnailRequest {
            label: "x".into(),
            ..thumb("b.jpg", 0, 0, 0.0)
        },
        ThumbnailRequest {
            label: "x".into(),
            ..thumb("c.jpg", 0, 0, 0.0)
        },
    ]);
    assert_eq!(
        fields,
        ["order.thumbnails[0].label", "order.thumbnails[2].label"]
    );
}

#[test]
fn filenames_must_not_collide_with_outputs_or_each_other() {
    let fields = bad_fields(vec![
        ThumbnailRequest {
            label: "one".into(),
            ..thumb("a.jpg", 0, 0, 0.0)
        },
        ThumbnailRequest {
            label: "two".into(),
            ..thumb("a.jpg", 0, 0, 1.0)
        },
    ]);
    assert_eq!(fields, ["order.thumbnails[1].filename"]);
}

#[test]
fn more_than_the_cap_is_refused_by_name() {
    let many = (0..=MAX_THUMBNAILS)
        .map(|i| thumb(&format!("t{i}.jpg"), 0, 0, i as f64))
        .collect();
    assert_eq!(bad_fields(many), ["order.thumbnails"]);
    let enough = (0..MAX_THUMBNAILS)
        .map(|i| thumb(&format!("t{i}.jpg"), 0, 0, i as f64))
        .collect();
    assert_eq!(validate(enough).unwrap().thumbnails.len(), MAX_THUMBNAILS);
}

#[test]
fn image_format_follows_the_extension() {
    assert_eq!(ImageFormat::from_filename("a.jpg"), Some(ImageFormat::Jpeg));
    assert_eq!(
        ImageFormat::from_filename("a.JPEG"),
        Some(ImageFormat::Jpeg)
    );
    assert_eq!(ImageFormat::from_filename("a.png"), Some(ImageFormat::Png));
    assert_eq!(
        ImageFormat::from_filename("a.webp"),
        Some(ImageFormat::Webp)
    );
    assert_eq!(ImageFormat::from_filename("a.gif"), None);
    assert_eq!(ImageFormat::from_filename("png"), None);
}

fn at_percent(filename: &str, percent: f64) -> ThumbnailRequest {
    ThumbnailRequest {
        time_percent: Some(percent),
        ..thumb(filename, 0, 0, 0.0)
    }
}

#[test]
fn percent_times_and_upscaling_are_kept() {
    let valid = validate(vec![
        at_percent("mid.webp", 50.0),
        at_percent("start.jpg", 0.0),
        ThumbnailRequest {
            allow_upscale: true,
            ..at_percent("end.png", 100.0)
        },
    ])
    .unwrap();
    let got: Vec<_> = valid
        .thumbnails
        .iter()
        .map(|t| (t.format(), t.time_percent, t.allow_upscale))
        .collect();
    assert_eq!(
        got,
        [
            (ImageFormat::Webp, Some(50.0), false),
            (ImageFormat::Jpeg, Some(0.0), false),
            (ImageFormat::Png, Some(100.0), true),
        ]
    );
}

#[test]
fn bad_percents_are_named() {
    let fields = bad_fields(vec![
        at_percent("a.jpg", -0.5),
        at_percent("b.jpg", 100.5),
        at_percent("c.jpg", f64::NAN),
        ThumbnailRequest {
            time_seconds: 3.0,
            ..at_percent("d.jpg", 10.0)
        },
    ]);
    assert_eq!(
        fields,
        [
            "order.thumbnails[0].time_percent",
            "order.thumbnails[1].time_percent",
            "order.thumbnails[2].time_percent",
            "order.thumbnails[3].time_percent",
        ]
    );
}

#[test]
fn a_stored_thumbnail_without_the_new_fields_still_decodes() {
    let old = r#"{"filename":"a.jpg","label":"a","width":0,"height":0,"time_seconds":1.5}"#;
    let spec: ThumbnailSpec = serde_json::from_str(old).unwrap();
    assert_eq!((spec.time_percent, spec.allow_upscale), (None, false));
    assert_eq!(spec.time_seconds, 1.5);
}
