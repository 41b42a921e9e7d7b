//! Walking a guided capture over gRPC as a caller does: the step the hub asks for, a
//! generated photo that fits it, a retake when the hub says so.

use crate::photos::{self, Region};
use crate::{Authed, capture_client};
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::capture_service_client::CaptureServiceClient;
use fieldlens_proto::v1::guide_service_client::GuideServiceClient;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

/// The messages of a SubmitPhoto stream: header, then 256 KiB chunks.
pub fn submit_stream(
    case_id: &str,
    step_id: &str,
    bytes: &[u8],
    claimed_sha: Option<String>,
) -> Vec<pb::SubmitPhotoRequest> {
    use pb::submit_photo_request::Part;
    let sha256 = claimed_sha.unwrap_or_else(|| hex::encode(Sha256::digest(bytes)));
    let mut messages = vec![pb::SubmitPhotoRequest {
        part: Some(Part::Header(pb::PhotoHeader {
            case_id: case_id.into(),
            step_id: step_id.into(),
            size: bytes.len() as u64,
            sha256,
        })),
    }];
    messages.extend(bytes.chunks(256 * 1024).map(|c| pb::SubmitPhotoRequest {
        part: Some(Part::Data(c.to_vec())),
    }));
    messages
}

/// Uploads one photo for a step.
pub async fn submit(
    client: &mut CaptureServiceClient<Authed>,
    case_id: &str,
    step_id: &str,
    bytes: &[u8],
) -> Result<pb::SubmitPhotoResponse, tonic::Status> {
    let stream = futures::stream::iter(submit_stream(case_id, step_id, bytes, None));
    client.submit_photo(stream).await.map(|r| r.into_inner())
}

/// Where a step wants its subject, and how much of the frame it should fill.
pub fn region(step: &pb::GuideStep) -> (Region, (f64, f64)) {
    let t = step.target.expect("every step has a target");
    (
        Region {
            x: t.x,
            y: t.y,
            w: t.w,
            h: t.h,
        },
        (t.min_fill, t.max_fill),
    )
}

/// A photo generated to fit a step of a pack, held the way its overlay is drawn.
pub fn photo_for(step: &pb::GuideStep, seed: u64) -> Vec<u8> {
    let (target, fill) = region(step);
    let portrait = step.overlay_height > step.overlay_width;
    photos::for_step(&step.step_id, target, fill, portrait, seed)
}

/// What a walk did.
#[derive(Debug, Default)]
pub struct Walk {
    /// (step, sha256, bytes) of every accepted photo, in order.
    pub accepted: Vec<(String, String, Vec<u8>)>,
    /// Photos refused only as perceptual duplicates of earlier ones (the caller took another).
    pub duplicates: usize,
    /// Photos rejected on purpose (shaken) and retaken.
    pub retakes: usize,
    /// Progress at the end.
    pub progress: pb::CaptureProgress,
}

/// Walks every step the hub asks for until capture is complete. With `shake_first`, the
/// first photo is blurred and must come back as a `blur` retake before the sharp one.
pub async fn walk(
    channel: &Channel,
    credential: &str,
    case_id: &str,
    pack_id: &str,
    shake_first: bool,
) -> Walk {
    let mut guides = GuideServiceClient::new(channel.clone());
    let mut capture = capture_client(channel, credential);
    let mut progress = capture
        .start_capture(pb::StartCaptureRequest {
            case_id: case_id.into(),
        })
        .await
        .expect("starting capture")
        .into_inner();
    assert_eq!(progress.pack_id, pack_id);
    let mut walk = Walk::default();
    let mut shake = shake_first;
    for seed in 10..90u64 {
        if progress.complete {
            break;
        }
        let current = progress.current_step_id.clone();
        assert!(
            !current.is_empty(),
            "capture incomplete but no current step: {progress:?}"
        );
        let step = guides
            .get_step(pb::GetStepRequest {
                pack_id: pack_id.into(),
                step_id: current.clone(),
                include_overlay: false,
            })
            .await
            .expect("reading the step")
            .into_inner();
        let photo = photo_for(&step, seed);
        if shake {
            shake = false;
            let shaken = submit(&mut capture, case_id, &current, &photos::blurred(&photo))
                .await
                .expect("shaken photo");
            let report = shaken.report.expect("a report");
            assert_eq!(report.verdict(), pb::Verdict::Retake);
            assert!(
                report.issues.iter().any(|i| i.reason == "blur"),
                "{:?}",
                report.issues
            );
            assert!(
                report
                    .issues
                    .iter()
                    .all(|i| !i.message_en.is_empty() && !i.message_zh.is_empty())
            );
            let state = shaken
                .progress
                .expect("progress")
                .steps
                .into_iter()
                .find(|s| s.step_id == current)
                .expect("the step");
            assert_eq!(state.state(), pb::StepState::Retake);
            walk.retakes += 1;
        }
        let reply = submit(&mut capture, case_id, &current, &photo)
            .await
            .expect("photo upload");
        let report = reply.report.expect("a report");
        if report.verdict() == pb::Verdict::Retake
            && report.issues.iter().all(|i| i.reason == "duplicate")
        {
            // Too much like an earlier shot: the caller takes another one.
            assert!(!report.duplicate_of.is_empty());
            walk.duplicates += 1;
            continue;
        }
        let reasons: Vec<String> = report
            .issues
            .iter()
            .map(|i| {
                format!(
                    "{} {} {:.3} vs {:.3}",
                    i.reason, i.subtype, i.score, i.threshold
                )
            })
            .collect();
        assert_eq!(
            report.verdict(),
            pb::Verdict::Accept,
            "generated photo for step {current} rejected: {reasons:?} (subject {:?} in {}x{})",
            report.subject_box,
            report.width,
            report.height
        );
        walk.accepted.push((current, report.sha256.clone(), photo));
        progress = reply.progress.expect("progress");
    }
    assert!(
        progress.complete,
        "capture did not complete: missing {:?}",
        progress.missing_required
    );
    assert!(
        walk.duplicates <= 8,
        "{} generated photos were perceptual duplicates",
        walk.duplicates
    );
    walk.progress = progress;
    walk
}
