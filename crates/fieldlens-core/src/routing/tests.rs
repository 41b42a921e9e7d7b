//! Unit tests of the routing rules, one scenario per rule.

use super::*;
use crate::Priority;

const T0: UnixMs = 1_000_000;

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
        offer_timeout_ms: 5_000,
        max_missed_offers: 2,
        default_handle_time_ms: 60_000,
        handle_time_alpha: 0.5,
    }
}

fn router() -> Router {
    Router::new(policy()).unwrap()
}

fn case(id: &str) -> CaseId {
    CaseId::new(id)
}

fn tid(id: &str) -> TechnicianId {
    TechnicianId::new(id)
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| value.to_string()).collect()
}

/// A normal-priority caller needing `car` in English in region `north`.
fn caller(id: &str, arrival: u64, enqueued_at_ms: UnixMs) -> CallerRequest {
    CallerRequest {
        case_id: case(id),
        priority: Priority::Normal,
        skills: strings(&["car"]),
        language: "en".into(),
        region: "north".into(),
        enqueued_at_ms,
        arrival,
        callback: false,
    }
}

/// A technician with capacity 1 who serves `car` in English in region `north`.
fn tech(id: &str) -> TechnicianProfile {
    TechnicianProfile {
        id: tid(id),
        skills: strings(&["car"]),
        languages: strings(&["en"]),
        regions: strings(&["north"]),
        capacity: 1,
    }
}

/// Test-only adjustments, so each test states only what differs from the defaults above.
impl CallerRequest {
    fn with_priority(self, priority: Priority) -> Self {
        Self { priority, ..self }
    }

    fn with_skills(self, skills: &[&str]) -> Self {
        Self {
            skills: strings(skills),
            ..self
        }
    }
}

impl TechnicianProfile {
    fn with_skills(self, skills: &[&str]) -> Self {
        Self {
            skills: strings(skills),
            ..self
        }
    }

    fn with_languages(self, languages: &[&str]) -> Self {
        Self {
            languages: strings(languages),
            ..self
        }
    }

    fn with_regions(self, regions: &[&str]) -> Self {
        Self {
            regions: strings(regions),
            ..self
        }
    }

    fn with_capacity(self, capacity: u32) -> Self {
        Self { capacity, ..self }
    }
}

fn online(router: &mut Router, profile: TechnicianProfile, now: UnixMs) {
    router.set_presence(profile, true, now).unwrap();
}

fn offered(router: &mut Router, now: UnixMs) -> (String, String) {
    let offer = router.next_offer(now).expect("an offer");
    (
        offer.case_id.as_str().to_owned(),
        offer.technician_id.as_str().to_owned(),
    )
}

fn position(router: &Router, id: &str, now: UnixMs) -> usize {
    router.standing(&case(id), now).unwrap().position
}

#[test]
fn higher_priority_goes_first_then_arrival() {
    let mut r = router();
    r.enqueue(caller("late-normal", 1, T0)).unwrap();
    r.enqueue(caller("urgent", 3, T0).with_priority(Priority::Urgent))
        .unwrap();
    // Arrival decides, not the order of enqueue calls (as after a restart).
    r.enqueue(caller("early-normal", 0, T0)).unwrap();
    let order: Vec<_> = r
        .queue_view(T0, 10)
        .into_iter()
        .map(|entry| (entry.position, entry.request.case_id.as_str().to_owned()))
        .collect();
    assert_eq!(
        order,
        [
            (1, "urgent".to_owned()),
            (2, "early-normal".to_owned()),
            (3, "late-normal".to_owned())
        ]
    );
    for id in ["a", "b", "c"] {
        online(&mut r, tech(id), T0);
    }
    assert_eq!(offered(&mut r, T0).0, "urgent");
    assert_eq!(offered(&mut r, T0).0, "early-normal");
    assert_eq!(offered(&mut r, T0).0, "late-normal");
    assert!(r.next_offer(T0).is_none());
}

#[test]
fn every_required_skill_is_needed() {
    let mut r = router();
    r.enqueue(caller("ev-car", 0, T0).with_skills(&["car", "ev"]))
        .unwrap();
    online(&mut r, tech("car-only"), T0);
    // Skills are never dropped, however long the caller waits.
    assert!(r.next_offer(T0 + 1_000_000).is_none());
    online(
        &mut r,
        tech("ev-expert").with_skills(&["ev", "car", "truck"]),
        T0,
    );
    assert_eq!(offered(&mut r, T0).1, "ev-expert");
}

