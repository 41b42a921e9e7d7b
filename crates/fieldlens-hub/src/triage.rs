//! Triage and review on the hub: decision tables beside the guide packs, findings in,
//! explained decisions out; dispatcher reassignment, KPIs and the evidence export.

use crate::app::{Hub, now_ms, scan_opened_since};
use crate::auth::Principal;
use crate::capture::ProgressView;
use crate::error::{HubError, invalid};
use fieldlens_core::event::{CaseEvent, EventRecord};
use fieldlens_core::intake::{check_text, limits};
use fieldlens_core::triage::{
    DecisionTable, Findings, Outcome, PhotoStatus, ProductFacts, StepInfo, StepResult,
    TableContext, TriageInputs, TriageRecord,
};
use fieldlens_core::{Case, CaseId, CaseKind, TechnicianId, UnixMs};
use fieldlens_guides::{GuideLibrary, StepState};
use std::collections::{BTreeMap, HashMap};

/// Largest decision table file read.
const MAX_TABLE_BYTES: u64 = 256 * 1024;

/// The decision table of every guide pack.
#[derive(Debug, Default)]
pub struct TriageTables {
    tables: HashMap<String, DecisionTable>,
}

impl TriageTables {
    /// Reads and validates `<pack dir>/triage.toml` for every pack; every problem is listed.
    pub fn load(library: &GuideLibrary) -> Result<TriageTables, String> {
        let mut tables = HashMap::new();
        let mut problems = Vec::new();
        for pack in library.packs() {
            let path = pack.dir().join("triage.toml");
            let file = format!("{}/triage.toml", pack.id());
            let text = match std::fs::metadata(&path) {
                Ok(meta) if meta.len() > MAX_TABLE_BYTES => {
                    problems.push(format!(
                        "{file}: {} bytes; the limit is {MAX_TABLE_BYTES}",
                        meta.len()
                    ));
                    continue;
                }
                Ok(_) => match std::fs::read_to_string(&path) {
                    Ok(text) => text,
                    Err(error) => {
                        problems.push(format!("{file}: {error}"));
                        continue;
                    }
                },
                Err(error) => {
                    problems.push(format!(
                        "{file}: every guide pack needs a decision table ({error})"
                    ));
                    continue;
                }
            };
            let Some(case_kind) = CaseKind::from_name(&pack.applies_to().case_kind) else {
                problems.push(format!(
                    "{file}: pack {} applies to unknown case kind {:?}",
                    pack.id(),
                    pack.applies_to().case_kind
                ));
                continue;
            };
            let context = TableContext {
                pack: pack.id().to_owned(),
                case_kind,
                steps: pack
                    .steps()
                    .iter()
                    .map(|step| StepInfo {
                        id: step.id().to_owned(),
                        required: step.is_required(),
                        feeds: step.feeds().to_vec(),
                    })
                    .collect(),
            };
            match DecisionTable::parse(&file, &text, &context) {
                Ok(table) => {
                    tables.insert(pack.id().to_owned(), table);
                }
                Err(errors) => problems.push(errors.to_string()),
            }
        }
        if problems.is_empty() {
            Ok(TriageTables { tables })
        } else {
            Err(problems.join("\n"))
        }
    }

    /// The table of a pack.
    pub fn for_pack(&self, pack: &str) -> Option<&DecisionTable> {
        self.tables.get(pack)
    }
}

/// Where a review stands.
#[derive(Debug, Clone, Default)]
pub struct ReviewView {
    /// Who holds or held it.
    pub reviewer: Option<String>,
    /// `pending`, `approved` or `overridden`.
    pub state: &'static str,
    /// The decision that stands after review.
    pub final_decision: Option<String>,
    /// The decision before an override.
    pub overridden_from: Option<String>,
    /// Approval comment or override reason.
    pub comment: String,
    /// When decided.
    pub decided_at: Option<UnixMs>,
}

/// A decision as the API shows it.
#[derive(Debug, Clone)]
pub struct TriageView {
    /// The case now.
    pub case: Case,
    /// Inputs and decision.
    pub record: TriageRecord,
    /// When it was decided.
    pub decided_at: UnixMs,
    /// The review.
    pub review: ReviewView,
}

