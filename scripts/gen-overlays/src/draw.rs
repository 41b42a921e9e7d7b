//! The vector model of one overlay (shapes in painter's order) and its rendering to a PNG.
//!
//! An overlay is drawn in three layers so it reads on any camera picture: a faint grey
//! silhouette, white outlines with a dark halo, and amber accents marking what to aim at.
//! Hidden lines are removed the painter's way: a shape that `occludes` blanks out the
//! outlines of every shape drawn before it, inside a luminance mask.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder, RgbaImage};
use resvg::{tiny_skia, usvg};

/// A point in drawing units.
pub type P = (f32, f32);

/// How a shape's outline is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Line {
    /// The main outline.
    Bold,
    /// Details inside the outline.
    Thin,
    /// Hints: hidden edges, suggested positions.
    Dashed,
    /// No outline (the shape only tints or occludes).
    Hidden,
    /// A double-width outline: drawn before an occluding copy of the same path, it leaves a
    /// bold line only around the outside of a silhouette made of many faces.
    Outline,
}

/// One path of an overlay.
#[derive(Debug, Clone)]
pub struct Shape {
    d: String,
    tint: Option<f32>,
    occludes: bool,
    line: Line,
    accent: bool,
}

impl Shape {
    /// An outlined path that hides nothing.
    pub fn new(d: String) -> Self {
        Self {
            d,
            tint: None,
            occludes: false,
            line: Line::Bold,
            accent: false,
        }
    }

    /// Fills the silhouette layer with this grey level (0 black … 1 white).
    pub fn tint(mut self, grey: f32) -> Self {
        self.tint = Some(grey.clamp(0.0, 1.0));
        self
    }

    /// Replaces the path, keeping the style.
    pub fn with_path(mut self, d: String) -> Self {
        self.d = d;
        self
    }

    /// Hides the lines of earlier shapes behind this one.
    pub fn solid(mut self) -> Self {
        self.occludes = true;
        self
    }

    /// Sets the outline style.
    pub fn line(mut self, line: Line) -> Self {
        self.line = line;
        self
    }

    /// Draws the outline in the accent colour, on top of everything else.
    pub fn accent(mut self) -> Self {
        self.accent = true;
        self
    }
}

/// An overlay under construction: a canvas in drawing units and its shapes.
#[derive(Debug, Clone)]
pub struct Drawing {
    /// Width in drawing units.
    pub width: f32,
    /// Height in drawing units.
    pub height: f32,
    shapes: Vec<Shape>,
}

/// Pixels per drawing unit in the written PNG.
const PIXELS_PER_UNIT: f32 = 2.4;
/// Width of a bold outline in drawing units.
const BOLD: f32 = 2.4;
const ACCENT_RGB: &str = "#ffc83d";

impl Drawing {
    /// A landscape canvas (4:3), for subjects wider than tall.
    pub fn landscape() -> Self {
        Self::new(400.0, 300.0)
    }

    /// A portrait canvas (3:4).
    pub fn portrait() -> Self {
        Self::new(300.0, 400.0)
    }

    fn new(width: f32, height: f32) -> Self {
        Self {
            width,
            height,
            shapes: Vec::new(),
        }
    }

    /// Adds a shape on top of those already added.
    pub fn add(&mut self, shape: Shape) {
        self.shapes.push(shape);
    }

    /// Adds several shapes in order.
    pub fn extend(&mut self, shapes: impl IntoIterator<Item = Shape>) {
        self.shapes.extend(shapes);
    }

    fn stroke_width(line: Line) -> Option<f32> {
        match line {
            Line::Bold | Line::Dashed => Some(BOLD),
            Line::Thin => Some(BOLD * 0.6),
            Line::Outline => Some(BOLD * 2.0),
            Line::Hidden => None,
        }
    }

