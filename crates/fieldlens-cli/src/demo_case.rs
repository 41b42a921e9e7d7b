//! The demo's second act: one appliance case from opening to verified evidence — guided
//! photos with a retake, findings, an explained decision, the dispatcher's review, export.
//!
//! The photos are synthetic scenes (`fieldlens-scenes`) with the subject where each guide
//! step wants it; the hub checks them exactly as it checks a phone's photos.

use crate::client::{self, Bearer, status_error};
use crate::demo::Narrator;
use crate::output;
use anyhow::Context;
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::capture_service_client::CaptureServiceClient;
use fieldlens_proto::v1::case_service_client::CaseServiceClient;
use fieldlens_proto::v1::guide_service_client::GuideServiceClient;
use fieldlens_proto::v1::triage_service_client::TriageServiceClient;
use sha2::Digest;
use std::io::Read;
use std::path::Path;
use std::time::Duration;
use tokio_stream::StreamExt;

/// Who takes part in the act.
pub struct Cast<'a> {
    /// Hub gRPC address.
    pub server: &'a str,
    /// Id of a technician with the washing-machine skill in uk-london.
    pub technician_id: &'a str,
    /// Their API key.
    pub technician_key: &'a str,
    /// The technician's presence, announced again before the case opens.
    pub technician: pb::SetPresenceRequest,
    /// API key of the dispatcher.
    pub dispatcher_key: &'a str,
}

/// Chunks of a photo upload, as a phone app streams it.
const CHUNK: usize = 256 * 1024;
/// Photos tried for one step before giving up (a perceptual duplicate is taken again).
const TRIES_PER_STEP: u64 = 4;

