//! The shipped packs pass every check, and broken packs fail with errors naming file, step
//! and field.

use std::path::{Path, PathBuf};

use fieldlens_guides::{GuideError, GuideErrors, GuideLibrary, GuidePack, Lang, SheetOptions};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guides")
}

#[test]
fn every_shipped_pack_passes_lint() {
    let library = GuideLibrary::load_dir(&shipped()).unwrap_or_else(|errors| panic!("{errors}"));
    let ids: Vec<&str> = library.packs().iter().map(GuidePack::id).collect();
    assert_eq!(
        ids,
        [
            "air-conditioner",
            "car-claim",
            "dishwasher",
            "refrigerator",
            "washing-machine"
        ]
    );
    for pack in library.packs() {
        assert!(pack.required_steps().count() >= 3, "{}", pack.id());
        for step in pack.steps() {
            assert_eq!(step.profile().target, Some(step.target()), "{}", step.id());
            assert!(!step.title().zh.is_empty() && !step.instruction().en.is_empty());
        }
    }
}

#[test]
fn car_claim_has_the_views_and_paired_damage_shots() {
    let library = GuideLibrary::load_dir(&shipped()).unwrap();
    let car = library.pack_for_case("car_damage", "car").unwrap();
    assert_eq!(car.id(), "car-claim");
    let views = [
        "front",
        "front_left",
        "left",
        "rear_left",
        "rear",
        "rear_right",
        "right",
        "front_right",
    ];
    for view in views {
        let step = car.step(view).unwrap();
        assert!(step.is_required());
        assert_eq!(step.feeds(), [format!("photo.{view}")]);
    }
    for id in ["vin_plate", "dashboard"] {
        assert!(car.step(id).unwrap().is_required(), "{id}");
    }
    let closeup = car.step("damage_closeup").unwrap();
    assert!(closeup.is_repeatable());
    assert_eq!(closeup.pairs_with(), Some("damage_context"));
    assert_eq!(
        car.paired_by("damage_context").unwrap().id(),
        "damage_closeup"
    );
    assert!(car.triage_inputs().contains("damage_closeup"));
}

#[test]
fn appliance_packs_are_found_by_category() {
    let library = GuideLibrary::load_dir(&shipped()).unwrap();
    for (category, pack) in [
        ("washing_machine", "washing-machine"),
        ("refrigerator", "refrigerator"),
        ("dishwasher", "dishwasher"),
        ("air_conditioner", "air-conditioner"),
    ] {
        let found = library.pack_for_case("appliance", category).unwrap();
        assert_eq!(found.id(), pack);
        for input in [
            "rating_plate",
            "error_code_display",
            "appliance_overview",
            "fault_area",
        ] {
            assert!(
                found.triage_inputs().contains(input),
                "{pack} lacks {input}"
            );
        }
    }
    let error = library.pack_for_case("appliance", "toaster").unwrap_err();
    assert!(error.to_string().contains("toaster"), "{error}");
    assert!(
        library
            .pack_for_case("car_damage", "washing_machine")
            .is_err()
    );
}

#[test]
fn contact_sheet_draws_every_step() {
    let library = GuideLibrary::load_dir(&shipped()).unwrap();
    let pack = library.pack("washing-machine").unwrap();
    let sheet = fieldlens_guides::render_contact_sheet(pack, &SheetOptions::default()).unwrap();
    let rows = (pack.steps().len() as u32).div_ceil(4);
    assert_eq!(sheet.width(), 16 + 4 * (360 + 16));
    assert!(sheet.height() > rows * 300);
    // Title ink: dark pixels in the header band.
    let dark = (0..sheet.width())
        .flat_map(|x| (20..50).map(move |y| (x, y)))
        .filter(|&(x, y)| sheet.get_pixel(x, y)[0] < 80)
        .count();
    assert!(dark > 200, "no title drawn ({dark} dark pixels)");
    // Chinese titles need a font with Chinese glyphs; the embedded Latin font says so.
    let chinese = SheetOptions {
        lang: Lang::Zh,
        ..SheetOptions::default()
    };
    let error = fieldlens_guides::render_contact_sheet(pack, &chinese).unwrap_err();
    assert!(matches!(error, GuideError::Font(_)), "{error}");
}

// Broken packs, built in temporary folders.

const GOOD_STEP: &str = r#"
[[steps]]
id = "front"
title = { en = "Front", zh = "正面" }
instruction = { en = "Fit it in the outline.", zh = "放进轮廓线内。" }
overlay = "overlays/front.png"
presence = "required"
feeds = ["photo.front"]
target = { x = 0.1, y = 0.1, w = 0.8, h = 0.8, min_fill = 0.2, max_fill = 0.9 }
"#;

fn manifest(steps: &str) -> String {
    format!(
        r#"id = "test-pack"
version = 1
title = {{ en = "Test", zh = "测试" }}
summary = {{ en = "A test pack.", zh = "测试用的指南包。" }}
[applies_to]
case_kind = "appliance"
categories = ["test_thing"]
{steps}"#
    )
}

