//! What every order target shares: validating a request as SubmitJob does, and the
//! properties any accepted order must have.

use std::path::PathBuf;
use transcoder::domain::company::CompanyId;
use transcoder::domain::order::{OrderPolicy, OrderRequest};
use transcoder::domain::profile::ProfileCatalogue;
use transcoder::domain::{Caller, Entitlements};

pub const MAX_OUTPUTS: usize = 16;

/// Validates `request` for a company with the priority entitlement against the system
/// presets. Must never panic; an accepted order must keep every cap.
pub fn validate(request: OrderRequest) {
    let caller = Caller::operator(
        CompanyId::parse("acme").expect("a valid slug"),
        Entitlements {
            priority_transcoding: true,
        },
    );
    let policy = OrderPolicy {
        file_roots: vec![PathBuf::from("/srv/media")],
        max_outputs: MAX_OUTPUTS,
        default_output_root: PathBuf::from("/srv/outputs"),
    };
    let Ok(valid) = request.validate(&caller, &ProfileCatalogue::system_presets(), &policy)
    else {
        return;
    };
    assert!(!valid.outputs.is_empty() && valid.outputs.len() <= MAX_OUTPUTS);
    for output in &valid.outputs {
        assert!(!output.filename.is_empty());
        assert!(!output.filename.contains('/') && output.filename != "..");
    }
    assert!(valid.destinations.len() <= 10 && valid.notifications.len() <= 10);
    assert!(valid.thumbnails.len() <= 32);
    assert!((1..=10).contains(&valid.priority.get()));
}
