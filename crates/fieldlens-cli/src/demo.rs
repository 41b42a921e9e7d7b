//! `fieldlens demo`: starts a real hub on the embedded store and narrates callers and technicians going through queue and pairing, then one case to its verified evidence.
//!
//! Everything is real: the hub is this binary's `serve` in a child process on
//! free ports, and every caller and technician is a gRPC client. Technicians
//! behave like people do — some accept quickly, one declines, one misses
//! offers until routing pauses them — so the narration shows the routing rules.
//! The second act (`demo_case`) follows one washing-machine case through guided
//! photos, triage, review and export.

use crate::client::{self, status_error};
use crate::keys_cmd;
use crate::output;
use anyhow::Context;
use clap::Args;
use fieldlens_proto::v1 as pb;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;

/// Demo options.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo hub's data and config (wiped at start).
    #[arg(long, default_value = ".fieldlens-demo")]
    dir: PathBuf,
}

/// Prints what happens, with the time since the demo started and who did it.
pub struct Narrator(Instant);

impl Narrator {
    /// One line of narration.
    pub fn say(&self, who: &str, what: impl AsRef<str>) {
        println!(
            "[{:>5.1}s] {:<9} {}",
            self.0.elapsed().as_secs_f64(),
            who,
            what.as_ref()
        );
    }
}

/// How a demo technician answers offers.
#[derive(Clone, Copy, PartialEq)]
enum Manner {
    /// Accepts after a short pause.
    Prompt,
    /// Declines the first offer, then accepts.
    DeclinesFirst,
    /// Never answers: offers lapse and routing pauses them.
    Absent,
}

struct DemoTech {
    id: &'static str,
    name: &'static str,
    skills: &'static [&'static str],
    languages: &'static [&'static str],
    regions: &'static [&'static str],
    capacity: u32,
    manner: Manner,
}

const TECHS: [DemoTech; 4] = [
    DemoTech {
        id: "alice",
        name: "Alice (auto adjuster)",
        skills: &["car_damage"],
        languages: &["en"],
        regions: &["uk-london"],
        capacity: 2,
        manner: Manner::Prompt,
    },
    DemoTech {
        id: "bao",
        name: "Bao (appliances)",
        skills: &["appliance.washing_machine", "appliance.refrigerator"],
        languages: &["zh", "en"],
        regions: &["uk-london"],
        capacity: 1,
        manner: Manner::DeclinesFirst,
    },
    DemoTech {
        id: "carla",
        name: "Carla (appliances)",
        skills: &[
            "appliance.washing_machine",
            "appliance.dishwasher",
            "appliance.refrigerator",
        ],
        languages: &["en"],
        regions: &["uk-manchester"],
        capacity: 1,
        manner: Manner::Prompt,
    },
    DemoTech {
        id: "dev",
        name: "Dev (auto, on a break)",
        skills: &["car_damage"],
        languages: &["en"],
        regions: &["uk-manchester"],
        capacity: 1,
        manner: Manner::Absent,
    },
];

struct DemoCaller {
    name: &'static str,
    kind: pb::CaseKind,
    category: &'static str,
    brand: &'static str,
    model: &'static str,
    locale: &'static str,
    region: &'static str,
    priority: pb::Priority,
    callback: bool,
    description: &'static str,
}