/// A guides folder with one pack `test-pack` holding `manifest` and a valid overlay
/// `overlays/front.png`.
fn broken_pack(manifest: &str) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("test-pack");
    std::fs::create_dir_all(dir.join("overlays")).unwrap();
    let overlay = image::RgbaImage::from_fn(120, 90, |x, _| {
        image::Rgba([255, 255, 255, (x % 2 * 200) as u8])
    });
    overlay.save(dir.join("overlays/front.png")).unwrap();
    std::fs::write(dir.join("pack.toml"), manifest).unwrap();
    (root, dir)
}

fn load_errors(manifest_text: &str) -> (tempfile::TempDir, GuideErrors) {
    let (root, _) = broken_pack(manifest_text);
    let errors = GuideLibrary::load_dir(root.path()).expect_err("the pack should be refused");
    (root, errors)
}

fn only(errors: &GuideErrors) -> &GuideError {
    assert_eq!(errors.0.len(), 1, "expected one error, got: {errors}");
    &errors.0[0]
}

#[test]
fn a_good_test_pack_loads() {
    let (root, _) = broken_pack(&manifest(GOOD_STEP));
    let library = GuideLibrary::load_dir(root.path()).unwrap_or_else(|errors| panic!("{errors}"));
    let step = library.step("test-pack", "front").unwrap();
    assert_eq!((step.overlay().width(), step.overlay().height()), (120, 90));
    assert_eq!(step.overlay().sha256().len(), 64);
}

#[test]
fn missing_overlay_names_the_step_and_field() {
    let (_root, errors) = load_errors(&manifest(&GOOD_STEP.replace("front.png", "nowhere.png")));
    let error = only(&errors);
    assert!(
        matches!(error, GuideError::OverlayMissing { .. }),
        "{error}"
    );
    let text = error.to_string();
    for part in [
        "pack.toml",
        "step `front`",
        "field `overlay`",
        "overlays/nowhere.png",
    ] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
}

#[test]
fn unknown_field_names_the_step_and_field() {
    let step = GOOD_STEP.replace("presence =", "colour = \"red\"\npresence =");
    let (_root, errors) = load_errors(&manifest(&step));
    let text = only(&errors).to_string();
    assert!(matches!(only(&errors), GuideError::Syntax { .. }), "{text}");
    for part in ["pack.toml", "step `front`", "colour"] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
    // A misspelt threshold inside the quality table is named with its path.
    let step = format!("{GOOD_STEP}[steps.quality]\nmin_sharpnes = 3.0\n");
    let (_root, errors) = load_errors(&manifest(&step));
    let text = only(&errors).to_string();
    for part in ["step `front`", "field `quality", "min_sharpnes"] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
}

