//! The app's screens.

mod config_error;
mod quote_page;
mod signed_out;

pub use config_error::ConfigErrorPage;
pub use quote_page::QuotePage;
pub use signed_out::SignedOutPage;
