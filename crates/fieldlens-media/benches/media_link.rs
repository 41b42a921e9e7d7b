//! Load generator for the media link, run with
//! `cargo bench -p fieldlens-media --bench media_link [-- --sessions N --seconds N]`
//! (`--goodput-only` skips the relay part; under `cargo test --benches` it makes a short
//! smoke run instead).
//!
//! 1. Photo upload goodput through the hub endpoint against a bare quinn transfer of the
//!    same bytes (one stream, read to the end, one byte back), interleaved in one run.
//! 2. Relayed live video: N sessions, each a caller sending 15 frames/s of 30 KB through
//!    the hub to its technician, against the same load sent straight to a bare quinn
//!    receiver; the difference of the latencies is what the hub adds. The hub's CPU time
//!    (its own runtime threads) per session is measured over the same window.
//!
//! Hub (or bare receiver) and load run on separate two-thread runtimes in one process,
//! so on a two-core machine they share the cores. Prints Markdown for BENCHMARKS.md.

#[path = "../tests/media/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use fieldlens_media::tls::quic_client_config;
use fieldlens_media::{
    Attempt, CongestionControl, FrameCounter, MediaClient, Role, ServerIdentity,
};
use tokio::runtime::Runtime;

use support::{TestHub, now_us, photo_bytes};

const HUB_THREADS: &str = "media-hub";

struct Args {
    sessions: usize,
    seconds: u64,
    fps: u64,
    frame_bytes: usize,
    photo_bytes: usize,
    rounds: usize,
    relay: bool,
    congestion: CongestionControl,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args {
            sessions: 200,
            seconds: 10,
            fps: 15,
            frame_bytes: 30_000,
            photo_bytes: 4_000_000,
            rounds: 10,
            relay: true,
            congestion: CongestionControl::Bbr,
        };
        let argv: Vec<String> = std::env::args().collect();
        args.relay = !argv.iter().any(|a| a == "--goodput-only");
        if argv.iter().any(|a| a == "--cubic") {
            args.congestion = CongestionControl::Cubic;
        }
        // `cargo bench` passes `--bench`; without it (`cargo test --benches`) a quick
        // smoke run checks that everything works.
        if !argv.iter().any(|a| a == "--bench") {
            (args.sessions, args.seconds, args.rounds, args.photo_bytes) = (4, 1, 2, 500_000);
        }
        for pair in argv.windows(2) {
            let value = || pair[1].parse().expect("a number");
            match pair[0].as_str() {
                "--sessions" => args.sessions = value() as usize,
                "--seconds" => args.seconds = value(),
                "--fps" => args.fps = value(),
                "--frame-bytes" => args.frame_bytes = value() as usize,
                "--photo-bytes" => args.photo_bytes = value() as usize,
                "--rounds" => args.rounds = value() as usize,
                _ => {}
            }
        }
        args
    }
}

fn runtime(name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap()
}

/// CPU seconds used so far by this process's threads named `prefix*`.
fn thread_cpu_seconds(prefix: &str) -> f64 {
    let mut ticks = 0u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| {
            fields
                .get(n - 3)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        ticks += field(14) + field(15);
    }
    ticks as f64 / 100.0 // USER_HZ is 100 on Linux
}

/// The link's own transport settings: the bare baselines differ from the link only in
/// what runs above quinn.
fn transport(congestion: CongestionControl) -> Arc<quinn::TransportConfig> {
    Arc::new(fieldlens_media::transport_config(
        Duration::from_secs(60),
        None,
        congestion,
    ))
}

/// A bare quinn endpoint with the hub's TLS and congestion control.
fn bare_server(identity: &ServerIdentity, congestion: CongestionControl) -> quinn::Endpoint {
    let mut config = identity.quic_server_config().unwrap();
    config.transport_config(transport(congestion));
    quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap()
}

async fn bare_client(
    server: &quinn::Endpoint,
    sha256: &str,
    congestion: CongestionControl,
) -> (quinn::Endpoint, quinn::Connection) {
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut config = quic_client_config(sha256).unwrap();
    config.transport_config(transport(congestion));
    let connection = endpoint
        .connect_with(config, server.local_addr().unwrap(), "localhost")
        .unwrap()
        .await
        .unwrap();
    (endpoint, connection)
}

