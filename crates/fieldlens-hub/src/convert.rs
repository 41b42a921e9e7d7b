//! Conversions between wire types (prost) and domain types, with field-naming validation of requests.

use crate::app::{CaseSnapshot, OfferNotice, Presence, SessionGrant, TechnicianStatus};
use crate::error::{HubError, invalid};
use fieldlens_core::event::EventRecord;
use fieldlens_core::intake::NewCase;
use fieldlens_core::routing::TechnicianProfile;
use fieldlens_core::token::Role;
use fieldlens_core::{
    Case, CaseId, CaseKind, CaseStatus, Contact, Priority, Product, TechnicianId,
};
use fieldlens_proto::v1 as pb;

/// Longest id accepted in a request.
const MAX_ID_LEN: usize = 64;

/// Checks an id from a request and wraps it.
pub fn case_id(field: &'static str, value: &str) -> Result<CaseId, HubError> {
    if value.is_empty() {
        return Err(invalid(field, "is required"));
    }
    if value.len() > MAX_ID_LEN
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(invalid(field, format!("{value:?} is not a case id")));
    }
    Ok(CaseId::new(value))
}

/// Domain kind from the wire enum.
pub fn case_kind(value: i32) -> Result<CaseKind, HubError> {
    match pb::CaseKind::try_from(value) {
        Ok(pb::CaseKind::CarDamage) => Ok(CaseKind::CarDamage),
        Ok(pb::CaseKind::Appliance) => Ok(CaseKind::Appliance),
        _ => Err(invalid(
            "kind",
            "must be CASE_KIND_CAR_DAMAGE or CASE_KIND_APPLIANCE",
        )),
    }
}

/// Domain priority from the wire enum (unspecified is normal).
pub fn priority(field: &'static str, value: i32) -> Result<Priority, HubError> {
    match pb::Priority::try_from(value) {
        Ok(pb::Priority::Unspecified | pb::Priority::Normal) => Ok(Priority::Normal),
        Ok(pb::Priority::High) => Ok(Priority::High),
        Ok(pb::Priority::Urgent) => Ok(Priority::Urgent),
        Err(_) => Err(invalid(field, format!("{value} is not a priority"))),
    }
}

/// Domain status from the wire enum.
pub fn status(field: &'static str, value: i32) -> Result<CaseStatus, HubError> {
    use pb::CaseStatus as W;
    Ok(match W::try_from(value) {
        Ok(W::Opened) => CaseStatus::Opened,
        Ok(W::Queued) => CaseStatus::Queued,
        Ok(W::Offered) => CaseStatus::Offered,
        Ok(W::Paired) => CaseStatus::Paired,
        Ok(W::Capturing) => CaseStatus::Capturing,
        Ok(W::Triaged) => CaseStatus::Triaged,
        Ok(W::InReview) => CaseStatus::InReview,
        Ok(W::Closed) => CaseStatus::Closed,
        Ok(W::Cancelled) => CaseStatus::Cancelled,
        Ok(W::Abandoned) => CaseStatus::Abandoned,
        _ => return Err(invalid(field, format!("{value} is not a case status"))),
    })
}

fn status_to_wire(status: CaseStatus) -> pb::CaseStatus {
    use pb::CaseStatus as W;
    match status {
        CaseStatus::Opened => W::Opened,
        CaseStatus::Queued => W::Queued,
        CaseStatus::Offered => W::Offered,
        CaseStatus::Paired => W::Paired,
        CaseStatus::Capturing => W::Capturing,
        CaseStatus::Triaged => W::Triaged,
        CaseStatus::InReview => W::InReview,
        CaseStatus::Closed => W::Closed,
        CaseStatus::Cancelled => W::Cancelled,
        CaseStatus::Abandoned => W::Abandoned,
    }
}

/// The wire priority.
pub fn priority_to_wire(priority: Priority) -> pb::Priority {
    match priority {
        Priority::Normal => pb::Priority::Normal,
        Priority::High => pb::Priority::High,
        Priority::Urgent => pb::Priority::Urgent,
    }
}

