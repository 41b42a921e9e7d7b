//! Routing engine: pairs waiting callers with technicians. IO-free and deterministic — the hub
//! passes the time in and acts on what comes back.
//!
//! # Rules
//!
//! - **Order.** Callers are served by priority (`Urgent`, `High`, `Normal`), then first come
//!   first served by the hub-assigned `arrival` number, which survives restarts.
//! - **Eligibility.** A technician is eligible for a caller when they have every required
//!   skill and — as the caller's current [`Tier`] asks — speak the caller's language and serve
//!   their region. Tiers widen with the caller's waiting time (`enqueued_at_ms` → now), like
//!   Asterisk penalty rules or Amazon Connect routing steps; skills are never dropped.
//!   A technician who declined a caller is never eligible for that caller again.
//! - **Decision.** [`Router::next_offer`] takes the first caller in routing order who has an
//!   eligible technician able to take an offer (available, not paused, below capacity) and
//!   offers them to the least loaded such technician, among equals the one idle longest, then
//!   by id. A caller nobody can serve yet does not block later callers.
//! - **Capacity.** A technician holds at most `capacity` sessions; pending offers count.
//! - **Offers are reservations** until `offer_timeout_ms`. Accepting turns the slot into a
//!   session and takes the caller out of the queue. Declining or missing (expiry) puts the
//!   caller back at the same place. A miss also counts against the technician and sends them
//!   to the back of the idle line; `max_missed_offers` consecutive misses pause them until
//!   they announce themselves available again. Accepting or declining ends a miss streak.
//!   Going unavailable stops new offers; pending offers stay valid until answered or expired.
//! - **Callback.** A caller who asks to be called back keeps their place; the flag travels
//!   with the offer so the technician knows to call.
//!
//! # Keeping a decision fast
//!
//! Callers with the same requirements (skills, language, region) and priority form a *lane*,
//! a FIFO of the callers not holding an offer. Within a lane the head arrived first and so has
//! waited longest, so its tier is the widest: if the head has no eligible technician, nobody
//! behind it has. (This relies on the hub assigning `arrival` and `enqueued_at_ms` together;
//! if they disagreed, routing would still never leave eligibility, but a caller could wait
//! for their lane head's tier.) A decision therefore visits only lane heads in routing order,
//! plus the next caller of a lane whose head only declines held back. Each head's key carries
//! a small probe (wait start, skill set, language, region) so the scan reads few cache lines.
//!
//! Technicians are indexed as bitsets, one bit per technician: free, staffed, and the holders
//! of each skill, language and region; each language and region also counts its free holders.
//! A head whose language or region (as its tier asks) has no free holder is skipped at once;
//! otherwise its eligible set is "free with these skills" (once per skill set and decision)
//! AND language holders AND region holders: a few word operations for 1,000 technicians.
//! The worst case, many free technicians and none eligible, costs one such test per lane
//! head. Positions come from a sorted key array (O(log n) per lookup, a memmove when a caller
//! leaves). Interned names, lanes and skill sets live as long as the router; their number is
//! bounded by the names the hub accepts.
//!
//! # Estimated wait
//!
//! - Handle time `H` is an exponentially weighted moving average of observed sessions
//!   (accept → end): `H ← H + α·(observed − H)`, starting at `default_handle_time_ms`, with
//!   `α = handle_time_alpha`. Sessions restored after a restart are not sampled (their
//!   duration would include the outage).
//! - For a caller and a tier `k` they are in or will reach: `E` = staffed technicians eligible
//!   at `k` (minus any who declined), `N` = their total capacity, `S` = their slots not in a
//!   session, `A` = queued callers ahead in routing order whose required skills some
//!   technician in `E` also serves (they compete for the same slots; offered callers count,
//!   their reserved slot is in `S`). Then
//!   `wait_k = time until tier k + max(0, A + 1 − S) · H / N`:
//!   the first `S` callers are served at once and after that a slot frees every `H / N`.
//! - The estimate is the smallest `wait_k`; `None` when no staffed technician is eligible at
//!   any tier; 0 while an offer is pending. It is recomputed on every call, so it follows
//!   the queue as callers are served, cancel, or technicians come and go.
//! - It is deliberately cheap (O(skill sets × technicians / 64) per caller) and approximate: it
//!   ignores the language and region of competing callers and assumes their sessions take `H`.

