//! The checker: decode once, measure everything on the working copy, then judge against the profile.
//!
//! Measuring ([`measure`]) and judging ([`judge`]) are separate so the decision rules are plain
//! functions of numbers and a profile, testable without images.

use std::collections::BTreeMap;
use std::time::Instant;

use opencv::core::Mat;
use opencv::imgproc;
use opencv::prelude::*;
use sha2::{Digest, Sha256};

use crate::decode::{self, Decoded};
use crate::duplicate::{Fingerprint, Hashes};
use crate::exposure::{self, Exposure, Glare};
use crate::looks;
use crate::objects::{self, Detection};
use crate::recapture::{self, Recapture};
use crate::report::{Issue, NormalizedBox, PhotoReport, Reason, Verdict};
use crate::sharpness::{self, BlurMeasure};
use crate::subject::{self, Subject};
use crate::tilt::{self, Tilt};
use crate::{CheckProfile, QualityError};

/// Smallest subject contrast (mean saliency inside minus outside the mask) for a subject to
/// count as found; below it the scene has no distinct subject and framing is not judged.
const MIN_SUBJECT_CONTRAST: f64 = 0.2;

/// Weakest detector score for a car, bus or truck to count as the photo's vehicle.
const MIN_VEHICLE_SCORE: f32 = 0.35;
/// Weakest detector score for a vehicle box to count as a possible subject when judging whether
/// every vehicle in the frame is small (a big car the detector is less sure of still rules out
/// "too far").
const MIN_LARGE_VEHICLE_SCORE: f32 = 0.25;
/// Multiple of the minimum fill at which the segmented subject (the GrabCut mask) counts as
/// plainly larger than a small vehicle, which is then background rather than a subject too far
/// away (when the car is the subject, the mask hugs it: about its size).
const LARGER_SUBJECT_FILL: f64 = 1.5;
/// A vehicle box closer than this share of the frame to an edge reaches it (the detector's
/// boxes sit within about 1% of a car's extent; a well-framed car keeps a 2% margin).
const MAX_CUT_MARGIN: f64 = 0.01;
/// Frame edges a vehicle box must reach, and the share of the frame it must fill, to be judged
/// cut off from its box alone: a car that big running out of two sides is cut off or too close.
const MIN_CUT_EDGES: usize = 2;
const MIN_CUT_FILL: f64 = 0.5;
/// Weakest detector score and darkest mean luma inside the box for a TV, monitor, laptop or
/// phone to count as evidence of a recaptured picture: a display photographed to pass off its
/// picture shows a lit picture (a switched-off screen, a phone case or a dark picture frame does
/// not). The score is the detector's own floor: at the 256-px input the same screens score
/// about 0.2–0.4 where they scored 0.25–0.5 at 416, and the share and luma rules below carry the
/// decision.
const MIN_DISPLAY_SCORE: f32 = 0.2;
const MIN_DISPLAY_LUMA: f64 = 75.0;
/// Darkest mean luma inside the box of printed matter (the detector's COCO `book`: books,
/// magazines, sheets of paper) for it to count as a printed page: paper reflects four to five
/// times what mid-grey does, so a page the camera meters reads above the mid-grey (about 118)
/// that metering aims the frame at; a dark, detailed label or panel the detector takes for a
/// book does not.
const MIN_PAGE_LUMA: f64 = 120.0;
/// Share of the frame at which a lit display's or a page's recapture evidence reaches the
/// default limit (0.5): a display or a printout photographed to pass off its picture fills a
/// good part of the frame. Steps that photograph a display on purpose raise
/// `max_recapture_score` as they do for outlines.
const RECAPTURED_SHARE_AT_DEFAULT_LIMIT: f64 = 0.35;
/// Least screen look ([`looks::screen_look`]) that confirms a recapture rule's finding: the
/// rules find the shape of a screen, the look says whether the scene is one. A low bar: none of
/// the dev set's recaptures the rules find looks less like a screen (cross-fitted), while a
/// laptop lid or framed pictures on a wall found by the rules do.
const MIN_SCREEN_LOOK: f64 = 0.2;
/// Least tilt look ([`looks::tilt_look`]) that calls a vehicle scene tilted by itself: the least
/// bar at which under 1% of the level photos made for its training are called rolled, scored by
/// a look fitted without them (`train/train_tilt_look.py`). No rule checks this finding, so the
/// look must be sure.
const MIN_TILT_LOOK: f64 = 0.9;
/// Largest tilt limit the tilt look speaks for: it was taught rolls of 15–35° against rolls of
/// 0–5°, so it tells a photo over a limit of 10° from one well under it; a profile that allows
/// more leaves tilt to the lines.
const TILT_LOOK_LIMIT: f64 = 10.0;

/// Capture defects that make a photo unreadable for the content checks (tilt, framing,
/// recapture): these are judged only on a photo free of them.
const UNREADABLE: [Reason; 4] = [
    Reason::Blur,
    Reason::Underexposed,
    Reason::Overexposed,
    Reason::Noise,
];

