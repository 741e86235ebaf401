use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(JobEvents::Table)
                    .if_not_exists()
                    .col(string(JobEvents::JobId))
                    .col(big_integer(JobEvents::Sequence))
                    .col(timestamp_with_time_zone(JobEvents::Time))
                    .col(text(JobEvents::PayloadJson))
                    .primary_key(
                        Index::create()
                            .col(JobEvents::JobId)
                            .col(JobEvents::Sequence),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(JobEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum JobEvents {
    Table,
    JobId,
    Sequence,
    Time,
    PayloadJson,
}
