//! Capture progress for one case: the current step, photos per step, retakes, skips, pairs,
//! completion. Pure: events in, state out, no IO and no clock.
//!
//! The progress is a fold over [`CaptureEvent`]s, so whoever stores the events can rebuild it
//! after a restart with [`CaptureProgress::replay`]. [`CaptureProgress::check`] tells whether
//! an event would be accepted without changing anything, so a photo can be refused before it
//! is stored.
//!
//! Rules:
//! - a photo goes to the step's open slot: after a rejected photo the next one is a retake of
//!   the same slot; after an accepted one a repeatable step opens a new slot, up to its
//!   `max_photos`;
//! - a step that `pairs_with` another takes its n-th photo only after the other's n-th was
//!   accepted, and the other takes its (n+1)-th only after this one's n-th: close-up and
//!   context shot alternate, so each close-up has its own context;
//! - the current step is the one a technician pushed until it gets a new accepted photo or is
//!   skipped; otherwise the first step in order that is neither done nor skipped;
//! - the capture is complete when every required step is done (skipped ones are missing), and
//!   finished when no step is left to do.

use std::collections::BTreeMap;

use fieldlens_quality::Reason;
use serde::{Deserialize, Serialize};

use crate::pack::GuidePack;

/// Longest skip reason, in characters.
pub const MAX_SKIP_REASON_CHARS: usize = 500;
/// Most photos (first tries and retakes) one step takes before it is refused.
pub const MAX_ATTEMPTS_PER_STEP: usize = 200;

/// Something that happened during a capture. Times are Unix epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CaptureEvent {
    /// A photo for a step was checked, accepted or not.
    PhotoChecked {
        /// The step's id.
        step: String,
        /// SHA-256 (hex) of the photo.
        sha256: String,
        /// Whether it was accepted.
        accepted: bool,
        /// Why it must be retaken; empty when accepted.
        reasons: Vec<Reason>,
        /// When it was checked.
        at_ms: i64,
    },
    /// A step was skipped, with the reason given.
    StepSkipped {
        /// The step's id.
        step: String,
        /// Why, in the words of whoever skipped it.
        reason: String,
        /// When.
        at_ms: i64,
    },
    /// A technician pushed a step to the caller; it becomes the current step.
    StepPushed {
        /// The step's id.
        step: String,
        /// When.
        at_ms: i64,
    },
}

impl CaptureEvent {
    /// The step the event is about.
    pub fn step(&self) -> &str {
        match self {
            CaptureEvent::PhotoChecked { step, .. }
            | CaptureEvent::StepSkipped { step, .. }
            | CaptureEvent::StepPushed { step, .. } => step,
        }
    }
}

/// Why an event cannot be applied. Nothing changes when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// The progress belongs to another pack (or another version of it).
    #[error("this capture follows pack `{expected}`, not `{actual}`")]
    PackMismatch {
        /// The pack and version the capture started with, `id@version`.
        expected: String,
        /// The pack given, `id@version`.
        actual: String,
    },
    /// The pack has no such step.
    #[error("no step `{0}` in this guide pack")]
    UnknownStep(String),
    /// The step already has all the accepted photos it takes.
    #[error("step `{step}` already has its {max} accepted photo(s)")]
    StepFull {
        /// The step.
        step: String,
        /// How many photos it takes.
        max: u32,
    },
    /// A paired step's photo came before its partner's.
    #[error("take the photo for `{partner}` first: each photo of `{step}` pairs with one there")]
    PairFirst {
        /// The step the photo was for.
        step: String,
        /// The step whose photo must come first.
        partner: String,
    },
    /// A new photo for a step whose previous photo still waits for its pair.
    #[error("finish `{partner}` for the previous photo of `{step}` before adding another")]
    PairPending {
        /// The step the photo was for.
        step: String,
        /// The paired step still owed a photo.
        partner: String,
    },
    /// A step that is already done cannot be skipped.
    #[error("step `{0}` is already done; there is nothing to skip")]
    AlreadyDone(String),
    /// The step has taken too many photos.
    #[error("step `{step}` has had {limit} photos; no more are taken")]
    TooManyAttempts {
        /// The step.
        step: String,
        /// The limit.
        limit: usize,
    },
    /// The event itself is malformed (bad hash, empty reason, verdict without reasons…).
    #[error("invalid capture event: {0}")]
    InvalidEvent(String),
}

