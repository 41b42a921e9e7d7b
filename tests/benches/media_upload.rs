//! Load generator: a photo from upload to verdict through the real hub, over the QUIC media
//! link against gRPC `SubmitPhoto` in the same run, with the same photos.
//!
//! `cargo bench -p fieldlens-e2e --bench media_upload [-- --rounds N]`
//!
//! Each round opens two car cases, pairs them, and sends the same photo for the `front`
//! step once per transport (alternating which goes first): over the media link
//! (`MediaClient::upload`, a first attempt: declared size and hash, chunks, durable acks, SHA-256
//! verified, then the capture path's check) until the hub acknowledges it stored and
//! verified, and on until its verdict arrives; and over gRPC (chunked stream, then the
//! same check) until its response. Both end in the same `Hub::submit_photo`; the
//! difference is the transport and the resumable storage. A third baseline sends the same
//! bytes on one bare quinn stream (same TLS and congestion control as the link) to a
//! server that reads to the end and answers one byte: bare time ÷ the link's time to
//! stored and verified is the upload's goodput ratio through the real hub. (The link's
//! time to the verdict less the check's whole milliseconds, against the same baseline, is
//! printed too: earlier runs used it, before the hub acknowledged ahead of the check.)
//! That server runs twice: in a process of its own, as the hub does (this binary with
//! `--bare-server`), which is the like-for-like baseline; and inside the load generator's
//! process, where client and server share one runtime and skip the second process.
//! Photos are the full-resolution phone photos in `../shared/data/bench-photos`, or
//! generated scenes when that folder is absent. Prints Markdown for BENCHMARKS.md.

use fieldlens_e2e::photos::{self, Region};
use fieldlens_e2e::{
    ApiKey, capture_client, case_client, hub_with_car_technician, open_request, repo_root,
    tech_client,
};
use fieldlens_media::{
    Attempt, ClientConfig, CongestionControl, MediaClient, Photo, ServerIdentity,
};
use fieldlens_proto::v1 as pb;
use fieldlens_proto::v1::media_control::Body;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tonic::transport::Channel;

struct Sample {
    bytes: usize,
    bare_ms: f64,
    bare_in_process_ms: f64,
    /// Until the hub acknowledged the photo as stored and verified.
    media_stored_ms: f64,
    /// Until its verdict arrived.
    media_ms: f64,
    grpc_ms: f64,
    media_check_ms: u32,
    grpc_check_ms: u32,
}

fn photos() -> (Vec<Vec<u8>>, &'static str) {
    let dir = repo_root().join("../shared/data/bench-photos");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "jpeg" || e == "jpg"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    if files.is_empty() {
        let target = Region {
            x: 0.23,
            y: 0.2,
            w: 0.54,
            h: 0.69,
        };
        let generated = (1..=5)
            .map(|seed| photos::scene(seed, target, (0.18, 0.6), true))
            .collect();
        return (generated, "generated 1024x768 scenes");
    }
    let read = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    (read, "../shared/data/bench-photos (9.4 MP phone photos)")
}

