//! The quotes single-page app; the Yew implementation lands with the web issue.