/// Everything measured on one photo.
#[derive(Debug, Clone)]
pub(crate) struct Measurements {
    pub width: u32,
    pub height: u32,
    pub exposure: Exposure,
    pub glare: Glare,
    pub blur: BlurMeasure,
    pub noise_sigma: f64,
    /// `None` when the profile does not check tilt (LSD is the dearest classical step).
    pub tilt: Option<Tilt>,
    /// How much the scene looks like a rolled vehicle scene ([`looks::tilt_look`]); `None` when
    /// the profile does not check tilt.
    pub tilt_look: Option<f64>,
    pub subject: Subject,
    /// The screen-outline cue; `None` when the profile does not check recapture.
    pub recapture: Option<Recapture>,
    /// How much the scene looks like a photo of a screen ([`looks::screen_look`]); `None` when the
    /// profile does not check recapture.
    pub screen_look: Option<f64>,
    /// Objects found by the detector, strongest first.
    pub objects: Vec<Detection>,
    /// The largest display (TV, monitor, laptop, phone) found with at least
    /// [`MIN_DISPLAY_SCORE`], and the mean luma inside its box.
    pub display: Option<(Detection, f64)>,
    /// The largest printed matter (COCO `book`) found, and the mean luma inside its box.
    pub print: Option<(Detection, f64)>,
    pub hashes: Hashes,
}

fn gray_of(bgr: &Mat) -> Result<Mat, QualityError> {
    let mut gray = Mat::default();
    imgproc::cvt_color_def(bgr, &mut gray, imgproc::COLOR_BGR2GRAY)?;
    Ok(gray)
}

/// Takes every measurement on a decoded photo that the profile's checks read. The detector and
/// the subject run whatever the profile: the report always carries the subject box.
pub(crate) fn measure(
    decoded: &Decoded,
    profile: &CheckProfile,
) -> Result<Measurements, QualityError> {
    let gray = gray_of(&decoded.bgr)?;
    let scene = objects::detect(&decoded.bgr)?;
    let checks_recapture = profile.checks(Reason::Recapture);
    let checks_tilt = profile.checks(Reason::Tilted);
    // The largest object of a kind, with the mean luma inside its box.
    let largest = |kind: fn(&Detection) -> bool| {
        scene
            .objects
            .iter()
            .filter(|d| kind(d))
            .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
            .map(|d| Ok::<_, QualityError>((*d, mean_inside(&gray, &d.bbox)?)))
            .transpose()
    };
    let display = largest(|d| d.is_display() && d.score >= MIN_DISPLAY_SCORE)?;
    let print = largest(Detection::is_printed_matter)?;
    Ok(Measurements {
        width: decoded.header.width,
        height: decoded.header.height,
        exposure: exposure::measure_exposure(&gray)?,
        glare: exposure::find_glare(&gray)?,
        blur: sharpness::measure_blur(&gray)?,
        noise_sigma: sharpness::measure_noise(&gray)?,
        tilt: checks_tilt.then(|| tilt::measure_tilt(&gray)).transpose()?,
        tilt_look: checks_tilt
            .then(|| looks::tilt_look(&scene.features))
            .transpose()?,
        subject: subject::estimate_subject(&decoded.bgr)?,
        recapture: checks_recapture
            .then(|| recapture::measure_recapture(&gray))
            .transpose()?,
        screen_look: checks_recapture
            .then(|| looks::screen_look(&scene.features))
            .transpose()?,
        objects: scene.objects,
        display,
        print,
        hashes: Hashes::of(&decoded.bgr)?,
    })
}

/// Mean of a grey image inside a normalised box.
fn mean_inside(gray: &Mat, bbox: &NormalizedBox) -> Result<f64, QualityError> {
    let (width, height) = (f64::from(gray.cols()), f64::from(gray.rows()));
    let x = ((bbox.x * width) as i32).clamp(0, gray.cols() - 1);
    let y = ((bbox.y * height) as i32).clamp(0, gray.rows() - 1);
    let w = (((bbox.x + bbox.w) * width).ceil() as i32).clamp(x + 1, gray.cols()) - x;
    let h = (((bbox.y + bbox.h) * height).ceil() as i32).clamp(y + 1, gray.rows()) - y;
    let inside = Mat::roi(gray, opencv::core::Rect::new(x, y, w, h))?;
    Ok(opencv::core::mean_def(&inside)?[0])
}

