//! The bundle made cheap to send and fit to cache. Every file but
//! `index.html` is renamed after a hash of its content
//! (`style.0123456789abcdef.css`), so that a name always means the same
//! bytes and browsers may keep it for good, and the references to it are
//! rewritten. Then each file gets a brotli and a gzip twin beside it
//! (`style.….css.br`, `.gz`): servers send those as they are (the API's
//! `--web-dir`, Caddy's `precompressed`) and compress nothing per request.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::report::Result;

/// Files worth compressing; anything else goes out as it is.
const COMPRESSIBLE: &[&str] = &["html", "js", "css", "wasm", "json", "svg", "txt"];

/// Renames the bundle's files after their content and rewrites the
/// references: the glue and the wasm in `boot.js`, then the stylesheet,
/// the icon, the wasm and `boot.js` in `index.html`. A reference that is not found
/// stops the build: the page would load the wrong file.
pub fn fingerprint(dist: &Path, glue: &str, wasm: &str) -> Result {
    let glue_hashed = rename_by_hash(dist, glue)?;
    let wasm_hashed = rename_by_hash(dist, wasm)?;
    let style = rename_by_hash(dist, "style.css")?;
    let icon = rename_by_hash(dist, "favicon.svg")?;
    rewrite(
        &dist.join("boot.js"),
        &[
            (format!("\"./{glue}\""), format!("\"./{glue_hashed}\"")),
            (format!("\"{wasm}\""), format!("\"{wasm_hashed}\"")),
        ],
    )?;
    let boot = rename_by_hash(dist, "boot.js")?;
    rewrite(
        &dist.join("index.html"),
        &[
            ("href=\"style.css\"".to_owned(), format!("href=\"{style}\"")),
            (
                "href=\"favicon.svg\"".to_owned(),
                format!("href=\"{icon}\""),
            ),
            (
                format!("href=\"{wasm}\""),
                format!("href=\"{wasm_hashed}\""),
            ),
            ("src=\"boot.js\"".to_owned(), format!("src=\"{boot}\"")),
        ],
    )
}

/// `name` in `dist` renamed to `stem.<16 hex digits of its SHA-256>.ext`;
/// returns the new name.
fn rename_by_hash(dist: &Path, name: &str) -> Result<String> {
    let from = dist.join(name);
    let bytes = std::fs::read(&from).map_err(|e| format!("{}: {e}", from.display()))?;
    let hash = Sha256::digest(&bytes);
    let hex = hash[..8]
        .iter()
        .fold(String::new(), |hex, b| hex + &format!("{b:02x}"));
    let hashed = match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hex}.{ext}"),
        None => format!("{name}.{hex}"),
    };
    std::fs::rename(&from, dist.join(&hashed)).map_err(|e| format!("{}: {e}", from.display()))?;
    Ok(hashed)
}

/// Replaces each `(from, to)` in the file at `path`, exactly once each.
fn rewrite(path: &Path, replacements: &[(String, String)]) -> Result {
    let mut text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for (from, to) in replacements {
        if text.matches(from.as_str()).count() != 1 {
            return Err(format!("{} must name {from} exactly once", path.display()));
        }
        text = text.replacen(from.as_str(), to, 1);
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A file's size as built and as its twins.
#[derive(Debug)]
pub struct Sizes {
    pub name: String,
    pub bytes: u64,
    pub gzip: u64,
    pub brotli: u64,
}

/// Writes a `.br` (quality 11) and a `.gz` (zopfli) twin beside every
/// compressible file of `dist`, unless it would be no smaller, and returns
/// every file's sizes.
pub fn precompress(dist: &Path) -> Result<Vec<Sizes>> {
    let mut files: Vec<_> = std::fs::read_dir(dist)
        .map_err(|e| format!("{}: {e}", dist.display()))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    let mut sizes = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let size = bytes.len() as u64;
        let compressible = path
            .extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| COMPRESSIBLE.contains(&ext));
        let (mut gzip, mut brotli) = (size, size);
        if compressible {
            let gzipped = gzip_bytes(&bytes)?;
            if gzipped.len() < bytes.len() {
                gzip = write_twin(&path, "gz", &gzipped)?;
            }
            let brotlied = brotli_bytes(&bytes)?;
            if brotlied.len() < bytes.len() {
                brotli = write_twin(&path, "br", &brotlied)?;
            }
        }
        sizes.push(Sizes {
            name,
            bytes: size,
            gzip,
            brotli,
        });
    }
    Ok(sizes)
}

