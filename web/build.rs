//! Generates the app's API client from the committed `openapi.yaml`
//! (`build/client.rs` says what it makes), into `$OUT_DIR/quotes_api.rs`
//! for `src/api/client.rs` to include. A document the generator cannot
//! follow stops the build, with the place in the document.

#[path = "build/client.rs"]
mod client;

use std::path::PathBuf;

const DOCUMENT: &str = "../openapi.yaml";
/// The operations the app calls.
const TAG: &str = "quotes";

fn main() {
    println!("cargo:rerun-if-changed={DOCUMENT}");
    println!("cargo:rerun-if-changed=build");

    let text =
        std::fs::read_to_string(DOCUMENT).unwrap_or_else(|e| fail(&format!("cannot read it: {e}")));
    let document: serde_json::Value = serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|e| fail(&format!("it is not valid YAML: {e}")));
    let code = client::generate(&document, TAG).unwrap_or_else(|e| fail(&e));
    let out_dir = std::env::var_os("OUT_DIR").unwrap_or_else(|| fail("OUT_DIR is not set"));
    let output = PathBuf::from(out_dir).join("quotes_api.rs");
    std::fs::write(&output, code)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", output.display())));
}

fn fail(message: &str) -> ! {
    panic!("quotes-web: cannot generate the API client from {DOCUMENT}: {message}")
}
