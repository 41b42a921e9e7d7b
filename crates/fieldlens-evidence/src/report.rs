//! The self-contained HTML report of a case: one file with inline CSS and photos embedded as
//! data URIs (scaled down, with their guide overlay composited), readable in a browser and
//! printable. Every text is escaped by the template engine (maud).
//!
//! Sections, by id: `summary`, `decision`, `review`, `findings`, `photos`, `trace`, `events`,
//! `integrity`.

use std::collections::BTreeMap;
use std::io::Cursor;

use base64::Engine;
use fieldlens_core::event::verify_chain;
use fieldlens_core::triage::{Decision, Outcome, TriageRecord};
use fieldlens_core::{Case, CaseEvent, EventRecord, UnixMs};
use fieldlens_guides::{GuidePack, GuideStep, Lang, compose_overlay};
use fieldlens_quality::{PhotoReport, Verdict};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbaImage};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::photo::{CaseEvidence, Photo};

/// Longest side of a photo in the report, in pixels.
const PHOTO_SIDE: u32 = 960;
/// How strongly the guide overlay is drawn over a photo.
const OVERLAY_OPACITY: f32 = 0.6;
/// Largest photo decoded for the report, in pixels, and memory its decoder may take.
const DECODE_PIXELS: u32 = 16_384;
const DECODE_BYTES: u64 = 512 << 20;

const CSS: &str = r#"
:root { --ink:#1d2430; --muted:#5b6577; --line:#d9dee7; --soft:#f3f5f8;
  --ok:#1b7f3b; --ok-bg:#e3f4e8; --warn:#a04600; --warn-bg:#fff1e0;
  --bad:#b42318; --bad-bg:#fde8e6; --info:#2456a6; --info-bg:#e6eefb; }
* { box-sizing: border-box; }
body { margin: 0; background: #eceff3; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC", sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 28px 32px 40px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 2px; }
h2 { font-size: 18px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 8px; }
.sub { color: var(--muted); margin: 0 0 14px; }
.muted { color: var(--muted); }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 32px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-weight: 600; font-size: 12px;
  background: var(--soft); color: var(--ink); border: 1px solid var(--line); }
.good { background: var(--ok-bg); color: var(--ok); border-color: #b7e1c3; }
.warn { background: var(--warn-bg); color: var(--warn); border-color: #f5c99b; }
.bad { background: var(--bad-bg); color: var(--bad); border-color: #f4b4ad; }
.info { background: var(--info-bg); color: var(--info); border-color: #b9cdf0; }
.outcome { font-size: 20px; padding: 4px 14px; border-radius: 14px; }
.chips span { display: inline-block; margin: 0 4px 4px 0; padding: 0 7px; border-radius: 4px;
  background: var(--soft); border: 1px solid var(--line); font-size: 12px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
tr.unmatched td { color: var(--muted); }
.photos { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 12px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; overflow: hidden; background: #fff; }
figure img { display: block; width: 100%; height: auto; background: var(--soft); }
figure .missing { padding: 40px 10px; text-align: center; background: var(--soft); color: var(--muted); }
figcaption { padding: 6px 9px 8px; font-size: 13px; }
figcaption ul { margin: 4px 0 0; padding-left: 18px; }
.note { white-space: pre-wrap; background: var(--soft); padding: 8px 10px; border-radius: 4px; }
.empty { color: var(--muted); font-style: italic; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@page { margin: 14mm; }
@media print {
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  figure, tr, dl.facts { break-inside: avoid; }
  .photos { grid-template-columns: repeat(3, 1fr); }
}
"#;

/// UTC date and time of a Unix-epoch millisecond, e.g. `2026-03-04 09:15:02 UTC`.
pub fn utc(ms: UnixMs) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("{ms} ms"))
}

fn outcome_class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::RemoteResolved => "good",
        Outcome::TruckRoll | Outcome::TruckRollWithParts => "info",
        Outcome::MoreInfoNeeded => "warn",
        Outcome::TotalLossReview => "bad",
    }
}

fn outcome_words(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::RemoteResolved => "Resolved remotely",
        Outcome::TruckRoll => "Truck roll",
        Outcome::TruckRollWithParts => "Truck roll with parts",
        Outcome::TotalLossReview => "Total-loss review",
        Outcome::MoreInfoNeeded => "More information needed",
    }
}

/// Only the last four digits of a phone number: enough to recognise it, not to call it.
fn masked_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let shown: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("•••• {shown}")
}

fn chips(values: &[String]) -> Markup {
    html! {
        @if values.is_empty() { span.muted { "none" } }
        @else { span.chips { @for value in values { span { (value) } } } }
    }
}

/// The last triage of the case and when and by whom it was made.
fn last_triage(events: &[EventRecord]) -> Option<(&EventRecord, Option<TriageRecord>)> {
    events.iter().rev().find_map(|record| {
        TriageRecord::from_event(&record.event).map(|parsed| (record, parsed.ok()))
    })
}

/// A photo scaled down, turned upright by its EXIF orientation, with the step's overlay
/// composited, as a JPEG data URI.
fn photo_uri(bytes: &[u8], overlay: Option<&RgbaImage>) -> Option<String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(DECODE_PIXELS);
    limits.max_image_height = Some(DECODE_PIXELS);
    limits.max_alloc = Some(DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().ok()?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).ok()?;
    // `thumbnail` also scales up; small photos stay as they are.
    if image.width().max(image.height()) > PHOTO_SIDE {
        image = image.thumbnail(PHOTO_SIDE, PHOTO_SIDE);
    }
    image.apply_orientation(orientation);
    let composed = match overlay {
        Some(overlay) => compose_overlay(&image, overlay, OVERLAY_OPACITY),
        None => image.to_rgb8(),
    };
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 82)
        .encode_image(&DynamicImage::ImageRgb8(composed))
        .ok()?;
    Some(format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(jpeg)
    ))
}

