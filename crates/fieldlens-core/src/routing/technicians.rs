//! The technician pool: profiles, presence and load, with bitset indexes (one bit per
//! technician) that answer "who could take this caller right now" in a few word operations
//! instead of a scan over every technician.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use fixedbitset::FixedBitSet;

use super::{CallerRequest, TechnicianProfile, TechnicianView, Tier};
use crate::{CaseId, TechnicianId, UnixMs};

/// Dense index of a technician in the pool; never reused, technicians are never forgotten.
pub(super) type TechSlot = usize;

/// Interned names of one kind of attribute (skills, languages or regions) and, per name,
/// the set of technicians who have it.
#[derive(Debug, Default)]
pub(super) struct AttributeIndex {
    ids: HashMap<String, usize>,
    holders: Vec<FixedBitSet>,
    /// Per attribute, how many of its holders may receive an offer now: a cheap first test
    /// before any bitset work.
    free_holders: Vec<u32>,
}

impl AttributeIndex {
    /// The id of `name`, creating it (with no holders yet) on first sight.
    fn intern(&mut self, name: &str) -> usize {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.holders.len();
        self.ids.insert(name.to_owned(), id);
        self.holders.push(FixedBitSet::new());
        self.free_holders.push(0);
        id
    }

    /// Technicians holding attribute `id`; may be shorter than the pool (missing bits are 0).
    pub(super) fn holders(&self, id: usize) -> &FixedBitSet {
        &self.holders[id]
    }

    /// Whether some holder of attribute `id` may receive an offer now.
    pub(super) fn has_free_holder(&self, id: usize) -> bool {
        self.free_holders[id] > 0
    }

    fn count_free(&mut self, ids: &[usize], free: bool) {
        for &id in ids {
            let count = &mut self.free_holders[id];
            *count = if free { *count + 1 } else { *count - 1 };
        }
    }

    fn assign(&mut self, slot: TechSlot, names: &[String]) -> Vec<usize> {
        let mut ids: Vec<usize> = names.iter().map(|name| self.intern(name)).collect();
        ids.sort_unstable();
        ids.dedup();
        for &id in &ids {
            self.holders[id].grow_and_insert(slot);
        }
        ids
    }

    fn unassign(&mut self, slot: TechSlot, ids: &[usize]) {
        for &id in ids {
            self.holders[id].set(slot, false);
        }
    }
}

/// A caller's requirements as interned attribute ids; callers with equal requirements form
/// one requirement class.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Requirement {
    /// Required skills, sorted and without duplicates.
    pub(super) skills: Vec<usize>,
    pub(super) language: usize,
    pub(super) region: usize,
}

/// One technician's state.
#[derive(Debug)]
pub(super) struct Technician {
    pub(super) profile: TechnicianProfile,
    skill_ids: Vec<usize>,
    language_ids: Vec<usize>,
    region_ids: Vec<usize>,
    pub(super) available: bool,
    pub(super) paused: bool,
    pub(super) missed_offers: u32,
    pub(super) sessions: BTreeSet<CaseId>,
    pub(super) offers: BTreeSet<CaseId>,
    pub(super) idle_since: Option<UnixMs>,
}

impl Technician {
    /// Sessions plus outstanding offers: what counts against capacity.
    pub(super) fn load(&self) -> usize {
        self.sessions.len() + self.offers.len()
    }

    fn staffed(&self) -> bool {
        self.available && !self.paused
    }

    fn can_take_offer(&self) -> bool {
        self.staffed() && self.load() < self.profile.capacity as usize
    }

    /// Slots not taken by sessions; slots held by offers count as spare because their callers
    /// are still counted in the queue (see the wait estimate).
    pub(super) fn unsessioned_slots(&self) -> usize {
        (self.profile.capacity as usize).saturating_sub(self.sessions.len())
    }

    /// Ordering among eligible technicians: least loaded, then idle longest, then id.
    fn rank(&self) -> (usize, UnixMs, &TechnicianId) {
        (
            self.load(),
            self.idle_since.unwrap_or(UnixMs::MAX),
            &self.profile.id,
        )
    }
}

