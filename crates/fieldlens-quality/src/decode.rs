//! Guarded decoding: header first, limits before any pixel allocation, then a reduced-scale decode.
//!
//! 1. The byte count is checked against `max_bytes`.
//! 2. The container is sniffed and its header parsed with the `image` crate (format, size, EXIF
//!    orientation) — this reads a few hundred bytes and allocates nothing proportional to the
//!    claimed size, so a PNG header claiming 60000×60000 is refused at no cost.
//! 3. The claimed size is checked against `max_pixels`.
//! 4. The container structure is walked (JPEG markers up to EOI, PNG chunks up to IEND, the
//!    RIFF length of WebP) so that an interrupted upload is reported as truncated instead of
//!    being decoded into a half-grey picture.
//! 5. OpenCV decodes the pixels. JPEG is decoded at 1/2, 1/4 or 1/8 scale through libjpeg's
//!    scaled DCT when the checks don't need every pixel (they run on a copy of at most
//!    [`WORK_SIDE`] pixels on the long side), which skips most of the inverse DCT and colour
//!    conversion work. EXIF orientation is applied here, the same way for every format.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{ImageDecoder, ImageFormat, ImageReader};
use opencv::core::{self, Mat, Size};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};

use crate::{CheckProfile, QualityError};

/// Long side, in pixels, of the working copy every check runs on.
pub const WORK_SIDE: u32 = 512;

/// What the header says about a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Container format.
    pub format: PhotoFormat,
    /// Width after EXIF orientation.
    pub width: u32,
    /// Height after EXIF orientation.
    pub height: u32,
    /// EXIF orientation tag (1–8); 1 when absent.
    pub exif_orientation: u8,
}

/// Supported container formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoFormat {
    /// JPEG / JFIF / EXIF.
    Jpeg,
    /// PNG.
    Png,
    /// WebP (lossy or lossless).
    WebP,
}

impl PhotoFormat {
    /// Short name used in errors.
    pub fn name(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "JPEG",
            PhotoFormat::Png => "PNG",
            PhotoFormat::WebP => "WebP",
        }
    }
}

/// A decoded photo: the header facts and the working copy (BGR, long side at most [`WORK_SIDE`]).
pub(crate) struct Decoded {
    pub header: Header,
    pub bgr: Mat,
}

/// Reads and checks the header only; allocates nothing proportional to the image size.
pub fn read_header(bytes: &[u8], profile: &CheckProfile) -> Result<Header, QualityError> {
    if bytes.is_empty() {
        return Err(QualityError::Empty);
    }
    let len = bytes.len() as u64;
    if len > profile.max_bytes {
        return Err(QualityError::TooManyBytes {
            bytes: len,
            limit: profile.max_bytes,
        });
    }
    // PNG's size sits at a fixed place; check it before any decoder reads further.
    if let Some((width, height)) = png_claimed_size(bytes) {
        check_pixels(width, height, profile)?;
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|error| QualityError::UnsupportedFormat(error.to_string()))?;
    let format = match reader.format() {
        Some(ImageFormat::Jpeg) => PhotoFormat::Jpeg,
        Some(ImageFormat::Png) => PhotoFormat::Png,
        Some(ImageFormat::WebP) => PhotoFormat::WebP,
        Some(other) => return Err(QualityError::UnsupportedFormat(format!("{other:?}"))),
        None => return Err(QualityError::UnsupportedFormat("unrecognised data".into())),
    };
    let corrupt = |error: image::ImageError| QualityError::Corrupt {
        format: format.name(),
        detail: error.to_string(),
    };
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (raw_width, raw_height) = decoder.dimensions();
    // A broken EXIF block only loses the orientation; it must not reject the photo.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    drop(decoder);

    check_pixels(raw_width, raw_height, profile)?;
    let exif_orientation = orientation.to_exif();
    let (width, height) = if swaps_axes(orientation) {
        (raw_height, raw_width)
    } else {
        (raw_width, raw_height)
    };
    check_complete(bytes, format)?;
    Ok(Header {
        format,
        width,
        height,
        exif_orientation,
    })
}

