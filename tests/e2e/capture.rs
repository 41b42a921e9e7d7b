//! Guided capture through the real binary: a car case walks every required step of the
//! `car-claim` pack with generated photos, including a retake, and everything survives a restart.

use fieldlens_e2e::photos::{self, Region};
use fieldlens_e2e::{ApiKey, Authed, TestHub, case_client, open_request, write_config};
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::capture_service_client::CaptureServiceClient;
use fieldlens_proto::v1::guide_service_client::GuideServiceClient;
use sha2::{Digest, Sha256};
use tonic::Code;

fn capture_client(
    channel: &tonic::transport::Channel,
    credential: &str,
) -> CaptureServiceClient<Authed> {
    CaptureServiceClient::with_interceptor(
        channel.clone(),
        fieldlens_e2e::Bearer(Some(credential.to_owned())),
    )
}

fn submit_stream(
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

async fn submit(
    client: &mut CaptureServiceClient<Authed>,
    case_id: &str,
    step_id: &str,
    bytes: &[u8],
) -> Result<pb::SubmitPhotoResponse, tonic::Status> {
    let stream = futures::stream::iter(submit_stream(case_id, step_id, bytes, None));
    client.submit_photo(stream).await.map(|r| r.into_inner())
}

fn region(step: &pb::GuideStep) -> (Region, (f64, f64)) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn car_case_walks_every_required_step_with_a_retake_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let dispatcher = ApiKey::new("dana", "dispatcher");
    let config = write_config(dir.path(), std::slice::from_ref(&dispatcher), "");
    let data = dir.path().join("data");
    let mut hub = TestHub::start(&data, Some(&config)).unwrap();
    let channel = hub.channel().await;

    // Guide packs are public, with overlays on request.
    let mut guides = GuideServiceClient::new(channel.clone());
    let packs = guides
        .list_packs(pb::ListPacksRequest {})
        .await
        .unwrap()
        .into_inner()
        .packs;
    let car = packs
        .iter()
        .find(|p| p.pack_id == "car-claim")
        .expect("car-claim pack");
    assert_eq!(car.case_kind, "car_damage");
    let front = guides
        .get_step(pb::GetStepRequest {
            pack_id: "car-claim".into(),
            step_id: "front".into(),
            include_overlay: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(front.overlay_png.starts_with(b"\x89PNG"));
    assert!(!front.title.as_ref().unwrap().zh.is_empty());
    let missing = guides
        .get_step(pb::GetStepRequest {
            pack_id: "car-claim".into(),
            step_id: "nope".into(),
            include_overlay: false,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // A caller opens a car case and starts capture while waiting in the queue.
    let opened = case_client(&channel, None)
        .open_case(open_request("capture-case-1", "car", "en-GB", "uk-london"))
        .await
        .unwrap()
        .into_inner();
    let case_id = opened.case.unwrap().case_id;
    let mut capture = capture_client(&channel, &opened.caller_token);
    let error = submit(
        &mut capture,
        &case_id,
        "front",
        &photos::scene(
            1,
            Region {
                x: 0.2,
                y: 0.2,
                w: 0.6,
                h: 0.6,
            },
            (0.2, 0.4),
            true,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.code(),
        Code::FailedPrecondition,
        "photos need a started capture: {error:?}"
    );
    let progress = capture
        .start_capture(pb::StartCaptureRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(progress.pack_id, "car-claim");
    assert!(!progress.complete);
    let again = capture
        .start_capture(pb::StartCaptureRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.steps.len(),
        progress.steps.len(),
        "starting twice is harmless"
    );

    // Bad uploads are refused clearly and change nothing.
    let sample = photos::scene(2, region(&front).0, region(&front).1, true);
    let wrong_hash = submit_stream(&case_id, "front", &sample, Some("0".repeat(64)));
    let error = capture
        .submit_photo(futures::stream::iter(wrong_hash))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(
        error.message().starts_with("header.sha256"),
        "{}",
        error.message()
    );
    let error = submit(&mut capture, &case_id, "no_such_step", &sample)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::NotFound, "{error:?}");
    let error = submit(&mut capture, &case_id, "front", b"definitely not a photo")
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().starts_with("photo"), "{}", error.message());
    let mut as_dispatcher = capture_client(&channel, &dispatcher.key);
    assert_eq!(
        submit(&mut as_dispatcher, &case_id, "front", &sample)
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );

    // Walk the steps the hub asks for; the first photo is shaken and must be retaken.
    let mut accepted = Vec::new();
    let mut current = progress.current_step_id.clone();
    let mut retaken = false;
    let mut duplicates = 0;
    for seed in 10..80u64 {
        if current.is_empty() {
            break;
        }
        let step = guides
            .get_step(pb::GetStepRequest {
                pack_id: "car-claim".into(),
                step_id: current.clone(),
                include_overlay: false,
            })
            .await
            .unwrap()
            .into_inner();
        let (target, fill) = region(&step);
        let car_shot = [
            "front",
            "front_left",
            "left",
            "rear_left",
            "rear",
            "rear_right",
            "right",
            "front_right",
            "damage_context",
            "scene",
        ]
        .contains(&current.as_str());
        let photo = photos::scene(seed, target, fill, car_shot);
        if !retaken {
            retaken = true;
            let shaken = submit(&mut capture, &case_id, &current, &photos::blurred(&photo))
                .await
                .unwrap();
            let report = shaken.report.unwrap();
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
            let step_progress = shaken
                .progress
                .unwrap()
                .steps
                .into_iter()
                .find(|s| s.step_id == current)
                .unwrap();
            assert_eq!(step_progress.state(), pb::StepState::Retake);
        }
        let reply = submit(&mut capture, &case_id, &current, &photo)
            .await
            .unwrap();
        let report = reply.report.unwrap();
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
        if report.verdict() == pb::Verdict::Retake
            && report.issues.iter().all(|i| i.reason == "duplicate")
        {
            // Too much like an earlier shot: the caller takes another one.
            assert!(!report.duplicate_of.is_empty());
            duplicates += 1;
            continue;
        }
        assert_eq!(
            report.verdict(),
            pb::Verdict::Accept,
            "generated photo for step {current} rejected: {reasons:?}"
        );
        accepted.push((current.clone(), report.sha256.clone(), photo));
        let progress = reply.progress.unwrap();
        if progress.complete {
            break;
        }
        current = progress.current_step_id;
    }
    assert!(
        duplicates <= 8,
        "{duplicates} generated photos were perceptual duplicates"
    );
    let progress = capture
        .get_capture_progress(pb::GetCaptureProgressRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(progress.complete, "missing {:?}", progress.missing_required);
    assert!(progress.missing_required.is_empty());
    let first = &progress
        .steps
        .iter()
        .find(|s| s.step_id == accepted[0].0)
        .unwrap();
    assert_eq!((first.retakes, first.attempts.len()), (1, 2));

    // Re-sending the same photo is idempotent; a done step takes no more.
    let (step, _, bytes) = &accepted[1];
    let replay = submit(&mut capture, &case_id, step, bytes).await.unwrap();
    assert!(replay.already_stored);
    let another = photos::scene(
        999,
        Region {
            x: 0.2,
            y: 0.2,
            w: 0.6,
            h: 0.6,
        },
        (0.2, 0.4),
        true,
    );
    let error = submit(&mut capture, &case_id, step, &another)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition, "{error:?}");

    // After a restart the progress and every stored photo are intact.
    assert!(hub.terminate().success());
    let hub = TestHub::start(&data, Some(&config)).unwrap();
    let channel = hub.channel().await;
    let mut capture = capture_client(&channel, &opened.caller_token);
    let after = capture
        .get_capture_progress(pb::GetCaptureProgressRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after, progress);
    for (step, sha256, bytes) in &accepted {
        let mut stream = capture
            .get_photo(pb::GetPhotoRequest {
                case_id: case_id.clone(),
                sha256: sha256.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        let mut stored = Vec::new();
        while let Some(chunk) = stream.message().await.unwrap() {
            stored.extend(chunk.data);
        }
        assert_eq!(&stored, bytes, "photo of {step} changed");
    }
    let events = case_client(&channel, Some(&opened.caller_token))
        .list_case_events(pb::ListCaseEventsRequest {
            case_id: case_id.clone(),
            after_seq: 0,
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let checked = events.iter().filter(|e| e.kind == "photo_checked").count();
    assert_eq!(
        checked,
        accepted.len() + 1 + duplicates,
        "one event per photo checked, retakes included"
    );
}
