//! Small building blocks of the pages; they get what they show and what
//! to call through props, and make no requests.

mod alert;
mod quote_editor;

pub use alert::Alert;
pub use quote_editor::QuoteEditor;
