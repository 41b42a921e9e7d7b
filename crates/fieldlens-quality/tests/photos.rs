//! End-to-end checks on the project's own fixtures: three CC0 photos (Kwentar/blur_dataset, see
//! `tests/fixtures/quality/README.md`) and variants of them generated here, one per reason
//! code, plus malformed input.

use std::sync::OnceLock;

use fieldlens_quality::{
    CheckProfile, PhotoReport, QualityError, Reason, TargetRegion, Verdict, are_duplicates,
    check_photo,
};
use fieldlens_scenes::{Region, scene_oriented};
use opencv::core::{self, Mat, Point, Rect, Scalar, Size, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/fixtures/quality/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The sharp CC0 photo, decoded once.
fn sharp() -> &'static Mat {
    static SHARP: OnceLock<Mat> = OnceLock::new();
    SHARP.get_or_init(|| decode(&fixture("kwentar-176-honor7x-sharp.jpg")))
}

fn decode(bytes: &[u8]) -> Mat {
    imgcodecs::imdecode(&Mat::from_slice(bytes).unwrap(), imgcodecs::IMREAD_COLOR).unwrap()
}

fn encode(image: &Mat, extension: &str, params: &[i32]) -> Vec<u8> {
    let mut out = Vector::<u8>::new();
    imgcodecs::imencode(extension, image, &mut out, &Vector::from_slice(params)).unwrap();
    out.to_vec()
}

fn jpeg(image: &Mat) -> Vec<u8> {
    encode(image, ".jpg", &[imgcodecs::IMWRITE_JPEG_QUALITY, 92])
}

fn check(bytes: &[u8]) -> PhotoReport {
    check_photo(bytes, &CheckProfile::default(), &[]).unwrap()
}

fn reasons(report: &PhotoReport) -> Vec<Reason> {
    report.reasons().collect()
}

/// Asserts a retake whose only reason is `reason`, with sentences in both languages.
fn assert_only(report: &PhotoReport, reason: Reason) {
    assert_eq!(report.verdict, Verdict::Retake, "{report:#?}");
    assert_eq!(reasons(report), vec![reason], "{:?}", report.metrics);
    let issue = &report.issues[0];
    assert!(!issue.message_en.is_empty() && !issue.message_zh.is_empty());
}

/// `gain · pixel + offset`, saturated to 8 bits.
fn scaled(image: &Mat, gain: f64, offset: f64) -> Mat {
    let mut out = Mat::default();
    image
        .convert_to(&mut out, core::CV_8UC3, gain, offset)
        .unwrap();
    out
}

#[test]
fn sharp_photo_is_accepted_with_full_report() {
    let bytes = fixture("kwentar-176-honor7x-sharp.jpg");
    let report = check(&bytes);
    assert_eq!(report.verdict, Verdict::Accept, "{report:#?}");
    assert!(report.issues.is_empty());
    assert_eq!((report.width, report.height), (1024, 768));
    assert_eq!(report.sha256.len(), 64);
    assert_eq!(report.perceptual_hash.len(), 96);
    assert!(report.subject_box.is_some());
    for metric in ["sharpness", "mean_luma", "noise_sigma", "tilt_degrees"] {
        assert!(report.metrics.contains_key(metric), "{metric}");
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "accept");
}

#[test]
fn real_defocus_and_motion_blur_are_told_apart() {
    let defocus = check(&fixture("kwentar-176-honor7x-defocus.jpg"));
    assert_only(&defocus, Reason::Blur);
    assert_eq!(defocus.issues[0].subtype, "defocus");
    let motion = check(&fixture("kwentar-176-honor7x-motion.jpg"));
    assert_only(&motion, Reason::Blur);
    assert_eq!(motion.issues[0].subtype, "motion");
}

#[test]
fn dark_photo_is_underexposed() {
    assert_only(
        &check(&jpeg(&scaled(sharp(), 0.25, 0.0))),
        Reason::Underexposed,
    );
}

#[test]
fn washed_out_photo_is_overexposed() {
    assert_only(
        &check(&jpeg(&scaled(sharp(), 2.2, 40.0))),
        Reason::Overexposed,
    );
}