fn goodput(hub_rt: &Runtime, load_rt: &Runtime, args: &Args) {
    let shm = Path::new("/dev/shm");
    let memory = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let disk: PathBuf = std::env::temp_dir();
    let congestion = args.congestion;
    let memory_hub = hub_rt.block_on(TestHub::start_in(&memory, 1 << 20, |c| {
        c.congestion = congestion
    }));
    let disk_hub = hub_rt.block_on(TestHub::start_in(&disk, 1 << 20, |c| {
        c.congestion = congestion
    }));
    let client_config = |hub: &TestHub| {
        let mut config = hub.client_config("goodput", Role::Caller);
        config.congestion = congestion;
        config
    };
    let identity = ServerIdentity::generate_dev(&["localhost".into()], SystemTime::now()).unwrap();
    let bare = hub_rt.block_on(async { bare_server(&identity, args.congestion) });
    hub_rt.spawn({
        let bare = bare.clone();
        async move {
            while let Some(incoming) = bare.accept().await {
                tokio::spawn(async move {
                    let connection = incoming.await.unwrap();
                    while let Ok((mut send, mut recv)) = connection.accept_bi().await {
                        let bytes = recv.read_to_end(usize::MAX).await.unwrap();
                        send.write_all(&[bytes.len() as u8]).await.unwrap();
                        send.finish().unwrap();
                    }
                });
            }
        }
    });

    let raw = Bytes::from(photo_bytes(args.photo_bytes, 9));
    let started = Instant::now();
    let photo = fieldlens_media::Photo::new(raw.clone());
    let hashing = started.elapsed();
    // Seconds per round for: hub with memory sink, hub with disk sink, bare quinn.
    let rounds: Vec<[f64; 3]> = load_rt.block_on(async {
        let memory_caller = MediaClient::connect(&client_config(&memory_hub))
            .await
            .unwrap();
        let disk_caller = MediaClient::connect(&client_config(&disk_hub))
            .await
            .unwrap();
        let (_endpoint, bare_connection) =
            bare_client(&bare, identity.sha256(), args.congestion).await;
        let mut rounds = Vec::new();
        // Round 0 warms the connections up and is not counted.
        for round in 0..=args.rounds {
            let started = Instant::now();
            memory_caller
                .upload(&format!("m-{round}"), "", &photo, Attempt::First)
                .await
                .unwrap();
            let memory = started.elapsed().as_secs_f64();
            let started = Instant::now();
            disk_caller
                .upload(&format!("d-{round}"), "", &photo, Attempt::First)
                .await
                .unwrap();
            let on_disk = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let (mut send, mut recv) = bare_connection.open_bi().await.unwrap();
            send.write_all(&raw).await.unwrap();
            send.finish().unwrap();
            recv.read_to_end(16).await.unwrap();
            let plain = started.elapsed().as_secs_f64();
            if round > 0 {
                rounds.push([memory, on_disk, plain]);
            }
        }
        rounds
    });
    let mb = args.photo_bytes as f64 / 1e6;
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let rate = |path: usize| median(rounds.iter().map(|r| mb / r[path]).collect());
    let ratio = |path: usize| median(rounds.iter().map(|r| r[2] / r[path]).collect());
    println!(
        "### Photo upload goodput: {} rounds of {} bytes, medians\n",
        args.rounds, args.photo_bytes
    );
    println!(
        "SHA-256 of one photo: {:.2} ms. The client hashes each photo once, before its first \
         upload (outside the timing, as a capture app does when the photo is taken); the \
         sink hashes while bytes arrive.\n",
        hashing.as_secs_f64() * 1000.0
    );
    println!("| path | MB/s | ratio to bare quinn in the same round |");
    println!("|---|---|---|");
    println!("| bare quinn, one stream | {:.1} | 1.00 |", rate(2));
    println!(
        "| hub endpoint, sink on tmpfs | {:.1} | {:.2} |",
        rate(0),
        ratio(0)
    );
    println!(
        "| hub endpoint, sink on disk (fsync every MiB) | {:.1} | {:.2} |\n",
        rate(1),
        ratio(1)
    );
}

/// Latencies (µs) recorded while `measuring`, and frames counted.
#[derive(Default)]
struct Recorder {
    measuring: AtomicBool,
    latencies: Mutex<Vec<u64>>,
    sent: AtomicU64,
}

impl Recorder {
    fn record(&self, timestamp_us: u64) {
        if self.measuring.load(Ordering::Relaxed) {
            let latency = now_us().saturating_sub(timestamp_us);
            self.latencies.lock().unwrap().push(latency);
        }
    }