/// Every technician the router has heard of, with the indexes routing decisions use.
#[derive(Debug, Default)]
pub(super) struct TechnicianPool {
    techs: Vec<Technician>,
    by_id: BTreeMap<TechnicianId, TechSlot>,
    pub(super) skills: AttributeIndex,
    pub(super) languages: AttributeIndex,
    pub(super) regions: AttributeIndex,
    /// Available, not paused and below capacity: may receive an offer now.
    free: FixedBitSet,
    /// Available and not paused, whatever their load.
    staffed: FixedBitSet,
}

impl TechnicianPool {
    pub(super) fn slot(&self, id: &TechnicianId) -> Option<TechSlot> {
        self.by_id.get(id).copied()
    }

    pub(super) fn get(&self, slot: TechSlot) -> &Technician {
        &self.techs[slot]
    }

    /// Technicians who may receive an offer now.
    pub(super) fn free(&self) -> &FixedBitSet {
        &self.free
    }

    /// Technicians who are available and not paused.
    pub(super) fn staffed(&self) -> &FixedBitSet {
        &self.staffed
    }

    /// The slot of `id`, adding an unavailable technician without skills or capacity if unknown
    /// (a restored session can name a technician before they announce themselves).
    pub(super) fn ensure(&mut self, id: &TechnicianId) -> TechSlot {
        if let Some(slot) = self.slot(id) {
            return slot;
        }
        let slot = self.techs.len();
        self.techs.push(Technician {
            profile: TechnicianProfile {
                id: id.clone(),
                skills: Vec::new(),
                languages: Vec::new(),
                regions: Vec::new(),
                capacity: 0,
            },
            skill_ids: Vec::new(),
            language_ids: Vec::new(),
            region_ids: Vec::new(),
            available: false,
            paused: false,
            missed_offers: 0,
            sessions: BTreeSet::new(),
            offers: BTreeSet::new(),
            idle_since: None,
        });
        self.by_id.insert(id.clone(), slot);
        self.free.grow(self.techs.len());
        self.staffed.grow(self.techs.len());
        slot
    }

    /// Applies a technician's presence announcement. Coming back (from unavailable, paused or
    /// unknown) lifts an automatic pause, clears the missed-offer streak and, when they have
    /// no work, starts their idle time now.
    pub(super) fn announce(&mut self, profile: TechnicianProfile, available: bool, now: UnixMs) {
        let slot = self.ensure(&profile.id);
        self.set_free(slot, false); // the free-holder counts follow the old attributes out
        let tech = &mut self.techs[slot];
        self.skills.unassign(slot, &tech.skill_ids);
        self.languages.unassign(slot, &tech.language_ids);
        self.regions.unassign(slot, &tech.region_ids);
        tech.skill_ids = self.skills.assign(slot, &profile.skills);
        tech.language_ids = self.languages.assign(slot, &profile.languages);
        tech.region_ids = self.regions.assign(slot, &profile.regions);
        tech.profile = profile;
        if available && !tech.staffed() {
            tech.paused = false;
            tech.missed_offers = 0;
            if tech.load() == 0 {
                tech.idle_since = Some(now);
            }
        }
        tech.available = available;
        self.refresh(slot);
    }

    /// Changes one technician and brings the indexes up to date.
    pub(super) fn update<R>(
        &mut self,
        slot: TechSlot,
        change: impl FnOnce(&mut Technician) -> R,
    ) -> R {
        let result = change(&mut self.techs[slot]);
        self.refresh(slot);
        result
    }

    fn refresh(&mut self, slot: TechSlot) {
        let tech = &self.techs[slot];
        let (free, staffed) = (tech.can_take_offer(), tech.staffed());
        self.set_free(slot, free);
        self.staffed.set(slot, staffed);
    }

    fn set_free(&mut self, slot: TechSlot, free: bool) {
        if self.free.contains(slot) == free {
            return;
        }
        self.free.set(slot, free);
        let tech = &self.techs[slot];
        self.skills.count_free(&tech.skill_ids, free);
        self.languages.count_free(&tech.language_ids, free);
        self.regions.count_free(&tech.region_ids, free);
    }