/// Photo results per step, from the capture's progress.
pub(crate) fn step_results(progress: &ProgressView) -> BTreeMap<String, StepResult> {
    progress
        .summary
        .steps
        .iter()
        .zip(&progress.attempts)
        .map(|(step, attempts)| {
            let mut reasons: Vec<String> = attempts
                .iter()
                .filter(|a| !a.accepted)
                .flat_map(|a| a.reasons.clone())
                .collect();
            reasons.sort();
            reasons.dedup();
            let status = match step.state {
                StepState::Done => PhotoStatus::Accepted,
                StepState::Retake => PhotoStatus::Retake,
                StepState::Skipped => PhotoStatus::Skipped,
                StepState::Pending => PhotoStatus::Missing,
            };
            (
                step.step.clone(),
                StepResult {
                    status,
                    photos: step.accepted,
                    attempts: step.attempts,
                    reasons,
                },
            )
        })
        .collect()
}

/// The last decision and the review that followed it, from a log.
fn latest_decision(records: &[EventRecord]) -> Option<(TriageRecord, UnixMs, ReviewView)> {
    let index = records
        .iter()
        .rposition(|r| matches!(r.event, CaseEvent::Triaged { .. }))?;
    let record = TriageRecord::from_event(&records[index].event)?.ok()?;
    let mut review = ReviewView {
        state: "pending",
        ..ReviewView::default()
    };
    for later in &records[index + 1..] {
        match &later.event {
            CaseEvent::ReviewClaimed { dispatcher } => review.reviewer = Some(dispatcher.clone()),
            CaseEvent::ReviewReassigned { to, .. } => review.reviewer = Some(to.clone()),
            CaseEvent::DecisionApproved {
                dispatcher,
                comment,
            } => {
                review = ReviewView {
                    reviewer: Some(dispatcher.clone()),
                    state: "approved",
                    final_decision: Some(record.decision.outcome.as_str().to_owned()),
                    overridden_from: None,
                    comment: comment.clone(),
                    decided_at: Some(later.at),
                };
            }
            CaseEvent::DecisionOverridden {
                dispatcher,
                from,
                to,
                reason,
            } => {
                review = ReviewView {
                    reviewer: Some(dispatcher.clone()),
                    state: "overridden",
                    final_decision: Some(to.clone()),
                    overridden_from: Some(from.clone()),
                    comment: reason.clone(),
                    decided_at: Some(later.at),
                };
            }
            _ => {}
        }
    }
    Some((record, records[index].at, review))
}

/// Nearest-rank percentile of sorted values; -1 when empty.
fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return -1;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Re-shoots of one step in a KPI window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReshoots {
    /// Pack.
    pub pack: String,
    /// Step.
    pub step: String,
    /// Photos checked.
    pub photos: u32,
    /// Retakes among them.
    pub retakes: u32,
}

/// Key figures over a window.
#[derive(Debug, Clone, Default)]
pub struct Kpis {
    /// Window start.
    pub from: UnixMs,
    /// Window end.
    pub to: UnixMs,
    /// Cases opened.
    pub opened: u32,
    /// Triaged at least once.
    pub triaged: u32,
    /// Closed by review.
    pub closed: u32,
    /// Decided cases needing a visit.
    pub truck_rolls: u32,
    /// Decided cases resolved remotely.
    pub truck_rolls_avoided: u32,
    /// Slots whose first photo was accepted, and all slots.
    pub first_pass: (u32, u32),
    /// Per step.
    pub reshoots: Vec<StepReshoots>,
    /// Queue → pairing, ms, sorted.
    pub time_to_pair: Vec<i64>,
    /// Open → first decision, ms, sorted.
    pub time_to_triage: Vec<i64>,
}

impl Kpis {
    /// Share of decided cases resolved remotely.
    pub fn avoidance_rate(&self) -> f64 {
        let decided = self.truck_rolls + self.truck_rolls_avoided;
        if decided == 0 {
            0.0
        } else {
            f64::from(self.truck_rolls_avoided) / f64::from(decided)
        }
    }

    /// Share of photo slots accepted first time.
    pub fn first_pass_rate(&self) -> f64 {
        if self.first_pass.1 == 0 {
            0.0
        } else {
            f64::from(self.first_pass.0) / f64::from(self.first_pass.1)
        }
    }

    /// Percentile of a sorted duration list.
    pub fn percentile(values: &[i64], p: f64) -> i64 {
        percentile(values, p)
    }
}

