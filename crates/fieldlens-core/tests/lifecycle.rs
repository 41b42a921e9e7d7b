//! Case lifecycle: legal paths, refused transitions, and the hash-chained log they produce.

use fieldlens_core::case::{Case, CaseKind, CaseStatus, Contact, Product};
use fieldlens_core::event::{Actor, CaseEvent, ChainError, EventRecord, verify_chain};
use fieldlens_core::intake::NewCase;
use fieldlens_core::{CaseId, Priority, SessionId, TechnicianId};
use proptest::prelude::*;

fn new_case() -> NewCase {
    NewCase {
        case_kind: CaseKind::Appliance,
        product: Product {
            category: "washing_machine".into(),
            brand: "Bosch".into(),
            model: "WAN28281GB".into(),
            serial_number: String::new(),
            age_months: 14,
            under_warranty: true,
        },
        locale: "zh-CN".into(),
        region: "uk-london".into(),
        contact: Contact {
            name: "Li Wei".into(),
            phone: "+447700900123".into(),
            email: String::new(),
        },
        idempotency_key: "key-00000001".into(),
        priority: Priority::Normal,
        description: "E18 on the display, water stays in the drum".into(),
    }
}

fn tech(id: &str) -> TechnicianId {
    TechnicianId::new(id)
}

fn opened() -> (Case, Vec<EventRecord>) {
    let (case, first) = new_case().open(CaseId::new("c-1"), 1_000).unwrap();
    (case, vec![first])
}

fn step(case: &mut Case, log: &mut Vec<EventRecord>, event: CaseEvent) -> CaseStatus {
    let record = case.append(event, Actor::System, 2_000).unwrap();
    log.push(record);
    case.status
}

#[test]
fn opening_derives_language_and_skills() {
    let (case, log) = opened();
    assert_eq!(case.status, CaseStatus::Opened);
    assert_eq!(case.language, "zh");
    assert_eq!(case.required_skills, vec!["appliance.washing_machine"]);
    assert_eq!(log[0].seq, 1);
}

#[test]
fn happy_path_through_every_status() {
    let (mut case, mut log) = opened();
    let alice = tech("alice");
    let path = [
        (CaseEvent::Queued { arrival: 7 }, CaseStatus::Queued),
        (
            CaseEvent::Offered {
                technician: alice.clone(),
                expires_at: 3_000,
                tier: 0,
            },
            CaseStatus::Offered,
        ),
        (
            CaseEvent::OfferExpired {
                technician: alice.clone(),
            },
            CaseStatus::Queued,
        ),
        (
            CaseEvent::CallbackRequested {
                phone: "+447700900123".into(),
            },
            CaseStatus::Queued,
        ),
        (
            CaseEvent::Offered {
                technician: alice.clone(),
                expires_at: 9_000,
                tier: 1,
            },
            CaseStatus::Offered,
        ),
        (
            CaseEvent::Paired {
                technician: alice.clone(),
                session: SessionId::new("s-1"),
            },
            CaseStatus::Paired,
        ),
        (
            CaseEvent::CaptureStarted {
                pack: "washing-machine".into(),
                version: "1".into(),
            },
            CaseStatus::Capturing,
        ),
        (
            CaseEvent::PhotoChecked {
                step: "rating_plate".into(),
                sha256: "ab".into(),
                accepted: true,
                reasons: vec![],
                report: serde_json::json!({}),
            },
            CaseStatus::Capturing,
        ),
        (
            CaseEvent::SessionEnded {
                technician: alice.clone(),
                handle_ms: 600_000,
            },
            CaseStatus::Capturing,
        ),
        (
            CaseEvent::Triaged {
                decision: "truck_roll".into(),
                detail: serde_json::json!({}),
            },
            CaseStatus::Triaged,
        ),
        (
            CaseEvent::ReviewClaimed {
                dispatcher: "dana".into(),
            },
            CaseStatus::InReview,
        ),
        (
            CaseEvent::DecisionApproved {
                dispatcher: "dana".into(),
                comment: String::new(),
            },
            CaseStatus::Closed,
        ),
    ];
    for (event, expected) in path {
        assert_eq!(step(&mut case, &mut log, event), expected);
    }
    assert_eq!(case.arrival, 7);
    assert_eq!(
        case.enqueued_at,
        Some(2_000),
        "a missed offer keeps the place"
    );
    assert!(case.callback_phone.is_some());
    assert!(case.session.as_ref().unwrap().ended_at.is_some());
    assert_eq!(case.event_count, log.len() as u64);
    verify_chain(&case.id, &log).unwrap();
}

