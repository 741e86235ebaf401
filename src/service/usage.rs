//! Usage: what a company was billed over a period.

use super::Service;
use crate::domain::{Caller, Usage};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};

/// The most billed outputs one usage answer holds; a longer period must be asked for in
/// parts.
pub const MAX_USAGE_LINES: u64 = 10_000;

impl Service {
    /// The caller's billed outputs with `from <= billed_at < to` (half-open; either end
    /// may be open), oldest first, and their totals. At most [`MAX_USAGE_LINES`] lines:
    /// a period holding more is refused (INVALID_ARGUMENT) rather than summed in part,
    /// so a total is always the sum of the lines returned with it.
    #[tracing::instrument(skip_all, fields(company_id = %caller.company))]
    pub async fn usage(
        &self,
        caller: &Caller,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Usage> {
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(Error::invalid_argument("to", "must not be before from"));
        }
        let lines = self
            .inner
            .usage
            .lines(&caller.company, from, to, MAX_USAGE_LINES + 1)
            .await?;
        if lines.len() as u64 > MAX_USAGE_LINES {
            return Err(Error::invalid_argument(
                "from",
                format!(
                    "the period holds more than {MAX_USAGE_LINES} billed outputs; ask for a shorter one"
                ),
            ));
        }
        Ok(Usage::sum(lines, &self.inner.tariff.currency))
    }
}
