//! Billing per output minute, and usage over a period. Money is `Decimal`, never a float,
//! and travels as a decimal string.

use super::job::{JobId, OutputResult, OutputState};
use super::order::CompanyId;
use super::profile::ProfileId;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What a minute of output costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tariff {
    pub price_per_minute: Decimal,
    /// ISO 4217 code, e.g. "USD".
    pub currency: String,
}

/// Billable minutes for an output lasting `duration_seconds`: rounded up to a whole
/// minute, after rounding to whole milliseconds (so 60.0000001 s measured as a float is
/// still 1 minute). Nothing (0 s, negative, NaN) is 0 minutes.
pub fn billable_minutes(duration_seconds: f64) -> u64 {
    if !duration_seconds.is_finite() || duration_seconds <= 0.0 {
        return 0;
    }
    // `as` saturates: an absurd duration bills u64::MAX ms rather than wrapping.
    let millis = (duration_seconds * 1000.0).round() as u64;
    millis.div_ceil(60_000)
}

/// One billed output of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BillingLine {
    pub output_label: String,
    pub profile_id: ProfileId,
    /// The written file's measured duration.
    pub duration_seconds: f64,
    pub billable_minutes: u64,
    #[serde(with = "rust_decimal::serde::str")]
    pub cost: Decimal,
}

/// A succeeded job's bill: one line per output video, and the totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Billing {
    pub lines: Vec<BillingLine>,
    pub total_minutes: u64,
    #[serde(with = "rust_decimal::serde::str")]
    pub total_cost: Decimal,
    pub currency: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub price_per_minute: Decimal,
}

impl Billing {
    /// Bills every succeeded output by its measured duration. Outputs that failed or
    /// were never measured are not billed; thumbnails are not outputs and are free.
    /// One line per succeeded file output, and one per video rung of a ladder (each rung
    /// is an encode of its own; a ladder's audio rides along, as it does in TS rungs).
    pub fn for_outputs(outputs: &[OutputResult], tariff: &Tariff) -> Self {
        let line = |label: String, profile_id, duration: f64| {
            let minutes = billable_minutes(duration);
            BillingLine {
                output_label: label,
                profile_id,
                duration_seconds: duration,
                billable_minutes: minutes,
                cost: tariff.price_per_minute * Decimal::from(minutes),
            }
        };
        let mut lines: Vec<BillingLine> = Vec::new();
        for o in outputs.iter().filter(|o| o.state == OutputState::Succeeded) {
            if o.renditions.is_empty() {
                if let Some(media) = &o.media {
                    lines.push(line(o.label.clone(), o.profile_id, media.duration_seconds));
                }
                continue;
            }
            for rung in o
                .renditions
                .iter()
                .filter(|r| !r.encoded.video_codec.is_empty())
            {
                if let Some(media) = &rung.media {
                    let label = format!("{}/{}", o.label, rung.name);
                    lines.push(line(label, o.profile_id, media.duration_seconds));
                }
            }
        }
        Self {
            total_minutes: lines.iter().map(|l| l.billable_minutes).sum(),
            total_cost: lines.iter().map(|l| l.cost).sum(),
            lines,
            currency: tariff.currency.clone(),
            price_per_minute: tariff.price_per_minute,
        }
    }

    /// The usage rows this bill adds to the company's account, stamped `billed_at`.
    pub fn usage_lines(
        &self,
        job_id: JobId,
        company_id: &CompanyId,
        billed_at: DateTime<Utc>,
    ) -> Vec<UsageLine> {
        self.lines
            .iter()
            .map(|l| UsageLine {
                job_id,
                company_id: company_id.clone(),
                output_label: l.output_label.clone(),
                profile_id: l.profile_id,
                billable_minutes: l.billable_minutes,
                cost: l.cost,
                billed_at,
            })
            .collect()
    }
}

/// One billed output as the company's account records it.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageLine {
    pub job_id: JobId,
    pub company_id: CompanyId,
    pub output_label: String,
    pub profile_id: ProfileId,
    pub billable_minutes: u64,
    pub cost: Decimal,
    pub billed_at: DateTime<Utc>,
}

/// A company's usage over a period: its lines (oldest first) and their sums.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub lines: Vec<UsageLine>,
    pub total_minutes: u64,
    pub total_cost: Decimal,
    pub currency: String,
}

