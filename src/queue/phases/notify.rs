//! Marks the notifying phase (99-100 %). The notification rows themselves are written
//! with the job's end, in the same transaction, and delivered by the dispatcher.

use super::{Attempt, Step};
use crate::domain::{Job, Phase};
use crate::error::Error;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

pub struct Notify;

#[async_trait]
impl Step for Notify {
    fn phase(&self) -> Phase {
        Phase::Notifying
    }

    fn applies(&self, job: &Job) -> bool {
        !job.order.notifications.is_empty()
    }

    async fn run(&self, _at: &mut Attempt<'_>, _cancel: &CancellationToken) -> Result<(), Error> {
        Ok(())
    }
}
