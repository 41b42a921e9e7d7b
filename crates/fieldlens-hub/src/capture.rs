//! Guided capture on the hub: starting it, photos checked against their step, pushes and skips.
//!
//! The capture's state is not kept twice: it is the case's own event log,
//! replayed through `fieldlens_guides::CaptureProgress` whenever it is needed.
//! A photo is stored content-addressed before its `photo_checked` event is
//! committed, so an acknowledged photo is always readable.

use crate::app::Hub;
use crate::auth::Principal;
use crate::error::{HubError, invalid};
use fieldlens_core::event::{CaseEvent, EventRecord};
use fieldlens_core::intake::{check_code, check_text, limits};
use fieldlens_core::{Case, CaseId};
use fieldlens_guides::{
    CaptureError, CaptureEvent, CaptureProgress, CaptureSummary, GuideError, GuidePack, GuideStep,
};
use fieldlens_quality::{CheckProfile, Fingerprint, PhotoReport, QualityError, Reason};
use std::sync::Arc;
use std::time::Instant;
use tokio::task::{JoinError, JoinHandle};

/// Largest photo accepted over gRPC.
pub const MAX_PHOTO_BYTES: usize = 25 * 1024 * 1024;

/// A capture's progress as the API reports it.
#[derive(Debug, Clone)]
pub struct ProgressView {
    /// The case.
    pub case_id: CaseId,
    /// Steps, state and completion.
    pub summary: CaptureSummary,
    /// Per step (pack order), every photo tried.
    pub attempts: Vec<Vec<Attempt>>,
}

/// One photo tried for a step.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Which slot of the step (repeatable steps have several).
    pub slot: usize,
    /// SHA-256 of the photo.
    pub sha256: String,
    /// Whether it was accepted.
    pub accepted: bool,
    /// Reason codes when it was not.
    pub reasons: Vec<String>,
}

/// The result of submitting a photo.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The quality report.
    pub report: PhotoReport,
    /// Progress afterwards.
    pub progress: ProgressView,
    /// The same photo had already been submitted for the step.
    pub already_stored: bool,
}

impl From<CaptureError> for HubError {
    fn from(error: CaptureError) -> Self {
        match error {
            CaptureError::UnknownStep(step) => {
                HubError::NotFound(format!("no step `{step}` in this case's guide pack"))
            }
            CaptureError::InvalidEvent(detail) => invalid("step_id", detail),
            other => HubError::Precondition(other.to_string()),
        }
    }
}

impl From<GuideError> for HubError {
    fn from(error: GuideError) -> Self {
        HubError::NotFound(error.to_string())
    }
}

fn quality_error(error: QualityError) -> HubError {
    invalid("photo", error.to_string())
}

/// A blocking task of the capture path that panicked or was cancelled.
pub(crate) fn task_failed(error: JoinError) -> HubError {
    HubError::Store(fieldlens_store::StoreError::Io(error.to_string()))
}

/// What a step makes of a photo before it is checked.
enum Admission {
    /// The same photo was submitted for the step before, with this result.
    Seen(Submitted),
    /// A photo the step can take: check it with the step's profile, against the
    /// photos accepted before.
    New {
        step: GuideStep,
        earlier: Vec<Fingerprint>,
    },
}

/// A case event in the guides crate's terms, when it is a capture event.
fn to_capture(event: &CaseEvent, at_ms: i64) -> Option<CaptureEvent> {
    match event {
        CaseEvent::PhotoChecked {
            step,
            sha256,
            accepted,
            reasons,
            ..
        } => Some(CaptureEvent::PhotoChecked {
            step: step.clone(),
            sha256: sha256.clone(),
            accepted: *accepted,
            reasons: reasons
                .iter()
                .filter_map(|r| {
                    serde_json::from_value::<Reason>(serde_json::Value::String(r.clone())).ok()
                })
                .collect(),
            at_ms,
        }),
        CaseEvent::StepSkipped { step, reason } => Some(CaptureEvent::StepSkipped {
            step: step.clone(),
            reason: reason.clone(),
            at_ms,
        }),
        CaseEvent::StepPushed { step } => Some(CaptureEvent::StepPushed {
            step: step.clone(),
            at_ms,
        }),
        _ => None,
    }
}

