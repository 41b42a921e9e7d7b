//! The link over an impaired network, made in-process: a user-space UDP relay between
//! each client and the hub that delays, drops and reorders datagrams (kernel netem is
//! not available on these machines) and can cut the path entirely.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldlens_media::{Attempt, ClientConfig, FrameCounter, MediaClient, Role, UploadKey};
use fieldlens_proto::v1::media_control::Body;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::support::{TestHub, expect_control, now_us, photo, within};

/// How the relay treats each datagram, in both directions.
#[derive(Clone, Copy)]
struct Impairment {
    /// Added to every datagram's trip.
    one_way_delay: Duration,
    /// Share of datagrams held back by [`Impairment::reorder_delay`], so that later
    /// ones overtake them.
    reorder: f64,
    /// How long a reordered datagram is held back.
    reorder_delay: Duration,
    /// Share of datagrams dropped.
    loss: f64,
}

/// SplitMix64: a seeded, reproducible choice of which datagrams to drop and delay.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Path {
    impairment: Impairment,
    dice: Mutex<Dice>,
    cut: AtomicBool,
}

impl Path {
    /// Sends `datagram` to `to` through `socket` after the impairment's delay, unless it
    /// is lost or the path is cut.
    fn forward(&self, socket: &Arc<UdpSocket>, to: SocketAddr, datagram: Vec<u8>) {
        let (lost, delay) = {
            let mut dice = self.dice.lock().unwrap();
            let lost = dice.unit() < self.impairment.loss;
            let mut delay = self.impairment.one_way_delay;
            if dice.unit() < self.impairment.reorder {
                delay += self.impairment.reorder_delay;
            }
            (lost, delay)
        };
        if lost || self.cut.load(Ordering::Relaxed) {
            return;
        }
        let socket = socket.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = socket.send_to(&datagram, to).await;
        });
    }
}

/// A UDP relay in front of the hub: clients connect to [`ImpairedLink::addr`].
struct ImpairedLink {
    addr: SocketAddr,
    path: Arc<Path>,
    task: JoinHandle<()>,
}

impl ImpairedLink {
    async fn start(server: SocketAddr, impairment: Impairment, seed: u64) -> Self {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = front.local_addr().unwrap();
        let path = Arc::new(Path {
            impairment,
            dice: Mutex::new(Dice(seed)),
            cut: AtomicBool::new(false),
        });
        let relay_path = path.clone();
        let task = tokio::spawn(async move {
            let mut upstreams: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
            let mut buf = vec![0u8; 65_536];
            loop {
                let Ok((len, client)) = front.recv_from(&mut buf).await else {
                    return;
                };
                let upstream = match upstreams.get(&client) {
                    Some(upstream) => upstream.clone(),
                    None => {
                        let upstream = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
                        upstreams.insert(client, upstream.clone());
                        tokio::spawn(relay_back(
                            upstream.clone(),
                            front.clone(),
                            client,
                            relay_path.clone(),
                        ));
                        upstream
                    }
                };
                relay_path.forward(&upstream, server, buf[..len].to_vec());
            }
        });
        ImpairedLink { addr, path, task }
    }

    /// Drops everything from now on, both ways.
    fn cut(&self) {
        self.path.cut.store(true, Ordering::Relaxed);
    }
}

async fn relay_back(
    upstream: Arc<UdpSocket>,
    front: Arc<UdpSocket>,
    client: SocketAddr,
    path: Arc<Path>,
) {
    let mut buf = vec![0u8; 65_536];
    while let Ok(len) = upstream.recv(&mut buf).await {
        path.forward(&front, client, buf[..len].to_vec());
    }
}

