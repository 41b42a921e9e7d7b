//! Compositing an overlay onto a camera frame, and mapping a step's target into that frame.
//!
//! An overlay is fitted inside the frame with its aspect ratio kept and centred (letterboxed),
//! exactly as a client draws it over its preview, so the target region the caller sees and
//! the one a photo is judged against are the same.

use fieldlens_quality::TargetRegion;
use image::{DynamicImage, Rgb, RgbImage, RgbaImage, imageops};

/// Where an overlay lands on a frame, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// Fits an overlay of `overlay` (width, height) inside `frame` (width, height), centred.
pub fn fit_overlay(frame: (u32, u32), overlay: (u32, u32)) -> Placement {
    let (frame_w, frame_h) = (f64::from(frame.0.max(1)), f64::from(frame.1.max(1)));
    let (overlay_w, overlay_h) = (f64::from(overlay.0.max(1)), f64::from(overlay.1.max(1)));
    let scale = (frame_w / overlay_w).min(frame_h / overlay_h);
    let width = ((overlay_w * scale).round() as u32).clamp(1, frame.0.max(1));
    let height = ((overlay_h * scale).round() as u32).clamp(1, frame.1.max(1));
    Placement {
        x: (frame.0.max(1) - width) / 2,
        y: (frame.1.max(1) - height) / 2,
        width,
        height,
    }
}

/// A target region given on the overlay, moved into a frame the overlay is fitted into.
/// Fill shares shrink by the share of the frame the overlay covers.
pub fn target_in_frame(
    target: &TargetRegion,
    frame: (u32, u32),
    overlay: (u32, u32),
) -> TargetRegion {
    let place = fit_overlay(frame, overlay);
    let (frame_w, frame_h) = (frame.0.max(1) as f32, frame.1.max(1) as f32);
    let (sx, sy) = (place.width as f32 / frame_w, place.height as f32 / frame_h);
    let (ox, oy) = (place.x as f32 / frame_w, place.y as f32 / frame_h);
    let covered = sx * sy;
    TargetRegion {
        x: ox + target.x * sx,
        y: oy + target.y * sy,
        w: target.w * sx,
        h: target.h * sy,
        min_fill: target.min_fill * covered,
        max_fill: target.max_fill * covered,
    }
}

/// Draws `overlay` over `frame`, fitted and centred, at `opacity` (0..1). Returns the
/// frame with the overlay blended in.
pub fn compose_overlay(frame: &DynamicImage, overlay: &RgbaImage, opacity: f32) -> RgbImage {
    let mut out = frame.to_rgb8();
    if out.width() == 0 || out.height() == 0 {
        return out;
    }
    let place = fit_overlay(out.dimensions(), overlay.dimensions());
    let scaled;
    let overlay = if (place.width, place.height) == overlay.dimensions() {
        overlay
    } else {
        scaled = imageops::resize(
            overlay,
            place.width,
            place.height,
            imageops::FilterType::Triangle,
        );
        &scaled
    };
    // Integer blending row by row over the raw buffers: `(under·(255−a) + over·a) / 255`.
    let opacity = (opacity.clamp(0.0, 1.0) * 255.0).round() as u32;
    let frame_width = out.width() as usize;
    let overlay_width = overlay.width() as usize;
    let buffer: &mut [u8] = &mut out;
    for (row, source) in overlay.as_raw().chunks_exact(overlay_width * 4).enumerate() {
        let start = ((place.y as usize + row) * frame_width + place.x as usize) * 3;
        let target = &mut buffer[start..start + overlay_width * 3];
        for (under, over) in target.chunks_exact_mut(3).zip(source.chunks_exact(4)) {
            let alpha = (u32::from(over[3]) * opacity + 127) / 255;
            if alpha == 0 {
                continue;
            }
            for channel in 0..3 {
                let blended =
                    u32::from(under[channel]) * (255 - alpha) + u32::from(over[channel]) * alpha;
                under[channel] = ((blended + 127) / 255) as u8;
            }
        }
    }
    out
}

