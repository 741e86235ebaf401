//! `transcoder usage`: billed minutes and cost over a period, per output and in total.

use super::connect::{Connection, request};
use super::error::{ClientError, EXIT_CODES};
use super::{table, wire};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use transcoder::proto as pb;

#[derive(clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct UsageArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// Start of the period, included: 2026-11-01 (midnight UTC) or an RFC 3339 time.
    #[arg(long, value_name = "DATE", value_parser = parse_time)]
    from: Option<DateTime<Utc>>,
    /// End of the period, excluded: 2026-12-01 (midnight UTC) or an RFC 3339 time.
    #[arg(long, value_name = "DATE", value_parser = parse_time)]
    to: Option<DateTime<Utc>>,
}

fn parse_time(raw: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(day) => Ok(day.and_time(chrono::NaiveTime::MIN).and_utc()),
        Err(_) => Ok(DateTime::parse_from_rfc3339(raw)?.with_timezone(&Utc)),
    }
}

fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

#[derive(Serialize)]
struct Usage {
    from: Option<String>,
    to: Option<String>,
    total_billable_minutes: f64,
    total_cost: String,
    currency: String,
    outputs: Vec<OutputUsage>,
}

#[derive(Serialize)]
struct OutputUsage {
    job_id: String,
    output_label: String,
    profile_id: u64,
    billable_minutes: f64,
    cost: String,
    billed_at: Option<String>,
}

pub async fn run(args: UsageArgs) -> Result<(), ClientError> {
    let mut client = args.conn.connect().await?;
    let from = args.from.map(timestamp);
    let to = args.to.map(timestamp);
    let period = (wire::time(&from), wire::time(&to));
    let usage = client
        .get_usage(request(pb::GetUsageRequest {
            company_id: String::new(),
            from,
            to,
        }))
        .await?
        .into_inner();
    let usage = Usage {
        from: period.0,
        to: period.1,
        total_billable_minutes: usage.total_billable_minutes,
        total_cost: usage.total_cost_decimal,
        currency: usage.currency,
        outputs: usage
            .outputs
            .into_iter()
            .map(|o| OutputUsage {
                billed_at: wire::time(&o.billed_at),
                job_id: o.job_id,
                output_label: o.output_label,
                profile_id: o.profile_id,
                billable_minutes: o.billable_minutes,
                cost: o.cost_decimal,
            })
            .collect(),
    };
    if args.conn.json {
        return wire::print(&usage);
    }
    let mut rows = table::new(&["billed at", "job", "output", "profile", "minutes", "cost"]);
    for o in &usage.outputs {
        rows.add_row(vec![
            o.billed_at.clone().unwrap_or_default(),
            o.job_id.clone(),
            o.output_label.clone(),
            o.profile_id.to_string(),
            o.billable_minutes.to_string(),
            o.cost.clone(),
        ]);
    }
    println!("{rows}");
    println!(
        "total: {} minutes, {} {}",
        usage.total_billable_minutes, usage.total_cost, usage.currency
    );
    Ok(())
}
