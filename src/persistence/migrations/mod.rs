//! Schema migrations, one per file, applied at start-up in order.

use sea_orm_migration::prelude::*;

mod m20261123_000001_create_jobs;
mod m20261123_000002_create_job_events;
mod m20261123_000003_create_notifications;
mod m20261123_000004_create_company_secrets;
mod m20261128_000005_create_companies_tokens_profiles;
mod m20261128_000006_billing;
mod m20261128_000007_thumbnails;
mod m20261129_000008_storyboards;
mod m20261129_000009_scale_out;
mod m20261129_000010_trace_context;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_jobs::Migration),
            Box::new(m20261123_000002_create_job_events::Migration),
            Box::new(m20261123_000003_create_notifications::Migration),
            Box::new(m20261123_000004_create_company_secrets::Migration),
            Box::new(m20261128_000005_create_companies_tokens_profiles::Migration),
            Box::new(m20261128_000006_billing::Migration),
            Box::new(m20261128_000007_thumbnails::Migration),
            Box::new(m20261129_000008_storyboards::Migration),
            Box::new(m20261129_000009_scale_out::Migration),
            Box::new(m20261129_000010_trace_context::Migration),
        ]
    }
}
