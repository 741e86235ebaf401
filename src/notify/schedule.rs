//! When to try a failed delivery again: a configured schedule with jitter.

use rand::Rng;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetrySchedule {
    delays: Vec<f64>,
}

impl RetrySchedule {
    pub fn new(delays_seconds: &[f64]) -> Self {
        Self {
            delays: delays_seconds.iter().map(|d| d.max(0.0)).collect(),
        }
    }

    /// The wait after `attempts_made` failed attempts, +/-20 % so that receivers that come
    /// back up are not hit by every delivery at once; None when the schedule is spent.
    pub fn delay_after(&self, attempts_made: usize) -> Option<Duration> {
        let base = *self.delays.get(attempts_made.checked_sub(1)?)?;
        let jitter = rand::rng().random_range(0.8..=1.2);
        Some(Duration::from_secs_f64(base * jitter))
    }

    /// Total span of the schedule, before jitter.
    pub fn span(&self) -> Duration {
        Duration::from_secs_f64(self.delays.iter().sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_follow_the_schedule_with_bounded_jitter() {
        let schedule = RetrySchedule::new(&[10.0, 100.0]);
        assert_eq!(schedule.delay_after(0), None);
        let first = schedule.delay_after(1).unwrap().as_secs_f64();
        assert!((8.0..=12.0).contains(&first), "{first}");
        let second = schedule.delay_after(2).unwrap().as_secs_f64();
        assert!((80.0..=120.0).contains(&second), "{second}");
        assert_eq!(schedule.delay_after(3), None);
    }

    #[test]
    fn the_default_schedule_spans_more_than_three_days() {
        let defaults = crate::config::Settings::default();
        let span = RetrySchedule::new(&defaults.webhooks.retry_schedule_seconds).span();
        assert!(span > Duration::from_secs(3 * 24 * 3600), "{span:?}");
    }
}