/// Outlines a normalised region on an image (e.g. the target, on a preview or report).
pub fn draw_region(image: &mut RgbImage, region: &TargetRegion, colour: Rgb<u8>, thickness: u32) {
    let (width, height) = image.dimensions();
    if width == 0 || height == 0 {
        return;
    }
    let to_px =
        |value: f32, size: u32| ((value.clamp(0.0, 1.0) * size as f32) as u32).min(size - 1);
    let (x0, y0) = (to_px(region.x, width), to_px(region.y, height));
    let (x1, y1) = (
        to_px(region.x + region.w, width),
        to_px(region.y + region.h, height),
    );
    for t in 0..thickness {
        for x in x0..=x1 {
            for y in [y0.saturating_add(t).min(y1), y1.saturating_sub(t).max(y0)] {
                image.put_pixel(x, y, colour);
            }
        }
        for y in y0..=y1 {
            for x in [x0.saturating_add(t).min(x1), x1.saturating_sub(t).max(x0)] {
                image.put_pixel(x, y, colour);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    fn target() -> TargetRegion {
        TargetRegion {
            x: 0.25,
            y: 0.25,
            w: 0.5,
            h: 0.5,
            min_fill: 0.1,
            max_fill: 0.4,
        }
    }

    #[test]
    fn overlay_is_fitted_and_centred() {
        assert_eq!(
            fit_overlay((1600, 1200), (400, 300)),
            Placement {
                x: 0,
                y: 0,
                width: 1600,
                height: 1200
            }
        );
        // A 4:3 overlay on a 16:9 frame is pillarboxed.
        assert_eq!(
            fit_overlay((1920, 1080), (400, 300)),
            Placement {
                x: 240,
                y: 0,
                width: 1440,
                height: 1080
            }
        );
    }

    #[test]
    fn target_moves_with_the_overlay() {
        let same = target_in_frame(&target(), (800, 600), (400, 300));
        assert_eq!(same, target());
        let wide = target_in_frame(&target(), (1920, 1080), (400, 300));
        assert!((wide.x - (240.0 + 0.25 * 1440.0) / 1920.0).abs() < 1e-6);
        assert!((wide.w - 0.5 * 1440.0 / 1920.0).abs() < 1e-6);
        assert!((wide.y - 0.25).abs() < 1e-6 && (wide.h - 0.5).abs() < 1e-6);
        assert!((wide.max_fill - 0.4 * 0.75).abs() < 1e-6);
        wide.validate().unwrap();
    }

    #[test]
    fn composes_onto_a_generated_frame() {
        // A blue frame, 16:9; a 4:3 overlay, opaque white in its left half, clear elsewhere.
        let frame = DynamicImage::ImageRgb8(RgbImage::from_pixel(320, 180, Rgb([0, 0, 200])));
        let overlay = RgbaImage::from_fn(40, 30, |x, _| {
            if x < 20 {
                Rgba([255, 255, 255, 255])
            } else {
                Rgba([255, 0, 0, 0])
            }
        });
        let composed = compose_overlay(&frame, &overlay, 1.0);
        assert_eq!(composed.dimensions(), (320, 180));
        // Placement: 240×180 at x = 40. Left of it untouched, its left half white, right half clear.
        assert_eq!(composed.get_pixel(10, 90), &Rgb([0, 0, 200]));
        assert_eq!(composed.get_pixel(60, 90), &Rgb([255, 255, 255]));
        assert_eq!(composed.get_pixel(250, 90), &Rgb([0, 0, 200]));
        let faint = compose_overlay(&frame, &overlay, 0.5);
        let pixel = faint.get_pixel(60, 90);
        assert!(
            (126..=129).contains(&pixel[0]) && (226..=229).contains(&pixel[2]),
            "{pixel:?}"
        );
        // An empty frame stays empty rather than panicking.
        let empty = DynamicImage::ImageRgb8(RgbImage::new(0, 0));
        assert_eq!(compose_overlay(&empty, &overlay, 1.0).dimensions(), (0, 0));
    }

    #[test]
    fn draws_a_region_outline() {
        let mut image = RgbImage::new(100, 100);
        draw_region(&mut image, &target(), Rgb([0, 255, 0]), 2);
        assert_eq!(image.get_pixel(25, 25), &Rgb([0, 255, 0]));
        assert_eq!(image.get_pixel(50, 26), &Rgb([0, 255, 0]));
        assert_eq!(image.get_pixel(50, 50), &Rgb([0, 0, 0]));
    }
}
