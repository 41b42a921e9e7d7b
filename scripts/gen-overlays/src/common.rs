//! Overlays shared by several packs: rating labels, close-up finders, sockets, displays.

use crate::draw::{
    Drawing, Line, Shape, circle, corner_brackets, rect, rounded_rect, segment, seven_segment,
};

/// Viewfinder brackets around a box, in the accent colour.
pub fn brackets(x: f32, y: f32, w: f32, h: f32) -> Vec<Shape> {
    let arm = w.min(h) * 0.18;
    corner_brackets(x, y, w, h, arm)
        .into_iter()
        .map(|d| Shape::new(d).accent())
        .collect()
}

/// A rating plate or model label: a brand bar, lines of text, a barcode, inside brackets.
pub fn rating_label(portrait: bool) -> Drawing {
    let mut drawing = if portrait {
        Drawing::portrait()
    } else {
        Drawing::landscape()
    };
    let (w, h) = (drawing.width * 0.74, drawing.width * 0.74 * 0.62);
    let (x, y) = ((drawing.width - w) / 2.0, (drawing.height - h) / 2.0);
    drawing.add(Shape::new(rounded_rect(x, y, w, h, 6.0)).tint(0.95).solid());
    let pad = w * 0.07;
    drawing.add(
        Shape::new(rect(x + pad, y + pad, w * 0.38, h * 0.12))
            .tint(0.5)
            .solid()
            .line(Line::Thin),
    );
    let rows = [0.34, 0.46, 0.58, 0.7, 0.82];
    let lengths = [0.86, 0.62, 0.74, 0.4, 0.5];
    for (row, length) in rows.iter().zip(lengths) {
        let row_y = y + h * row;
        drawing.add(
            Shape::new(segment(
                (x + pad, row_y),
                (x + pad + (w - 2.0 * pad) * length * 0.55, row_y),
            ))
            .line(Line::Thin),
        );
    }
    // Barcode: bars of varying width in the lower right.
    let (bar_x, bar_y, bar_h) = (x + w * 0.58, y + h * 0.56, h * 0.3);
    let mut offset = 0.0;
    for (index, width) in [1.0, 2.5, 1.0, 1.0, 3.0, 1.5, 1.0, 2.0, 1.0, 3.0, 1.0, 2.0]
        .iter()
        .enumerate()
    {
        if index % 2 == 0 {
            drawing.add(
                Shape::new(rect(bar_x + offset, bar_y, *width, bar_h))
                    .tint(0.2)
                    .solid()
                    .line(Line::Hidden),
            );
        }
        offset += width * 2.2;
    }
    let margin = drawing.width * 0.05;
    drawing.extend(brackets(
        x - margin,
        y - margin,
        w + 2.0 * margin,
        h + 2.0 * margin,
    ));
    drawing
}

/// A close-up finder: brackets near the frame's corners and a dashed ring on the centre.
pub fn closeup(portrait: bool) -> Drawing {
    let mut drawing = if portrait {
        Drawing::portrait()
    } else {
        Drawing::landscape()
    };
    let (w, h) = (drawing.width, drawing.height);
    let margin = w.min(h) * 0.1;
    drawing.extend(brackets(margin, margin, w - 2.0 * margin, h - 2.0 * margin));
    let centre = (w / 2.0, h / 2.0);
    let radius = w.min(h) * 0.26;
    drawing.add(
        Shape::new(circle(centre, radius))
            .accent()
            .line(Line::Dashed),
    );
    let tick = radius * 0.18;
    for (dx, dy) in [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)] {
        drawing.add(
            Shape::new(segment(
                (centre.0 + dx * tick, centre.1 + dy * tick),
                (centre.0 + dx * tick * 2.2, centre.1 + dy * tick * 2.2),
            ))
            .line(Line::Thin),
        );
    }
    drawing
}

/// A wall socket with a plug in it and its cable running down.
pub fn power_socket() -> Drawing {
    let mut drawing = Drawing::portrait();
    let (cx, cy) = (150.0, 170.0);
    drawing.add(
        Shape::new(rounded_rect(cx - 70.0, cy - 70.0, 140.0, 140.0, 16.0))
            .tint(0.95)
            .solid(),
    );
    drawing.add(Shape::new(circle((cx, cy), 48.0)).line(Line::Thin));
    drawing.add(Shape::new(circle((cx, cy), 36.0)).tint(0.6).solid());
    drawing.add(
        Shape::new(rounded_rect(cx - 9.0, cy + 30.0, 18.0, 24.0, 4.0))
            .tint(0.6)
            .solid(),
    );
    drawing.add(
        Shape::new(crate::draw::cubic(
            (cx, cy + 54.0),
            (cx, cy + 140.0),
            (cx + 60.0, cy + 150.0),
            (cx + 50.0, 400.0),
        ))
        .line(Line::Bold),
    );
    drawing.extend(brackets(cx - 90.0, cy - 90.0, 180.0, 180.0));
    drawing
}

/// A display window with seven-segment characters, drawn in the accent colour.
pub fn display(text: &str, x: f32, y: f32, w: f32, h: f32) -> Vec<Shape> {
    let mut shapes = vec![Shape::new(rect(x, y, w, h)).tint(0.25).solid().accent()];
    let count = text.chars().count() as f32;
    let digit_h = h * 0.6;
    let digit_w = (digit_h * 0.5).min(w * 0.8 / (count * 1.45));
    let text_w = digit_w * (count * 1.45 - 0.45);
    let (left, top) = (x + (w - text_w) / 2.0, y + (h - digit_h) / 2.0);
    shapes.extend(
        seven_segment(text, left, top, digit_w, digit_h)
            .into_iter()
            .map(|d| Shape::new(d).line(Line::Thin).accent()),
    );
    shapes
}
