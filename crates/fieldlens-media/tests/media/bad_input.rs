//! Peers that misbehave, written against raw quinn: each gets its connection closed with
//! the documented code, and the hub and other sessions carry on.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use fieldlens_media::proto_core::{FrameDecoder, StreamKind, encode_framed, sha256_hex};
use fieldlens_media::tls::quic_client_config;
use fieldlens_media::{
    ClientConfig, ClientError, ErrorCode, FrameHeader, MediaClient, MediaEvent, Role, UploadKey,
    VideoFrame,
};
use fieldlens_proto::v1::media_control::Body;
use fieldlens_proto::v1::media_upload_request::Body as Upload;
use fieldlens_proto::v1::{
    MediaControl, MediaGuideStep, MediaHello, MediaUploadChunk, MediaUploadRequest,
    MediaUploadStart,
};

use crate::support::{TestHub, expect_control, now_us, within};

/// A bare QUIC connection to the hub with the right ALPN and pin, nothing else.
async fn raw_connect(hub: &TestHub) -> (quinn::Endpoint, quinn::Connection) {
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let config = quic_client_config(hub.server.certificate_sha256()).unwrap();
    let connection = endpoint
        .connect_with(config, hub.server.local_addr(), "localhost")
        .unwrap()
        .await
        .unwrap();
    (endpoint, connection)
}

fn hello(token: &str, session: &str) -> MediaControl {
    MediaControl {
        body: Some(Body::Hello(MediaHello {
            token: token.into(),
            session_id: session.into(),
            client: "raw-test".into(),
        })),
    }
}

fn with_kind(kind: u8, rest: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u8(kind);
    buf.put_slice(rest);
    buf.freeze()
}

/// A raw connection whose hello was accepted; returns its control stream.
async fn raw_joined(
    hub: &TestHub,
    session: &str,
    role: Role,
) -> (quinn::Endpoint, quinn::Connection, quinn::SendStream) {
    let (endpoint, connection) = raw_connect(hub).await;
    let (mut send, mut recv) = connection.open_bi().await.unwrap();
    let token = hub.tokens.issue(session, role);
    let hello = encode_framed(&hello(&token, session));
    send.write_all(&with_kind(StreamKind::Control.byte(), &hello))
        .await
        .unwrap();
    let mut decoder = FrameDecoder::new("control message", 65_536);
    let welcome = within(async {
        loop {
            if let Some(message) = decoder.next_message::<MediaControl>().unwrap() {
                return message;
            }
            let chunk = recv.read_chunk(4096, true).await.unwrap().unwrap();
            decoder.push(&chunk.bytes);
        }
    })
    .await;
    assert!(matches!(welcome.body, Some(Body::Welcome(_))));
    (endpoint, connection, send)
}

/// The code and reason the hub closed `connection` with.
async fn closed_with(connection: &quinn::Connection) -> (ErrorCode, String) {
    match within(connection.closed()).await {
        quinn::ConnectionError::ApplicationClosed(close) => {
            let code = ErrorCode::try_from(close.error_code.into_inner() as i32).unwrap();
            (code, String::from_utf8_lossy(&close.reason).into_owned())
        }
        other => panic!("closed by {other}, not by the hub"),
    }
}

fn closed_code(error: ClientError) -> ErrorCode {
    match error {
        ClientError::Closed(error) => error.code,
        other => panic!("expected a close by the hub, got {other}"),
    }
}

#[tokio::test]
async fn refused_tokens_close_the_connection_with_their_documented_codes() {
    let mut hub = TestHub::start().await;
    let config = |token: String, session: &str| {
        ClientConfig::new(
            hub.server.local_addr(),
            hub.server.certificate_sha256(),
            session,
            token,
        )
    };
    let bogus = config("made-up".into(), "s-1");
    let expired = config(
        hub.tokens.issue_for("s-1", Role::Caller, Duration::ZERO),
        "s-1",
    );
    let other_session = config(hub.tokens.issue("s-2", Role::Caller), "s-1");
    for (config, code) in [
        (bogus, ErrorCode::TokenInvalid),
        (expired, ErrorCode::TokenExpired),
        (other_session, ErrorCode::WrongSession),
    ] {
        let error = within(MediaClient::connect(&config)).await.unwrap_err();
        assert_eq!(closed_code(error), code);
        let event = hub
            .expect_event(|e| matches!(e, MediaEvent::Rejected { .. }))
            .await;
        let MediaEvent::Rejected { error, grant, .. } = event else {
            unreachable!()
        };
        assert_eq!((error.code, grant), (code, None));
    }
    assert_eq!(hub.server.stats().connections_rejected, 3);
    assert!(hub.server.participants("s-1").is_empty());
}