const CALLERS: [DemoCaller; 6] = [
    DemoCaller {
        name: "Sam",
        kind: pb::CaseKind::CarDamage,
        category: "car",
        brand: "Toyota",
        model: "Corolla",
        locale: "en-GB",
        region: "uk-london",
        priority: pb::Priority::Normal,
        callback: false,
        description: "rear-ended at a junction, bumper and tail light",
    },
    DemoCaller {
        name: "Li Wei",
        kind: pb::CaseKind::Appliance,
        category: "washing_machine",
        brand: "Bosch",
        model: "WAN28281GB",
        locale: "zh-CN",
        region: "uk-london",
        priority: pb::Priority::Normal,
        callback: false,
        description: "E18 on the display, water stays in the drum",
    },
    DemoCaller {
        name: "Priya",
        kind: pb::CaseKind::CarDamage,
        category: "car",
        brand: "Ford",
        model: "Focus",
        locale: "en-GB",
        region: "uk-manchester",
        priority: pb::Priority::Normal,
        callback: true,
        description: "hail dents on the bonnet and roof",
    },
    DemoCaller {
        name: "Tom",
        kind: pb::CaseKind::Appliance,
        category: "refrigerator",
        brand: "Samsung",
        model: "RB34",
        locale: "en-GB",
        region: "uk-manchester",
        priority: pb::Priority::High,
        callback: false,
        description: "not cooling, food at risk",
    },
    DemoCaller {
        name: "Mia",
        kind: pb::CaseKind::CarDamage,
        category: "car",
        brand: "VW",
        model: "Golf",
        locale: "en-GB",
        region: "uk-london",
        priority: pb::Priority::Normal,
        callback: false,
        description: "scraped the left doors in a car park",
    },
    DemoCaller {
        name: "Chen",
        kind: pb::CaseKind::Appliance,
        category: "dishwasher",
        brand: "Miele",
        model: "G7100",
        locale: "en-GB",
        region: "uk-manchester",
        priority: pb::Priority::Normal,
        callback: false,
        description: "F11 error, does not drain",
    },
];

/// Demo routing: short timers so the rules show within a minute.
const DEMO_ROUTING: &str = r#"
[routing]
offer_timeout_ms = 3000
max_missed_offers = 2
default_handle_time_ms = 4000
handle_time_alpha = 0.3
tiers = [
  { after_wait_ms = 0, match_language = true, match_region = true },
  { after_wait_ms = 6000, match_language = true, match_region = false },
  { after_wait_ms = 12000, match_language = false, match_region = false },
]
"#;

