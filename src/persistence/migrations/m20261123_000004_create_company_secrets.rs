use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CompanySecrets::Table)
                    .if_not_exists()
                    .col(string(CompanySecrets::CompanyId).primary_key())
                    .col(string(CompanySecrets::WebhookSecret))
                    .col(timestamp_with_time_zone(CompanySecrets::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CompanySecrets::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum CompanySecrets {
    Table,
    CompanyId,
    WebhookSecret,
    CreatedAt,
}
