//! Usage: billed minutes and cost per day over a chosen period, as a bar chart drawn
//! server-side (inline SVG) with the same figures in a table.

use super::WebState;
use super::layout::{self, Nav};
use super::session::SignedIn;
use crate::domain::Usage;
use crate::error::Error;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{Days, NaiveDate, Utc};
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The longest period one page shows, in days.
pub const MAX_DAYS: u64 = 366;
const DEFAULT_DAYS: u64 = 30;

#[derive(Deserialize)]
pub struct UsageQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// One day's totals.
#[derive(Default, Clone)]
pub struct Day {
    pub minutes: u64,
    pub cost: Decimal,
}

/// Every day of `from..=to` with its totals (days without usage are zero).
pub fn per_day(usage: &Usage, from: NaiveDate, to: NaiveDate) -> BTreeMap<NaiveDate, Day> {
    let mut days: BTreeMap<NaiveDate, Day> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|d| (d, Day::default()))
        .collect();
    for line in &usage.lines {
        if let Some(day) = days.get_mut(&line.billed_at.date_naive()) {
            day.minutes += line.billable_minutes;
            day.cost += line.cost;
        }
    }
    days
}

fn parse_day(raw: &str, field: &str, default: NaiveDate) -> Result<NaiveDate, Error> {
    match raw.trim() {
        "" => Ok(default),
        raw => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map_err(|_| Error::invalid_argument(field, "must be a date, YYYY-MM-DD")),
    }
}

fn period(query: &UsageQuery) -> Result<(NaiveDate, NaiveDate), Error> {
    let today = Utc::now().date_naive();
    let to = parse_day(&query.to, "to", today)?;
    let from = parse_day(&query.from, "from", to - Days::new(DEFAULT_DAYS - 1))?;
    if from > to {
        return Err(Error::invalid_argument("to", "must not be before from"));
    }
    if (to - from).num_days() as u64 >= MAX_DAYS {
        return Err(Error::invalid_argument(
            "from",
            format!("the period is at most {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

/// `GET /ui/usage`.
pub async fn show(
    State(state): State<WebState>,
    signed_in: SignedIn,
    Query(query): Query<UsageQuery>,
) -> Response {
    let (from, to) = match period(&query) {
        Ok(period) => period,
        Err(e) => return layout::error_response(e),
    };
    let start = from.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let end = (to + Days::new(1))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc());
    let usage = match state.service.usage(&signed_in.caller, start, end).await {
        Ok(usage) => usage,
        Err(e) => return layout::error_response(e),
    };
    let days = per_day(&usage, from, to);
    let body = html! {
        h1 { "Usage" }
        form.filters method="get" action="/ui/usage" {
            label for="from" { "From" }
            input #from name="from" type="date" value=(from.format("%Y-%m-%d"));
            label for="to" { "To" }
            input #to name="to" type="date" value=(to.format("%Y-%m-%d"));
            button type="submit" { "Show" }
        }
        p.totals {
            strong { (usage.total_minutes) } " billed minutes, "
            strong { (usage.total_cost) " " (usage.currency) } " from " (from) " to " (to) " (UTC days)."
        }
        (chart(&days, &usage.currency))
        details {
            summary { "Per day, as a table" }
            table.usage {
                thead { tr { th scope="col" { "Day" } th scope="col" { "Minutes" } th scope="col" { "Cost (" (usage.currency) ")" } } }
                tbody {
                    @for (day, t) in days.iter().rev().filter(|(_, t)| t.minutes > 0) {
                        tr { td { (day) } td { (t.minutes) } td { (t.cost) } }
                    }
                }
            }
        }
    };
    layout::page("Usage", &signed_in, Nav::Usage, body).into_response()
}

/// Bars of billed minutes per day, each titled with its minutes and cost.
fn chart(days: &BTreeMap<NaiveDate, Day>, currency: &str) -> Markup {
    const W: f64 = 720.0;
    const H: f64 = 240.0;
    const LEFT: f64 = 40.0;
    const BOTTOM: f64 = 24.0;
    let max = days.values().map(|d| d.minutes).max().unwrap_or(0).max(1);
    let slot = (W - LEFT) / days.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let plot = H - BOTTOM - 8.0;
    let label_every = (days.len() / 8).max(1);
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (W) " " (H) } role="img" aria-labelledby="chart-title" preserveAspectRatio="none" {
                title #chart-title { "Billed minutes per day, " (days.len()) " days, at most " (max) " minutes a day" }
                line x1=(LEFT) y1=(H - BOTTOM) x2=(W) y2=(H - BOTTOM) class="axis" {}
                text x=(LEFT - 4.0) y=(H - BOTTOM - plot + 4.0) text-anchor="end" class="tick" { (max) }
                text x=(LEFT - 4.0) y=(H - BOTTOM) text-anchor="end" class="tick" { "0" }
                @for (i, (day, t)) in days.iter().enumerate() {
                    @let h = plot * t.minutes as f64 / max as f64;
                    @let x = LEFT + i as f64 * slot + (slot - bar) / 2.0;
                    rect class="bar" x=(format!("{x:.1}")) y=(format!("{:.1}", H - BOTTOM - h)) width=(format!("{bar:.1}")) height=(format!("{h:.1}")) {
                        title { (day) ": " (t.minutes) " min, " (t.cost) " " (currency) }
                    }
                    @if i % label_every == 0 {
                        text x=(format!("{:.1}", x + bar / 2.0)) y=(H - 6.0) text-anchor="middle" class="tick" { (day.format("%m-%d")) }
                    }
                }
            }
            figcaption { "Billed minutes per day (UTC). Hover a bar for its cost." }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CompanyId, JobId, ProfileId, UsageLine};

    #[test]
    fn lines_are_summed_per_day_and_empty_days_are_zero() {
        let at = |d: &str| {
            chrono::DateTime::parse_from_rfc3339(d)
                .unwrap()
                .with_timezone(&Utc)
        };
        let line = |when: &str, minutes: u64| UsageLine {
            job_id: JobId::new(),
            company_id: CompanyId::parse("acme").unwrap(),
            output_label: "hd".into(),
            profile_id: ProfileId(1),
            billable_minutes: minutes,
            cost: Decimal::from(minutes),
            billed_at: at(when),
        };
        let usage = Usage::sum(
            vec![
                line("2026-11-01T10:00:00Z", 2),
                line("2026-11-01T23:59:59Z", 3),
                line("2026-11-03T00:00:00Z", 1),
            ],
            "USD",
        );
        let from = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        let days = per_day(&usage, from, to);
        let minutes: Vec<u64> = days.values().map(|d| d.minutes).collect();
        assert_eq!(minutes, vec![5, 0, 1]);
        assert_eq!(days[&from].cost, Decimal::from(5));
    }
}
