//! Guided capture through the real binary: a car case walks every required step of the
//! `car-claim` pack with generated photos, including a retake, and everything survives a restart.

use fieldlens_e2e::capture_client;
use fieldlens_e2e::photos::{self, Region};
use fieldlens_e2e::walk::{submit, submit_stream, walk};
use fieldlens_e2e::{ApiKey, TestHub, case_client, open_request, write_config};
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::guide_service_client::GuideServiceClient;
use tonic::Code;

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

    // A caller opens a car case; photos need a started capture.
    let opened = case_client(&channel, None)
        .open_case(open_request("capture-case-1", "car", "en-GB", "uk-london"))
        .await
        .unwrap()
        .into_inner();
    let case_id = opened.case.unwrap().case_id;
    let mut capture = capture_client(&channel, &opened.caller_token);
    let sample = fieldlens_e2e::walk::photo_for(&front, 2);
    let error = submit(&mut capture, &case_id, "front", &sample)
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

    // Bad uploads are refused clearly and change nothing.
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

    // Walk every step the hub asks for, while waiting in the queue; the first photo is shaken.
    let walked = walk(&channel, &opened.caller_token, &case_id, "car-claim", true).await;
    let progress = walked.progress.clone();
    assert!(progress.missing_required.is_empty());
    let first = progress
        .steps
        .iter()
        .find(|s| s.step_id == walked.accepted[0].0)
        .unwrap();
    assert_eq!((first.retakes, first.attempts.len()), (1, 2));

    // Re-sending the same photo is idempotent; a done step takes no more.
    let (step, _, bytes) = &walked.accepted[1];
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
    for (step, sha256, bytes) in &walked.accepted {
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
        walked.accepted.len() + walked.retakes + walked.duplicates,
        "one event per photo checked"
    );
}
