//! gRPC orders: any bytes that decode as a `transcoder.v1.Order` are validated like
//! SubmitJob's.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use prost::Message;
use transcoder::proto as pb;

fuzz_target!(|data: &[u8]| {
    if let Ok(order) = pb::Order::decode(data) {
        common::validate(transcoder::api::grpc::order_request(Some(order)));
    }
});