#[test]
fn tiers_widen_with_waiting_time() {
    let mut r = router();
    r.enqueue(caller("c", 0, T0)).unwrap();
    online(&mut r, tech("south").with_regions(&["south"]), T0);
    online(
        &mut r,
        tech("zh-south")
            .with_languages(&["zh"])
            .with_regions(&["south"]),
        T0,
    );
    assert!(r.next_offer(T0 + 9_999).is_none());
    assert_eq!(r.next_deadline(T0 + 9_999), Some(T0 + 10_000));
    let offer = r.next_offer(T0 + 10_000).unwrap();
    assert_eq!(
        (offer.technician_id.as_str(), offer.tier, offer.waited_ms),
        ("south", 1, 10_000)
    );
}

#[test]
fn last_tier_drops_language_too() {
    let mut r = router();
    r.enqueue(caller("c", 0, T0)).unwrap();
    online(&mut r, tech("zh").with_languages(&["zh"]), T0);
    assert!(r.next_offer(T0 + 29_999).is_none());
    assert_eq!(r.next_deadline(T0 + 29_999), Some(T0 + 30_000));
    assert_eq!(r.next_offer(T0 + 30_000).unwrap().tier, 2);
    assert_eq!(r.next_deadline(T0 + 30_000), Some(T0 + 35_000)); // the offer's expiry
}

#[test]
fn a_caller_nobody_can_serve_does_not_block_later_callers() {
    let mut r = router();
    r.enqueue(
        caller("boat", 0, T0)
            .with_priority(Priority::Urgent)
            .with_skills(&["boat"]),
    )
    .unwrap();
    r.enqueue(caller("car", 1, T0)).unwrap();
    online(&mut r, tech("a"), T0);
    assert_eq!(offered(&mut r, T0).0, "car");
}

#[test]
fn idle_longest_wins_then_id_breaks_ties() {
    let mut r = router();
    online(&mut r, tech("z-old"), T0);
    online(&mut r, tech("b-new"), T0 + 5);
    online(&mut r, tech("a-new"), T0 + 5);
    for (index, id) in ["c1", "c2", "c3"].into_iter().enumerate() {
        r.enqueue(caller(id, index as u64, T0 + 10)).unwrap();
    }
    assert_eq!(offered(&mut r, T0 + 10).1, "z-old");
    assert_eq!(offered(&mut r, T0 + 10).1, "a-new");
    assert_eq!(offered(&mut r, T0 + 10).1, "b-new");
}

#[test]
fn least_loaded_before_idle_longest_and_capacity_counts_offers() {
    let mut r = router();
    online(&mut r, tech("double").with_capacity(2), T0);
    online(&mut r, tech("single"), T0 + 1);
    for (index, id) in ["c1", "c2", "c3", "c4"].into_iter().enumerate() {
        r.enqueue(caller(id, index as u64, T0)).unwrap();
    }
    assert_eq!(offered(&mut r, T0 + 2), ("c1".into(), "double".into()));
    // "double" still has a slot but already holds an offer, so the idle one goes first.
    assert_eq!(offered(&mut r, T0 + 2), ("c2".into(), "single".into()));
    assert_eq!(offered(&mut r, T0 + 2), ("c3".into(), "double".into()));
    // Everyone is full: pending offers count against capacity.
    assert!(r.next_offer(T0 + 2).is_none());
    let view = r.technician_view(&tid("double")).unwrap();
    assert_eq!(view.offered_cases, vec![case("c1"), case("c3")]);
}

#[test]
fn a_missed_offer_returns_the_caller_to_the_same_place() {
    let mut r = router();
    online(&mut r, tech("a"), T0);
    r.enqueue(caller("first", 0, T0)).unwrap();
    r.enqueue(caller("second", 1, T0)).unwrap();
    assert_eq!(offered(&mut r, T0).0, "first");
    assert_eq!(
        position(&r, "first", T0),
        1,
        "an offered caller keeps counting"
    );
    assert!(r.expire_offers(T0 + 4_999).is_empty());
    let expired = r.expire_offers(T0 + 5_000);
    assert_eq!(
        expired,
        vec![ExpiredOffer {
            case_id: case("first"),
            technician_id: tid("a"),
            missed_offers: 1,
            technician_paused: false,
        }]
    );
    assert_eq!(position(&r, "first", T0 + 5_000), 1);
    assert_eq!(position(&r, "second", T0 + 5_000), 2);
    assert_eq!(offered(&mut r, T0 + 5_000).0, "first");
}

