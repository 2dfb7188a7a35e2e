//! Hooks that hold a screen's request flows, so its page holds only the
//! view.

mod quote;

pub use quote::{Busy, Done, Focus, QuoteAction, QuoteState, UseQuote, use_quote};