fn kind_to_wire(kind: CaseKind) -> pb::CaseKind {
    match kind {
        CaseKind::CarDamage => pb::CaseKind::CarDamage,
        CaseKind::Appliance => pb::CaseKind::Appliance,
    }
}

/// The domain request from `OpenCaseRequest` (field checks happen in core).
pub fn new_case(request: pb::OpenCaseRequest) -> Result<NewCase, HubError> {
    let product = request
        .product
        .ok_or_else(|| invalid("product", "is required"))?;
    let contact = request
        .contact
        .ok_or_else(|| invalid("contact", "is required"))?;
    Ok(NewCase {
        case_kind: case_kind(request.kind)?,
        product: Product {
            category: product.category,
            brand: product.brand,
            model: product.model,
            serial_number: product.serial_number,
            age_months: product.age_months,
            under_warranty: product.under_warranty,
        },
        locale: request.locale,
        region: request.region,
        contact: Contact {
            name: contact.name,
            phone: contact.phone,
            email: contact.email,
        },
        idempotency_key: request.idempotency_key,
        priority: priority("priority", request.priority)?,
        description: request.description,
    })
}

fn product_to_wire(product: &Product) -> pb::Product {
    pb::Product {
        category: product.category.clone(),
        brand: product.brand.clone(),
        model: product.model.clone(),
        serial_number: product.serial_number.clone(),
        age_months: product.age_months,
        under_warranty: product.under_warranty,
    }
}

/// The wire session for one participant.
pub fn session_to_wire(grant: &SessionGrant) -> pb::Session {
    let media = grant
        .media
        .clone()
        .unwrap_or_else(|| crate::app::MediaInfo {
            endpoint: String::new(),
            server_name: String::new(),
            certificate_sha256: String::new(),
        });
    pb::Session {
        session_id: grant.session_id.to_string(),
        case_id: grant.case_id.to_string(),
        media_endpoint: media.endpoint,
        server_name: media.server_name,
        certificate_sha256: media.certificate_sha256,
        alpn: "fieldlens/1".to_owned(),
        role: match grant.role {
            Role::Caller => pb::ParticipantRole::Caller,
            Role::Technician => pb::ParticipantRole::Technician,
        } as i32,
        token: grant.token.clone(),
        token_expires_at_unix_ms: grant.expires_at,
        technician_id: grant.technician.to_string(),
        created_at_unix_ms: grant.created_at,
    }
}

/// The wire case from a snapshot.
pub fn case_to_wire(snapshot: &CaseSnapshot) -> pb::Case {
    let case: &Case = &snapshot.case;
    pb::Case {
        case_id: case.id.to_string(),
        kind: kind_to_wire(case.kind) as i32,
        product: Some(product_to_wire(&case.product)),
        locale: case.locale.clone(),
        region: case.region.clone(),
        contact: Some(pb::Contact {
            name: case.contact.name.clone(),
            phone: case.contact.phone.clone(),
            email: case.contact.email.clone(),
        }),
        priority: priority_to_wire(case.priority) as i32,
        status: status_to_wire(case.status) as i32,
        opened_at_unix_ms: case.opened_at,
        updated_at_unix_ms: case.updated_at,
        standing: snapshot
            .standing
            .as_ref()
            .map(|standing| pb::QueueStanding {
                position: standing.position as u32,
                waiting_total: standing.waiting_total as u32,
                estimated_wait_ms: standing.estimated_wait_ms.unwrap_or(-1),
                estimate_method: "ewma-handle-time".to_owned(),
            }),
        callback_requested: case.callback_phone.is_some(),
        technician_id: case
            .session
            .as_ref()
            .map(|s| s.technician.to_string())
            .unwrap_or_default(),
        session: snapshot.session.as_ref().map(session_to_wire),
        description: case.description.clone(),
        required_skills: case.required_skills.clone(),
        language: case.language.clone(),
        reviewer_id: case.reviewer.clone().unwrap_or_default(),
        proposed_decision: case
            .decision
            .as_ref()
            .map(|d| d.outcome.clone())
            .unwrap_or_default(),
        final_decision: case.final_decision.clone().unwrap_or_default(),
        decision_priority: case
            .decision
            .as_ref()
            .map_or(pb::Priority::Unspecified, |d| priority_to_wire(d.priority))
            as i32,
        capture_pack: case.capture_pack.clone().unwrap_or_default(),
    }
}

