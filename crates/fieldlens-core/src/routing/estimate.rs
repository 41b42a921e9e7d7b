//! Wait estimates: an exponentially weighted moving average of observed handle times, and
//! the expected time until a caller reaches a technician slot (see the module docs of
//! [`routing`](super) for the method).

use fixedbitset::FixedBitSet;

use super::Router;
use super::queue::Caller;
use crate::UnixMs;

/// Exponentially weighted moving average of session handle times (accept → end).
#[derive(Debug, Clone)]
pub(super) struct HandleTimeEstimator {
    mean_ms: f64,
    alpha: f64,
}

impl HandleTimeEstimator {
    pub(super) fn new(initial_ms: i64, alpha: f64) -> Self {
        Self {
            mean_ms: initial_ms as f64,
            alpha,
        }
    }

    /// Folds one observed handle time into the average: `mean += alpha * (observed - mean)`.
    pub(super) fn observe(&mut self, handle_ms: i64) {
        self.mean_ms += self.alpha * (handle_ms.max(0) as f64 - self.mean_ms);
    }

    /// The current average, at least 1 ms.
    pub(super) fn mean_ms(&self) -> i64 {
        (self.mean_ms.round() as i64).max(1)
    }
}

/// Expected wait for a caller with `ahead` competing callers before them, when the eligible
/// technicians have `staffed_slots` slots of which `spare_slots` are not in a session: the
/// first `spare_slots` callers (this one included) are served at once; every further caller
/// waits for one more slot to free, and with `staffed_slots` sessions each lasting
/// `mean_handle_ms` on average, a slot frees every `mean_handle_ms / staffed_slots`.
/// `None` when nobody could serve the caller.
pub(super) fn queue_wait_ms(
    ahead: usize,
    spare_slots: usize,
    staffed_slots: usize,
    mean_handle_ms: i64,
) -> Option<i64> {
    if staffed_slots == 0 {
        return None;
    }
    let still_waiting = ahead.saturating_add(1).saturating_sub(spare_slots) as i128;
    let wait = still_waiting * i128::from(mean_handle_ms) / staffed_slots as i128;
    Some(i64::try_from(wait).unwrap_or(i64::MAX))
}

impl Router {
    /// The method of the module docs: the best, over the current tier and every wider tier the
    /// caller will reach, of (time until that tier) + [`queue_wait_ms`] with the technicians
    /// eligible at that tier and the queued callers ahead who compete for them.
    pub(super) fn estimate_wait_ms(&self, caller: &Caller, now: UnixMs) -> Option<i64> {
        let pool = &self.technicians;
        let staffed = pool.staffed();
        // Staffed technicians with all the skills of each skill set that has callers queued.
        let serving: Vec<Option<FixedBitSet>> = self
            .queue
            .skill_sets()
            .iter()
            .map(|set| {
                (!set.queued.is_empty()).then(|| {
                    let mut techs = staffed.clone();
                    pool.with_skills(&set.skills, &mut techs);
                    techs
                })
            })
            .collect();
        let mean_handle_ms = self.handle_time.mean_ms();
        let current = self.policy.tier_index(caller.waited(now));
        let mut eligible = FixedBitSet::new();
        let mut best: Option<i64> = None;
        for tier in &self.policy.tiers[current..] {
            pool.eligible_into(staffed, &caller.requirement, tier, &mut eligible);
            for &declined in &caller.declined {
                eligible.set(declined, false);
            }
            let (mut staffed_slots, mut spare_slots) = (0, 0);
            for slot in eligible.ones() {
                let tech = pool.get(slot);
                staffed_slots += tech.profile.capacity as usize;
                spare_slots += tech.unsessioned_slots();
            }
            let ahead: usize = self
                .queue
                .skill_sets()
                .iter()
                .zip(&serving)
                .filter_map(|(set, techs)| {
                    let competes = !techs.as_ref()?.is_disjoint(&eligible);
                    competes.then(|| set.queued.before(&caller.key))
                })
                .sum();
            let Some(queue_wait) = queue_wait_ms(ahead, spare_slots, staffed_slots, mean_handle_ms)
            else {
                continue;
            };
            let until_tier = caller
                .request
                .enqueued_at_ms
                .saturating_add(tier.after_wait_ms)
                .saturating_sub(now)
                .max(0);
            let wait = until_tier.saturating_add(queue_wait);
            best = Some(best.map_or(wait, |so_far| so_far.min(wait)));
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_moves_toward_observations_by_alpha() {
        let mut estimator = HandleTimeEstimator::new(1000, 0.25);
        estimator.observe(2000);
        assert_eq!(estimator.mean_ms(), 1250);
        estimator.observe(2000);
        assert_eq!(estimator.mean_ms(), 1438); // 1250 + 0.25 * 750 = 1437.5
        let mut only_last = HandleTimeEstimator::new(1000, 1.0);
        only_last.observe(42);
        assert_eq!(only_last.mean_ms(), 42);
    }

    #[test]
    fn queue_wait_formula() {
        assert_eq!(queue_wait_ms(0, 1, 1, 600), Some(0));
        assert_eq!(queue_wait_ms(2, 3, 3, 600), Some(0));
        assert_eq!(queue_wait_ms(0, 0, 1, 600), Some(600));
        assert_eq!(queue_wait_ms(3, 0, 2, 600), Some(1200));
        assert_eq!(queue_wait_ms(3, 0, 4, 600), Some(600));
        assert_eq!(queue_wait_ms(5, 0, 0, 600), None);
        assert_eq!(queue_wait_ms(usize::MAX, 0, 1, i64::MAX), Some(i64::MAX));
    }
}
