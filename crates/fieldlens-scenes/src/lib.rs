//! Synthetic photos that fit a guide step: a scene whose subject sits where the step wants it.
//!
//! The subject is a dark, detailed body (a car-like shape with wheels, or a
//! plate/panel) over a bright sky and a mid-grey ground, so it stands out to
//! any saliency estimate, is sharp, level and well exposed. Every seed moves
//! the horizon and scatters different background shapes, so two photos are
//! never perceptual duplicates of each other. The demo and the end-to-end
//! tests use them where a real caller would take a photo.

use image::{ImageBuffer, Rgb, RgbImage};

/// A normalised box, 0..1.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// Tiny deterministic generator (xorshift) so scenes depend only on the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next()
    }
}

fn fill_rect(image: &mut RgbImage, x0: f64, y0: f64, x1: f64, y1: f64, color: [u8; 3]) {
    let (w, h) = (image.width() as f64, image.height() as f64);
    let (xa, xb) = ((x0 * w).max(0.0) as u32, (x1 * w).min(w) as u32);
    let (ya, yb) = ((y0 * h).max(0.0) as u32, (y1 * h).min(h) as u32);
    for y in ya..yb {
        for x in xa..xb {
            image.put_pixel(x, y, Rgb(color));
        }
    }
}

fn fill_ellipse(image: &mut RgbImage, cx: f64, cy: f64, rx: f64, ry: f64, color: [u8; 3]) {
    let (w, h) = (image.width() as f64, image.height() as f64);
    let (xa, xb) = (
        ((cx - rx) * w).max(0.0) as u32,
        (((cx + rx) * w).min(w)) as u32,
    );
    let (ya, yb) = (
        ((cy - ry) * h).max(0.0) as u32,
        (((cy + ry) * h).min(h)) as u32,
    );
    for y in ya..yb {
        for x in xa..xb {
            let dx = (x as f64 / w - cx) / rx;
            let dy = (y as f64 / h - cy) / ry;
            if dx * dx + dy * dy <= 1.0 {
                image.put_pixel(x, y, Rgb(color));
            }
        }
    }
}

/// A 3 MP scene, as JPEG, with the subject in `target` filling a share of the frame (by area)
/// drawn from the middle of `fill` (min, max). Landscape 2000×1500, or portrait 1500×2000 as a
/// caller holds the phone for a portrait overlay.
pub fn scene(seed: u64, target: Region, fill: (f64, f64), car: bool) -> Vec<u8> {
    scene_oriented(seed, target, fill, car, false)
}

