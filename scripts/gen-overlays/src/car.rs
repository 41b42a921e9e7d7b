//! A low-poly saloon car in 3D, projected from any direction into an overlay.
//!
//! The eight exterior views of a claim are the same model seen from eight yaw angles, so
//! every view is consistent: the wheels, windows and lights are where they would be.
//! Faces facing away are culled; the rest are painted far to near, part by part.
//!
//! Axes: x forward (the nose is at +x), y to the car's left, z up; units are metres.

use crate::draw::{Drawing, Line, P, Shape, polygon, polyline};

type V3 = [f32; 3];

fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: V3, b: V3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn normalize(a: V3) -> V3 {
    let length = dot(a, a).sqrt().max(1e-9);
    [a[0] / length, a[1] / length, a[2] / length]
}

fn centroid(points: &[V3]) -> V3 {
    let n = points.len() as f32;
    let sum = points.iter().fold([0.0; 3], |acc, p| {
        [acc[0] + p[0], acc[1] + p[1], acc[2] + p[2]]
    });
    [sum[0] / n, sum[1] / n, sum[2] / n]
}

/// A flat face with its outward normal and how it is drawn.
#[derive(Debug, Clone)]
struct Face {
    points: Vec<V3>,
    normal: V3,
    tint: f32,
}

impl Face {
    /// A face whose normal is oriented away from `inside`.
    fn outward(points: Vec<V3>, inside: V3, tint: f32) -> Self {
        let n = points.len();
        // Newell's method: robust for slightly non-planar quads.
        let mut normal = [0.0; 3];
        for i in 0..n {
            let (a, b) = (points[i], points[(i + 1) % n]);
            normal[0] += (a[1] - b[1]) * (a[2] + b[2]);
            normal[1] += (a[2] - b[2]) * (a[0] + b[0]);
            normal[2] += (a[0] - b[0]) * (a[1] + b[1]);
        }
        let mut normal = normalize(normal);
        let mut points = points;
        // Outward normal and counter-clockwise order agree, so visible faces all wind the
        // same way on screen and their union fills without holes.
        if dot(normal, sub(centroid(&points), inside)) < 0.0 {
            normal = [-normal[0], -normal[1], -normal[2]];
            points.reverse();
        }
        Self {
            points,
            normal,
            tint,
        }
    }
}

/// A decal: a polygon or polyline lying on a surface, shown when that surface faces the camera.
#[derive(Debug, Clone)]
struct Decal {
    points: Vec<V3>,
    facing: V3,
    closed: bool,
    tint: Option<f32>,
}

/// One solid of the car: faces, and decals painted on them.
#[derive(Debug, Clone, Default)]
struct Part {
    faces: Vec<Face>,
    decals: Vec<Decal>,
}

/// Orthographic camera looking at the car from `yaw` degrees around it (0 = in front,
/// 90 = from the car's left) and `elevation` degrees above the horizon.
struct Camera {
    toward: V3,
    right: V3,
    up: V3,
}

impl Camera {
    fn new(yaw: f32, elevation: f32) -> Self {
        let (yaw, elevation) = (yaw.to_radians(), elevation.to_radians());
        Self {
            toward: [
                elevation.cos() * yaw.cos(),
                elevation.cos() * yaw.sin(),
                elevation.sin(),
            ],
            right: [-yaw.sin(), yaw.cos(), 0.0],
            up: [
                -elevation.sin() * yaw.cos(),
                -elevation.sin() * yaw.sin(),
                elevation.cos(),
            ],
        }
    }

    fn sees(&self, normal: V3) -> bool {
        dot(normal, self.toward) > 0.02
    }

    /// Decals seen nearly edge-on are left out: they would be slivers.
    fn sees_decal(&self, facing: V3) -> bool {
        dot(facing, self.toward) > 0.25
    }

    fn depth(&self, point: V3) -> f32 {
        dot(point, self.toward)
    }

    fn project(&self, point: V3) -> P {
        (dot(point, self.right), -dot(point, self.up))
    }
}

const LENGTH: f32 = 4.6;
const HALF_WIDTH: f32 = 0.9;
const WHEEL_X: f32 = 1.4;
const WHEEL_RADIUS: f32 = 0.34;
const BODY_TINT: f32 = 0.85;
const GLASS_TINT: f32 = 0.35;
const TYRE_TINT: f32 = 0.2;