struct Hub {
    child: Child,
    server: String,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_hub(dir: &std::path::Path, config: &std::path::Path) -> anyhow::Result<Hub> {
    let exe = std::env::current_exe().context("locating the fieldlens binary")?;
    let mut child = Command::new(exe)
        .args(["serve", "--listen", "127.0.0.1:0", "--log", "warn"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting `fieldlens serve`")?;
    let stdout = child.stdout.take().context("no stdout from the hub")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut grpc = None;
    for line in lines.by_ref() {
        let line = line?;
        println!("hub says: {line}");
        if let Some(addr) = line.strip_prefix("listening grpc=") {
            grpc = Some(addr.to_owned());
        }
        if line.starts_with("listening metrics=") {
            break;
        }
    }
    let grpc = grpc.context("the hub exited before listening (see its error above)")?;
    // Keep draining stdout so the hub never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Hub {
        child,
        server: format!("http://{grpc}"),
    })
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)
            .with_context(|| format!("clearing {}", args.dir.display()))?;
    }
    std::fs::create_dir_all(&args.dir)?;
    let mut config = String::from(DEMO_ROUTING);
    let mut keys = Vec::new();
    for tech in &TECHS {
        let key = keys_cmd::generate();
        config.push_str(&format!(
            "\n[[auth.api_keys]]\nid = \"{}\"\nrole = \"technician\"\ndisplay_name = \"{}\"\nsha256 = \"{}\"\n",
            tech.id,
            tech.name,
            keys_cmd::hash(&key)
        ));
        keys.push(key);
    }
    let dispatcher_key = keys_cmd::generate();
    config.push_str(&format!(
        "\n[[auth.api_keys]]\nid = \"dana\"\nrole = \"dispatcher\"\nsha256 = \"{}\"\n",
        keys_cmd::hash(&dispatcher_key)
    ));
    let config_path = args.dir.join("hub.toml");
    std::fs::write(&config_path, config)?;

    let mut hub = start_hub(&args.dir, &config_path)?;
    let server = hub.server.clone();
    let narrator = Arc::new(Narrator(Instant::now()));
    narrator.say(
        "demo",
        format!(
            "hub up at {server}; data in {}",
            args.dir.join("data").display()
        ),
    );

    let mut tasks = Vec::new();
    for (tech, key) in TECHS.iter().zip(&keys) {
        tasks.push(tokio::spawn(technician(
            tech,
            key.clone(),
            server.clone(),
            Arc::clone(&narrator),
        )));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut callers = Vec::new();
    for caller in &CALLERS {
        callers.push(tokio::spawn(run_caller(
            caller,
            server.clone(),
            Arc::clone(&narrator),
        )));
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let mut served = 0;
    for caller in callers {
        if caller.await?? {
            served += 1;
        }
    }
    for task in &tasks {
        task.abort();
    }

    let mut dispatch = client::dispatch(&server, &dispatcher_key).await?;
    let queue = dispatch
        .get_queue(pb::GetQueueRequest { limit: 10 })
        .await
        .map_err(status_error)?
        .into_inner();
    narrator.say(
        "dispatch",
        format!(
            "{} still waiting; mean handle time {}",
            queue.waiting_total,
            output::duration(queue.mean_handle_time_ms)
        ),
    );
    for t in &queue.technicians {
        narrator.say("dispatch", output::technician_line(t));
    }
    narrator.say(
        "demo",
        format!("{served} of {} callers were served", CALLERS.len()),
    );

    narrator.say(
        "demo",
        "act two: one case from the first photo to verified evidence",
    );
    let bao = &TECHS[1];
    crate::demo_case::run(
        crate::demo_case::Cast {
            server: &server,
            technician_id: bao.id,
            technician_key: &keys[1],
            technician: pb::SetPresenceRequest {
                display_name: bao.name.into(),
                skills: bao.skills.iter().map(|s| s.to_string()).collect(),
                languages: bao.languages.iter().map(|s| s.to_string()).collect(),
                regions: bao.regions.iter().map(|s| s.to_string()).collect(),
                capacity: bao.capacity,
                available: true,
            },
            dispatcher_key: &dispatcher_key,
        },
        &narrator,
        &args.dir,
    )
    .await?;
    narrator.say("demo", "stopping the hub with SIGTERM");
    let status = Command::new("kill")
        .args(["-TERM", &hub.child.id().to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "could not signal the hub");
    let exit = hub.child.wait()?;
    narrator.say("demo", format!("hub exited cleanly: {exit}"));
    println!(
        "\nThe cases and their hash-chained event logs are in {}. Start the hub again on it with:\n  fieldlens serve --data-dir {} --config {}",
        args.dir.join("data").display(),
        args.dir.join("data").display(),
        config_path.display()
    );
    Ok(())
}

async fn technician(
    tech: &'static DemoTech,
    key: String,
    server: String,
    narrator: Arc<Narrator>,
) -> anyhow::Result<()> {
    let mut client = client::technicians(&server, &key).await?;
    client
        .set_presence(pb::SetPresenceRequest {
            display_name: String::new(),
            skills: tech.skills.iter().map(|s| s.to_string()).collect(),
            languages: tech.languages.iter().map(|s| s.to_string()).collect(),
            regions: tech.regions.iter().map(|s| s.to_string()).collect(),
            capacity: tech.capacity,
            available: true,
        })
        .await
        .map_err(status_error)?;
    narrator.say(
        tech.id,
        format!(
            "online: {} — {} / {} / capacity {}",
            tech.skills.join(","),
            tech.languages.join(","),
            tech.regions.join(","),
            tech.capacity
        ),
    );
    let mut offers = client
        .stream_offers(pb::StreamOffersRequest {})
        .await
        .map_err(status_error)?
        .into_inner();
    let mut declined_once = false;
    while let Some(offer) = offers.next().await {
        let offer = offer.map_err(status_error)?;
        narrator.say(
            tech.id,
            format!(
                "offer: {} (tier {}, waited {})",
                offer.case_id,
                offer.routing_tier,
                output::duration(offer.waited_ms)
            ),
        );
        match tech.manner {
            Manner::Absent => continue,
            Manner::DeclinesFirst if !declined_once => {
                declined_once = true;
                tokio::time::sleep(Duration::from_millis(700)).await;
                client
                    .decline_offer(pb::DeclineOfferRequest {
                        case_id: offer.case_id.clone(),
                        reason: "finishing notes".into(),
                    })
                    .await
                    .map_err(status_error)?;
                narrator.say(
                    tech.id,
                    format!("declines {} — it goes back to its place", offer.case_id),
                );
                continue;
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
        let mut session_client = client.clone();
        let narrator = Arc::clone(&narrator);
        tokio::spawn(async move {
            match session_client
                .accept_offer(pb::AcceptOfferRequest {
                    case_id: offer.case_id.clone(),
                })
                .await
            {
                Ok(reply) => {
                    let session = reply.into_inner().session.unwrap_or_default();
                    narrator.say(
                        tech.id,
                        format!("accepts {} → session {}", offer.case_id, session.session_id),
                    );
                    tokio::time::sleep(Duration::from_millis(3_500)).await;
                    if session_client
                        .end_session(pb::EndSessionRequest {
                            case_id: offer.case_id.clone(),
                        })
                        .await
                        .is_ok()
                    {
                        narrator.say(tech.id, format!("ends the session on {}", offer.case_id));
                    }
                }
                Err(status) => narrator.say(
                    tech.id,
                    format!("could not accept {}: {}", offer.case_id, status.message()),
                ),
            }
        });
    }
    Ok(())
}

/// Opens a case and follows it; true once a technician joined.
async fn run_caller(
    caller: &'static DemoCaller,
    server: String,
    narrator: Arc<Narrator>,
) -> anyhow::Result<bool> {
    let mut client = client::cases(&server, None).await?;
    let opened = client
        .open_case(pb::OpenCaseRequest {
            kind: caller.kind as i32,
            product: Some(pb::Product {
                category: caller.category.into(),
                brand: caller.brand.into(),
                model: caller.model.into(),
                ..Default::default()
            }),
            locale: caller.locale.into(),
            region: caller.region.into(),
            contact: Some(pb::Contact {
                name: caller.name.into(),
                phone: "+447700900123".into(),
                email: String::new(),
            }),
            idempotency_key: format!("demo-{}", uuid::Uuid::new_v4().simple()),
            priority: caller.priority as i32,
            description: caller.description.into(),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    let case = opened.case.unwrap_or_default();
    let who = caller.name;
    narrator.say(
        who,
        format!(
            "opens {} ({} {} {}, {}, {}, {}): {}",
            case.case_id,
            caller.brand,
            caller.model,
            caller.category,
            caller.locale,
            caller.region,
            output::priority_name(case.priority),
            caller.description
        ),
    );
    let mut client = client::cases(&server, Some(&opened.caller_token)).await?;
    if caller.callback {
        client
            .request_callback(pb::RequestCallbackRequest {
                case_id: case.case_id.clone(),
                phone: String::new(),
            })
            .await
            .map_err(status_error)?;
        narrator.say(
            who,
            "asks to be called back instead of holding; keeps the place",
        );
    }
    let mut updates = client
        .watch_case(pb::WatchCaseRequest {
            case_id: case.case_id.clone(),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    let deadline = tokio::time::sleep(Duration::from_secs(40));
    tokio::pin!(deadline);
    let mut last_line = String::new();
    loop {
        tokio::select! {
            update = updates.next() => {
                let Some(update) = update else { return Ok(false) };
                let snapshot = update.map_err(status_error)?.case.unwrap_or_default();
                let status = output::status_name(snapshot.status);
                let line = match (&snapshot.standing, status.as_str()) {
                    (Some(s), "queued" | "offered") => format!("{status}: position {}/{}, about {}", s.position, s.waiting_total, output::duration(s.estimated_wait_ms)),
                    (_, "paired") => format!("paired with {} — media at {}", snapshot.technician_id, snapshot.session.as_ref().map(|s| s.media_endpoint.as_str()).unwrap_or("?")),
                    _ => status.clone(),
                };
                if line != last_line {
                    narrator.say(who, &line);
                    last_line = line;
                }
                if status == "paired" {
                    return Ok(true);
                }
            }
            _ = &mut deadline => {
                narrator.say(who, "gives up waiting and cancels");
                client.cancel_case(pb::CancelCaseRequest { case_id: case.case_id.clone(), reason: "waited too long".into() }).await.map_err(status_error)?;
                return Ok(false);
            }
        }
    }
}
