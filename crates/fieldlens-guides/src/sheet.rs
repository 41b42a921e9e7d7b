//! Contact sheets: every step of a pack, its overlay over a neutral backdrop with the target
//! region outlined, and its title, in one PNG a person can look over.
//!
//! Titles are drawn with `ab_glyph` using Latin subsets of DejaVu Sans embedded in the crate
//! (licence in `assets/fonts/LICENSE`). Chinese titles need a font with Chinese glyphs,
//! passed in [`SheetOptions::font`]; the sheet refuses to draw text the font cannot show.

use ab_glyph::{Font, FontArc, FontRef, PxScale, ScaleFont, point};
use image::{DynamicImage, Rgb, RgbImage};

use crate::compose::{compose_overlay, draw_region, target_in_frame};
use crate::error::GuideError;
use crate::manifest::{Lang, Presence};
use crate::pack::GuidePack;

static REGULAR: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Latin.ttf");
static BOLD: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold-Latin.ttf");

/// How to draw a contact sheet.
#[derive(Debug, Clone)]
pub struct SheetOptions {
    /// The language of titles.
    pub lang: Lang,
    /// A TrueType/OpenType font (file bytes) used for all text instead of the embedded
    /// Latin fonts; needed for Chinese.
    pub font: Option<Vec<u8>>,
    /// Cells per row.
    pub columns: u32,
}

impl Default for SheetOptions {
    fn default() -> Self {
        Self {
            lang: Lang::En,
            font: None,
            columns: 4,
        }
    }
}

const CELL_WIDTH: u32 = 360;
const THUMB_HEIGHT: u32 = 270;
const CELL_TEXT: u32 = 78;
const GAP: u32 = 16;
const HEADER: u32 = 96;
const PAPER: Rgb<u8> = Rgb([246, 246, 244]);
const INK: Rgb<u8> = Rgb([28, 28, 30]);
const MUTED: Rgb<u8> = Rgb([96, 96, 104]);
const TARGET: Rgb<u8> = Rgb([0, 200, 230]);

/// The fonts text is drawn with.
struct Typeface {
    regular: FontArc,
    bold: FontArc,
}

impl Typeface {
    fn new(custom: Option<&[u8]>) -> Result<Self, GuideError> {
        if let Some(bytes) = custom {
            let font = ab_glyph::FontVec::try_from_vec(bytes.to_vec())
                .map_err(|_| GuideError::Font("not a TrueType or OpenType font".into()))?;
            let font = FontArc::new(font);
            return Ok(Self {
                regular: font.clone(),
                bold: font,
            });
        }
        let embedded = |bytes: &'static [u8]| {
            FontRef::try_from_slice(bytes)
                .map(FontArc::new)
                .map_err(|_| GuideError::Font("the embedded font is damaged".into()))
        };
        Ok(Self {
            regular: embedded(REGULAR)?,
            bold: embedded(BOLD)?,
        })
    }

    /// Fails naming the first character no font glyph exists for.
    fn check(&self, text: &str) -> Result<(), GuideError> {
        match text
            .chars()
            .find(|&c| !c.is_whitespace() && self.regular.glyph_id(c).0 == 0)
        {
            Some(c) => Err(GuideError::Font(format!(
                "no glyph for {c:?} in the font; pass a font that covers this language"
            ))),
            None => Ok(()),
        }
    }
}

/// Draws `text` with its baseline at `y`, clipped to `max_width` with an ellipsis.
fn draw_text(
    image: &mut RgbImage,
    font: &FontArc,
    size: f32,
    (x, y): (u32, u32),
    max_width: u32,
    colour: Rgb<u8>,
    text: &str,
) {
    let scaled = font.as_scaled(PxScale::from(size));
    let width_of = |text: &str| {
        let mut width = 0.0;
        let mut previous = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(previous) = previous {
                width += scaled.kern(previous, id);
            }
            width += scaled.h_advance(id);
            previous = Some(id);
        }
        width
    };
    let mut shown: String = text.chars().filter(|c| !c.is_control()).collect();
    if width_of(&shown) > max_width as f32 {
        while !shown.is_empty() && width_of(&format!("{shown}…")) > max_width as f32 {
            shown.pop();
        }
        shown.push('…');
    }
    let mut caret = x as f32;
    let mut previous = None;
    for c in shown.chars() {
        let id = scaled.glyph_id(c);
        if let Some(previous) = previous {
            caret += scaled.kern(previous, id);
        }
        let glyph = id.with_scale_and_position(size, point(caret, y as f32));
        caret += scaled.h_advance(id);
        previous = Some(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let px = bounds.min.x as i64 + i64::from(gx);
            let py = bounds.min.y as i64 + i64::from(gy);
            if px < 0 || py < 0 || px >= i64::from(image.width()) || py >= i64::from(image.height())
            {
                return;
            }
            let pixel = image.get_pixel_mut(px as u32, py as u32);
            for channel in 0..3 {
                let blended = f32::from(pixel[channel]) * (1.0 - coverage)
                    + f32::from(colour[channel]) * coverage;
                pixel[channel] = blended.round() as u8;
            }
        });
    }
}