fn half_width_at(x: f32) -> f32 {
    // A superellipse in plan: straight sides, rounded corners.
    HALF_WIDTH * (1.0 - (x.abs() / 2.38).powi(6)).max(0.0).powf(1.0 / 6.0)
}

fn top_at(x: f32) -> f32 {
    if x > 1.0 {
        let hood = 0.98 - 0.1 * ((x - 1.0) / 1.3).powf(1.5);
        let nose = if x > 2.05 {
            0.1 * ((x - 2.05) / 0.25).powi(2)
        } else {
            0.0
        };
        hood - nose
    } else if x < -1.35 {
        let deck = 1.0 - 0.05 * ((-1.35 - x) / 0.95);
        let tail = if x < -2.05 {
            0.14 * ((-2.05 - x) / 0.25).powi(2)
        } else {
            0.0
        };
        deck - tail
    } else {
        0.98 + 0.02 * (1.0 - x) / 2.35
    }
}

fn bottom_at(x: f32) -> f32 {
    let overhang = (x.abs() - 1.95).max(0.0) / 0.35;
    0.3 + 0.07 * overhang * overhang
}

/// The lower body: cross-sections at stations along x, joined into quads, capped at both ends.
fn body() -> Part {
    let stations: Vec<f32> = (0..=22)
        .map(|i| {
            let t = -std::f32::consts::FRAC_PI_2 + std::f32::consts::PI * i as f32 / 22.0;
            LENGTH / 2.0 * t.sin()
        })
        .collect();
    let section = |x: f32| -> Vec<V3> {
        let (w, top, bottom) = (half_width_at(x), top_at(x), bottom_at(x));
        let left = [
            [x, w * 0.95, bottom],
            [x, w, bottom + 0.1],
            [x, w, top - 0.14],
            [x, w - 0.12, top],
        ];
        let right = left.iter().rev().map(|p| [p[0], -p[1], p[2]]);
        left.iter().copied().chain(right).collect()
    };
    let sections: Vec<Vec<V3>> = stations.iter().map(|&x| section(x)).collect();
    let mut part = Part::default();
    for pair in sections.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let x = (a[0][0] + b[0][0]) / 2.0;
        let axis = [x, 0.0, (top_at(x) + bottom_at(x)) / 2.0];
        for i in 0..a.len() {
            let j = (i + 1) % a.len();
            part.faces
                .push(Face::outward(vec![a[i], a[j], b[j], b[i]], axis, BODY_TINT));
        }
    }
    for (cap, toward) in [(&sections[0], -1.0), (&sections[22], 1.0)] {
        let inside = [cap[0][0] - toward, 0.0, 0.6];
        part.faces
            .push(Face::outward(cap.clone(), inside, BODY_TINT));
    }
    part.decals = body_decals();
    part
}

fn on_side(points: &[(f32, f32)], side: f32) -> Vec<V3> {
    points
        .iter()
        .map(|&(x, z)| [x, side * (half_width_at(x) + 0.01), z])
        .collect()
}

fn on_end(points: &[(f32, f32)], x: f32) -> Vec<V3> {
    points.iter().map(|&(y, z)| [x, y, z]).collect()
}

fn mirrored(points: &[(f32, f32)]) -> Vec<(f32, f32)> {
    points.iter().map(|&(y, z)| (-y, z)).collect()
}

