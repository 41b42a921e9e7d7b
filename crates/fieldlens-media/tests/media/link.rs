//! The link working as intended: joining, control messages both ways, live video both
//! ways, photo uploads with verdicts, bye, superseding and closing sessions.

use std::time::Duration;

use fieldlens_media::{
    Attempt, ClientError, ErrorCode, FrameCounter, LeaveReason, MediaClient, MediaEvent, Photo,
    Role,
};
use fieldlens_proto::v1::media_control::Body;
use fieldlens_proto::v1::{
    MediaAnnotation, MediaAnnotationKind, MediaCaptureRequest, MediaControl, MediaGuideStep,
    MediaPoint, Verdict,
};

use crate::support::{TestHub, expect_control, now_us, photo, photo_bytes, within};

fn guide_step(step_id: &str) -> Body {
    Body::GuideStep(MediaGuideStep {
        guide_id: "car-damage".into(),
        step_id: step_id.into(),
        title: "Front left".into(),
        instruction: "Stand two metres from the front left corner.".into(),
        locale: "en".into(),
        required: true,
    })
}

fn frame_payload(sequence: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (sequence as usize * 31 + i) as u8)
        .collect()
}

/// Sends `count` frames of `len` bytes at about 30 per second, a keyframe every fifth
/// and as the last one.
async fn send_frames(client: &MediaClient, count: u64, len: usize) {
    let mut counter = FrameCounter::new();
    for i in 0..count {
        let keyframe = i % 5 == 0 || i == count - 1;
        let header = counter.next(keyframe, now_us());
        client
            .send_frame(header, &frame_payload(header.sequence, len))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Receives frames until `last` arrives; checks order and contents.
async fn receive_frames(client: &mut MediaClient, last: u64, len: usize) -> Vec<u64> {
    within(async {
        let mut sequences = Vec::new();
        loop {
            let frame = client.next_frame().await.unwrap();
            let sequence = frame.header().sequence;
            assert_eq!(&frame.payload()[..], &frame_payload(sequence, len)[..]);
            if let Some(previous) = sequences.last() {
                assert!(sequence > *previous, "{sequence} after {previous}");
            }
            sequences.push(sequence);
            if sequence == last {
                return sequences;
            }
        }
    })
    .await
}

#[tokio::test]
async fn control_messages_and_video_flow_between_the_two_sides() {
    let mut hub = TestHub::start().await;
    let mut technician = hub.join("s-1", Role::Technician).await;
    assert!(technician.welcome().present.is_empty());
    let mut caller = hub.join("s-1", Role::Caller).await;
    assert_eq!(caller.welcome().present.len(), 1);
    assert_eq!(caller.welcome().participant_id, "caller-of-s-1");
    expect_control(&mut technician, |b| matches!(b, Body::ParticipantJoined(_))).await;

    technician
        .send_control(guide_step("front-left"))
        .await
        .unwrap();
    let step = expect_control(&mut caller, |b| matches!(b, Body::GuideStep(_))).await;
    assert_eq!(step, guide_step("front-left"));
    let annotation = Body::Annotation(MediaAnnotation {
        annotation_id: "a1".into(),
        kind: MediaAnnotationKind::Circle as i32,
        points: vec![MediaPoint { x: 0.5, y: 0.5 }, MediaPoint { x: 0.6, y: 0.5 }],
        label: "this dent".into(),
        frame_sequence: 3,
    });
    technician.send_control(annotation.clone()).await.unwrap();
    assert_eq!(
        expect_control(&mut caller, |b| matches!(b, Body::Annotation(_))).await,
        annotation
    );

    // The hub itself pushes a capture request, as the gRPC API will.
    let request = Body::CaptureRequest(MediaCaptureRequest {
        request_id: "r1".into(),
        step_id: "front-left".into(),
        note: "closer, please".into(),
    });
    hub.server
        .send_control(
            "s-1",
            Role::Caller,
            MediaControl {
                body: Some(request.clone()),
            },
        )
        .unwrap();
    assert_eq!(
        expect_control(&mut caller, |b| matches!(b, Body::CaptureRequest(_))).await,
        request
    );

    // Large frames travel on streams, small ones as datagrams; both directions.
    let (_, received) = tokio::join!(
        send_frames(&caller, 16, 40_000),
        receive_frames(&mut technician, 16, 40_000)
    );
    assert!(
        received.len() >= 8,
        "only {received:?} of 16 frames arrived"
    );
    let (_, received) = tokio::join!(
        send_frames(&technician, 6, 300),
        receive_frames(&mut caller, 6, 300)
    );
    assert!(received.len() >= 3, "only {received:?} of 6 frames arrived");

    hub.expect_event(|e| {
        matches!(e, MediaEvent::Control { message, .. }
        if matches!(message.body, Some(Body::GuideStep(_))))
    })
    .await;
    let stats = hub.server.stats();
    assert_eq!(stats.connections_accepted, 2);
    assert!(stats.frames_received >= 11, "{stats:?}");
}

#[tokio::test]
async fn a_photo_is_stored_verified_and_judged_and_both_sides_hear_the_verdict() {
    let mut hub = TestHub::start().await;
    let mut technician = hub.join("s-2", Role::Technician).await;
    let mut caller = hub.join("s-2", Role::Caller).await;
    let bytes = photo(700_000, 1);

    // The upload is acknowledged once stored and verified, while its check still runs.
    hub.sink.hold_checks();
    let receipt = within(caller.upload("p-1", "front-left", &bytes, Attempt::First))
        .await
        .unwrap();
    hub.sink.release_checks();
    assert_eq!(
        (receipt.size, receipt.resumed_from, receipt.bytes_sent),
        (700_000, 0, 700_000)
    );
    let key = fieldlens_media::UploadKey {
        session_id: "s-2".into(),
        upload_id: "p-1".into(),
    };
    assert_eq!(hub.sink.stored(&key), bytes.bytes().as_ref());

    for client in [&mut caller, &mut technician] {
        let Body::PhotoVerdict(verdict) =
            expect_control(client, |b| matches!(b, Body::PhotoVerdict(_))).await
        else {
            unreachable!()
        };
        assert_eq!(verdict.upload_id, "p-1");
        assert_eq!(verdict.step_id, "front-left");
        let report = verdict.report.unwrap();
        assert_eq!(report.sha256, receipt.sha256);
        assert_eq!(report.verdict, Verdict::Accept as i32);
    }
    hub.expect_event(|e| matches!(e, MediaEvent::PhotoChecked { .. }))
        .await;

    // Uploading it again gets the verdict again and stores nothing twice: a retry sends
    // nothing; a first attempt under the same id sends every byte before it hears the hub
    // holds them all, and the hub drops them.
    for (attempt, sent) in [(Attempt::Retry, 0), (Attempt::First, 700_000)] {
        let again =
            within(caller.upload_photo_in_chunks("p-1", "front-left", &bytes, attempt, usize::MAX))
                .await
                .unwrap();
        assert_eq!((again.resumed_from, again.bytes_sent), (700_000, sent));
        expect_control(&mut caller, |b| matches!(b, Body::PhotoVerdict(_))).await;
        assert_eq!(hub.sink.appended(&key), 700_000);
    }
    assert_eq!(hub.sink.stored(&key), bytes.bytes().as_ref());

    // A photo that is not a JPEG gets a retake from this sink's check.
    let mut not_jpeg = photo_bytes(5_000, 2);
    not_jpeg[0] = 0;
    within(caller.upload("p-2", "", &Photo::new(not_jpeg.into()), Attempt::First))
        .await
        .unwrap();
    let Body::PhotoVerdict(verdict) =
        expect_control(&mut caller, |b| matches!(b, Body::PhotoVerdict(_))).await
    else {
        unreachable!()
    };
    assert_eq!(verdict.report.unwrap().verdict, Verdict::Retake as i32);
}

#[tokio::test]
async fn bye_closes_cleanly_and_the_other_side_hears_it() {
    let mut hub = TestHub::start().await;
    let mut technician = hub.join("s-3", Role::Technician).await;
    let caller = hub.join("s-3", Role::Caller).await;
    within(caller.bye("all photos taken")).await.unwrap();
    let Body::ParticipantLeft(left) =
        expect_control(&mut technician, |b| matches!(b, Body::ParticipantLeft(_))).await
    else {
        unreachable!()
    };
    assert_eq!(
        left.participant.unwrap().role,
        Role::Caller.to_wire() as i32
    );
    assert!(left.reason.contains("all photos taken"), "{}", left.reason);
    let event = hub
        .expect_event(|e| matches!(e, MediaEvent::Left { .. }))
        .await;
    let MediaEvent::Left { grant, reason } = event else {
        unreachable!()
    };
    assert_eq!(grant.role, Role::Caller);
    assert_eq!(reason, LeaveReason::Bye("all photos taken".into()));
    assert_eq!(hub.server.participants("s-3").len(), 1);
}

#[tokio::test]
async fn a_newer_connection_replaces_the_older_one_for_the_same_role() {
    let hub = TestHub::start().await;
    let mut first = hub.join("s-4", Role::Caller).await;
    let _second = hub.join("s-4", Role::Caller).await;
    let error = within(first.next_event()).await.unwrap_err();
    assert!(
        matches!(&error, ClientError::Closed(e) if e.code == ErrorCode::Superseded),
        "{error}"
    );
    assert_eq!(hub.server.participants("s-4").len(), 1);
}

#[tokio::test]
async fn closing_a_session_ends_both_connections_and_push_fails_afterwards() {
    let hub = TestHub::start().await;
    let mut technician = hub.join("s-5", Role::Technician).await;
    let mut caller = hub.join("s-5", Role::Caller).await;
    assert_eq!(hub.server.close_session("s-5", "case closed"), 2);
    for client in [&mut technician, &mut caller] {
        let error = loop {
            match within(client.next_event()).await {
                Ok(_) => continue,
                Err(error) => break error,
            }
        };
        assert!(
            matches!(&error, ClientError::Closed(e) if e.code == ErrorCode::SessionClosed),
            "{error}"
        );
    }
    within(async {
        while !hub.server.participants("s-5").is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let error = hub
        .server
        .send_control(
            "s-5",
            Role::Caller,
            MediaControl {
                body: Some(guide_step("x")),
            },
        )
        .unwrap_err();
    assert!(matches!(
        error,
        fieldlens_media::SendControlError::NotConnected { .. }
    ));
}
