//! When a feed may be asked again. The schedule says when an outlet's feeds are looked at; this
//! says which of them are due, so that a feed is never asked sooner than `min_interval_secs`,
//! than the server's own freshness hints, or than its `Retry-After`, and a failing feed backs
//! off instead of being retried on every tick.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The longest a failing feed waits between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// The longest wait a server can impose with `Retry-After`, `max-age`, `Expires` or `<ttl>`: a
/// misconfigured header must not silence a feed for weeks.
pub const MAX_SERVER_DELAY: Duration = Duration::from_secs(24 * 3600);

/// The earliest next poll of a feed, and what set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Next {
    pub at: DateTime<Utc>,
    pub reason: &'static str,
}

/// One outlet's polling rules.
#[derive(Clone, Copy, Debug)]
pub struct Cadence {
    /// `[polling] min_interval_secs`.
    pub min_interval: Duration,
    /// `[polling] respect_cache_headers`.
    pub respect_cache_headers: bool,
    /// The time between two of the outlet's scheduled ticks: backoff counts in ticks.
    pub tick: Duration,
}

impl Cadence {
    /// Tells whether a feed whose earliest next poll is `next` is asked on a tick at `now`.
    pub fn is_due(&self, next: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        next.is_none_or(|at| at <= now)
    }

    /// Decides when to ask next after an answer to the poll of the tick at `tick`: the minimum
    /// interval, or longer if the server's freshness (`max-age`, `Expires`) or the feed's `<ttl>`
    /// asks for it. Counted from the tick, not from the moment the request went out, so that "every
    /// 5 minutes" stays due on the tick 5 minutes later.
    pub fn after_success(
        &self,
        tick: DateTime<Utc>,
        fresh_for: Option<Duration>,
        ttl: Option<Duration>,
    ) -> Next {
        let mut wait = (self.min_interval, "interval");
        if self.respect_cache_headers {
            for (hint, reason) in [(fresh_for, "Cache-Control"), (ttl, "ttl")] {
                match hint.map(|h| h.min(MAX_SERVER_DELAY)) {
                    Some(hint) if hint > wait.0 => wait = (hint, reason),
                    _ => {}
                }
            }
        }
        Next {
            at: tick + wait.0,
            reason: wait.1,
        }
    }

    /// Decides when to ask next after the `failures`-th failure in a row of the poll of the tick at
    /// `tick`, answered at `answered`: what `Retry-After` asked for, counted from the answer; else
    /// one tick, two, four… (at most [`MAX_BACKOFF`]), and from the second failure on up to a tenth
    /// more (at least one tick) at random, so that feeds that failed together do not all come back
    /// on the same tick.
    pub fn after_failure(
        &self,
        tick: DateTime<Utc>,
        answered: DateTime<Utc>,
        failures: u32,
        retry_after: Option<Duration>,
    ) -> Next {
        let floor = tick + self.min_interval;
        if let Some(asked) = retry_after {
            let at = answered + asked.min(MAX_SERVER_DELAY);
            return match at > floor {
                true => Next {
                    at,
                    reason: "Retry-After",
                },
                false => Next {
                    at: floor,
                    reason: "interval",
                },
            };
        }
        let unit = self.tick.max(self.min_interval).max(Duration::from_secs(1));
        let doublings = failures.saturating_sub(1).min(16);
        let delay = unit.saturating_mul(1 << doublings).min(MAX_BACKOFF);
        let spare_units = match failures {
            0 | 1 => 0,
            _ => ((delay.as_secs_f64() / 10.0 / unit.as_secs_f64()) as u32).max(1),
        };
        let jitter = unit * fastrand::u32(0..=spare_units);
        Next {
            at: tick + delay + jitter,
            reason: "backoff",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn cadence() -> Cadence {
        Cadence {
            min_interval: 5 * MINUTE,
            respect_cache_headers: true,
            tick: 5 * MINUTE,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn waited(next: Next) -> Duration {
        (next.at - now()).to_std().unwrap()
    }

    #[test]
    fn the_longest_of_interval_max_age_and_ttl_wins() {
        let c = cadence();
        assert_eq!(c.after_success(now(), None, None).reason, "interval");
        let cached = c.after_success(now(), Some(20 * MINUTE), Some(10 * MINUTE));
        assert_eq!(
            (waited(cached), cached.reason),
            (20 * MINUTE, "Cache-Control")
        );
        let ttl = c.after_success(now(), Some(MINUTE), Some(60 * MINUTE));
        assert_eq!((waited(ttl), ttl.reason), (60 * MINUTE, "ttl"));
        let year = c.after_success(now(), Some(Duration::from_secs(31_536_000)), None);
        assert_eq!(waited(year), MAX_SERVER_DELAY);
        let ignoring = Cadence {
            respect_cache_headers: false,
            ..c
        };
        let plain = ignoring.after_success(now(), Some(20 * MINUTE), Some(60 * MINUTE));
        assert_eq!(waited(plain), 5 * MINUTE);
    }

    #[test]
    fn failures_back_off_exponentially_with_jitter_and_a_cap() {
        let c = cadence();
        for (failures, ticks, spare) in [
            (1, 1, 0),
            (2, 2, 1),
            (3, 4, 1),
            (4, 8, 1),
            (5, 16, 1),
            (6, 32, 3),
        ] {
            let next = c.after_failure(now(), now(), failures, None);
            let base = 5 * MINUTE * ticks;
            assert!(waited(next) >= base && waited(next) <= base + 5 * MINUTE * spare);
            assert_eq!(waited(next).as_secs() % 300, 0, "backoff keeps to ticks");
            assert_eq!(next.reason, "backoff");
        }
        let spread: std::collections::HashSet<_> = (0..50)
            .map(|_| c.after_failure(now(), now(), 2, None).at)
            .collect();
        assert_eq!(spread.len(), 2, "feeds failing together come back apart");
        assert!(waited(c.after_failure(now(), now(), 60, None)) <= MAX_BACKOFF.mul_f64(1.1));
    }

    #[test]
    fn retry_after_is_honoured_from_the_answer_but_not_below_the_interval() {
        let c = cadence();
        let answered = now() + Duration::from_secs(2);
        let asked = c.after_failure(now(), answered, 3, Some(30 * MINUTE));
        assert_eq!(asked.at, answered + 30 * MINUTE);
        assert_eq!(asked.reason, "Retry-After");
        let short = c.after_failure(now(), answered, 1, Some(MINUTE));
        assert_eq!((waited(short), short.reason), (5 * MINUTE, "interval"));
        let forever = c.after_failure(now(), now(), 1, Some(Duration::from_secs(10_000_000)));
        assert_eq!(waited(forever), MAX_SERVER_DELAY);
    }

    #[test]
    fn the_next_poll_counts_from_the_tick_not_from_the_moment_the_poll_began() {
        let c = cadence();
        let next = c.after_success(now(), None, None);
        assert_eq!(next.at, now() + 5 * MINUTE);
        assert!(c.is_due(None, now()));
        assert!(c.is_due(Some(next.at), now() + 5 * MINUTE));
        assert!(!c.is_due(Some(next.at), now() + 5 * MINUTE - Duration::from_millis(1)));
    }
}