    /// The mask of all outlines, `extra` units wider than drawn, with hidden lines removed.
    fn line_mask(&self, id: &str, extra: f32) -> String {
        let mut svg = format!(
            r#"<mask id="{id}" maskUnits="userSpaceOnUse" x="0" y="0" width="{}" height="{}">"#,
            self.width, self.height
        );
        for shape in self.shapes.iter().filter(|shape| !shape.accent) {
            let fill = if shape.occludes { "black" } else { "none" };
            let stroke = match Self::stroke_width(shape.line) {
                Some(width) => {
                    let dash = if shape.line == Line::Dashed {
                        format!(r#" stroke-dasharray="{} {}""#, BOLD * 3.0, BOLD * 2.5)
                    } else {
                        String::new()
                    };
                    format!(
                        r#" stroke="white" stroke-width="{}" stroke-linejoin="round" stroke-linecap="round"{dash}"#,
                        width + extra
                    )
                }
                None => String::new(),
            };
            let _ = write!(svg, r#"<path d="{}" fill="{fill}"{stroke}/>"#, shape.d);
        }
        svg.push_str("</mask>");
        svg
    }

    /// The drawing as an SVG document.
    pub fn to_svg(&self) -> String {
        let (w, h) = (self.width, self.height);
        let mut svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {w} {h}">"#,
            (w * PIXELS_PER_UNIT).round(),
            (h * PIXELS_PER_UNIT).round()
        );
        svg.push_str("<defs>");
        svg.push_str(&self.line_mask("lines", 0.0));
        svg.push_str(&self.line_mask("halo", BOLD * 1.4));
        svg.push_str("</defs>");
        // Opaque greys inside one translucent group: the union of the shapes, evenly faint.
        svg.push_str(r#"<g opacity="0.2">"#);
        for shape in &self.shapes {
            if let Some(grey) = shape.tint {
                let level = (grey * 255.0).round() as u8;
                let _ = write!(
                    svg,
                    r#"<path d="{}" fill="rgb({level},{level},{level})"/>"#,
                    shape.d
                );
            }
        }
        svg.push_str("</g>");
        let _ = write!(
            svg,
            r#"<rect width="{w}" height="{h}" fill="black" fill-opacity="0.45" mask="url(#halo)"/><rect width="{w}" height="{h}" fill="white" mask="url(#lines)"/>"#
        );
        for shape in self.shapes.iter().filter(|shape| shape.accent) {
            let width = Self::stroke_width(shape.line).unwrap_or(BOLD);
            let dash = if shape.line == Line::Dashed {
                format!(r#" stroke-dasharray="{} {}""#, BOLD * 3.0, BOLD * 2.5)
            } else {
                String::new()
            };
            let _ = write!(
                svg,
                r#"<path d="{d}" fill="none" stroke="black" stroke-opacity="0.45" stroke-width="{halo}" stroke-linejoin="round" stroke-linecap="round"{dash}/><path d="{d}" fill="none" stroke="{ACCENT_RGB}" stroke-width="{width}" stroke-linejoin="round" stroke-linecap="round"{dash}/>"#,
                d = shape.d,
                halo = width + BOLD * 1.4,
            );
        }
        svg.push_str("</svg>");
        svg
    }

    /// Renders the drawing to straight-alpha RGBA pixels.
    pub fn render(&self) -> Result<RgbaImage> {
        let svg = self.to_svg();
        let tree = usvg::Tree::from_str(&svg, &usvg::Options::default())
            .context("the generated SVG does not parse")?;
        let size = tree.size().to_int_size();
        let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
            .context("overlay canvas has no pixels")?;
        resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
        let mut rgba = Vec::with_capacity(pixmap.data().len());
        for pixel in pixmap.pixels() {
            let colour = pixel.demultiply();
            rgba.extend_from_slice(&[colour.red(), colour.green(), colour.blue(), colour.alpha()]);
        }
        RgbaImage::from_raw(size.width(), size.height(), rgba)
            .context("rendered pixels do not fill the canvas")
    }
}

/// Encodes pixels as a PNG with the strongest compression (overlays are committed data).
pub fn encode_png(image: &RgbaImage) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    PngEncoder::new_with_quality(&mut bytes, CompressionType::Best, FilterType::Adaptive)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgba8,
        )
        .context("encoding the overlay as PNG")?;
    Ok(bytes)
}

/// The smallest box holding every visible pixel, normalised to 0..1: `(x, y, w, h)`.
pub fn alpha_bounds(image: &RgbaImage) -> Option<(f32, f32, f32, f32)> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, pixel) in image.enumerate_pixels() {
        if pixel[3] > 24 {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    (x0 <= x1).then(|| {
        let (w, h) = (image.width() as f32, image.height() as f32);
        (
            x0 as f32 / w,
            y0 as f32 / h,
            (x1 + 1 - x0) as f32 / w,
            (y1 + 1 - y0) as f32 / h,
        )
    })
}

// Path builders. Coordinates are written with one decimal: plenty at 2.4 px per unit.

fn push_point(d: &mut String, command: char, (x, y): P) {
    let _ = write!(d, "{command}{x:.1} {y:.1} ");
}

/// A closed polygon.
pub fn polygon(points: &[P]) -> String {
    let mut d = polyline(points);
    d.push('Z');
    d
}

/// An open polyline.
pub fn polyline(points: &[P]) -> String {
    let mut d = String::new();
    for (index, &point) in points.iter().enumerate() {
        push_point(&mut d, if index == 0 { 'M' } else { 'L' }, point);
    }
    d
}

/// A straight segment.
pub fn segment(a: P, b: P) -> String {
    polyline(&[a, b])
}

/// An axis-aligned rectangle.
pub fn rect(x: f32, y: f32, w: f32, h: f32) -> String {
    polygon(&[(x, y), (x + w, y), (x + w, y + h), (x, y + h)])
}

/// A rectangle with rounded corners of radius `r`.
pub fn rounded_rect(x: f32, y: f32, w: f32, h: f32, r: f32) -> String {
    let r = r.min(w / 2.0).min(h / 2.0);
    let mut points = Vec::new();
    let corners = [
        (x + w - r, y + r, -90.0),
        (x + w - r, y + h - r, 0.0),
        (x + r, y + h - r, 90.0),
        (x + r, y + r, 180.0),
    ];
    for (cx, cy, start) in corners {
        points.extend(arc_points((cx, cy), r, r, start, start + 90.0, 6));
    }
    polygon(&points)
}

/// Points along an elliptic arc, angles in degrees (0 = right, 90 = down), ends included.
pub fn arc_points(center: P, rx: f32, ry: f32, from: f32, to: f32, segments: usize) -> Vec<P> {
    (0..=segments)
        .map(|step| {
            let angle = (from + (to - from) * step as f32 / segments as f32).to_radians();
            (center.0 + rx * angle.cos(), center.1 + ry * angle.sin())
        })
        .collect()
}

/// An open elliptic arc.
pub fn arc(center: P, rx: f32, ry: f32, from: f32, to: f32) -> String {
    let segments = ((to - from).abs() / 6.0).ceil().max(2.0) as usize;
    polyline(&arc_points(center, rx, ry, from, to, segments))
}

/// A full ellipse.
pub fn ellipse(center: P, rx: f32, ry: f32) -> String {
    polygon(&arc_points(center, rx, ry, 0.0, 354.0, 59))
}

/// A full circle.
pub fn circle(center: P, r: f32) -> String {
    ellipse(center, r, r)
}

/// The four corner brackets of a viewfinder around a box, each arm `arm` long.
pub fn corner_brackets(x: f32, y: f32, w: f32, h: f32, arm: f32) -> Vec<String> {
    vec![
        polyline(&[(x, y + arm), (x, y), (x + arm, y)]),
        polyline(&[(x + w - arm, y), (x + w, y), (x + w, y + arm)]),
        polyline(&[(x + w, y + h - arm), (x + w, y + h), (x + w - arm, y + h)]),
        polyline(&[(x + arm, y + h), (x, y + h), (x, y + h - arm)]),
    ]
}

/// A cubic Bézier curve.
pub fn cubic(from: P, control1: P, control2: P, to: P) -> String {
    let mut d = String::new();
    push_point(&mut d, 'M', from);
    let _ = write!(
        d,
        "C{:.1} {:.1} {:.1} {:.1} {:.1} {:.1}",
        control1.0, control1.1, control2.0, control2.1, to.0, to.1
    );
    d
}

/// Seven-segment characters (digits, `E`, `-`), each `w` × `h`, the first with its top left
/// at `(x, y)`: one polyline per lit segment.
pub fn seven_segment(text: &str, x: f32, y: f32, w: f32, h: f32) -> Vec<String> {
    // Segments a..g: top, top right, bottom right, bottom, bottom left, top left, middle.
    let lit = |c: char| match c {
        '0' => "abcdef",
        '1' => "bc",
        '2' => "abdeg",
        '3' => "abcdg",
        '4' => "bcfg",
        '5' => "acdfg",
        '6' => "acdefg",
        '7' => "abc",
        '8' => "abcdefg",
        '9' => "abcdfg",
        'E' => "adefg",
        '-' => "g",
        _ => "",
    };
    let mut paths = Vec::new();
    for (index, c) in text.chars().enumerate() {
        let left = x + index as f32 * w * 1.45;
        let (right, middle, bottom) = (left + w, y + h / 2.0, y + h);
        for lit_segment in lit(c).chars() {
            let (a, b) = match lit_segment {
                'a' => ((left, y), (right, y)),
                'b' => ((right, y), (right, middle)),
                'c' => ((right, middle), (right, bottom)),
                'd' => ((left, bottom), (right, bottom)),
                'e' => ((left, middle), (left, bottom)),
                'f' => ((left, y), (left, middle)),
                _ => ((left, middle), (right, middle)),
            };
            paths.push(segment(a, b));
        }
    }
    paths
}