/// A grey checkerboard, the backdrop overlays are shown on (their lines are white).
fn backdrop(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        if (x / 16 + y / 16) % 2 == 0 {
            Rgb([92, 98, 94])
        } else {
            Rgb([112, 118, 114])
        }
    })
}

/// Renders a contact sheet of `pack`.
pub fn render_contact_sheet(
    pack: &GuidePack,
    options: &SheetOptions,
) -> Result<RgbImage, GuideError> {
    let typeface = Typeface::new(options.font.as_deref())?;
    let lang = options.lang;
    let steps = pack.steps();
    let columns = options.columns.clamp(1, 8).min(steps.len().max(1) as u32);
    let rows = (steps.len() as u32).div_ceil(columns);
    let width = GAP + columns * (CELL_WIDTH + GAP);
    let height = HEADER + rows * (THUMB_HEIGHT + CELL_TEXT + GAP) + GAP;
    let mut sheet = RgbImage::from_pixel(width, height, PAPER);

    let title = pack.title().get(lang);
    let required = pack.required_steps().count();
    let subtitle = format!(
        "{} · version {} · {} steps, {} required · {}",
        pack.id(),
        pack.version(),
        steps.len(),
        required,
        pack.summary().get(lang)
    );
    typeface.check(title)?;
    typeface.check(&subtitle)?;
    draw_text(
        &mut sheet,
        &typeface.bold,
        30.0,
        (GAP, 44),
        width - 2 * GAP,
        INK,
        title,
    );
    draw_text(
        &mut sheet,
        &typeface.regular,
        15.0,
        (GAP, 72),
        width - 2 * GAP,
        MUTED,
        &subtitle,
    );

    for (index, step) in steps.iter().enumerate() {
        let (column, row) = (index as u32 % columns, index as u32 / columns);
        let x = GAP + column * (CELL_WIDTH + GAP);
        let y = HEADER + row * (THUMB_HEIGHT + CELL_TEXT + GAP);
        let overlay = step.overlay();
        let frame = DynamicImage::ImageRgb8(backdrop(CELL_WIDTH, THUMB_HEIGHT));
        let mut thumb = compose_overlay(&frame, &overlay.decode()?, 1.0);
        let target = target_in_frame(
            &step.target(),
            thumb.dimensions(),
            (overlay.width(), overlay.height()),
        );
        draw_region(&mut thumb, &target, TARGET, 2);
        image::imageops::replace(&mut sheet, &thumb, i64::from(x), i64::from(y));

        let heading = format!("{}. {}", index + 1, step.title().get(lang));
        let mut facts = vec![
            step.id().to_owned(),
            match step.presence() {
                Presence::Required => "required".to_owned(),
                Presence::Optional => "optional".to_owned(),
            },
        ];
        if step.is_repeatable() {
            facts.push(format!("up to {} photos", step.max_photos()));
        }
        if let Some(partner) = step.pairs_with() {
            facts.push(format!("paired with {partner}"));
        }
        let facts = facts.join(" · ");
        let feeds = format!("feeds {}", step.feeds().join(", "));
        for text in [&heading, &facts, &feeds] {
            typeface.check(text)?;
        }
        let text_y = y + THUMB_HEIGHT;
        draw_text(
            &mut sheet,
            &typeface.bold,
            18.0,
            (x, text_y + 24),
            CELL_WIDTH,
            INK,
            &heading,
        );
        draw_text(
            &mut sheet,
            &typeface.regular,
            13.0,
            (x, text_y + 46),
            CELL_WIDTH,
            MUTED,
            &facts,
        );
        draw_text(
            &mut sheet,
            &typeface.regular,
            13.0,
            (x, text_y + 66),
            CELL_WIDTH,
            MUTED,
            &feeds,
        );
    }
    Ok(sheet)
}