fn body_decals() -> Vec<Decal> {
    let mut decals = Vec::new();
    for side in [1.0, -1.0] {
        let facing = [0.0, side, 0.0];
        let line = |points: &[(f32, f32)]| Decal {
            points: on_side(points, side),
            facing,
            closed: false,
            tint: None,
        };
        // Door cuts, handles, the sill and the wheel arches.
        for x in [0.95, -0.2, -1.22] {
            decals.push(line(&[(x, bottom_at(x) + 0.12), (x, top_at(x) - 0.05)]));
        }
        for x in [-0.05, -1.07] {
            decals.push(line(&[(x, 0.82), (x - 0.14, 0.82)]));
        }
        decals.push(line(&[(1.0, 0.42), (-1.3, 0.42)]));
        let shoulder: Vec<(f32, f32)> = (0..=16)
            .map(|i| {
                let x = 2.1 - 4.2 * i as f32 / 16.0;
                (x, top_at(x) - 0.14)
            })
            .collect();
        decals.push(line(&shoulder));
        for wheel_x in [WHEEL_X, -WHEEL_X] {
            let arch: Vec<(f32, f32)> = (0..=12)
                .map(|i| {
                    let angle = std::f32::consts::PI * i as f32 / 12.0;
                    (
                        wheel_x + 0.44 * angle.cos(),
                        WHEEL_RADIUS + 0.44 * angle.sin(),
                    )
                })
                .collect();
            decals.push(line(&arch));
        }
    }
    let front = [1.0, 0.0, 0.0];
    let rear = [-1.0, 0.0, 0.0];
    let front_x = LENGTH / 2.0 + 0.01;
    let lamp = |points: &[(f32, f32)], x: f32, facing: V3| Decal {
        points: on_end(points, x),
        facing,
        closed: true,
        tint: Some(0.95),
    };
    let headlight = [(0.3, 0.62), (0.62, 0.64), (0.6, 0.76), (0.3, 0.76)];
    decals.push(lamp(&headlight, front_x, front));
    decals.push(lamp(&mirrored(&headlight), front_x, front));
    let grille = [(-0.25, 0.55), (0.25, 0.55), (0.25, 0.72), (-0.25, 0.72)];
    decals.push(Decal {
        tint: Some(0.3),
        ..lamp(&grille, front_x, front)
    });
    let plate = [(-0.24, 0.44), (0.24, 0.44), (0.24, 0.52), (-0.24, 0.52)];
    decals.push(lamp(&plate, front_x, front));
    let tail_light = [(0.36, 0.68), (0.64, 0.68), (0.62, 0.8), (0.4, 0.8)];
    decals.push(lamp(&tail_light, -front_x, rear));
    decals.push(lamp(&mirrored(&tail_light), -front_x, rear));
    let rear_plate = [(-0.24, 0.5), (0.24, 0.5), (0.24, 0.59), (-0.24, 0.59)];
    decals.push(lamp(&rear_plate, -front_x, rear));
    decals
}

/// A rounded rectangle in plan at height `z`, as a ring of points starting at the front.
fn plan_ring(front: f32, rear: f32, half_width: f32, radius: f32, z: f32) -> Vec<V3> {
    let corners = [
        (front - radius, half_width - radius, 0.0),
        (rear + radius, half_width - radius, 90.0),
        (rear + radius, -half_width + radius, 180.0),
        (front - radius, -half_width + radius, 270.0),
    ];
    let mut ring = Vec::new();
    for (cx, cy, start) in corners {
        for step in 0..=3 {
            let angle = (start + 30.0 * step as f32).to_radians();
            ring.push([cx + radius * angle.cos(), cy + radius * angle.sin(), z]);
        }
    }
    ring
}

/// A point inside a quad `[a, b, c, d]` at (u along a→b, v along a→d).
fn bilinear(quad: &[V3], u: f32, v: f32) -> V3 {
    let lerp = |p: V3, q: V3, t: f32| {
        [
            p[0] + (q[0] - p[0]) * t,
            p[1] + (q[1] - p[1]) * t,
            p[2] + (q[2] - p[2]) * t,
        ]
    };
    let bottom = lerp(quad[0], quad[1], u);
    let top = lerp(quad[3], quad[2], u);
    lerp(bottom, top, v)
}

/// The greenhouse: a loft from the belt line to the roof, glass inset on the long faces.
fn cabin() -> Part {
    let belt = plan_ring(1.02, -1.42, 0.8, 0.3, 0.99);
    let roof = plan_ring(0.22, -0.88, 0.64, 0.22, 1.45);
    let inside = [-0.4, 0.0, 1.2];
    let mut part = Part::default();
    let n = belt.len();
    for i in 0..n {
        let j = (i + 1) % n;
        let quad = vec![belt[i], belt[j], roof[j], roof[i]];
        let face = Face::outward(quad.clone(), inside, BODY_TINT);
        // Long straight faces carry glass: windscreen, side windows, rear window.
        let straight = i % 4 == 3;
        if straight {
            let facing = face.normal;
            let is_side = facing[1].abs() > 0.5;
            let panes: &[(f32, f32)] = if is_side {
                &[(0.03, 0.48), (0.53, 0.95)]
            } else {
                &[(0.04, 0.96)]
            };
            for &(u0, u1) in panes {
                let pane = vec![
                    bilinear(&quad, u0, 0.1),
                    bilinear(&quad, u1, 0.1),
                    bilinear(&quad, u1, 0.92),
                    bilinear(&quad, u0, 0.92),
                ];
                part.decals.push(Decal {
                    points: pane,
                    facing,
                    closed: true,
                    tint: Some(GLASS_TINT),
                });
            }
        }
        part.faces.push(face);
    }
    part.faces.push(Face::outward(roof, inside, BODY_TINT));
    part
}

