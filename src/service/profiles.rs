//! Profiles: the system presets (read-only, listed for everyone) and each company's own.

use super::Service;
use crate::domain::profile::{ProfileCatalogue, is_system_id};
use crate::domain::profile_draft::ProfileDraft;
use crate::domain::{Caller, Profile, ProfileId};
use crate::error::{Error, Result};

fn not_found(id: ProfileId) -> Error {
    Error::not_found(format!("profile {} not found", id.0))
}

/// Changing an id of the presets' range: read-only if a preset has it, else not found.
fn refuse_system_id(id: ProfileId) -> Error {
    if ProfileCatalogue::system_presets().find_by_id(id).is_none() {
        return not_found(id);
    }
    Error::permission_denied(format!(
        "profile {} is a system preset, and system presets are read-only",
        id.0
    ))
}

impl Service {
    /// The system presets and the caller's own profiles.
    pub(super) async fn catalogue(&self, caller: &Caller) -> Result<ProfileCatalogue> {
        let own = self.inner.profiles.list(&caller.company).await?;
        Ok(ProfileCatalogue::with_company_profiles(own))
    }

    pub async fn list_profiles(&self, caller: &Caller) -> Result<Vec<Profile>> {
        Ok(self.catalogue(caller).await?.into_vec())
    }

    /// A system preset, or one of the caller's profiles; another company's profile is
    /// NOT_FOUND, exactly like one that does not exist.
    pub async fn get_profile(&self, caller: &Caller, id: ProfileId) -> Result<Profile> {
        if is_system_id(id) {
            return ProfileCatalogue::system_presets()
                .find_by_id(id)
                .cloned()
                .ok_or_else(|| not_found(id));
        }
        self.inner
            .profiles
            .get(&caller.company, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    pub async fn create_profile(&self, caller: &Caller, draft: ProfileDraft) -> Result<Profile> {
        let catalogue = self.catalogue(caller).await?;
        // The id is the sequence's; no existing profile has this placeholder.
        let mut profile = draft.validate(ProfileId(0), &caller.company, &catalogue)?;
        profile.id = self.inner.profiles.insert(&profile).await?;
        tracing::info!(company_id = %caller.company, profile_id = profile.id.0, "profile created");
        Ok(profile)
    }

    /// Replaces every setting of one of the caller's profiles. Jobs already submitted
    /// keep the settings they were submitted with.
    pub async fn update_profile(
        &self,
        caller: &Caller,
        id: ProfileId,
        draft: ProfileDraft,
    ) -> Result<Profile> {
        if is_system_id(id) {
            return Err(refuse_system_id(id));
        }
        let catalogue = self.catalogue(caller).await?;
        if catalogue.find_by_id(id).is_none() {
            return Err(not_found(id));
        }
        let profile = draft.validate(id, &caller.company, &catalogue)?;
        if !self.inner.profiles.update(&profile).await? {
            return Err(not_found(id));
        }
        Ok(profile)
    }

    /// Soft delete: new orders can no longer use it; jobs keep their snapshot.
    pub async fn delete_profile(&self, caller: &Caller, id: ProfileId) -> Result<()> {
        if is_system_id(id) {
            return Err(refuse_system_id(id));
        }
        if self.inner.profiles.delete(&caller.company, id).await? {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }
}
