//! Car claim overlays beyond the eight exterior views: VIN, dashboard, airbags, damage, scene.

use crate::car;
use crate::common::{brackets, display};
use crate::draw::{
    Drawing, Line, Shape, arc_points, circle, cubic, ellipse, polygon, rect, rounded_rect, segment,
};

/// The VIN plate seen through the windscreen: a long plate with 17 character cells.
pub fn vin_plate() -> Drawing {
    let mut drawing = Drawing::landscape();
    // Dashboard edge and windscreen pillar for orientation.
    drawing.add(
        Shape::new(cubic(
            (0.0, 220.0),
            (120.0, 205.0),
            (280.0, 200.0),
            (400.0, 210.0),
        ))
        .line(Line::Thin),
    );
    drawing.add(Shape::new(segment((330.0, 0.0), (390.0, 205.0))).line(Line::Thin));
    let (x, y, w, h) = (60.0, 122.0, 280.0, 50.0);
    drawing.add(Shape::new(rounded_rect(x, y, w, h, 4.0)).tint(0.95).solid());
    let cell = (w - 24.0) / 17.0;
    for index in 0..17 {
        drawing.add(
            Shape::new(rect(
                x + 12.0 + index as f32 * cell + 1.0,
                y + 12.0,
                cell - 2.0,
                h - 24.0,
            ))
            .line(Line::Thin),
        );
    }
    drawing.extend(brackets(x - 16.0, y - 20.0, w + 32.0, h + 40.0));
    drawing
}

/// The instrument cluster: two dials and the odometer window between them.
pub fn dashboard() -> Drawing {
    let mut drawing = Drawing::landscape();
    drawing.add(
        Shape::new(rounded_rect(24.0, 58.0, 352.0, 184.0, 46.0))
            .tint(0.85)
            .solid(),
    );
    for centre in [(112.0, 150.0), (288.0, 150.0)] {
        drawing.add(Shape::new(circle(centre, 66.0)).tint(0.5).solid());
        for step in 0..=10 {
            let angle = 135.0 + 27.0 * step as f32;
            let outer = arc_points(centre, 60.0, 60.0, angle, angle, 1)[0];
            let inner = arc_points(centre, 50.0, 50.0, angle, angle, 1)[0];
            drawing.add(Shape::new(segment(inner, outer)).line(Line::Thin));
        }
        let needle = arc_points(centre, 48.0, 48.0, 200.0, 200.0, 1)[0];
        drawing.add(Shape::new(segment(centre, needle)).line(Line::Thin));
        drawing.add(
            Shape::new(circle(centre, 6.0))
                .tint(0.2)
                .solid()
                .line(Line::Thin),
        );
    }
    drawing.extend(display("123456", 158.0, 188.0, 84.0, 30.0));
    for index in 0..5 {
        let x = 170.0 + index as f32 * 15.0;
        drawing.add(Shape::new(circle((x, 84.0), 4.5)).line(Line::Thin));
    }
    drawing
}

/// The driver's side of the cabin: dashboard, steering wheel with its airbag cover marked.
pub fn airbags() -> Drawing {
    let mut drawing = Drawing::landscape();
    drawing.add(
        Shape::new(polygon(&[
            (0.0, 95.0),
            (120.0, 80.0),
            (280.0, 80.0),
            (400.0, 95.0),
            (400.0, 150.0),
            (0.0, 150.0),
        ]))
        .tint(0.8)
        .solid(),
    );
    drawing.add(Shape::new(rect(300.0, 112.0, 70.0, 24.0)).line(Line::Thin));
    let centre = (170.0, 180.0);
    drawing.add(Shape::new(circle(centre, 96.0)).tint(0.6).solid());
    drawing.add(Shape::new(circle(centre, 80.0)).solid().line(Line::Thin));
    for (from, to) in [
        ((100.0, 185.0), (140.0, 185.0)),
        ((200.0, 185.0), (240.0, 185.0)),
    ] {
        drawing.add(Shape::new(segment(from, to)).line(Line::Bold));
    }
    drawing.add(Shape::new(segment((170.0, 212.0), (170.0, 258.0))).line(Line::Bold));
    drawing.add(
        Shape::new(rounded_rect(135.0, 152.0, 70.0, 60.0, 16.0))
            .tint(0.9)
            .solid()
            .accent(),
    );
    // Passenger airbag panel on the dashboard.
    drawing.add(
        Shape::new(rounded_rect(300.0, 84.0, 70.0, 20.0, 6.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing
}

/// A wider shot of damage: most of the car, the damaged area centred in a dashed ring.
pub fn damage_context() -> Drawing {
    let mut drawing = Drawing::landscape();
    drawing.extend(car::shapes(60.0, (10.0, 40.0, 380.0, 220.0)));
    drawing.add(
        Shape::new(circle((200.0, 150.0), 48.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing
}

/// Fluid under the car: the car low in the frame, the ground and a puddle under the engine.
pub fn fluid_leak() -> Drawing {
    let mut drawing = Drawing::landscape();
    drawing.extend(car::shapes(90.0, (20.0, 60.0, 360.0, 150.0)));
    drawing.add(Shape::new(segment((0.0, 214.0), (400.0, 214.0))).line(Line::Dashed));
    drawing.add(
        Shape::new(ellipse((95.0, 238.0), 60.0, 14.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing
}

/// The scene: the road, its edges running to the horizon, and both vehicles.
pub fn scene() -> Drawing {
    let mut drawing = Drawing::landscape();
    drawing.add(Shape::new(segment((0.0, 110.0), (400.0, 110.0))).line(Line::Thin));
    drawing.add(Shape::new(segment((-40.0, 300.0), (170.0, 110.0))).line(Line::Thin));
    drawing.add(Shape::new(segment((440.0, 300.0), (230.0, 110.0))).line(Line::Thin));
    drawing.add(Shape::new(segment((200.0, 300.0), (200.0, 110.0))).line(Line::Dashed));
    drawing.extend(car::shapes(35.0, (40.0, 150.0, 150.0, 100.0)));
    drawing.extend(car::shapes(200.0, (230.0, 135.0, 120.0, 80.0)));
    drawing.add(
        Shape::new(ellipse((200.0, 192.0), 188.0, 82.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing
}
