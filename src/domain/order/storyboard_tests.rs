//! Storyboard validation: defaults fill zeros, every bad field is named, and the two files
//! each storyboard writes collide with nothing else in the order.

use super::*;

fn policy() -> OrderPolicy {
    OrderPolicy {
        file_roots: vec![PathBuf::from("/srv/media")],
        max_outputs: 4,
        default_output_root: PathBuf::from("/srv/media/outputs"),
    }
}

fn board(filename: &str) -> StoryboardRequest {
    StoryboardRequest {
        filename: filename.into(),
        ..Default::default()
    }
}

fn order(thumbnails: Vec<ThumbnailRequest>, storyboards: Vec<StoryboardRequest>) -> OrderRequest {
    OrderRequest {
        origin: "file:///srv/media/in.mp4".into(),
        outputs: vec![OutputRequest {
            label: "main".into(),
            filename: "out.mp4".into(),
            profile: ProfileRef::Id(2),
            reference: String::new(),
        }],
        thumbnails,
        storyboards,
        ..Default::default()
    }
}

fn validate(
    thumbnails: Vec<ThumbnailRequest>,
    storyboards: Vec<StoryboardRequest>,
) -> Result<ValidOrder, Error> {
    let caller = Caller::operator(CompanyId::parse("acme").unwrap(), Entitlements::default());
    order(thumbnails, storyboards).validate(&caller, &ProfileCatalogue::system_presets(), &policy())
}

fn bad_fields(storyboards: Vec<StoryboardRequest>) -> Vec<String> {
    let err = validate(Vec::new(), storyboards).expect_err("the order should be refused");
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    err.fields.into_iter().map(|f| f.field).collect()
}

#[test]
fn zeros_take_the_defaults_and_the_label_defaults_to_the_filename() {
    let valid = validate(
        Vec::new(),
        vec![
            board("scrub.vtt"),
            StoryboardRequest {
                label: " fine ".into(),
                interval_seconds: 2.5,
                tile_width: 240,
                columns: 5,
                ..board("fine.VTT")
            },
        ],
    )
    .unwrap();
    let got: Vec<_> = valid
        .storyboards
        .iter()
        .map(|s| {
            (
                s.label.as_str(),
                s.sprite_filename(),
                s.interval_seconds,
                s.tile_width,
                s.columns,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("scrub.vtt", "scrub.jpg".to_owned(), 10.0, 160, 10),
            ("fine", "fine.jpg".to_owned(), 2.5, 240, 5),
        ]
    );
}

#[test]
fn every_bad_storyboard_field_is_named() {
    let fields = bad_fields(vec![
        board("scrub.txt"),
        StoryboardRequest {
            interval_seconds: 0.5,
            tile_width: 161,
            columns: 51,
            ..board("a.vtt")
        },
        StoryboardRequest {
            interval_seconds: f64::INFINITY,
            tile_width: 642,
            ..board("b.vtt")
        },
        board(".vtt"),
    ]);
    assert_eq!(
        fields,
        [
            "order.storyboards[0].filename",
            "order.storyboards[1].interval_seconds",
            "order.storyboards[1].tile_width",
            "order.storyboards[1].columns",
            "order.storyboards[2].interval_seconds",
            "order.storyboards[2].tile_width",
            "order.storyboards[3].filename",
        ]
    );
}

#[test]
fn bounds_are_accepted() {
    let valid = validate(
        Vec::new(),
        vec![
            StoryboardRequest {
                interval_seconds: 1.0,
                tile_width: 16,
                columns: 1,
                ..board("low.vtt")
            },
            StoryboardRequest {
                interval_seconds: 600.0,
                tile_width: 640,
                columns: 50,
                ..board("high.vtt")
            },
        ],
    );
    assert_eq!(valid.unwrap().storyboards.len(), 2);
}

#[test]
fn files_and_labels_collide_with_nothing_else() {
    let thumbnails = vec![ThumbnailRequest {
        filename: "poster.jpg".into(),
        label: "cover".into(),
        ..Default::default()
    }];
    let err = validate(
        thumbnails,
        vec![
            // Its sprite would overwrite the thumbnail.
            board("poster.vtt"),
            StoryboardRequest {
                label: "main".into(),
                ..board("a.vtt")
            },
            StoryboardRequest {
                label: "cover".into(),
                ..board("b.vtt")
            },
            board("a.vtt"),
        ],
    )
    .unwrap_err();
    let fields: Vec<_> = err.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "order.storyboards[0].filename",
            "order.storyboards[1].label",
            "order.storyboards[2].label",
            // Both its files are already written by storyboard 1.
            "order.storyboards[3].filename",
            "order.storyboards[3].filename",
        ]
    );
}

#[test]
fn more_than_the_cap_is_refused_by_name() {
    let many = (0..=MAX_STORYBOARDS)
        .map(|i| board(&format!("s{i}.vtt")))
        .collect();
    assert_eq!(bad_fields(many), ["order.storyboards"]);
}

#[test]
fn an_order_stored_before_storyboards_still_decodes() {
    let valid = validate(Vec::new(), Vec::new()).unwrap();
    let mut json = serde_json::to_value(&valid).unwrap();
    assert!(
        json.get("storyboards").is_none(),
        "empty lists are not stored"
    );
    json.as_object_mut().unwrap().remove("storyboards");
    let back: ValidOrder = serde_json::from_value(json).unwrap();
    assert_eq!(back, valid);
}
