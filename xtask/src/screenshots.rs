//! `cargo xtask screenshots`: the documentation's pictures of the app and
//! of Swagger UI, refreshed from those the browser checks took last
//! (`cargo xtask browser` or `cargo xtask test`, in
//! `target/xtask/screenshots/`).

use crate::paths::{root, target_dir};
use crate::report::Result;

/// The pictures `README.md` and `docs/` show, by their file names.
const SHOWN: [&str; 5] = [
    "web-app-saved-desktop-light.png",
    "web-app-saved-desktop-dark.png",
    "web-app-saved-phone-light.png",
    "web-app-saved-phone-dark.png",
    "swagger-ui-authorized-get-me-quote.png",
];

pub fn run() -> Result {
    let taken = target_dir().join("xtask/screenshots");
    let shown = root().join("docs/images");
    for name in SHOWN {
        let from = taken.join(name);
        if !from.exists() {
            return Err(format!(
                "{} is missing: run `cargo xtask browser` first",
                from.display()
            ));
        }
        std::fs::copy(&from, shown.join(name)).map_err(|e| format!("cannot copy {name}: {e}"))?;
        println!("docs/images/{name}");
    }
    Ok(())
}