/// The capture events of a log, in order.
fn capture_events(records: &[EventRecord]) -> Vec<CaptureEvent> {
    records
        .iter()
        .filter_map(|r| to_capture(&r.event, r.at))
        .collect()
}

/// Accepted photos of a log, for duplicate checks.
fn accepted_fingerprints(records: &[EventRecord]) -> Vec<Fingerprint> {
    records
        .iter()
        .filter_map(|record| match &record.event {
            CaseEvent::PhotoChecked {
                sha256,
                accepted: true,
                report,
                ..
            } => Some(Fingerprint {
                sha256: sha256.clone(),
                perceptual_hash: report["perceptual_hash"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            }),
            _ => None,
        })
        .filter(|f| !f.perceptual_hash.is_empty())
        .collect()
}

impl Hub {
    /// Every event of a case, in order.
    pub(crate) fn all_events(&self, id: &CaseId) -> Result<Vec<EventRecord>, HubError> {
        let mut events = Vec::new();
        loop {
            let after = events.last().map_or(0, |e: &EventRecord| e.seq);
            let page = self
                .store()
                .events(id, after, fieldlens_store::MAX_EVENTS_PER_READ)?;
            if page.is_empty() {
                return Ok(events);
            }
            events.extend(page);
        }
    }

    /// The guide pack for a case's kind and product.
    pub fn pack_for(&self, case: &Case) -> Result<&GuidePack, HubError> {
        self.guides
            .pack_for_case(case.kind.as_str(), &case.product.category)
            .map_err(|e| HubError::Precondition(format!("no guide pack for this case: {e}")))
    }

    /// The capture's pack and progress, replayed from the case's log.
    fn replay_capture(
        &self,
        case: &Case,
        records: &[EventRecord],
    ) -> Result<(&GuidePack, CaptureProgress), HubError> {
        if case.capture_pack.is_none() {
            return Err(HubError::Precondition(format!(
                "capture has not started on case {}; call StartCapture first",
                case.id
            )));
        }
        let pack = self.pack_for(case)?;
        let progress = CaptureProgress::replay(pack, &capture_events(records))?;
        Ok((pack, progress))
    }

    fn view(case: &Case, pack: &GuidePack, progress: &CaptureProgress) -> ProgressView {
        let attempts = pack
            .steps()
            .iter()
            .map(|step| {
                progress
                    .photos(pack, step.id())
                    .map(|photos| {
                        photos
                            .slots
                            .iter()
                            .enumerate()
                            .flat_map(|(slot, tries)| {
                                tries.iter().map(move |t| Attempt {
                                    slot,
                                    sha256: t.sha256.clone(),
                                    accepted: t.accepted,
                                    reasons: t
                                        .reasons
                                        .iter()
                                        .map(|r| r.as_str().to_owned())
                                        .collect(),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        ProgressView {
            case_id: case.id.clone(),
            summary: progress.summary(pack),
            attempts,
        }
    }

    fn progress_now(&self, principal: &Principal, id: &CaseId) -> Result<ProgressView, HubError> {
        let case = {
            let state = self.lock();
            self.visible_case(&state, principal, id)?
        };
        self.progress_of(&case)
    }

    /// The progress of a case already read (takes no lock: callable under the state lock).
    pub(crate) fn progress_of(&self, case: &Case) -> Result<ProgressView, HubError> {
        let records = self.all_events(&case.id)?;
        let (pack, progress) = self.replay_capture(case, &records)?;
        Ok(Self::view(case, pack, &progress))
    }

    /// Reads a capture's progress.
    pub fn capture_progress(
        &self,
        principal: &Principal,
        id: &CaseId,
    ) -> Result<ProgressView, HubError> {
        self.progress_now(principal, id)
    }

    /// Starts capture with the case's guide pack; harmless when already started.
    pub async fn start_capture(
        &self,
        principal: &Principal,
        id: &CaseId,
    ) -> Result<ProgressView, HubError> {
        if matches!(principal, Principal::Dispatcher(_)) {
            return Err(HubError::PermissionDenied(
                "dispatchers do not capture photos".into(),
            ));
        }
        let started = {
            let state = self.lock();
            self.visible_case(&state, principal, id)?
                .capture_pack
                .is_some()
        };
        if !started {
            self.mutate(principal, id, |_, case, _| {
                if case.capture_pack.is_some() {
                    return Ok(Vec::new());
                }
                let pack = self.pack_for(case)?;
                Ok(vec![CaseEvent::CaptureStarted {
                    pack: pack.id().to_owned(),
                    version: pack.version().to_string(),
                }])
            })
            .await?;
        }
        self.progress_now(principal, id)
    }

    /// Refuses early what a step cannot take, before a check is spent on it: returns the
    /// earlier result when the same photo was submitted for the step before.
    fn admit(
        &self,
        principal: &Principal,
        id: &CaseId,
        step: &str,
        sha256: &str,
    ) -> Result<Admission, HubError> {
        check_code("step_id", step, 64)?;
        if matches!(principal, Principal::Dispatcher(_)) {
            return Err(HubError::PermissionDenied(
                "dispatchers do not capture photos".into(),
            ));
        }
        let case = {
            let state = self.lock();
            self.visible_case(&state, principal, id)?
        };
        let records = self.all_events(id)?;
        let (pack, progress) = self.replay_capture(&case, &records)?;
        let existing = records.iter().rev().find_map(|r| match &r.event {
            CaseEvent::PhotoChecked {
                step: s,
                sha256: h,
                report,
                ..
            } if s == step && h == sha256 => {
                serde_json::from_value::<PhotoReport>(report.clone()).ok()
            }
            _ => None,
        });
        if let Some(report) = existing {
            let progress = Self::view(&case, pack, &progress);
            return Ok(Admission::Seen(Submitted {
                report,
                progress,
                already_stored: true,
            }));
        }
        progress.photo_slot(pack, step)?;
        Ok(Admission::New {
            step: pack.require_step(step)?.clone(),
            earlier: accepted_fingerprints(&records),
        })
    }

    /// Whether `step` can take the photo with this hash now, or has it already: what a
    /// media-link upload checks before its bytes travel.
    pub fn check_photo_admission(
        &self,
        principal: &Principal,
        id: &CaseId,
        step: &str,
        sha256: &str,
    ) -> Result<(), HubError> {
        self.admit(principal, id, step, sha256).map(|_| ())
    }

    /// Stores a photo for a step, checks it against the step's profile and records the result.
    /// With `storing`, a task is already putting the photo's blob in the store (a verified
    /// upload becoming its blob): the photo is checked meanwhile, and its event is committed
    /// once both are done.
    pub async fn submit_photo(
        &self,
        principal: &Principal,
        id: &CaseId,
        step: &str,
        bytes: Arc<Vec<u8>>,
        sha256: String,
        storing: Option<JoinHandle<Result<(), HubError>>>,
    ) -> Result<Submitted, HubError> {
        let (profile, earlier) = match self.admit(principal, id, step, &sha256)? {
            Admission::Seen(submitted) => return Ok(submitted),
            Admission::New { step, earlier } => (step, earlier),
        };

        // Check (and store, unless that is under way) off the async threads, a CPU's
        // worth at a time.
        let permit = self
            .check_permits
            .acquire()
            .await
            .map_err(|_| HubError::ShuttingDown)?;
        let journal = self.journal();
        let sha = sha256.clone();
        let put_blob = storing.is_none();
        let checked = crate::bulk::spawn(move || -> Result<PhotoReport, HubError> {
            let started = Instant::now();
            let header = fieldlens_quality::decode::read_header(&bytes, &CheckProfile::default())
                .map_err(quality_error)?;
            let check_profile = profile.profile_for_frame(header.width, header.height);
            let mut report = fieldlens_quality::check_photo(&bytes, &check_profile, &earlier)
                .map_err(quality_error)?;
            // The check as the hub runs it includes reading the header to pick the profile
            // for the photo's frame (1-3 ms for a 9 MP JPEG).
            report.check_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
            if put_blob {
                journal.store().put_blob(&sha, &bytes)?;
            }
            Ok(report)
        });
        let report = checked.await.map_err(task_failed)?;
        drop(permit);
        if let Some(storing) = storing {
            storing.await.map_err(task_failed)??;
        }
        let report = report?;
        self.journal().wrote();

        let accepted = report.verdict == fieldlens_quality::Verdict::Accept;
        let reasons: Vec<String> = report.reasons().map(|r| r.as_str().to_owned()).collect();
        let report_json = serde_json::to_value(&report).unwrap_or_default();
        let step_id = step.to_owned();
        self.mutate(principal, id, |_, case, now| {
            let records = self.all_events(&case.id)?;
            let (pack, progress) = self.replay_capture(case, &records)?;
            let event = CaseEvent::PhotoChecked {
                step: step_id,
                sha256,
                accepted,
                reasons,
                report: report_json,
            };
            if let Some(capture) = to_capture(&event, now) {
                progress.check(pack, &capture)?;
            }
            Ok(vec![event])
        })
        .await?;
        let progress = self.progress_now(principal, id)?;
        Ok(Submitted {
            report,
            progress,
            already_stored: false,
        })
    }

    /// Makes a step the caller's current one (technicians on the case).
    pub async fn push_step(
        &self,
        principal: &Principal,
        id: &CaseId,
        step: &str,
    ) -> Result<ProgressView, HubError> {
        check_code("step_id", step, 64)?;
        if !matches!(principal, Principal::Technician(_)) {
            return Err(HubError::PermissionDenied(
                "only the technician on the case pushes steps".into(),
            ));
        }
        let view = self
            .capture_event(
                principal,
                id,
                CaseEvent::StepPushed {
                    step: step.to_owned(),
                },
            )
            .await?;
        self.push_step_to_caller(id, step);
        Ok(view)
    }

    /// Skips a step with a reason.
    pub async fn skip_step(
        &self,
        principal: &Principal,
        id: &CaseId,
        step: &str,
        reason: String,
    ) -> Result<ProgressView, HubError> {
        check_code("step_id", step, 64)?;
        check_text("reason", &reason, limits::REASON.min(500), true)?;
        if matches!(principal, Principal::Dispatcher(_)) {
            return Err(HubError::PermissionDenied(
                "dispatchers do not capture photos".into(),
            ));
        }
        self.capture_event(
            principal,
            id,
            CaseEvent::StepSkipped {
                step: step.to_owned(),
                reason,
            },
        )
        .await
    }

    async fn capture_event(
        &self,
        principal: &Principal,
        id: &CaseId,
        event: CaseEvent,
    ) -> Result<ProgressView, HubError> {
        self.mutate(principal, id, |_, case, now| {
            let records = self.all_events(&case.id)?;
            let (pack, progress) = self.replay_capture(case, &records)?;
            if let Some(capture) = to_capture(&event, now) {
                progress.check(pack, &capture)?;
            }
            Ok(vec![event])
        })
        .await?;
        self.progress_now(principal, id)
    }

    /// A stored photo of the case.
    pub fn photo(
        &self,
        principal: &Principal,
        id: &CaseId,
        sha256: &str,
    ) -> Result<Vec<u8>, HubError> {
        {
            let state = self.lock();
            self.visible_case(&state, principal, id)?;
        }
        let belongs = self
            .all_events(id)?
            .iter()
            .any(|r| matches!(&r.event, CaseEvent::PhotoChecked { sha256: s, .. } if s == sha256));
        if !belongs {
            return Err(HubError::NotFound(format!(
                "case {id} has no photo {sha256}"
            )));
        }
        self.store()
            .blob(sha256)?
            .ok_or_else(|| HubError::NotFound(format!("photo {sha256} is not stored")))
    }
}