impl Hub {
    /// Records findings, evaluates the case's decision table and proposes the decision.
    pub async fn record_findings(
        &self,
        technician: &TechnicianId,
        id: &CaseId,
        findings: Findings,
    ) -> Result<TriageView, HubError> {
        check_text(
            "findings.notes",
            &findings.notes,
            limits::DESCRIPTION,
            false,
        )?;
        let principal = Principal::Technician(technician.clone());
        self.mutate(&principal, id, |_, case, _| {
            if case
                .session
                .as_ref()
                .is_none_or(|s| &s.technician != technician)
            {
                return Err(HubError::PermissionDenied(format!(
                    "{technician} is not the technician on case {id}"
                )));
            }
            let pack = self.pack_for(case)?;
            let table = self.triage.for_pack(pack.id()).ok_or_else(|| {
                HubError::Precondition(format!("guide pack {} has no decision table", pack.id()))
            })?;
            let steps = if case.capture_pack.is_some() {
                step_results(&self.progress_of(case)?)
            } else {
                BTreeMap::new()
            };
            let inputs = TriageInputs {
                case_kind: case.kind,
                product: ProductFacts::from(&case.product),
                steps,
                findings: findings.clone(),
            };
            let decision = table
                .evaluate(&inputs)
                .map_err(|e| HubError::InvalidInput {
                    field: e.field.clone(),
                    problem: e.problem.clone(),
                })?;
            let record = TriageRecord { inputs, decision };
            let event = record
                .to_event()
                .map_err(|e| HubError::Precondition(e.to_string()))?;
            Ok(vec![event])
        })
        .await?;
        self.decision(&principal, id)
    }

    /// The case's current decision, its inputs and its review.
    pub fn decision(&self, principal: &Principal, id: &CaseId) -> Result<TriageView, HubError> {
        if matches!(principal, Principal::Caller(_)) {
            return Err(HubError::PermissionDenied(
                "decisions are for technicians and dispatchers".into(),
            ));
        }
        let case = {
            let state = self.lock();
            self.visible_case(&state, principal, id)?
        };
        let records = self.all_events(id)?;
        let (record, decided_at, review) = latest_decision(&records)
            .ok_or_else(|| HubError::NotFound(format!("case {id} has no decision yet")))?;
        Ok(TriageView {
            case,
            record,
            decided_at,
            review,
        })
    }

    /// Hands a claimed review to another dispatcher.
    pub async fn reassign(
        &self,
        dispatcher: &str,
        id: &CaseId,
        to: String,
        reason: String,
    ) -> Result<crate::app::CaseSnapshot, HubError> {
        fieldlens_core::intake::check_code("to_dispatcher_id", &to.to_ascii_lowercase(), 64)?;
        check_text("reason", &reason, limits::REASON, true)?;
        let principal = Principal::Dispatcher(dispatcher.to_owned());
        self.mutate(&principal, id, |_, case, _| {
            let from = case.reviewer.clone().ok_or_else(|| {
                HubError::Precondition(format!("case {id} is not claimed for review"))
            })?;
            if from == to {
                return Err(invalid(
                    "to_dispatcher_id",
                    format!("{to} already holds the review"),
                ));
            }
            Ok(vec![CaseEvent::ReviewReassigned { from, to, reason }])
        })
        .await
    }