#[test]
fn illegal_transitions_are_errors_and_change_nothing() {
    let (mut case, _) = opened();
    let before = case.clone();
    let refused = [
        CaseEvent::Paired {
            technician: tech("a"),
            session: SessionId::new("s"),
        },
        CaseEvent::Offered {
            technician: tech("a"),
            expires_at: 1,
            tier: 0,
        },
        CaseEvent::ReviewClaimed {
            dispatcher: "d".into(),
        },
        CaseEvent::Abandoned { waited_ms: 1 },
        CaseEvent::Opened(new_case()),
    ];
    for event in refused {
        let error = case.append(event, Actor::System, 5).unwrap_err();
        assert!(error.to_string().contains("cannot apply"), "{error}");
        assert_eq!(case, before);
    }
}

#[test]
fn only_the_offered_technician_can_accept() {
    let (mut case, _) = opened();
    case.append(CaseEvent::Queued { arrival: 1 }, Actor::System, 1)
        .unwrap();
    case.append(
        CaseEvent::Offered {
            technician: tech("alice"),
            expires_at: 10,
            tier: 0,
        },
        Actor::System,
        2,
    )
    .unwrap();
    let error = case
        .append(
            CaseEvent::Paired {
                technician: tech("bob"),
                session: SessionId::new("s"),
            },
            Actor::System,
            3,
        )
        .unwrap_err();
    assert!(error.to_string().contains("not bob"), "{error}");
    assert_eq!(case.status, CaseStatus::Offered);
}

#[test]
fn capture_events_need_a_started_capture_and_reopen_after_triage() {
    let (mut case, _) = opened();
    let pushed = CaseEvent::StepPushed {
        step: "front".into(),
    };
    assert!(case.append(pushed.clone(), Actor::System, 1).is_err());
    case.append(CaseEvent::Queued { arrival: 1 }, Actor::System, 1)
        .unwrap();
    assert!(
        case.append(pushed.clone(), Actor::System, 2).is_err(),
        "not started yet"
    );
    let start = CaseEvent::CaptureStarted {
        pack: "car-claim".into(),
        version: "1".into(),
    };
    case.append(start.clone(), Actor::System, 2).unwrap();
    assert_eq!(
        case.status,
        CaseStatus::Queued,
        "capture while waiting keeps the place"
    );
    assert!(
        case.append(start, Actor::System, 3).is_err(),
        "started once"
    );
    case.append(pushed.clone(), Actor::System, 3).unwrap();
    let alice = tech("alice");
    case.append(
        CaseEvent::Offered {
            technician: alice.clone(),
            expires_at: 9,
            tier: 0,
        },
        Actor::System,
        4,
    )
    .unwrap();
    case.append(
        CaseEvent::Paired {
            technician: alice,
            session: SessionId::new("s"),
        },
        Actor::System,
        5,
    )
    .unwrap();
    case.append(pushed.clone(), Actor::System, 6).unwrap();
    assert_eq!(case.status, CaseStatus::Capturing);
    case.append(
        CaseEvent::Triaged {
            decision: "more_info_needed".into(),
            detail: serde_json::Value::Null,
        },
        Actor::System,
        7,
    )
    .unwrap();
    case.append(pushed, Actor::System, 8).unwrap();
    assert_eq!(
        case.status,
        CaseStatus::Capturing,
        "more photos after triage reopen capture"
    );
}