fn summary(case: &Case, guide: Option<&GuidePack>) -> Markup {
    let product = &case.product;
    html! {
        section #summary {
            h1 { "Case " (case.id) }
            p.sub {
                (case.kind.as_str().replace('_', " ")) " · " (case.status.as_str().replace('_', " "))
                " · opened " (utc(case.opened_at)) " · updated " (utc(case.updated_at))
            }
            div.cols {
                dl.facts {
                    dt { "Product" } dd { (product.category.replace('_', " ")) " — " (product.brand) " " (product.model) }
                    dt { "Serial / VIN" } dd { @if product.serial_number.is_empty() { span.muted { "not given" } } @else { code { (product.serial_number) } } }
                    dt { "Age" } dd { @if product.age_months == 0 { span.muted { "unknown" } } @else { (product.age_months) " months" } }
                    dt { "Warranty" } dd { @if product.under_warranty { "under warranty" } @else { "out of warranty" } }
                    dt { "Guide" } dd { @match guide { Some(pack) => { (pack.title().en) " " span.muted { "(" (pack.id()) " v" (pack.version()) ")" } } None => span.muted { "no guided capture" } } }
                }
                dl.facts {
                    dt { "Caller" } dd { (case.contact.name) " " span.muted { (masked_phone(&case.contact.phone)) } }
                    dt { "Region" } dd { (case.region) }
                    dt { "Locale" } dd { (case.locale) }
                    dt { "Priority" } dd { (case.priority.as_str()) }
                    dt { "Technician" } dd { @match &case.session { Some(session) => { (session.technician) } None => span.muted { "none" } } }
                }
            }
            @if !case.description.is_empty() {
                h3 { "In the caller's words" }
                p.note { (case.description) }
            }
        }
    }
}

fn decision_section(triage: Option<(&EventRecord, Option<TriageRecord>)>) -> Markup {
    html! {
        section #decision {
            h2 { "Decision" }
            @match triage {
                None => p.empty { "Not triaged yet." },
                Some((event, None)) => {
                    @if let CaseEvent::Triaged { decision, .. } = &event.event {
                        p { span.badge.outcome { (decision) } }
                    }
                    p.empty { "The decision's details could not be read." }
                }
                Some((event, Some(record))) => (decision_facts(event, &record.decision)),
            }
        }
    }
}