    /// Key figures over cases opened in `[from, to)`.
    pub fn kpis(&self, from: UnixMs, to: UnixMs) -> Result<Kpis, HubError> {
        let mut kpis = Kpis {
            from,
            to,
            ..Kpis::default()
        };
        let mut reshoots: BTreeMap<(String, String), (u32, u32)> = BTreeMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .store()
                .list_cases(cursor.as_deref(), 500, &|c: &Case| {
                    scan_opened_since(c, Some(from), c.opened_at >= from && c.opened_at < to)
                })?;
            for case in &page.cases {
                self.kpi_case(case, &mut kpis, &mut reshoots)?;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        kpis.reshoots = reshoots
            .into_iter()
            .map(|((pack, step), (photos, retakes))| StepReshoots {
                pack,
                step,
                photos,
                retakes,
            })
            .collect();
        kpis.reshoots
            .sort_by(|a, b| b.retakes.cmp(&a.retakes).then(a.step.cmp(&b.step)));
        kpis.time_to_pair.sort_unstable();
        kpis.time_to_triage.sort_unstable();
        Ok(kpis)
    }

    fn kpi_case(
        &self,
        case: &Case,
        kpis: &mut Kpis,
        reshoots: &mut BTreeMap<(String, String), (u32, u32)>,
    ) -> Result<(), HubError> {
        kpis.opened += 1;
        let records = self.all_events(&case.id)?;
        let mut queued_at = None;
        let mut paired = false;
        let mut triaged = false;
        // Per step: whether the slot now open has had a photo, and whether the last was rejected.
        let mut open_slot: HashMap<String, bool> = HashMap::new();
        for record in &records {
            match &record.event {
                CaseEvent::Queued { .. } => queued_at = queued_at.or(Some(record.at)),
                CaseEvent::Paired { .. } if !paired => {
                    paired = true;
                    if let Some(queued) = queued_at {
                        kpis.time_to_pair.push(record.at - queued);
                    }
                }
                CaseEvent::Triaged { .. } if !triaged => {
                    triaged = true;
                    kpis.triaged += 1;
                    kpis.time_to_triage.push(record.at - case.opened_at);
                }
                CaseEvent::PhotoChecked { step, accepted, .. } => {
                    let pack = case.capture_pack.clone().unwrap_or_default();
                    let entry = reshoots.entry((pack, step.clone())).or_default();
                    entry.0 += 1;
                    let retake = open_slot.get(step).copied().unwrap_or(false);
                    if retake {
                        entry.1 += 1;
                    } else {
                        kpis.first_pass.1 += 1;
                        if *accepted {
                            kpis.first_pass.0 += 1;
                        }
                    }
                    open_slot.insert(step.clone(), !*accepted);
                }
                _ => {}
            }
        }
        if case.status == fieldlens_core::CaseStatus::Closed {
            kpis.closed += 1;
        }
        let decided = case.final_decision.clone().or_else(|| {
            (case.status == fieldlens_core::CaseStatus::InReview
                || case.status == fieldlens_core::CaseStatus::Triaged)
                .then(|| case.decision.as_ref().map(|d| d.outcome.clone()))
                .flatten()
        });
        match decided.as_deref() {
            Some("remote_resolved") => kpis.truck_rolls_avoided += 1,
            Some("truck_roll" | "truck_roll_with_parts") => kpis.truck_rolls += 1,
            _ => {}
        }
        Ok(())
    }

    /// The case's evidence bundle (zip) with its HTML report.
    pub fn export(&self, principal: &Principal, id: &CaseId) -> Result<Vec<u8>, HubError> {
        let case = {
            let state = self.lock();
            self.visible_case(&state, principal, id)?
        };
        let records = self.all_events(id)?;
        // The case record must match the log exactly; re-read it after the log.
        let case = self.store().case(id)?.unwrap_or(case);
        let mut photos = Vec::new();
        let mut slots: HashMap<String, (u32, bool)> = HashMap::new();
        for record in &records {
            if let CaseEvent::PhotoChecked {
                step,
                sha256,
                accepted,
                report,
                ..
            } = &record.event
            {
                let slot = slots.entry(step.clone()).or_insert((0, false));
                if slot.1 {
                    slot.0 += 1;
                }
                slot.1 = *accepted;
                let bytes = self.store().blob(sha256)?.ok_or_else(|| {
                    HubError::Precondition(format!(
                        "photo {sha256} of case {id} is missing from the store"
                    ))
                })?;
                photos.push(fieldlens_evidence::Photo {
                    sha256: sha256.clone(),
                    bytes,
                    meta: fieldlens_evidence::PhotoMeta {
                        step: step.clone(),
                        slot: slot.0,
                        taken_at: record.at,
                        report: serde_json::from_value(report.clone()).ok(),
                    },
                });
            }
        }
        let guide = case
            .capture_pack
            .as_deref()
            .and_then(|p| self.guides.pack(p));
        let evidence = fieldlens_evidence::CaseEvidence {
            case: &case,
            events: &records,
            photos: &photos,
            guide,
        };
        let now = now_ms();
        let html = fieldlens_evidence::render_report(&evidence, now);
        fieldlens_evidence::export(&evidence, &html, now)
            .map_err(|e| HubError::Precondition(format!("cannot export case {id}: {e}")))
    }
}

/// An outcome name from the API, checked.
pub fn outcome(field: &'static str, name: &str) -> Result<Outcome, HubError> {
    Outcome::ALL
        .into_iter()
        .find(|o| o.as_str() == name)
        .ok_or_else(|| invalid(field, format!("{name:?} is not one of remote_resolved, truck_roll, truck_roll_with_parts, total_loss_review, more_info_needed")))
}