/// The wire event.
pub fn event_to_wire(record: &EventRecord) -> pb::CaseEvent {
    pb::CaseEvent {
        seq: record.seq,
        at_unix_ms: record.at,
        kind: record.event.kind_name().to_owned(),
        actor: record.actor.to_string(),
        detail_json: record.event.detail().to_string(),
        prev_hash: record.prev_hash.clone(),
        hash: record.hash.clone(),
    }
}

/// Presence from `SetPresenceRequest` (limits checked by routing).
pub fn presence(technician: &TechnicianId, request: pb::SetPresenceRequest) -> Presence {
    Presence {
        display_name: request.display_name,
        profile: TechnicianProfile {
            id: technician.clone(),
            skills: request.skills,
            languages: request.languages,
            regions: request.regions,
            capacity: request.capacity,
        },
        available: request.available,
    }
}

/// The wire technician.
pub fn technician_to_wire(status: &TechnicianStatus) -> pb::Technician {
    let view = &status.view;
    pb::Technician {
        technician_id: view.id.to_string(),
        display_name: status.display_name.clone(),
        skills: view.skills.clone(),
        languages: view.languages.clone(),
        regions: view.regions.clone(),
        capacity: view.capacity,
        available: view.available,
        paused: view.paused,
        missed_offers: view.missed_offers,
        active_case_ids: view.active_cases.iter().map(|c| c.to_string()).collect(),
        idle_since_unix_ms: view.idle_since.unwrap_or(0),
        online: status.online,
    }
}

/// The wire offer.
pub fn offer_to_wire(notice: &OfferNotice) -> pb::Offer {
    let case = &notice.case;
    pb::Offer {
        case_id: case.id.to_string(),
        kind: kind_to_wire(case.kind) as i32,
        product: Some(product_to_wire(&case.product)),
        locale: case.locale.clone(),
        region: case.region.clone(),
        priority: priority_to_wire(case.priority) as i32,
        waited_ms: notice.offer.waited_ms,
        expires_at_unix_ms: notice.offer.expires_at,
        callback_requested: notice.offer.callback,
        routing_tier: notice.offer.tier as u32,
        description: case.description.clone(),
    }
}

/// The wire photo report.
pub fn report_to_wire(report: &fieldlens_quality::PhotoReport) -> pb::PhotoReport {
    pb::PhotoReport {
        verdict: match report.verdict {
            fieldlens_quality::Verdict::Accept => pb::Verdict::Accept,
            fieldlens_quality::Verdict::Retake => pb::Verdict::Retake,
        } as i32,
        issues: report
            .issues
            .iter()
            .map(|issue| pb::QualityIssue {
                reason: issue.reason.as_str().to_owned(),
                subtype: issue.subtype.clone(),
                score: issue.score,
                threshold: issue.threshold,
                message_en: issue.message_en.clone(),
                message_zh: issue.message_zh.clone(),
            })
            .collect(),
        metrics: report
            .metrics
            .iter()
            .map(|(name, value)| pb::QualityMetric {
                name: name.clone(),
                value: *value,
            })
            .collect(),
        subject_box: report.subject_box.map(|b| pb::NormalizedBox {
            x: b.x,
            y: b.y,
            w: b.w,
            h: b.h,
        }),
        width: report.width,
        height: report.height,
        sha256: report.sha256.clone(),
        perceptual_hash: report.perceptual_hash.clone(),
        duplicate_of: report.duplicate_of.clone().unwrap_or_default(),
        check_ms: report.check_ms,
    }
}