fn decision_facts(event: &EventRecord, decision: &Decision) -> Markup {
    let table = &decision.table;
    html! {
        p {
            span class={ "badge outcome " (outcome_class(decision.outcome)) } { (outcome_words(decision.outcome)) }
            " " code { (decision.outcome.as_str()) }
        }
        dl.facts {
            dt { "Priority" } dd { (decision.priority.as_str()) }
            dt { "Confidence" } dd { (format!("{:.0} %", decision.confidence * 100.0)) }
            dt { "Skills" } dd { (chips(&decision.skills)) }
            dt { "Likely parts" } dd { (chips(&decision.parts)) }
            dt { "Reasons" } dd { (chips(&decision.reasons)) }
            dt { "Missing photos" } dd { (chips(&decision.missing_steps)) }
            dt { "Rules fired" } dd { @if decision.fired.is_empty() { span.muted { "none — the table's default applied" } } @else { (chips(&decision.fired)) } }
            dt { "Table" } dd { (table.pack) " v" (table.version) ", hit policy " (table.hit_policy.as_str()) ", " code { (table.sha256.get(..12).unwrap_or(&table.sha256)) } }
            dt { "Triaged" } dd { (utc(event.at)) " by " (event.actor.to_string()) }
        }
    }
}

fn review_section(events: &[EventRecord]) -> Markup {
    let triaged_at = events
        .iter()
        .rposition(|record| matches!(record.event, CaseEvent::Triaged { .. }));
    let review: Vec<&EventRecord> = triaged_at
        .map(|at| &events[at + 1..])
        .unwrap_or_default()
        .iter()
        .filter(|record| {
            matches!(
                record.event,
                CaseEvent::ReviewClaimed { .. }
                    | CaseEvent::DecisionApproved { .. }
                    | CaseEvent::DecisionOverridden { .. }
            )
        })
        .collect();
    html! {
        section #review {
            h2 { "Review" }
            @if review.is_empty() { p.empty { "Not reviewed yet." } }
            @else {
                table {
                    tr { th { "When" } th { "Who" } th { "What" } }
                    @for record in review {
                        tr {
                            td { (utc(record.at)) }
                            @match &record.event {
                                CaseEvent::ReviewClaimed { dispatcher } => { td { (dispatcher) } td { "claimed the case for review" } }
                                CaseEvent::DecisionApproved { dispatcher, comment } => {
                                    td { (dispatcher) }
                                    td { span.badge.good { "approved" } @if !comment.is_empty() { " — " (comment) } }
                                }
                                CaseEvent::DecisionOverridden { dispatcher, from, to, reason } => {
                                    td { (dispatcher) }
                                    td { span.badge.warn { "overridden" } " " code { (from) } " → " code { (to) } " — " (reason) }
                                }
                                _ => { td {} td {} }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn findings_section(record: Option<&TriageRecord>) -> Markup {
    html! {
        section #findings {
            h2 { "Findings" }
            @match record {
                None => p.empty { "No findings recorded." },
                Some(record) => {
                    @let findings = &record.inputs.findings;
                    dl.facts {
                        dt { "Error codes" } dd { (chips(&findings.error_codes)) }
                        dt { "Symptoms" } dd { (chips(&findings.symptoms)) }
                        dt { "Remote fix" } dd {
                            @match &findings.remote_fix {
                                Some(fix) => { code { (fix.action) } " → " (fix.outcome.as_str().replace('_', " ")) }
                                None => span.muted { "none tried" },
                            }
                        }
                    }
                    h3 { "Damage" }
                    @if findings.damage.is_empty() { p.empty { "None recorded." } }
                    @else {
                        table {
                            tr { th { "Area" } th { "Severity" } }
                            @for damage in &findings.damage {
                                tr { td { (damage.area.replace('_', " ")) } td { (damage.severity.as_str()) } }
                            }
                        }
                    }
                    @if !findings.notes.is_empty() { h3 { "Notes" } p.note { (findings.notes) } }
                }
            }
        }
    }
}

fn photo_card(photo: &Photo, overlay: Option<&RgbaImage>) -> Markup {
    let report: Option<&PhotoReport> = photo.meta.report.as_ref();
    let uri = photo_uri(&photo.bytes, overlay);
    html! {
        figure {
            @match &uri {
                Some(uri) => img src=(uri) alt={ "photo " (photo.sha256) };
                None => div.missing { "This photo could not be decoded." },
            }
            figcaption {
                @match report {
                    Some(report) => {
                        @if report.verdict == Verdict::Accept { span.badge.good { "accepted" } }
                        @else { span.badge.bad { "retake" } }
                        " " span.muted { (report.width) "×" (report.height) " · " (utc(photo.meta.taken_at)) }
                        @if !report.issues.is_empty() {
                            ul {
                                @for issue in &report.issues {
                                    li {
                                        code { (issue.reason.as_str()) }
                                        @if !issue.subtype.is_empty() { " (" (issue.subtype) ")" }
                                        ": " (issue.message_en) " "
                                        span.muted { (format!("score {:.2} vs {:.2}", issue.score, issue.threshold)) }
                                    }
                                }
                            }
                        }
                    }
                    None => span.badge { "not checked" },
                }
                div.mono.muted { (photo.sha256.get(..16).unwrap_or(&photo.sha256)) "…" }
            }
        }
    }
}

fn photos_section(
    photos: &[Photo],
    guide: Option<&GuidePack>,
    record: Option<&TriageRecord>,
) -> Markup {
    // Steps in the pack's order, then any step the pack does not know, by id.
    let mut by_step: BTreeMap<&str, Vec<&Photo>> = BTreeMap::new();
    for photo in photos {
        by_step
            .entry(photo.meta.step.as_str())
            .or_default()
            .push(photo);
    }
    let steps: Vec<&GuideStep> = guide
        .map(|pack| pack.steps().iter().collect())
        .unwrap_or_default();
    let known: Vec<&str> = steps.iter().map(|step| step.id()).collect();
    let unknown: Vec<&str> = by_step
        .keys()
        .copied()
        .filter(|id| !known.contains(id))
        .collect();
    html! {
        section #photos {
            h2 { "Photos" }
            @if photos.is_empty() && steps.is_empty() { p.empty { "No photos." } }
            @for step in &steps {
                @let overlay = step.overlay().decode().ok();
                @let taken = by_step.get(step.id()).map(Vec::as_slice).unwrap_or_default();
                @let status = record.and_then(|r| r.inputs.steps.get(step.id())).map(|s| s.status.as_str());
                h3 {
                    (step.title().get(Lang::En)) " " span.muted { "(" code { (step.id()) } ", " @if step.is_required() { "required" } @else { "optional" } ")" }
                    @if let Some(status) = status {
                        " " span class={ "badge " (match status { "accepted" => "good", "retake" => "bad", _ => "warn" }) } { (status) }
                    }
                }
                @if taken.is_empty() { p.empty { "No photo." } }
                @else { div.photos { @for photo in taken { (photo_card(photo, overlay.as_ref())) } } }
            }
            @for id in &unknown {
                h3 { code { (id) } }
                div.photos { @for photo in &by_step[id] { (photo_card(photo, None)) } }
            }
        }
    }
}

fn trace_section(record: Option<&TriageRecord>) -> Markup {
    html! {
        section #trace {
            h2 { "Decision trace" }
            @match record {
                None => p.empty { "No decision to explain." },
                Some(record) => {
                    p.muted { "Every rule evaluated, in table order; a rule that did not match shows the condition that failed." }
                    table {
                        tr { th { "Rule" } th { "Proposes" } th { "Condition" } th { "Test" } th { "Value seen" } th { "" } }
                        @for rule in &record.decision.trace {
                            @let rows = rule.conditions.len().max(1);
                            @for (i, condition) in rule.conditions.iter().enumerate() {
                                tr class=(if rule.matched { "matched" } else { "unmatched" }) {
                                    @if i == 0 {
                                        td rowspan=(rows) {
                                            @if rule.matched { span.badge.good { "fired" } } @else { span.badge { "no match" } }
                                            " " code { (rule.rule) }
                                            div.muted { (rule.description) }
                                        }
                                        td rowspan=(rows) { code { (rule.outcome.as_str()) } }
                                    }
                                    td { code { (condition.field) } }
                                    td { code { (condition.test) } }
                                    td { code { (condition.actual.to_string()) } }
                                    td { @if condition.passed { "✓" } @else { "✗" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A one-line account of an event, without the triage's full detail.
fn event_summary(event: &CaseEvent) -> String {
    match event {
        CaseEvent::Opened(new) => format!(
            "{} · {} {} {}",
            new.case_kind.as_str(),
            new.product.category,
            new.product.brand,
            new.product.model
        ),
        CaseEvent::Queued { arrival } => format!("arrival #{arrival}"),
        CaseEvent::Offered {
            technician, tier, ..
        } => format!("to {technician} (tier {tier})"),
        CaseEvent::OfferDeclined { technician, reason } => format!("by {technician}: {reason}"),
        CaseEvent::OfferExpired { technician } => format!("{technician} did not answer"),
        CaseEvent::Paired {
            technician,
            session,
        } => format!("{technician}, session {session}"),
        CaseEvent::CallbackRequested { .. } => "callback requested".into(),
        CaseEvent::ReviewReassigned { from, to, reason } => format!("{from} → {to}: {reason}"),
        CaseEvent::SessionEnded { handle_ms, .. } => format!("after {} s", handle_ms / 1000),
        CaseEvent::CaptureStarted { pack, version } => format!("guide {pack} v{version}"),
        CaseEvent::PhotoChecked {
            step,
            sha256,
            accepted,
            reasons,
            ..
        } => format!(
            "{step}: {} {}{}",
            if *accepted { "accepted" } else { "retake" },
            sha256.get(..12).unwrap_or(sha256),
            if reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", reasons.join(", "))
            }
        ),
        CaseEvent::StepSkipped { step, reason } => format!("{step}: {reason}"),
        CaseEvent::StepPushed { step } => format!("pushed {step}"),
        CaseEvent::ParticipantJoined { role } => format!("{role:?} joined the media link"),
        CaseEvent::ParticipantLeft { role, reason } => format!("{role:?} left: {reason}"),
        CaseEvent::Triaged { decision, .. } => format!("proposed {decision}"),
        CaseEvent::ReviewClaimed { dispatcher } => format!("by {dispatcher}"),
        CaseEvent::DecisionApproved { dispatcher, .. } => format!("by {dispatcher}"),
        CaseEvent::DecisionOverridden { from, to, .. } => format!("{from} → {to}"),
        CaseEvent::Cancelled { reason } => reason.clone(),
        CaseEvent::Abandoned { waited_ms } => format!("after {} s", waited_ms / 1000),
    }
}

fn events_section(events: &[EventRecord]) -> Markup {
    html! {
        section #events {
            h2 { "Event log" }
            table {
                tr { th { "#" } th { "When" } th { "Who" } th { "Event" } th { "Detail" } th { "Hash" } }
                @for record in events {
                    tr {
                        td { (record.seq) }
                        td { (utc(record.at)) }
                        td { (record.actor.to_string()) }
                        td { code { (record.event.kind_name()) } }
                        td { (event_summary(&record.event)) }
                        td.mono { (record.hash.get(..12).unwrap_or(&record.hash)) }
                    }
                }
            }
        }
    }
}

fn integrity_section(case: &Case, events: &[EventRecord], generated_at: UnixMs) -> Markup {
    let chain = verify_chain(&case.id, events);
    let head = events
        .last()
        .map(|record| record.hash.as_str())
        .unwrap_or("");
    html! {
        section #integrity {
            h2 { "Integrity" }
            dl.facts {
                dt { "Event chain" } dd {
                    @match &chain {
                        Ok(()) => span.badge.good { "intact" },
                        Err(error) => { span.badge.bad { "broken" } " " (error.to_string()) },
                    }
                }
                dt { "Events" } dd { (events.len()) }
                dt { "Chain head" } dd { code { (head) } }
                dt { "Report generated" } dd { (utc(generated_at)) }
            }
            p.muted { "The chain head is the hash of the last event; it matches the hub's record of the case and the export bundle's manifest when nothing was changed. Verify a bundle with " code { "fieldlens verify case.zip" } "." }
        }
    }
}

/// Renders the report of a case. Decision, findings and review come from the case's events
/// (the last `triaged` event and the review after it); photos are shown per guide step with
/// their overlay, verdict and reasons. A photo that cannot be decoded is shown as such.
pub fn render_report(evidence: &CaseEvidence<'_>, generated_at: UnixMs) -> String {
    let case = evidence.case;
    let triage = last_triage(evidence.events);
    let record = triage.as_ref().and_then(|(_, record)| record.as_ref());
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Case " (case.id) " — fieldlens report" }
                style { (PreEscaped(CSS)) }
            }
            body {
                main {
                    (summary(case, evidence.guide))
                    (decision_section(triage.as_ref().map(|(event, record)| (*event, record.clone()))))
                    (review_section(evidence.events))
                    (findings_section(record))
                    (photos_section(evidence.photos, evidence.guide, record))
                    (trace_section(record))
                    (events_section(evidence.events))
                    (integrity_section(case, evidence.events, generated_at))
                    footer { "fieldlens case report · " (case.id) " · generated " (utc(generated_at)) }
                }
            }
        }
    };
    page.into_string()
}
