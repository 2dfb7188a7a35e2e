//! The app's screens, one per state of the app: the config error, signed
//! out, and signed in with the quote. Pages render and wire events; the
//! requests behind them are in [`crate::hooks`] and [`crate::auth`].

mod config_error;
mod quote_page;
mod signed_out;

pub use config_error::ConfigErrorPage;
pub use quote_page::QuotePage;
pub use signed_out::SignedOutPage;
