use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "companies")]
pub struct Model {
    /// The slug: `company_id` on the wire.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub priority_transcoding: bool,
    pub rate_limit_per_second: Option<f64>,
    pub rate_limit_burst: Option<i32>,
    /// SHA-256 (hex) of the preset dialect's application id.
    pub application_id_hash: String,
    pub disabled: bool,
    /// Deleted companies keep their row so the slug is never reused for someone else.
    pub deleted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