impl Usage {
    pub fn sum(lines: Vec<UsageLine>, currency: &str) -> Self {
        Self {
            total_minutes: lines.iter().map(|l| l.billable_minutes).sum(),
            total_cost: lines.iter().map(|l| l.cost).sum(),
            lines,
            currency: currency.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MediaInfo;
    use std::str::FromStr;

    fn tariff() -> Tariff {
        Tariff {
            price_per_minute: Decimal::from_str("0.0389").unwrap(),
            currency: "USD".into(),
        }
    }

    fn output(label: &str, state: OutputState, seconds: Option<f64>) -> OutputResult {
        OutputResult {
            label: label.into(),
            filename: format!("{label}.mp4"),
            state,
            profile_id: ProfileId(1),
            urls: Vec::new(),
            media: seconds.map(|s| MediaInfo {
                duration_seconds: s,
                ..MediaInfo::default()
            }),
            reference: String::new(),
            file_metadata: Default::default(),
            kind: Default::default(),
            encoded: None,
            renditions: Vec::new(),
            percent: 0.0,
        }
    }

    #[test]
    fn minutes_round_up_per_output() {
        assert_eq!(billable_minutes(0.5), 1);
        assert_eq!(billable_minutes(59.9), 1);
        assert_eq!(billable_minutes(60.0), 1);
        assert_eq!(billable_minutes(60.1), 2);
        assert_eq!(billable_minutes(120.0), 2);
        assert_eq!(billable_minutes(120.001), 3);
    }

    #[test]
    fn float_noise_below_a_millisecond_is_not_a_minute() {
        assert_eq!(billable_minutes(60.000_000_1), 1);
        assert_eq!(billable_minutes(59.999_9), 1);
        assert_eq!(billable_minutes(60.000_4), 1);
        assert_eq!(billable_minutes(60.000_6), 2);
    }

    #[test]
    fn nothing_is_zero_minutes() {
        assert_eq!(billable_minutes(0.0), 0);
        assert_eq!(billable_minutes(0.000_4), 0);
        assert_eq!(billable_minutes(-3.0), 0);
        assert_eq!(billable_minutes(f64::NAN), 0);
    }

    #[test]
    fn a_bill_has_exact_lines_and_totals() {
        let outputs = [
            output("hd", OutputState::Succeeded, Some(5.0)),
            output("sd", OutputState::Succeeded, Some(60.1)),
        ];
        let bill = Billing::for_outputs(&outputs, &tariff());
        assert_eq!(bill.lines.len(), 2);
        assert_eq!(bill.lines[0].cost.to_string(), "0.0389");
        assert_eq!(bill.lines[1].billable_minutes, 2);
        assert_eq!(bill.lines[1].cost.to_string(), "0.0778");
        assert_eq!(bill.total_minutes, 3);
        assert_eq!(bill.total_cost.to_string(), "0.1167");
        assert_eq!(bill.currency, "USD");
    }

    #[test]
    fn failed_and_unmeasured_outputs_are_not_billed() {
        let outputs = [
            output("ok", OutputState::Succeeded, Some(30.0)),
            output("bad", OutputState::Failed, Some(30.0)),
            output("blind", OutputState::Succeeded, None),
        ];
        let bill = Billing::for_outputs(&outputs, &tariff());
        let labels: Vec<_> = bill.lines.iter().map(|l| l.output_label.as_str()).collect();
        assert_eq!(labels, ["ok"]);
        assert_eq!(bill.total_cost.to_string(), "0.0389");
    }

    #[test]
    fn a_ladder_bills_each_video_rung() {
        use crate::domain::encode_settings::{EncodeSettings, RenditionResult};
        let rung = |name: &str, video: &str, seconds: f64| RenditionResult {
            name: name.into(),
            media: Some(MediaInfo {
                duration_seconds: seconds,
                ..MediaInfo::default()
            }),
            encoded: EncodeSettings {
                video_codec: video.into(),
                ..EncodeSettings::default()
            },
            ..RenditionResult::default()
        };
        let mut hls = output("hls", OutputState::Succeeded, Some(90.0));
        hls.renditions = vec![
            rung("720p", "h264", 90.0),
            rung("360p", "h264", 90.0),
            rung("audio", "", 90.0),
        ];
        let bill = Billing::for_outputs(&[hls], &tariff());
        let labels: Vec<_> = bill.lines.iter().map(|l| l.output_label.as_str()).collect();
        assert_eq!(labels, ["hls/720p", "hls/360p"]);
        assert_eq!(bill.total_minutes, 4);
    }

    #[test]
    fn money_serialises_as_decimal_strings() {
        let bill = Billing::for_outputs(
            &[output("hd", OutputState::Succeeded, Some(1.0))],
            &tariff(),
        );
        let json = serde_json::to_value(&bill).unwrap();
        assert_eq!(json["total_cost"], "0.0389");
        assert_eq!(json["price_per_minute"], "0.0389");
        assert_eq!(json["lines"][0]["cost"], "0.0389");
        let back: Billing = serde_json::from_value(json).unwrap();
        assert_eq!(back, bill);
    }

    #[test]
    fn usage_sums_its_lines() {
        let bill = Billing::for_outputs(
            &[
                output("a", OutputState::Succeeded, Some(61.0)),
                output("b", OutputState::Succeeded, Some(1.0)),
            ],
            &tariff(),
        );
        let company = CompanyId::parse("acme").unwrap();
        let lines = bill.usage_lines(JobId::new(), &company, Utc::now());
        let usage = Usage::sum(lines, "USD");
        assert_eq!(usage.total_minutes, 3);
        assert_eq!(usage.total_cost.to_string(), "0.1167");
        assert_eq!(Usage::sum(Vec::new(), "USD").total_cost.to_string(), "0");
    }
}