/// The wire capture progress.
pub fn progress_to_wire(view: &crate::capture::ProgressView) -> pb::CaptureProgress {
    use fieldlens_guides::StepState;
    let summary = &view.summary;
    pb::CaptureProgress {
        case_id: view.case_id.to_string(),
        pack_id: summary.pack.clone(),
        current_step_id: summary.current_step.clone().unwrap_or_default(),
        steps: summary
            .steps
            .iter()
            .zip(&view.attempts)
            .map(|(step, attempts)| pb::StepProgress {
                step_id: step.step.clone(),
                state: match step.state {
                    StepState::Pending => pb::StepState::Pending,
                    StepState::Retake => pb::StepState::Retake,
                    StepState::Done => pb::StepState::Done,
                    StepState::Skipped => pb::StepState::Skipped,
                } as i32,
                required: step.required,
                accepted: step.accepted,
                max_photos: step.max_photos,
                retakes: step.retakes,
                first_pass: step.first_pass,
                retake_reasons: step
                    .retake_reasons
                    .iter()
                    .map(|r| r.as_str().to_owned())
                    .collect(),
                skip_reason: step.skip_reason.clone().unwrap_or_default(),
                attempts: attempts
                    .iter()
                    .map(|attempt| pb::PhotoAttempt {
                        sha256: attempt.sha256.clone(),
                        accepted: attempt.accepted,
                        reasons: attempt.reasons.clone(),
                        slot: attempt.slot as u32,
                    })
                    .collect(),
            })
            .collect(),
        missing_required: summary.missing_required.clone(),
        complete: summary.complete,
        finished: summary.finished,
    }
}

fn text_to_wire(text: &fieldlens_guides::Text) -> pb::LocalizedText {
    pb::LocalizedText {
        en: text.en.clone(),
        zh: text.zh.clone(),
    }
}

/// The wire guide step.
pub fn step_to_wire(
    pack: &fieldlens_guides::GuidePack,
    step: &fieldlens_guides::GuideStep,
    with_overlay: bool,
) -> pb::GuideStep {
    let target = step.target();
    let overlay = step.overlay();
    pb::GuideStep {
        pack_id: pack.id().to_owned(),
        step_id: step.id().to_owned(),
        title: Some(text_to_wire(step.title())),
        instruction: Some(text_to_wire(step.instruction())),
        target: Some(pb::TargetRegion {
            x: f64::from(target.x),
            y: f64::from(target.y),
            w: f64::from(target.w),
            h: f64::from(target.h),
            min_fill: f64::from(target.min_fill),
            max_fill: f64::from(target.max_fill),
        }),
        presence: if step.is_required() {
            pb::StepPresence::Required
        } else {
            pb::StepPresence::Optional
        } as i32,
        max_photos: step.max_photos(),
        pairs_with: step.pairs_with().unwrap_or_default().to_owned(),
        feeds: step.feeds().to_vec(),
        overlay_sha256: overlay.sha256().to_owned(),
        overlay_width: overlay.width(),
        overlay_height: overlay.height(),
        overlay_png: if with_overlay {
            overlay.bytes().to_vec()
        } else {
            Vec::new()
        },
    }
}

/// The wire guide pack (steps without overlay bytes).
pub fn pack_to_wire(pack: &fieldlens_guides::GuidePack) -> pb::GuidePack {
    let applies = pack.applies_to();
    pb::GuidePack {
        pack_id: pack.id().to_owned(),
        version: pack.version().to_string(),
        title: Some(text_to_wire(pack.title())),
        case_kind: applies.case_kind.clone(),
        category: applies.categories.join(","),
        steps: pack
            .steps()
            .iter()
            .map(|step| step_to_wire(pack, step, false))
            .collect(),
    }
}

/// The wire outcome.
pub fn outcome_to_wire(outcome: fieldlens_core::triage::Outcome) -> pb::Outcome {
    use fieldlens_core::triage::Outcome as O;
    match outcome {
        O::RemoteResolved => pb::Outcome::RemoteResolved,
        O::TruckRoll => pb::Outcome::TruckRoll,
        O::TruckRollWithParts => pb::Outcome::TruckRollWithParts,
        O::TotalLossReview => pb::Outcome::TotalLossReview,
        O::MoreInfoNeeded => pb::Outcome::MoreInfoNeeded,
    }
}