#[tokio::test]
async fn nothing_but_a_hello_may_come_first() {
    let hub = TestHub::start_with(|c| c.hello_timeout = Duration::from_millis(300)).await;

    let (_e, connection) = raw_connect(&hub).await;
    let frame = VideoFrame::new(FrameHeader::keyframe(1, now_us()), b"x");
    connection.send_datagram(frame.to_datagram()).unwrap();
    assert_eq!(closed_with(&connection).await.0, ErrorCode::HelloRequired);

    let (_e, connection) = raw_connect(&hub).await;
    let mut uni = connection.open_uni().await.unwrap();
    uni.write_all(&with_kind(StreamKind::VideoFrame.byte(), frame.wire()))
        .await
        .unwrap();
    uni.finish().unwrap();
    assert_eq!(closed_with(&connection).await.0, ErrorCode::HelloRequired);

    let (_e, connection) = raw_connect(&hub).await;
    let (mut send, _recv) = connection.open_bi().await.unwrap();
    let step = MediaControl {
        body: Some(Body::GuideStep(MediaGuideStep {
            step_id: "x".into(),
            ..Default::default()
        })),
    };
    send.write_all(&with_kind(
        StreamKind::Control.byte(),
        &encode_framed(&step),
    ))
    .await
    .unwrap();
    let (code, reason) = closed_with(&connection).await;
    assert_eq!(code, ErrorCode::HelloRequired);
    assert!(reason.contains("guide step"), "{reason}");

    let (_e, connection) = raw_connect(&hub).await;
    assert_eq!(closed_with(&connection).await.0, ErrorCode::HelloTimeout);
}