    /// Interns a caller's requirements (unknown names get ids with no holders).
    pub(super) fn requirement(&mut self, request: &CallerRequest) -> Requirement {
        let mut skills: Vec<usize> = request
            .skills
            .iter()
            .map(|skill| self.skills.intern(skill))
            .collect();
        skills.sort_unstable();
        skills.dedup();
        Requirement {
            skills,
            language: self.languages.intern(&request.language),
            region: self.regions.intern(&request.region),
        }
    }

    /// Writes into `out` the technicians of `base` who meet `requirement` under `tier`.
    pub(super) fn eligible_into(
        &self,
        base: &FixedBitSet,
        requirement: &Requirement,
        tier: &Tier,
        out: &mut FixedBitSet,
    ) {
        out.clone_from(base);
        self.with_skills(&requirement.skills, out);
        self.in_place(requirement.language, requirement.region, tier, out);
    }

    /// Keeps in `set` only technicians speaking `language` and serving `region`, as far as
    /// `tier` asks for either.
    pub(super) fn in_place(
        &self,
        language: usize,
        region: usize,
        tier: &Tier,
        set: &mut FixedBitSet,
    ) {
        if tier.match_language {
            set.intersect_with(self.languages.holders(language));
        }
        if tier.match_region {
            set.intersect_with(self.regions.holders(region));
        }
    }

    /// Keeps in `set` only technicians having every skill in `skills`.
    pub(super) fn with_skills(&self, skills: &[usize], set: &mut FixedBitSet) {
        for &skill in skills {
            if set.is_clear() {
                return;
            }
            set.intersect_with(self.skills.holders(skill));
        }
    }

    /// The technician of `candidates` to offer to: least loaded, then idle longest, then by id.
    pub(super) fn best(&self, candidates: &FixedBitSet) -> Option<TechSlot> {
        candidates
            .ones()
            .min_by(|&a, &b| self.techs[a].rank().cmp(&self.techs[b].rank()))
    }

    pub(super) fn view(&self, slot: TechSlot) -> TechnicianView {
        let tech = &self.techs[slot];
        TechnicianView {
            id: tech.profile.id.clone(),
            skills: tech.profile.skills.clone(),
            languages: tech.profile.languages.clone(),
            regions: tech.profile.regions.clone(),
            capacity: tech.profile.capacity,
            available: tech.available,
            paused: tech.paused,
            missed_offers: tech.missed_offers,
            active_cases: tech.sessions.iter().cloned().collect(),
            offered_cases: tech.offers.iter().cloned().collect(),
            idle_since: tech.idle_since,
        }
    }

    /// Every technician in id order.
    pub(super) fn views(&self) -> Vec<TechnicianView> {
        self.by_id.values().map(|&slot| self.view(slot)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_holder_counts_follow_presence_load_and_profile() {
        let mut pool = TechnicianPool::default();
        let profile = TechnicianProfile {
            id: TechnicianId::new("a"),
            skills: vec!["car".into()],
            languages: vec!["en".into()],
            regions: vec!["north".into()],
            capacity: 1,
        };
        let en = pool.languages.intern("en");
        let zh = pool.languages.intern("zh");
        assert!(!pool.languages.has_free_holder(en));
        pool.announce(profile.clone(), true, 0);
        assert!(pool.languages.has_free_holder(en));
        let slot = pool.slot(&profile.id).unwrap();
        pool.update(slot, |tech| tech.offers.insert(CaseId::new("c")));
        assert!(!pool.languages.has_free_holder(en), "full");
        pool.update(slot, |tech| tech.offers.clear());
        assert!(pool.languages.has_free_holder(en));
        let speaks_zh = TechnicianProfile {
            languages: vec!["zh".into()],
            ..profile.clone()
        };
        pool.announce(speaks_zh.clone(), true, 1);
        assert!(!pool.languages.has_free_holder(en));
        assert!(pool.languages.has_free_holder(zh));
        pool.announce(speaks_zh, false, 2);
        assert!(!pool.languages.has_free_holder(zh));
        assert!(pool.free().is_clear() && pool.staffed().is_clear());
    }
}