fn check_pixels(width: u32, height: u32, profile: &CheckProfile) -> Result<(), QualityError> {
    if width == 0 || height == 0 {
        return Err(QualityError::ZeroSize { width, height });
    }
    if u64::from(width) * u64::from(height) > profile.max_pixels {
        return Err(QualityError::TooManyPixels {
            width,
            height,
            limit: profile.max_pixels,
        });
    }
    Ok(())
}

/// Width and height from a PNG's IHDR chunk (always the first chunk, at a fixed offset).
fn png_claimed_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let field = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    Some((field(16)?, field(20)?))
}

fn swaps_axes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// Decodes `bytes` into the working copy, after [`read_header`]'s checks.
pub(crate) fn decode(bytes: &[u8], profile: &CheckProfile) -> Result<Decoded, QualityError> {
    let header = read_header(bytes, profile)?;
    let long_side = header.width.max(header.height);
    // libjpeg's scaled DCT: the largest reduction that still leaves about WORK_SIDE pixels.
    let reduced = match header.format {
        PhotoFormat::Jpeg if long_side / 8 >= WORK_SIDE - WORK_SIDE / 16 => {
            imgcodecs::IMREAD_REDUCED_COLOR_8
        }
        PhotoFormat::Jpeg if long_side / 4 >= WORK_SIDE => imgcodecs::IMREAD_REDUCED_COLOR_4,
        PhotoFormat::Jpeg if long_side / 2 >= WORK_SIDE => imgcodecs::IMREAD_REDUCED_COLOR_2,
        _ => imgcodecs::IMREAD_COLOR,
    };
    let corrupt = |detail: String| QualityError::Corrupt {
        format: header.format.name(),
        detail,
    };
    let buffer = Mat::from_slice(bytes).map_err(|error| corrupt(error.message))?;
    let decoded = imgcodecs::imdecode(&buffer, reduced | imgcodecs::IMREAD_IGNORE_ORIENTATION)
        .map_err(|error| corrupt(error.message))?;
    if decoded.empty() || decoded.typ() != core::CV_8UC3 {
        return Err(corrupt("the pixel data could not be decoded".into()));
    }
    let oriented = apply_orientation(decoded, header.exif_orientation)?;
    let bgr = shrink_to(&oriented, WORK_SIDE)?;
    Ok(Decoded { header, bgr })
}

/// Applies an EXIF orientation tag (1–8) to a decoded image.
fn apply_orientation(image: Mat, exif: u8) -> Result<Mat, QualityError> {
    let mut out = Mat::default();
    // (rotation, then horizontal flip) per EXIF tag.
    let (rotate, flip) = match exif {
        2 => (None, true),
        3 => (Some(core::ROTATE_180), false),
        4 => (Some(core::ROTATE_180), true),
        5 => (Some(core::ROTATE_90_CLOCKWISE), true),
        6 => (Some(core::ROTATE_90_CLOCKWISE), false),
        7 => (Some(core::ROTATE_90_COUNTERCLOCKWISE), true),
        8 => (Some(core::ROTATE_90_COUNTERCLOCKWISE), false),
        _ => return Ok(image),
    };
    let rotated = match rotate {
        Some(code) => {
            core::rotate(&image, &mut out, code)?;
            std::mem::take(&mut out)
        }
        None => image,
    };
    if flip {
        core::flip(&rotated, &mut out, 1)?;
        Ok(out)
    } else {
        Ok(rotated)
    }
}

/// Scales `image` down (area averaging) so its long side is at most `side`; never scales up.
pub(crate) fn shrink_to(image: &Mat, side: u32) -> Result<Mat, QualityError> {
    let (width, height) = (image.cols(), image.rows());
    let long = width.max(height);
    if long <= side as i32 {
        return Ok(image.clone());
    }
    let scale = f64::from(side) / f64::from(long);
    let size = Size::new(
        ((f64::from(width) * scale).round() as i32).max(1),
        ((f64::from(height) * scale).round() as i32).max(1),
    );
    let mut out = Mat::default();
    imgproc::resize(image, &mut out, size, 0.0, 0.0, imgproc::INTER_AREA)?;
    Ok(out)
}

