//! Small building blocks of the pages.

mod alert;
mod quote_editor;

pub use alert::Alert;
pub use quote_editor::QuoteEditor;
