//! Notification rows written inside another transaction (a job's terminal one).

use super::entities::notification;
use crate::domain::notification::Notification;
use crate::error::Error;
use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

fn json_err(e: serde_json::Error) -> Error {
    Error::internal(format!("notification row: {e}"))
}

/// Stores new deliveries on `conn`; ids already stored (a job re-run after a crash) are
/// left as they are.
pub(super) async fn insert_deliveries(
    conn: &impl ConnectionTrait,
    deliveries: &[Notification],
) -> Result<(), Error> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let rows = deliveries
        .iter()
        .map(|n| {
            Ok(notification::ActiveModel {
                id: Set(n.id.clone()),
                job_id: Set(n.job_id.to_string()),
                company_id: Set(n.company_id.clone()),
                channel_json: Set(serde_json::to_string(&n.channel).map_err(json_err)?),
                payload: Set(n.payload.clone()),
                state: Set(n.state.as_str().to_owned()),
                attempts_json: Set(serde_json::to_string(&n.attempts).map_err(json_err)?),
                next_attempt_at: Set(n.next_attempt_at),
                created_at: Set(n.created_at),
                updated_at: Set(Utc::now()),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    notification::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([notification::Column::Id])
        .exec(conn)
        .await?;
    Ok(())
}
