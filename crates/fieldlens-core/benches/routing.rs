//! Routing benchmark: one decision with 10,000 waiting callers and 1,000 technicians (goal:
//! p99 under 1 ms), against a naive full scan over the same state as the baseline.
//!
//! Prints per-decision percentiles measured with `Instant` first (criterion reports means and
//! medians only), then runs the criterion benchmarks.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use fieldlens_core::routing::{
    CallerRequest, QueueEntryView, Router, RoutingPolicy, TechnicianProfile, TechnicianView,
};
use fieldlens_core::{CaseId, Priority, TechnicianId, UnixMs};

const CALLERS: usize = 10_000;
const TECHNICIANS: usize = 1_000;
const SKILLS: [&str; 8] = [
    "car_damage",
    "ev",
    "truck",
    "washer",
    "dryer",
    "fridge",
    "dishwasher",
    "oven",
];
const LANGUAGES: [&str; 4] = ["en", "de", "zh", "es"];
const REGIONS: usize = 10;
const START: UnixMs = 1_700_000_000_000;

/// A small deterministic generator, so every run measures the same state.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % bound as u64) as usize
    }

    fn distinct(&mut self, all: &[&str], count: usize) -> Vec<String> {
        let mut picked: Vec<String> = Vec::new();
        while picked.len() < count {
            let name = all[self.below(all.len())].to_owned();
            if !picked.contains(&name) {
                picked.push(name);
            }
        }
        picked
    }
}

fn region_names() -> Vec<String> {
    (0..REGIONS).map(|r| format!("region-{r}")).collect()
}

fn technician(rng: &mut Lcg, index: usize) -> TechnicianProfile {
    let regions = region_names();
    let region_refs: Vec<&str> = regions.iter().map(String::as_str).collect();
    let skill_count = 2 + rng.below(2);
    let language_count = 1 + rng.below(2);
    let region_count = 2 + rng.below(3);
    TechnicianProfile {
        id: TechnicianId::new(format!("tech-{index:04}")),
        skills: rng.distinct(&SKILLS, skill_count),
        languages: rng.distinct(&LANGUAGES, language_count),
        regions: rng.distinct(&region_refs, region_count),
        capacity: if rng.below(10) < 7 { 1 } else { 2 },
    }
}

fn caller(rng: &mut Lcg, arrival: u64, enqueued_at_ms: UnixMs) -> CallerRequest {
    let priority = match rng.below(100) {
        0..5 => Priority::Urgent,
        5..20 => Priority::High,
        _ => Priority::Normal,
    };
    let language = match rng.below(100) {
        0..50 => "en",
        50..70 => "de",
        70..85 => "zh",
        _ => "es",
    };
    let skill_count = if rng.below(10) < 8 { 1 } else { 2 };
    CallerRequest {
        case_id: CaseId::new(format!("case-{arrival:07}")),
        priority,
        skills: rng.distinct(&SKILLS, skill_count),
        language: language.to_owned(),
        region: format!("region-{}", rng.below(REGIONS)),
        enqueued_at_ms,
        arrival,
        callback: false,
    }
}

/// A busy hub: every technician's slots are in session and 10,000 callers wait, enqueued over
/// the last ten minutes. Each step frees one random slot, then decides.
struct BusyHub {
    router: Router,
    rng: Lcg,
    now: UnixMs,
    next_arrival: u64,
    sessions: Vec<CaseId>,
}

impl BusyHub {
    fn new() -> Self {
        let mut rng = Lcg(42);
        let mut router = Router::new(RoutingPolicy::default()).expect("default policy is valid");
        for index in 0..TECHNICIANS {
            router
                .set_presence(technician(&mut rng, index), true, START)
                .expect("valid profile");
        }
        let mut hub = Self {
            router,
            rng,
            now: START + 600_000,
            next_arrival: 0,
            sessions: Vec::new(),
        };
        hub.top_up(START);
        // Fill every slot that anyone can fill.
        while let Some(offer) = hub.router.next_offer(hub.now) {
            hub.accept(&offer.case_id, &offer.technician_id);
        }
        hub.top_up(hub.now);
        hub
    }

    /// Enqueues callers until 10,000 wait, spread evenly from `since` to now.
    fn top_up(&mut self, since: UnixMs) {
        let missing = CALLERS.saturating_sub(self.router.queue_len());
        for index in 0..missing {
            let at = since + (self.now - since) * index as i64 / missing.max(1) as i64;
            let request = caller(&mut self.rng, self.next_arrival, at);
            self.next_arrival += 1;
            self.router.enqueue(request).expect("valid request");
        }
    }