#[test]
fn duplicate_step_id_is_refused() {
    let (_root, errors) = load_errors(&manifest(&format!("{GOOD_STEP}{GOOD_STEP}")));
    let error = only(&errors);
    assert!(
        matches!(
            error,
            GuideError::DuplicateStep {
                first: 1,
                second: 2,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("step `front`"), "{error}");
}

#[test]
fn region_outside_the_frame_names_the_field() {
    let step = GOOD_STEP.replace("x = 0.1, y = 0.1, w = 0.8", "x = 0.5, y = 0.1, w = 0.8");
    let (_root, errors) = load_errors(&manifest(&step));
    let text = only(&errors).to_string();
    for part in [
        "step `front`",
        "field `target.w`",
        "leaves the frame",
        "0.5 + 0.8 = 1.3 > 1",
    ] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
    let negative = GOOD_STEP.replace("x = 0.1,", "x = -0.1,");
    let (_root, errors) = load_errors(&manifest(&negative));
    let error = only(&errors);
    assert!(matches!(error, GuideError::Profile { .. }), "{error}");
    assert!(error.to_string().contains("field `target.x`"), "{error}");

    let inverted = GOOD_STEP.replace(
        "min_fill = 0.2, max_fill = 0.9",
        "min_fill = 0.7, max_fill = 0.3",
    );
    let (_root, errors) = load_errors(&manifest(&inverted));
    assert!(
        only(&errors).to_string().contains("target.min_fill"),
        "{errors}"
    );
}

#[test]
fn paths_leaving_the_pack_are_refused() {
    for path in ["../outside.png", "/etc/passwd.png", "overlays/../../x.png"] {
        let step = GOOD_STEP.replace("overlays/front.png", path);
        let (_root, errors) = load_errors(&manifest(&step));
        let error = only(&errors);
        assert!(
            matches!(error, GuideError::PathEscapes { .. }),
            "{path}: {error}"
        );
        assert!(error.to_string().contains("field `overlay`"), "{error}");
    }
}

#[cfg(unix)]
#[test]
fn symlink_out_of_the_pack_is_refused() {
    let (root, dir) = broken_pack(&manifest(&GOOD_STEP.replace("front.png", "linked.png")));
    let outside = root.path().join("outside.png");
    std::fs::copy(dir.join("overlays/front.png"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("overlays/linked.png")).unwrap();
    let errors = GuideLibrary::load_dir(root.path()).unwrap_err();
    assert!(
        matches!(only(&errors), GuideError::PathEscapes { .. }),
        "{errors}"
    );
}

#[test]
fn overlay_must_be_a_png_with_alpha() {
    let (root, dir) = broken_pack(&manifest(GOOD_STEP));
    image::RgbImage::new(120, 90)
        .save(dir.join("overlays/front.png"))
        .unwrap();
    let errors = GuideLibrary::load_dir(root.path()).unwrap_err();
    let text = only(&errors).to_string();
    assert!(text.contains("transparency"), "{text}");

    std::fs::write(dir.join("overlays/front.png"), b"GIF89a not a png").unwrap();
    let errors = GuideLibrary::load_dir(root.path()).unwrap_err();
    assert!(only(&errors).to_string().contains("not a PNG"), "{errors}");

    // A truncated file passes the header check and fails decoding.
    let mut bytes = Vec::new();
    image::RgbaImage::new(120, 90)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    std::fs::write(dir.join("overlays/front.png"), &bytes[..bytes.len() / 2]).unwrap();
    let errors = GuideLibrary::load_dir(root.path()).unwrap_err();
    assert!(
        matches!(only(&errors), GuideError::OverlayInvalid { .. }),
        "{errors}"
    );
}

#[test]
fn text_and_ids_are_checked() {
    let step = GOOD_STEP
        .replace("zh = \"正面\"", "zh = \"Front\"")
        .replace("\"photo.front\"", "\"Photo Front\"");
    let (_root, errors) = load_errors(&manifest(&step));
    let text = errors.to_string();
    assert_eq!(errors.0.len(), 2, "{text}");
    assert!(
        text.contains("field `title.zh`") && text.contains("no Chinese"),
        "{text}"
    );
    assert!(text.contains("field `feeds[0]`"), "{text}");

    let missing_zh = GOOD_STEP.replace(", zh = \"放进轮廓线内。\"", "");
    let (_root, errors) = load_errors(&manifest(&missing_zh));
    let text = only(&errors).to_string();
    assert!(
        text.contains("step `front`") && text.contains("zh"),
        "{text}"
    );
}

#[test]
fn pairing_rules_are_checked() {
    let closeup = GOOD_STEP.replace(
        "id = \"front\"",
        "id = \"closeup\"\npairs_with = \"front\"\nmax_photos = 3",
    );
    let (_root, errors) = load_errors(&manifest(&format!("{GOOD_STEP}{closeup}")));
    let text = only(&errors).to_string();
    assert!(
        text.contains("field `pairs_with`") && text.contains("same number"),
        "{text}"
    );

    let dangling = GOOD_STEP.replace("id = \"front\"", "id = \"front\"\npairs_with = \"nothing\"");
    let (_root, errors) = load_errors(&manifest(&dangling));
    assert!(
        only(&errors).to_string().contains("no step `nothing`"),
        "{errors}"
    );
}

#[test]
fn folder_name_must_match_and_packs_must_not_conflict() {
    let (root, dir) = broken_pack(&manifest(GOOD_STEP));
    let copy = root.path().join("second-pack");
    std::fs::create_dir_all(copy.join("overlays")).unwrap();
    std::fs::copy(
        dir.join("overlays/front.png"),
        copy.join("overlays/front.png"),
    )
    .unwrap();
    std::fs::write(
        copy.join("pack.toml"),
        manifest(GOOD_STEP).replace("test-pack", "second-pack"),
    )
    .unwrap();
    let errors = GuideLibrary::load_dir(root.path()).unwrap_err();
    let text = only(&errors).to_string();
    assert!(
        text.contains("already guided by pack `second-pack`")
            || text.contains("already guided by pack `test-pack`"),
        "{text}"
    );

    std::fs::write(copy.join("pack.toml"), manifest(GOOD_STEP)).unwrap();
    let errors = GuideLibrary::load_dir(root.path()).unwrap_err();
    assert!(
        errors.to_string().contains("differs from its folder"),
        "{errors}"
    );
}

#[test]
fn overlay_that_is_not_a_regular_file_is_refused() {
    // A folder here; FIFOs and devices take the same path and are never opened.
    let (root, dir) = broken_pack(&manifest(&GOOD_STEP.replace("front.png", "folder.png")));
    std::fs::create_dir(dir.join("overlays/folder.png")).unwrap();
    let errors = GuideLibrary::load_dir(root.path()).unwrap_err();
    let error = only(&errors);
    assert!(
        matches!(error, GuideError::OverlayInvalid { .. }),
        "{error}"
    );
    let text = error.to_string();
    for part in ["step `front`", "field `overlay`", "not a regular file"] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
}

#[test]
fn oversized_manifest_is_not_read() {
    let padding = format!("# {}\n", "x".repeat(300 * 1024));
    let (_root, errors) = load_errors(&format!("{padding}{}", manifest(GOOD_STEP)));
    assert!(
        matches!(only(&errors), GuideError::TooLarge { .. }),
        "{errors}"
    );
}

#[test]
fn empty_folder_has_no_packs() {
    let root = tempfile::tempdir().unwrap();
    let errors = GuideLibrary::load_dir(root.path()).unwrap_err();
    assert!(
        matches!(only(&errors), GuideError::NoPacks { .. }),
        "{errors}"
    );
}
