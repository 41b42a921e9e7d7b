//! The QUIC media link through the real binary: an independent aioquic peer uploads a photo
//! and reads its verdict; the Rust client relays live frames, gets a verdict, has a refused
//! photo explained, is refused with another session's token and closed when the session
//! ends; `fieldlens caller` and `fieldlens tech live` run a case from the command line, and the
//! caller and the technician rejoin their session after the hub is killed and restarted.

use fieldlens_e2e::photos::{self, Region};
use fieldlens_e2e::{
    ApiKey, TestHub, capture_client, case_client, http_get, hub_with_car_technician, open_request,
    repo_root, tech_client,
};
use fieldlens_media::{
    Attempt, ClientConfig, ClientError, ErrorCode, FrameHeader, MediaClient, Photo,
};
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::guide_service_client::GuideServiceClient;
use fieldlens_proto::v1::media_control::Body;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tonic::transport::Channel;

/// A hub with one technician who can take two car cases at once.
struct Setup {
    dir: tempfile::TempDir,
    hub: TestHub,
    channel: Channel,
    tech: ApiKey,
}

impl Setup {
    async fn start() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (hub, channel, tech) = hub_with_car_technician(dir.path(), "alice").await;
        assert!(hub.media.is_some(), "serve prints `listening media=`");
        Setup {
            dir,
            hub,
            channel,
            tech,
        }
    }

    /// Opens a car case with capture started; returns its id and caller token.
    async fn open(&self, key: &str) -> (String, String) {
        let opened = case_client(&self.channel, None)
            .open_case(open_request(key, "car", "en-GB", "uk-london"))
            .await
            .unwrap()
            .into_inner();
        let case_id = opened.case.unwrap().case_id;
        capture_client(&self.channel, &opened.caller_token)
            .start_capture(pb::StartCaptureRequest {
                case_id: case_id.clone(),
            })
            .await
            .unwrap();
        (case_id, opened.caller_token)
    }

    /// The technician accepts the case once it is offered; returns both sides' sessions.
    async fn pair(&self, case_id: &str, caller_token: &str) -> (pb::Session, pb::Session) {
        let mut tech = tech_client(&self.channel, &self.tech.key);
        let technician = within(async {
            loop {
                let accepted = tech
                    .accept_offer(pb::AcceptOfferRequest {
                        case_id: case_id.to_owned(),
                    })
                    .await;
                match accepted {
                    Ok(reply) => return reply.into_inner().session.unwrap(),
                    // Not offered yet: routing runs on its own loop.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        })
        .await;
        let caller = case_client(&self.channel, Some(caller_token))
            .get_case(pb::GetCaseRequest {
                case_id: case_id.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .session
            .expect("a paired case gives its caller a session");
        assert_eq!(caller.session_id, technician.session_id);
        assert_eq!(caller.alpn, "fieldlens/1");
        (caller, technician)
    }

    /// A photo that fits a step of the car-claim pack.
    async fn photo_for(&self, step: &str, seed: u64) -> Vec<u8> {
        let step = GuideServiceClient::new(self.channel.clone())
            .get_step(pb::GetStepRequest {
                pack_id: "car-claim".into(),
                step_id: step.into(),
                include_overlay: false,
            })
            .await
            .unwrap()
            .into_inner();
        let t = step.target.unwrap();
        let target = Region {
            x: t.x,
            y: t.y,
            w: t.w,
            h: t.h,
        };
        photos::scene(seed, target, (t.min_fill, t.max_fill), true)
    }

    async fn events(&self, case_id: &str, caller_token: &str) -> Vec<pb::CaseEvent> {
        case_client(&self.channel, Some(caller_token))
            .list_case_events(pb::ListCaseEventsRequest {
                case_id: case_id.into(),
                after_seq: 0,
                limit: 0,
            })
            .await
            .unwrap()
            .into_inner()
            .events
    }
}

async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("timed out after 20 s")
}

fn client_config(session: &pb::Session) -> ClientConfig {
    let mut config = ClientConfig::new(
        session.media_endpoint.parse().unwrap(),
        &session.certificate_sha256,
        &session.session_id,
        &session.token,
    );
    config.server_name = session.server_name.clone();
    config
}

/// The next control message matching `wanted`, skipping others.
async fn expect_control(client: &mut MediaClient, wanted: impl Fn(&Body) -> bool) -> Body {
    within(async {
        loop {
            let body = client.next_event().await.expect("the media link ended");
            if wanted(&body) {
                return body;
            }
        }
    })
    .await
}

fn closed_code(result: Result<MediaClient, ClientError>) -> ErrorCode {
    match result {
        Err(ClientError::Closed(error)) => error.code,
        other => panic!("expected the hub to close the connection, got {other:?}"),
    }
}

/// The Python that has aioquic: `FIELDLENS_PYTHON` (set by scripts/test) or the venv
/// scripts/setup makes in target/py.
fn python() -> PathBuf {
    let python = std::env::var_os("FIELDLENS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/py/bin/python"));
    assert!(
        python.exists(),
        "{} not found: run scripts/setup to install aioquic for the independent QUIC peer",
        python.display()
    );
    python
}

/// Runs the aioquic peer; returns its exit code and the JSON events it printed.
async fn run_peer(
    session: &pb::Session,
    pin: &str,
    photo: &Path,
    extra: &[&str],
) -> (i32, Vec<Value>) {
    let output = tokio::process::Command::new(python())
        .arg(repo_root().join("tests/aioquic_peer/peer.py"))
        .args(["--endpoint", &session.media_endpoint, "--sha256", pin])
        .args(["--session", &session.session_id, "--token", &session.token])
        .arg("--photo")
        .arg(photo)
        .args(["--step", "front", "--upload-id", "aioquic-front"])
        .args(extra)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("the aioquic peer finished within 60 s")
        .expect("running the aioquic peer");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let events = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.trim().is_empty(), "peer stderr: {stderr}");
    (output.status.code().unwrap_or(-1), events)
}

fn event<'a>(events: &'a [Value], name: &str) -> Option<&'a Value> {
    events.iter().find(|e| e["event"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aioquic_peer_pins_the_certificate_resumes_a_dropped_upload_and_reads_its_verdict() {
    let setup = Setup::start().await;
    let (case_id, token) = setup.open("media-aioquic-1").await;
    let (caller, _) = setup.pair(&case_id, &token).await;
    // Over 2 MB, so the hub makes part of it durable (every MiB) before it all arrives;
    // JPEG decoders ignore bytes after the end-of-image marker.
    let mut bytes = setup.photo_for("front", 3).await;
    bytes.extend((0..2_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let sha256 = Photo::new(bytes.clone().into()).sha256().to_owned();
    let path = setup.dir.path().join("front.jpg");
    std::fs::write(&path, &bytes).unwrap();

    // A certificate other than the pinned one: the peer hangs up before its hello.
    let wrong_pin = "0".repeat(64);
    let (code, events) = run_peer(&caller, &wrong_pin, &path, &[]).await;
    assert_eq!(code, 3, "{events:?}");
    assert!(event(&events, "pin_mismatch").is_some(), "{events:?}");

    // A first attempt (bytes from 0 without waiting for the resume reply) sends part of
    // the photo, then the connection drops once the hub acknowledged some of it.
    let pin = &caller.certificate_sha256;
    let first_attempt = ["--from-start", "--stop-after", "1500000"];
    let (code, events) = run_peer(&caller, pin, &path, &first_attempt).await;
    assert_eq!(code, 0, "{events:?}");
    let stopped = event(&events, "stopped").expect("the partial upload stopped");
    let (acked, sent) = (
        stopped["acked"].as_u64().unwrap(),
        stopped["sent"].as_u64().unwrap(),
    );
    assert!(acked >= 1 << 20 && acked <= sent, "{stopped}");

    // Again with the same upload id: it goes on from the hub's durable offset.
    let (code, events) = run_peer(&caller, pin, &path, &[]).await;
    assert_eq!(code, 0, "{events:?}");
    let resumed = event(&events, "resume").unwrap()["durable_offset"]
        .as_u64()
        .unwrap();
    assert!(
        (acked..=sent).contains(&resumed),
        "resumed at {resumed}, acked {acked}"
    );
    let welcome = event(&events, "welcome").expect("a welcome");
    assert_eq!(welcome["session_id"], caller.session_id.as_str());
    assert_eq!(welcome["participant_id"], case_id.as_str());
    let complete = event(&events, "complete").expect("the upload completed");
    assert_eq!(complete["size"], bytes.len());
    assert_eq!(
        complete["sent"],
        bytes.len() as u64 - resumed,
        "nothing stored is resent"
    );
    assert_eq!(complete["sha256"], sha256.as_str());
    let verdict = event(&events, "verdict").expect("a verdict");
    assert_eq!(verdict["step_id"], "front");
    assert_eq!(verdict["verdict"], "accept", "{verdict}");
    assert_eq!(verdict["sha256"], sha256.as_str());
    assert_eq!(
        event(&events, "closed").unwrap()["code"],
        0,
        "a bye ends cleanly"
    );

    // The photo is the case's now, checked by the same path as a gRPC upload.
    let progress = capture_client(&setup.channel, &token)
        .get_capture_progress(pb::GetCaptureProgressRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let front = progress
        .steps
        .iter()
        .find(|s| s.step_id == "front")
        .unwrap();
    assert!(
        front
            .attempts
            .iter()
            .any(|a| a.sha256 == sha256 && a.accepted),
        "{front:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_relays_frames_gets_verdicts_and_refusals_and_is_closed_with_its_session() {
    let setup = Setup::start().await;
    let (case_a, token_a) = setup.open("media-rust-a").await;
    let (case_b, token_b) = setup.open("media-rust-b").await;
    let (caller_a, tech_a) = setup.pair(&case_a, &token_a).await;
    let (caller_b, _) = setup.pair(&case_b, &token_b).await;

    let mut technician = MediaClient::connect(&client_config(&tech_a)).await.unwrap();
    let mut caller = MediaClient::connect(&client_config(&caller_a))
        .await
        .unwrap();
    assert_eq!(caller.welcome().present.len(), 1, "the technician is there");
    expect_control(&mut technician, |b| matches!(b, Body::ParticipantJoined(_))).await;

    // Live frames, caller to technician: small ones as datagrams, larger ones on streams.
    let sent: Vec<Vec<u8>> = (0..24u8)
        .map(|i| vec![i; if i % 3 == 0 { 40_000 } else { 900 }])
        .collect();
    for (i, payload) in sent.iter().enumerate() {
        let header = FrameHeader::keyframe(i as u64 + 1, 1_000 * i as u64);
        assert!(caller.send_frame(header, payload).unwrap());
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let mut received = Vec::new();
    within(async {
        while received.len() < 20 {
            let frame = technician.next_frame().await.unwrap();
            received.push(frame);
        }
    })
    .await;
    for pair in received.windows(2) {
        assert!(pair[0].header().sequence < pair[1].header().sequence);
    }
    for frame in &received {
        let sequence = frame.header().sequence as usize;
        assert_eq!(frame.payload(), sent[sequence - 1], "frame {sequence}");
    }

    // A photo for a step: stored, verified, checked; the verdict reaches both sides.
    let photo = Photo::new(setup.photo_for("front", 5).await.into());
    let receipt = caller
        .upload_photo_in_chunks("front-1", "front", &photo, Attempt::First, 32 * 1024)
        .await
        .unwrap();
    assert_eq!(receipt.resumed_from, 0);
    for client in [&mut caller, &mut technician] {
        let Body::PhotoVerdict(verdict) =
            expect_control(client, |b| matches!(b, Body::PhotoVerdict(_))).await
        else {
            unreachable!()
        };
        assert_eq!(verdict.upload_id, "front-1");
        let report = verdict.report.unwrap();
        assert_eq!(report.verdict(), pb::Verdict::Accept, "{report:?}");
        assert_eq!(report.sha256, photo.sha256());
    }

    // A step the pack does not have: refused once the hub reads the declaration, explained,
    // and the connection stays open.
    let other = Photo::new(setup.photo_for("front", 6).await.into());
    let refused = caller
        .upload("nope-1", "no_such_step", &other, Attempt::First)
        .await;
    assert!(
        matches!(&refused, Err(ClientError::Refused { upload_id }) if upload_id == "nope-1"),
        "{refused:?}"
    );
    let Body::Error(error) = expect_control(&mut caller, |b| matches!(b, Body::Error(_))).await
    else {
        unreachable!()
    };
    assert_eq!(error.code(), pb::MediaErrorCode::PhotoRefused);
    assert_eq!(error.upload_id, "nope-1");
    assert!(
        error.message.contains("no step `no_such_step`"),
        "{}",
        error.message
    );
    // The finished upload again: nothing resent, the same verdict.
    let again = caller
        .upload("front-1", "front", &photo, Attempt::Retry)
        .await
        .unwrap();
    assert_eq!(
        (again.resumed_from, again.bytes_sent),
        (photo.bytes().len() as u64, 0)
    );
    let Body::PhotoVerdict(verdict) =
        expect_control(&mut caller, |b| matches!(b, Body::PhotoVerdict(_))).await
    else {
        unreachable!()
    };
    assert_eq!(verdict.report.unwrap().sha256, photo.sha256());
    // As a first attempt under the same id: every byte travels, none is stored twice.
    let reused = caller
        .upload("front-1", "front", &photo, Attempt::First)
        .await
        .unwrap();
    assert_eq!(reused.resumed_from, photo.bytes().len() as u64);
    assert_eq!(reused.bytes_sent, photo.bytes().len() as u64);
    expect_control(&mut caller, |b| matches!(b, Body::PhotoVerdict(_))).await;

    // Another session's token, and a forged one, are refused with the documented codes.
    let mut crossed = client_config(&caller_a);
    crossed.token = caller_b.token.clone();
    assert_eq!(
        closed_code(MediaClient::connect(&crossed).await),
        ErrorCode::WrongSession
    );
    let mut forged = client_config(&caller_a);
    forged.token = format!("{}x", caller_a.token);
    assert_eq!(
        closed_code(MediaClient::connect(&forged).await),
        ErrorCode::TokenInvalid
    );

    // Joining shows in the case's log; the counters show on /metrics.
    let kinds: Vec<(String, String)> = setup
        .events(&case_a, &token_a)
        .await
        .into_iter()
        .map(|e| (e.kind, e.actor))
        .collect();
    for actor in [format!("caller:{case_a}"), "technician:alice".to_owned()] {
        assert!(
            kinds.contains(&("participant_joined".to_owned(), actor.clone())),
            "{actor} joined: {kinds:?}"
        );
    }
    let (status, metrics) = http_get(setup.hub.metrics, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    for line in [
        "fieldlens_media_photos_completed_total 3",
        "fieldlens_media_connections_rejected_total 2",
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }

    // Ending the session closes its connections, and its tokens stop working.
    tech_client(&setup.channel, &setup.tech.key)
        .end_session(pb::EndSessionRequest {
            case_id: case_a.clone(),
        })
        .await
        .unwrap();
    let ended = within(async {
        loop {
            if let Err(error) = caller.next_event().await {
                return error;
            }
        }
    })
    .await;
    assert!(
        matches!(&ended, ClientError::Closed(e) if e.code == ErrorCode::SessionClosed),
        "{ended:?}"
    );
    assert_eq!(
        closed_code(MediaClient::connect(&client_config(&caller_a)).await),
        ErrorCode::SessionClosed
    );
    within(async {
        loop {
            let events = setup.events(&case_a, &token_a).await;
            if events.iter().any(|e| e.kind == "participant_left") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_caller_and_technician_run_a_case_over_the_link() {
    let setup = Setup::start().await;
    let (case_id, token) = setup.open("media-cli-1").await;
    let frames = setup.dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    for i in 0..20u8 {
        std::fs::write(frames.join(format!("frame-{i:02}.jpg")), vec![i; 3_000]).unwrap();
    }
    let photo = setup.dir.path().join("front.jpg");
    std::fs::write(&photo, setup.photo_for("front", 7).await).unwrap();

    let cli = |args: &[&str]| {
        let mut command = tokio::process::Command::new(fieldlens_e2e::fieldlens_bin());
        command
            .args(args)
            .args(["--server", &setup.hub.url(), "--json"])
            .kill_on_drop(true);
        command
    };
    let mut technician = cli(&[
        "tech",
        "live",
        "--case-id",
        &case_id,
        "--push-step",
        "front",
        "--request-capture",
        "front",
    ]);
    technician.env("FIELDLENS_API_KEY", &setup.tech.key);
    let photo_arg = format!("front={}", photo.display());
    let mut caller = cli(&[
        "caller",
        &case_id,
        "--frames",
        frames.to_str().unwrap(),
        "--fps",
        "30",
        "--photo",
        &photo_arg,
        "--seconds",
        "4",
    ]);
    caller.env("FIELDLENS_CALLER_TOKEN", &token);
    // The technician takes the offer routing made; the caller waits for the pairing.
    let (technician, caller) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(technician.output(), caller.output())
    })
    .await
    .expect("both commands finish within 60 s");
    let (technician, caller) = (technician.unwrap(), caller.unwrap());
    let lines = |output: &std::process::Output| -> Vec<Value> {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
            .collect()
    };
    let (tech_events, caller_events) = (lines(&technician), lines(&caller));
    let context = format!(
        "technician: {tech_events:?}\n{}\ncaller: {caller_events:?}\n{}",
        String::from_utf8_lossy(&technician.stderr),
        String::from_utf8_lossy(&caller.stderr)
    );
    assert!(
        technician.status.success() && caller.status.success(),
        "{context}"
    );

    let verdict = event(&caller_events, "verdict").expect(&context);
    assert_eq!(
        (&verdict["step_id"], &verdict["verdict"]),
        (&"front".into(), &"accept".into()),
        "{context}"
    );
    let step = event(&caller_events, "guide_step").expect(&context);
    assert_eq!(step["step_id"], "front");
    assert!(!step["instruction"].as_str().unwrap().is_empty());
    assert_eq!(
        event(&caller_events, "capture_request").expect(&context)["step_id"],
        "front"
    );
    assert_eq!(event(&caller_events, "done").unwrap()["frames_sent"], 20);

    let received: u64 = tech_events
        .iter()
        .filter(|e| e["event"] == "video")
        .map(|e| e["frames"].as_u64().unwrap())
        .sum();
    assert!(
        received >= 10,
        "the technician saw {received} of 20 frames: {context}"
    );
    assert!(
        tech_events
            .iter()
            .any(|e| e["event"] == "video" && e["delay_p50_ms"].is_number()),
        "{context}"
    );
    assert!(event(&tech_events, "verdict").is_some(), "{context}");
}

/// JSON lines of a running CLI command, read as they come.
struct CliEvents {
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    seen: Vec<Value>,
}

impl CliEvents {
    fn of(child: &mut tokio::process::Child) -> CliEvents {
        use tokio::io::AsyncBufReadExt;
        let stdout = child.stdout.take().expect("stdout piped");
        CliEvents {
            lines: tokio::io::BufReader::new(stdout).lines(),
            seen: Vec::new(),
        }
    }

    /// Reads the next event, keeping it; `None` once the output has ended.
    async fn next(&mut self) -> Option<&Value> {
        let line = self.lines.next_line().await.unwrap()?;
        let event = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        self.seen.push(event);
        self.seen.last()
    }

    /// Reads up to and including the next event named `name`; false if output ended first.
    async fn until(&mut self, name: &str) -> bool {
        while let Some(event) = self.next().await {
            if event["event"] == name {
                return true;
            }
        }
        false
    }

    /// Reads the rest of the output.
    async fn read_rest(&mut self) {
        while self.next().await.is_some() {}
    }

    /// The names of the events seen, in order.
    fn names(&self) -> Vec<&str> {
        self.seen
            .iter()
            .filter_map(|e| e["event"].as_str())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_caller_and_technician_rejoin_after_the_hub_is_killed() {
    let mut setup = Setup::start().await;
    let (case_id, token) = setup.open("media-cli-rejoin").await;
    setup.pair(&case_id, &token).await;
    let frames = setup.dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    for i in 0..10u8 {
        std::fs::write(frames.join(format!("frame-{i:02}.jpg")), vec![i; 3_000]).unwrap();
    }
    let mut photo_args = Vec::new();
    for (seed, step) in [(11, "front"), (12, "front_left")] {
        let path = setup.dir.path().join(format!("{step}.jpg"));
        std::fs::write(&path, setup.photo_for(step, seed).await).unwrap();
        photo_args.push(format!("{step}={}", path.display()));
    }
    let cli = |args: &[&str]| {
        let mut command = tokio::process::Command::new(fieldlens_e2e::fieldlens_bin());
        command
            .args(args)
            .args(["--link-timeout", "1", "--reconnect", "30"])
            .args(["--server", &setup.hub.url(), "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    };
    let mut technician = cli(&["tech", "live", "--case-id", &case_id, "--seconds", "16"])
        .env("FIELDLENS_API_KEY", &setup.tech.key)
        .spawn()
        .unwrap();
    let mut tech_events = CliEvents::of(&mut technician);
    assert!(within(tech_events.until("connected")).await);
    let mut caller = cli(&["caller", &case_id, "--frames", frames.to_str().unwrap()])
        .args(["--fps", "20", "--loop", "--seconds", "12"])
        .args(["--photo", &photo_args[0], "--photo", &photo_args[1]])
        .env("FIELDLENS_CALLER_TOKEN", &token)
        .spawn()
        .unwrap();
    let mut caller_events = CliEvents::of(&mut caller);

    // As soon as the caller has joined, the hub dies, with its uploads wherever they are.
    assert!(within(caller_events.until("connected")).await);
    let (grpc, media) = (setup.hub.grpc, setup.hub.media.unwrap());
    setup.hub.kill();
    // Long enough for both to notice (their link timeout is 1 s) while the hub is away.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    setup.hub = TestHub::start_with_args(
        &setup.dir.path().join("data"),
        Some(&setup.dir.path().join("hub.toml")),
        &[
            "--listen",
            &grpc.to_string(),
            "--media-listen",
            &media.to_string(),
        ],
    )
    .unwrap();

    let (caller, technician) = tokio::time::timeout(Duration::from_secs(60), async {
        caller_events.read_rest().await;
        tech_events.read_rest().await;
        (
            caller.wait_with_output().await.unwrap(),
            technician.wait_with_output().await.unwrap(),
        )
    })
    .await
    .expect("both commands finish within 60 s");
    let context = format!(
        "caller: {:?}\n{}\ntechnician: {:?}\n{}",
        caller_events.seen,
        String::from_utf8_lossy(&caller.stderr),
        tech_events.seen,
        String::from_utf8_lossy(&technician.stderr)
    );
    assert!(
        caller.status.success() && technician.status.success(),
        "{context}"
    );
    for events in [&caller_events, &tech_events] {
        let names = events.names();
        let lost = names
            .iter()
            .position(|n| *n == "link_lost")
            .expect(&context);
        assert!(
            names[lost..].contains(&"connected"),
            "joined again: {context}"
        );
    }
    let events = &caller_events.seen;
    for step in ["front", "front_left"] {
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "verdict" && e["step_id"] == step),
            "a verdict for {step}: {context}"
        );
    }
    let done = event(events, "done").expect(&context);
    assert_eq!(done["photos_without_verdict"], 0, "{context}");
    assert!(done["rejoined"].as_u64().unwrap() >= 1, "{context}");
    // Live video reached the technician again after both rejoined.
    let rejoined_at = tech_events
        .seen
        .iter()
        .rposition(|e| e["event"] == "connected")
        .unwrap();
    let frames_after: u64 = tech_events.seen[rejoined_at..]
        .iter()
        .filter(|e| e["event"] == "video")
        .filter_map(|e| e["frames"].as_u64())
        .sum();
    assert!(
        frames_after >= 20,
        "the technician saw {frames_after} frames after rejoining: {context}"
    );
}