#[tokio::test]
async fn bad_input_closes_only_the_connection_it_came_on() {
    let hub = TestHub::start_with(|c| c.limits.max_frame_bytes = 100_000).await;
    let mut technician = hub.join("s-ok", Role::Technician).await;
    let mut caller = hub.join("s-ok", Role::Caller).await;

    // Each case: what the peer does on a connection that said hello, and the code it earns.
    let cases: Vec<(&str, ErrorCode)> = vec![
        ("garbage control message", ErrorCode::Malformed),
        ("oversized control message", ErrorCode::TooLarge),
        (
            "unknown bidirectional stream kind",
            ErrorCode::UnknownStreamKind,
        ),
        (
            "upload kind on a unidirectional stream",
            ErrorCode::UnknownStreamKind,
        ),
        ("caller pushes a guide step", ErrorCode::NotPermitted),
        ("second hello", ErrorCode::UnexpectedMessage),
        ("oversized video frame", ErrorCode::TooLarge),
        ("upload chunk at the wrong offset", ErrorCode::UploadInvalid),
        ("upload declared without a hash", ErrorCode::Malformed),
    ];
    for (index, (case, code)) in cases.iter().enumerate() {
        let session = format!("s-bad-{index}");
        let (_e, connection, mut control) = raw_joined(&hub, &session, Role::Caller).await;
        let _held = misbehave(
            case,
            &connection,
            &mut control,
            &hub.tokens.issue(&session, Role::Caller),
            &session,
        )
        .await;
        let (actual, reason) = closed_with(&connection).await;
        assert_eq!(actual, *code, "{case}: closed with {actual:?} ({reason})");
        assert!(
            !reason.is_empty(),
            "{case}: the reason names what was wrong"
        );
    }
    assert_eq!(hub.server.stats().connections_rejected, cases.len() as u64);

    // The healthy session never noticed.
    technician
        .send_control(Body::GuideStep(MediaGuideStep {
            step_id: "still-here".into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    expect_control(&mut caller, |b| matches!(b, Body::GuideStep(_))).await;
    caller
        .send_frame(FrameHeader::keyframe(1, now_us()), &[7; 5000])
        .unwrap();
    let frame = within(technician.next_frame()).await.unwrap();
    assert_eq!(frame.payload().len(), 5000);
}

/// Does what `case` names; returns the receiving half of a stream it opened, which must
/// stay open for the hub to answer on it.
async fn misbehave(
    case: &str,
    connection: &quinn::Connection,
    control: &mut quinn::SendStream,
    token: &str,
    session: &str,
) -> Option<quinn::RecvStream> {
    let kind = |k: StreamKind| k.byte();
    match case {
        "garbage control message" => control.write_all(&[3, 0xff, 0xff, 0xff]).await.unwrap(),
        "oversized control message" => control.write_all(&[0x80, 0x80, 0x40]).await.unwrap(),
        "unknown bidirectional stream kind" => {
            let (mut send, _recv) = connection.open_bi().await.unwrap();
            send.write_all(&[9, 1, 2, 3]).await.unwrap();
        }
        "upload kind on a unidirectional stream" => {
            let mut send = connection.open_uni().await.unwrap();
            send.write_all(&[kind(StreamKind::PhotoUpload), 0])
                .await
                .unwrap();
            send.finish().unwrap();
        }
        "caller pushes a guide step" => {
            let step = MediaControl {
                body: Some(Body::GuideStep(MediaGuideStep {
                    step_id: "x".into(),
                    ..Default::default()
                })),
            };
            control.write_all(&encode_framed(&step)).await.unwrap();
        }
        "second hello" => control
            .write_all(&encode_framed(&hello(token, session)))
            .await
            .unwrap(),
        "oversized video frame" => {
            let frame = VideoFrame::new(FrameHeader::keyframe(1, now_us()), &vec![1; 150_000]);
            let mut send = connection.open_uni().await.unwrap();
            let _ = send
                .write_all(&with_kind(kind(StreamKind::VideoFrame), frame.wire()))
                .await;
            let _ = send.finish();
        }
        "upload chunk at the wrong offset" | "upload declared without a hash" => {
            let data = vec![5u8; 1000];
            let sha256 = if case.contains("hash") {
                String::new()
            } else {
                sha256_hex(&data)
            };
            let start = MediaUploadRequest {
                body: Some(Upload::Start(MediaUploadStart {
                    upload_id: "u-1".into(),
                    step_id: String::new(),
                    size: 1000,
                    sha256,
                    from_start: false,
                })),
            };
            let chunk = MediaUploadRequest {
                body: Some(Upload::Chunk(MediaUploadChunk {
                    offset: 10,
                    data: data.into(),
                })),
            };
            let (mut send, recv) = connection.open_bi().await.unwrap();
            let mut bytes =
                with_kind(kind(StreamKind::PhotoUpload), &encode_framed(&start)).to_vec();
            bytes.extend_from_slice(&encode_framed(&chunk));
            let _ = send.write_all(&bytes).await;
            return Some(recv);
        }
        other => panic!("unknown case {other}"),
    }
    None
}

#[tokio::test]
async fn an_upload_whose_bytes_do_not_hash_to_the_declared_sha256_is_refused_and_discarded() {
    let hub = TestHub::start().await;
    let (_e, connection, _control) = raw_joined(&hub, "s-hash", Role::Caller).await;
    let data = vec![9u8; 100_000];
    let start = MediaUploadRequest {
        body: Some(Upload::Start(MediaUploadStart {
            upload_id: "u-hash".into(),
            step_id: "front".into(),
            size: data.len() as u64,
            sha256: sha256_hex(b"something else"),
            from_start: true,
        })),
    };
    let (mut send, _recv) = connection.open_bi().await.unwrap();
    let mut bytes = with_kind(StreamKind::PhotoUpload.byte(), &encode_framed(&start)).to_vec();
    for (i, chunk) in data.chunks(40_000).enumerate() {
        let chunk = MediaUploadRequest {
            body: Some(Upload::Chunk(MediaUploadChunk {
                offset: (i * 40_000) as u64,
                data: Bytes::copy_from_slice(chunk),
            })),
        };
        bytes.extend_from_slice(&encode_framed(&chunk));
    }
    let _ = send.write_all(&bytes).await;
    let (code, reason) = closed_with(&connection).await;
    assert_eq!(code, ErrorCode::HashMismatch);
    assert!(reason.contains("u-hash"), "{reason}");
    let key = UploadKey {
        session_id: "s-hash".into(),
        upload_id: "u-hash".into(),
    };
    assert!(
        hub.sink.stored(&key).is_empty(),
        "mismatching bytes are discarded"
    );
}

#[tokio::test]
async fn a_client_refuses_a_hub_whose_certificate_is_not_the_pinned_one() {
    let hub = TestHub::start().await;
    let mut config = hub.client_config("s-pin", Role::Caller);
    config.certificate_sha256 = "00".repeat(32);
    let error = within(MediaClient::connect(&config)).await.unwrap_err();
    assert!(matches!(error, ClientError::Connection(_)), "{error}");
    assert!(hub.server.participants("s-pin").is_empty());
}