mod error;
mod estimate;
mod inputs;
mod policy;
mod queue;
mod technicians;
mod views;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use fixedbitset::FixedBitSet;

pub use error::RoutingError;
pub use inputs::{
    CallerRequest, MAX_CAPACITY, MAX_NAME_LEN, MAX_PROFILE_ENTRIES, MAX_REQUIRED_SKILLS,
    TechnicianProfile,
};
pub use policy::{MAX_OFFER_TIMEOUT_MS, MAX_TIERS, RoutingPolicy, Tier};
pub use views::{ExpiredOffer, Offer, QueueEntryView, RemovedCaller, Standing, TechnicianView};

use crate::{CaseId, TechnicianId, UnixMs};
use estimate::HandleTimeEstimator;
use queue::{CallerQueue, OrderKey, PendingOffer};
use technicians::{TechSlot, TechnicianPool};

/// A session between a technician and a caller who left the queue.
#[derive(Debug, Clone, Copy)]
struct Session {
    tech: TechSlot,
    started_at: UnixMs,
    /// Whether its duration feeds the handle-time average (not for restored sessions).
    sampled: bool,
}

/// The routing engine: the queue, the technicians, their sessions and the handle-time estimate.
#[derive(Debug)]
pub struct Router {
    policy: RoutingPolicy,
    queue: CallerQueue,
    technicians: TechnicianPool,
    sessions: HashMap<CaseId, Session>,
    handle_time: HandleTimeEstimator,
}