/// A wheel: a 20-sided cylinder along y with a rim circle on its outer face.
fn wheel(x: f32, side: f32) -> Part {
    let (inner, outer) = (side * 0.64, side * (HALF_WIDTH - 0.02));
    let circle = |y: f32, radius: f32| -> Vec<V3> {
        (0..20)
            .map(|i| {
                let angle = std::f32::consts::TAU * i as f32 / 20.0;
                [
                    x + radius * angle.cos(),
                    y,
                    WHEEL_RADIUS + radius * angle.sin(),
                ]
            })
            .collect()
    };
    let center = [x, (inner + outer) / 2.0, WHEEL_RADIUS];
    let (rim_in, rim_out) = (circle(inner, WHEEL_RADIUS), circle(outer, WHEEL_RADIUS));
    let mut part = Part::default();
    for i in 0..20 {
        let j = (i + 1) % 20;
        part.faces.push(Face::outward(
            vec![rim_in[i], rim_in[j], rim_out[j], rim_out[i]],
            center,
            TYRE_TINT,
        ));
    }
    part.faces
        .push(Face::outward(rim_in.clone(), center, TYRE_TINT));
    part.faces
        .push(Face::outward(rim_out.clone(), center, TYRE_TINT));
    let facing = [0.0, side, 0.0];
    for radius in [0.22, 0.06] {
        part.decals.push(Decal {
            points: circle(outer + side * 0.005, radius),
            facing,
            closed: true,
            tint: Some(0.7),
        });
    }
    part
}

/// An axis-aligned box.
fn cuboid(min: V3, max: V3, tint: f32) -> Part {
    let corner = |i: usize| {
        [
            if i & 1 == 0 { min[0] } else { max[0] },
            if i & 2 == 0 { min[1] } else { max[1] },
            if i & 4 == 0 { min[2] } else { max[2] },
        ]
    };
    let inside = centroid(&[min, max]);
    let faces = [
        [0, 1, 3, 2],
        [4, 5, 7, 6],
        [0, 1, 5, 4],
        [2, 3, 7, 6],
        [0, 2, 6, 4],
        [1, 3, 7, 5],
    ];
    Part {
        faces: faces
            .iter()
            .map(|quad| Face::outward(quad.iter().map(|&i| corner(i)).collect(), inside, tint))
            .collect(),
        decals: Vec::new(),
    }
}

fn mirror(side: f32) -> Part {
    let (near, far) = (side * 0.82, side * 0.99);
    cuboid(
        [0.8, near.min(far), 1.0],
        [0.9, near.max(far), 1.1],
        BODY_TINT,
    )
}

/// What a part leaves on the canvas, still in 3D.
enum Mark {
    /// Closed polygons, drawn as one path.
    Polygons(Vec<Vec<V3>>),
    /// An open line.
    Polyline(Vec<V3>),
}

/// Paints one part: a bold outline around its visible faces, the faces shaded far to near,
/// an occluder hiding what lies behind the part, then its visible decals.
fn paint(part: &Part, camera: &Camera, out: &mut Vec<(Mark, Shape)>) {
    let mut faces: Vec<&Face> = part
        .faces
        .iter()
        .filter(|face| camera.sees(face.normal))
        .collect();
    faces.sort_by(|a, b| {
        camera
            .depth(centroid(&a.points))
            .total_cmp(&camera.depth(centroid(&b.points)))
    });
    let union = || Mark::Polygons(faces.iter().map(|face| face.points.clone()).collect());
    let blank = || Shape::new(String::new());
    out.push((union(), blank().tint(BODY_TINT * 0.8).line(Line::Outline)));
    let light = normalize([0.35, 0.45, 0.82]);
    for face in &faces {
        let shade = face.tint * (0.6 + 0.4 * dot(face.normal, light).max(0.0));
        out.push((
            Mark::Polygons(vec![face.points.clone()]),
            blank().tint(shade).line(Line::Hidden),
        ));
    }
    out.push((union(), blank().solid().line(Line::Hidden)));
    for decal in part
        .decals
        .iter()
        .filter(|decal| camera.sees_decal(decal.facing))
    {
        let shape = blank().line(Line::Thin);
        out.push(match (decal.closed, decal.tint) {
            (true, Some(grey)) => (
                Mark::Polygons(vec![decal.points.clone()]),
                shape.tint(grey).solid(),
            ),
            (true, None) => (Mark::Polygons(vec![decal.points.clone()]), shape),
            (false, _) => (Mark::Polyline(decal.points.clone()), shape),
        });
    }
}