#[test]
fn specular_highlight_is_glare() {
    let image = sharp().clone();
    // A saturated ellipse with a soft rim on the middle poster, as a flash reflection would be.
    let mut mask = Mat::zeros(image.rows(), image.cols(), core::CV_8U)
        .unwrap()
        .to_mat()
        .unwrap();
    imgproc::ellipse(
        &mut mask,
        Point::new(470, 420),
        Size::new(95, 60),
        20.0,
        0.0,
        360.0,
        Scalar::all(255.0),
        -1,
        imgproc::LINE_AA,
        0,
    )
    .unwrap();
    let mut soft = Mat::default();
    imgproc::gaussian_blur_def(&mask, &mut soft, Size::new(9, 9), 0.0).unwrap();
    let mut alpha = Mat::default();
    soft.convert_to(&mut alpha, core::CV_32F, 1.0 / 255.0, 0.0)
        .unwrap();
    let mut alpha3 = Mat::default();
    imgproc::cvt_color_def(&alpha, &mut alpha3, imgproc::COLOR_GRAY2BGR).unwrap();
    let mut base = Mat::default();
    image
        .convert_to(&mut base, core::CV_32FC3, 1.0, 0.0)
        .unwrap();
    // out = base + alpha·(255 − base)
    let mut headroom = Mat::default();
    core::subtract_def(&Scalar::all(255.0), &base, &mut headroom).unwrap();
    let mut lift = Mat::default();
    core::multiply_def(&alpha3, &headroom, &mut lift).unwrap();
    let mut lit = Mat::default();
    core::add_def(&base, &lift, &mut lit).unwrap();
    assert_only(&check(&jpeg(&scaled(&lit, 1.0, 0.0))), Reason::Glare);
}