impl Measurements {
    /// The measurements as named metrics.
    pub(crate) fn metrics(&self) -> BTreeMap<String, f64> {
        let subject = &self.subject;
        let [left, top, right, bottom] = subject.edge_contact;
        let [car_left, car_top, car_right, car_bottom] = subject.car_edge;
        [
            ("megapixels", self.megapixels()),
            ("mean_luma", self.exposure.mean_luma),
            ("median_luma", self.exposure.median_luma),
            ("clipped_high_share", self.exposure.clipped_high_share),
            ("clipped_low_share", self.exposure.clipped_low_share),
            ("glare_share", self.glare.share),
            ("glare_ellipse_iou", self.glare.ellipse_iou),
            ("glare_halo_spread", self.glare.halo_spread),
            ("sharpness", self.blur.sharpness),
            ("blur_anisotropy", self.blur.anisotropy),
            ("noise_sigma", self.noise_sigma),
            ("subject_fill", subject.bbox.area()),
            ("salient_fill", subject.salient_fill),
            ("subject_mask_share", subject.mask_share),
            ("subject_contrast", subject.contrast),
            ("edge_contact_left", left),
            ("edge_contact_top", top),
            ("edge_contact_right", right),
            ("edge_contact_bottom", bottom),
            ("car_edge_left", car_left),
            ("car_edge_top", car_top),
            ("car_edge_right", car_right),
            ("car_edge_bottom", car_bottom),
            ("car_share", subject.car_share),
        ]
        .into_iter()
        .chain(self.tilt.iter().flat_map(|tilt| {
            [
                ("tilt_degrees", tilt.degrees),
                ("level_line_share", tilt.level_share),
                ("line_peak_share", tilt.peak_share),
                ("line_evidence", tilt.evidence),
            ]
        }))
        .chain(self.recapture.iter().flat_map(|recapture| {
            [
                ("recapture_score", recapture.score),
                ("screen_outline_share", recapture.outline_share),
                ("bezel_contrast", recapture.bezel_contrast),
            ]
        }))
        .chain(self.tilt_look.map(|look| ("tilt_look", look)))
        .chain(self.screen_look.map(|look| ("screen_look", look)))
        .chain(
            self.vehicle()
                .map(|v| ("vehicle_score", f64::from(v.score))),
        )
        .chain(
            self.largest_vehicle_fill()
                .map(|fill| ("vehicle_fill", fill)),
        )
        .chain(self.display.iter().flat_map(|(display, luma)| {
            [
                ("display_score", f64::from(display.score)),
                ("display_share", display.bbox.area()),
                ("display_luma", *luma),
            ]
        }))
        .chain(self.print.iter().flat_map(|(print, luma)| {
            [
                ("print_score", f64::from(print.score)),
                ("print_share", print.bbox.area()),
                ("print_luma", *luma),
            ]
        }))
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    fn megapixels(&self) -> f64 {
        f64::from(self.width) * f64::from(self.height) / 1e6
    }

    /// The photo's vehicle: the detector's most confident car, bus or truck.
    pub(crate) fn vehicle(&self) -> Option<&Detection> {
        self.objects
            .iter()
            .find(|d| d.is_vehicle() && d.score >= MIN_VEHICLE_SCORE)
    }

    /// The subject box: the vehicle's box when the detector found one, else the salient
    /// subject's when the scene has a distinct subject.
    pub(crate) fn subject_box(&self) -> Option<NormalizedBox> {
        match self.vehicle() {
            Some(vehicle) => Some(vehicle.bbox),
            None => (self.subject.contrast >= MIN_SUBJECT_CONTRAST).then_some(self.subject.bbox),
        }
    }

    /// The largest share of the frame covered by a vehicle the detector is at least fairly
    /// sure of, when it found a vehicle at all.
    fn largest_vehicle_fill(&self) -> Option<f64> {
        self.vehicle()?;
        self.objects
            .iter()
            .filter(|d| d.is_vehicle() && d.score >= MIN_LARGE_VEHICLE_SCORE)
            .map(|d| d.bbox.area())
            .max_by(f64::total_cmp)
    }

    /// How many frame edges the vehicle's box reaches (margin under [`MAX_CUT_MARGIN`]), when
    /// there is a vehicle.
    fn vehicle_edges_reached(&self) -> Option<usize> {
        let margins = self.vehicle()?.bbox.margins();
        Some(margins.iter().filter(|&&m| m < MAX_CUT_MARGIN).count())
    }

    /// Evidence, 0..1, that the photo shows a display's lit picture: its share of the frame,
    /// scaled so that [`RECAPTURED_SHARE_AT_DEFAULT_LIMIT`] gives 0.5; 0 without a lit display.
    fn display_recapture_score(&self) -> f64 {
        recaptured_share_score(self.display, MIN_DISPLAY_LUMA)
    }

    /// Evidence, 0..1, that the photo shows a printed page: its share of the frame, scaled as
    /// for a display; 0 without printed matter as bright as paper.
    fn print_recapture_score(&self) -> f64 {
        recaptured_share_score(self.print, MIN_PAGE_LUMA)
    }
}

/// The share of the frame an object covers, scaled so that [`RECAPTURED_SHARE_AT_DEFAULT_LIMIT`]
/// gives 0.5 and capped at 1; 0 when there is none or it is darker than `min_luma`.
fn recaptured_share_score(object: Option<(Detection, f64)>, min_luma: f64) -> f64 {
    match object {
        Some((object, luma)) if luma >= min_luma => {
            (object.bbox.area() * 0.5 / RECAPTURED_SHARE_AT_DEFAULT_LIMIT).min(1.0)
        }
        _ => 0.0,
    }
}

/// Applies the profile's thresholds to the measurements; returns the issues found. The content
/// checks are judged only on a photo without an [`UNREADABLE`] capture defect.
pub(crate) fn judge(m: &Measurements, profile: &CheckProfile) -> Vec<Issue> {
    let checked = |issues: Vec<Issue>| {
        issues
            .into_iter()
            .filter(|issue| profile.checks(issue.reason))
    };
    let mut issues: Vec<Issue> = checked(capture_issues(m, profile)).collect();
    if !issues
        .iter()
        .any(|issue| UNREADABLE.contains(&issue.reason))
    {
        issues.extend(checked(content_issues(m, profile)));
    }
    issues
}

/// Resolution, blur, exposure, glare and noise: every issue found, whether the profile checks
/// it or not.
fn capture_issues(m: &Measurements, profile: &CheckProfile) -> Vec<Issue> {
    let mut issues = Vec::new();
    let mut add = |candidate: Option<Issue>| issues.extend(candidate);

    let megapixels = m.megapixels();
    let min_mp = f64::from(profile.min_megapixels);
    add((megapixels < min_mp).then(|| Issue::new(Reason::LowResolution, "", megapixels, min_mp)));

    let blur = m.blur;
    let min_sharpness = f64::from(profile.min_sharpness);
    let max_anisotropy = f64::from(profile.max_motion_anisotropy);
    // Motion blur keeps detail across the motion, so it is judged with a looser sharpness limit
    // when the blur is strongly one-directional.
    let motion = blur.anisotropy > max_anisotropy;
    let blurred =
        blur.sharpness < min_sharpness || (motion && blur.sharpness < 2.0 * min_sharpness);
    add(blurred.then(|| {
        let (subtype, threshold) = if motion {
            ("motion", 2.0 * min_sharpness)
        } else {
            ("defocus", min_sharpness)
        };
        Issue::new(Reason::Blur, subtype, blur.sharpness, threshold)
    }));

    let exposure = m.exposure;
    let min_luma = f64::from(profile.min_mean_luma);
    let max_luma = f64::from(profile.max_mean_luma);
    add((exposure.mean_luma < min_luma)
        .then(|| Issue::new(Reason::Underexposed, "", exposure.mean_luma, min_luma)));
    let washed_out = (exposure.clipped_high_share - m.glare.share).max(0.0);
    let max_clipped = f64::from(profile.max_clipped_share);
    add(if exposure.mean_luma > max_luma {
        Some(Issue::new(
            Reason::Overexposed,
            "",
            exposure.mean_luma,
            max_luma,
        ))
    } else {
        (washed_out > max_clipped)
            .then(|| Issue::new(Reason::Overexposed, "", washed_out, max_clipped))
    });

    let max_glare = f64::from(profile.max_glare_share);
    add((m.glare.share > max_glare)
        .then(|| Issue::new(Reason::Glare, "", m.glare.share, max_glare)));

    let max_noise = f64::from(profile.max_noise_sigma);
    add((m.noise_sigma > max_noise)
        .then(|| Issue::new(Reason::Noise, "", m.noise_sigma, max_noise)));

    issues
}

/// The content checks (tilt, framing, recapture) read edges, lines, outlines and colours; on a
/// photo already retaken for blur, exposure or noise those are smeared, crushed, clipped or
/// swamped, and what they would find there is an artefact of that defect, not a second finding.
/// Returns every content issue found, whether the profile checks it or not.
fn content_issues(m: &Measurements, profile: &CheckProfile) -> Vec<Issue> {
    let mut issues = Vec::new();
    let mut add = |candidate: Option<Issue>| issues.extend(candidate);

    add(tilted(m, profile));

    add(framing(m, profile));

    // Three cues, one limit: a lit screen outline or a detected display filling the frame, when
    // the scene looks like a screen; or a bright printed page filling the frame (the screen look
    // was taught screens, not paper). The strongest speaks.
    let max_recapture = f64::from(profile.max_recapture_score);
    let looks_like_a_screen = m.screen_look.is_none_or(|look| look >= MIN_SCREEN_LOOK);
    let screen_cues = [
        (
            m.recapture.map_or(0.0, |recapture| recapture.score),
            "screen",
        ),
        (m.display_recapture_score(), "display"),
    ];
    let (recapture, subtype) = screen_cues
        .into_iter()
        .filter(|_| looks_like_a_screen)
        .chain([(m.print_recapture_score(), "print")])
        .fold(
            (0.0, ""),
            |best, cue| if cue.0 > best.0 { cue } else { best },
        );
    add((recapture > max_recapture)
        .then(|| Issue::new(Reason::Recapture, subtype, recapture, max_recapture)));
    issues
}

/// Tilt, two cues: the line rule (`tilt.rs`) reads the roll off the long straight lines; in a
/// vehicle scene, whose body lines converge in perspective, the tilt look may also call the
/// photo tilted when the profile's limit is one it speaks for.
fn tilted(m: &Measurements, profile: &CheckProfile) -> Option<Issue> {
    let max_tilt = f64::from(profile.max_tilt_degrees);
    if let Some(tilt) = m.tilt.filter(|tilt| tilt.over(max_tilt)) {
        let roll = tilt.degrees.abs();
        return Some(Issue::new(Reason::Tilted, "lines", roll, max_tilt));
    }
    let look = m.tilt_look?;
    (look >= MIN_TILT_LOOK && max_tilt <= TILT_LOOK_LIMIT && m.vehicle().is_some())
        .then(|| Issue::new(Reason::Tilted, "look", look, MIN_TILT_LOOK))
}

/// Framing: a subject running out of the frame on two or more edges, or plainly on one, is cut
/// off (too close when it also fills the frame); otherwise its box is held against the target
/// region when the profile sets one, else against the fill limits.
fn framing(m: &Measurements, profile: &CheckProfile) -> Option<Issue> {
    let subject = m.subject_box()?;
    let fill = subject.area();
    let (min_fill, max_fill) = match profile.target {
        Some(target) => (f64::from(target.min_fill), f64::from(target.max_fill)),
        None => (
            f64::from(profile.min_subject_fill),
            f64::from(profile.max_subject_fill),
        ),
    };
    // A subject running out of three edges, or filling more than allowed, is too close.
    let cut_subtype = |edges: usize| {
        if edges >= 3 || fill > max_fill {
            "too_close"
        } else {
            "cut_off"
        }
    };
    let edges_reached = m.vehicle_edges_reached();
    if let Some(edges) =
        edges_reached.filter(|&edges| edges >= MIN_CUT_EDGES && fill >= MIN_CUT_FILL)
    {
        return Some(Issue::new(
            Reason::Framing,
            cut_subtype(edges),
            edges as f64,
            (MIN_CUT_EDGES - 1) as f64,
        ));
    }
    // A vehicle whose box reaches no frame edge is whole in the frame, whatever the cells along
    // an edge look like (a road or a shadow can look like car body).
    let whole_vehicle = edges_reached == Some(0);
    let min_contact = f64::from(profile.max_edge_contact);
    let (cut_edges, contact) = m.subject.cut_edges(min_contact);
    if cut_edges >= 2 && !whole_vehicle {
        let subtype = cut_subtype(cut_edges);
        return Some(Issue::new(Reason::Framing, subtype, contact, min_contact));
    }
    if let Some(contact) = m
        .subject
        .clear_cut_edge(min_contact)
        .filter(|_| !whole_vehicle)
    {
        return Some(Issue::new(
            Reason::Framing,
            cut_subtype(1),
            contact,
            min_contact,
        ));
    }
    if fill > max_fill {
        return Some(Issue::new(Reason::Framing, "too_close", fill, max_fill));
    }
    // With a vehicle in view, too far means every vehicle the detector sees is small, unless
    // the segmented subject is plainly larger (a close-up of a part with a car parked behind
    // it: the car is background). Without one, small only when the saliency map agrees: the
    // refined mask can shrink to a detail of a scene without a car, the saliency box does not.
    let far_fill = match m.largest_vehicle_fill() {
        Some(_) if m.subject.mask_share >= LARGER_SUBJECT_FILL * min_fill => None,
        Some(vehicle) => Some(vehicle),
        None => Some(fill.max(m.subject.salient_fill)),
    };
    if let Some(far_fill) = far_fill.filter(|&far_fill| far_fill < min_fill) {
        return Some(Issue::new(Reason::Framing, "too_far", far_fill, min_fill));
    }
    let target = profile.target?;
    let region = NormalizedBox {
        x: f64::from(target.x),
        y: f64::from(target.y),
        w: f64::from(target.w),
        h: f64::from(target.h),
    };
    let inside = subject.intersection(&region) / fill.max(1e-9);
    let min_overlap = f64::from(profile.min_target_overlap);
    (inside < min_overlap).then(|| Issue::new(Reason::Framing, "off_target", inside, min_overlap))
}

/// Checks one encoded photo (JPEG, PNG or WebP) against a profile and the fingerprints of
/// earlier photos of the same case.
///
/// Never panics on input: anything that cannot be checked is a [`QualityError`] naming the
/// problem. Safe to call from many threads at once. The first call in a process also pays
/// for OpenCV's one-time set-up (its Lab colour tables, about 150 ms).
pub fn check_photo(
    bytes: &[u8],
    profile: &CheckProfile,
    earlier: &[Fingerprint],
) -> Result<PhotoReport, QualityError> {
    let started = Instant::now();
    profile.validate()?;
    let decoded = decode::decode(bytes, profile)?;
    let measured = measure(&decoded, profile)?;
    let mut issues = judge(&measured, profile);
    let mut metrics = measured.metrics();
    let sha256 = hex::encode(Sha256::digest(bytes));

    let mut duplicate_of = None;
    if profile.checks(Reason::Duplicate) && !earlier.is_empty() {
        let max_distance = profile.max_duplicate_distance;
        let mut closest: Option<(u32, &Fingerprint)> = None;
        for candidate in earlier {
            let distance = if candidate.sha256 == sha256 {
                0
            } else {
                measured
                    .hashes
                    .distance(&Hashes::parse(&candidate.perceptual_hash)?)
            };
            if closest.is_none_or(|(best, _)| distance < best) {
                closest = Some((distance, candidate));
            }
        }
        if let Some((distance, candidate)) = closest {
            metrics.insert("duplicate_distance".into(), f64::from(distance));
            if distance <= max_distance {
                duplicate_of = Some(candidate.sha256.clone());
                issues.push(Issue::new(
                    Reason::Duplicate,
                    "",
                    f64::from(distance),
                    f64::from(max_distance),
                ));
            }
        }
    }

    Ok(PhotoReport {
        verdict: Verdict::for_issues(&issues),
        issues,
        metrics,
        subject_box: measured.subject_box(),
        width: measured.width,
        height: measured.height,
        sha256,
        perceptual_hash: measured.hashes.to_hex(),
        duplicate_of,
        check_ms: u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX),
    })
}

