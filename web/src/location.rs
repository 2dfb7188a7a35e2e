//! Where the app runs: the page's own address, which the provider sends
//! the browser back to and `config.json` sits beside.

/// The folder `index.html` was loaded from, ending in `/`.
pub fn app_base() -> String {
    let location = web_sys::window().map(|w| w.location());
    let origin = location
        .as_ref()
        .and_then(|l| l.origin().ok())
        .unwrap_or_default();
    let path = location
        .and_then(|l| l.pathname().ok())
        .unwrap_or_else(|| "/".to_owned());
    let folder = path.rfind('/').map_or("/", |i| &path[..=i]);
    format!("{origin}{folder}")
}