#[test]
fn a_miss_sends_the_technician_to_the_back_of_the_idle_line() {
    let mut r = router();
    online(&mut r, tech("slow"), T0);
    online(&mut r, tech("quick"), T0 + 1);
    r.enqueue(caller("c", 0, T0)).unwrap();
    assert_eq!(offered(&mut r, T0 + 2).1, "slow");
    r.expire_offers(T0 + 5_002);
    assert_eq!(offered(&mut r, T0 + 5_002).1, "quick");
    let slow = r.technician_view(&tid("slow")).unwrap();
    assert_eq!((slow.missed_offers, slow.idle_since), (1, Some(T0 + 5_002)));
}

#[test]
fn repeated_misses_pause_until_the_technician_comes_back() {
    let mut r = router();
    online(&mut r, tech("a"), T0);
    r.enqueue(caller("c", 0, T0)).unwrap();
    let mut now = T0;
    assert_eq!(offered(&mut r, now).1, "a");
    now += 5_000;
    assert!(!r.expire_offers(now)[0].technician_paused);
    assert_eq!(offered(&mut r, now).1, "a");
    now += 5_000;
    let expired = r.expire_offers(now);
    assert_eq!(
        (expired[0].missed_offers, expired[0].technician_paused),
        (2, true)
    );
    assert!(r.technician_view(&tid("a")).unwrap().paused);
    assert!(
        r.next_offer(now).is_none(),
        "nothing for a paused technician"
    );
    // A presence refresh while paused and unavailable keeps them out...
    r.set_presence(tech("a"), false, now).unwrap();
    assert!(r.next_offer(now).is_none());
    // ...coming back available lifts the pause and clears the streak.
    online(&mut r, tech("a"), now);
    let view = r.technician_view(&tid("a")).unwrap();
    assert_eq!((view.paused, view.missed_offers), (false, 0));
    assert_eq!(offered(&mut r, now).1, "a");
}

#[test]
fn accepting_needs_the_holder_of_a_live_offer() {
    let mut r = router();
    online(&mut r, tech("a"), T0);
    online(&mut r, tech("b"), T0 + 1);
    r.enqueue(caller("c", 0, T0)).unwrap();
    assert_eq!(offered(&mut r, T0).1, "a");
    assert!(matches!(
        r.accept(&case("c"), &tid("b"), T0),
        Err(RoutingError::NoOffer { .. })
    ));
    assert!(matches!(
        r.accept(&case("c"), &tid("nobody"), T0),
        Err(RoutingError::NoOffer { .. })
    ));
    assert!(matches!(
        r.accept(&case("other"), &tid("a"), T0),
        Err(RoutingError::NoOffer { .. })
    ));
    assert_eq!(
        r.accept(&case("c"), &tid("a"), T0 + 5_000),
        Err(RoutingError::OfferExpired {
            case: case("c"),
            technician: tid("a"),
            expired_at: T0 + 5_000
        })
    );
    r.accept(&case("c"), &tid("a"), T0 + 4_999).unwrap();
    assert_eq!(r.queue_len(), 0);
    assert!(r.standing(&case("c"), T0 + 4_999).is_none());
    let view = r.technician_view(&tid("a")).unwrap();
    assert_eq!(view.active_cases, vec![case("c")]);
    assert!(view.offered_cases.is_empty());
    assert!(r.expire_offers(T0 + 10_000).is_empty());
    // A case in session cannot be queued again until the session ends.
    assert_eq!(
        r.enqueue(caller("c", 9, T0)),
        Err(RoutingError::DuplicateCase(case("c")))
    );
}

#[test]
fn accepting_ends_a_miss_streak() {
    let mut r = router();
    online(&mut r, tech("a"), T0);
    r.enqueue(caller("c", 0, T0)).unwrap();
    offered(&mut r, T0);
    r.expire_offers(T0 + 5_000);
    offered(&mut r, T0 + 5_000);
    r.accept(&case("c"), &tid("a"), T0 + 5_001).unwrap();
    assert_eq!(r.technician_view(&tid("a")).unwrap().missed_offers, 0);
}

