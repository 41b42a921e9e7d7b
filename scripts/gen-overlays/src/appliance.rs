//! Appliance overlays: the machines seen from the front, their insides and installations.
//!
//! Portrait canvases are 300 × 400 units, landscape ones 400 × 300.

use crate::common::{brackets, display};
use crate::draw::{
    Drawing, Line, Shape, arc, circle, cubic, ellipse, polygon, polyline, rect, rounded_rect,
    segment,
};

fn body(d: String) -> Shape {
    Shape::new(d).tint(0.85).solid()
}

fn detail(d: String) -> Shape {
    Shape::new(d).line(Line::Thin)
}

fn floor(drawing: &mut Drawing, y: f32) {
    drawing.add(Shape::new(segment((0.0, y), (drawing.width, y))).line(Line::Dashed));
}

// Washing machine.

/// A front-loading washing machine: panel, drawer, door, filter hatch, feet.
pub fn washer_front() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(body(rounded_rect(50.0, 40.0, 200.0, 290.0, 8.0)));
    drawing.add(detail(segment((50.0, 96.0), (250.0, 96.0))));
    drawing.add(detail(rect(62.0, 52.0, 62.0, 30.0)));
    drawing.add(detail(rect(150.0, 58.0, 50.0, 22.0)));
    drawing.add(detail(circle((226.0, 68.0), 12.0)));
    drawing.add(Shape::new(circle((150.0, 205.0), 74.0)).tint(0.7).solid());
    drawing.add(
        Shape::new(circle((150.0, 205.0), 55.0))
            .tint(0.3)
            .solid()
            .line(Line::Thin),
    );
    drawing.add(detail(rounded_rect(214.0, 190.0, 12.0, 30.0, 4.0)));
    drawing.add(detail(rounded_rect(62.0, 296.0, 40.0, 24.0, 3.0)));
    for x in [62.0, 222.0] {
        drawing.add(body(rect(x, 330.0, 16.0, 10.0)));
    }
    floor(&mut drawing, 342.0);
    drawing
}

