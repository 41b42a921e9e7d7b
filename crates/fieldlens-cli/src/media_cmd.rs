//! `fieldlens caller` and `fieldlens tech live`: a case run over the real QUIC media link.
//!
//! The caller waits for pairing, connects with the session its case carries, streams a
//! folder of JPEG frames as live video and uploads photos for guide steps, printing
//! each verdict. The technician takes a case (an offer, or a given one), connects,
//! reports the frame rate and delay it receives, and can push steps and ask for photos.

use crate::client::{self, Authed, Bearer, Connection, status_error};
use crate::output;
use crate::tech_cmd::TechAuth;
use anyhow::{Context, bail};
use clap::Args;
use fieldlens_media::{
    Attempt, ClientConfig, ClientError, ErrorCode, FrameCounter, MediaClient, Photo,
};
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::capture_service_client::CaptureServiceClient;
use fieldlens_proto::v1::media_control::Body;
use futures::FutureExt;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use tokio_stream::StreamExt;

/// Most frames read from a folder.
const MAX_FRAME_FILES: usize = 10_000;
/// Largest frame file read (the hub's default limit; its welcome may state less).
const MAX_FRAME_FILE_BYTES: u64 = 1024 * 1024;
/// Largest photo file read (the hub's limit for a photo).
const MAX_PHOTO_FILE_BYTES: u64 = 25 * 1024 * 1024;

/// Options of `fieldlens caller`.
#[derive(Debug, Args)]
#[command(after_help = "\
Open the case first with `fieldlens case open`, then for example:
  fieldlens caller c-0192... --token flc1... --frames ./frames --fps 15 \\
    --photo front=front.jpg --photo plate=plate.jpg

Exit codes: 0 when every photo got its verdict (accept or retake), 1 otherwise.")]
pub struct CallerArgs {
    /// The case, as `fieldlens case open` printed it.
    case_id: String,
    /// Caller token from `fieldlens case open`.
    #[arg(long, env = "FIELDLENS_CALLER_TOKEN", hide_env_values = true)]
    token: String,
    /// Folder of JPEG frames (*.jpg, *.jpeg) sent as live video in name order, each a keyframe.
    #[arg(long)]
    frames: Option<PathBuf>,
    /// Frames per second of the live video.
    #[arg(long, default_value_t = 15.0, value_parser = parse_fps)]
    fps: f64,
    /// Keep looping the frames until --seconds is up (otherwise they play once).
    #[arg(long)]
    r#loop: bool,
    /// A photo for a guide step, STEP=PATH (repeat for several). Starts the capture if needed.
    #[arg(long = "photo", value_parser = parse_photo)]
    photos: Vec<(String, PathBuf)>,
    /// Stop after this many seconds (default: once the frames have played and every photo has its verdict).
    #[arg(long)]
    seconds: Option<f64>,
    /// Seconds to wait for a technician to take the case.
    #[arg(long, default_value_t = 600)]
    wait: u64,
    #[command(flatten)]
    link: LinkArgs,
    #[command(flatten)]
    connection: Connection,
}

/// How the media link is watched and rejoined (`fieldlens caller` and `fieldlens tech live`).
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// After the link drops (the hub restarted, the network went away), keep trying to rejoin
    /// the session for this many seconds (0: stop at once). The caller then resumes the upload
    /// that was cut off and asks again for verdicts not yet heard.
    #[arg(long, default_value_t = 60)]
    reconnect: u64,
    /// Seconds without hearing from the hub before the link counts as dropped.
    #[arg(long, default_value_t = 30.0, value_parser = parse_link_timeout)]
    link_timeout: f64,
}

impl LinkArgs {
    fn link_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.link_timeout)
    }
}

fn parse_link_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if (0.5..=600.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "{text:?} is not a number of seconds from 0.5 to 600"
        )),
    }
}

/// Options of `fieldlens tech live`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  fieldlens tech live --skill car_damage --language en --region uk-london     # take the next offer
  fieldlens tech live --case-id c-0192... --push-step front --request-capture front --seconds 60")]
