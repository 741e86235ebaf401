//! The order dialect (`POST /{company_id}/transcode`): any text is parsed as its JSON
//! order; what parses is validated like the handler's.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(request) = transcoder::api::rest::order_dialect_request(text) {
        common::validate(request);
    }
});
