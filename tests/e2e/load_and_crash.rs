//! 200 callers against 20 technicians through the real binary, with a SIGKILL mid-run:
//! pairings respect skills, language, region and arrival order; nothing acknowledged is lost.

use fieldlens_e2e::{
    ApiKey, TestHub, case_client, dispatch_client, open_request, tech_client, write_config,
};
use fieldlens_proto::v1 as pb;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_stream::StreamExt;

const SKILLS: [&str; 5] = [
    "car_damage",
    "washing_machine",
    "refrigerator",
    "dishwasher",
    "air_conditioner",
];
const REGIONS: [&str; 2] = ["uk-london", "uk-leeds"];
const CASES: usize = 200;
const KILL_AFTER: usize = 110;

/// No widening and no expiry, so eligibility is exactly skill + language + region.
const POLICY: &str = "[routing]\noffer_timeout_ms = 60000\nmax_missed_offers = 100\ntiers = [{ after_wait_ms = 0, match_language = true, match_region = true }]\n";

fn skill_of(category: &str) -> String {
    if category == "car" {
        "car_damage".into()
    } else {
        format!("appliance.{category}")
    }
}

#[derive(Debug, Clone)]
struct Tech {
    key: ApiKey,
    skills: Vec<String>,
    languages: Vec<String>,
    regions: Vec<String>,
    capacity: u32,
}