/// The car seen from `yaw` degrees (0 front, 90 left, 180 rear, 270 right), filling most
/// of a landscape canvas.
pub fn view(yaw: f32) -> Drawing {
    let mut drawing = Drawing::landscape();
    let (w, h) = (drawing.width, drawing.height);
    drawing.extend(shapes(yaw, (w * 0.08, h * 0.22, w * 0.84, h * 0.64)));
    drawing
}

/// The car seen from `yaw` degrees, scaled to fit the box `(x, y, w, h)` and centred in it.
pub fn shapes(yaw: f32, fit_box: (f32, f32, f32, f32)) -> Vec<Shape> {
    let camera = Camera::new(yaw, 12.0);
    let sideways = camera.toward[1];
    let wheels: Vec<(f32, Part)> = [
        (WHEEL_X, 1.0),
        (WHEEL_X, -1.0),
        (-WHEEL_X, 1.0),
        (-WHEEL_X, -1.0),
    ]
    .iter()
    .map(|&(x, side)| (side, wheel(x, side)))
    .collect();
    // Wheels on the camera's side stand in front of the body; the others behind it.
    let is_near = |side: f32| sideways.abs() > 0.1 && side * sideways > 0.0;
    let far_to_near = |near: bool| {
        let mut parts: Vec<&Part> = wheels
            .iter()
            .filter(|(side, _)| is_near(*side) == near)
            .map(|(_, part)| part)
            .collect();
        parts.sort_by(|a, b| {
            let depth = |part: &Part| camera.depth(centroid(&part.faces[0].points));
            depth(a).total_cmp(&depth(b))
        });
        parts
    };
    let near_side = if sideways >= 0.0 { 1.0 } else { -1.0 };
    let mut painted = Vec::new();
    for part in far_to_near(false) {
        paint(part, &camera, &mut painted);
    }
    paint(&body(), &camera, &mut painted);
    for part in far_to_near(true) {
        paint(part, &camera, &mut painted);
    }
    paint(&mirror(-near_side), &camera, &mut painted);
    paint(&cabin(), &camera, &mut painted);
    paint(&mirror(near_side), &camera, &mut painted);
    fit(painted, &camera, fit_box)
}

/// Projects the marks and scales them to fit the box `(x, y, w, h)`, centred in it.
fn fit(
    painted: Vec<(Mark, Shape)>,
    camera: &Camera,
    (box_x, box_y, box_w, box_h): (f32, f32, f32, f32),
) -> Vec<Shape> {
    let points = painted.iter().flat_map(|(mark, _)| match mark {
        Mark::Polygons(polygons) => polygons.iter().flatten().collect::<Vec<_>>(),
        Mark::Polyline(line) => line.iter().collect(),
    });
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for &point in points {
        let (x, y) = camera.project(point);
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let scale = (box_w / (x1 - x0)).min(box_h / (y1 - y0));
    let (cx, cy) = (box_x + box_w / 2.0, box_y + box_h / 2.0);
    let place = |point: &V3| {
        let (x, y) = camera.project(*point);
        (
            cx + (x - (x0 + x1) / 2.0) * scale,
            cy + (y - (y0 + y1) / 2.0) * scale,
        )
    };
    let mut shapes = Vec::new();
    for (mark, shape) in painted {
        let d = match mark {
            Mark::Polygons(polygons) => polygons
                .iter()
                .map(|polygon_points| {
                    polygon(&polygon_points.iter().map(place).collect::<Vec<_>>())
                })
                .collect::<Vec<_>>()
                .join(" "),
            Mark::Polyline(line) => polyline(&line.iter().map(place).collect::<Vec<_>>()),
        };
        shapes.push(shape.with_path(d));
    }
    shapes
}
