//! The API's architecture, checked: `api/src` is in layers (leaves, the
//! HTTP edge, composition), every import points down or sideways within a
//! layer, and no module imports, directly or around a loop, one that
//! imports it back.
//!
//! Imports are read from the source text: every `crate::`, `super::` and
//! `self::` path outside comments and `#[cfg(test)]` modules, resolved to
//! the deepest module file it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::{Result, Tally, root};

/// Each top-level module of `api/src` and its layer: a module may import
/// from its own layer and those below (a smaller number), never above.
const LAYERS: &[(&str, u8)] = &[
    // Leaves: the rules and the parts, which know nothing of HTTP.
    ("quotes", 0),
    ("schema", 0),
    ("store", 0),
    ("metrics", 0),
    ("db", 0),
    ("auth", 0),
    ("webhooks", 0),
    ("rate_limit", 0),
    // The HTTP edge, and the parts that serve HTTP of their own.
    ("http", 1),
    ("dev_idp", 1),
    ("web_app", 1),
    // Composition: settings from flags and environment, routes, start-up.
    ("logging", 2),
    ("config", 2),
    ("routes", 2),
    ("openapi", 2),
    ("app", 2),
];

/// Module path (`http::quotes`) → the modules it imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// Reads `api/src` and fails with every upward import and every cycle.
pub fn check(tally: &mut Tally) -> Result {
    let graph = read(&root().join("api/src"))?;
    let problems = problems(&graph);
    if problems.is_empty() {
        println!(
            "{} modules in {} layers; every import points down, no cycles",
            graph.len(),
            3
        );
        tally.passed += 1;
        Ok(())
    } else {
        tally.failed += 1;
        Err(format!(
            "api/src breaks its layers:\n  {}",
            problems.join("\n  ")
        ))
    }
}

fn problems(graph: &Graph) -> Vec<String> {
    let mut problems = Vec::new();
    for (from, targets) in graph {
        for to in targets {
            match (layer(from), layer(to)) {
                (Some(a), Some(b)) if b > a => problems.push(format!(
                    "{from} (layer {a}) imports {to} (layer {b}), which is above it"
                )),
                (None, _) | (_, None) if !from.is_empty() && !to.is_empty() => {
                    problems.push(format!("{from} -> {to}: a module with no layer in LAYERS"));
                }
                _ => {}
            }
        }
    }
    problems.extend(
        cycles(graph)
            .into_iter()
            .map(|cycle| format!("import cycle: {}", cycle.join(" -> "))),
    );
    problems
}

/// The layer of a module path; the crate root (`lib.rs`) is on top.
fn layer(module: &str) -> Option<u8> {
    if module.is_empty() {
        return Some(u8::MAX);
    }
    let top = module.split("::").next()?;
    LAYERS
        .iter()
        .find(|(name, _)| *name == top)
        .map(|(_, layer)| *layer)
}

/// One cycle per strongly connected group of modules (a depth-first search
/// that reports the path back to a module still on the stack).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        marks.insert(node.to_owned(), Mark::Open);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next.as_str()) {
                Some(Mark::Open) => {
                    let start = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    found.push(cycle);
                }
                Some(Mark::Done) => {}
                None => visit(next, graph, marks, stack, found),
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut found = Vec::new();
    for node in graph.keys() {
        if !marks.contains_key(node) {
            visit(node, graph, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}

/// Every module file under `src` (the binary's `main.rs` aside) and what
/// it imports from the crate.
fn read(src: &Path) -> Result<Graph> {
    let mut files = Vec::new();
    collect(src, src, &mut files)?;
    let modules: BTreeSet<String> = files.iter().map(|(module, _)| module.clone()).collect();
    let mut graph = Graph::new();
    for (module, text) in &files {
        graph.insert(module.clone(), imports(text, module, &modules));
    }
    Ok(graph)
}

/// A module path and its source.
type File = (String, String);

fn collect(src: &Path, dir: &Path, files: &mut Vec<File>) -> Result {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect(src, &path, files)?;
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let relative = path.strip_prefix(src).map_err(|e| e.to_string())?;
        let mut parts: Vec<String> = relative
            .with_extension("")
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect();
        let is_mod_file = matches!(parts.last().map(String::as_str), Some("mod" | "lib"));
        if parts == ["main"] {
            continue;
        }
        if is_mod_file {
            parts.pop();
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        files.push((parts.join("::"), text));
    }
    Ok(())
}

/// The modules `text` (the file of `module`) imports: the deepest existing
/// module each `crate::`/`super::`/`self::` path names, other than itself.
fn imports(text: &str, module: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = code_of(text);
    let own: Vec<&str> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").collect()
    };
    // `super` is the parent module, whether the file is `a/b.rs` or
    // `a/b/mod.rs`; `self` is the module itself.
    let parent: Vec<&str> = own[..own.len().saturating_sub(1)].to_vec();
    let mut found = BTreeSet::new();
    // A child module is named without a prefix: `endpoints::token`.
    for line in code.lines() {
        let line = line.trim_start().trim_start_matches("pub ");
        if let Some(child) = line
            .strip_prefix("mod ")
            .and_then(|rest| rest.strip_suffix(';'))
        {
            let child_path = if module.is_empty() {
                child.to_owned()
            } else {
                format!("{module}::{child}")
            };
            let prefix = format!("{child}::");
            let mut rest = code.as_str();
            while let Some(at) = rest.find(&prefix) {
                let before = rest[..at].chars().next_back();
                rest = &rest[at + prefix.len()..];
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    found.insert(child_path.clone());
                }
            }
        }
    }
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", parent),
        ("self::", own.clone()),
    ] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            for path in paths_at(rest) {
                let mut full: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
                full.extend(path);
                while !full.is_empty() && !modules.contains(&full.join("::")) {
                    full.pop();
                }
                let target = full.join("::");
                if target != module && modules.contains(&target) {
                    found.insert(target);
                }
            }
        }
    }
    found
}