#[test]
fn a_decline_keeps_the_place_and_is_not_offered_again() {
    let mut r = router();
    online(&mut r, tech("a"), T0);
    r.enqueue(caller("first", 0, T0)).unwrap();
    r.enqueue(caller("second", 1, T0)).unwrap();
    assert_eq!(offered(&mut r, T0), ("first".into(), "a".into()));
    r.decline(&case("first"), &tid("a"), T0 + 1).unwrap();
    assert_eq!(position(&r, "first", T0 + 1), 1);
    // "a" is skipped for "first" but the lane behind it is still served.
    assert_eq!(offered(&mut r, T0 + 1), ("second".into(), "a".into()));
    r.decline(&case("second"), &tid("a"), T0 + 2).unwrap();
    assert!(r.next_offer(T0 + 2).is_none());
    online(&mut r, tech("b"), T0 + 3);
    assert_eq!(offered(&mut r, T0 + 3), ("first".into(), "b".into()));
    assert_eq!(r.technician_view(&tid("a")).unwrap().missed_offers, 0);
}

#[test]
fn a_callback_request_keeps_the_place() {
    let mut r = router();
    r.enqueue(caller("first", 0, T0)).unwrap();
    r.enqueue(caller("second", 1, T0)).unwrap();
    r.set_callback(&case("first"), true).unwrap();
    assert_eq!(position(&r, "first", T0), 1);
    online(&mut r, tech("a"), T0);
    let offer = r.next_offer(T0).unwrap();
    assert_eq!((offer.case_id.as_str(), offer.callback), ("first", true));
    assert_eq!(
        r.set_callback(&case("nobody"), true),
        Err(RoutingError::NotQueued(case("nobody")))
    );
}

#[test]
fn nothing_goes_to_unavailable_technicians_but_pending_offers_stay() {
    let mut r = router();
    r.set_presence(tech("away"), false, T0).unwrap();
    r.enqueue(caller("c1", 0, T0)).unwrap();
    r.enqueue(caller("c2", 1, T0)).unwrap();
    assert!(r.next_offer(T0).is_none());
    online(&mut r, tech("a").with_capacity(2), T0);
    offered(&mut r, T0);
    r.set_presence(tech("a"), false, T0 + 1).unwrap();
    assert!(r.next_offer(T0 + 1).is_none());
    r.accept(&case("c1"), &tid("a"), T0 + 2).unwrap();
}

#[test]
fn removing_a_caller_withdraws_the_offer_and_frees_the_slot() {
    let mut r = router();
    online(&mut r, tech("a"), T0);
    r.enqueue(caller("c1", 0, T0)).unwrap();
    r.enqueue(caller("c2", 1, T0)).unwrap();
    offered(&mut r, T0);
    let removed = r.remove(&case("c1")).unwrap();
    assert_eq!(removed.withdrawn_offer, Some(tid("a")));
    assert_eq!(removed.request.case_id, case("c1"));
    assert!(r.remove(&case("c1")).is_none());
    assert_eq!(position(&r, "c2", T0), 1);
    assert!(r.expire_offers(T0 + 10_000).is_empty());
    assert_eq!(offered(&mut r, T0 + 10_000).0, "c2");
    let removed = r.remove(&case("c2")).unwrap();
    assert_eq!(removed.withdrawn_offer, Some(tid("a")));
    assert!(
        r.technician_view(&tid("a"))
            .unwrap()
            .offered_cases
            .is_empty()
    );
}

#[test]
fn ending_a_session_frees_the_slot_and_feeds_the_handle_time() {
    let mut r = router();
    online(&mut r, tech("a"), T0);
    r.enqueue(caller("c1", 0, T0)).unwrap();
    r.enqueue(caller("c2", 1, T0)).unwrap();
    offered(&mut r, T0);
    r.accept(&case("c1"), &tid("a"), T0 + 1_000).unwrap();
    assert!(r.next_offer(T0 + 1_000).is_none());
    assert_eq!(r.mean_handle_time_ms(), 60_000);
    r.end_session(&case("c1"), T0 + 21_000).unwrap();
    // alpha 0.5: 60 s and an observed 20 s average to 40 s.
    assert_eq!(r.mean_handle_time_ms(), 40_000);
    assert_eq!(
        r.technician_view(&tid("a")).unwrap().idle_since,
        Some(T0 + 21_000)
    );
    assert_eq!(
        r.end_session(&case("c1"), T0 + 21_000),
        Err(RoutingError::NoSession(case("c1")))
    );
    assert_eq!(offered(&mut r, T0 + 21_000).0, "c2");
}