pub struct TechLiveArgs {
    /// Take this case: accept its offer, or join its live session. Without it, the next offer is taken.
    #[arg(long)]
    case_id: Option<String>,
    /// Go online first with this skill (repeat for several); otherwise the presence announced before counts.
    #[arg(long = "skill")]
    skills: Vec<String>,
    /// A language spoken, with --skill (repeat for several).
    #[arg(long = "language")]
    languages: Vec<String>,
    /// A region served, with --skill (repeat for several).
    #[arg(long = "region")]
    regions: Vec<String>,
    /// Sessions at once, with --skill.
    #[arg(long, default_value_t = 1)]
    capacity: u32,
    /// Push this guide step to the caller once they are connected (repeat for several).
    #[arg(long = "push-step")]
    push_steps: Vec<String>,
    /// Ask the caller for a photo of this step once they are connected (repeat for several).
    #[arg(long = "request-capture")]
    capture_steps: Vec<String>,
    /// Stop after this many seconds (default: when the caller leaves, or Ctrl-C).
    #[arg(long)]
    seconds: Option<f64>,
    /// End the session when stopping, freeing your capacity.
    #[arg(long)]
    end: bool,
    /// Seconds to wait for an offer.
    #[arg(long, default_value_t = 600)]
    wait: u64,
    #[command(flatten)]
    link: LinkArgs,
    #[command(flatten)]
    auth: TechAuth,
}

fn parse_fps(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(fps) if (0.1..=120.0).contains(&fps) => Ok(fps),
        _ => Err(format!("{value:?} is not a frame rate from 0.1 to 120")),
    }
}

fn parse_photo(value: &str) -> Result<(String, PathBuf), String> {
    match value.split_once('=') {
        Some((step, path)) if !step.is_empty() && !path.is_empty() => {
            Ok((step.to_owned(), PathBuf::from(path)))
        }
        _ => Err(format!("{value:?} is not STEP=PATH, e.g. front=front.jpg")),
    }
}