/// Deterministic Gaussian noise (Box–Muller over a 64-bit LCG).
fn with_noise(image: &Mat, sigma: f64) -> Mat {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut out = image.clone();
    for value in out.data_bytes_mut().unwrap() {
        let gaussian = (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
        *value = (f64::from(*value) + sigma * gaussian)
            .round()
            .clamp(0.0, 255.0) as u8;
    }
    out
}

#[test]
fn grainy_photo_is_noise() {
    assert_only(&check(&jpeg(&with_noise(sharp(), 30.0))), Reason::Noise);
}

#[test]
fn small_photo_is_low_resolution() {
    let mut small = Mat::default();
    imgproc::resize(
        sharp(),
        &mut small,
        Size::new(640, 480),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .unwrap();
    let report = check(&jpeg(&small));
    assert_only(&report, Reason::LowResolution);
    assert!((report.issues[0].score - 0.3072).abs() < 1e-9);
}

/// The image turned by `degrees` about its centre, cropped to the largest centred rectangle of
/// its aspect without empty corners and scaled back to its size: the dev set's `tilted` recipe.
fn rolled(image: &Mat, degrees: f64) -> Mat {
    let (width, height) = (f64::from(image.cols()), f64::from(image.rows()));
    let centre = core::Point2f::new(width as f32 / 2.0, height as f32 / 2.0);
    let rotation = imgproc::get_rotation_matrix_2d(centre, degrees, 1.0).unwrap();
    let mut rotated = Mat::default();
    imgproc::warp_affine_def(image, &mut rotated, &rotation, image.size().unwrap()).unwrap();
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (sin, cos) = (sin.abs(), cos.abs());
    let scale = (width / (width * cos + height * sin)).min(height / (width * sin + height * cos));
    let (crop_width, crop_height) = ((width * scale) as i32, (height * scale) as i32);
    let crop = Rect::new(
        (image.cols() - crop_width) / 2,
        (image.rows() - crop_height) / 2,
        crop_width,
        crop_height,
    );
    let mut zoomed = Mat::default();
    imgproc::resize(
        &Mat::roi(&rotated, crop).unwrap(),
        &mut zoomed,
        image.size().unwrap(),
        0.0,
        0.0,
        imgproc::INTER_CUBIC,
    )
    .unwrap();
    zoomed
}

#[test]
fn rolled_camera_is_tilted() {
    let report = check(&jpeg(&rolled(sharp(), 25.0)));
    assert!(reasons(&report).contains(&Reason::Tilted), "{report:#?}");
}

/// The tilt look on real pixels: generated car scenes held level look level, and the same scenes
/// rolled look rolled. (The look calls a photo tilted only when the detector also finds a
/// vehicle, which it does not in these drawn scenes; `engine.rs` tests that rule.)
#[test]
fn rolled_car_scenes_look_rolled() {
    let target = Region {
        x: 0.15,
        y: 0.15,
        w: 0.7,
        h: 0.7,
    };
    for seed in 0..3 {
        let upright = decode(&scene_oriented(seed, target, (0.25, 0.6), true, false));
        let look = |image: &Mat| check(&jpeg(image)).metrics["tilt_look"];
        assert!(look(&upright) < 0.1, "seed {seed}: {}", look(&upright));
        for degrees in [-25.0, 25.0] {
            let rolled = look(&rolled(&upright, degrees));
            assert!(rolled > 0.9, "seed {seed}, {degrees}°: {rolled}");
        }
    }
}

#[test]
fn subject_far_away_is_framing_too_far() {
    // The scene shrunk into the middle of a plain wall.
    let mut canvas = Mat::new_rows_cols_with_default(
        1536,
        2048,
        core::CV_8UC3,
        Scalar::new(150.0, 200.0, 215.0, 0.0),
    )
    .unwrap();
    let mut small = Mat::default();
    imgproc::resize(
        sharp(),
        &mut small,
        Size::new(480, 360),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .unwrap();
    small
        .copy_to(&mut Mat::roi_mut(&mut canvas, Rect::new(800, 600, 480, 360)).unwrap())
        .unwrap();
    let report = check(&jpeg(&canvas));
    assert_only(&report, Reason::Framing);
    assert_eq!(report.issues[0].subtype, "too_far");
    let subject = report.subject_box.unwrap();
    assert!(subject.area() < 0.12, "{subject:?}");
}

#[test]
fn subject_outside_target_region_is_off_target() {
    let profile = CheckProfile {
        target: Some(TargetRegion {
            x: 0.0,
            y: 0.0,
            w: 0.4,
            h: 0.4,
            min_fill: 0.05,
            max_fill: 0.95,
        }),
        ..CheckProfile::default()
    };
    let report = check_photo(&fixture("kwentar-176-honor7x-sharp.jpg"), &profile, &[]).unwrap();
    assert_eq!(reasons(&report), vec![Reason::Framing], "{report:#?}");
    assert_eq!(report.issues[0].subtype, "off_target");
}

#[test]
fn photo_of_a_screen_is_recapture() {
    // A monitor on a desk: the photo lit inside a black bezel, seen in a dim room.
    let mut room = Mat::new_rows_cols_with_default(
        1200,
        1600,
        core::CV_8UC3,
        Scalar::new(70.0, 80.0, 90.0, 0.0),
    )
    .unwrap();
    imgproc::rectangle(
        &mut room,
        Rect::new(260, 180, 1080, 800),
        Scalar::all(12.0),
        -1,
        imgproc::LINE_8,
        0,
    )
    .unwrap();
    let mut screen = Mat::default();
    imgproc::resize(
        &scaled(sharp(), 1.1, 25.0),
        &mut screen,
        Size::new(1000, 720),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .unwrap();
    screen
        .copy_to(&mut Mat::roi_mut(&mut room, Rect::new(300, 220, 1000, 720)).unwrap())
        .unwrap();
    let report = check(&jpeg(&room));
    assert!(reasons(&report).contains(&Reason::Recapture), "{report:#?}");
}

/// A printed page of text lying turned on a patterned tablecloth, as the dev set's printout
/// recaptures show it: `fill` of the frame, turned by `degrees`.
fn printed_page(fill: f64, degrees: f64) -> Mat {
    let (width, height) = (1200, 1600);
    let mut seed = 7_u32;
    let mut next = move |below: i32| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as i32 % below
    };
    let mut photo = Mat::new_rows_cols_with_default(
        height,
        width,
        core::CV_8UC3,
        Scalar::new(40.0, 90.0, 190.0, 0.0),
    )
    .unwrap();
    for _ in 0..120 {
        let centre = Point::new(next(width), next(height));
        let (radius, thickness) = (15 + next(45), 3 + next(5));
        let swirl = Scalar::new(20.0, 30.0, 60.0, 0.0);
        imgproc::circle(
            &mut photo,
            centre,
            radius,
            swirl,
            thickness,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
    }
    let page_height = (f64::from(height) * fill.sqrt()) as i32;
    let page_width = (f64::from(page_height) / 1.414) as i32;
    let mut page =
        Mat::new_rows_cols_with_default(height, width, core::CV_8UC3, Scalar::all(0.0)).unwrap();
    let (left, top) = ((width - page_width) / 2, (height - page_height) / 2);
    let sheet = Rect::new(left, top, page_width, page_height);
    imgproc::rectangle(&mut page, sheet, Scalar::all(235.0), -1, imgproc::LINE_8, 0).unwrap();
    let line_height = page_height * 3 / 100;
    let mut baseline = top + page_height * 8 / 100;
    while baseline < top + page_height * 92 / 100 {
        let words: Vec<String> = (0..4 + next(6))
            .map(|_| {
                (0..2 + next(7))
                    .map(|_| char::from(b'a' + next(26) as u8))
                    .collect()
            })
            .collect();
        imgproc::put_text(
            &mut page,
            &words.join(" "),
            Point::new(left + page_width / 10, baseline),
            imgproc::FONT_HERSHEY_SIMPLEX,
            f64::from(page_height) / 2400.0,
            Scalar::all(30.0),
            1,
            imgproc::LINE_AA,
            false,
        )
        .unwrap();
        baseline += line_height + if next(100) < 15 { line_height } else { 0 };
    }
    let centre = core::Point2f::new(width as f32 / 2.0, height as f32 / 2.0);
    let rotation = imgproc::get_rotation_matrix_2d(centre, degrees, 1.0).unwrap();
    let mut turned = Mat::default();
    imgproc::warp_affine_def(&page, &mut turned, &rotation, page.size().unwrap()).unwrap();
    let mut gray = Mat::default();
    imgproc::cvt_color_def(&turned, &mut gray, imgproc::COLOR_BGR2GRAY).unwrap();
    let mut mask = Mat::default();
    imgproc::threshold(&gray, &mut mask, 1.0, 255.0, imgproc::THRESH_BINARY).unwrap();
    turned.copy_to_masked(&mut photo, &mask).unwrap();
    photo
}

/// The detector sees printed matter filling the frame, as bright as paper: the page is called a
/// recapture of a print (the screen outline also sees its bright quadrilateral, but less surely).
#[test]
fn photo_of_a_printed_page_is_recapture() {
    for (fill, degrees) in [(0.5, 10.0), (0.6, 4.0)] {
        let report = check(&jpeg(&printed_page(fill, degrees)));
        assert_only(&report, Reason::Recapture);
        assert_eq!(report.issues[0].subtype, "print", "{fill}: {report:#?}");
        assert!(report.metrics["print_share"] > 0.35, "{:?}", report.metrics);
    }
}

#[test]
fn resized_recompressed_crop_is_a_duplicate() {
    let original = fixture("kwentar-176-honor7x-sharp.jpg");
    let first = check(&original);
    let crop = Mat::roi(sharp(), Rect::new(51, 0, 973, 730)).unwrap();
    let mut copy = Mat::default();
    imgproc::resize(
        &crop,
        &mut copy,
        Size::new(700, 525),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .unwrap();
    let copy = encode(&copy, ".jpg", &[imgcodecs::IMWRITE_JPEG_QUALITY, 70]);
    let profile = CheckProfile::default();
    let second = check_photo(&copy, &profile, &[first.fingerprint()]).unwrap();
    assert!(reasons(&second).contains(&Reason::Duplicate), "{second:#?}");
    assert_eq!(second.duplicate_of.as_deref(), Some(first.sha256.as_str()));
    assert!(are_duplicates(&original, &copy, &profile).unwrap().0);

    // The same scene turned on its side is a different photo.
    let turned = jpeg(&sharp().t().unwrap().to_mat().unwrap());
    let third = check_photo(&turned, &profile, &[first.fingerprint()]).unwrap();
    assert!(!reasons(&third).contains(&Reason::Duplicate), "{third:#?}");
    assert!(third.duplicate_of.is_none());
    let (duplicate, distance) = are_duplicates(&original, &turned, &profile).unwrap();
    assert!(!duplicate, "distance {distance}");
}

#[test]
fn empty_input_is_refused() {
    assert!(matches!(
        check_photo(&[], &CheckProfile::default(), &[]),
        Err(QualityError::Empty)
    ));
}

#[test]
fn truncated_jpeg_is_refused() {
    let bytes = fixture("kwentar-176-honor7x-sharp.jpg");
    let error = check_photo(&bytes[..bytes.len() / 2], &CheckProfile::default(), &[]).unwrap_err();
    assert!(
        matches!(error, QualityError::Truncated { format: "JPEG", .. }),
        "{error}"
    );
}

#[test]
fn random_bytes_are_unsupported() {
    let mut state = 7u32;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    let error = check_photo(&bytes, &CheckProfile::default(), &[]).unwrap_err();
    assert!(
        matches!(error, QualityError::UnsupportedFormat(_)),
        "{error}"
    );
}

/// A PNG signature and IHDR claiming `width`×`height`, with no pixel data at all.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn png_header_claiming_huge_size_is_refused_before_decoding() {
    let error =
        check_photo(&png_header(60_000, 60_000), &CheckProfile::default(), &[]).unwrap_err();
    assert!(
        matches!(
            error,
            QualityError::TooManyPixels {
                width: 60_000,
                height: 60_000,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("60000x60000"));

    // The same claim followed by a little compressed data and IEND, as a real bomb would be.
    let mut bomb = png_header(60_000, 60_000);
    for (kind, data) in [
        (&b"IDAT"[..], &[0x78u8, 0x9c, 0x63, 0, 0, 0, 1, 0, 1][..]),
        (b"IEND", &[]),
    ] {
        bomb.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let chunk = [kind, data].concat();
        bomb.extend_from_slice(&chunk);
        bomb.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    let error = check_photo(&bomb, &CheckProfile::default(), &[]).unwrap_err();
    assert!(
        matches!(error, QualityError::TooManyPixels { .. }),
        "{error}"
    );
}

#[test]
fn oversized_input_is_refused() {
    let profile = CheckProfile {
        max_bytes: 1000,
        ..CheckProfile::default()
    };
    let error = check_photo(&fixture("kwentar-176-honor7x-sharp.jpg"), &profile, &[]).unwrap_err();
    assert!(
        matches!(error, QualityError::TooManyBytes { limit: 1000, .. }),
        "{error}"
    );
}

#[test]
fn cmyk_jpeg_is_checked() {
    let mut small = Mat::default();
    imgproc::resize(
        sharp(),
        &mut small,
        Size::new(1024, 768),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .unwrap();
    let bgr = small.data_bytes().unwrap();
    let cmyk: Vec<u8> = bgr
        .chunks_exact(3)
        .flat_map(|p| {
            let (b, g, r) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
            let k = 255.0 - r.max(g).max(b);
            let part = |v: f64| {
                if k >= 255.0 {
                    0.0
                } else {
                    (255.0 - v - k) / (255.0 - k) * 255.0
                }
            };
            [part(r), part(g), part(b), k].map(|v| v.round() as u8)
        })
        .collect();
    let mut bytes = Vec::new();
    jpeg_encoder::Encoder::new(&mut bytes, 92)
        .encode(&cmyk, 1024, 768, jpeg_encoder::ColorType::Cmyk)
        .unwrap();
    let report = check(&bytes);
    assert_eq!((report.width, report.height), (1024, 768));
    assert_eq!(report.verdict, Verdict::Accept, "{report:#?}");
}

#[test]
fn sixteen_bit_png_is_checked() {
    let mut deep = Mat::default();
    sharp()
        .convert_to(&mut deep, core::CV_16UC3, 257.0, 0.0)
        .unwrap();
    let bytes = encode(&deep, ".png", &[]);
    assert_eq!(bytes[24], 16, "bit depth in IHDR");
    let report = check(&bytes);
    assert_eq!(report.verdict, Verdict::Accept, "{report:#?}");
}

#[test]
fn webp_is_checked() {
    let bytes = encode(sharp(), ".webp", &[imgcodecs::IMWRITE_WEBP_QUALITY, 90]);
    assert_eq!(check(&bytes).verdict, Verdict::Accept);
}

/// Inserts an EXIF APP1 segment with the given orientation tag right after SOI.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // padding, next IFD = 0
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_rotated_photo_reports_upright_size() {
    let bytes = with_exif_orientation(&fixture("kwentar-176-honor7x-sharp.jpg"), 6);
    let report = check(&bytes);
    assert_eq!((report.width, report.height), (768, 1024));
    // Turned upright, the posters' frames are level again: no tilt, same verdict.
    assert_eq!(report.verdict, Verdict::Accept, "{report:#?}");
}

#[test]
fn skipped_checks_are_not_reported() {
    let profile = CheckProfile {
        skip: vec![Reason::Blur],
        ..CheckProfile::default()
    };
    let report = check_photo(&fixture("kwentar-176-honor7x-motion.jpg"), &profile, &[]).unwrap();
    assert_eq!(report.verdict, Verdict::Accept, "{report:#?}");
}

#[test]
fn checker_is_send_and_sync_across_threads() {
    let bytes = fixture("kwentar-176-honor7x-sharp.jpg");
    let reports: Vec<PhotoReport> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3).map(|_| scope.spawn(|| check(&bytes))).collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    assert!(
        reports
            .windows(2)
            .all(|pair| pair[0].metrics == pair[1].metrics)
    );
}