/// Walks the container structure to the end marker; a missing end means a truncated upload.
fn check_complete(bytes: &[u8], format: PhotoFormat) -> Result<(), QualityError> {
    let missing = match format {
        PhotoFormat::Jpeg => jpeg_missing(bytes),
        PhotoFormat::Png => png_missing(bytes),
        PhotoFormat::WebP => webp_missing(bytes),
    };
    match missing {
        None => Ok(()),
        Some(detail) => Err(QualityError::Truncated {
            format: format.name(),
            detail: detail.into(),
        }),
    }
}

fn be16(bytes: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *bytes.get(at)?,
        *bytes.get(at + 1)?,
    ])))
}

/// Follows JPEG segments and entropy-coded scans to the EOI marker.
fn jpeg_missing(bytes: &[u8]) -> Option<&'static str> {
    let mut at = 2; // after SOI
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if bytes.get(at) != Some(&0xFF) {
            return Some("the data ends inside a header segment");
        }
        let Some(&marker) = bytes.get(at + 1) else {
            return Some("the data ends at a marker");
        };
        at += 2;
        match marker {
            0xD9 => return None,
            0xD0..=0xD7 | 0x01 => continue,
            _ => {}
        }
        let Some(length) = be16(bytes, at) else {
            return Some("the data ends inside a segment length");
        };
        at += length;
        if at > bytes.len() {
            return Some("the data ends inside a header segment");
        }
        if marker == 0xDA {
            // Entropy-coded data: 0xFF is always followed by 0x00 (stuffing) or a restart marker.
            loop {
                let Some(offset) = memchr::memchr(0xFF, &bytes[at..]) else {
                    return Some("the image data stops before the end-of-image marker");
                };
                at += offset;
                match bytes.get(at + 1) {
                    None => return Some("the image data stops before the end-of-image marker"),
                    Some(0x00 | 0xD0..=0xD7 | 0xFF) => at += 1,
                    Some(_) => break,
                }
            }
        }
    }
}

/// Follows PNG chunks (length, type, data, CRC) to IEND.
fn png_missing(bytes: &[u8]) -> Option<&'static str> {
    let mut at = 8; // after the signature
    loop {
        let (Some(length), Some(kind)) = (bytes.get(at..at + 4), bytes.get(at + 4..at + 8)) else {
            return Some("the data ends inside a chunk header");
        };
        let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
        if kind == b"IEND" {
            return None;
        }
        at = match at.checked_add(12).and_then(|end| end.checked_add(length)) {
            Some(next) if next <= bytes.len() => next,
            _ => return Some("the data ends inside a chunk before IEND"),
        };
    }
}

/// Compares the RIFF length with the data received.
fn webp_missing(bytes: &[u8]) -> Option<&'static str> {
    let Some(declared) = bytes.get(4..8) else {
        return Some("the data ends inside the RIFF header");
    };
    let declared = u32::from_le_bytes(declared.try_into().ok()?) as usize;
    (bytes.len() < declared.saturating_add(8)).then_some("the data is shorter than its RIFF length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_chunk_walk_finds_iend_or_truncation() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&[0, 0, 0, 1]);
        png.extend_from_slice(b"tEXt");
        png.extend_from_slice(&[b'x', 0, 0, 0, 0]);
        let truncated = png.clone();
        png.extend_from_slice(&[0, 0, 0, 0]);
        png.extend_from_slice(b"IEND");
        png.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
        assert_eq!(png_missing(&png), None);
        assert!(png_missing(&truncated).is_some());
    }

    #[test]
    fn jpeg_marker_walk_needs_eoi_after_scan() {
        // SOI, a 4-byte APP0, SOS with 2-byte header, entropy data with stuffing, EOI.
        let complete = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF,
            0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD9,
        ];
        assert_eq!(jpeg_missing(&complete), None);
        for cut in 3..complete.len() - 1 {
            assert!(jpeg_missing(&complete[..cut]).is_some(), "cut at {cut}");
        }
    }
}
