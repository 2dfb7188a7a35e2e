//! The app's screens, one per state of the app: the config error, signed
//! out, and signed in with the quote. Pages render and wire events; the
//! requests behind them are in [`crate::hooks`] and [`crate::auth`].

mod config_error;
mod quote_page;
mod signed_out;

pub use config_error::ConfigErrorPage;
pub use quote_page::QuotePage;
pub use signed_out::SignedOutPage;

use yew::prelude::*;

/// Names the screen in the tab's title: `screen · quotes`.
#[hook]
pub fn use_title(screen: &'static str) {
    use_effect_with(screen, |screen| {
        if let Some(document) = web_sys::window().and_then(|window| window.document()) {
            document.set_title(&format!("{screen} · quotes"));
        }
    });
}
