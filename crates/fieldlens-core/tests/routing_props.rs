//! Property tests of the routing engine: random sequences of operations checked against an
//! independent reference decision computed from the router's public views.

use std::collections::{BTreeMap, BTreeSet};

use fieldlens_core::routing::{
    CallerRequest, QueueEntryView, Router, RoutingError, RoutingPolicy, TechnicianProfile,
    TechnicianView, Tier,
};
use fieldlens_core::{CaseId, Priority, TechnicianId, UnixMs};
use proptest::prelude::*;

const SKILLS: [&str; 3] = ["car", "fridge", "washer"];
const LANGUAGES: [&str; 2] = ["en", "zh"];
const REGIONS: [&str; 2] = ["north", "south"];
const TECHNICIANS: u8 = 5;

fn policy() -> RoutingPolicy {
    RoutingPolicy {
        tiers: vec![
            Tier {
                after_wait_ms: 0,
                match_language: true,
                match_region: true,
            },
            Tier {
                after_wait_ms: 10_000,
                match_language: true,
                match_region: false,
            },
            Tier {
                after_wait_ms: 30_000,
                match_language: false,
                match_region: false,
            },
        ],
        offer_timeout_ms: 15_000,
        max_missed_offers: 2,
        default_handle_time_ms: 60_000,
        handle_time_alpha: 0.3,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Enqueue {
        priority: u8,
        skills: u8,
        language: u8,
        region: u8,
    },
    Presence {
        tech: u8,
        skills: u8,
        languages: u8,
        regions: u8,
        available: bool,
    },
    NextOffer,
    Expire,
    Accept(u8),
    AcceptByOther(u8),
    Decline(u8),
    EndSession(u8),
    Remove(u8),
    Callback(u8, bool),
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3u8, 0..8u8, 0..2u8, 0..2u8).prop_map(|(priority, skills, language, region)| {
            Op::Enqueue { priority, skills, language, region }
        }),
        3 => (0..TECHNICIANS, 0..8u8, 0..4u8, 0..4u8, prop::bool::weighted(0.8)).prop_map(
            |(tech, skills, languages, regions, available)| Op::Presence {
                tech,
                skills,
                languages,
                regions,
                available,
            }
        ),
        5 => Just(Op::NextOffer),
        1 => Just(Op::Expire),
        2 => any::<u8>().prop_map(Op::Accept),
        1 => any::<u8>().prop_map(Op::AcceptByOther),
        1 => any::<u8>().prop_map(Op::Decline),
        1 => any::<u8>().prop_map(Op::EndSession),
        1 => any::<u8>().prop_map(Op::Remove),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(pick, on)| Op::Callback(pick, on)),
        2 => (0..12_000u16).prop_map(Op::Advance),
    ]
}

fn pick<T: Clone>(items: &[T], index: u8) -> Option<T> {
    (!items.is_empty()).then(|| items[index as usize % items.len()].clone())
}

fn names(all: &[&str], mask: u8) -> Vec<String> {
    all.iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, name)| name.to_string())
        .collect()
}

/// The test's own bookkeeping: what the router cannot show (declines) and what it was told.
struct Model {
    router: Router,
    policy: RoutingPolicy,
    now: UnixMs,
    next_arrival: u64,
    next_case: u64,
    queued: BTreeMap<CaseId, CallerRequest>,
    sessions: Vec<CaseId>,
    declined: BTreeMap<CaseId, BTreeSet<TechnicianId>>,
}

fn tier_at(policy: &RoutingPolicy, waited_ms: i64) -> usize {
    policy
        .tiers
        .iter()
        .rposition(|tier| tier.after_wait_ms <= waited_ms.max(0))
        .unwrap_or(0)
}

fn can_take_offer(tech: &TechnicianView) -> bool {
    tech.available
        && !tech.paused
        && tech.active_cases.len() + tech.offered_cases.len() < tech.capacity as usize
}

impl Model {
    fn new() -> Self {
        Self {
            router: Router::new(policy()).unwrap(),
            policy: policy(),
            now: 1_700_000_000_000,
            next_arrival: 0,
            next_case: 0,
            queued: BTreeMap::new(),
            sessions: Vec::new(),
            declined: BTreeMap::new(),
        }
    }

    fn queue(&self) -> Vec<QueueEntryView> {
        self.router.queue_view(self.now, usize::MAX)
    }

    fn offered(&self) -> Vec<QueueEntryView> {
        self.queue()
            .into_iter()
            .filter(|entry| entry.offered_to.is_some())
            .collect()
    }