/// Prints one line: JSON with `"event"` set, or the text.
fn emit(json_mode: bool, event: &str, mut value: Value, text: impl FnOnce() -> String) {
    if json_mode {
        value["event"] = event.into();
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Reads a file after checking its size, naming it in every error.
fn read_limited(path: &Path, limit: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?
        .len();
    if size == 0 || size > limit {
        bail!(
            "{what} {} holds {size} bytes; it must hold 1 to {limit}",
            path.display()
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// The JPEG frames of a folder, in name order.
fn read_frames(dir: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list frames folder {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
        })
        .collect();
    if paths.is_empty() {
        bail!("no *.jpg or *.jpeg frames in {}", dir.display());
    }
    if paths.len() > MAX_FRAME_FILES {
        bail!(
            "{} holds {} frames; at most {MAX_FRAME_FILES} are read",
            dir.display(),
            paths.len()
        );
    }
    paths.sort();
    paths
        .iter()
        .map(|path| read_limited(path, MAX_FRAME_FILE_BYTES, "frame"))
        .collect()
}

/// Connects to the media endpoint a session names; `idle_timeout`, when given, is how long
/// the link may stay silent before it counts as dropped.
async fn connect(
    session: &pb::Session,
    idle_timeout: Option<Duration>,
) -> anyhow::Result<MediaClient> {
    if session.media_endpoint.is_empty() {
        bail!(
            "the hub runs no media endpoint for session {}",
            session.session_id
        );
    }
    let server: SocketAddr = tokio::net::lookup_host(&session.media_endpoint)
        .await
        .with_context(|| format!("cannot resolve media endpoint {}", session.media_endpoint))?
        .next()
        .with_context(|| format!("media endpoint {} has no address", session.media_endpoint))?;
    let mut config = ClientConfig::new(
        server,
        &session.certificate_sha256,
        &session.session_id,
        &session.token,
    );
    config.server_name = if session.server_name.is_empty() {
        "localhost".into()
    } else {
        session.server_name.clone()
    };
    config.client_name = concat!("fieldlens-cli/", env!("CARGO_PKG_VERSION")).into();
    if let Some(idle_timeout) = idle_timeout {
        config.idle_timeout = idle_timeout;
        config.keep_alive = config.keep_alive.min(idle_timeout / 3);
    }
    MediaClient::connect(&config).await.with_context(|| {
        format!(
            "cannot join media session {} at {}",
            session.session_id, session.media_endpoint
        )
    })
}

fn capture_client(
    channel: tonic::transport::Channel,
    credential: &str,
) -> anyhow::Result<CaptureServiceClient<Authed>> {
    Ok(CaptureServiceClient::with_interceptor(
        channel,
        Bearer::new(Some(credential))?,
    ))
}

/// Prints a control message from the hub; returns the verdict's or error's upload id.
fn print_event(json_mode: bool, body: &Body) -> Option<String> {
    match body {
        Body::PhotoVerdict(verdict) => {
            let report = verdict.report.clone().unwrap_or_default();
            let outcome = match pb::Verdict::try_from(report.verdict) {
                Ok(pb::Verdict::Accept) => "accept",
                Ok(pb::Verdict::Retake) => "retake",
                _ => "unknown",
            };
            let reasons: Vec<&str> = report.issues.iter().map(|i| i.reason.as_str()).collect();
            let messages: Vec<&str> = report
                .issues
                .iter()
                .map(|i| i.message_en.as_str())
                .collect();
            emit(
                json_mode,
                "verdict",
                json!({
                    "upload_id": verdict.upload_id, "step_id": verdict.step_id,
                    "verdict": outcome, "reasons": reasons, "messages": messages,
                    "sha256": report.sha256, "check_ms": report.check_ms,
                }),
                || {
                    let mut line = format!(
                        "verdict {} for step {}: {outcome}",
                        verdict.upload_id, verdict.step_id
                    );
                    if !reasons.is_empty() {
                        line.push_str(&format!(
                            " ({}) — {}",
                            reasons.join(", "),
                            messages.join(" ")
                        ));
                    }
                    line
                },
            );
            Some(verdict.upload_id.clone())
        }
        Body::Error(error) => {
            let code = pb::MediaErrorCode::try_from(error.code)
                .map_or_else(|_| error.code.to_string(), |c| c.as_str_name().to_owned());
            emit(
                json_mode,
                "error",
                json!({"code": code, "message": error.message, "upload_id": error.upload_id}),
                || {
                    format!(
                        "hub error {code} for upload {}: {}",
                        error.upload_id, error.message
                    )
                },
            );
            (!error.upload_id.is_empty()).then(|| error.upload_id.clone())
        }
        Body::GuideStep(step) => {
            emit(
                json_mode,
                "guide_step",
                json!({"guide_id": step.guide_id, "step_id": step.step_id, "title": step.title,
                       "instruction": step.instruction, "required": step.required}),
                || {
                    format!(
                        "step {}: {} — {}",
                        step.step_id, step.title, step.instruction
                    )
                },
            );
            None
        }
        Body::CaptureRequest(request) => {
            emit(
                json_mode,
                "capture_request",
                json!({"request_id": request.request_id, "step_id": request.step_id, "note": request.note}),
                || {
                    format!(
                        "photo requested for step {}: {}",
                        request.step_id, request.note
                    )
                },
            );
            None
        }
        Body::Annotation(annotation) => {
            emit(
                json_mode,
                "annotation",
                json!({"annotation_id": annotation.annotation_id, "label": annotation.label,
                       "points": annotation.points.len()}),
                || {
                    format!(
                        "annotation {}: {}",
                        annotation.annotation_id, annotation.label
                    )
                },
            );
            None
        }
        Body::ParticipantJoined(joined) => {
            let who = joined.participant.clone().unwrap_or_default();
            emit(
                json_mode,
                "participant_joined",
                json!({"participant_id": who.participant_id, "role": who.role().as_str_name()}),
                || format!("{} joined", who.participant_id),
            );
            None
        }
        Body::ParticipantLeft(left) => {
            let who = left.participant.clone().unwrap_or_default();
            emit(
                json_mode,
                "participant_left",
                json!({"participant_id": who.participant_id, "reason": left.reason}),
                || format!("{} left: {}", who.participant_id, left.reason),
            );
            None
        }
        Body::Hello(_) | Body::Welcome(_) | Body::Bye(_) => None,
    }
}

fn print_connected(json_mode: bool, client: &MediaClient, session: &pb::Session) {
    let welcome = client.welcome();
    let present: Vec<&str> = welcome
        .present
        .iter()
        .map(|p| p.participant_id.as_str())
        .collect();
    emit(
        json_mode,
        "connected",
        json!({"session_id": welcome.session_id, "case_id": session.case_id,
               "role": client.role().as_str(), "present": present,
               "endpoint": session.media_endpoint}),
        || {
            format!(
                "connected to session {} at {} as {} (present: {})",
                welcome.session_id,
                session.media_endpoint,
                client.role(),
                if present.is_empty() {
                    "nobody else".to_owned()
                } else {
                    present.join(", ")
                }
            )
        },
    );
}

/// Waits until the case is paired and returns the caller's session.
async fn wait_for_session(args: &CallerArgs) -> anyhow::Result<pb::Session> {
    let mut cases = client::cases(&args.connection.server, Some(&args.token)).await?;
    let mut updates = cases
        .watch_case(pb::WatchCaseRequest {
            case_id: args.case_id.clone(),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    let deadline = tokio::time::sleep(Duration::from_secs(args.wait));
    tokio::pin!(deadline);
    loop {
        let update = tokio::select! {
            update = updates.next() => update,
            () = &mut deadline => bail!("no technician took case {} within {} s", args.case_id, args.wait),
        };
        let Some(update) = update else {
            bail!("the hub ended the watch of case {}", args.case_id);
        };
        let case = update.map_err(status_error)?.case.unwrap_or_default();
        if let Some(session) = case.session {
            return Ok(session);
        }
        let status = case.status();
        if matches!(
            status,
            pb::CaseStatus::Closed | pb::CaseStatus::Cancelled | pb::CaseStatus::Abandoned
        ) {
            bail!(
                "case {} is {} and has no session",
                args.case_id,
                output::status_name(case.status)
            );
        }
        emit(
            args.connection.json,
            "waiting",
            output::case_json(&case),
            || format!("waiting: {}", output::case_line(&case)),
        );
    }
}

/// A photo the caller sends for a step, and whether the hub may hold part of it already.
struct PendingPhoto {
    upload_id: String,
    step: String,
    photo: Photo,
    /// A retry when an earlier connection may have stored part of it, or its verdict was lost.
    attempt: Attempt,
}

/// `error` as the cause to rejoin the session after, when it means the link itself went away
/// (the hub restarted or the network dropped); any other error (a refusal, a protocol fault)
/// ends the command, with `what` as its context.
fn rejoin_cause(
    error: ClientError,
    what: impl std::fmt::Display + Send + Sync + 'static,
) -> anyhow::Result<ClientError> {
    let lost = match &error {
        ClientError::Connection(_) | ClientError::Stream(_) | ClientError::Timeout(_) => true,
        ClientError::Closed(closed) => {
            matches!(closed.code, ErrorCode::ShuttingDown | ErrorCode::Internal)
        }
        _ => false,
    };
    if lost {
        Ok(error)
    } else {
        Err(anyhow::Error::new(error).context(what))
    }
}

/// Who rejoins a case's media session, and how.
struct Rejoiner<'a> {
    /// The hub's gRPC address.
    server: &'a str,
    /// The caller token or the technician's API key: either reads the case's session.
    credential: &'a str,
    case_id: &'a str,
    link: &'a LinkArgs,
    json: bool,
}

/// Case `case_id`'s live session as the hub states it now, read with `credential` (a caller
/// token or a technician's API key): `None` when it has none.
async fn case_session(
    server: &str,
    credential: &str,
    case_id: &str,
) -> anyhow::Result<Option<pb::Session>> {
    let case = client::cases(server, Some(credential))
        .await?
        .get_case(pb::GetCaseRequest {
            case_id: case_id.to_owned(),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    Ok(case.session)
}

impl Rejoiner<'_> {
    /// Rejoins the session after the link dropped with `cause`: asks the hub for the
    /// session again (its token may have been renewed) and connects, retrying with a
    /// growing pause for up to `--reconnect` seconds. Fails at once if the session has
    /// ended.
    async fn rejoin(&self, cause: &ClientError) -> anyhow::Result<MediaClient> {
        let reconnect = self.link.reconnect;
        emit(
            self.json,
            "link_lost",
            json!({"error": cause.to_string(), "reconnect_s": reconnect}),
            || format!("the media link dropped ({cause}); rejoining for up to {reconnect} s"),
        );
        if reconnect == 0 {
            bail!("the media link dropped: {cause}");
        }
        let deadline = Instant::now() + Duration::from_secs(reconnect);
        let mut pause = Duration::from_millis(200);
        loop {
            let attempt = match case_session(self.server, self.credential, self.case_id).await {
                Ok(Some(session)) => connect(&session, Some(self.link.link_timeout()))
                    .await
                    .map(|client| (client, session)),
                Ok(None) => bail!(
                    "the media link dropped ({cause}) and case {}'s session has ended",
                    self.case_id
                ),
                Err(error) => Err(error),
            };
            match attempt {
                Ok((client, session)) => {
                    print_connected(self.json, &client, &session);
                    return Ok(client);
                }
                Err(error) if Instant::now() + pause < deadline => {
                    tracing::debug!(error = format!("{error:#}"), "rejoining the session");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(error) => {
                    return Err(error.context(format!(
                        "the media link dropped ({cause}) and could not be rejoined within {reconnect} s"
                    )));
                }
            }
        }
    }
}

/// Runs `fieldlens caller`.
pub async fn run_caller(args: CallerArgs) -> anyhow::Result<()> {
    let json_mode = args.connection.json;
    let frames = args.frames.as_deref().map(read_frames).transpose()?;
    let mut queue = std::collections::VecDeque::with_capacity(args.photos.len());
    for (step, path) in &args.photos {
        let photo = Photo::new(read_limited(path, MAX_PHOTO_FILE_BYTES, "photo")?.into());
        let step_part: String = step.chars().take(40).collect();
        let upload_id = format!("{step_part}-{}", &photo.sha256()[..16]);
        queue.push_back(PendingPhoto {
            upload_id,
            step: step.clone(),
            photo,
            attempt: Attempt::First,
        });
    }
    if !queue.is_empty() {
        let channel = client::channel(&args.connection.server).await?;
        capture_client(channel, &args.token)?
            .start_capture(pb::StartCaptureRequest {
                case_id: args.case_id.clone(),
            })
            .await
            .map_err(status_error)?;
    }
    let session = wait_for_session(&args).await?;
    let mut client = connect(&session, Some(args.link.link_timeout())).await?;
    print_connected(json_mode, &client, &session);
    let rejoiner = Rejoiner {
        server: &args.connection.server,
        credential: &args.token,
        case_id: &args.case_id,
        link: &args.link,
        json: json_mode,
    };

    let started = Instant::now();
    let deadline = args.seconds.map(|s| started + Duration::from_secs_f64(s));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.fps));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut counter = FrameCounter::new();
    let mut frames_sent = 0usize;
    let frame_count = frames.as_ref().map_or(0, Vec::len);
    let frames_done = |sent: usize| frame_count == 0 || (!args.r#loop && sent >= frame_count);
    let mut send_frame = |client: &MediaClient, sent: &mut usize| -> Result<(), ClientError> {
        if let Some(frames) = &frames
            && (args.r#loop || *sent < frames.len())
        {
            let header = counter.next(true, now_us());
            client.send_frame(header, &frames[*sent % frames.len()])?;
            *sent += 1;
        }
        Ok(())
    };
    // Uploaded (or refused) photos whose verdict (or reason) has not arrived yet.
    let mut awaiting: Vec<PendingPhoto> = Vec::new();
    let mut failed = 0usize;
    let mut rejoins = 0usize;
    let past_deadline = || deadline.is_some_and(|d| Instant::now() >= d);

    // Uploads run one at a time while frames keep flowing; events wait in the client's
    // queue meanwhile and are read between uploads. A dropped link is rejoined: the photo
    // cut off resumes where the hub's durable bytes end, and photos still waiting for a
    // verdict are asked again (an upload the hub holds whole sends nothing and is judged
    // again), since a verdict sent on the dropped connection may be lost.
    loop {
        if past_deadline() {
            break;
        }
        let lost = if let Some(pending) = queue.pop_front() {
            let result = {
                let (id, step, photo) = (&pending.upload_id, &pending.step, &pending.photo);
                let upload = client.upload(id, step, photo, pending.attempt);
                tokio::pin!(upload);
                loop {
                    tokio::select! {
                        result = &mut upload => break result,
                        _ = ticker.tick() => if let Err(error) = send_frame(&client, &mut frames_sent) {
                            break Err(error);
                        },
                    }
                }
            };
            let step = &pending.step;
            match result {
                Ok(receipt) => {
                    emit(
                        json_mode,
                        "uploaded",
                        json!({"upload_id": receipt.upload_id, "step_id": step, "size": receipt.size,
                               "resumed_from": receipt.resumed_from, "bytes_sent": receipt.bytes_sent}),
                        || {
                            format!(
                                "uploaded {} for step {step}: {} bytes stored and verified (resumed at {})",
                                receipt.upload_id, receipt.size, receipt.resumed_from
                            )
                        },
                    );
                    awaiting.push(pending);
                    None
                }
                Err(ClientError::Refused { .. }) => {
                    awaiting.push(pending);
                    None
                }
                Err(error) => {
                    let cause = rejoin_cause(error, format!("uploading {}", pending.upload_id))?;
                    queue.push_front(PendingPhoto {
                        attempt: Attempt::Retry,
                        ..pending
                    });
                    Some(cause)
                }
            }
        } else {
            if awaiting.is_empty() && frames_done(frames_sent) && deadline.is_none() {
                break;
            }
            tokio::select! {
                event = client.next_event() => match event {
                    Ok(event) => {
                        if let Some(upload_id) = print_event(json_mode, &event) {
                            if matches!(event, Body::Error(_)) {
                                failed += 1;
                            }
                            awaiting.retain(|p| p.upload_id != upload_id);
                        }
                        None
                    }
                    Err(error) => Some(rejoin_cause(error, "the media link ended")?),
                },
                _ = ticker.tick() => match send_frame(&client, &mut frames_sent) {
                    Ok(()) => None,
                    Err(error) => Some(rejoin_cause(error, "sending a frame")?),
                },
                _ = tokio::signal::ctrl_c() => break,
            }
        };
        if let Some(cause) = lost {
            client = rejoiner.rejoin(&cause).await?;
            rejoins += 1;
            queue.extend(awaiting.drain(..).map(|pending| PendingPhoto {
                attempt: Attempt::Retry,
                ..pending
            }));
        }
    }
    let uplink = client.uplink_stats();
    emit(
        json_mode,
        "done",
        json!({"frames_sent": frames_sent, "frames_dropped": uplink.dropped_congestion + uplink.dropped_stale,
               "photos_without_verdict": awaiting.len() + queue.len(), "photos_refused": failed,
               "rejoined": rejoins}),
        || {
            format!(
                "done: {frames_sent} frames sent, {} photos without a verdict, {failed} refused, link rejoined {rejoins} times",
                awaiting.len() + queue.len()
            )
        },
    );
    let _ = client.bye("caller done").await;
    if !awaiting.is_empty() || !queue.is_empty() || failed > 0 {
        bail!(
            "{} photos got no verdict, {failed} were refused",
            awaiting.len() + queue.len()
        );
    }
    Ok(())
}

/// Frame rate and delay of the frames received since the last report.
#[derive(Default)]
struct VideoWindow {
    frames: u64,
    bytes: u64,
    delays_ms: Vec<f64>,
}

impl VideoWindow {
    fn add(&mut self, frame: &fieldlens_media::VideoFrame) {
        self.frames += 1;
        self.bytes += frame.payload().len() as u64;
        let delay_us = now_us().saturating_sub(frame.header().timestamp_us);
        self.delays_ms.push(delay_us as f64 / 1000.0);
    }

    fn report(&mut self, json_mode: bool, seconds: f64, total: u64) {
        self.delays_ms.sort_by(f64::total_cmp);
        let quantile = |q: f64| {
            self.delays_ms
                .get(((self.delays_ms.len() as f64 - 1.0) * q).round() as usize)
                .copied()
        };
        let fps = self.frames as f64 / seconds;
        let (p50, max) = (quantile(0.5), self.delays_ms.last().copied());
        emit(
            json_mode,
            "video",
            json!({"fps": fps, "frames": self.frames, "total_frames": total,
                   "kbit_per_s": self.bytes as f64 * 8.0 / seconds / 1000.0,
                   "delay_p50_ms": p50, "delay_max_ms": max}),
            || match (p50, max) {
                (Some(p50), Some(max)) => format!(
                    "video: {fps:.1} frames/s, delay p50 {p50:.1} ms, max {max:.1} ms ({total} frames)"
                ),
                _ => format!("video: no frames ({total} so far)"),
            },
        );
        *self = VideoWindow::default();
    }
}

/// The session of a case the technician takes: its own live session, or an offer accepted.
async fn take_case(args: &TechLiveArgs) -> anyhow::Result<pb::Session> {
    let server = &args.auth.connection.server;
    let mut technicians = client::technicians(server, &args.auth.api_key).await?;
    if !args.skills.is_empty() {
        technicians
            .set_presence(pb::SetPresenceRequest {
                display_name: String::new(),
                skills: args.skills.clone(),
                languages: args.languages.clone(),
                regions: args.regions.clone(),
                capacity: args.capacity,
                available: true,
            })
            .await
            .map_err(status_error)?;
    }
    let case_id = match &args.case_id {
        Some(case_id) => {
            if let Some(session) = case_session(server, &args.auth.api_key, case_id).await? {
                return Ok(session);
            }
            case_id.clone()
        }
        None => {
            let mut offers = technicians
                .stream_offers(pb::StreamOffersRequest {})
                .await
                .map_err(status_error)?
                .into_inner();
            emit(args.auth.connection.json, "waiting", json!({}), || {
                "waiting for an offer".into()
            });
            let offer = tokio::time::timeout(Duration::from_secs(args.wait), offers.next())
                .await
                .map_err(|_| anyhow::anyhow!("no offer within {} s", args.wait))?
                .context("the hub ended the offer stream")?
                .map_err(status_error)?;
            emit(
                args.auth.connection.json,
                "offer",
                output::offer_json(&offer),
                || output::offer_line(&offer),
            );
            offer.case_id
        }
    };
    let accepted = technicians
        .accept_offer(pb::AcceptOfferRequest { case_id })
        .await
        .map_err(status_error)?
        .into_inner();
    accepted
        .session
        .context("the hub accepted the offer but returned no session")
}

/// Pushes the steps (recorded in the case, shown on the link) and asks for the photos
/// the technician named. A refused push, e.g. before capture has started, is reported
/// and the session goes on.
async fn ask_caller(
    client: &MediaClient,
    args: &TechLiveArgs,
    session: &pb::Session,
) -> anyhow::Result<()> {
    let json_mode = args.auth.connection.json;
    if !args.push_steps.is_empty() {
        let channel = client::channel(&args.auth.connection.server).await?;
        let mut capture = capture_client(channel, &args.auth.api_key)?;
        for step in &args.push_steps {
            let pushed = capture
                .push_step(pb::PushStepRequest {
                    case_id: session.case_id.clone(),
                    step_id: step.clone(),
                })
                .await;
            match pushed {
                Ok(_) => emit(json_mode, "pushed", json!({"step_id": step}), || {
                    format!("pushed step {step}")
                }),
                Err(status) => {
                    let error = status_error(status);
                    emit(
                        json_mode,
                        "push_refused",
                        json!({"step_id": step, "message": error.to_string()}),
                        || format!("step {step} not pushed: {error}"),
                    );
                }
            }
        }
    }
    for (n, step) in args.capture_steps.iter().enumerate() {
        let request = pb::MediaCaptureRequest {
            request_id: format!("r{}", n + 1),
            step_id: step.clone(),
            note: format!("Please take the photo for step {step}."),
        };
        client
            .send_control(Body::CaptureRequest(request))
            .await
            .with_context(|| format!("asking for a photo of step {step}"))?;
        emit(
            json_mode,
            "capture_requested",
            json!({"step_id": step}),
            || format!("asked for a photo of step {step}"),
        );
    }
    Ok(())
}

/// Runs `fieldlens tech live`.
pub async fn run_tech_live(args: TechLiveArgs) -> anyhow::Result<()> {
    let json_mode = args.auth.connection.json;
    let session = take_case(&args).await?;
    let mut client = connect(&session, Some(args.link.link_timeout())).await?;
    print_connected(json_mode, &client, &session);
    let rejoiner = Rejoiner {
        server: &args.auth.connection.server,
        credential: &args.auth.api_key,
        case_id: &session.case_id,
        link: &args.link,
        json: json_mode,
    };

    // Steps and photo requests go out once the caller is there to see them.
    let is_caller = |p: &Option<pb::MediaParticipant>| {
        p.as_ref()
            .is_some_and(|p| p.role() == pb::ParticipantRole::Caller)
    };
    let caller_in = |client: &MediaClient| {
        client
            .welcome()
            .present
            .iter()
            .any(|p| p.role() == pb::ParticipantRole::Caller)
    };
    let mut caller_present = caller_in(&client);
    let mut asked = false;
    let deadline = args
        .seconds
        .map(|s| Instant::now() + Duration::from_secs_f64(s));
    let mut window = VideoWindow::default();
    let mut total = 0u64;
    let mut last_report = Instant::now();
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    loop {
        let lost = tokio::select! {
            frame = client.next_frame() => match frame {
                Ok(frame) => {
                    total += 1;
                    window.add(&frame);
                    None
                }
                Err(error) => Some(rejoin_cause(error, "the media link ended")?),
            },
            _ = poll.tick() => {
                // Frames and events both need the client; events are read between frames.
                let mut caller_left = false;
                let mut lost = None;
                while let Some(event) = client.next_event().now_or_never() {
                    let body = match event {
                        Ok(body) => body,
                        Err(error) => {
                            lost = Some(rejoin_cause(error, "the media link ended")?);
                            break;
                        }
                    };
                    match &body {
                        Body::ParticipantJoined(joined) => caller_present |= is_caller(&joined.participant),
                        Body::ParticipantLeft(left) => caller_left |= is_caller(&left.participant),
                        _ => {}
                    }
                    print_event(json_mode, &body);
                }
                if lost.is_none() && caller_present && !asked {
                    asked = true;
                    ask_caller(&client, &args, &session).await?;
                }
                let elapsed = last_report.elapsed();
                if elapsed >= Duration::from_secs(1) || caller_left {
                    window.report(json_mode, elapsed.as_secs_f64(), total);
                    last_report = Instant::now();
                }
                if (caller_left && args.seconds.is_none())
                    || deadline.is_some_and(|d| Instant::now() >= d)
                {
                    break;
                }
                lost
            }
            _ = tokio::signal::ctrl_c() => break,
        };
        if let Some(cause) = lost {
            client = rejoiner.rejoin(&cause).await?;
            caller_present = caller_in(&client);
        }
    }
    let _ = client.bye("technician done").await;
    if args.end {
        let case = client::technicians(&args.auth.connection.server, &args.auth.api_key)
            .await?
            .end_session(pb::EndSessionRequest {
                case_id: session.case_id.clone(),
            })
            .await
            .map_err(status_error)?
            .into_inner();
        emit(json_mode, "ended", output::case_json(&case), || {
            output::case_line(&case)
        });
    }
    Ok(())
}