impl Router {
    /// A router with an empty queue and no technicians; the policy is validated first.
    pub fn new(policy: RoutingPolicy) -> Result<Self, RoutingError> {
        policy.validate()?;
        Ok(Self {
            handle_time: HandleTimeEstimator::new(
                policy.default_handle_time_ms,
                policy.handle_time_alpha,
            ),
            policy,
            queue: CallerQueue::default(),
            technicians: TechnicianPool::default(),
            sessions: HashMap::new(),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &RoutingPolicy {
        &self.policy
    }

    /// Puts a caller in the queue. Refused if the request is invalid or the case is already
    /// queued or in a session.
    pub fn enqueue(&mut self, request: CallerRequest) -> Result<(), RoutingError> {
        request.validate()?;
        self.ensure_unknown(&request.case_id)?;
        let requirement = self.technicians.requirement(&request);
        self.queue.insert(request, requirement);
        Ok(())
    }

    /// Takes a caller out of the queue (cancelled or abandoned), withdrawing a pending offer.
    /// `None` if the case is not queued (a case in session ends with [`Router::end_session`]).
    pub fn remove(&mut self, case: &CaseId) -> Option<RemovedCaller> {
        let caller = self.queue.remove(case)?;
        let withdrawn_offer = caller.offer.map(|offer| {
            self.technicians.update(offer.tech, |tech| {
                tech.offers.remove(case);
                tech.profile.id.clone()
            })
        });
        Some(RemovedCaller {
            request: caller.request,
            withdrawn_offer,
        })
    }

    /// Records whether a queued caller wants a callback instead of waiting on the line; they
    /// keep their place either way.
    pub fn set_callback(&mut self, case: &CaseId, callback: bool) -> Result<(), RoutingError> {
        let caller = self
            .queue
            .get_mut(case)
            .ok_or_else(|| RoutingError::NotQueued(case.clone()))?;
        caller.request.callback = callback;
        Ok(())
    }

    /// Applies a technician's presence: their profile and whether they take work. Coming
    /// back available (from unavailable, paused or unknown) lifts an automatic pause, clears
    /// the missed-offer streak and starts their idle time if they have no work; a repeated
    /// announcement while available changes only the profile. Pending offers and sessions are
    /// unaffected either way; a lower capacity only holds back new offers.
    pub fn set_presence(
        &mut self,
        profile: TechnicianProfile,
        available: bool,
        now: UnixMs,
    ) -> Result<(), RoutingError> {
        profile.validate()?;
        self.technicians.announce(profile, available, now);
        Ok(())
    }

    /// Makes one routing decision (see the module docs): reserves the caller and one slot of
    /// the technician until `now + offer_timeout_ms`. `None` when no waiting caller has an
    /// eligible technician free. Call [`Router::expire_offers`] first so lapsed reservations
    /// are back in play.
    pub fn next_offer(&mut self, now: UnixMs) -> Option<Offer> {
        let (seq, tier, tech) = self.find_match(now)?;
        let expires_at = now.saturating_add(self.policy.offer_timeout_ms);
        self.queue.reserve(seq, PendingOffer { tech, expires_at });
        let caller = self.queue.by_seq(seq);
        let case_id = caller.request.case_id.clone();
        let technician_id = self.technicians.update(tech, |t| {
            t.offers.insert(case_id.clone());
            t.profile.id.clone()
        });
        Some(Offer {
            case_id,
            technician_id,
            tier,
            waited_ms: caller.waited(now),
            expires_at,
            priority: caller.request.priority,
            callback: caller.request.callback,
        })
    }

    /// The first waiting caller in routing order with an eligible free technician, the tier
    /// that applies to them and the technician to offer them to.
    fn find_match(&self, now: UnixMs) -> Option<(u64, usize, TechSlot)> {
        let pool = &self.technicians;
        let free = pool.free();
        if free.is_clear() {
            return None;
        }
        let skill_sets = self.queue.skill_sets();
        // Free technicians with every skill of a skill set, worked out once per decision.
        let mut skilled: Vec<Option<FixedBitSet>> = vec![None; skill_sets.len()];
        let mut heads = self.queue.heads().peekable();
        // Callers behind a lane head that only declines held back, merged in routing order.
        let mut behind_declined: BinaryHeap<Reverse<OrderKey>> = BinaryHeap::new();
        let mut eligible = FixedBitSet::new();
        loop {
            let take_head = match (heads.peek(), behind_declined.peek()) {
                (Some((head, _)), Some(Reverse(behind))) => *head < behind,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return None,
            };
            let (key, probe) = if take_head {
                let (key, probe) = heads.next()?;
                (*key, *probe)
            } else {
                let key = behind_declined.pop()?.0;
                (key, self.queue.by_seq(key.seq).probe())
            };
            let tier_index = self
                .policy
                .tier_index(now.saturating_sub(probe.enqueued_at));
            let tier = &self.policy.tiers[tier_index];
            // Nobody in a lane behind an ineligible head can be served either: skip it.
            if (tier.match_language && !pool.languages.has_free_holder(probe.language))
                || (tier.match_region && !pool.regions.has_free_holder(probe.region))
            {
                continue;
            }
            let with_skills = skilled[probe.skill_set].get_or_insert_with(|| {
                let mut techs = free.clone();
                pool.with_skills(&skill_sets[probe.skill_set].skills, &mut techs);
                techs
            });
            if with_skills.is_clear() {
                continue;
            }
            eligible.clone_from(with_skills);
            pool.in_place(probe.language, probe.region, tier, &mut eligible);
            if eligible.is_clear() {
                continue;
            }
            if probe.has_declines {
                for &declined in &self.queue.by_seq(key.seq).declined {
                    eligible.set(declined, false);
                }
            }
            if let Some(tech) = pool.best(&eligible) {
                return Some((key.seq, tier_index, tech));
            }
            if let Some(next) = self.queue.next_in_lane(&key) {
                behind_declined.push(Reverse(next));
            }
        }
    }

    /// Ends every offer that has run out at `now`, earliest first: the caller waits again at
    /// the same place and the technician's missed-offer streak grows, pausing them once it
    /// reaches `max_missed_offers`.
    pub fn expire_offers(&mut self, now: UnixMs) -> Vec<ExpiredOffer> {
        let max_missed = self.policy.max_missed_offers;
        let mut expired = Vec::new();
        for seq in self.queue.due_offers(now) {
            let Some(offer) = self.queue.release(seq) else {
                continue;
            };
            let case_id = self.queue.by_seq(seq).request.case_id.clone();
            let (technician_id, missed_offers, technician_paused) =
                self.technicians.update(offer.tech, |tech| {
                    tech.offers.remove(&case_id);
                    tech.missed_offers = tech.missed_offers.saturating_add(1);
                    tech.idle_since = Some(now);
                    let pause = !tech.paused && tech.missed_offers >= max_missed;
                    tech.paused |= pause;
                    (tech.profile.id.clone(), tech.missed_offers, pause)
                });
            expired.push(ExpiredOffer {
                case_id,
                technician_id,
                missed_offers,
                technician_paused,
            });
        }
        expired
    }

    /// The sequence number and technician of a live offer of `case` to `tech`.
    fn live_offer(
        &self,
        case: &CaseId,
        tech: &TechnicianId,
        now: UnixMs,
    ) -> Result<(u64, TechSlot), RoutingError> {
        let no_offer = || RoutingError::NoOffer {
            case: case.clone(),
            technician: tech.clone(),
        };
        let slot = self.technicians.slot(tech).ok_or_else(no_offer)?;
        let caller = self.queue.get(case).ok_or_else(no_offer)?;
        let offer = caller
            .offer
            .filter(|offer| offer.tech == slot)
            .ok_or_else(no_offer)?;
        if now >= offer.expires_at {
            return Err(RoutingError::OfferExpired {
                case: case.clone(),
                technician: tech.clone(),
                expired_at: offer.expires_at,
            });
        }
        Ok((caller.key.seq, slot))
    }

    /// The technician accepts their live offer: the caller leaves the queue and the reserved
    /// slot becomes a session starting `now`. Ends the technician's miss streak.
    pub fn accept(
        &mut self,
        case: &CaseId,
        tech: &TechnicianId,
        now: UnixMs,
    ) -> Result<(), RoutingError> {
        let (_, slot) = self.live_offer(case, tech, now)?;
        self.queue.remove(case);
        self.technicians.update(slot, |t| {
            t.offers.remove(case);
            t.sessions.insert(case.clone());
            t.missed_offers = 0;
        });
        self.sessions.insert(
            case.clone(),
            Session {
                tech: slot,
                started_at: now,
                sampled: true,
            },
        );
        Ok(())
    }

    /// The technician declines their live offer: the caller waits again at the same place and
    /// is never offered to this technician again. Ends the technician's miss streak.
    pub fn decline(
        &mut self,
        case: &CaseId,
        tech: &TechnicianId,
        now: UnixMs,
    ) -> Result<(), RoutingError> {
        let (seq, slot) = self.live_offer(case, tech, now)?;
        if let Some(caller) = self.queue.get_mut(case) {
            caller.declined.push(slot);
        }
        self.queue.release(seq); // after the decline is noted: it shapes the lane head's probe
        self.technicians.update(slot, |t| {
            t.offers.remove(case);
            t.missed_offers = 0;
        });
        Ok(())
    }

    /// Ends a session: frees the technician's slot (they are idle from `now` if nothing else
    /// is on their plate) and feeds its handle time into the estimate.
    pub fn end_session(&mut self, case: &CaseId, now: UnixMs) -> Result<(), RoutingError> {
        let session = self
            .sessions
            .remove(case)
            .ok_or_else(|| RoutingError::NoSession(case.clone()))?;
        self.technicians.update(session.tech, |tech| {
            tech.sessions.remove(case);
            if tech.load() == 0 {
                tech.idle_since = Some(now);
            }
        });
        if session.sampled {
            self.handle_time
                .observe(now.saturating_sub(session.started_at));
        }
        Ok(())
    }

    /// Re-creates a session persisted before a restart, before technicians re-announce (an
    /// unknown technician is added as unavailable until they do). Its duration is not sampled
    /// for the handle-time average.
    pub fn restore_session(
        &mut self,
        case: CaseId,
        tech: TechnicianId,
        started_at: UnixMs,
    ) -> Result<(), RoutingError> {
        self.ensure_unknown(&case)?;
        let slot = self.technicians.ensure(&tech);
        self.technicians.update(slot, |t| {
            t.sessions.insert(case.clone());
        });
        self.sessions.insert(
            case,
            Session {
                tech: slot,
                started_at,
                sampled: false,
            },
        );
        Ok(())
    }

    fn ensure_unknown(&self, case: &CaseId) -> Result<(), RoutingError> {
        if self.queue.get(case).is_some() || self.sessions.contains_key(case) {
            return Err(RoutingError::DuplicateCase(case.clone()));
        }
        Ok(())
    }

    /// Where a queued caller stands (see the module docs for the estimate). `None` if the case
    /// is not in the queue.
    pub fn standing(&self, case: &CaseId, now: UnixMs) -> Option<Standing> {
        let caller = self.queue.get(case)?;
        let offered_to = caller
            .offer
            .map(|offer| self.technicians.get(offer.tech).profile.id.clone());
        let estimated_wait_ms = match offered_to {
            Some(_) => Some(0),
            None => self.estimate_wait_ms(caller, now),
        };
        Some(Standing {
            position: self.queue.position(&caller.key),
            waiting_total: self.queue.len(),
            estimated_wait_ms,
            tier: self.policy.tier_index(caller.waited(now)),
            offered_to,
        })
    }

    /// The first `limit` queued callers in routing order, offered ones included.
    pub fn queue_view(&self, now: UnixMs, limit: usize) -> Vec<QueueEntryView> {
        self.queue
            .in_order()
            .take(limit)
            .enumerate()
            .map(|(index, caller)| QueueEntryView {
                position: index + 1,
                request: caller.request.clone(),
                waited_ms: caller.waited(now),
                tier: self.policy.tier_index(caller.waited(now)),
                offered_to: caller
                    .offer
                    .map(|offer| self.technicians.get(offer.tech).profile.id.clone()),
                offer_expires_at: caller.offer.map(|offer| offer.expires_at),
            })
            .collect()
    }

    /// Whether any technician could take an offer now (available, not paused, not full).
    pub fn has_free_technician(&self) -> bool {
        !self.technicians.free().is_clear()
    }

    /// Number of queued callers, offered ones included.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// One technician as the router sees them.
    pub fn technician_view(&self, id: &TechnicianId) -> Option<TechnicianView> {
        self.technicians
            .slot(id)
            .map(|slot| self.technicians.view(slot))
    }

    /// Every technician the router knows, in id order.
    pub fn technicians(&self) -> Vec<TechnicianView> {
        self.technicians.views()
    }

    /// The next instant after `now` at which routing may change without any call in between:
    /// the earliest offer expiry (possibly already due) or the earliest tier widening of a
    /// waiting caller. The hub sleeps until then, then calls [`Router::expire_offers`] and
    /// [`Router::next_offer`]. `None` when nothing is pending.
    pub fn next_deadline(&self, now: UnixMs) -> Option<UnixMs> {
        let widenings = self.policy.tiers[1..].iter().filter_map(|tier| {
            self.queue
                .first_waiting_since_after(now.saturating_sub(tier.after_wait_ms))
                .map(|since| since.saturating_add(tier.after_wait_ms))
        });
        self.queue.next_expiry().into_iter().chain(widenings).min()
    }

    /// The current average handle time used for wait estimates.
    pub fn mean_handle_time_ms(&self) -> i64 {
        self.handle_time.mean_ms()
    }
}

#[cfg(test)]
mod tests;