/// Opens a car case with capture started and has the technician accept it.
async fn paired_case(channel: &Channel, tech: &ApiKey, key: &str) -> (String, String, pb::Session) {
    let opened = case_client(channel, None)
        .open_case(open_request(key, "car", "en-GB", "uk-london"))
        .await
        .unwrap()
        .into_inner();
    let case_id = opened.case.unwrap().case_id;
    capture_client(channel, &opened.caller_token)
        .start_capture(pb::StartCaptureRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap();
    let mut technician = tech_client(channel, &tech.key);
    loop {
        let accepted = technician
            .accept_offer(pb::AcceptOfferRequest {
                case_id: case_id.clone(),
            })
            .await;
        if accepted.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let session = case_client(channel, Some(&opened.caller_token))
        .get_case(pb::GetCaseRequest {
            case_id: case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .session
        .unwrap();
    (case_id, opened.caller_token, session)
}

/// Times an upload over the media link: until stored and verified, until the verdict, and
/// the check's own time.
async fn via_media(session: &pb::Session, photo: &Photo) -> (f64, f64, u32) {
    let mut config = ClientConfig::new(
        session.media_endpoint.parse().unwrap(),
        &session.certificate_sha256,
        &session.session_id,
        &session.token,
    );
    config.server_name = session.server_name.clone();
    let mut client = MediaClient::connect(&config).await.unwrap();
    let started = Instant::now();
    client
        .upload("bench", "front", photo, Attempt::First)
        .await
        .unwrap();
    let stored = started.elapsed().as_secs_f64() * 1000.0;
    let report = loop {
        if let Body::PhotoVerdict(verdict) = client.next_event().await.unwrap() {
            break verdict.report.unwrap();
        }
    };
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    let _ = client.bye("bench done").await;
    (stored, elapsed, report.check_ms)
}

async fn via_grpc(channel: &Channel, case_id: &str, token: &str, photo: &Photo) -> (f64, u32) {
    use pb::submit_photo_request::Part;
    let mut messages = vec![pb::SubmitPhotoRequest {
        part: Some(Part::Header(pb::PhotoHeader {
            case_id: case_id.into(),
            step_id: "front".into(),
            size: photo.bytes().len() as u64,
            sha256: photo.sha256().to_owned(),
        })),
    }];
    messages.extend(
        photo
            .bytes()
            .chunks(256 * 1024)
            .map(|c| pb::SubmitPhotoRequest {
                part: Some(Part::Data(c.to_vec())),
            }),
    );
    let mut client = capture_client(channel, token);
    let started = Instant::now();
    let response = client
        .submit_photo(futures::stream::iter(messages))
        .await
        .unwrap()
        .into_inner();
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    (elapsed, response.report.unwrap().check_ms)
}

/// The media link's own transport settings (BBR, its default congestion control, and its
/// acknowledgement frequency), so the baseline differs from the link only in what runs
/// above quinn.
fn link_transport() -> Arc<quinn::TransportConfig> {
    Arc::new(fieldlens_media::transport_config(
        Duration::from_secs(30),
        None,
        CongestionControl::Bbr,
    ))
}

/// A bare quinn server with a development certificate like the hub's: reads each
/// bidirectional stream to its end and answers one byte. Returns it and its pin.
fn bare_server() -> (quinn::Endpoint, String) {
    let identity = ServerIdentity::generate_dev(&["localhost".into()], SystemTime::now()).unwrap();
    let mut config = identity.quic_server_config().unwrap();
    config.transport_config(link_transport());
    let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap();
    let accept = endpoint.clone();
    tokio::spawn(async move {
        while let Some(incoming) = accept.accept().await {
            tokio::spawn(async move {
                let Ok(connection) = incoming.await else {
                    return;
                };
                while let Ok((mut send, mut recv)) = connection.accept_bi().await {
                    if recv.read_to_end(64 << 20).await.is_ok() {
                        let _ = send.write_all(&[1]).await;
                        let _ = send.finish();
                    }
                }
            });
        }
    });
    (endpoint, identity.sha256().to_owned())
}

async fn via_bare_quinn(server: SocketAddr, pin: &str, bytes: &[u8]) -> f64 {
    let mut config = fieldlens_media::tls::quic_client_config(pin).unwrap();
    config.transport_config(link_transport());
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let connection = endpoint
        .connect_with(config, server, "localhost")
        .unwrap()
        .await
        .unwrap();
    let started = Instant::now();
    let (mut send, mut recv) = connection.open_bi().await.unwrap();
    send.write_all(bytes).await.unwrap();
    send.finish().unwrap();
    recv.read_to_end(16).await.unwrap();
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    connection.close(0u32.into(), b"done");
    endpoint.wait_idle().await;
    elapsed
}

/// The runtime of either process: two worker threads, like the hub's machine has cores.
fn two_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs [`bare_server`] in this process, prints `<address> <pin>`, and stops when stdin
/// closes (the load generator that started it has gone).
fn serve_bare() {
    let runtime = two_thread_runtime();
    runtime.block_on(async {
        let (endpoint, pin) = bare_server();
        println!("{} {pin}", endpoint.local_addr().unwrap());
        tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
            .await
            .ok();
    });
}

/// Starts this binary as a bare quinn server in its own process: the child, its address
/// and its pin.
fn spawn_bare_server() -> (std::process::Child, SocketAddr, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--bare-server")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting the bare quinn server process");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let (addr, pin) = line.trim().split_once(' ').expect("<address> <pin>");
    (child, addr.parse().unwrap(), pin.to_owned())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.iter().any(|a| a == "--bare-server") {
        return serve_bare();
    }
    // `cargo bench` passes `--bench`; under `cargo test --benches` one round checks it runs.
    let mut rounds = if argv.iter().any(|a| a == "--bench") {
        15
    } else {
        1
    };
    for pair in argv.windows(2) {
        if pair[0] == "--rounds" {
            rounds = pair[1].parse().expect("--rounds takes a number");
        }
    }
    let runtime = two_thread_runtime();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (_hub, channel, tech) = hub_with_car_technician(dir.path(), "bench-tech").await;
        let (photos, source) = photos();
        let (bare, pin) = bare_server();
        let bare_addr = bare.local_addr().unwrap();
        let (mut bare_process, bare_process_addr, bare_process_pin) = spawn_bare_server();
        let mut samples = Vec::new();
        for round in 0..rounds {
            let photo = Photo::new(photos[round % photos.len()].clone().into());
            let (_, _, session) = paired_case(&channel, &tech, &format!("bench-m-{round}")).await;
            let (grpc_case, grpc_token, _) =
                paired_case(&channel, &tech, &format!("bench-g-{round}")).await;
            let (media, grpc) = if round % 2 == 0 {
                let media = via_media(&session, &photo).await;
                (
                    media,
                    via_grpc(&channel, &grpc_case, &grpc_token, &photo).await,
                )
            } else {
                let grpc = via_grpc(&channel, &grpc_case, &grpc_token, &photo).await;
                (via_media(&session, &photo).await, grpc)
            };
            let bare_ms = via_bare_quinn(bare_process_addr, &bare_process_pin, photo.bytes()).await;
            let bare_in_process_ms = via_bare_quinn(bare_addr, &pin, photo.bytes()).await;
            samples.push(Sample {
                bytes: photo.bytes().len(),
                bare_ms,
                bare_in_process_ms,
                media_stored_ms: media.0,
                media_ms: media.1,
                grpc_ms: grpc.0,
                media_check_ms: media.2,
                grpc_check_ms: grpc.1,
            });
            for case_id in [session.case_id.clone(), grpc_case] {
                tech_client(&channel, &tech.key)
                    .end_session(pb::EndSessionRequest { case_id })
                    .await
                    .unwrap();
            }
        }
        let profile = fieldlens_e2e::fieldlens_bin()
            .parent()
            .and_then(|p| p.file_name())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!("Photos: {source}; {rounds} rounds; hub binary from target/{profile}.\n");
        println!(
            "| round | bytes | media link ms: stored / verdict (check) | gRPC ms (check ms) | gRPC ÷ media | bare quinn ms: own process / in-process | bare ÷ stored: own process / in-process | bare ÷ (verdict − check) |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        let goodput = |s: &Sample| s.bare_ms / s.media_stored_ms;
        let goodput_in_process = |s: &Sample| s.bare_in_process_ms / s.media_stored_ms;
        let besides_check = |s: &Sample| s.bare_ms / (s.media_ms - f64::from(s.media_check_ms));
        for (i, s) in samples.iter().enumerate() {
            println!(
                "| {} | {} | {:.1} / {:.0} ({}) | {:.0} ({}) | {:.2} | {:.1} / {:.1} | {:.2} / {:.2} | {:.2} |",
                i + 1,
                s.bytes,
                s.media_stored_ms,
                s.media_ms,
                s.media_check_ms,
                s.grpc_ms,
                s.grpc_check_ms,
                s.grpc_ms / s.media_ms,
                s.bare_ms,
                s.bare_in_process_ms,
                goodput(s),
                goodput_in_process(s),
                besides_check(s),
            );
        }
        let ratio = median(samples.iter().map(|s| s.grpc_ms / s.media_ms).collect());
        let overhead = |total: fn(&Sample) -> f64, check: fn(&Sample) -> u32| {
            median(samples.iter().map(|s| total(s) - f64::from(check(s))).collect())
        };
        println!(
            "\nMedian gRPC ÷ media link (to the verdict): **{ratio:.2}**. Median time to stored and \
             verified: media link {:.1} ms, bare quinn {:.1} ms in its own process, {:.1} ms \
             in-process. Median bare ÷ stored (goodput): **{:.2}** against bare quinn in its own \
             process, {:.2} in-process. Median time besides the check: media link {:.0} ms, gRPC \
             {:.0} ms; bare ÷ (verdict − check) {:.2}.",
            median(samples.iter().map(|s| s.media_stored_ms).collect()),
            median(samples.iter().map(|s| s.bare_ms).collect()),
            median(samples.iter().map(|s| s.bare_in_process_ms).collect()),
            median(samples.iter().map(goodput).collect()),
            median(samples.iter().map(goodput_in_process).collect()),
            overhead(|s| s.media_ms, |s| s.media_check_ms),
            overhead(|s| s.grpc_ms, |s| s.grpc_check_ms),
            median(samples.iter().map(besides_check).collect()),
        );
        drop(bare_process.stdin.take());
        let _ = bare_process.wait();
    });
}