/// Findings from the wire, with enums checked (vocabulary is checked by the table).
pub fn findings(findings: pb::Findings) -> Result<fieldlens_core::triage::Findings, HubError> {
    use fieldlens_core::triage::{Damage, FixOutcome, RemoteFix, Severity};
    let damage = findings
        .damage
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let severity = match pb::Severity::try_from(d.severity) {
                Ok(pb::Severity::Minor) => Severity::Minor,
                Ok(pb::Severity::Moderate) => Severity::Moderate,
                Ok(pb::Severity::Severe) => Severity::Severe,
                _ => {
                    return Err(HubError::InvalidInput {
                        field: format!("findings.damage[{i}].severity"),
                        problem: "must be SEVERITY_MINOR, SEVERITY_MODERATE or SEVERITY_SEVERE"
                            .into(),
                    });
                }
            };
            Ok(Damage {
                area: d.area,
                severity,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let remote_fix = findings
        .remote_fix
        .map(|fix| {
            let outcome = match pb::FixOutcome::try_from(fix.outcome) {
                Ok(pb::FixOutcome::Resolved) => FixOutcome::Resolved,
                Ok(pb::FixOutcome::PartlyResolved) => FixOutcome::PartlyResolved,
                Ok(pb::FixOutcome::NotResolved) => FixOutcome::NotResolved,
                _ => return Err(invalid("findings.remote_fix.outcome", "must be set")),
            };
            Ok(RemoteFix {
                action: fix.action,
                outcome,
            })
        })
        .transpose()?;
    Ok(fieldlens_core::triage::Findings {
        damage,
        error_codes: findings.error_codes,
        symptoms: findings.symptoms,
        remote_fix,
        notes: findings.notes,
    })
}

/// The wire triage result.
pub fn triage_to_wire(view: &crate::triage::TriageView) -> pb::TriageResult {
    let decision = &view.record.decision;
    pb::TriageResult {
        case: Some(case_to_wire(&CaseSnapshot {
            case: view.case.clone(),
            standing: None,
            session: None,
        })),
        decision: Some(pb::Decision {
            outcome: outcome_to_wire(decision.outcome) as i32,
            skills: decision.skills.clone(),
            parts: decision.parts.clone(),
            priority: priority_to_wire(decision.priority) as i32,
            confidence: decision.confidence,
            reasons: decision.reasons.clone(),
            missing_steps: decision.missing_steps.clone(),
            fired_rules: decision.fired.clone(),
            trace: decision
                .trace
                .iter()
                .map(|rule| pb::RuleTrace {
                    rule: rule.rule.clone(),
                    description: rule.description.clone(),
                    outcome: outcome_to_wire(rule.outcome) as i32,
                    matched: rule.matched,
                    conditions: rule
                        .conditions
                        .iter()
                        .map(|c| pb::ConditionTrace {
                            field: c.field.clone(),
                            test: c.test.clone(),
                            actual_json: c.actual.to_string(),
                            passed: c.passed,
                        })
                        .collect(),
                })
                .collect(),
            table: Some(pb::TableRef {
                pack_id: decision.table.pack.clone(),
                version: decision.table.version,
                sha256: decision.table.sha256.clone(),
                hit_policy: decision.table.hit_policy.as_str().to_owned(),
            }),
            decided_at_unix_ms: view.decided_at,
        }),
        inputs_json: serde_json::to_string(&view.record.inputs).unwrap_or_default(),
        review: Some(pb::Review {
            reviewer_id: view.review.reviewer.clone().unwrap_or_default(),
            state: view.review.state.to_owned(),
            final_decision: view.review.final_decision.clone().unwrap_or_default(),
            overridden_from: view.review.overridden_from.clone().unwrap_or_default(),
            comment: view.review.comment.clone(),
            decided_at_unix_ms: view.review.decided_at.unwrap_or(0),
        }),
    }
}
