//! Billing: the bill on each job (`jobs.billing_json`) and a `usage` table, one row per
//! billed output, that usage queries sum per company and period.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(text_null(Jobs::BillingJson))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Usage::Table)
                    .if_not_exists()
                    .col(string(Usage::JobId))
                    .col(string(Usage::OutputLabel))
                    .col(string(Usage::CompanyId))
                    .col(big_integer(Usage::ProfileId))
                    .col(big_integer(Usage::BillableMinutes))
                    // A decimal string: exact, and the same on both backends.
                    .col(string(Usage::Cost))
                    .col(timestamp_with_time_zone(Usage::BilledAt))
                    // Labels are unique within a job: an output is billed once.
                    .primary_key(Index::create().col(Usage::JobId).col(Usage::OutputLabel))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("usage_company_billed_at")
                    .table(Usage::Table)
                    .col(Usage::CompanyId)
                    .col(Usage::BilledAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Usage::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .drop_column(Jobs::BillingJson)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    BillingJson,
}

#[derive(DeriveIden)]
enum Usage {
    Table,
    JobId,
    OutputLabel,
    CompanyId,
    ProfileId,
    BillableMinutes,
    Cost,
    BilledAt,
}