#[test]
fn the_case_keeps_the_proposed_and_final_decision_and_its_reviewer() {
    let (mut case, _) = opened();
    let alice = tech("alice");
    for event in [
        CaseEvent::Queued { arrival: 1 },
        CaseEvent::Offered {
            technician: alice.clone(),
            expires_at: 9,
            tier: 0,
        },
        CaseEvent::Paired {
            technician: alice,
            session: SessionId::new("s"),
        },
        CaseEvent::Triaged {
            decision: "truck_roll_with_parts".into(),
            detail: serde_json::json!({ "decision": { "priority": "high" } }),
        },
        CaseEvent::ReviewClaimed {
            dispatcher: "dana".into(),
        },
        CaseEvent::ReviewReassigned {
            from: "dana".into(),
            to: "eve".into(),
            reason: "shift ends".into(),
        },
    ] {
        case.append(event, Actor::System, 10).unwrap();
    }
    let decision = case.decision.clone().unwrap();
    assert_eq!(
        (decision.outcome.as_str(), decision.priority),
        ("truck_roll_with_parts", Priority::High)
    );
    assert_eq!(case.reviewer.as_deref(), Some("eve"));
    assert_eq!(case.final_decision, None);
    case.append(
        CaseEvent::DecisionOverridden {
            dispatcher: "eve".into(),
            from: "truck_roll_with_parts".into(),
            to: "truck_roll".into(),
            reason: "part is in the van".into(),
        },
        Actor::System,
        11,
    )
    .unwrap();
    assert_eq!(case.status, CaseStatus::Closed);
    assert_eq!(case.final_decision.as_deref(), Some("truck_roll"));
}

#[test]
fn final_statuses_accept_nothing() {
    let (mut case, _) = opened();
    case.append(
        CaseEvent::Cancelled {
            reason: "fixed it".into(),
        },
        Actor::System,
        1,
    )
    .unwrap();
    assert!(case.status.is_final());
    assert!(
        case.append(CaseEvent::Queued { arrival: 1 }, Actor::System, 2)
            .is_err()
    );
    assert!(
        case.append(
            CaseEvent::Cancelled {
                reason: String::new()
            },
            Actor::System,
            2
        )
        .is_err()
    );
}

#[test]
fn chain_detects_change_removal_insertion_and_reordering() {
    let (mut case, mut log) = opened();
    step(&mut case, &mut log, CaseEvent::Queued { arrival: 1 });
    step(
        &mut case,
        &mut log,
        CaseEvent::CallbackRequested {
            phone: "+447700900123".into(),
        },
    );
    step(
        &mut case,
        &mut log,
        CaseEvent::Cancelled {
            reason: "no longer needed".into(),
        },
    );
    verify_chain(&case.id, &log).unwrap();

    let mut changed = log.clone();
    changed[2].event = CaseEvent::CallbackRequested {
        phone: "+447700900999".into(),
    };
    assert_eq!(
        verify_chain(&case.id, &changed),
        Err(ChainError::Content { seq: 3 })
    );

    let mut removed = log.clone();
    removed.remove(1);
    assert!(matches!(
        verify_chain(&case.id, &removed),
        Err(ChainError::Sequence { index: 1, .. })
    ));

    let mut reordered = log.clone();
    reordered.swap(1, 2);
    assert!(verify_chain(&case.id, &reordered).is_err());

    let mut relinked = log.clone();
    relinked[1].prev_hash = relinked[2].hash.clone();
    relinked[1].hash = relinked[1].compute_hash();
    assert_eq!(
        verify_chain(&case.id, &relinked),
        Err(ChainError::Link { seq: 2 })
    );

    let json = serde_json::to_string(&log).unwrap();
    let back: Vec<EventRecord> = serde_json::from_str(&json).unwrap();
    verify_chain(&case.id, &back).unwrap();
}

