//! Rendering wire types for people (text) and for programs (JSON).

use fieldlens_proto::v1 as pb;
use serde_json::{Value, json};

fn enum_name(name: Option<&str>, prefix: &str) -> String {
    name.map(|n| n.trim_start_matches(prefix).to_ascii_lowercase())
        .unwrap_or_else(|| "unknown".into())
}

/// `queued`, `paired`...
pub fn status_name(value: i32) -> String {
    enum_name(
        pb::CaseStatus::try_from(value)
            .ok()
            .map(|s| s.as_str_name()),
        "CASE_STATUS_",
    )
}

/// `car_damage`, `appliance`.
pub fn kind_name(value: i32) -> String {
    enum_name(
        pb::CaseKind::try_from(value).ok().map(|s| s.as_str_name()),
        "CASE_KIND_",
    )
}

/// `normal`, `high`, `urgent`.
pub fn priority_name(value: i32) -> String {
    enum_name(
        pb::Priority::try_from(value).ok().map(|s| s.as_str_name()),
        "PRIORITY_",
    )
}

/// A duration in words: `45 s`, `3 min`, `1 h 20 min`.
pub fn duration(ms: i64) -> String {
    if ms < 0 {
        return "unknown".into();
    }
    let secs = ms / 1000;
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", (secs + 30) / 60),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

/// JSON for a session.
pub fn session_json(session: &pb::Session) -> Value {
    json!({
        "session_id": session.session_id,
        "case_id": session.case_id,
        "media_endpoint": session.media_endpoint,
        "server_name": session.server_name,
        "certificate_sha256": session.certificate_sha256,
        "alpn": session.alpn,
        "role": enum_name(pb::ParticipantRole::try_from(session.role).ok().map(|r| r.as_str_name()), "PARTICIPANT_ROLE_"),
        "token": session.token,
        "token_expires_at_unix_ms": session.token_expires_at_unix_ms,
        "technician_id": session.technician_id,
    })
}

/// JSON for a case.
pub fn case_json(case: &pb::Case) -> Value {
    let product = case.product.clone().unwrap_or_default();
    json!({
        "case_id": case.case_id,
        "kind": kind_name(case.kind),
        "status": status_name(case.status),
        "priority": priority_name(case.priority),
        "product": {
            "category": product.category, "brand": product.brand, "model": product.model,
            "serial_number": product.serial_number, "age_months": product.age_months,
            "under_warranty": product.under_warranty,
        },
        "locale": case.locale,
        "language": case.language,
        "region": case.region,
        "required_skills": case.required_skills,
        "opened_at_unix_ms": case.opened_at_unix_ms,
        "updated_at_unix_ms": case.updated_at_unix_ms,
        "position": case.standing.as_ref().map(|s| s.position),
        "waiting_total": case.standing.as_ref().map(|s| s.waiting_total),
        "estimated_wait_ms": case.standing.as_ref().map(|s| s.estimated_wait_ms),
        "callback_requested": case.callback_requested,
        "technician_id": case.technician_id,
        "reviewer_id": case.reviewer_id,
        "session": case.session.as_ref().map(session_json),
    })
}

/// One line about a case.
pub fn case_line(case: &pb::Case) -> String {
    let mut line = format!("{}  {}", case.case_id, status_name(case.status));
    if let Some(standing) = &case.standing {
        line.push_str(&format!(
            "  position {}/{}  about {}",
            standing.position,
            standing.waiting_total,
            duration(standing.estimated_wait_ms)
        ));
    }
    if case.callback_requested {
        line.push_str("  callback requested");
    }
    if !case.technician_id.is_empty() {
        line.push_str(&format!("  with {}", case.technician_id));
    }
    line
}

/// JSON for a technician.
pub fn technician_json(t: &pb::Technician) -> Value {
    json!({
        "technician_id": t.technician_id,
        "display_name": t.display_name,
        "skills": t.skills,
        "languages": t.languages,
        "regions": t.regions,
        "capacity": t.capacity,
        "available": t.available,
        "paused": t.paused,
        "online": t.online,
        "missed_offers": t.missed_offers,
        "active_case_ids": t.active_case_ids,
        "idle_since_unix_ms": t.idle_since_unix_ms,
    })
}

/// One line about a technician.
pub fn technician_line(t: &pb::Technician) -> String {
    let state = if t.paused {
        "paused"
    } else if t.available {
        "available"
    } else {
        "away"
    };
    format!(
        "{:<12} {:<9} {}/{} sessions  skills {}  languages {}  regions {}{}",
        t.technician_id,
        state,
        t.active_case_ids.len(),
        t.capacity,
        t.skills.join(","),
        t.languages.join(","),
        t.regions.join(","),
        if t.missed_offers > 0 {
            format!("  missed {}", t.missed_offers)
        } else {
            String::new()
        },
    )
}

/// JSON for an offer.
pub fn offer_json(offer: &pb::Offer) -> Value {
    let product = offer.product.clone().unwrap_or_default();
    json!({
        "case_id": offer.case_id,
        "kind": kind_name(offer.kind),
        "category": product.category,
        "brand": product.brand,
        "model": product.model,
        "locale": offer.locale,
        "region": offer.region,
        "priority": priority_name(offer.priority),
        "waited_ms": offer.waited_ms,
        "expires_at_unix_ms": offer.expires_at_unix_ms,
        "callback_requested": offer.callback_requested,
        "routing_tier": offer.routing_tier,
        "description": offer.description,
    })
}

/// One line about an offer.
pub fn offer_line(offer: &pb::Offer) -> String {
    let product = offer.product.clone().unwrap_or_default();
    format!(
        "{}  {} {} {}  {}  {}  waited {}  tier {}{}",
        offer.case_id,
        product.category,
        product.brand,
        product.model,
        offer.locale,
        priority_name(offer.priority),
        duration(offer.waited_ms),
        offer.routing_tier,
        if offer.callback_requested {
            "  CALLBACK"
        } else {
            ""
        },
    )
}

/// JSON for an event.
pub fn event_json(event: &pb::CaseEvent) -> Value {
    json!({
        "seq": event.seq,
        "at_unix_ms": event.at_unix_ms,
        "kind": event.kind,
        "actor": event.actor,
        "detail": serde_json::from_str::<Value>(&event.detail_json).unwrap_or(Value::Null),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    })
}

/// `remote_resolved`, `truck_roll`...
pub fn outcome_name(value: i32) -> String {
    enum_name(
        pb::Outcome::try_from(value).ok().map(|o| o.as_str_name()),
        "OUTCOME_",
    )
}

/// JSON for a triage result.
pub fn triage_json(result: &pb::TriageResult) -> Value {
    let decision = result.decision.clone().unwrap_or_default();
    let review = result.review.clone().unwrap_or_default();
    json!({
        "case_id": result.case.as_ref().map(|c| c.case_id.clone()),
        "outcome": outcome_name(decision.outcome),
        "priority": priority_name(decision.priority),
        "confidence": decision.confidence,
        "skills": decision.skills,
        "parts": decision.parts,
        "reasons": decision.reasons,
        "missing_steps": decision.missing_steps,
        "fired_rules": decision.fired_rules,
        "trace": decision.trace.iter().map(|r| json!({
            "rule": r.rule, "description": r.description, "outcome": outcome_name(r.outcome), "matched": r.matched,
            "conditions": r.conditions.iter().map(|c| json!({
                "field": c.field, "test": c.test, "actual": serde_json::from_str::<Value>(&c.actual_json).unwrap_or(Value::Null), "passed": c.passed,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "table": decision.table.as_ref().map(|t| json!({"pack_id": t.pack_id, "version": t.version, "sha256": t.sha256, "hit_policy": t.hit_policy})),
        "decided_at_unix_ms": decision.decided_at_unix_ms,
        "review": {
            "reviewer_id": review.reviewer_id, "state": review.state, "final_decision": review.final_decision,
            "overridden_from": review.overridden_from, "comment": review.comment, "decided_at_unix_ms": review.decided_at_unix_ms,
        },
        "inputs": serde_json::from_str::<Value>(&result.inputs_json).unwrap_or(Value::Null),
    })
}

/// Prints a triage result: the decision, why, and the rules that matched.
pub fn print_triage(result: &pb::TriageResult, json: bool) {
    if json {
        println!("{}", triage_json(result));
        return;
    }
    let decision = result.decision.clone().unwrap_or_default();
    println!(
        "decision: {}  priority {}  confidence {:.2}",
        outcome_name(decision.outcome),
        priority_name(decision.priority),
        decision.confidence
    );
    if !decision.reasons.is_empty() {
        println!("reasons:  {}", decision.reasons.join(", "));
    }
    if !decision.parts.is_empty() {
        println!("parts:    {}", decision.parts.join(", "));
    }
    if !decision.skills.is_empty() {
        println!("skills:   {}", decision.skills.join(", "));
    }
    if !decision.missing_steps.is_empty() {
        println!("missing:  {}", decision.missing_steps.join(", "));
    }
    println!("rules that matched:");
    for rule in decision.trace.iter().filter(|r| r.matched) {
        println!(
            "  {} → {}: {}",
            rule.rule,
            outcome_name(rule.outcome),
            rule.description
        );
        for c in &rule.conditions {
            println!("      {} {} (was {})", c.field, c.test, c.actual_json);
        }
    }
    if let Some(review) = &result.review
        && review.state != "pending"
    {
        println!(
            "review:   {} by {} — {}",
            review.state, review.reviewer_id, review.comment
        );
    }
}