/// One try at a photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoAttempt {
    /// SHA-256 (hex) of the photo.
    pub sha256: String,
    /// Whether it was accepted.
    pub accepted: bool,
    /// Why it must be retaken; empty when accepted.
    pub reasons: Vec<Reason>,
    /// When it was checked.
    pub at_ms: i64,
}

/// A skip and its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skip {
    /// Why.
    pub reason: String,
    /// When.
    pub at_ms: i64,
}

/// The photos of one step: slots (one per accepted photo wanted), each with its attempts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StepPhotos {
    /// Per slot, the attempts in order; a slot is filled when its last attempt was accepted.
    pub slots: Vec<Vec<PhotoAttempt>>,
    /// Set while the step is skipped; a later photo clears it.
    pub skipped: Option<Skip>,
}

impl StepPhotos {
    fn accepted(&self) -> usize {
        self.slots
            .iter()
            .filter(|attempts| attempts.last().is_some_and(|attempt| attempt.accepted))
            .count()
    }

    fn open_slot(&self) -> Option<usize> {
        let last = self.slots.len().checked_sub(1)?;
        (!self.slots[last]
            .last()
            .is_some_and(|attempt| attempt.accepted))
        .then_some(last)
    }

    fn attempts(&self) -> usize {
        self.slots.iter().map(Vec::len).sum()
    }

    /// SHA-256 of every accepted photo, in slot order.
    pub fn accepted_photos(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().filter_map(|attempts| {
            attempts
                .last()
                .filter(|attempt| attempt.accepted)
                .map(|attempt| attempt.sha256.as_str())
        })
    }
}

/// Where a photo for a step would go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoSlot {
    /// 0-based slot (for repeatable steps: which damage, which pair).
    pub slot: usize,
    /// Whether it retakes a rejected photo of that slot.
    pub retake: bool,
}

/// The state of a step in a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// No photo yet (or the next one of a pair is owed).
    Pending,
    /// The last photo was rejected; a retake is wanted.
    Retake,
    /// Done: the photos it needs are accepted.
    Done,
    /// Skipped, with a reason.
    Skipped,
}

/// One step in a progress summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSummary {
    /// The step's id.
    pub step: String,
    /// Its state.
    pub state: StepState,
    /// Whether the capture is incomplete without it.
    pub required: bool,
    /// Accepted photos.
    pub accepted: u32,
    /// Photos it takes at most.
    pub max_photos: u32,
    /// Photos taken, accepted or not.
    pub attempts: u32,
    /// Photos taken again after a rejection.
    pub retakes: u32,
    /// Slots whose first photo was accepted (first-pass acceptance).
    pub first_pass: u32,
    /// Reasons of the last rejected photo, when a retake is wanted.
    pub retake_reasons: Vec<Reason>,
    /// The skip reason, when skipped.
    pub skip_reason: Option<String>,
}

/// The whole capture at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureSummary {
    /// The pack's id.
    pub pack: String,
    /// The step to show the caller now; none when finished.
    pub current_step: Option<String>,
    /// Every required step done.
    pub complete: bool,
    /// No step left to do (some may have been skipped).
    pub finished: bool,
    /// Required steps in the pack.
    pub required_total: u32,
    /// Required steps done.
    pub required_done: u32,
    /// Required steps not done (pending or skipped), in order.
    pub missing_required: Vec<String>,
    /// Every step, in order.
    pub steps: Vec<StepSummary>,
}

/// What the triage knows about one input: the accepted photos that feed it, and whether a
/// step feeding it was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TriageInput {
    /// SHA-256 of the accepted photos, in step and slot order.
    pub photos: Vec<String>,
    /// Skip reasons of steps feeding this input.
    pub skipped: Vec<String>,
}

/// The progress of one case's capture through one pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureProgress {
    pack: String,
    version: u32,
    steps: Vec<StepPhotos>,
    /// The pushed step, and its accepted count when pushed.
    pushed: Option<(usize, usize)>,
}

impl CaptureProgress {
    /// A capture that has not started.
    pub fn new(pack: &GuidePack) -> Self {
        Self {
            pack: pack.id().to_owned(),
            version: pack.version(),
            steps: vec![StepPhotos::default(); pack.steps().len()],
            pushed: None,
        }
    }

