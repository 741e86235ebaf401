//! Scale-out: what many workers on one database need on each job row.
//! * `run_after`: a retried job is not claimed before this time (exponential backoff).
//! * `cancel_requested_at`: CancelJob on a running job; the worker holding the lease (or
//!   the next claimer, when that worker is gone) ends it CANCELED.
//! * `progress_json`: per-output percents of the running attempt, written by progress
//!   ticks, which touch only this, `progress_percent`, `last_sequence` and `updated_at`.
//! * `idempotency_fingerprint`: SHA-256 of the validated order, so a resubmission with
//!   the same key and a different order is refused rather than answered with the first.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for column in [
            timestamp_with_time_zone_null(Jobs::RunAfter),
            timestamp_with_time_zone_null(Jobs::CancelRequestedAt),
            text_null(Jobs::ProgressJson),
            string_null(Jobs::IdempotencyFingerprint),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Jobs::RunAfter,
            Jobs::CancelRequestedAt,
            Jobs::ProgressJson,
            Jobs::IdempotencyFingerprint,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Jobs {
    Table,
    RunAfter,
    CancelRequestedAt,
    ProgressJson,
    IdempotencyFingerprint,
}
