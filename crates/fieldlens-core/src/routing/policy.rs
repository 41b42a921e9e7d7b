//! The routing policy: eligibility tiers that widen with waiting time, offer timeout,
//! auto-pause threshold and the handle-time estimator's settings.

use serde::{Deserialize, Serialize};

use super::RoutingError;

/// Most tiers a policy may have; a handful is plenty, and the limit keeps every decision cheap.
pub const MAX_TIERS: usize = 16;

/// Longest offer timeout accepted (one hour); longer would park callers behind absent technicians.
pub const MAX_OFFER_TIMEOUT_MS: i64 = 3_600_000;

/// How the hub routes callers to technicians. Read from the `[routing]` table of the hub's
/// config file; every field may be omitted and then takes its [`Default`] value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingPolicy {
    /// Eligibility steps, narrowest first. Required skills always apply; language and region
    /// matching can be dropped as a caller waits longer (like Asterisk penalty rules or Amazon
    /// Connect routing steps). The first tier starts at `after_wait_ms = 0`.
    pub tiers: Vec<Tier>,
    /// How long a technician has to answer an offer before it expires and the caller returns
    /// to the queue at the same place.
    pub offer_timeout_ms: i64,
    /// Consecutive missed (expired) offers after which a technician is paused automatically
    /// until they announce themselves available again. At least 1.
    pub max_missed_offers: u32,
    /// Handle time assumed before any session has been observed, and the estimator's start.
    pub default_handle_time_ms: i64,
    /// Weight of the newest observed handle time in the exponentially weighted moving average,
    /// in `(0, 1]`; 1 means "only the last session counts".
    pub handle_time_alpha: f64,
}

/// One eligibility step: from `after_wait_ms` of waiting on, a technician is eligible when they
/// have every required skill and, if asked for, the caller's language and region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Waiting time (since the caller was enqueued) from which this tier applies.
    pub after_wait_ms: i64,
    /// Whether the technician must speak the caller's language.
    pub match_language: bool,
    /// Whether the technician must serve the caller's region.
    pub match_region: bool,
}

impl Default for RoutingPolicy {
    /// Language and region for the first 60 s, then language only; language is never dropped
    /// because a remote diagnosis is a conversation. Offers last 20 s, three missed offers in a
    /// row pause a technician, and handle time starts at 10 minutes with a 0.2 EWMA weight.
    fn default() -> Self {
        Self {
            tiers: vec![
                Tier {
                    after_wait_ms: 0,
                    match_language: true,
                    match_region: true,
                },
                Tier {
                    after_wait_ms: 60_000,
                    match_language: true,
                    match_region: false,
                },
            ],
            offer_timeout_ms: 20_000,
            max_missed_offers: 3,
            default_handle_time_ms: 600_000,
            handle_time_alpha: 0.2,
        }
    }
}

