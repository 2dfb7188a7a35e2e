//! Unit tests of the document rewrites `build.rs` applies before
//! generating the client (the modules live in `build/`).

#[path = "../build/openapi30.rs"]
mod openapi30;
#[path = "../build/requests.rs"]
mod requests;