#[test]
fn restored_sessions_count_against_capacity_and_are_not_sampled() {
    let mut r = router();
    r.restore_session(case("old"), tid("a"), T0 - 50_000)
        .unwrap();
    assert_eq!(
        r.restore_session(case("old"), tid("a"), T0),
        Err(RoutingError::DuplicateCase(case("old")))
    );
    let view = r.technician_view(&tid("a")).unwrap();
    assert_eq!((view.available, view.capacity), (false, 0));
    assert_eq!(view.active_cases, vec![case("old")]);
    r.enqueue(caller("new", 0, T0)).unwrap();
    online(&mut r, tech("a"), T0);
    assert!(
        r.next_offer(T0).is_none(),
        "the restored session fills the slot"
    );
    r.end_session(&case("old"), T0 + 1).unwrap();
    assert_eq!(r.mean_handle_time_ms(), 60_000);
    assert_eq!(offered(&mut r, T0 + 1).0, "new");
}

#[test]
fn profile_updates_change_eligibility() {
    let mut r = router();
    online(&mut r, tech("a"), T0);
    r.enqueue(caller("c", 0, T0).with_skills(&["fridge"]))
        .unwrap();
    assert!(r.next_offer(T0).is_none());
    online(&mut r, tech("a").with_skills(&["fridge"]), T0 + 1);
    assert_eq!(offered(&mut r, T0 + 1).1, "a");
    assert_eq!(
        r.technician_view(&tid("a")).unwrap().skills,
        strings(&["fridge"])
    );
}

#[test]
fn bad_input_is_refused_naming_the_field() {
    let mut r = router();
    let field_of = |result: Result<(), RoutingError>| match result {
        Err(RoutingError::InvalidRequest { field, .. })
        | Err(RoutingError::InvalidProfile { field, .. }) => field,
        other => panic!("expected a field error, got {other:?}"),
    };
    assert_eq!(
        field_of(r.enqueue(CallerRequest {
            language: " ".into(),
            ..caller("c", 0, T0)
        })),
        "language"
    );
    assert_eq!(
        field_of(r.enqueue(caller("c", 0, T0).with_skills(&["car", ""]))),
        "skills[1]"
    );
    assert_eq!(
        field_of(r.enqueue(CallerRequest {
            region: "x".repeat(MAX_NAME_LEN + 1),
            ..caller("c", 0, T0)
        })),
        "region"
    );
    assert_eq!(field_of(r.enqueue(caller("", 0, T0))), "case_id");
    assert_eq!(
        field_of(r.set_presence(tech("a").with_capacity(MAX_CAPACITY + 1), true, T0)),
        "capacity"
    );
    assert_eq!(
        field_of(r.set_presence(
            TechnicianProfile {
                languages: vec!["en".into(); MAX_PROFILE_ENTRIES + 1],
                ..tech("a")
            },
            true,
            T0
        )),
        "languages"
    );
    assert_eq!(r.queue_len(), 0);
    assert!(r.technicians().is_empty());
    r.enqueue(caller("c", 0, T0)).unwrap();
    assert_eq!(
        r.enqueue(caller("c", 1, T0)),
        Err(RoutingError::DuplicateCase(case("c")))
    );
    assert!(matches!(
        Router::new(RoutingPolicy {
            tiers: Vec::new(),
            ..policy()
        }),
        Err(RoutingError::InvalidPolicy { .. })
    ));
}

#[test]
fn next_deadline_tracks_expiries_and_widenings() {
    let mut r = router();
    assert_eq!(r.next_deadline(T0), None);
    r.enqueue(caller("c1", 0, T0)).unwrap();
    r.enqueue(caller("c2", 1, T0 + 4_000)).unwrap();
    assert_eq!(r.next_deadline(T0), Some(T0 + 10_000));
    assert_eq!(r.next_deadline(T0 + 10_000), Some(T0 + 14_000));
    assert_eq!(r.next_deadline(T0 + 14_000), Some(T0 + 30_000));
    assert_eq!(r.next_deadline(T0 + 34_000), None);
    online(&mut r, tech("a"), T0);
    offered(&mut r, T0 + 1_000);
    assert_eq!(r.next_deadline(T0 + 1_000), Some(T0 + 6_000));
}