/// Runs the act; the bundle and its report land in `dir`.
pub async fn run(cast: Cast<'_>, narrator: &Narrator, dir: &Path) -> anyhow::Result<()> {
    let who = "Sam";
    let opened = client::cases(cast.server, None)
        .await?
        .open_case(pb::OpenCaseRequest {
            kind: pb::CaseKind::Appliance as i32,
            product: Some(pb::Product {
                category: "washing_machine".into(),
                brand: "Bosch".into(),
                model: "WAN28281GB".into(),
                age_months: 14,
                under_warranty: true,
                ..Default::default()
            }),
            locale: "en-GB".into(),
            region: "uk-london".into(),
            contact: Some(pb::Contact {
                name: "Sam Lee".into(),
                phone: "+447700900123".into(),
                email: String::new(),
            }),
            idempotency_key: format!("demo-{}", uuid::Uuid::new_v4().simple()),
            priority: pb::Priority::Normal as i32,
            description: "Water under the machine after every wash".into(),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    let case_id = opened.case.unwrap_or_default().case_id;
    narrator.say(
        who,
        format!("opens {case_id}: Bosch washing machine, 14 months old, under warranty, leaking"),
    );

    let technician = cast.technician_id;
    let mut tech = client::technicians(cast.server, cast.technician_key).await?;
    tech.set_presence(cast.technician.clone())
        .await
        .map_err(status_error)?;
    let offer = wait_for_offer(&mut tech, &case_id).await?;
    narrator.say(technician, format!("offer: {}", output::offer_line(&offer)));
    let accepted = tech
        .accept_offer(pb::AcceptOfferRequest {
            case_id: case_id.clone(),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    let session = accepted.session.unwrap_or_default();
    narrator.say(
        technician,
        format!(
            "accepts → session {}, media link at {}",
            session.session_id, session.media_endpoint
        ),
    );

    let channel = client::channel(cast.server).await?;
    let photos = capture(&channel, &opened.caller_token, &case_id, narrator, who).await?;
    narrator.say(who, format!("all required photos in: {photos} accepted"));

    let mut triage = TriageServiceClient::with_interceptor(
        channel.clone(),
        Bearer::new(Some(cast.technician_key))?,
    );
    let decided = triage
        .record_findings(pb::RecordFindingsRequest {
            case_id: case_id.clone(),
            findings: Some(pb::Findings {
                damage: vec![pb::Damage {
                    area: "drain_pump".into(),
                    severity: pb::Severity::Moderate as i32,
                }],
                error_codes: vec![],
                symptoms: vec!["leak".into()],
                remote_fix: None,
                notes: "Pump housing wet in the fault-area photo; hoses dry.".into(),
            }),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    narrator.say(
        technician,
        "records findings: leak, drain_pump moderate damage",
    );
    let decision = decided.decision.unwrap_or_default();
    narrator.say(
        "triage",
        format!(
            "{} (priority {}, confidence {:.2}); parts {}; reasons {}",
            output::outcome_name(decision.outcome),
            output::priority_name(decision.priority),
            decision.confidence,
            decision.parts.join(", "),
            decision.reasons.join(", ")
        ),
    );
    for rule in decision.trace.iter().filter(|r| r.matched) {
        narrator.say(
            "triage",
            format!("  because {}: {}", rule.rule, rule.description),
        );
    }
    tech.end_session(pb::EndSessionRequest {
        case_id: case_id.clone(),
    })
    .await
    .map_err(status_error)?;

    let mut dispatch = client::dispatch(cast.server, cast.dispatcher_key).await?;
    let listed = dispatch
        .list_cases(pb::ListCasesRequest {
            statuses: vec![pb::CaseStatus::Triaged as i32],
            ..Default::default()
        })
        .await
        .map_err(status_error)?
        .into_inner();
    narrator.say(
        "dana",
        format!("{} triaged case(s) to review", listed.cases.len()),
    );
    dispatch
        .claim_case(pb::ClaimCaseRequest {
            case_id: case_id.clone(),
        })
        .await
        .map_err(status_error)?;
    let closed = dispatch
        .approve_decision(pb::ApproveDecisionRequest {
            case_id: case_id.clone(),
            comment: "Pump ordered on the warranty; engineer booked.".into(),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    narrator.say(
        "dana",
        format!(
            "claims and approves: {} → case {}",
            closed.final_decision,
            output::status_name(closed.status)
        ),
    );

    export_and_verify(&channel, cast.dispatcher_key, &case_id, narrator, dir).await
}

/// Waits (up to 30 s) for the offer of `case_id`.
async fn wait_for_offer(
    tech: &mut fieldlens_proto::v1::technician_service_client::TechnicianServiceClient<
        client::Authed,
    >,
    case_id: &str,
) -> anyhow::Result<pb::Offer> {
    for _ in 0..300 {
        let offers = tech
            .list_offers(pb::ListOffersRequest {})
            .await
            .map_err(status_error)?
            .into_inner();
        if let Some(offer) = offers.offers.into_iter().find(|o| o.case_id == case_id) {
            return Ok(offer);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("no offer for {case_id} within 30 s")
}

/// Walks the guided capture as a caller: the step the hub asks for, a photo that fits it;
/// the first one shaken, so the hub asks for a retake. Returns how many were accepted.
async fn capture(
    channel: &tonic::transport::Channel,
    caller_token: &str,
    case_id: &str,
    narrator: &Narrator,
    who: &str,
) -> anyhow::Result<usize> {
    let mut guides = GuideServiceClient::new(channel.clone());
    let mut capture =
        CaptureServiceClient::with_interceptor(channel.clone(), Bearer::new(Some(caller_token))?);
    let mut progress = capture
        .start_capture(pb::StartCaptureRequest {
            case_id: case_id.into(),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    narrator.say(
        who,
        format!(
            "starts guided capture with the {} pack: {} steps",
            progress.pack_id,
            progress.steps.len()
        ),
    );
    let (mut accepted, mut seed, mut shaken) = (0, 1u64, false);
    while !progress.complete {
        let step_id = progress.current_step_id.clone();
        anyhow::ensure!(
            !step_id.is_empty(),
            "capture incomplete without a next step"
        );
        let step = guides
            .get_step(pb::GetStepRequest {
                pack_id: progress.pack_id.clone(),
                step_id: step_id.clone(),
                include_overlay: false,
            })
            .await
            .map_err(status_error)?
            .into_inner();
        let target = step.target.unwrap_or_default();
        let region = fieldlens_scenes::Region {
            x: target.x,
            y: target.y,
            w: target.w,
            h: target.h,
        };
        let portrait = step.overlay_height > step.overlay_width;
        let mut done = false;
        for _ in 0..TRIES_PER_STEP {
            seed += 1;
            let mut photo = fieldlens_scenes::for_step(
                &step_id,
                region,
                (target.min_fill, target.max_fill),
                portrait,
                seed,
            );
            if !shaken {
                shaken = true;
                photo = fieldlens_scenes::blurred(&photo);
            }
            let reply = submit(&mut capture, case_id, &step_id, &photo).await?;
            let report = reply.report.unwrap_or_default();
            if report.verdict() == pb::Verdict::Accept {
                narrator.say(
                    who,
                    format!(
                        "{:<16} {}: accepted, checked in {} ms",
                        step_id,
                        step.title.as_ref().map_or("", |t| t.en.as_str()),
                        report.check_ms
                    ),
                );
                accepted += 1;
                progress = reply.progress.unwrap_or_default();
                done = true;
                break;
            }
            for issue in &report.issues {
                narrator.say(
                    who,
                    format!(
                        "{:<16} retake — {}: {} / {}",
                        step_id, issue.reason, issue.message_en, issue.message_zh
                    ),
                );
            }
        }
        anyhow::ensure!(
            done,
            "step {step_id}: no photo accepted in {TRIES_PER_STEP} tries"
        );
    }
    Ok(accepted)
}

/// Uploads one photo for a step over gRPC, in chunks after a header declaring size and hash.
async fn submit(
    capture: &mut CaptureServiceClient<client::Authed>,
    case_id: &str,
    step_id: &str,
    bytes: &[u8],
) -> anyhow::Result<pb::SubmitPhotoResponse> {
    use pb::submit_photo_request::Part;
    let mut parts = vec![pb::SubmitPhotoRequest {
        part: Some(Part::Header(pb::PhotoHeader {
            case_id: case_id.into(),
            step_id: step_id.into(),
            size: bytes.len() as u64,
            sha256: hex::encode(sha2::Sha256::digest(bytes)),
        })),
    }];
    parts.extend(bytes.chunks(CHUNK).map(|chunk| pb::SubmitPhotoRequest {
        part: Some(Part::Data(chunk.to_vec())),
    }));
    Ok(capture
        .submit_photo(futures::stream::iter(parts))
        .await
        .map_err(status_error)?
        .into_inner())
}

/// Exports the case's bundle, verifies it offline and writes its HTML report beside it.
async fn export_and_verify(
    channel: &tonic::transport::Channel,
    dispatcher_key: &str,
    case_id: &str,
    narrator: &Narrator,
    dir: &Path,
) -> anyhow::Result<()> {
    let mut cases =
        CaseServiceClient::with_interceptor(channel.clone(), Bearer::new(Some(dispatcher_key))?);
    let mut stream = cases
        .export_case(pb::ExportCaseRequest {
            case_id: case_id.into(),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    let mut bundle = Vec::new();
    while let Some(chunk) = stream.next().await {
        bundle.extend_from_slice(&chunk.map_err(status_error)?.data);
    }
    let path = dir.join("case.zip");
    std::fs::write(&path, &bundle).with_context(|| format!("writing {}", path.display()))?;
    let report = fieldlens_evidence::verify(&bundle).context("verifying the exported bundle")?;
    narrator.say(
        "dana",
        format!(
            "exports {} ({} KB): {} — {} events, {} photos, chain head {}",
            path.display(),
            bundle.len() / 1024,
            if report.is_intact() {
                "intact"
            } else {
                "TAMPERED"
            },
            report.events,
            report.photos,
            report.chain_head.as_deref().unwrap_or("-")
        ),
    );
    let mut html = Vec::new();
    zip::ZipArchive::new(std::io::Cursor::new(&bundle))
        .context("reading the exported bundle")?
        .by_name("report.html")
        .context("the bundle has no report.html")?
        .read_to_end(&mut html)?;
    let report_path = dir.join("report.html");
    std::fs::write(&report_path, html)
        .with_context(|| format!("writing {}", report_path.display()))?;
    narrator.say(
        "demo",
        format!(
            "the case report is {} (open it in a browser); `fieldlens verify {}` checks the bundle",
            report_path.display(),
            path.display()
        ),
    );
    Ok(())
}
