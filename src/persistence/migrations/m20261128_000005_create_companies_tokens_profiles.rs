//! Companies, their API tokens, and their own transcoding profiles.
//!
//! Secrets (API tokens, application ids) are stored only as SHA-256 hex digests.
//! Company profile ids come from a sequence that starts at 100: ids below it belong to
//! the built-in system presets.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Companies::Table)
                    .if_not_exists()
                    .col(string(Companies::Id).primary_key())
                    .col(string(Companies::Name))
                    .col(boolean(Companies::PriorityTranscoding))
                    .col(double_null(Companies::RateLimitPerSecond))
                    .col(integer_null(Companies::RateLimitBurst))
                    .col(string_uniq(Companies::ApplicationIdHash))
                    .col(boolean(Companies::Disabled))
                    .col(timestamp_with_time_zone_null(Companies::DeletedAt))
                    .col(timestamp_with_time_zone(Companies::CreatedAt))
                    .col(timestamp_with_time_zone(Companies::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .if_not_exists()
                    .col(string(ApiTokens::Id).primary_key())
                    .col(string(ApiTokens::CompanyId))
                    .col(string(ApiTokens::Name))
                    .col(string_uniq(ApiTokens::TokenHash))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("api_tokens_company")
                    .table(ApiTokens::Table)
                    .col(ApiTokens::CompanyId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Profiles::Table)
                    .if_not_exists()
                    .col(big_integer(Profiles::Id).primary_key().auto_increment())
                    .col(string(Profiles::CompanyId))
                    .col(string(Profiles::Description))
                    .col(text(Profiles::SettingsJson))
                    .col(timestamp_with_time_zone(Profiles::CreatedAt))
                    .col(timestamp_with_time_zone(Profiles::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Profiles::DeletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("profiles_company")
                    .table(Profiles::Table)
                    .col(Profiles::CompanyId)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "SELECT setval(pg_get_serial_sequence('profiles', 'id'), 100, false)",
                )
                .await?;
            }
            DbBackend::Sqlite => {
                // AUTOINCREMENT keeps its counter in sqlite_sequence: start it at 99.
                db.execute_unprepared(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES ('profiles', 99)",
                )
                .await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Profiles::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Companies::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Companies {
    Table,
    Id,
    Name,
    PriorityTranscoding,
    RateLimitPerSecond,
    RateLimitBurst,
    ApplicationIdHash,
    Disabled,
    DeletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    CompanyId,
    Name,
    TokenHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Profiles {
    Table,
    Id,
    CompanyId,
    Description,
    SettingsJson,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}