/// The module paths written at the start of `text`: `a::b::Item` gives
/// `[a, b, Item]`; `a::{b, c::d}` gives `[a, b]` and `[a, c, d]`.
fn paths_at(text: &str) -> Vec<Vec<String>> {
    let mut head = Vec::new();
    let mut rest = text;
    loop {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            break;
        }
        rest = &rest[name.len()..];
        head.push(name);
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => return vec![head],
        }
    }
    let Some(group) = rest.strip_prefix('{') else {
        return vec![head];
    };
    let mut depth = 1;
    let end = group
        .char_indices()
        .find(|(_, c)| {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            depth == 0
        })
        .map_or(group.len(), |(i, _)| i);
    let mut paths = Vec::new();
    let mut item_depth = 0;
    let mut start = 0;
    let inner = &group[..end];
    for (i, c) in inner.char_indices() {
        match c {
            '{' => item_depth += 1,
            '}' => item_depth -= 1,
            ',' if item_depth == 0 => {
                push_item(&head, inner[start..i].trim(), &mut paths);
                start = i + 1;
            }
            _ => {}
        }
    }
    push_item(&head, inner[start..].trim(), &mut paths);
    paths
}

fn push_item(head: &[String], item: &str, paths: &mut Vec<Vec<String>>) {
    if item.is_empty() || item == "self" {
        paths.push(head.to_vec());
        return;
    }
    for tail in paths_at(item) {
        let mut path = head.to_vec();
        path.extend(tail);
        paths.push(path);
    }
}

/// The code of a file: no comments, no `#[cfg(test)]` module (tests may
/// reach anywhere), no string contents.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut code = String::with_capacity(text.len());
    for line in text.lines() {
        let line = match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        edges
            .iter()
            .map(|(from, to)| {
                (
                    (*from).to_owned(),
                    to.iter().map(|t| (*t).to_owned()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn an_import_from_a_higher_layer_is_reported() {
        let problems = problems(&graph(&[("auth", &["config"]), ("config", &[])]));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("auth (layer 0) imports config"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_cycle_is_reported_with_its_path() {
        let problems = problems(&graph(&[
            ("http::error", &["http::quotes"]),
            ("http::quotes", &["http::caller"]),
            ("http::caller", &["http::error"]),
        ]));
        assert_eq!(
            problems,
            ["import cycle: http::caller -> http::error -> http::quotes -> http::caller"]
        );
    }

    #[test]
    fn downward_imports_without_cycles_pass() {
        let problems = problems(&graph(&[
            ("app", &["http", "auth"]),
            ("http", &["http::error"]),
            ("http::error", &["auth"]),
            ("auth", &[]),
        ]));
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn paths_are_read_through_groups_renames_and_comments() {
        let modules: BTreeSet<String> = ["", "a", "a::b", "a::c", "d", "e", "e::f"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let text = "use crate::a::{b::Thing, c as see};\n\
                    // use crate::d::Gone;\n\
                    fn f() { super::f::g(); crate::d::h(); }\n\
                    #[cfg(test)]\nmod tests { use crate::e::X; }";
        let found = imports(text, "e::x", &modules);
        let found: Vec<&str> = found.iter().map(String::as_str).collect();
        assert_eq!(found, ["a::b", "a::c", "d", "e::f"]);
        let parent = "mod f;\nfn g() { f::h(); }";
        let found = imports(parent, "e", &modules);
        assert_eq!(found.into_iter().collect::<Vec<_>>(), ["e::f"]);
    }
}
