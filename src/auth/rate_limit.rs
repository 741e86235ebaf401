//! Submissions per second per company, as a token bucket (governor's GCRA). Each
//! replica keeps its own buckets: with N API replicas a company can submit up to N
//! times its limit.

use crate::domain::company::{Caller, CompanyId, RateLimit};
use crate::error::Error;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

pub struct SubmitLimiter {
    default: RateLimit,
    clock: DefaultClock,
    buckets: Mutex<HashMap<CompanyId, (RateLimit, DefaultDirectRateLimiter)>>,
}

impl SubmitLimiter {
    /// `default` applies to companies that have no limit of their own.
    pub fn new(default: RateLimit) -> Self {
        Self {
            default,
            clock: DefaultClock::default(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one submission from the caller's bucket, or says how long to wait.
    pub fn check(&self, caller: &Caller) -> Result<(), Error> {
        let limit = caller.rate_limit.unwrap_or(self.default);
        if limit.is_unlimited() {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().expect("rate limit lock");
        let entry = buckets
            .entry(caller.company.clone())
            .or_insert_with(|| (limit, self.limiter(limit)));
        if entry.0 != limit {
            // The company's limit changed: start a bucket with the new one.
            *entry = (limit, self.limiter(limit));
        }
        entry.1.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            Error::rate_limited(
                format!(
                    "company '{}' may submit {} jobs per second (burst {}); try again in {:.1} s",
                    caller.company,
                    limit.per_second,
                    limit.burst,
                    wait.as_secs_f64()
                ),
                wait,
            )
        })
    }

    fn limiter(&self, limit: RateLimit) -> DefaultDirectRateLimiter {
        let period = Duration::from_secs_f64(1.0 / limit.per_second).max(Duration::from_nanos(1));
        let burst = NonZeroU32::new(limit.burst.max(1)).expect("at least 1");
        let quota = Quota::with_period(period)
            .expect("a positive period")
            .allow_burst(burst);
        RateLimiter::direct_with_clock(quota, self.clock.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::company::Entitlements;

    #[test]
    fn a_bucket_allows_its_burst_then_says_when() {
        let limiter = SubmitLimiter::new(RateLimit {
            per_second: 0.5,
            burst: 2,
        });
        let caller = Caller::operator(CompanyId::parse("acme").unwrap(), Entitlements::default());
        assert!(limiter.check(&caller).is_ok());
        assert!(limiter.check(&caller).is_ok());
        let err = limiter.check(&caller).unwrap_err();
        assert_eq!(err.code, crate::error::ErrorCode::RateLimited);
        let wait = err.retry_after.unwrap();
        assert!(wait > Duration::from_millis(1000) && wait <= Duration::from_secs(2));
        // Another company has its own bucket; an unlimited company is never refused.
        let other = Caller::operator(CompanyId::parse("globex").unwrap(), Entitlements::default());
        assert!(limiter.check(&other).is_ok());
        let mut free = other.clone();
        free.rate_limit = Some(RateLimit {
            per_second: 0.0,
            burst: 1,
        });
        for _ in 0..100 {
            assert!(limiter.check(&free).is_ok());
        }
    }
}