fn write_twin(path: &Path, suffix: &str, bytes: &[u8]) -> Result<u64> {
    let mut twin = path.as_os_str().to_owned();
    twin.push(".");
    twin.push(suffix);
    std::fs::write(&twin, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes.len() as u64)
}

fn gzip_bytes(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        bytes,
        &mut out,
    )
    .map_err(|e| e.to_string())?;
    Ok(out)
}

fn brotli_bytes(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        // Quality 11 and a 4 MiB window: the smallest output, paid once
        // at build time.
        let mut writer = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
        writer.write_all(bytes).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_renamed_by_content_and_references_follow() {
        let dist = std::env::temp_dir().join(format!("quotes-assets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dist);
        std::fs::create_dir_all(&dist).unwrap();
        let write = |name: &str, text: &str| std::fs::write(dist.join(name), text).unwrap();
        write(
            "index.html",
            "<link rel=\"icon\" href=\"favicon.svg\">\
             <link rel=\"stylesheet\" href=\"style.css\">\
             <link rel=\"preload\" href=\"app_bg.wasm\">\
             <script type=\"module\" src=\"boot.js\"></script>",
        );
        write(
            "boot.js",
            "import init from \"./app.js\";\ninit({ module_or_path: \"app_bg.wasm\" });",
        );
        write("app.js", "export default function init() {}");
        write("app_bg.wasm", "\0asm");
        write("style.css", "body { margin: 0 }");
        write("favicon.svg", "<svg/>");

        fingerprint(&dist, "app.js", "app_bg.wasm").unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&dist)
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        // printf 'body { margin: 0 }' | sha256sum | cut -c1-16
        assert!(
            names.contains(&"style.997faceca2605a98.css".to_owned()),
            "{names:?}"
        );
        assert!(names.contains(&"index.html".to_owned()));
        assert_eq!(names.len(), 6, "{names:?}");
        let index = std::fs::read_to_string(dist.join("index.html")).unwrap();
        let boot = names.iter().find(|n| n.starts_with("boot.")).unwrap();
        assert!(index.contains(&format!("src=\"{boot}\"")), "{index}");
        assert!(
            index.contains("href=\"style.997faceca2605a98.css\""),
            "{index}"
        );
        let boot = std::fs::read_to_string(dist.join(boot)).unwrap();
        let glue = names.iter().find(|n| n.starts_with("app.")).unwrap();
        assert!(boot.contains(&format!("\"./{glue}\"")), "{boot}");

        let sizes = precompress(&dist).unwrap();
        assert_eq!(sizes.len(), 6);
        let html = sizes.iter().find(|s| s.name == "index.html").unwrap();
        assert!(
            html.brotli < html.bytes && html.gzip < html.bytes,
            "{html:?}"
        );
        assert!(dist.join("index.html.br").is_file());
        assert!(dist.join("index.html.gz").is_file());
        // Four bytes do not get smaller: no twin, the file as it is.
        let wasm = sizes
            .iter()
            .find(|s| s.name.starts_with("app_bg."))
            .unwrap();
        assert_eq!((wasm.gzip, wasm.brotli), (4, 4));
        std::fs::remove_dir_all(&dist).unwrap();
    }

    #[test]
    fn a_missing_reference_stops_the_build() {
        let dist = std::env::temp_dir().join(format!("quotes-assets-bad-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dist);
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join("page.html"), "<script src=\"other.js\"></script>").unwrap();
        let error = rewrite(
            &dist.join("page.html"),
            &[("src=\"boot.js\"".to_owned(), "src=\"boot.1.js\"".to_owned())],
        )
        .unwrap_err();
        assert!(
            error.contains("must name src=\"boot.js\" exactly once"),
            "{error}"
        );
        std::fs::remove_dir_all(&dist).unwrap();
    }
}