    fn accept(&mut self, case: &CaseId, tech: &TechnicianId) {
        self.router
            .accept(case, tech, self.now)
            .expect("live offer");
        self.sessions.push(case.clone());
    }

    /// Untimed: a random session ends and time moves on by 50 ms.
    fn free_a_slot(&mut self) {
        self.now += 50;
        if !self.sessions.is_empty() {
            let index = self.rng.below(self.sessions.len());
            let case = self.sessions.swap_remove(index);
            self.router
                .end_session(&case, self.now)
                .expect("session exists");
        }
    }

    /// Untimed: the offer is accepted and a new caller takes the freed place in the queue.
    fn settle(&mut self, decision: Option<(CaseId, TechnicianId)>) {
        if let Some((case, tech)) = decision {
            self.accept(&case, &tech);
        }
        self.top_up(self.now);
    }

    fn step_timed(&mut self) -> Duration {
        self.free_a_slot();
        let started = Instant::now();
        let offer = black_box(self.router.next_offer(self.now));
        let elapsed = started.elapsed();
        self.settle(offer.map(|offer| (offer.case_id, offer.technician_id)));
        elapsed
    }
}

/// How the "nobody eligible" worst cases keep every caller from every free technician.
#[derive(Clone, Copy)]
enum Mismatch {
    /// Each caller is in a lane of their own: a region nobody serves.
    OwnLanes,
    /// Every skill, language and region a caller asks for is served by some free technician,
    /// but never all of them by the same one, so each lane head needs the full bitset test.
    SeparateAttributes,
}

/// The worst case for a decision: 1,000 free technicians, 10,000 waiting callers, none of
/// whom any free technician may serve, so every lane head is tested and there is no offer.
fn nobody_eligible(mismatch: Mismatch) -> Router {
    let mut rng = Lcg(7);
    let mut router = Router::new(RoutingPolicy::default()).expect("default policy is valid");
    let (appliance, vehicle) = SKILLS.split_at(4);
    for index in 0..TECHNICIANS {
        let mut profile = technician(&mut rng, index);
        if let Mismatch::SeparateAttributes = mismatch {
            // Half fix appliances in en/de and regions 0-4, half vehicles in zh/es, 5-9.
            let appliances = index % 2 == 0;
            let (skills, languages, first_region) = if appliances {
                (appliance, &LANGUAGES[..2], 0)
            } else {
                (vehicle, &LANGUAGES[2..], 5)
            };
            profile.skills = rng.distinct(skills, 2);
            profile.languages = languages.iter().map(|l| l.to_string()).collect();
            profile.regions = (first_region..first_region + 5)
                .map(|r| format!("region-{r}"))
                .collect();
        }
        router
            .set_presence(profile, true, START)
            .expect("valid profile");
    }
    for arrival in 0..CALLERS as u64 {
        let mut request = caller(&mut rng, arrival, START + arrival as i64);
        match mismatch {
            Mismatch::OwnLanes => request.region = format!("nowhere-{arrival}"),
            Mismatch::SeparateAttributes => {
                // Appliance callers speak a vehicle language or live in a vehicle region,
                // and the other way round.
                let appliances = rng.below(2) == 0;
                let (skills, own, other) = if appliances {
                    (appliance, 0, 5)
                } else {
                    (vehicle, 5, 0)
                };
                let skill_count = 1 + rng.below(2);
                request.skills = rng.distinct(skills, skill_count);
                let (languages, first_region) = if rng.below(2) == 0 {
                    (
                        if appliances {
                            &LANGUAGES[2..]
                        } else {
                            &LANGUAGES[..2]
                        },
                        own,
                    )
                } else {
                    (
                        if appliances {
                            &LANGUAGES[..2]
                        } else {
                            &LANGUAGES[2..]
                        },
                        other,
                    )
                };
                request.language = languages[rng.below(2)].to_owned();
                request.region = format!("region-{}", first_region + rng.below(5));
            }
        }
        router.enqueue(request).expect("valid request");
    }
    router
}

/// The baseline: the obvious implementation, scanning callers in routing order and, for each,
/// every technician, on plain snapshots of the same state.
struct Snapshot {
    policy: RoutingPolicy,
    waiting: Vec<QueueEntryView>,
    techs: Vec<TechnicianView>,
}

impl Snapshot {
    fn of(router: &Router, now: UnixMs) -> Self {
        Self {
            policy: router.policy().clone(),
            waiting: router
                .queue_view(now, usize::MAX)
                .into_iter()
                .filter(|entry| entry.offered_to.is_none())
                .collect(),
            techs: router.technicians(),
        }
    }

