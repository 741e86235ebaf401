//! Company-owned transcoding profiles (system presets live in the domain, not here).

use super::WriteGate;
use super::entities::profile;
use crate::domain::company::CompanyId;
use crate::domain::profile::{
    AudioSettings, Container, Profile, ProfileId, StreamingSettings, VideoSettings,
};
use crate::error::Error;
use async_trait::async_trait;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};

#[async_trait]
pub trait ProfileRepository: Send + Sync + 'static {
    /// Stores a new profile of `profile.company_id` and returns the id it was given
    /// (`profile.id` is ignored).
    async fn insert(&self, profile: &Profile) -> Result<ProfileId, Error>;
    /// A live (not deleted) profile of the company.
    async fn get(&self, company: &CompanyId, id: ProfileId) -> Result<Option<Profile>, Error>;
    /// The company's live profiles, by id.
    async fn list(&self, company: &CompanyId) -> Result<Vec<Profile>, Error>;
    /// Replaces a live profile's settings; false when the company has no such profile.
    async fn update(&self, profile: &Profile) -> Result<bool, Error>;
    /// Soft delete: jobs keep their snapshot; false when there was no live profile.
    async fn delete(&self, company: &CompanyId, id: ProfileId) -> Result<bool, Error>;
}

#[derive(Clone)]
pub struct SeaProfileRepository {
    db: DatabaseConnection,
    write_gate: WriteGate,
}

impl SeaProfileRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        let write_gate = WriteGate::for_backend(&db);
        Self { db, write_gate }
    }
}

/// The settings column: everything but the id, owner and description.
#[derive(Serialize, Deserialize)]
struct Settings {
    container: Container,
    video: Option<VideoSettings>,
    audio: Option<AudioSettings>,
    restrict_bitrate: bool,
    #[serde(default)]
    allow_upscale: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    streaming: Option<StreamingSettings>,
}

fn settings_json(p: &Profile) -> Result<String, Error> {
    serde_json::to_string(&Settings {
        container: p.container,
        video: p.video.clone(),
        audio: p.audio.clone(),
        restrict_bitrate: p.restrict_bitrate,
        allow_upscale: p.allow_upscale,
        streaming: p.streaming.clone(),
    })
    .map_err(|e| Error::internal(format!("encoding profile: {e}")))
}

fn from_row(row: profile::Model) -> Result<Profile, Error> {
    let s: Settings = serde_json::from_str(&row.settings_json)
        .map_err(|e| Error::internal(format!("decoding profile {}: {e}", row.id)))?;
    Ok(Profile {
        id: ProfileId(row.id as u64),
        company_id: Some(CompanyId::parse(&row.company_id)?),
        description: row.description,
        container: s.container,
        video: s.video,
        audio: s.audio,
        restrict_bitrate: s.restrict_bitrate,
        allow_upscale: s.allow_upscale,
        streaming: s.streaming,
        elastic_transcoder_id: None,
    })
}

fn owner(p: &Profile) -> Result<&CompanyId, Error> {
    p.company_id
        .as_ref()
        .ok_or_else(|| Error::internal("system presets are not stored"))
}

/// Ids on the wire are u64; ids past i64 cannot be stored rows.
fn row_id(id: ProfileId) -> Option<i64> {
    i64::try_from(id.0).ok()
}

#[async_trait]
impl ProfileRepository for SeaProfileRepository {
    async fn insert(&self, p: &Profile) -> Result<ProfileId, Error> {
        let now = Utc::now();
        let row = profile::ActiveModel {
            id: NotSet,
            company_id: Set(owner(p)?.as_str().to_owned()),
            description: Set(p.description.clone()),
            settings_json: Set(settings_json(p)?),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        };
        let _turn = self.write_gate.turn().await;
        let res = profile::Entity::insert(row).exec(&self.db).await?;
        Ok(ProfileId(res.last_insert_id as u64))
    }

    async fn get(&self, company: &CompanyId, id: ProfileId) -> Result<Option<Profile>, Error> {
        let Some(id) = row_id(id) else {
            return Ok(None);
        };
        profile::Entity::find_by_id(id)
            .filter(profile::Column::CompanyId.eq(company.as_str()))
            .filter(profile::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?
            .map(from_row)
            .transpose()
    }

    async fn list(&self, company: &CompanyId) -> Result<Vec<Profile>, Error> {
        profile::Entity::find()
            .filter(profile::Column::CompanyId.eq(company.as_str()))
            .filter(profile::Column::DeletedAt.is_null())
            .order_by_asc(profile::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(from_row)
            .collect()
    }

    async fn update(&self, p: &Profile) -> Result<bool, Error> {
        let Some(id) = row_id(p.id) else {
            return Ok(false);
        };
        let settings = settings_json(p)?;
        let _turn = self.write_gate.turn().await;
        let res = profile::Entity::update_many()
            .col_expr(
                profile::Column::Description,
                Expr::value(p.description.clone()),
            )
            .col_expr(profile::Column::SettingsJson, Expr::value(settings))
            .col_expr(profile::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(profile::Column::Id.eq(id))
            .filter(profile::Column::CompanyId.eq(owner(p)?.as_str()))
            .filter(profile::Column::DeletedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    async fn delete(&self, company: &CompanyId, id: ProfileId) -> Result<bool, Error> {
        let Some(id) = row_id(id) else {
            return Ok(false);
        };
        let _turn = self.write_gate.turn().await;
        let res = profile::Entity::update_many()
            .col_expr(profile::Column::DeletedAt, Expr::value(Utc::now()))
            .filter(profile::Column::Id.eq(id))
            .filter(profile::Column::CompanyId.eq(company.as_str()))
            .filter(profile::Column::DeletedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }
}