impl Drop for ImpairedLink {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

fn through(link: &ImpairedLink, mut config: ClientConfig) -> ClientConfig {
    config.server = link.addr;
    config
}

/// 100 ms round trip, 5% loss each way, 2% of datagrams overtaken.
const LOSSY: Impairment = Impairment {
    one_way_delay: Duration::from_millis(50),
    reorder: 0.02,
    reorder_delay: Duration::from_millis(5),
    loss: 0.05,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_five_percent_loss_and_100_ms_rtt_photos_arrive_intact_and_video_keeps_flowing() {
    let hub = TestHub::start_with(|c| c.idle_timeout = Duration::from_secs(10)).await;
    let caller_link = ImpairedLink::start(hub.server.local_addr(), LOSSY, 1).await;
    let technician_link = ImpairedLink::start(hub.server.local_addr(), LOSSY, 2).await;
    let mut technician = within(MediaClient::connect(&through(
        &technician_link,
        hub.client_config("s-net", Role::Technician),
    )))
    .await
    .unwrap();
    let mut caller = within(MediaClient::connect(&through(
        &caller_link,
        hub.client_config("s-net", Role::Caller),
    )))
    .await
    .unwrap();
    let rtt = caller.rtt();
    assert!(
        rtt >= Duration::from_millis(90),
        "the relay adds its delay: {rtt:?}"
    );

    const FRAMES: u64 = 60;
    let photos: Vec<_> = (0..3).map(|i| photo(300_000 + i * 1000, i as u8)).collect();
    let upload = async {
        let mut receipts = Vec::new();
        for (i, bytes) in photos.iter().enumerate() {
            let receipt = caller
                .upload(&format!("net-{i}"), "front-left", bytes, Attempt::First)
                .await
                .unwrap();
            receipts.push(receipt);
        }
        receipts
    };
    let stream = async {
        let mut counter = FrameCounter::new();
        for i in 0..FRAMES {
            let header = counter.next(i % 15 == 0 || i == FRAMES - 1, now_us());
            caller
                .send_frame(header, &vec![(i % 251) as u8; 8_000])
                .unwrap();
            tokio::time::sleep(Duration::from_millis(66)).await;
        }
    };
    let watch = async {
        let started = Instant::now();
        let mut delays = Vec::new();
        let mut arrivals = Vec::new();
        loop {
            let next = tokio::time::timeout(Duration::from_secs(3), technician.next_frame()).await;
            let Ok(frame) = next else { break };
            let frame = frame.unwrap();
            assert_eq!(frame.payload().len(), 8_000);
            delays.push(now_us().saturating_sub(frame.header().timestamp_us));
            arrivals.push(started.elapsed());
            if frame.header().sequence == FRAMES {
                break;
            }
        }
        (delays, arrivals)
    };
    let (receipts, (), (mut delays, arrivals)) =
        within(async { tokio::join!(upload, stream, watch) }).await;

    for (receipt, bytes) in receipts.iter().zip(&photos) {
        let key = UploadKey {
            session_id: "s-net".into(),
            upload_id: receipt.upload_id.clone(),
        };
        assert_eq!(
            hub.sink.stored(&key),
            bytes.bytes().as_ref(),
            "{} arrived intact",
            receipt.upload_id
        );
    }
    for _ in &photos {
        expect_control(&mut caller, |b| matches!(b, Body::PhotoVerdict(_))).await;
    }

    assert!(
        delays.len() as u64 >= FRAMES * 2 / 3,
        "only {} of {FRAMES} frames arrived",
        delays.len()
    );
    delays.sort_unstable();
    let p90 = Duration::from_micros(delays[delays.len() * 9 / 10]);
    assert!(
        p90 < Duration::from_millis(800),
        "90% of frames within {p90:?}"
    );
    let longest_gap = arrivals.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        longest_gap < Duration::from_millis(1500),
        "video stalled for {longest_gap:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_mid_way_resumes_from_the_last_durable_byte_without_resending() {
    let hub = TestHub::start_with(|c| c.idle_timeout = Duration::from_secs(10)).await;
    let clean = Impairment {
        one_way_delay: Duration::from_millis(5),
        reorder: 0.0,
        reorder_delay: Duration::ZERO,
        loss: 0.0,
    };
    let link = ImpairedLink::start(hub.server.local_addr(), clean, 3).await;
    let mut config = through(&link, hub.client_config("s-cut", Role::Caller));
    config.idle_timeout = Duration::from_millis(800);
    config.keep_alive = Duration::from_millis(200);
    let first = within(MediaClient::connect(&config)).await.unwrap();

    let bytes = photo(3_000_000, 7);
    let key = UploadKey {
        session_id: "s-cut".into(),
        upload_id: "cut-1".into(),
    };
    let upload = first.upload_photo_in_chunks("cut-1", "front", &bytes, Attempt::First, 16 * 1024);
    let cut_when_a_third_is_durable = async {
        while hub.sink.durable(&key) < 1_000_000 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        link.cut();
    };
    let (result, ()) = within(async { tokio::join!(upload, cut_when_a_third_is_durable) }).await;
    assert!(result.is_err(), "the upload cannot finish over a cut path");
    let stored_before = hub.sink.stored(&key).len() as u64;
    assert!(stored_before < 3_000_000, "the cut came before the end");

    // A new connection (as after a network change) picks the upload up.
    let second = within(MediaClient::connect(
        &hub.client_config("s-cut", Role::Caller),
    ))
    .await
    .unwrap();
    let receipt = within(second.upload("cut-1", "front", &bytes, Attempt::Retry))
        .await
        .unwrap();
    assert!(receipt.resumed_from >= 1_000_000, "{receipt:?}");
    assert!(
        receipt.resumed_from >= stored_before,
        "{receipt:?} after {stored_before}"
    );
    assert_eq!(receipt.bytes_sent, 3_000_000 - receipt.resumed_from);
    assert_eq!(hub.sink.stored(&key), bytes.bytes().as_ref());
    assert_eq!(
        hub.sink.appended(&key),
        3_000_000,
        "no stored byte was sent twice"
    );
}
