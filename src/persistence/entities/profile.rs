use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "profiles")]
pub struct Model {
    /// From a sequence starting at 100 (system presets own the ids below).
    #[sea_orm(primary_key)]
    pub id: i64,
    pub company_id: String,
    pub description: String,
    /// Container, video, audio and restrict_bitrate, as the domain encodes them.
    #[sea_orm(column_type = "Text")]
    pub settings_json: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Soft delete: old jobs keep their snapshot, new orders cannot use it.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
