//! The caller queue: routing order (priority, then arrival), per-lane FIFOs of waiting
//! callers whose heads are the only candidates a routing decision has to look at, and the
//! time indexes behind offer expiry and tier widening.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use super::CallerRequest;
use super::technicians::{Requirement, TechSlot};
use crate::{CaseId, Priority, UnixMs};

/// Routing order: higher priority first, then lower arrival number, then enqueue order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct OrderKey {
    urgency: Reverse<Priority>,
    arrival: u64,
    /// Internal, unique and increasing per enqueue; breaks arrival ties and names the caller.
    pub(super) seq: u64,
}

/// What a routing decision needs to know about a lane head, kept next to its key so that
/// scanning thousands of heads stays within a few cache lines per head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Probe {
    pub(super) enqueued_at: UnixMs,
    pub(super) skill_set: usize,
    pub(super) language: usize,
    pub(super) region: usize,
    pub(super) has_declines: bool,
}

/// An outstanding reservation of a caller for a technician.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PendingOffer {
    pub(super) tech: TechSlot,
    pub(super) expires_at: UnixMs,
}

/// A queued caller: waiting, or reserved by a pending offer.
#[derive(Debug)]
pub(super) struct Caller {
    pub(super) request: CallerRequest,
    pub(super) key: OrderKey,
    pub(super) requirement: Requirement,
    /// Callers with equal requirements and priority share a lane.
    lane: usize,
    pub(super) skill_set: usize,
    /// Technicians who declined this caller; they are not offered it again.
    pub(super) declined: Vec<TechSlot>,
    pub(super) offer: Option<PendingOffer>,
}

impl Caller {
    pub(super) fn probe(&self) -> Probe {
        Probe {
            enqueued_at: self.request.enqueued_at_ms,
            skill_set: self.skill_set,
            language: self.requirement.language,
            region: self.requirement.region,
            has_declines: !self.declined.is_empty(),
        }
    }

    /// Waiting time so far; a clock that went backwards counts as no wait.
    pub(super) fn waited(&self, now: UnixMs) -> i64 {
        now.saturating_sub(self.request.enqueued_at_ms).max(0)
    }
}

/// Keys kept sorted for rank queries (how many come before a key) in O(log n).
#[derive(Debug, Default)]
pub(super) struct RankedKeys(Vec<OrderKey>);

impl RankedKeys {
    fn insert(&mut self, key: OrderKey) {
        let at = self.0.partition_point(|k| *k < key);
        self.0.insert(at, key);
    }

    fn remove(&mut self, key: &OrderKey) {
        if let Ok(at) = self.0.binary_search(key) {
            self.0.remove(at);
        }
    }