#[test]
fn estimate_is_zero_at_the_front_with_a_free_technician() {
    let mut r = router();
    online(&mut r, tech("a"), T0);
    r.enqueue(caller("c", 0, T0)).unwrap();
    let standing = r.standing(&case("c"), T0).unwrap();
    assert_eq!(
        (
            standing.position,
            standing.waiting_total,
            standing.estimated_wait_ms
        ),
        (1, 1, Some(0))
    );
    offered(&mut r, T0);
    let standing = r.standing(&case("c"), T0).unwrap();
    assert_eq!(
        (standing.estimated_wait_ms, standing.offered_to),
        (Some(0), Some(tid("a")))
    );
}

/// `count` callers, all needing the same technicians, and two busy technicians.
fn busy_queue(count: u64, staff: usize) -> Router {
    let mut r = router();
    for index in 0..staff {
        online(&mut r, tech(&format!("t{index}")), T0);
        let id = format!("s{index}");
        r.enqueue(caller(&id, index as u64, T0)).unwrap();
        let offer = r.next_offer(T0).unwrap();
        r.accept(&offer.case_id, &offer.technician_id, T0).unwrap();
    }
    for index in 0..count {
        r.enqueue(caller(&format!("c{index}"), 100 + index, T0))
            .unwrap();
    }
    r
}

fn estimate(r: &Router, id: &str) -> i64 {
    r.standing(&case(id), T0)
        .unwrap()
        .estimated_wait_ms
        .unwrap()
}

#[test]
fn estimate_grows_with_position() {
    let r = busy_queue(6, 2);
    let waits: Vec<i64> = (0..6).map(|i| estimate(&r, &format!("c{i}"))).collect();
    // A slot frees every 60 s / 2 technicians.
    assert_eq!(waits, [30_000, 60_000, 90_000, 120_000, 150_000, 180_000]);
}

#[test]
fn estimate_shrinks_with_more_staff() {
    let two = busy_queue(6, 2);
    let four = busy_queue(6, 4);
    for index in 0..6 {
        let id = format!("c{index}");
        assert!(estimate(&four, &id) < estimate(&two, &id), "{id}");
    }
}

#[test]
fn estimate_follows_the_observed_handle_time() {
    let mut r = busy_queue(2, 1);
    // Front of the queue, one busy slot: one mean handle time.
    assert_eq!(estimate(&r, "c0"), 60_000);
    r.end_session(&case("s0"), T0 + 10_000).unwrap();
    let offer = r.next_offer(T0 + 10_000).unwrap();
    r.accept(&offer.case_id, &offer.technician_id, T0 + 10_000)
        .unwrap();
    // Same shape again, but the mean fell from 60 s to 35 s (alpha 0.5, observed 10 s).
    assert_eq!(r.mean_handle_time_ms(), 35_000);
    assert_eq!(estimate(&r, "c1"), 35_000);
}

#[test]
fn estimate_ignores_callers_who_need_other_technicians() {
    let mut r = busy_queue(3, 1);
    r.enqueue(caller("fridge", 1_000, T0).with_skills(&["fridge"]))
        .unwrap();
    online(&mut r, tech("fridge-tech").with_skills(&["fridge"]), T0);
    // Three car callers are ahead in the queue but do not compete for the fridge technician.
    assert_eq!(position(&r, "fridge", T0), 4);
    assert_eq!(estimate(&r, "fridge"), 0);
}

#[test]
fn estimate_waits_for_a_wider_tier_or_is_unknown() {
    let mut r = router();
    r.enqueue(caller("c", 0, T0)).unwrap();
    assert_eq!(r.standing(&case("c"), T0).unwrap().estimated_wait_ms, None);
    online(&mut r, tech("south").with_regions(&["south"]), T0);
    // Free at tier 1, which starts 10 s after enqueue.
    assert_eq!(estimate(&r, "c"), 10_000);
    assert_eq!(
        r.standing(&case("c"), T0 + 4_000)
            .unwrap()
            .estimated_wait_ms,
        Some(6_000)
    );
    r.set_presence(tech("south"), false, T0).unwrap();
    assert_eq!(r.standing(&case("c"), T0).unwrap().estimated_wait_ms, None);
}