/// The door gasket: the rubber ring and its folds, the bottom of the fold marked.
pub fn door_seal() -> Drawing {
    let mut drawing = Drawing::portrait();
    let centre = (150.0, 200.0);
    drawing.add(Shape::new(circle(centre, 135.0)).tint(0.8).solid());
    drawing.add(
        Shape::new(circle(centre, 110.0))
            .tint(0.5)
            .solid()
            .line(Line::Thin),
    );
    drawing.add(Shape::new(circle(centre, 88.0)).tint(0.25).solid());
    for radius in [100.0, 120.0] {
        drawing.add(detail(arc(centre, radius, radius, 200.0, 340.0)));
    }
    drawing.add(
        Shape::new(arc(centre, 112.0, 112.0, 35.0, 145.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing
}

/// The pump filter behind the hatch at the bottom front, a dish ready below it.
pub fn drain_filter() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(body(polygon(&[
        (30.0, 0.0),
        (300.0, 0.0),
        (300.0, 330.0),
        (30.0, 330.0),
    ])));
    drawing.add(detail(rect(60.0, 200.0, 130.0, 100.0)));
    drawing.add(
        Shape::new(circle((125.0, 250.0), 30.0))
            .tint(0.6)
            .solid()
            .accent(),
    );
    drawing.add(detail(segment((105.0, 250.0), (145.0, 250.0))));
    drawing.add(detail(segment((160.0, 285.0), (180.0, 285.0))));
    floor(&mut drawing, 342.0);
    drawing.add(Shape::new(ellipse((125.0, 366.0), 62.0, 14.0)).line(Line::Dashed));
    drawing
}

/// The water inlet: the tap on the wall, its hose, and the valve on the machine's back.
pub fn inlet_hose() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(body(rect(160.0, 170.0, 160.0, 240.0)));
    drawing.add(detail(rect(180.0, 190.0, 60.0, 40.0)));
    drawing.add(body(rounded_rect(56.0, 60.0, 70.0, 34.0, 8.0)));
    drawing.add(body(rect(84.0, 94.0, 16.0, 26.0)));
    drawing.add(body(rounded_rect(76.0, 36.0, 32.0, 18.0, 4.0)));
    drawing.add(detail(segment((92.0, 54.0), (92.0, 60.0))));
    drawing.add(Shape::new(cubic(
        (92.0, 120.0),
        (92.0, 260.0),
        (200.0, 120.0),
        (210.0, 210.0),
    )));
    for (centre, radius) in [((92.0, 110.0), 22.0), ((210.0, 210.0), 24.0)] {
        drawing.add(
            Shape::new(circle(centre, radius))
                .accent()
                .line(Line::Dashed),
        );
    }
    drawing
}

/// The drain: a standpipe in the wall, the hose hooked into it, the height it runs at.
pub fn drain_hose() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(body(polygon(&[
        (140.0, 150.0),
        (170.0, 150.0),
        (170.0, 400.0),
        (140.0, 400.0),
    ])));
    drawing.add(Shape::new(cubic(
        (300.0, 330.0),
        (200.0, 330.0),
        (250.0, 100.0),
        (175.0, 110.0),
    )));
    drawing.add(Shape::new(cubic(
        (175.0, 110.0),
        (150.0, 112.0),
        (154.0, 150.0),
        (155.0, 175.0),
    )));
    drawing.add(
        Shape::new(ellipse((155.0, 150.0), 32.0, 20.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing.add(detail(segment((60.0, 150.0), (60.0, 390.0))));
    for y in [150.0, 390.0] {
        drawing.add(detail(segment((50.0, y), (70.0, y))));
    }
    floor(&mut drawing, 392.0);
    drawing
}

/// The lower front of a machine standing on its feet, to judge level and footing.
pub fn feet() -> Drawing {
    let mut drawing = Drawing::landscape();
    drawing.add(body(polygon(&[
        (40.0, 0.0),
        (360.0, 0.0),
        (360.0, 220.0),
        (40.0, 220.0),
    ])));
    drawing.add(detail(rounded_rect(60.0, 170.0, 50.0, 30.0, 3.0)));
    for x in [56.0, 316.0] {
        drawing.add(body(rect(x, 220.0, 28.0, 18.0)));
        drawing.add(detail(rect(x - 4.0, 238.0, 36.0, 6.0)));
    }
    floor(&mut drawing, 244.0);
    drawing.extend(brackets(30.0, 190.0, 80.0, 70.0));
    drawing.extend(brackets(290.0, 190.0, 80.0, 70.0));
    drawing
}

/// A control panel with its display: `wide` panels for washers and dishwashers.
pub fn control_panel(text: &str) -> Drawing {
    let mut drawing = Drawing::landscape();
    drawing.add(body(rounded_rect(20.0, 85.0, 360.0, 130.0, 10.0)));
    drawing.add(Shape::new(circle((86.0, 150.0), 38.0)).tint(0.6).solid());
    drawing.add(detail(segment((86.0, 150.0), (86.0, 118.0))));
    for index in 0..4 {
        drawing.add(detail(rounded_rect(
            272.0 + (index % 2) as f32 * 48.0,
            118.0 + (index / 2) as f32 * 40.0,
            36.0,
            24.0,
            6.0,
        )));
    }
    drawing.extend(display(text, 144.0, 112.0, 112.0, 62.0));
    drawing
}

// Refrigerator.

/// A fridge-freezer from the front: fridge door above, freezer door below.
pub fn fridge_front() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(body(rounded_rect(78.0, 16.0, 144.0, 364.0, 8.0)));
    drawing.add(detail(segment((78.0, 250.0), (222.0, 250.0))));
    drawing.add(detail(rounded_rect(200.0, 120.0, 8.0, 90.0, 3.0)));
    drawing.add(detail(rounded_rect(200.0, 266.0, 8.0, 60.0, 3.0)));
    drawing.add(detail(rect(112.0, 60.0, 60.0, 24.0)));
    floor(&mut drawing, 384.0);
    drawing
}

/// Inside the fridge with the door open: shelves, back wall, drawers; the drain hole marked.
pub fn fridge_interior() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(body(rect(36.0, 24.0, 228.0, 356.0)));
    drawing.add(
        Shape::new(rect(74.0, 56.0, 152.0, 290.0))
            .tint(0.6)
            .solid()
            .line(Line::Thin),
    );
    for (a, b) in [
        ((36.0, 24.0), (74.0, 56.0)),
        ((264.0, 24.0), (226.0, 56.0)),
        ((36.0, 380.0), (74.0, 346.0)),
        ((264.0, 380.0), (226.0, 346.0)),
    ] {
        drawing.add(detail(segment(a, b)));
    }
    for (front, back) in [(130.0, 118.0), (200.0, 182.0), (262.0, 240.0)] {
        drawing.add(detail(polygon(&[
            (36.0, front),
            (264.0, front),
            (226.0, back),
            (74.0, back),
        ])));
    }
    drawing.add(detail(rect(50.0, 290.0, 96.0, 80.0)));
    drawing.add(detail(rect(154.0, 290.0, 96.0, 80.0)));
    drawing.add(
        Shape::new(ellipse((150.0, 262.0), 26.0, 10.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing.add(
        Shape::new(rect(170.0, 70.0, 40.0, 20.0))
            .accent()
            .line(Line::Thin),
    );
    drawing
}

/// The freezer open, top drawer pulled out, the back wall where frost builds up marked.
pub fn freezer_interior() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(body(rect(36.0, 30.0, 228.0, 340.0)));
    drawing.add(
        Shape::new(rect(70.0, 60.0, 160.0, 260.0))
            .tint(0.6)
            .solid()
            .line(Line::Thin),
    );
    drawing.add(body(polygon(&[
        (52.0, 200.0),
        (248.0, 200.0),
        (262.0, 300.0),
        (38.0, 300.0),
    ])));
    drawing.add(detail(segment((120.0, 280.0), (180.0, 280.0))));
    drawing.add(detail(rect(50.0, 310.0, 200.0, 54.0)));
    let frost: Vec<(f32, f32)> = (0..=16)
        .map(|i| (78.0 + i as f32 * 9.0, if i % 2 == 0 { 80.0 } else { 96.0 }))
        .collect();
    drawing.add(Shape::new(polyline(&frost)).accent());
    drawing.add(
        Shape::new(rect(70.0, 60.0, 160.0, 130.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing
}

/// A door corner and its rubber seal, the seal's run marked.
pub fn door_gasket() -> Drawing {
    let mut drawing = Drawing::portrait();
    let corner = |inset: f32| {
        let mut points = vec![(inset, 400.0)];
        points.extend(crate::draw::arc_points(
            (inset + 60.0, inset + 60.0),
            60.0,
            60.0,
            180.0,
            270.0,
            10,
        ));
        points.push((300.0, inset));
        points
    };
    drawing.add(body(polygon(
        &[corner(30.0), vec![(300.0, 400.0)]].concat(),
    )));
    drawing.add(Shape::new(polyline(&corner(48.0))).line(Line::Thin));
    drawing.add(Shape::new(polyline(&corner(66.0))).line(Line::Thin));
    drawing.add(
        Shape::new(polyline(&corner(57.0)))
            .accent()
            .line(Line::Dashed),
    );
    drawing
}

/// The back of a fridge: condenser coil, compressor, drip tray; the lower area marked.
pub fn fridge_rear() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(body(rect(48.0, 16.0, 204.0, 368.0)));
    let coil: Vec<(f32, f32)> = (0..=14)
        .flat_map(|i| {
            let y = 50.0 + i as f32 * 14.0;
            if i % 2 == 0 {
                [(70.0, y), (230.0, y)]
            } else {
                [(230.0, y), (70.0, y)]
            }
        })
        .collect();
    drawing.add(Shape::new(polyline(&coil)).line(Line::Thin));
    drawing.add(
        Shape::new(rounded_rect(70.0, 286.0, 80.0, 70.0, 30.0))
            .tint(0.5)
            .solid(),
    );
    drawing.add(detail(rect(164.0, 330.0, 70.0, 26.0)));
    drawing.add(
        Shape::new(rect(60.0, 272.0, 180.0, 100.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing
}

/// A fridge in its niche with the gaps around it marked.
pub fn fridge_clearance() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(
        Shape::new(polyline(&[
            (30.0, 400.0),
            (30.0, 20.0),
            (270.0, 20.0),
            (270.0, 400.0),
        ]))
        .line(Line::Thin),
    );
    drawing.add(body(rounded_rect(62.0, 52.0, 176.0, 332.0, 6.0)));
    drawing.add(detail(segment((62.0, 250.0), (238.0, 250.0))));
    floor(&mut drawing, 386.0);
    for (a, b) in [
        ((32.0, 200.0), (60.0, 200.0)),
        ((240.0, 200.0), (268.0, 200.0)),
        ((150.0, 22.0), (150.0, 50.0)),
    ] {
        drawing.add(Shape::new(segment(a, b)).accent());
    }
    drawing
}

// Dishwasher.

/// A built-in dishwasher under the worktop, control strip on top of the door.
pub fn dishwasher_front() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(body(rect(0.0, 50.0, 300.0, 16.0)));
    drawing.add(detail(segment((52.0, 66.0), (52.0, 360.0))));
    drawing.add(detail(segment((248.0, 66.0), (248.0, 360.0))));
    drawing.add(body(rect(58.0, 68.0, 184.0, 252.0)));
    drawing.add(detail(segment((58.0, 96.0), (242.0, 96.0))));
    drawing.add(detail(rect(170.0, 74.0, 44.0, 16.0)));
    drawing.add(detail(rounded_rect(110.0, 108.0, 80.0, 10.0, 4.0)));
    drawing.add(detail(rect(58.0, 324.0, 184.0, 34.0)));
    floor(&mut drawing, 360.0);
    drawing
}

/// Inside with the door down: lower basket, spray arm, the sump with its filter marked.
pub fn dishwasher_interior() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(body(rect(50.0, 30.0, 200.0, 270.0)));
    drawing.add(
        Shape::new(polygon(&[
            (80.0, 60.0),
            (220.0, 60.0),
            (220.0, 250.0),
            (80.0, 250.0),
        ]))
        .tint(0.6)
        .solid()
        .line(Line::Thin),
    );
    for (a, b) in [
        ((50.0, 30.0), (80.0, 60.0)),
        ((250.0, 30.0), (220.0, 60.0)),
        ((50.0, 300.0), (80.0, 250.0)),
        ((250.0, 300.0), (220.0, 250.0)),
    ] {
        drawing.add(detail(segment(a, b)));
    }
    drawing.add(detail(polygon(&[
        (70.0, 150.0),
        (230.0, 150.0),
        (238.0, 200.0),
        (62.0, 200.0),
    ])));
    for index in 0..9 {
        let x = 80.0 + index as f32 * 18.0;
        drawing.add(detail(segment((x, 200.0), (x - 2.0, 170.0))));
    }
    drawing.add(detail(segment((90.0, 232.0), (210.0, 222.0))));
    drawing.add(Shape::new(ellipse((150.0, 270.0), 30.0, 12.0)).accent());
    drawing.add(body(polygon(&[
        (50.0, 300.0),
        (250.0, 300.0),
        (290.0, 396.0),
        (10.0, 396.0),
    ])));
    drawing
}

/// The filter taken out: a mesh cylinder standing in its flat fine filter.
pub fn dishwasher_filter() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(body(polygon(&[
        (40.0, 250.0),
        (260.0, 250.0),
        (290.0, 330.0),
        (10.0, 330.0),
    ])));
    drawing.add(
        Shape::new(ellipse((150.0, 290.0), 60.0, 20.0))
            .tint(0.5)
            .solid()
            .line(Line::Thin),
    );
    drawing.add(body(polygon(&[
        (90.0, 100.0),
        (210.0, 100.0),
        (210.0, 290.0),
        (90.0, 290.0),
    ])));
    drawing.add(
        Shape::new(ellipse((150.0, 100.0), 60.0, 20.0))
            .tint(0.7)
            .solid(),
    );
    for index in 1..6 {
        let x = 90.0 + index as f32 * 20.0;
        drawing.add(detail(segment((x, 118.0), (x, 300.0))));
    }
    for index in 1..8 {
        let y = 100.0 + index as f32 * 24.0;
        drawing.add(detail(arc((150.0, y), 60.0, 20.0, 0.0, 180.0)));
    }
    drawing.extend(brackets(60.0, 60.0, 180.0, 290.0));
    drawing
}

/// A spray arm seen from above: the hub and the rows of jets.
pub fn spray_arm() -> Drawing {
    let mut drawing = Drawing::landscape();
    drawing.add(body(polygon(&[
        (40.0, 140.0),
        (180.0, 132.0),
        (220.0, 132.0),
        (360.0, 140.0),
        (360.0, 160.0),
        (220.0, 168.0),
        (180.0, 168.0),
        (40.0, 160.0),
    ])));
    drawing.add(Shape::new(circle((200.0, 150.0), 24.0)).tint(0.6).solid());
    for index in 0..12 {
        let x = 56.0 + index as f32 * 26.0;
        if (x - 200.0).abs() > 30.0 {
            drawing.add(
                Shape::new(circle((x, 150.0), 3.0))
                    .accent()
                    .line(Line::Thin),
            );
        }
    }
    drawing
}

/// Under the sink: the trap with the drain hose on its spigot, the valve with the inlet hose.
pub fn under_sink() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(detail(rect(20.0, 20.0, 260.0, 360.0)));
    drawing.add(body(polygon(&[
        (60.0, 20.0),
        (240.0, 20.0),
        (220.0, 80.0),
        (80.0, 80.0),
    ])));
    drawing.add(body(rect(142.0, 80.0, 16.0, 70.0)));
    drawing.add(Shape::new(polyline(&[(150.0, 150.0), (150.0, 210.0)])));
    drawing.add(Shape::new(arc((180.0, 210.0), 30.0, 30.0, 0.0, 180.0)));
    drawing.add(Shape::new(polyline(&[
        (210.0, 210.0),
        (210.0, 170.0),
        (280.0, 170.0),
    ])));
    drawing.add(Shape::new(cubic(
        (150.0, 180.0),
        (110.0, 180.0),
        (100.0, 300.0),
        (60.0, 380.0),
    )));
    drawing.add(
        Shape::new(circle((150.0, 180.0), 18.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing.add(body(rect(236.0, 250.0, 44.0, 26.0)));
    drawing.add(body(rounded_rect(244.0, 232.0, 18.0, 18.0, 4.0)));
    drawing.add(Shape::new(cubic(
        (236.0, 263.0),
        (190.0, 263.0),
        (190.0, 350.0),
        (120.0, 392.0),
    )));
    drawing.add(
        Shape::new(circle((246.0, 263.0), 26.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing
}

// Air conditioner.

fn indoor_unit(drawing: &mut Drawing, x: f32, y: f32, w: f32, h: f32) {
    drawing.add(body(rounded_rect(x, y, w, h, h * 0.16)));
    drawing.add(detail(segment(
        (x + 6.0, y + h * 0.7),
        (x + w - 6.0, y + h * 0.7),
    )));
    drawing.add(
        Shape::new(polygon(&[
            (x + w * 0.06, y + h * 0.78),
            (x + w * 0.94, y + h * 0.78),
            (x + w * 0.9, y + h * 0.94),
            (x + w * 0.1, y + h * 0.94),
        ]))
        .tint(0.4)
        .solid()
        .line(Line::Thin),
    );
}

/// The indoor unit on its wall, with the ceiling above.
pub fn ac_indoor() -> Drawing {
    let mut drawing = Drawing::landscape();
    drawing.add(detail(segment((0.0, 50.0), (400.0, 50.0))));
    indoor_unit(&mut drawing, 40.0, 96.0, 320.0, 104.0);
    drawing.add(detail(rect(300.0, 120.0, 34.0, 14.0)));
    drawing.add(Shape::new(segment((330.0, 200.0), (330.0, 300.0))).line(Line::Dashed));
    drawing
}

/// Close to the indoor unit's display window.
pub fn ac_display() -> Drawing {
    let mut drawing = Drawing::landscape();
    drawing.add(body(rounded_rect(-30.0, 60.0, 460.0, 180.0, 30.0)));
    drawing.add(detail(segment((-30.0, 200.0), (430.0, 200.0))));
    drawing.extend(display("E5", 232.0, 100.0, 110.0, 64.0));
    drawing.add(detail(circle((200.0, 132.0), 6.0)));
    drawing
}

/// The remote control, its screen marked.
pub fn ac_remote() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(body(rounded_rect(96.0, 24.0, 108.0, 352.0, 32.0)));
    drawing.extend(display("24", 114.0, 56.0, 72.0, 62.0));
    for row in 0..5 {
        for column in 0..3 {
            drawing.add(detail(circle(
                (122.0 + column as f32 * 28.0, 160.0 + row as f32 * 36.0),
                9.0,
            )));
        }
    }
    drawing
}

/// The indoor unit with its front panel raised and the filter mesh showing.
pub fn ac_filter() -> Drawing {
    let mut drawing = Drawing::landscape();
    indoor_unit(&mut drawing, 30.0, 120.0, 340.0, 110.0);
    drawing.add(body(polygon(&[
        (40.0, 124.0),
        (360.0, 124.0),
        (380.0, 40.0),
        (20.0, 40.0),
    ])));
    drawing.add(
        Shape::new(rect(60.0, 128.0, 280.0, 44.0))
            .tint(0.6)
            .solid()
            .line(Line::Thin),
    );
    for index in 1..14 {
        let x = 60.0 + index as f32 * 20.0;
        drawing.add(detail(segment((x, 128.0), (x, 172.0))));
    }
    drawing.add(detail(segment((60.0, 150.0), (340.0, 150.0))));
    drawing.add(
        Shape::new(rect(54.0, 124.0, 292.0, 52.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing
}

/// The outdoor unit with its fan grille, and the free space it needs around it.
pub fn ac_outdoor() -> Drawing {
    let mut drawing = Drawing::landscape();
    drawing.add(body(rounded_rect(80.0, 64.0, 240.0, 176.0, 6.0)));
    let fan = (172.0, 152.0);
    drawing.add(Shape::new(circle(fan, 72.0)).tint(0.5).solid());
    for radius in [52.0, 32.0] {
        drawing.add(detail(circle(fan, radius)));
    }
    for (dx, dy) in [(72.0, 0.0), (0.0, 72.0)] {
        drawing.add(detail(segment(
            (fan.0 - dx, fan.1 - dy),
            (fan.0 + dx, fan.1 + dy),
        )));
    }
    for index in 0..6 {
        let x = 262.0 + index as f32 * 8.0;
        drawing.add(detail(segment((x, 84.0), (x, 220.0))));
    }
    for x in [96.0, 284.0] {
        drawing.add(body(rect(x, 240.0, 20.0, 14.0)));
    }
    floor(&mut drawing, 256.0);
    drawing.add(
        Shape::new(rect(40.0, 24.0, 320.0, 232.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing
}

/// Where the pipes leave through the wall: the insulated bundle and its seal.
pub fn ac_pipes() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(
        Shape::new(circle((150.0, 110.0), 40.0))
            .tint(0.4)
            .solid()
            .line(Line::Thin),
    );
    drawing.add(body(polygon(&[
        (130.0, 110.0),
        (170.0, 110.0),
        (172.0, 400.0),
        (128.0, 400.0),
    ])));
    for index in 0..10 {
        let y = 140.0 + index as f32 * 26.0;
        drawing.add(detail(segment((130.0, y), (171.0, y + 12.0))));
    }
    drawing.add(
        Shape::new(cubic(
            (176.0, 130.0),
            (210.0, 180.0),
            (200.0, 300.0),
            (214.0, 400.0),
        ))
        .line(Line::Thin),
    );
    drawing.add(
        Shape::new(circle((150.0, 110.0), 54.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing
}

/// The end of the condensate drain hose outside, where it should drip freely.
pub fn ac_drain() -> Drawing {
    let mut drawing = Drawing::portrait();
    drawing.add(Shape::new(cubic(
        (150.0, 0.0),
        (150.0, 150.0),
        (100.0, 220.0),
        (110.0, 300.0),
    )));
    drawing.add(Shape::new(cubic(
        (166.0, 0.0),
        (166.0, 150.0),
        (116.0, 220.0),
        (126.0, 300.0),
    )));
    drawing.add(detail(ellipse((118.0, 300.0), 8.0, 3.0)));
    for (index, y) in [322.0, 344.0].iter().enumerate() {
        let x = 118.0 + index as f32 * 2.0;
        drawing.add(
            Shape::new(polygon(&[
                (x, y - 7.0),
                (x + 4.0, y + 2.0),
                (x, y + 5.0),
                (x - 4.0, y + 2.0),
            ]))
            .tint(0.9)
            .solid()
            .line(Line::Thin),
        );
    }
    floor(&mut drawing, 370.0);
    drawing.add(
        Shape::new(circle((118.0, 310.0), 40.0))
            .accent()
            .line(Line::Dashed),
    );
    drawing
}