    fn sent(&self) {
        if self.measuring.load(Ordering::Relaxed) {
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct Run {
    latencies: Vec<u64>,
    sent: u64,
    cpu_seconds: f64,
}

impl Run {
    fn quantile(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[index] as f64 / 1000.0
    }
}

/// Warms up for two seconds, then measures for `seconds`.
fn measure(load_rt: &Runtime, recorder: &Recorder, stop: &AtomicBool, seconds: u64) -> Run {
    let sleep = |duration: Duration| load_rt.block_on(async { tokio::time::sleep(duration).await });
    sleep(Duration::from_secs(2));
    let cpu_before = thread_cpu_seconds(HUB_THREADS);
    recorder.measuring.store(true, Ordering::Relaxed);
    sleep(Duration::from_secs(seconds));
    recorder.measuring.store(false, Ordering::Relaxed);
    let cpu_seconds = thread_cpu_seconds(HUB_THREADS) - cpu_before;
    stop.store(true, Ordering::Relaxed);
    sleep(Duration::from_millis(500));
    let mut latencies = std::mem::take(&mut *recorder.latencies.lock().unwrap());
    latencies.sort_unstable();
    Run {
        latencies,
        sent: recorder.sent.load(Ordering::Relaxed),
        cpu_seconds,
    }
}

/// Ticks once per frame interval, phase-shifted per session, until `stop`.
struct Pacer {
    ticks: tokio::time::Interval,
    stop: Arc<AtomicBool>,
}

impl Pacer {
    async fn start(session: usize, sessions: usize, fps: u64, stop: Arc<AtomicBool>) -> Pacer {
        let period = Duration::from_micros(1_000_000 / fps);
        tokio::time::sleep(period.mul_f64(session as f64 / sessions as f64)).await;
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        Pacer { ticks, stop }
    }

    async fn next(&mut self) -> bool {
        self.ticks.tick().await;
        !self.stop.load(Ordering::Relaxed)
    }
}

fn relay_through_hub(
    hub_rt: &Runtime,
    load_rt: &Runtime,
    args: &Args,
) -> (Run, fieldlens_media::ServerStats) {
    let congestion = args.congestion;
    let hub = hub_rt.block_on(TestHub::start_in(&std::env::temp_dir(), 1 << 20, |c| {
        c.idle_timeout = Duration::from_secs(60);
        c.congestion = congestion;
    }));
    let recorder = Arc::new(Recorder::default());
    let stop = Arc::new(AtomicBool::new(false));
    let payload = vec![0x5a; args.frame_bytes];
    let (sessions, fps) = (args.sessions, args.fps);
    let client_config = |session: &str, role: Role| {
        let mut config = hub.client_config(session, role);
        config.idle_timeout = Duration::from_secs(60);
        config.congestion = congestion;
        config
    };
    load_rt.block_on(async {
        // Everyone connects first, then the frames start.
        let mut pairs = Vec::new();
        for session in 0..args.sessions {
            let id = format!("relay-{session}");
            let technician = MediaClient::connect(&client_config(&id, Role::Technician))
                .await
                .unwrap();
            let caller = MediaClient::connect(&client_config(&id, Role::Caller))
                .await
                .unwrap();
            pairs.push((technician, caller));
        }
        for (session, (mut technician, caller)) in pairs.into_iter().enumerate() {
            let recorder_rx = recorder.clone();
            tokio::spawn(async move {
                while let Ok(frame) = technician.next_frame().await {
                    recorder_rx.record(frame.header().timestamp_us);
                }
            });
            let (recorder, payload, stop) = (recorder.clone(), payload.clone(), stop.clone());
            tokio::spawn(async move {
                let mut counter = FrameCounter::new();
                let mut pacer = Pacer::start(session, sessions, fps, stop).await;
                for n in 0u64.. {
                    if !pacer.next().await {
                        break;
                    }
                    let header = counter.next(n % fps == 0, now_us());
                    caller.send_frame(header, &payload).unwrap();
                    recorder.sent();
                }
                drop(caller);
            });
        }
    });
    let run = measure(load_rt, &recorder, &stop, args.seconds);
    let stats = hub.server.stats();
    hub_rt.block_on(hub.server.shutdown(Duration::from_secs(1)));
    (run, stats)
}

fn relay_bare(hub_rt: &Runtime, load_rt: &Runtime, args: &Args) -> Run {
    let identity = ServerIdentity::generate_dev(&["localhost".into()], SystemTime::now()).unwrap();
    let server = hub_rt.block_on(async { bare_server(&identity, args.congestion) });
    let recorder = Arc::new(Recorder::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (sessions, fps) = (args.sessions, args.fps);
    hub_rt.spawn({
        let (server, recorder) = (server.clone(), recorder.clone());
        async move {
            while let Some(incoming) = server.accept().await {
                let recorder = recorder.clone();
                tokio::spawn(async move {
                    let connection = incoming.await.unwrap();
                    while let Ok(mut recv) = connection.accept_uni().await {
                        let recorder = recorder.clone();
                        tokio::spawn(async move {
                            if let Ok(bytes) = recv.read_to_end(1 << 24).await {
                                let stamp: [u8; 8] = bytes[..8].try_into().unwrap();
                                recorder.record(u64::from_le_bytes(stamp));
                            }
                        });
                    }
                });
            }
        }
    });
    load_rt.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..args.sessions {
            clients.push(bare_client(&server, identity.sha256(), args.congestion).await);
        }
        for (session, (endpoint, connection)) in clients.into_iter().enumerate() {
            let (recorder, stop) = (recorder.clone(), stop.clone());
            let mut frame = vec![0x5a; args.frame_bytes + 8];
            tokio::spawn(async move {
                let mut pacer = Pacer::start(session, sessions, fps, stop).await;
                while pacer.next().await {
                    frame[..8].copy_from_slice(&now_us().to_le_bytes());
                    let connection = connection.clone();
                    let bytes = Bytes::copy_from_slice(&frame);
                    recorder.sent();
                    tokio::spawn(async move {
                        let mut send = connection.open_uni().await.unwrap();
                        let _ = send.write_chunk(bytes).await;
                        let _ = send.finish();
                    });
                }
                connection.close(0u32.into(), b"done");
                drop(endpoint);
            });
        }
    });
    let run = measure(load_rt, &recorder, &stop, args.seconds);
    server.close(0u32.into(), b"done");
    run
}

fn main() {
    let args = Args::parse();
    let hub_rt = runtime(HUB_THREADS);
    let load_rt = runtime("media-load");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "Machine: {cores} cores; hub and load each on a two-thread runtime in one process; \
         congestion control {:?} everywhere.\n",
        args.congestion
    );

    goodput(&hub_rt, &load_rt, &args);
    if !args.relay {
        return;
    }

    let bare = relay_bare(&hub_rt, &load_rt, &args);
    let (hub, stats) = relay_through_hub(&hub_rt, &load_rt, &args);
    println!(
        "### Relayed video: {} sessions × {} frames/s × {} bytes, {} s measured\n",
        args.sessions, args.fps, args.frame_bytes, args.seconds
    );
    println!(
        "| path | frames sent | received | p50 ms | p99 ms | p99.9 ms | max ms | CPU of receiving side, % of a core per session |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, run) in [
        ("caller → bare quinn receiver (one hop)", &bare),
        ("caller → hub → technician", &hub),
    ] {
        println!(
            "| {name} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.3} |",
            run.sent,
            run.latencies.len(),
            run.quantile(0.5),
            run.quantile(0.99),
            run.quantile(0.999),
            run.quantile(1.0),
            run.cpu_seconds / args.seconds as f64 / args.sessions as f64 * 100.0,
        );
    }
    let dwell = |q: f64| {
        stats
            .relay_dwell
            .quantile(q)
            .map_or("> 20".to_owned(), |d| {
                format!("{:.2}", d.as_secs_f64() * 1000.0)
            })
    };
    println!(
        "\nEnd to end, the hub path minus the one-hop path: p50 {:+.2} ms, p99 {:+.2} ms.",
        hub.quantile(0.5) - bare.quantile(0.5),
        hub.quantile(0.99) - bare.quantile(0.99),
    );
    println!(
        "Inside the hub, frame fully received to handed to the technician's connection \
         ({} frames, 50 µs buckets): p50 ≤ {} ms, p99 ≤ {} ms, p99.9 ≤ {} ms.",
        stats.relay_dwell.count(),
        dwell(0.5),
        dwell(0.99),
        dwell(0.999)
    );
    println!(
        "Hub counters: received {}, dropped late {}, dropped for congestion {}, superseded {}.",
        stats.frames_received,
        stats.frames_dropped_late,
        stats.frames_dropped_congestion,
        stats.frames_superseded
    );
}
