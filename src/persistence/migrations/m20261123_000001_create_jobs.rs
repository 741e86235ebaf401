use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .if_not_exists()
                    .col(string(Jobs::Id).primary_key())
                    .col(string(Jobs::CompanyId))
                    .col(string(Jobs::State))
                    .col(string_null(Jobs::Phase))
                    .col(integer(Jobs::Priority))
                    .col(double(Jobs::ProgressPercent))
                    .col(text(Jobs::OrderJson))
                    .col(text(Jobs::OutputsJson))
                    .col(text_null(Jobs::SourceJson))
                    .col(text_null(Jobs::ErrorJson))
                    .col(integer(Jobs::Attempts))
                    .col(string_null(Jobs::IdempotencyKey))
                    .col(big_integer(Jobs::LastSequence))
                    .col(string_null(Jobs::LeaseOwner))
                    .col(timestamp_with_time_zone_null(Jobs::LeaseExpiresAt))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Jobs::StartedAt))
                    .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                    .to_owned(),
            )
            .await?;
        // Claiming: the highest priority, then oldest, queued job.
        manager
            .create_index(
                Index::create()
                    .name("jobs_claim_order")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col((Jobs::Priority, IndexOrder::Desc))
                    .col(Jobs::CreatedAt)
                    .to_owned(),
            )
            .await?;
        // Listing a company's jobs, newest first.
        manager
            .create_index(
                Index::create()
                    .name("jobs_company_id")
                    .table(Jobs::Table)
                    .col(Jobs::CompanyId)
                    .col((Jobs::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("jobs_idempotency")
                    .table(Jobs::Table)
                    .col(Jobs::CompanyId)
                    .col(Jobs::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Jobs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    CompanyId,
    State,
    Phase,
    Priority,
    ProgressPercent,
    OrderJson,
    OutputsJson,
    SourceJson,
    ErrorJson,
    Attempts,
    IdempotencyKey,
    LastSequence,
    LeaseOwner,
    LeaseExpiresAt,
    CreatedAt,
    UpdatedAt,
    StartedAt,
    FinishedAt,
}