    fn decide(&self, now: UnixMs) -> Option<(&CaseId, &TechnicianId)> {
        for entry in &self.waiting {
            let request = &entry.request;
            let tier = self.policy.tiers[self.policy.tier_index(now - request.enqueued_at_ms)];
            let best = self
                .techs
                .iter()
                .filter(|t| {
                    t.available
                        && !t.paused
                        && t.active_cases.len() + t.offered_cases.len() < t.capacity as usize
                        && request.skills.iter().all(|s| t.skills.contains(s))
                        && (!tier.match_language || t.languages.contains(&request.language))
                        && (!tier.match_region || t.regions.contains(&request.region))
                })
                .min_by_key(|t| {
                    (
                        t.active_cases.len() + t.offered_cases.len(),
                        t.idle_since.unwrap_or(i64::MAX),
                        &t.id,
                    )
                });
            if let Some(tech) = best {
                return Some((&request.case_id, &tech.id));
            }
        }
        None
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    println!(
        "{name:<42} n={:<6} p50={:>9.1?} p99={:>9.1?} max={:>9.1?}",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples[samples.len() - 1],
    );
}

/// Times individual decisions with `Instant`, for p50 and p99.
fn print_percentiles(decisions: usize) {
    println!("routing decision latency, {CALLERS} callers waiting, {TECHNICIANS} technicians");
    let mut hub = BusyHub::new();
    let busy: Vec<Duration> = (0..decisions).map(|_| hub.step_timed()).collect();
    report("busy hub: next_offer", busy);

    let mut baseline = Vec::new();
    for _ in 0..decisions / 20 {
        hub.free_a_slot();
        let snapshot = Snapshot::of(&hub.router, hub.now);
        let started = Instant::now();
        let naive = black_box(snapshot.decide(hub.now)).map(|(c, t)| (c.clone(), t.clone()));
        baseline.push(started.elapsed());
        let offer = hub.router.next_offer(hub.now);
        let ours = offer.map(|offer| (offer.case_id, offer.technician_id));
        assert_eq!(ours, naive, "the baseline decides the same");
        hub.settle(ours);
    }
    report("busy hub: naive", baseline);

    for (name, mismatch) in [
        ("nobody eligible, own lanes", Mismatch::OwnLanes),
        (
            "nobody eligible, separate attrs",
            Mismatch::SeparateAttributes,
        ),
    ] {
        let mut router = nobody_eligible(mismatch);
        let now = START + CALLERS as i64;
        let ours: Vec<Duration> = (0..decisions)
            .map(|_| {
                let started = Instant::now();
                assert!(black_box(router.next_offer(now)).is_none());
                started.elapsed()
            })
            .collect();
        report(&format!("{name}: next_offer"), ours);
        let snapshot = Snapshot::of(&router, now);
        let naive: Vec<Duration> = (0..(decisions / 200).max(1))
            .map(|_| {
                let started = Instant::now();
                assert!(black_box(snapshot.decide(now)).is_none());
                started.elapsed()
            })
            .collect();
        report(&format!("{name}: naive"), naive);
    }

    let queued: Vec<CaseId> = hub
        .router
        .queue_view(hub.now, CALLERS)
        .into_iter()
        .map(|entry| entry.request.case_id)
        .collect();
    let standings: Vec<Duration> = (0..decisions)
        .map(|index| {
            let case = &queued[index * 7919 % queued.len()];
            let started = Instant::now();
            black_box(hub.router.standing(case, hub.now));
            started.elapsed()
        })
        .collect();
    report("busy hub: standing (estimate)", standings);
}

fn criterion_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("routing");
    let mut hub = BusyHub::new();
    group.bench_function("busy_hub_next_offer", |b| {
        b.iter_custom(|iterations| (0..iterations).map(|_| hub.step_timed()).sum())
    });
    let now = START + CALLERS as i64;
    let mut router = nobody_eligible(Mismatch::SeparateAttributes);
    group.bench_function("nobody_eligible_next_offer", |b| {
        b.iter(|| black_box(router.next_offer(now)))
    });
    let snapshot = Snapshot::of(&router, now);
    group.sample_size(10);
    group.bench_function("nobody_eligible_naive_baseline", |b| {
        b.iter(|| black_box(snapshot.decide(now)).is_none())
    });
    group.finish();
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--test");
    print_percentiles(if quick { 100 } else { 10_000 });
    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion);
    criterion.final_summary();
}