fn technicians() -> Vec<Tech> {
    (0..20)
        .map(|i| {
            let mut skills = vec![SKILLS[i % 5].to_owned()];
            if i >= 10 {
                skills.push(SKILLS[(i + 2) % 5].to_owned());
            }
            Tech {
                key: ApiKey::new(&format!("tech-{i:02}"), "technician"),
                skills: skills
                    .into_iter()
                    .map(|s| {
                        if s == "car_damage" {
                            s
                        } else {
                            format!("appliance.{s}")
                        }
                    })
                    .collect(),
                languages: if i % 4 == 3 {
                    vec!["zh".into(), "en".into()]
                } else {
                    vec!["en".into()]
                },
                regions: if i % 3 == 0 {
                    REGIONS.iter().map(|r| r.to_string()).collect()
                } else {
                    vec![REGIONS[i % 2].into()]
                },
                capacity: 1 + (i % 2) as u32,
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Caller {
    key: String,
    category: &'static str,
    language: &'static str,
    region: &'static str,
    high: bool,
}

impl Caller {
    fn class(&self) -> (String, &'static str, &'static str, bool) {
        (
            skill_of(self.category),
            self.language,
            self.region,
            self.high,
        )
    }
}

fn eligible(tech: &Tech, skill: &str, language: &str, region: &str) -> bool {
    tech.skills.iter().any(|s| s == skill)
        && tech.languages.iter().any(|l| l == language)
        && tech.regions.iter().any(|r| r == region)
}

fn callers(techs: &[Tech]) -> Vec<Caller> {
    let categories = [
        "car",
        "washing_machine",
        "refrigerator",
        "dishwasher",
        "air_conditioner",
    ];
    let mut out = Vec::new();
    let mut n = 0usize;
    while out.len() < CASES {
        let caller = Caller {
            key: format!("load-{n:05}"),
            category: categories[n % 5],
            language: if n % 7 == 3 { "zh" } else { "en" },
            region: REGIONS[(n / 5) % 2],
            high: n % 10 == 9,
        };
        n += 1;
        let (skill, language, region, _) = caller.class();
        if techs.iter().any(|t| eligible(t, &skill, language, region)) {
            out.push(caller);
        }
    }
    out
}

#[derive(Default)]
struct Ledger {
    /// case id → caller, for acknowledged OpenCase calls.
    opened: BTreeMap<String, Caller>,
    /// (case, tech) pairs whose AcceptOffer was acknowledged.
    accepted: HashSet<(String, String)>,
    /// cases whose EndSession was acknowledged.
    ended: HashSet<String>,
}

type Shared = Arc<Mutex<Ledger>>;

/// A copy of what has been acknowledged so far.
fn acknowledged(ledger: &Shared) -> Ledger {
    let ledger = ledger.lock().unwrap();
    Ledger {
        opened: ledger.opened.clone(),
        accepted: ledger.accepted.clone(),
        ended: ledger.ended.clone(),
    }
}

async fn run_technician(hub_url: String, tech: Tech, ledger: Shared) {
    let channel = match tonic::transport::Channel::from_shared(hub_url)
        .unwrap()
        .connect()
        .await
    {
        Ok(channel) => channel,
        Err(_) => return,
    };
    let mut client = tech_client(&channel, &tech.key.key);
    let Ok(stream) = client.stream_offers(pb::StreamOffersRequest {}).await else {
        return;
    };
    let mut offers = stream.into_inner();
    let presence = client
        .set_presence(pb::SetPresenceRequest {
            display_name: String::new(),
            skills: tech.skills.clone(),
            languages: tech.languages.clone(),
            regions: tech.regions.clone(),
            capacity: tech.capacity,
            available: true,
        })
        .await;
    let Ok(presence) = presence else { return };
    // After a restart, sessions that survived are ours to finish.
    for case_id in presence.into_inner().active_case_ids {
        if client
            .end_session(pb::EndSessionRequest {
                case_id: case_id.clone(),
            })
            .await
            .is_ok()
        {
            ledger.lock().unwrap().ended.insert(case_id);
        }
    }
    while let Some(Ok(offer)) = offers.next().await {
        let mut session = client.clone();
        let ledger = Arc::clone(&ledger);
        let tech_id = tech.key.id.clone();
        tokio::spawn(async move {
            if session
                .accept_offer(pb::AcceptOfferRequest {
                    case_id: offer.case_id.clone(),
                })
                .await
                .is_ok()
            {
                ledger
                    .lock()
                    .unwrap()
                    .accepted
                    .insert((offer.case_id.clone(), tech_id));
                tokio::time::sleep(Duration::from_millis(15)).await;
                if session
                    .end_session(pb::EndSessionRequest {
                        case_id: offer.case_id.clone(),
                    })
                    .await
                    .is_ok()
                {
                    ledger.lock().unwrap().ended.insert(offer.case_id);
                }
            }
        });
    }
}

async fn open_cases(url: &str, callers: &[Caller], ledger: &Shared) {
    use futures::StreamExt as _;
    let Ok(channel) = tonic::transport::Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
    else {
        return;
    };
    let mut pending = futures::stream::iter(callers.iter().cloned().map(|caller| {
        let mut client = case_client(&channel, None);
        let ledger = Arc::clone(ledger);
        async move {
            let mut request = open_request(
                &caller.key,
                caller.category,
                if caller.language == "zh" {
                    "zh-CN"
                } else {
                    "en-GB"
                },
                caller.region,
            );
            if caller.high {
                request.priority = pb::Priority::High as i32;
            }
            if let Ok(reply) = client.open_case(request).await {
                let id = reply.into_inner().case.unwrap().case_id;
                ledger.lock().unwrap().opened.insert(id, caller);
            }
        }
    }))
    .buffer_unordered(8);
    while futures::StreamExt::next(&mut pending).await.is_some() {}
}

fn start_technicians(
    hub: &TestHub,
    techs: &[Tech],
    ledger: &Shared,
) -> Vec<tokio::task::JoinHandle<()>> {
    techs
        .iter()
        .map(|tech| tokio::spawn(run_technician(hub.url(), tech.clone(), Arc::clone(ledger))))
        .collect()
}

type Reader = pb::case_service_client::CaseServiceClient<fieldlens_e2e::Authed>;

async fn all_events(client: &mut Reader, case_id: &str) -> Vec<pb::CaseEvent> {
    client
        .list_case_events(pb::ListCaseEventsRequest {
            case_id: case_id.into(),
            after_seq: 0,
            limit: 0,
        })
        .await
        .unwrap_or_else(|e| panic!("events of acknowledged case {case_id}: {e}"))
        .into_inner()
        .events
}

fn detail(event: &pb::CaseEvent, field: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(&event.detail_json).unwrap();
    match &value[field] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every acknowledged case, pairing and session end is in the store, in an intact chain.
async fn check_nothing_lost(hub: &TestHub, dispatcher: &ApiKey, ledger: &Ledger) {
    let channel = hub.channel().await;
    let client = &mut case_client(&channel, Some(&dispatcher.key));
    for case_id in ledger.opened.keys() {
        let events = all_events(client, case_id).await;
        assert!(events.len() >= 2, "{case_id} lost its events: {events:?}");
        assert_eq!(events[0].kind, "opened");
        assert_eq!(events[0].seq, 1);
        for pair in events.windows(2) {
            assert_eq!(pair[1].seq, pair[0].seq + 1, "{case_id}: gap in the log");
            assert_eq!(pair[1].prev_hash, pair[0].hash, "{case_id}: broken chain");
        }
    }
    for (case_id, tech) in &ledger.accepted {
        let events = all_events(client, case_id).await;
        assert!(
            events
                .iter()
                .any(|e| e.kind == "paired" && detail(e, "technician") == *tech),
            "acknowledged pairing {case_id} with {tech} is missing"
        );
    }
    for case_id in &ledger.ended {
        let events = all_events(client, case_id).await;
        assert!(
            events.iter().any(|e| e.kind == "session_ended"),
            "acknowledged session end of {case_id} is missing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_callers_twenty_technicians_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let techs = technicians();
    let callers = callers(&techs);
    let dispatcher = ApiKey::new("dana", "dispatcher");
    let mut keys: Vec<ApiKey> = techs.iter().map(|t| t.key.clone()).collect();
    keys.push(dispatcher.clone());
    let config = write_config(dir.path(), &keys, POLICY);
    let data = dir.path().join("data");
    let ledger: Shared = Arc::default();

    // First life: open most cases while technicians work, then SIGKILL.
    let mut hub = TestHub::start(&data, Some(&config)).unwrap();
    let workers = start_technicians(&hub, &techs, &ledger);
    let opener = {
        let (url, callers, ledger) = (hub.url(), callers.clone(), Arc::clone(&ledger));
        tokio::spawn(async move { open_cases(&url, &callers, &ledger).await })
    };
    while ledger.lock().unwrap().opened.len() < KILL_AFTER {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    hub.kill();
    opener.abort();
    for worker in workers {
        worker.abort();
    }
    let before_kill = {
        let ledger = ledger.lock().unwrap();
        assert!(
            !ledger.accepted.is_empty(),
            "no pairing happened before the kill"
        );
        (
            ledger.opened.len(),
            ledger.accepted.len(),
            ledger.ended.len(),
        )
    };

    // Second life on the same data directory.
    let hub = TestHub::start(&data, Some(&config)).unwrap();
    check_nothing_lost(&hub, &dispatcher, &acknowledged(&ledger)).await;
    let workers = start_technicians(&hub, &techs, &ledger);
    // Callers whose open was not acknowledged retry with the same idempotency key.
    let retry: Vec<Caller> = {
        let ledger = ledger.lock().unwrap();
        let done: HashSet<&str> = ledger.opened.values().map(|c| c.key.as_str()).collect();
        callers
            .iter()
            .filter(|c| !done.contains(c.key.as_str()))
            .cloned()
            .collect()
    };
    open_cases(&hub.url(), &retry, &ledger).await;

    // Wait until every acknowledged case has been paired and its session ended.
    let channel = hub.channel().await;
    let mut dispatch = dispatch_client(&channel, &dispatcher.key);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let waiting = dispatch
            .get_queue(pb::GetQueueRequest { limit: 1 })
            .await
            .unwrap()
            .into_inner();
        let busy = waiting
            .technicians
            .iter()
            .any(|t| !t.active_case_ids.is_empty());
        if waiting.waiting_total == 0 && !busy {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue did not drain: {} waiting",
            waiting.waiting_total
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for worker in workers {
        worker.abort();
    }

    let ledger = acknowledged(&ledger);
    assert_eq!(
        ledger.opened.len(),
        CASES,
        "every caller ends up with exactly one case"
    );
    check_nothing_lost(&hub, &dispatcher, &ledger).await;

    // Every offer and pairing respects eligibility; within a class and
    // priority, earlier arrivals are offered no later than later ones.
    let by_id: HashMap<&str, &Tech> = techs.iter().map(|t| (t.key.id.as_str(), t)).collect();
    // (skill, language, region, high priority) → (arrival, first offer time) per case.
    type Class<'a> = (String, &'a str, &'a str, bool);
    let mut first_offer: BTreeMap<Class<'_>, Vec<(u64, i64)>> = BTreeMap::new();
    let mut paired = 0;
    let client = &mut case_client(&channel, Some(&dispatcher.key));
    for (case_id, caller) in &ledger.opened {
        let (skill, language, region, high) = caller.class();
        let events = all_events(client, case_id).await;
        let arrival: u64 = detail(
            events.iter().find(|e| e.kind == "queued").unwrap(),
            "arrival",
        )
        .parse()
        .unwrap();
        let mut offered_at = None;
        for event in &events {
            if event.kind == "offered" || event.kind == "paired" {
                let tech = detail(event, "technician");
                assert!(
                    eligible(by_id[tech.as_str()], &skill, language, region),
                    "{case_id} ({skill}, {language}, {region}) {} to ineligible {tech}",
                    event.kind
                );
                if event.kind == "offered" && offered_at.is_none() {
                    offered_at = Some(event.at_unix_ms);
                }
                paired += usize::from(event.kind == "paired");
            }
        }
        let offered_at =
            offered_at.unwrap_or_else(|| panic!("{case_id} was never offered: {events:?}"));
        first_offer
            .entry((skill, language, region, high))
            .or_default()
            .push((arrival, offered_at));
    }
    assert!(
        paired >= ledger.opened.len(),
        "{paired} pairings for {} cases",
        ledger.opened.len()
    );
    for (class, mut offers) in first_offer {
        offers.sort();
        for pair in offers.windows(2) {
            assert!(
                pair[0].1 <= pair[1].1,
                "class {class:?}: arrival {} offered at {} after arrival {} at {}",
                pair[0].0,
                pair[0].1,
                pair[1].0,
                pair[1].1
            );
        }
    }
    eprintln!(
        "before SIGKILL: {} opened, {} accepted, {} ended; total {} cases, {paired} pairings",
        before_kill.0,
        before_kill.1,
        before_kill.2,
        ledger.opened.len()
    );
}
