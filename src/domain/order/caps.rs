//! Length caps on an order's free-form strings, so that one order cannot make every
//! event, row and notification carrying it arbitrarily large. Counts and list caps live
//! with their lists; the request body's size is capped by the transports.

use super::Violations;

/// URIs: the origin, destinations, webhook and postback URLs.
pub const MAX_URI_CHARS: usize = 2048;
/// Labels of outputs, thumbnails and storyboards (file names are capped at 255 bytes).
pub const MAX_LABEL_CHARS: usize = 256;
/// An email address (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Refuses `value` longer than `max` characters, naming the field; true when it was.
pub(super) fn too_long(value: &str, max: usize, field: &str, bad: &mut Violations) -> bool {
    let chars = value.trim().chars().count();
    let over = chars > max;
    if over {
        bad.add(
            field,
            format!("must be at most {max} characters, got {chars}"),
        );
    }
    over
}