    /// Rebuilds the progress from its events, in order.
    pub fn replay<'a>(
        pack: &GuidePack,
        events: impl IntoIterator<Item = &'a CaptureEvent>,
    ) -> Result<Self, CaptureError> {
        let mut progress = Self::new(pack);
        for event in events {
            progress.apply(pack, event)?;
        }
        Ok(progress)
    }

    /// The pack id this capture follows.
    pub fn pack_id(&self) -> &str {
        &self.pack
    }

    /// The photos of a step.
    pub fn photos(&self, pack: &GuidePack, step: &str) -> Option<&StepPhotos> {
        self.steps.get(pack.step_index(step)?)
    }

    fn same_pack(&self, pack: &GuidePack) -> Result<(), CaptureError> {
        if pack.id() == self.pack
            && pack.version() == self.version
            && pack.steps().len() == self.steps.len()
        {
            Ok(())
        } else {
            Err(CaptureError::PackMismatch {
                expected: format!("{}@{}", self.pack, self.version),
                actual: format!("{}@{}", pack.id(), pack.version()),
            })
        }
    }

    fn index(&self, pack: &GuidePack, step: &str) -> Result<usize, CaptureError> {
        self.same_pack(pack)?;
        pack.step_index(step)
            .ok_or_else(|| CaptureError::UnknownStep(step.to_owned()))
    }

    /// Where a photo for `step` would go, or why it cannot be taken now.
    pub fn photo_slot(&self, pack: &GuidePack, step: &str) -> Result<PhotoSlot, CaptureError> {
        let index = self.index(pack, step)?;
        let guide = &pack.steps()[index];
        let photos = &self.steps[index];
        if photos.attempts() >= MAX_ATTEMPTS_PER_STEP {
            return Err(CaptureError::TooManyAttempts {
                step: step.to_owned(),
                limit: MAX_ATTEMPTS_PER_STEP,
            });
        }
        let slot = match photos.open_slot() {
            Some(open) => PhotoSlot {
                slot: open,
                retake: !photos.slots[open].is_empty(),
            },
            None if photos.accepted() < guide.max_photos() as usize => PhotoSlot {
                slot: photos.slots.len(),
                retake: false,
            },
            None => {
                return Err(CaptureError::StepFull {
                    step: step.to_owned(),
                    max: guide.max_photos(),
                });
            }
        };
        if let Some(partner) = guide.pairs_with() {
            let partner_index = self.index(pack, partner)?;
            if self.steps[partner_index].accepted() <= slot.slot {
                return Err(CaptureError::PairFirst {
                    step: step.to_owned(),
                    partner: partner.to_owned(),
                });
            }
        }
        if let Some(follower) = pack.paired_by(step) {
            let follower_index = self.index(pack, follower.id())?;
            if self.steps[follower_index].accepted() < slot.slot {
                return Err(CaptureError::PairPending {
                    step: step.to_owned(),
                    partner: follower.id().to_owned(),
                });
            }
        }
        Ok(slot)
    }

    /// Whether `event` would be applied, without applying it.
    pub fn check(&self, pack: &GuidePack, event: &CaptureEvent) -> Result<(), CaptureError> {
        let index = self.index(pack, event.step())?;
        match event {
            CaptureEvent::PhotoChecked {
                sha256,
                accepted,
                reasons,
                ..
            } => {
                if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(CaptureError::InvalidEvent(
                        "sha256 must be 64 hexadecimal digits".into(),
                    ));
                }
                if *accepted != reasons.is_empty() {
                    return Err(CaptureError::InvalidEvent(
                        "an accepted photo has no retake reasons and a rejected one has at least one"
                            .into(),
                    ));
                }
                self.photo_slot(pack, event.step()).map(|_| ())
            }
            CaptureEvent::StepSkipped { reason, .. } => {
                let chars = reason.chars().count();
                if reason.trim().is_empty() || chars > MAX_SKIP_REASON_CHARS {
                    return Err(CaptureError::InvalidEvent(format!(
                        "a skip needs a reason of 1 to {MAX_SKIP_REASON_CHARS} characters"
                    )));
                }
                if reason.chars().any(char::is_control) {
                    return Err(CaptureError::InvalidEvent(
                        "the skip reason contains control characters".into(),
                    ));
                }
                if self.is_done(pack, index) {
                    return Err(CaptureError::AlreadyDone(event.step().to_owned()));
                }
                Ok(())
            }
            CaptureEvent::StepPushed { .. } => self.photo_slot(pack, event.step()).map(|_| ()),
        }
    }

    /// Applies `event`; on error nothing changes.
    pub fn apply(&mut self, pack: &GuidePack, event: &CaptureEvent) -> Result<(), CaptureError> {
        self.check(pack, event)?;
        let index = self.index(pack, event.step())?;
        match event {
            CaptureEvent::PhotoChecked {
                sha256,
                accepted,
                reasons,
                at_ms,
                ..
            } => {
                let slot = self.photo_slot(pack, event.step())?.slot;
                let photos = &mut self.steps[index];
                photos.skipped = None;
                if slot == photos.slots.len() {
                    photos.slots.push(Vec::new());
                }
                photos.slots[slot].push(PhotoAttempt {
                    sha256: sha256.clone(),
                    accepted: *accepted,
                    reasons: reasons.clone(),
                    at_ms: *at_ms,
                });
                let accepted_now = photos.accepted();
                if self
                    .pushed
                    .is_some_and(|(pushed, before)| pushed == index && accepted_now > before)
                {
                    self.pushed = None;
                }
            }
            CaptureEvent::StepSkipped { reason, at_ms, .. } => {
                self.steps[index].skipped = Some(Skip {
                    reason: reason.clone(),
                    at_ms: *at_ms,
                });
                if self.pushed.is_some_and(|(pushed, _)| pushed == index) {
                    self.pushed = None;
                }
            }
            CaptureEvent::StepPushed { .. } => {
                self.pushed = Some((index, self.steps[index].accepted()));
            }
        }
        Ok(())
    }

    /// Whether the step has the accepted photos it needs (for a paired step: one per photo
    /// of its partner).
    fn is_done(&self, pack: &GuidePack, index: usize) -> bool {
        let accepted = self.steps[index].accepted();
        let partner_accepted = pack.steps()[index]
            .pairs_with()
            .and_then(|partner| pack.step_index(partner))
            .map_or(0, |partner| self.steps[partner].accepted());
        accepted > 0 && accepted >= partner_accepted
    }

    /// The step to show the caller now; none when every step is done or skipped.
    pub fn current_step<'p>(&self, pack: &'p GuidePack) -> Option<&'p crate::GuideStep> {
        if self.same_pack(pack).is_err() {
            return None;
        }
        if let Some((pushed, _)) = self.pushed {
            return pack.steps().get(pushed);
        }
        (0..self.steps.len())
            .find(|&index| !self.is_done(pack, index) && self.steps[index].skipped.is_none())
            .map(|index| &pack.steps()[index])
    }

    /// Required steps not done, in order.
    pub fn missing_required<'p>(&self, pack: &'p GuidePack) -> Vec<&'p str> {
        pack.steps()
            .iter()
            .enumerate()
            .filter(|(index, step)| step.is_required() && !self.is_done(pack, *index))
            .map(|(_, step)| step.id())
            .collect()
    }

    /// Whether every required step is done.
    pub fn is_complete(&self, pack: &GuidePack) -> bool {
        self.same_pack(pack).is_ok() && self.missing_required(pack).is_empty()
    }

    /// Where every step stands.
    pub fn summary(&self, pack: &GuidePack) -> CaptureSummary {
        let mut steps = Vec::new();
        for (index, (guide, photos)) in pack.steps().iter().zip(&self.steps).enumerate() {
            let open = photos
                .open_slot()
                .and_then(|slot| photos.slots[slot].last());
            let state = if self.is_done(pack, index) {
                StepState::Done
            } else if photos.skipped.is_some() {
                StepState::Skipped
            } else if open.is_some() {
                StepState::Retake
            } else {
                StepState::Pending
            };
            steps.push(StepSummary {
                step: guide.id().to_owned(),
                state,
                required: guide.is_required(),
                accepted: photos.accepted() as u32,
                max_photos: guide.max_photos(),
                attempts: photos.attempts() as u32,
                retakes: photos
                    .slots
                    .iter()
                    .map(|attempts| attempts.len().saturating_sub(1) as u32)
                    .sum(),
                first_pass: photos
                    .slots
                    .iter()
                    .filter(|attempts| attempts.first().is_some_and(|attempt| attempt.accepted))
                    .count() as u32,
                retake_reasons: open
                    .map(|attempt| attempt.reasons.clone())
                    .unwrap_or_default(),
                skip_reason: photos.skipped.as_ref().map(|skip| skip.reason.clone()),
            });
        }
        let missing_required: Vec<String> = self
            .missing_required(pack)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let required_total = pack.required_steps().count() as u32;
        let current_step = self.current_step(pack).map(|step| step.id().to_owned());
        CaptureSummary {
            pack: self.pack.clone(),
            finished: current_step.is_none(),
            current_step,
            complete: missing_required.is_empty(),
            required_total,
            required_done: required_total - missing_required.len() as u32,
            missing_required,
            steps,
        }
    }

    /// For each triage input of the pack: the accepted photos feeding it and any skips.
    pub fn triage_inputs(&self, pack: &GuidePack) -> BTreeMap<String, TriageInput> {
        let mut inputs: BTreeMap<String, TriageInput> = BTreeMap::new();
        for (guide, photos) in pack.steps().iter().zip(&self.steps) {
            for input in guide.feeds() {
                let entry = inputs.entry(input.clone()).or_default();
                entry
                    .photos
                    .extend(photos.accepted_photos().map(str::to_owned));
                if let Some(skip) = &photos.skipped {
                    entry.skipped.push(skip.reason.clone());
                }
            }
        }
        inputs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack() -> GuidePack {
        GuidePack::for_tests(&[
            ("front", true, 1, None),
            ("plate", true, 1, None),
            ("context", true, 3, None),
            ("closeup", true, 3, Some("context")),
            ("scene", false, 1, None),
        ])
    }

    fn hash(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    fn photo(step: &str, n: u8, accepted: bool) -> CaptureEvent {
        CaptureEvent::PhotoChecked {
            step: step.into(),
            sha256: hash(n),
            accepted,
            reasons: if accepted { vec![] } else { vec![Reason::Blur] },
            at_ms: i64::from(n),
        }
    }

    fn skip(step: &str, reason: &str) -> CaptureEvent {
        CaptureEvent::StepSkipped {
            step: step.into(),
            reason: reason.into(),
            at_ms: 0,
        }
    }

    fn current(progress: &CaptureProgress, pack: &GuidePack) -> Option<String> {
        progress.current_step(pack).map(|step| step.id().to_owned())
    }

    #[test]
    fn walks_the_steps_in_order_with_a_retake() {
        let pack = pack();
        let mut progress = CaptureProgress::new(&pack);
        assert_eq!(current(&progress, &pack).as_deref(), Some("front"));
        progress.apply(&pack, &photo("front", 1, false)).unwrap();
        let summary = progress.summary(&pack);
        assert_eq!(summary.steps[0].state, StepState::Retake);
        assert_eq!(summary.steps[0].retake_reasons, [Reason::Blur]);
        assert_eq!(
            progress.photo_slot(&pack, "front").unwrap(),
            PhotoSlot {
                slot: 0,
                retake: true
            }
        );
        progress.apply(&pack, &photo("front", 2, true)).unwrap();
        assert_eq!(current(&progress, &pack).as_deref(), Some("plate"));
        let front = &progress.summary(&pack).steps[0];
        assert_eq!((front.attempts, front.retakes, front.first_pass), (2, 1, 0));
        assert_eq!(
            progress.apply(&pack, &photo("front", 3, true)),
            Err(CaptureError::StepFull {
                step: "front".into(),
                max: 1
            })
        );
    }

    #[test]
    fn close_ups_alternate_with_their_context_shots() {
        let pack = pack();
        let mut progress = CaptureProgress::new(&pack);
        for (n, step) in [(1, "front"), (2, "plate")] {
            progress.apply(&pack, &photo(step, n, true)).unwrap();
        }
        assert!(matches!(
            progress.apply(&pack, &photo("closeup", 3, true)),
            Err(CaptureError::PairFirst { .. })
        ));
        progress.apply(&pack, &photo("context", 4, true)).unwrap();
        assert_eq!(current(&progress, &pack).as_deref(), Some("closeup"));
        assert!(!progress.is_complete(&pack));
        assert!(matches!(
            progress.apply(&pack, &photo("context", 5, true)),
            Err(CaptureError::PairPending { .. })
        ));
        progress.apply(&pack, &photo("closeup", 6, true)).unwrap();
        assert!(progress.is_complete(&pack));
        assert_eq!(current(&progress, &pack).as_deref(), Some("scene"));
        // A second damaged area reopens the close-up until its pair is taken.
        progress.apply(&pack, &photo("context", 7, true)).unwrap();
        assert!(!progress.is_complete(&pack));
        assert_eq!(current(&progress, &pack).as_deref(), Some("closeup"));
        assert_eq!(progress.missing_required(&pack), ["closeup"]);
        progress.apply(&pack, &photo("closeup", 8, true)).unwrap();
        let inputs = progress.triage_inputs(&pack);
        assert_eq!(inputs["photo.closeup"].photos, [hash(6), hash(8)]);
    }

    #[test]
    fn skips_need_a_reason_and_leave_required_steps_missing() {
        let pack = pack();
        let mut progress = CaptureProgress::new(&pack);
        assert!(matches!(
            progress.apply(&pack, &skip("front", "  ")),
            Err(CaptureError::InvalidEvent(_))
        ));
        progress
            .apply(&pack, &skip("front", "car was towed away"))
            .unwrap();
        assert_eq!(current(&progress, &pack).as_deref(), Some("plate"));
        let summary = progress.summary(&pack);
        assert_eq!(summary.steps[0].state, StepState::Skipped);
        assert_eq!(summary.missing_required[0], "front");
        assert_eq!(
            progress.triage_inputs(&pack)["photo.front"].skipped,
            ["car was towed away"]
        );
        // A photo after all un-skips the step.
        progress.apply(&pack, &photo("front", 1, true)).unwrap();
        assert_eq!(progress.summary(&pack).steps[0].state, StepState::Done);
        assert_eq!(
            progress.apply(&pack, &skip("front", "changed my mind")),
            Err(CaptureError::AlreadyDone("front".into()))
        );
    }

    #[test]
    fn a_pushed_step_is_current_until_it_gets_a_photo() {
        let pack = pack();
        let mut progress = CaptureProgress::new(&pack);
        let push = CaptureEvent::StepPushed {
            step: "scene".into(),
            at_ms: 0,
        };
        progress.apply(&pack, &push).unwrap();
        assert_eq!(current(&progress, &pack).as_deref(), Some("scene"));
        progress.apply(&pack, &photo("scene", 1, false)).unwrap();
        assert_eq!(current(&progress, &pack).as_deref(), Some("scene"));
        progress.apply(&pack, &photo("scene", 2, true)).unwrap();
        assert_eq!(current(&progress, &pack).as_deref(), Some("front"));
        let closeup = CaptureEvent::StepPushed {
            step: "closeup".into(),
            at_ms: 0,
        };
        assert!(matches!(
            progress.apply(&pack, &closeup),
            Err(CaptureError::PairFirst { .. })
        ));
    }

    #[test]
    fn replay_rebuilds_the_same_progress_and_refuses_bad_events() {
        let pack = pack();
        let events = vec![
            photo("front", 1, false),
            photo("front", 2, true),
            skip("plate", "no plate on this car"),
            photo("context", 3, true),
            photo("closeup", 4, true),
        ];
        let mut live = CaptureProgress::new(&pack);
        for event in &events {
            live.apply(&pack, event).unwrap();
        }
        let json = serde_json::to_string(&events).unwrap();
        let stored: Vec<CaptureEvent> = serde_json::from_str(&json).unwrap();
        let replayed = CaptureProgress::replay(&pack, &stored).unwrap();
        assert_eq!(replayed, live);
        assert!(!replayed.summary(&pack).finished);

        let before = live.clone();
        let bad_hash = CaptureEvent::PhotoChecked {
            step: "scene".into(),
            sha256: "xyz".into(),
            accepted: true,
            reasons: vec![],
            at_ms: 0,
        };
        assert!(live.apply(&pack, &bad_hash).is_err());
        let no_reason = CaptureEvent::PhotoChecked {
            step: "scene".into(),
            sha256: hash(9),
            accepted: false,
            reasons: vec![],
            at_ms: 0,
        };
        assert!(live.apply(&pack, &no_reason).is_err());
        assert_eq!(
            live.apply(&pack, &photo("nowhere", 9, true)),
            Err(CaptureError::UnknownStep("nowhere".into()))
        );
        assert_eq!(live, before, "a refused event changes nothing");

        let other = GuidePack::for_tests(&[("front", true, 1, None)]);
        assert!(matches!(
            live.apply(&other, &photo("front", 9, true)),
            Err(CaptureError::PackMismatch { .. })
        ));
    }

    #[test]
    fn attempts_per_step_are_bounded() {
        let pack = pack();
        let mut progress = CaptureProgress::new(&pack);
        for n in 0..MAX_ATTEMPTS_PER_STEP {
            progress
                .apply(&pack, &photo("front", (n % 250) as u8, false))
                .unwrap();
        }
        assert!(matches!(
            progress.apply(&pack, &photo("front", 1, true)),
            Err(CaptureError::TooManyAttempts { .. })
        ));
    }
}