#[test]
fn hash_covers_the_stored_json_without_hash_whatever_its_key_order() {
    use sha2::Digest;
    let (case, mut log) = opened();
    let triaged = EventRecord::chained(
        case.id.clone(),
        2,
        2_000,
        Actor::System,
        CaseEvent::Triaged {
            decision: "truck_roll".into(),
            detail: serde_json::json!({ "z": 1.5, "a": [0.1, { "y": true, "b": null }] }),
        },
        log[0].hash.clone(),
    );
    log.push(triaged);
    for record in &log {
        let stored = serde_json::to_string(record).unwrap();
        let without_hash = stored
            .strip_suffix(&format!(",\"hash\":\"{}\"}}", record.hash))
            .expect("hash is the last field");
        let digest = sha2::Sha256::digest(format!("{without_hash}}}").as_bytes());
        assert_eq!(hex::encode(digest), record.hash);

        // The same record written with its keys in reverse order and spaced out.
        let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
        let respelled = reversed_keys(&value);
        let back: EventRecord = serde_json::from_str(&respelled).unwrap();
        assert_eq!(back.compute_hash(), record.hash);
    }
    verify_chain(&case.id, &log).unwrap();
}

fn reversed_keys(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .rev()
                .map(|(key, value)| format!("{key:?} : {}", reversed_keys(value)))
                .collect();
            format!("{{ {} }}", fields.join(" , "))
        }
        serde_json::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(reversed_keys).collect();
            format!("[ {} ]", items.join(" , "))
        }
        other => other.to_string(),
    }
}

#[test]
fn validation_names_the_field() {
    type Mutation = Box<dyn Fn(&mut NewCase)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (
            Box::new(|c| c.product.category = "toaster".into()),
            "product.category",
        ),
        (Box::new(|c| c.locale = "english".into()), "locale"),
        (Box::new(|c| c.region = "UK London".into()), "region"),
        (
            Box::new(|c| c.contact.phone = "0770".into()),
            "contact.phone",
        ),
        (Box::new(|c| c.contact.name = " ".into()), "contact.name"),
        (
            Box::new(|c| c.idempotency_key = "short".into()),
            "idempotency_key",
        ),
        (
            Box::new(|c| c.description = "x".repeat(2001)),
            "description",
        ),
        (
            Box::new(|c| c.product.age_months = 5000),
            "product.age_months",
        ),
    ];
    for (mutate, field) in cases {
        let mut request = new_case();
        mutate(&mut request);
        assert_eq!(request.validate().unwrap_err().field, field);
    }
}

fn any_event() -> impl Strategy<Value = CaseEvent> {
    let tech = prop_oneof![Just(tech("alice")), Just(tech("bob"))];
    prop_oneof![
        (0u64..5).prop_map(|arrival| CaseEvent::Queued { arrival }),
        tech.clone().prop_map(|technician| CaseEvent::Offered {
            technician,
            expires_at: 9,
            tier: 0
        }),
        tech.clone()
            .prop_map(|technician| CaseEvent::OfferExpired { technician }),
        tech.clone()
            .prop_map(|technician| CaseEvent::OfferDeclined {
                technician,
                reason: String::new()
            }),
        tech.clone().prop_map(|technician| CaseEvent::Paired {
            technician,
            session: SessionId::new("s")
        }),
        tech.clone().prop_map(|technician| CaseEvent::SessionEnded {
            technician,
            handle_ms: 1
        }),
        Just(CaseEvent::CaptureStarted {
            pack: "p".into(),
            version: "1".into()
        }),
        Just(CaseEvent::StepPushed { step: "s".into() }),
        Just(CaseEvent::StepSkipped {
            step: "s".into(),
            reason: "r".into()
        }),
        Just(CaseEvent::Triaged {
            decision: "truck_roll".into(),
            detail: serde_json::Value::Null
        }),
        Just(CaseEvent::ReviewClaimed {
            dispatcher: "d".into()
        }),
        Just(CaseEvent::DecisionApproved {
            dispatcher: "d".into(),
            comment: String::new()
        }),
        Just(CaseEvent::Cancelled {
            reason: String::new()
        }),
        Just(CaseEvent::Abandoned { waited_ms: 1 }),
        Just(CaseEvent::CallbackRequested {
            phone: "+447700900123".into()
        }),
    ]
}

