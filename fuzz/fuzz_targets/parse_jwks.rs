//! Any bytes as a JWKS document: parsing must answer, never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = quotes_core::auth::jwks::parse(data);
});