/// Whether two encoded photos are duplicates under `profile`, and their hash distance in bits
/// (0 for byte-identical photos).
pub fn are_duplicates(
    a: &[u8],
    b: &[u8],
    profile: &CheckProfile,
) -> Result<(bool, u32), QualityError> {
    profile.validate()?;
    let distance = if a == b {
        0
    } else {
        let first = Hashes::of(&decode::decode(a, profile)?.bgr)?;
        let second = Hashes::of(&decode::decode(b, profile)?.bgr)?;
        first.distance(&second)
    };
    Ok((distance <= profile.max_duplicate_distance, distance))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TargetRegion;

    /// Measurements of an unremarkable photo: every check passes with the default profile.
    fn clean() -> Measurements {
        Measurements {
            width: 2000,
            height: 1500,
            exposure: Exposure {
                mean_luma: 120.0,
                median_luma: 118.0,
                clipped_high_share: 0.01,
                clipped_low_share: 0.0,
            },
            glare: Glare::default(),
            blur: BlurMeasure {
                sharpness: 1.5,
                anisotropy: 0.4,
            },
            noise_sigma: 0.5,
            tilt: Some(Tilt {
                degrees: 0.5,
                level_share: 0.3,
                peak_share: 0.3,
                evidence: 8.0,
            }),
            subject: Subject {
                bbox: NormalizedBox {
                    x: 0.2,
                    y: 0.2,
                    w: 0.6,
                    h: 0.6,
                },
                salient_fill: 0.36,
                edge_contact: [0.0; 4],
                car_edge: [0.1; 4],
                car_share: 0.3,
                mask_share: 0.3,
                contrast: 0.5,
            },
            recapture: Some(Recapture::default()),
            tilt_look: Some(0.1),
            screen_look: Some(0.5),
            objects: Vec::new(),
            display: None,
            print: None,
            hashes: Hashes::parse(&"0".repeat(96)).unwrap(),
        }
    }

    fn reasons(m: &Measurements, profile: &CheckProfile) -> Vec<(Reason, String)> {
        judge(m, profile)
            .into_iter()
            .map(|issue| (issue.reason, issue.subtype))
            .collect()
    }

    #[test]
    fn clean_measurements_pass() {
        assert!(judge(&clean(), &CheckProfile::default()).is_empty());
    }

    #[test]
    fn one_directional_blur_is_motion_with_looser_limit() {
        let profile = CheckProfile::default();
        let mut m = clean();
        m.blur = BlurMeasure {
            sharpness: 0.3,
            anisotropy: 0.9,
        };
        assert_eq!(reasons(&m, &profile), vec![(Reason::Blur, "motion".into())]);
        m.blur.anisotropy = 0.3;
        assert!(
            judge(&m, &profile).is_empty(),
            "isotropic 0.3 is sharp enough"
        );
        m.blur.sharpness = 0.1;
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Blur, "defocus".into())]
        );
    }

    #[test]
    fn glare_is_not_counted_as_overexposure() {
        let mut m = clean();
        m.exposure.clipped_high_share = 0.2;
        m.glare.share = 0.1;
        assert_eq!(
            reasons(&m, &CheckProfile::default()),
            vec![(Reason::Glare, String::new())]
        );
    }

    #[test]
    fn ambiguous_diagonal_lines_are_not_tilt() {
        let mut m = clean();
        let tilt = Tilt {
            degrees: 25.0,
            level_share: 0.01,
            peak_share: 0.5,
            evidence: 8.0,
        };
        m.tilt = Some(tilt);
        assert_eq!(
            reasons(&m, &CheckProfile::default()),
            vec![(Reason::Tilted, "lines".into())]
        );
        m.tilt = Some(Tilt {
            degrees: 44.5,
            ..tilt
        });
        assert!(judge(&m, &CheckProfile::default()).is_empty());
        m.tilt = Some(Tilt {
            evidence: 4.0,
            ..tilt
        });
        assert!(
            judge(&m, &CheckProfile::default()).is_empty(),
            "a few diagonal lines, as on a close-up of a table, are too little to read a roll from"
        );
    }

    #[test]
    fn a_vehicle_scene_that_looks_rolled_is_tilted_whatever_its_lines() {
        let profile = CheckProfile::default();
        let mut m = clean();
        m.objects = vec![detection(objects::class::CAR, 0.6, 0.2, 0.2, 0.6, 0.6)];
        m.tilt_look = Some(MIN_TILT_LOOK);
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Tilted, "look".into())],
            "level lines: a car's body lines in perspective"
        );
        m.tilt_look = Some(0.8);
        assert!(judge(&m, &profile).is_empty(), "the look is not sure");
        m.tilt_look = Some(0.99);
        let lenient = CheckProfile {
            max_tilt_degrees: 15.0,
            ..CheckProfile::default()
        };
        assert!(
            judge(&m, &lenient).is_empty(),
            "the look was not taught where a 15° limit lies"
        );
        m.objects.clear();
        assert!(
            judge(&m, &profile).is_empty(),
            "without a vehicle the lines decide: the look was taught on vehicle scenes"
        );
    }

    #[test]
    fn framing_follows_target_region() {
        let target = TargetRegion {
            x: 0.5,
            y: 0.5,
            w: 0.5,
            h: 0.5,
            min_fill: 0.1,
            max_fill: 0.5,
        };
        let profile = CheckProfile {
            target: Some(target),
            ..CheckProfile::default()
        };
        let mut m = clean();
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Framing, "off_target".into())]
        );
        m.subject.bbox = NormalizedBox {
            x: 0.55,
            y: 0.55,
            w: 0.4,
            h: 0.4,
        };
        assert!(judge(&m, &profile).is_empty());
        m.subject.bbox.w = 0.1;
        m.subject.bbox.h = 0.1;
        assert!(
            judge(&m, &profile).is_empty(),
            "the saliency box still sees a large subject"
        );
        m.subject.salient_fill = 0.02;
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Framing, "too_far".into())]
        );
        m.subject.contrast = 0.05;
        assert!(
            judge(&m, &profile).is_empty(),
            "no distinct subject, no framing judgement"
        );
    }

    #[test]
    fn car_running_out_of_two_edges_is_cut_off() {
        let profile = CheckProfile::default();
        let mut m = clean();
        // Right edge: the mask runs into it and the cells there look like car.
        m.subject.edge_contact = [0.0, 0.0, 0.7, 0.0];
        m.subject.car_edge = [0.1, 0.1, 0.8, 0.1];
        assert!(judge(&m, &profile).is_empty(), "one edge is not enough");
        // Bottom too, but the cells there look like road: still one edge.
        m.subject.edge_contact[3] = 0.9;
        assert!(judge(&m, &profile).is_empty());
        m.subject.car_edge[3] = 0.6;
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Framing, "cut_off".into())]
        );
        m.subject.edge_contact[1] = 0.5;
        m.subject.car_edge[1] = 0.5;
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Framing, "too_close".into())]
        );
    }

    #[test]
    fn box_reaching_an_edge_of_car_cells_is_cut_off() {
        let profile = CheckProfile::default();
        let mut m = clean();
        m.subject.edge_contact = [0.0, 0.0, 0.7, 0.0];
        m.subject.car_edge = [0.1, 0.1, 0.8, 0.1];
        m.subject.bbox.w = 1.0 - m.subject.bbox.x;
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Framing, "cut_off".into())]
        );
        m.subject.car_edge[2] = 0.45;
        assert!(
            judge(&m, &profile).is_empty(),
            "the cells there look like road"
        );
    }

    fn detection(class: usize, score: f32, x: f64, y: f64, w: f64, h: f64) -> Detection {
        Detection {
            class,
            score,
            bbox: NormalizedBox { x, y, w, h },
        }
    }

    #[test]
    fn every_vehicle_small_is_too_far() {
        let profile = CheckProfile::default();
        let mut m = clean();
        m.objects = vec![detection(objects::class::CAR, 0.6, 0.4, 0.4, 0.25, 0.25)];
        m.subject.mask_share = 0.07;
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Framing, "too_far".into())]
        );
        m.subject.mask_share = 0.3;
        assert!(
            judge(&m, &profile).is_empty(),
            "the segmented subject is larger: the car is in the background"
        );
        m.subject.mask_share = 0.07;
        assert_eq!(
            m.subject_box(),
            Some(m.objects[0].bbox),
            "the car's box is the subject"
        );
        // A large truck the detector is fairly sure of: the photo may be of it.
        m.objects
            .push(detection(objects::class::TRUCK, 0.3, 0.1, 0.1, 0.8, 0.8));
        assert!(judge(&m, &profile).is_empty());
        // Too unsure of the small car: no vehicle, the salient subject decides.
        m.objects = vec![detection(objects::class::CAR, 0.3, 0.4, 0.4, 0.25, 0.25)];
        assert!(judge(&m, &profile).is_empty());
    }

    #[test]
    fn a_big_vehicle_box_reaching_two_edges_is_cut_off_and_a_whole_one_is_not() {
        let profile = CheckProfile::default();
        let mut m = clean();
        m.objects = vec![detection(objects::class::CAR, 0.6, 0.0, 0.3, 0.8, 0.7)];
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Framing, "cut_off".into())]
        );
        m.objects[0].bbox.w = 0.5; // 35% of the frame: not judged from the box alone
        assert!(judge(&m, &profile).is_empty());
        // The cells say the car runs out of two edges, but its box keeps a margin everywhere.
        m.subject.edge_contact = [0.7, 0.0, 0.0, 0.9];
        m.subject.car_edge = [0.8, 0.1, 0.1, 0.6];
        m.objects[0].bbox = NormalizedBox {
            x: 0.05,
            y: 0.2,
            w: 0.8,
            h: 0.7,
        };
        assert!(judge(&m, &profile).is_empty());
        m.objects.clear();
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Framing, "cut_off".into())]
        );
    }

    /// A detected object of `class`, `w` × `h` of the frame, with the mean luma inside its box.
    fn seen(class: usize, w: f64, h: f64, luma: f64) -> Option<(Detection, f64)> {
        Some((detection(class, 0.3, 0.05, 0.05, w, h), luma))
    }

    #[test]
    fn a_lit_display_filling_the_frame_is_a_recapture() {
        let profile = CheckProfile::default();
        let mut m = clean();
        m.display = seen(objects::class::TV, 0.7, 0.7, 120.0);
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Recapture, "display".into())]
        );
        let tolerant = CheckProfile {
            max_recapture_score: 0.85,
            ..CheckProfile::default()
        };
        assert!(
            judge(&m, &tolerant).is_empty(),
            "a step that photographs a display raises the limit"
        );
        m.display = seen(objects::class::TV, 0.7, 0.7, 50.0);
        assert!(
            judge(&m, &profile).is_empty(),
            "a dark screen shows no picture"
        );
        m.display = seen(objects::class::TV, 0.4, 0.4, 120.0);
        assert!(judge(&m, &profile).is_empty(), "a TV in the background");
    }

    #[test]
    fn a_bright_page_filling_the_frame_is_a_recapture_whatever_the_screen_look() {
        let profile = CheckProfile::default();
        let mut m = clean();
        m.screen_look = Some(0.0);
        m.print = seen(objects::class::BOOK, 0.7, 0.8, 170.0);
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Recapture, "print".into())]
        );
        let issue = &judge(&m, &profile)[0];
        assert!(issue.message_en.contains("printout"), "{issue:?}");
        m.print = seen(objects::class::BOOK, 0.7, 0.8, 80.0);
        assert!(
            judge(&m, &profile).is_empty(),
            "a dark label the detector takes for a book is no page"
        );
        m.print = seen(objects::class::BOOK, 0.4, 0.5, 170.0);
        assert!(judge(&m, &profile).is_empty(), "a book on the table");
    }

    #[test]
    fn the_strongest_recapture_cue_names_the_finding() {
        let profile = CheckProfile::default();
        let mut m = clean();
        m.print = seen(objects::class::BOOK, 0.6, 0.6, 170.0);
        m.display = seen(objects::class::LAPTOP, 0.9, 0.9, 120.0);
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Recapture, "display".into())]
        );
        m.screen_look = Some(0.0);
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Recapture, "print".into())],
            "a scene that does not look like a screen leaves the page"
        );
    }

    #[test]
    fn a_rule_finding_needs_a_scene_that_looks_like_a_screen() {
        let profile = CheckProfile::default();
        let mut m = clean();
        m.recapture = Some(Recapture {
            score: 0.9,
            ..Recapture::default()
        });
        m.screen_look = Some(MIN_SCREEN_LOOK);
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Recapture, "screen".into())]
        );
        m.screen_look = Some(0.1);
        assert!(
            judge(&m, &profile).is_empty(),
            "a lit outline in a scene that looks nothing like a screen: a window"
        );
        m.recapture = Some(Recapture::default());
        m.screen_look = Some(0.99);
        assert!(
            judge(&m, &profile).is_empty(),
            "the look alone raises nothing: a rating plate can look like a screen of text"
        );
    }

    #[test]
    fn content_checks_wait_for_a_readable_photo() {
        let profile = CheckProfile::default();
        let mut m = clean();
        m.tilt = m.tilt.map(|tilt| Tilt {
            degrees: 25.0,
            level_share: 0.01,
            ..tilt
        });
        m.recapture = Some(Recapture {
            score: 0.9,
            ..Recapture::default()
        });
        assert_eq!(
            reasons(&m, &profile),
            vec![
                (Reason::Tilted, "lines".into()),
                (Reason::Recapture, "screen".into())
            ]
        );
        m.exposure.mean_luma = 30.0;
        assert_eq!(
            reasons(&m, &profile),
            vec![(Reason::Underexposed, String::new())],
            "lines and outlines of a dark photo are not evidence"
        );
        let lenient = CheckProfile {
            skip: vec![Reason::Underexposed],
            ..CheckProfile::default()
        };
        assert_eq!(
            reasons(&m, &lenient).len(),
            2,
            "a defect the profile does not check holds nothing back"
        );
        m.exposure.mean_luma = 120.0;
        m.glare.share = 0.1;
        assert_eq!(
            reasons(&m, &profile).len(),
            3,
            "glare leaves the rest of the photo readable"
        );
    }

    #[test]
    fn checks_the_profile_skips_are_not_measured() {
        let mut image = Mat::new_rows_cols_with_default(
            600,
            900,
            opencv::core::CV_8UC3,
            opencv::core::Scalar::all(90.0),
        )
        .unwrap();
        imgproc::rectangle(
            &mut image,
            opencv::core::Rect::new(200, 150, 500, 300),
            opencv::core::Scalar::new(40.0, 160.0, 220.0, 0.0),
            -1,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
        let mut bytes = opencv::core::Vector::<u8>::new();
        opencv::imgcodecs::imencode_def(".png", &image, &mut bytes).unwrap();
        let measured = check_photo(bytes.as_slice(), &CheckProfile::default(), &[]).unwrap();
        assert!(measured.metrics.contains_key("tilt_degrees"));
        assert!(measured.metrics.contains_key("recapture_score"));
        let lenient = CheckProfile {
            skip: vec![Reason::Tilted, Reason::Recapture],
            ..CheckProfile::default()
        };
        let skipped = check_photo(bytes.as_slice(), &lenient, &[]).unwrap();
        assert!(!skipped.metrics.contains_key("tilt_degrees"));
        assert!(!skipped.metrics.contains_key("recapture_score"));
        assert_eq!(skipped.subject_box, measured.subject_box);
    }

    #[test]
    fn skipped_reason_is_never_reported() {
        let mut m = clean();
        m.noise_sigma = 9.0;
        let profile = CheckProfile {
            skip: vec![Reason::Noise],
            ..CheckProfile::default()
        };
        assert!(judge(&m, &profile).is_empty());
    }
}