proptest! {
    /// Whatever events arrive, the machine never panics, refused events leave
    /// the case untouched, a final case stays final, and the log stays a valid chain.
    #[test]
    fn random_event_streams_keep_the_machine_consistent(events in prop::collection::vec(any_event(), 0..40)) {
        let (mut case, mut log) = opened();
        for (i, event) in events.into_iter().enumerate() {
            let before = case.clone();
            match case.append(event, Actor::System, 10 + i as i64) {
                Ok(record) => {
                    prop_assert!(!before.status.is_final());
                    log.push(record);
                }
                Err(_) => prop_assert_eq!(&case, &before),
            }
        }
        prop_assert_eq!(case.event_count, log.len() as u64);
        prop_assert!(verify_chain(&case.id, &log).is_ok());
    }
}

#[test]
fn media_participants_joining_and_leaving_are_logged_only_during_a_session() {
    use fieldlens_core::token::Role;
    let joined = || CaseEvent::ParticipantJoined { role: Role::Caller };
    let left = || CaseEvent::ParticipantLeft {
        role: Role::Technician,
        reason: "bye: done".into(),
    };
    let (mut case, mut log) = opened();
    step(&mut case, &mut log, CaseEvent::Queued { arrival: 1 });
    let before = case.clone();
    assert!(case.append(joined(), Actor::System, 1_500).is_err());
    assert_eq!(case, before, "no session while queued");
    step(
        &mut case,
        &mut log,
        CaseEvent::Offered {
            technician: tech("alice"),
            expires_at: 9_000,
            tier: 0,
        },
    );
    step(
        &mut case,
        &mut log,
        CaseEvent::Paired {
            technician: tech("alice"),
            session: SessionId::new("s-1"),
        },
    );
    assert_eq!(step(&mut case, &mut log, joined()), CaseStatus::Paired);
    assert_eq!(step(&mut case, &mut log, left()), CaseStatus::Paired);
    step(
        &mut case,
        &mut log,
        CaseEvent::CaptureStarted {
            pack: "washing-machine".into(),
            version: "1".into(),
        },
    );
    assert_eq!(step(&mut case, &mut log, joined()), CaseStatus::Capturing);
    assert_eq!(log.last().unwrap().event.kind_name(), "participant_joined");
    step(
        &mut case,
        &mut log,
        CaseEvent::Cancelled {
            reason: "done".into(),
        },
    );
    let before = case.clone();
    assert!(case.append(left(), Actor::System, 3_000).is_err());
    assert_eq!(case, before, "a final case takes no participant events");
    verify_chain(&case.id, &log).unwrap();
}

proptest! {
    /// Records carrying floats (quality scores, confidences) read back from their stored JSON
    /// still verify: every float must parse back bit for bit.
    #[test]
    fn stored_records_with_floats_still_verify(scores in prop::collection::vec(any::<f64>().prop_filter("finite", |f| f.is_finite()), 1..40)) {
        let (mut case, mut log) = opened();
        case.append(CaseEvent::Queued { arrival: 1 }, Actor::System, 2).unwrap();
        case.append(CaseEvent::CaptureStarted { pack: "p".into(), version: "1".into() }, Actor::System, 3).unwrap();
        log.clear();
        let record = case
            .append(
                CaseEvent::PhotoChecked {
                    step: "front".into(),
                    sha256: "ab".into(),
                    accepted: false,
                    reasons: vec!["blur".into()],
                    report: serde_json::json!({ "metrics": scores }),
                },
                Actor::System,
                4,
            )
            .unwrap();
        let stored = serde_json::to_string(&record).unwrap();
        let back: EventRecord = serde_json::from_str(&stored).unwrap();
        prop_assert_eq!(back.compute_hash(), record.hash);
    }
}
