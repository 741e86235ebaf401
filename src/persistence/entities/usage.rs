use sea_orm::entity::prelude::*;

/// One billed output of a succeeded job.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "usage")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub job_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub output_label: String,
    pub company_id: String,
    pub profile_id: i64,
    pub billable_minutes: i64,
    /// A decimal string.
    pub cost: String,
    pub billed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
