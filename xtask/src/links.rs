//! The documentation's links, checked offline: every relative link in
//! `README.md`, `ARCHITECTURE.md` and `docs/*.md` names a file or folder
//! that exists, and every `#anchor` names a heading of the page it points
//! to (GitHub's anchors: lowercase, spaces to `-`, punctuation dropped).
//! Links to other sites are not followed: no network here, nor in CI.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::paths::root;
use crate::report::{Result, Tally};

pub fn check(tally: &mut Tally) -> Result {
    let root = root();
    let mut pages = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .map_err(|e| format!("docs: {e}"))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).map_err(|e| format!("{}: {e}", page.display()))?;
        for target in links(&text) {
            checked += 1;
            if let Err(why) = resolve(page, &target) {
                let shown = page
                    .strip_prefix(&root)
                    .unwrap_or(page)
                    .display()
                    .to_string();
                broken.push(format!("{shown}: ({target}) {why}"));
            }
        }
    }
    if broken.is_empty() {
        println!(
            "links: {checked} relative links in {} pages resolve",
            pages.len()
        );
        tally.steps += 1;
        Ok(())
    } else {
        tally.failed += 1;
        Err(format!("broken links:\n  {}", broken.join("\n  ")))
    }
}

/// The targets of the Markdown links `[text](target)` and the HTML `src`
/// and `href` attributes in `text`, but for those to other sites and those
/// inside code.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_code_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code_block = !in_code_block;
            continue;
        }
        if in_code_block {
            continue;
        }
        // Inline code holds no links.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(index, _)| index % 2 == 0)
            .map(|(_, part)| part)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                found.push(rest[..end].trim().to_owned());
            }
        }
        for attribute in ["src=\"", "href=\""] {
            let mut rest = prose.as_str();
            while let Some(at) = rest.find(attribute) {
                rest = &rest[at + attribute.len()..];
                if let Some(end) = rest.find('"') {
                    found.push(rest[..end].to_owned());
                }
            }
        }
    }
    found.retain(|target| !target.contains("://") && !target.starts_with("mailto:"));
    found
}

/// Checks that `target`, linked from `page`, names a file and, with a
/// `#fragment`, a heading of it.
fn resolve(page: &Path, target: &str) -> std::result::Result<(), String> {
    let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
    let file = if path.is_empty() {
        page.to_path_buf()
    } else {
        page.parent().unwrap_or(Path::new(".")).join(path)
    };
    if !file.exists() {
        return Err(format!("{} does not exist", file.display()));
    }
    if fragment.is_empty() {
        return Ok(());
    }
    if file.extension().is_none_or(|ext| ext != "md") {
        return Ok(());
    }
    let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    if anchors(&text).contains(fragment) {
        Ok(())
    } else {
        Err(format!("{} has no heading #{fragment}", file.display()))
    }
}

/// The anchors GitHub makes for the headings of `text`.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    let mut in_code_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code_block = !in_code_block;
            continue;
        }
        let Some(heading) = line.strip_prefix('#').filter(|_| !in_code_block) else {
            continue;
        };
        let title = heading.trim_start_matches('#').trim();
        let anchor: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let mut unique = anchor.clone();
        let mut n = 1;
        while anchors.contains(&unique) {
            unique = format!("{anchor}-{n}");
            n += 1;
        }
        anchors.insert(unique);
    }
    anchors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_read_from_prose_not_from_code() {
        let text = "See [the API](docs/api.md#errors) and <img src=\"a.png\">.\n\
                    `[not](a link)` and [away](https://example.com).\n\
                    ```\n[inside](code.md)\n```\n";
        assert_eq!(links(text), ["docs/api.md#errors", "a.png"]);
    }

    #[test]
    fn anchors_follow_github() {
        let found = anchors("# Quick start\n## The API: `GET /me/quote`\n## Quick start\n");
        assert!(found.contains("quick-start"));
        assert!(found.contains("quick-start-1"));
        assert!(found.contains("the-api-get-mequote"));
    }
}
