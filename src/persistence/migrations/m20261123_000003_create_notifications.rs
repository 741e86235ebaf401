use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .if_not_exists()
                    .col(string(Notifications::Id).primary_key())
                    .col(string(Notifications::JobId))
                    .col(string(Notifications::CompanyId))
                    .col(text(Notifications::ChannelJson))
                    .col(text(Notifications::Payload))
                    .col(string(Notifications::State))
                    .col(text(Notifications::AttemptsJson))
                    .col(timestamp_with_time_zone_null(Notifications::NextAttemptAt))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .col(timestamp_with_time_zone(Notifications::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The dispatcher's scan: pending deliveries by due time.
        manager
            .create_index(
                Index::create()
                    .name("notifications_due")
                    .table(Notifications::Table)
                    .col(Notifications::State)
                    .col(Notifications::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("notifications_job")
                    .table(Notifications::Table)
                    .col(Notifications::JobId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Notifications::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    JobId,
    CompanyId,
    ChannelJson,
    Payload,
    State,
    AttemptsJson,
    NextAttemptAt,
    CreatedAt,
    UpdatedAt,
}