impl RoutingPolicy {
    /// Checks every setting; the error names the first bad field.
    pub fn validate(&self) -> Result<(), RoutingError> {
        let invalid = |field: String, reason: &str| {
            Err(RoutingError::InvalidPolicy {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.tiers.is_empty() {
            return invalid("tiers".into(), "at least one tier is required");
        }
        if self.tiers.len() > MAX_TIERS {
            return invalid("tiers".into(), &format!("at most {MAX_TIERS} tiers"));
        }
        if self.tiers[0].after_wait_ms != 0 {
            return invalid(
                "tiers[0].after_wait_ms".into(),
                "the first tier must start at 0",
            );
        }
        for (index, pair) in self.tiers.windows(2).enumerate() {
            let (earlier, later) = (pair[0], pair[1]);
            let at = index + 1;
            if later.after_wait_ms <= earlier.after_wait_ms {
                return invalid(
                    format!("tiers[{at}].after_wait_ms"),
                    "must be greater than the previous tier's",
                );
            }
            if later.match_language && !earlier.match_language {
                return invalid(
                    format!("tiers[{at}].match_language"),
                    "tiers may only widen: language matching cannot come back once dropped",
                );
            }
            if later.match_region && !earlier.match_region {
                return invalid(
                    format!("tiers[{at}].match_region"),
                    "tiers may only widen: region matching cannot come back once dropped",
                );
            }
        }
        if self.offer_timeout_ms <= 0 || self.offer_timeout_ms > MAX_OFFER_TIMEOUT_MS {
            return invalid(
                "offer_timeout_ms".into(),
                &format!("must be in 1..={MAX_OFFER_TIMEOUT_MS}"),
            );
        }
        if self.max_missed_offers == 0 {
            return invalid("max_missed_offers".into(), "must be at least 1");
        }
        if self.default_handle_time_ms <= 0 {
            return invalid("default_handle_time_ms".into(), "must be positive");
        }
        if !(self.handle_time_alpha > 0.0 && self.handle_time_alpha <= 1.0) {
            return invalid("handle_time_alpha".into(), "must be in (0, 1]");
        }
        Ok(())
    }

    /// Index of the tier that applies after `waited_ms` of waiting (negative waits count as 0).
    pub fn tier_index(&self, waited_ms: i64) -> usize {
        self.tiers
            .partition_point(|tier| tier.after_wait_ms <= waited_ms)
            .saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(after_wait_ms: i64, match_language: bool, match_region: bool) -> Tier {
        Tier {
            after_wait_ms,
            match_language,
            match_region,
        }
    }

    fn field_of(policy: &RoutingPolicy) -> String {
        match policy.validate() {
            Err(RoutingError::InvalidPolicy { field, .. }) => field,
            other => panic!("expected an invalid policy, got {other:?}"),
        }
    }

    #[test]
    fn default_policy_is_valid() {
        RoutingPolicy::default().validate().unwrap();
    }

    #[test]
    fn each_bad_field_is_named() {
        let base = RoutingPolicy::default();
        let with = |change: &dyn Fn(&mut RoutingPolicy)| {
            let mut policy = base.clone();
            change(&mut policy);
            field_of(&policy)
        };
        assert_eq!(with(&|p| p.tiers.clear()), "tiers");
        assert_eq!(
            with(&|p| p.tiers = vec![tier(0, true, true); MAX_TIERS + 1]),
            "tiers"
        );
        assert_eq!(
            with(&|p| p.tiers[0].after_wait_ms = 5),
            "tiers[0].after_wait_ms"
        );
        assert_eq!(
            with(&|p| p.tiers[1].after_wait_ms = 0),
            "tiers[1].after_wait_ms"
        );
        assert_eq!(
            with(&|p| p.tiers = vec![tier(0, false, true), tier(10, true, true)]),
            "tiers[1].match_language"
        );
        assert_eq!(
            with(&|p| p.tiers = vec![tier(0, true, false), tier(10, true, true)]),
            "tiers[1].match_region"
        );
        assert_eq!(with(&|p| p.offer_timeout_ms = 0), "offer_timeout_ms");
        assert_eq!(with(&|p| p.max_missed_offers = 0), "max_missed_offers");
        assert_eq!(
            with(&|p| p.default_handle_time_ms = -1),
            "default_handle_time_ms"
        );
        assert_eq!(with(&|p| p.handle_time_alpha = 0.0), "handle_time_alpha");
        assert_eq!(
            with(&|p| p.handle_time_alpha = f64::NAN),
            "handle_time_alpha"
        );
    }

    #[test]
    fn tier_index_follows_waiting_time() {
        let policy = RoutingPolicy {
            tiers: vec![
                tier(0, true, true),
                tier(100, true, false),
                tier(300, false, false),
            ],
            ..RoutingPolicy::default()
        };
        assert_eq!(policy.tier_index(-5), 0);
        assert_eq!(policy.tier_index(0), 0);
        assert_eq!(policy.tier_index(99), 0);
        assert_eq!(policy.tier_index(100), 1);
        assert_eq!(policy.tier_index(299), 1);
        assert_eq!(policy.tier_index(300), 2);
        assert_eq!(policy.tier_index(i64::MAX), 2);
    }

    #[test]
    fn partial_config_takes_defaults() {
        let policy: RoutingPolicy = serde_json::from_str(r#"{"offer_timeout_ms": 5000}"#).unwrap();
        assert_eq!(policy.offer_timeout_ms, 5000);
        assert_eq!(policy.tiers, RoutingPolicy::default().tiers);
        assert!(serde_json::from_str::<RoutingPolicy>(r#"{"offer_timeout": 5}"#).is_err());
    }
}