    /// Whether `tech` may serve `request` under `tier`, judged from the public views.
    fn eligible(&self, tech: &TechnicianView, request: &CallerRequest, tier: usize) -> bool {
        let rule = self.policy.tiers[tier];
        request
            .skills
            .iter()
            .all(|skill| tech.skills.contains(skill))
            && (!rule.match_language || tech.languages.contains(&request.language))
            && (!rule.match_region || tech.regions.contains(&request.region))
            && !self
                .declined
                .get(&request.case_id)
                .is_some_and(|declined| declined.contains(&tech.id))
    }

    /// The reference decision: the first waiting caller in routing order with an eligible free
    /// technician, and the least loaded, longest idle, lowest id such technician.
    fn expected_offer(&self) -> Option<(CaseId, TechnicianId, usize)> {
        let techs = self.router.technicians();
        self.queue()
            .into_iter()
            .filter(|entry| entry.offered_to.is_none())
            .find_map(|entry| {
                let tier = tier_at(&self.policy, self.now - entry.request.enqueued_at_ms);
                techs
                    .iter()
                    .filter(|tech| can_take_offer(tech))
                    .filter(|tech| self.eligible(tech, &entry.request, tier))
                    .min_by_key(|tech| {
                        (
                            tech.active_cases.len() + tech.offered_cases.len(),
                            tech.idle_since.unwrap_or(i64::MAX),
                            tech.id.clone(),
                        )
                    })
                    .map(|tech| (entry.request.case_id.clone(), tech.id.clone(), tier))
            })
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Enqueue {
                priority,
                skills,
                language,
                region,
            } => {
                let request = CallerRequest {
                    case_id: CaseId::new(format!("c{}", self.next_case)),
                    priority: Priority::ALL[priority as usize],
                    skills: names(&SKILLS, skills),
                    language: LANGUAGES[language as usize].into(),
                    region: REGIONS[region as usize].into(),
                    enqueued_at_ms: self.now,
                    arrival: self.next_arrival,
                    callback: false,
                };
                self.next_case += 1;
                self.next_arrival += 1;
                self.router.enqueue(request.clone()).unwrap();
                prop_assert_eq!(
                    self.router.enqueue(request.clone()),
                    Err(RoutingError::DuplicateCase(request.case_id.clone()))
                );
                self.queued.insert(request.case_id.clone(), request);
            }
            Op::Presence {
                tech,
                skills,
                languages,
                regions,
                available,
            } => {
                let profile = TechnicianProfile {
                    id: TechnicianId::new(format!("t{tech}")),
                    skills: names(&SKILLS, skills),
                    languages: names(&LANGUAGES, languages),
                    regions: names(&REGIONS, regions),
                    // Fixed per technician, so capacity can never be exceeded legitimately.
                    capacity: 1 + u32::from(tech % 3),
                };
                let before = self.router.technician_view(&profile.id);
                self.router
                    .set_presence(profile.clone(), available, self.now)
                    .unwrap();
                let after = self.router.technician_view(&profile.id).unwrap();
                if available {
                    prop_assert!(!after.paused, "going available lifts a pause");
                    if before.is_none_or(|b| !b.available || b.paused) {
                        prop_assert_eq!(after.missed_offers, 0);
                    }
                }
            }
            Op::NextOffer => self.next_offer()?,
            Op::Expire => self.expire()?,
            Op::Accept(index) => {
                if let Some(entry) = pick(&self.offered(), index) {
                    let case = entry.request.case_id.clone();
                    let tech = entry.offered_to.clone().unwrap();
                    let result = self.router.accept(&case, &tech, self.now);
                    if self.now < entry.offer_expires_at.unwrap() {
                        prop_assert_eq!(result, Ok(()));
                        self.queued.remove(&case);
                        self.sessions.push(case.clone());
                        let view = self.router.technician_view(&tech).unwrap();
                        prop_assert!(view.active_cases.contains(&case));
                        prop_assert_eq!(view.missed_offers, 0);
                    } else {
                        let is_expired = matches!(result, Err(RoutingError::OfferExpired { .. }));
                        prop_assert!(is_expired);
                    }
                }
            }
            Op::AcceptByOther(index) => {
                if let Some(entry) = pick(&self.offered(), index) {
                    let holder = entry.offered_to.unwrap();
                    let other = TechnicianId::new(format!("{holder}-other"));
                    let result = self.router.accept(&entry.request.case_id, &other, self.now);
                    let is_refused = matches!(result, Err(RoutingError::NoOffer { .. }));
                    prop_assert!(is_refused, "only the holder may accept");
                }
            }
            Op::Decline(index) => {
                if let Some(entry) = pick(&self.offered(), index) {
                    let case = entry.request.case_id.clone();
                    let tech = entry.offered_to.clone().unwrap();
                    let result = self.router.decline(&case, &tech, self.now);
                    if self.now < entry.offer_expires_at.unwrap() {
                        prop_assert_eq!(result, Ok(()));
                        let standing = self.router.standing(&case, self.now).unwrap();
                        prop_assert_eq!(standing.position, entry.position, "same place");
                        prop_assert_eq!(standing.offered_to, None);
                        self.declined.entry(case).or_default().insert(tech);
                    } else {
                        let is_expired = matches!(result, Err(RoutingError::OfferExpired { .. }));
                        prop_assert!(is_expired);
                    }
                }
            }
            Op::EndSession(index) => {
                if let Some(case) = pick(&self.sessions, index) {
                    let tech = self
                        .router
                        .technicians()
                        .into_iter()
                        .find(|tech| tech.active_cases.contains(&case))
                        .unwrap();
                    self.router.end_session(&case, self.now).unwrap();
                    let after = self.router.technician_view(&tech.id).unwrap();
                    prop_assert!(!after.active_cases.contains(&case));
                    if after.active_cases.is_empty() && after.offered_cases.is_empty() {
                        prop_assert_eq!(after.idle_since, Some(self.now), "idle from now");
                    } else {
                        prop_assert_eq!(after.idle_since, tech.idle_since);
                    }
                    self.sessions.retain(|c| c != &case);
                    prop_assert_eq!(
                        self.router.end_session(&case, self.now),
                        Err(RoutingError::NoSession(case))
                    );
                }
            }
            Op::Remove(index) => {
                let queue = self.queue();
                if let Some(entry) = pick(&queue, index) {
                    let case = entry.request.case_id.clone();
                    let removed = self.router.remove(&case).unwrap();
                    prop_assert_eq!(removed.withdrawn_offer, entry.offered_to);
                    prop_assert!(self.router.remove(&case).is_none());
                    self.queued.remove(&case);
                }
            }
            Op::Callback(index, on) => {
                let queue = self.queue();
                if let Some(entry) = pick(&queue, index) {
                    let case = entry.request.case_id.clone();
                    self.router.set_callback(&case, on).unwrap();
                    let standing = self.router.standing(&case, self.now).unwrap();
                    prop_assert_eq!(
                        standing.position,
                        entry.position,
                        "callback keeps the place"
                    );
                    if let Some(request) = self.queued.get_mut(&case) {
                        request.callback = on;
                    }
                }
            }
            Op::Advance(ms) => self.now += i64::from(ms),
        }
        self.check_invariants()
    }

    fn next_offer(&mut self) -> Result<(), TestCaseError> {
        let expected = self.expected_offer();
        let techs_before: BTreeMap<TechnicianId, TechnicianView> = self
            .router
            .technicians()
            .into_iter()
            .map(|tech| (tech.id.clone(), tech))
            .collect();
        let waiting_before: Vec<QueueEntryView> = self
            .queue()
            .into_iter()
            .filter(|entry| entry.offered_to.is_none())
            .collect();
        let offer = self.router.next_offer(self.now);
        let Some(offer) = offer else {
            prop_assert_eq!(expected, None, "a caller had an eligible free technician");
            return Ok(());
        };
        let tech = &techs_before[&offer.technician_id];
        let request = &self.queued[&offer.case_id];
        let tier = tier_at(&self.policy, self.now - request.enqueued_at_ms);
        prop_assert_eq!(offer.tier, tier, "the tier that applies at offer time");
        prop_assert!(
            self.eligible(tech, request, tier),
            "{} offered {} outside its eligibility",
            tech.id,
            request.case_id
        );
        prop_assert!(
            can_take_offer(tech),
            "offered to an unavailable, paused or full technician: {:?}",
            tech
        );
        // No caller ahead in routing order (same or higher priority) was passed over while
        // an eligible technician was free.
        for earlier in waiting_before
            .iter()
            .take_while(|entry| entry.request.case_id != offer.case_id)
        {
            let tier = tier_at(&self.policy, self.now - earlier.request.enqueued_at_ms);
            let passed_over = techs_before
                .values()
                .any(|t| can_take_offer(t) && self.eligible(t, &earlier.request, tier));
            prop_assert!(
                !passed_over,
                "{} was passed over by {}",
                earlier.request.case_id,
                offer.case_id
            );
        }
        prop_assert_eq!(
            Some((
                offer.case_id.clone(),
                offer.technician_id.clone(),
                offer.tier
            )),
            expected,
            "least loaded, longest idle technician"
        );
        prop_assert_eq!(offer.expires_at, self.now + self.policy.offer_timeout_ms);
        prop_assert_eq!(offer.callback, request.callback);
        Ok(())
    }

    fn expire(&mut self) -> Result<(), TestCaseError> {
        let due: BTreeMap<CaseId, (TechnicianId, usize)> = self
            .offered()
            .into_iter()
            .filter(|entry| entry.offer_expires_at.unwrap() <= self.now)
            .map(|entry| {
                (
                    entry.request.case_id,
                    (entry.offered_to.unwrap(), entry.position),
                )
            })
            .collect();
        let missed_before: BTreeMap<TechnicianId, (u32, bool)> = self
            .router
            .technicians()
            .into_iter()
            .map(|tech| (tech.id, (tech.missed_offers, tech.paused)))
            .collect();
        let expired = self.router.expire_offers(self.now);
        prop_assert_eq!(expired.len(), due.len());
        // Replays each technician's streak: every miss counts, reaching the limit pauses once.
        let mut streaks = missed_before;
        for miss in &expired {
            let (holder, position) = &due[&miss.case_id];
            prop_assert_eq!(&miss.technician_id, holder);
            let (missed, paused) = streaks.get_mut(holder).unwrap();
            *missed += 1;
            let pauses_now = !*paused && *missed >= self.policy.max_missed_offers;
            *paused |= pauses_now;
            prop_assert_eq!(miss.missed_offers, *missed);
            prop_assert_eq!(miss.technician_paused, pauses_now);
            let standing = self.router.standing(&miss.case_id, self.now).unwrap();
            prop_assert_eq!(standing.position, *position, "back at the same place");
            prop_assert_eq!(standing.offered_to, None);
        }
        let missed_by: BTreeSet<&TechnicianId> = expired.iter().map(|m| &m.technician_id).collect();
        for (tech, (missed, paused)) in streaks {
            if !missed_by.contains(&tech) {
                continue;
            }
            let view = self.router.technician_view(&tech).unwrap();
            prop_assert_eq!((view.missed_offers, view.paused), (missed, paused));
            prop_assert_eq!(
                view.idle_since,
                Some(self.now),
                "a miss goes to the back of the line"
            );
        }
        Ok(())
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        let queue = self.queue();
        prop_assert_eq!(queue.len(), self.router.queue_len());
        let cases: Vec<CaseId> = queue.iter().map(|e| e.request.case_id.clone()).collect();
        let unique: BTreeSet<CaseId> = cases.iter().cloned().collect();
        prop_assert_eq!(unique.len(), cases.len(), "every caller appears once");
        let queued: BTreeSet<CaseId> = self.queued.keys().cloned().collect();
        prop_assert_eq!(
            &unique,
            &queued,
            "the queue holds exactly the waiting callers"
        );
        for (index, entry) in queue.iter().enumerate() {
            prop_assert_eq!(entry.position, index + 1);
            prop_assert_eq!(&entry.request, &self.queued[&entry.request.case_id]);
            let standing = self
                .router
                .standing(&entry.request.case_id, self.now)
                .unwrap();
            prop_assert_eq!(standing.position, entry.position);
            prop_assert_eq!(standing.waiting_total, queue.len());
            prop_assert_eq!(&standing.offered_to, &entry.offered_to);
            if entry.offered_to.is_some() {
                prop_assert_eq!(standing.estimated_wait_ms, Some(0));
            }
            prop_assert!(standing.estimated_wait_ms.is_none_or(|wait| wait >= 0));
        }
        for pair in queue.windows(2) {
            let key = |entry: &QueueEntryView| {
                (
                    std::cmp::Reverse(entry.request.priority),
                    entry.request.arrival,
                )
            };
            prop_assert!(key(&pair[0]) < key(&pair[1]), "routing order");
        }
        let mut offered_total = 0;
        for tech in self.router.technicians() {
            prop_assert!(
                tech.active_cases.len() + tech.offered_cases.len() <= tech.capacity as usize,
                "capacity exceeded: {:?}",
                tech
            );
            for case in &tech.offered_cases {
                let entry = queue.iter().find(|e| &e.request.case_id == case);
                prop_assert_eq!(
                    entry.and_then(|e| e.offered_to.clone()),
                    Some(tech.id.clone())
                );
            }
            offered_total += tech.offered_cases.len();
        }
        prop_assert_eq!(
            offered_total,
            queue.iter().filter(|e| e.offered_to.is_some()).count()
        );
        let in_session: usize = self
            .router
            .technicians()
            .iter()
            .map(|tech| tech.active_cases.len())
            .sum();
        prop_assert_eq!(in_session, self.sessions.len());
        Ok(())
    }
}

proptest! {
    // Failures print their minimal input; nothing is written next to the sources.
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn routing_follows_the_rules(ops in prop::collection::vec(op(), 1..150)) {
        let mut model = Model::new();
        for op in ops {
            model.apply(op)?;
        }
    }
}