    /// How many keys sort before `key`.
    pub(super) fn before(&self, key: &OrderKey) -> usize {
        self.0.partition_point(|k| k < key)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Callers sharing a set of required skills, for the wait estimate.
#[derive(Debug)]
pub(super) struct SkillSet {
    pub(super) skills: Vec<usize>,
    pub(super) queued: RankedKeys,
}

/// Every queued caller and the indexes over them.
#[derive(Debug, Default)]
pub(super) struct CallerQueue {
    callers: HashMap<u64, Caller>,
    by_case: HashMap<CaseId, u64>,
    next_seq: u64,
    /// All queued callers, offered ones included, in routing order.
    order: RankedKeys,
    /// Waiting (not offered) callers per lane, in routing order.
    lanes: Vec<BTreeSet<OrderKey>>,
    lane_ids: HashMap<(Requirement, Priority), usize>,
    /// The first waiting caller of every non-empty lane.
    heads: BTreeMap<OrderKey, Probe>,
    skill_sets: Vec<SkillSet>,
    skill_set_ids: HashMap<Vec<usize>, usize>,
    /// Waiting callers by the time their wait began, for the next tier widening.
    waiting_since: BTreeSet<(UnixMs, u64)>,
    /// Pending offers by expiry.
    expiries: BTreeSet<(UnixMs, u64)>,
}

impl CallerQueue {
    pub(super) fn len(&self) -> usize {
        self.callers.len()
    }

    pub(super) fn seq_of(&self, case: &CaseId) -> Option<u64> {
        self.by_case.get(case).copied()
    }

    pub(super) fn get(&self, case: &CaseId) -> Option<&Caller> {
        self.seq_of(case).map(|seq| &self.callers[&seq])
    }

    pub(super) fn get_mut(&mut self, case: &CaseId) -> Option<&mut Caller> {
        let seq = self.seq_of(case)?;
        self.callers.get_mut(&seq)
    }

    pub(super) fn by_seq(&self, seq: u64) -> &Caller {
        &self.callers[&seq]
    }

    /// Adds a waiting caller; the caller must not be queued yet.
    pub(super) fn insert(&mut self, request: CallerRequest, requirement: Requirement) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = OrderKey {
            urgency: Reverse(request.priority),
            arrival: request.arrival,
            seq,
        };
        let lane_count = self.lane_ids.len();
        let lane = *self
            .lane_ids
            .entry((requirement.clone(), request.priority))
            .or_insert(lane_count);
        if lane == self.lanes.len() {
            self.lanes.push(BTreeSet::new());
        }
        let set_count = self.skill_set_ids.len();
        let skill_set = *self
            .skill_set_ids
            .entry(requirement.skills.clone())
            .or_insert(set_count);
        if skill_set == self.skill_sets.len() {
            self.skill_sets.push(SkillSet {
                skills: requirement.skills.clone(),
                queued: RankedKeys::default(),
            });
        }
        self.order.insert(key);
        self.skill_sets[skill_set].queued.insert(key);
        self.by_case.insert(request.case_id.clone(), seq);
        self.callers.insert(
            seq,
            Caller {
                request,
                key,
                requirement,
                lane,
                skill_set,
                declined: Vec::new(),
                offer: None,
            },
        );
        self.mark_waiting(seq);
    }

    /// Takes a caller out of the queue entirely, with any pending offer still on it.
    pub(super) fn remove(&mut self, case: &CaseId) -> Option<Caller> {
        let seq = self.by_case.remove(case)?;
        match self.callers[&seq].offer {
            Some(offer) => {
                self.expiries.remove(&(offer.expires_at, seq));
            }
            None => self.unmark_waiting(seq),
        }
        let caller = self.callers.remove(&seq)?;
        self.order.remove(&caller.key);
        self.skill_sets[caller.skill_set].queued.remove(&caller.key);
        Some(caller)
    }

    /// Reserves a waiting caller for a technician: they keep their place in routing order
    /// but are no longer a routing candidate.
    pub(super) fn reserve(&mut self, seq: u64, offer: PendingOffer) {
        self.unmark_waiting(seq);
        self.expiries.insert((offer.expires_at, seq));
        if let Some(caller) = self.callers.get_mut(&seq) {
            caller.offer = Some(offer);
        }
    }

    /// Ends a caller's reservation (expired or declined): they wait again at the same place.
    pub(super) fn release(&mut self, seq: u64) -> Option<PendingOffer> {
        let offer = self.callers.get_mut(&seq)?.offer.take()?;
        self.expiries.remove(&(offer.expires_at, seq));
        self.mark_waiting(seq);
        Some(offer)
    }

    fn mark_waiting(&mut self, seq: u64) {
        let caller = &self.callers[&seq];
        let (key, lane) = (caller.key, caller.lane);
        self.waiting_since
            .insert((caller.request.enqueued_at_ms, seq));
        let head_before = self.lanes[lane].first().copied();
        self.lanes[lane].insert(key);
        self.replace_head(head_before, lane);
    }

    fn unmark_waiting(&mut self, seq: u64) {
        let caller = &self.callers[&seq];
        let (key, lane) = (caller.key, caller.lane);
        self.waiting_since
            .remove(&(caller.request.enqueued_at_ms, seq));
        let head_before = self.lanes[lane].first().copied();
        self.lanes[lane].remove(&key);
        self.replace_head(head_before, lane);
    }

    fn replace_head(&mut self, before: Option<OrderKey>, lane: usize) {
        let after = self.lanes[lane].first().copied();
        if before != after {
            if let Some(old) = before {
                self.heads.remove(&old);
            }
            if let Some(new) = after {
                self.heads.insert(new, self.callers[&new.seq].probe());
            }
        }
    }

    /// The first waiting caller of every lane, in routing order.
    pub(super) fn heads(&self) -> impl Iterator<Item = (&OrderKey, &Probe)> {
        self.heads.iter()
    }

    /// The waiting caller right behind `key` in its lane.
    pub(super) fn next_in_lane(&self, key: &OrderKey) -> Option<OrderKey> {
        let lane = self.callers[&key.seq].lane;
        self.lanes[lane]
            .range((Bound::Excluded(key), Bound::Unbounded))
            .next()
            .copied()
    }

    /// 1-based place of `key` in routing order.
    pub(super) fn position(&self, key: &OrderKey) -> usize {
        self.order.before(key) + 1
    }

    /// Queued callers in routing order.
    pub(super) fn in_order(&self) -> impl Iterator<Item = &Caller> {
        self.order.0.iter().map(|key| &self.callers[&key.seq])
    }

    /// Every set of required skills seen so far, with its queued callers.
    pub(super) fn skill_sets(&self) -> &[SkillSet] {
        &self.skill_sets
    }

    /// Offers that have run out at `now`, earliest first.
    pub(super) fn due_offers(&self, now: UnixMs) -> Vec<u64> {
        self.expiries
            .range(..=(now, u64::MAX))
            .map(|&(_, seq)| seq)
            .collect()
    }

    pub(super) fn next_expiry(&self) -> Option<UnixMs> {
        self.expiries.first().map(|&(at, _)| at)
    }

    /// The earliest start of waiting strictly after `instant` among waiting callers.
    pub(super) fn first_waiting_since_after(&self, instant: UnixMs) -> Option<UnixMs> {
        self.waiting_since
            .range((Bound::Excluded((instant, u64::MAX)), Bound::Unbounded))
            .next()
            .map(|&(at, _)| at)
    }
}
