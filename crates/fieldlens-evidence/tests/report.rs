//! The HTML case report: every section present, every text escaped, photos embedded; and the
//! page as headless Chromium renders it is not blank and has its sections.

mod fixture;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fieldlens_core::CaseId;
use fieldlens_evidence::{CaseEvidence, render_report};
use fixture::car_claim;

const SECTIONS: [&str; 8] = [
    "summary",
    "decision",
    "review",
    "findings",
    "photos",
    "trace",
    "events",
    "integrity",
];

#[test]
fn the_report_has_every_section_and_escapes_every_text() {
    let fixture = car_claim();
    let html = render_report(&fixture.evidence(), fixture::T0 + 1_000_000);
    for id in SECTIONS {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "no section {id}"
        );
    }
    // Case, caller, notes, photo messages and the override reason are all escaped.
    assert!(html.contains("Ada &lt;script&gt;alert(1)&lt;/script&gt; Lovelace"));
    assert!(html.contains("Golf &lt;VIII&gt; &amp; &quot;GTI&quot;"));
    assert!(html.contains("Reversed into a post &lt;/p&gt;&lt;h1&gt;oops&lt;/h1&gt;"));
    assert!(html.contains("Cracked bumper cover &lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("blurred &lt;b&gt;by movement&lt;/b&gt;: hold still &amp; retake."));
    assert!(html.contains("cash settlement &lt;no repair&gt;"));
    assert!(!html.contains("<script") && !html.contains("<img src=x"));
    // Only the phone's last digits.
    assert!(!html.contains("7700900123") && html.contains("•••• 0123"));
    // The decision, its trace and the override.
    assert!(html.contains("Truck roll with parts"));
    assert!(html.contains("rear_bumper_cover") && html.contains("lamp_assembly"));
    assert!(html.contains("<code>rear_bumper_repair</code>"));
    assert!(html.contains("<code>truck_roll_with_parts</code> → <code>remote_resolved</code>"));
    // Every photo embedded, the rejected one with its verdict.
    assert_eq!(
        html.matches("src=\"data:image/jpeg;base64,").count(),
        fixture.photos.len()
    );
    assert_eq!(html.matches("badge bad\">retake").count(), 1);
    assert!(html.contains("badge good\">intact"));
}

#[test]
fn a_case_without_capture_or_triage_still_reports() {
    let fixture = car_claim();
    let mut case = fixture.case.clone();
    case.event_count = 1;
    case.last_event_hash = fixture.events[0].hash.clone();
    let html = render_report(
        &CaseEvidence {
            case: &case,
            events: &fixture.events[..1],
            photos: &[],
            guide: None,
        },
        0,
    );
    assert!(html.contains("Not triaged yet."));
    assert!(html.contains("Not reviewed yet."));
    assert!(html.contains("No photos."));
    // A broken chain is shown as such.
    let mut foreign = case.clone();
    foreign.id = CaseId::new("c-other");
    let html = render_report(
        &CaseEvidence {
            case: &foreign,
            events: &fixture.events[..1],
            photos: &[],
            guide: None,
        },
        0,
    );
    assert!(html.contains("badge bad\">broken"));
}

#[test]
fn photos_are_shown_upright() {
    // A landscape photo whose EXIF says "rotate 90° clockwise to view", as phones write.
    const ROTATE_90: [u8; 26] = [
        0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x12, 0x01, 0x03, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    let landscape = image::load_from_memory(&fixture::jpeg(5, 320, 240)).unwrap();
    let mut bytes = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new(&mut bytes);
    image::ImageEncoder::set_exif_metadata(&mut encoder, ROTATE_90.to_vec()).unwrap();
    encoder.encode_image(&landscape).unwrap();
    let mut fixture = car_claim();
    fixture.photos[1].bytes = bytes;
    let html = render_report(&fixture.evidence(), 0);
    let marker = format!("alt=\"photo {}\"", fixture.photos[1].sha256);
    let tag_start = html[..html.find(&marker).unwrap()].rfind("<img").unwrap();
    let uri_start = html[tag_start..].find("base64,").unwrap() + tag_start + "base64,".len();
    let uri_end = html[uri_start..].find('"').unwrap() + uri_start;
    let jpeg = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        &html[uri_start..uri_end],
    )
    .unwrap();
    let shown = image::load_from_memory(&jpeg).unwrap();
    assert_eq!((shown.width(), shown.height()), (240, 320));
}

/// Runs Chromium headless with the given extra arguments and returns what it printed
/// (stdout, stderr). Output goes to files, not pipes: Chromium's helper processes inherit
/// them and would block on a full pipe nobody reads. Killed after a minute.
fn chromium(args: &[String], dir: &Path, name: &str) -> (String, String) {
    let stdout = dir.join(format!("{name}.out"));
    let stderr = dir.join(format!("{name}.err"));
    let mut child = Command::new("/usr/bin/chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.join(format!("{name}.profile")).display()
        ))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            let _ = child.wait();
            panic!(
                "chromium did not finish within a minute: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (
        std::fs::read_to_string(&stdout).unwrap_or_default(),
        std::fs::read_to_string(&stderr).unwrap_or_default(),
    )
}

#[test]
fn the_report_renders_in_chromium() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium not found: run scripts/setup, which installs Debian's chromium package"
    );
    let fixture = car_claim();
    let html = render_report(&fixture.evidence(), fixture::T0 + 1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());

    let screenshot = dir.path().join("shot.png");
    let (_, said) = chromium(
        &[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1200,1600".into(),
            url.clone(),
        ],
        dir.path(),
        "shot",
    );
    assert!(screenshot.exists(), "no screenshot; chromium said: {said}");
    let image = image::open(&screenshot).unwrap().to_luma8();
    assert_eq!(image.dimensions(), (1200, 1600));
    let pixels: Vec<f64> = image.pixels().map(|p| f64::from(p[0])).collect();
    let mean = pixels.iter().sum::<f64>() / pixels.len() as f64;
    let variance = pixels.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / pixels.len() as f64;
    let dark = pixels.iter().filter(|p| **p < 128.0).count() as f64 / pixels.len() as f64;
    assert!(
        variance > 200.0,
        "the screenshot looks blank (variance {variance:.1})"
    );
    assert!(
        dark > 0.01,
        "hardly any text or photo drawn ({:.3} dark)",
        dark
    );

    let (dom, _) = chromium(&["--dump-dom".into(), url], dir.path(), "dom");
    for id in SECTIONS {
        assert!(
            dom.contains(&format!("<section id=\"{id}\">")),
            "the rendered DOM lacks #{id}"
        );
    }
    assert!(dom.contains("Truck roll with parts"));
    assert_eq!(dom.matches("<img ").count(), fixture.photos.len());
}