/// As [`scene`], in portrait orientation when `portrait`.
pub fn scene_oriented(
    seed: u64,
    target: Region,
    fill: (f64, f64),
    car: bool,
    portrait: bool,
) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let (width, height) = if portrait {
        (1500u32, 2000u32)
    } else {
        (2000u32, 1500u32)
    };
    let horizon = rng.range(0.2, 0.7);
    // Light falls from one side or the other: a broad left-right gradient.
    let slope = rng.range(-60.0, 60.0);
    let sky = [
        rng.range(150.0, 190.0) as u8,
        rng.range(185.0, 215.0) as u8,
        rng.range(215.0, 235.0) as u8,
    ];
    let ground = [
        rng.range(120.0, 150.0) as u8,
        rng.range(120.0, 145.0) as u8,
        rng.range(110.0, 135.0) as u8,
    ];
    // Clouds and uneven light: a few random low-frequency waves, which is exactly
    // the structure perceptual hashes compare, so every seed hashes differently.
    let waves: Vec<(f64, f64, f64, f64)> = (0..4)
        .map(|_| {
            (
                rng.range(0.5, 4.0),
                rng.range(0.5, 4.0),
                rng.range(0.0, 6.3),
                rng.range(8.0, 16.0),
            )
        })
        .collect();
    let mut image: RgbImage = ImageBuffer::from_fn(width, height, |x, y| {
        let v = y as f64 / height as f64;
        // Gentle shading plus a fine, fixed texture so the scene is not flat.
        let grain = (((x * 7919 + y * 104_729) ^ (x * y)) % 9) as f64 - 4.0;
        let base = if v < horizon && car { sky } else { ground };
        let u = x as f64 / width as f64;
        let light: f64 = waves
            .iter()
            .map(|(fx, fy, phase, amplitude)| {
                amplitude * (std::f64::consts::TAU * (fx * u + fy * v) + phase).cos()
            })
            .sum();
        let shade = if !car {
            0.0
        } else if v < horizon {
            -20.0 * v
        } else {
            15.0 * (v - horizon)
        } + slope * (u - 0.5)
            + light;
        Rgb(base.map(|c| (c as f64 + shade + grain).clamp(0.0, 255.0) as u8))
    });
    // Background shapes away from the target (buildings, trees, kerbs): they give
    // each scene its own layout of light and dark, which is what perceptual hashes see.
    for _ in 0..if car { 6 + (seed % 5) } else { 0 } {
        let (bw, bh) = (rng.range(0.04, 0.2), rng.range(0.08, 0.4));
        let left_side = rng.next() < 0.5;
        let bx = if left_side {
            rng.range(0.0, (target.x - bw).max(0.0))
        } else {
            rng.range((target.x + target.w).min(1.0 - bw), 1.0 - bw)
        };
        let by = (horizon - bh).max(0.02);
        let grey = rng.range(70.0, 170.0) as u8;
        let color = [
            grey,
            grey.saturating_sub(rng.range(0.0, 20.0) as u8),
            grey.saturating_sub(rng.range(0.0, 30.0) as u8),
        ];
        fill_rect(
            &mut image,
            bx,
            by,
            bx + bw,
            horizon + rng.range(0.0, 0.1),
            color,
        );
    }
    // Tree crowns: large dark masses, anywhere but over the subject.
    for _ in 0..if car { 2 + seed % 3 } else { 0 } {
        let (cx, cy) = (rng.range(0.0, 1.0), rng.range(0.05, 0.5));
        let r = rng.range(0.06, 0.16);
        let inside = cx + r > target.x
            && cx - r < target.x + target.w
            && cy + r > target.y
            && cy - r < target.y + target.h;
        if !inside {
            let green = rng.range(50.0, 110.0);
            fill_ellipse(
                &mut image,
                cx,
                cy,
                r,
                r * 1.33,
                [(green * 0.6) as u8, green as u8, (green * 0.5) as u8],
            );
        }
    }
    // A kerb or a shadow band across the ground, at a different height each time.
    if car {
        let band = rng.range(horizon + 0.05, 0.95);
        fill_rect(
            &mut image,
            0.0,
            band,
            1.0,
            band + rng.range(0.02, 0.06),
            [ground[0] - 40, ground[1] - 40, ground[2] - 40],
        );
    }
    // The subject: a box of the asked area, centred in the target, within it.
    // The subject's shape in pixels follows the target's, whatever the frame's orientation.
    let frame_aspect = f64::from(width) / f64::from(height);
    let aspect = (target.w / target.h * frame_aspect).clamp(0.6, 3.0) / frame_aspect;
    let area = rng
        .range(
            fill.0 + (fill.1 - fill.0) * 0.2,
            fill.1 - (fill.1 - fill.0) * 0.3,
        )
        .min(target.w * target.h * 0.92);
    let sw = (area * aspect).sqrt().min(target.w * 0.96);
    let sh = (area / sw).min(target.h * 0.96);
    // Cars wander a little inside their target; plates and panels sit in its middle.
    let wander = if car { 0.25 } else { 0.0 };
    let (sx, sy) = (
        target.x + (target.w - sw) * rng.range(0.5 - wander, 0.5 + wander),
        target.y + (target.h - sh) * rng.range(0.5 - wander, 0.5 + wander),
    );
    let tone = rng.range(0.4, 1.4);
    let body = [
        (rng.range(40.0, 90.0) * tone) as u8,
        (rng.range(25.0, 60.0) * tone) as u8,
        (rng.range(30.0, 70.0) * tone) as u8,
    ];
    if car {
        let cabin = [body[0] / 2, body[1] / 2, body[2] / 2 + 10];
        // The cabin sits towards the front or the back, as seen from different sides.
        let c = rng.range(0.08, 0.35);
        fill_rect(
            &mut image,
            sx + sw * c,
            sy,
            sx + sw * (c + 0.55),
            sy + sh * 0.45,
            cabin,
        );
        // Tinted glass, only a little lighter than the frame around it.
        let glass = [cabin[0] + 12, cabin[1] + 14, cabin[2] + 18];
        fill_rect(
            &mut image,
            sx + sw * (c + 0.05),
            sy + sh * 0.07,
            sx + sw * (c + 0.26),
            sy + sh * 0.4,
            glass,
        );
        fill_rect(
            &mut image,
            sx + sw * (c + 0.29),
            sy + sh * 0.07,
            sx + sw * (c + 0.5),
            sy + sh * 0.4,
            glass,
        );
        // Body panels in their own shades (a repaired door, dirt, reflections of
        // the sky) give the subject a layout of its own.
        let mut edge = 0.0;
        while edge < 1.0 {
            let next = (edge + rng.range(0.2, 0.45)).min(1.0);
            let shade = rng.range(0.7, 1.25);
            let panel = body.map(|c| (c as f64 * shade).min(150.0) as u8);
            fill_rect(
                &mut image,
                sx + sw * edge,
                sy + sh * 0.4,
                sx + sw * next,
                sy + sh * 0.85,
                panel,
            );
            edge = next;
        }
        fill_rect(
            &mut image,
            sx + sw * 0.02,
            sy + sh * 0.55,
            sx + sw * 0.1,
            sy + sh * 0.62,
            [110, 100, 60],
        );
        fill_rect(
            &mut image,
            sx + sw * 0.9,
            sy + sh * 0.55,
            sx + sw * 0.98,
            sy + sh * 0.62,
            [120, 40, 35],
        );
        for wheel in [0.2, 0.8] {
            fill_ellipse(
                &mut image,
                sx + sw * wheel,
                sy + sh * 0.84,
                sw * 0.09,
                sh * 0.16,
                [20, 20, 22],
            );
            fill_ellipse(
                &mut image,
                sx + sw * wheel,
                sy + sh * 0.84,
                sw * 0.04,
                sh * 0.07,
                [90, 90, 95],
            );
        }
    } else {
        // A plate, label or panel: rows of fine characters, as on a VIN or rating plate.
        fill_rect(&mut image, sx, sy, sx + sw, sy + sh, body);
        let ink = [body[0] + 90, body[1] + 90, body[2] + 90];
        let rows = 2 + (seed % 3) as usize;
        for row in 0..rows {
            let top = sy + sh * (0.12 + 0.8 * row as f64 / rows as f64);
            let glyph_h = sh * 0.5 / rows as f64;
            let count = 10 + (rng.next() * 8.0) as usize;
            let pitch = sw * 0.8 / count as f64;
            for i in 0..count {
                let left = sx + sw * 0.1 + pitch * i as f64;
                // Each glyph: two strokes of its own shape.
                fill_rect(
                    &mut image,
                    left,
                    top,
                    left + pitch * 0.18,
                    top + glyph_h,
                    ink,
                );
                let bar = rng.range(0.0, 0.8);
                fill_rect(
                    &mut image,
                    left,
                    top + glyph_h * bar,
                    left + pitch * 0.6,
                    top + glyph_h * (bar + 0.18),
                    ink,
                );
            }
        }
    }
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 92)
        .encode_image(&image)
        .expect("encoding a generated scene");
    bytes
}

/// Steps whose subject is a whole car in a street scene (the rest are plates, panels, close-ups).
const CAR_SCENES: [&str; 10] = [
    "front",
    "front_left",
    "left",
    "rear_left",
    "rear",
    "rear_right",
    "right",
    "front_right",
    "damage_context",
    "scene",
];

/// A photo for guide step `step_id` with its target region and fill range, held the way
/// its overlay is drawn (`portrait` when the overlay is taller than wide).
pub fn for_step(
    step_id: &str,
    target: Region,
    fill: (f64, f64),
    portrait: bool,
    seed: u64,
) -> Vec<u8> {
    scene_oriented(seed, target, fill, CAR_SCENES.contains(&step_id), portrait)
}

/// The same scene, blurred as by a shaking hand: a photo to be retaken.
///
/// # Panics
///
/// If `jpeg` is not a decodable image; it is meant for scenes made by this crate.
pub fn blurred(jpeg: &[u8]) -> Vec<u8> {
    let image = image::load_from_memory(jpeg)
        .expect("decoding a generated scene")
        .to_rgb8();
    let blurred = image::imageops::blur(&image, 9.0);
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 92)
        .encode_image(&blurred)
        .expect("encoding a blurred scene");
    bytes
}
