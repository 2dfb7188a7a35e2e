//! What cargo cannot see, checked: inside each crate, no module imports,
//! directly or around a loop, one that imports it back; inside
//! `quotes-api`, the HTTP edge sits below composition; inside `xtask`, the
//! helpers sit below the tasks. There every import points down or
//! sideways within a layer. (Between crates, cargo holds the arrows:
//! `quotes-core` cannot name `quotes-api`.)
//!
//! Imports are read from the source text: every `crate::`, `super::` and
//! `self::` path outside comments and `#[cfg(test)]` modules, resolved to
//! the deepest module file it names. What a module takes from its own
//! parents (the modules that declare it) is not an import across the tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::paths::root;
use crate::report::{Result, Tally};

/// Top-level modules and their layers.
type Layers = &'static [(&'static str, u8)];

/// Each top-level module of `api/src` and its layer: a module may import
/// from its own layer and those below (a smaller number), never above.
const API_LAYERS: Layers = &[
    // The HTTP edge, and the web app's files it serves.
    ("http", 1),
    ("web_app", 1),
    // Composition: settings from flags and environment, routes, start-up.
    ("logging", 2),
    ("config", 2),
    ("routes", 2),
    ("openapi", 2),
    ("app", 2),
];

/// Each top-level module of `xtask/src` and its layer, as for the API.
const XTASK_LAYERS: Layers = &[
    // Helpers the tasks share, which know no task.
    ("report", 0),
    ("paths", 0),
    ("process", 0),
    ("net", 0),
    ("tools", 0),
    ("python", 0),
    ("postgres", 0),
    ("server", 0),
    ("assets", 0),
    // Tasks and checks that stand on the helpers alone.
    ("web", 1),
    ("bench", 1),
    ("containers", 1),
    ("layers", 1),
    ("deny", 1),
    ("fuzz", 1),
    ("openapi", 1),
    ("typescript", 1),
    ("private_cluster", 1),
    ("walkthrough", 1),
    ("links", 1),
    ("release", 1),
    ("screenshots", 1),
    // Tasks made of other tasks' work.
    ("run", 2),
    ("lint", 2),
    ("browser", 2),
    ("test", 2),
];

/// The crates' source folders, and the layers of those that have them.
const CRATES: &[(&str, Option<Layers>)] = &[
    ("api/src", Some(API_LAYERS)),
    ("api/core/src", None),
    ("api/dev-idp/src", None),
    ("api/test-support/src", None),
    ("client/src", None),
    ("bench/src", None),
    ("web/src", None),
    ("xtask/src", Some(XTASK_LAYERS)),
];

/// Module path (`http::quotes`) → the modules it imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// Reads every crate and fails with every upward import and every cycle.
pub fn check(tally: &mut Tally) -> Result {
    let mut all = Vec::new();
    let mut modules = 0;
    for (src, layers) in CRATES {
        let graph = read(&root().join(src))?;
        modules += graph.len();
        let layers = layers.unwrap_or(&[]);
        all.extend(
            problems(&graph, layers)
                .into_iter()
                .map(|problem| format!("{src}: {problem}")),
        );
    }
    if all.is_empty() {
        let layered: Vec<&str> = CRATES
            .iter()
            .filter(|(_, layers)| layers.is_some())
            .map(|(src, _)| *src)
            .collect();
        println!(
            "{modules} modules in {} crates: no import cycle; every import points down in {}",
            CRATES.len(),
            layered.join(" and ")
        );
        tally.steps += 1;
        Ok(())
    } else {
        tally.failed += 1;
        Err(format!(
            "the modules break their layers:\n  {}",
            all.join("\n  ")
        ))
    }
}

/// Upward imports (when the crate has `layers`) and cycles.
fn problems(graph: &Graph, layers: &[(&str, u8)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (from, targets) in graph {
        if layers.is_empty() {
            break;
        }
        for to in targets {
            match (layer(layers, from), layer(layers, to)) {
                (Some(a), Some(b)) if b > a => problems.push(format!(
                    "{from} (layer {a}) imports {to} (layer {b}), which is above it"
                )),
                (None, _) | (_, None) if !from.is_empty() && !to.is_empty() => {
                    problems.push(format!("{from} -> {to}: a module with no layer"));
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
fn layer(layers: &[(&str, u8)], module: &str) -> Option<u8> {
    if module.is_empty() {
        return Some(u8::MAX);
    }
    let top = module.split("::").next()?;
    layers
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

/// Every module file under `src` (a binary's `main.rs` aside when the
/// crate has a library) and what it imports from the crate.
fn read(src: &Path) -> Result<Graph> {
    let mut files = Vec::new();
    collect(src, src, &mut files)?;
    if files.iter().any(|(module, _)| module.is_empty()) {
        files.retain(|(module, _)| module != "main");
    }
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
        // `lib.rs`, or `main.rs` of a crate with no library, is the root;
        // `a/mod.rs` is `a`. (A crate's `bin/` holds roots of their own.)
        let is_mod_file = matches!(parts.last().map(String::as_str), Some("mod" | "lib"));
        let is_root = parts == ["main"] && !src.join("lib.rs").exists();
        if parts.first().is_some_and(|part| part == "bin") {
            continue;
        }
        if is_mod_file || is_root {
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
                // A module may use what its parent modules hold (they
                // declare it): only imports across the tree count.
                let ancestor = target.is_empty() || module.starts_with(&format!("{target}::"));
                if target != module && !ancestor && modules.contains(&target) {
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
        let problems = problems(
            &graph(&[("http", &["config"]), ("config", &[])]),
            API_LAYERS,
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("http (layer 1) imports config"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_cycle_is_reported_with_its_path() {
        let problems = problems(
            &graph(&[
                ("http::error", &["http::quotes"]),
                ("http::quotes", &["http::caller"]),
                ("http::caller", &["http::error"]),
            ]),
            &[],
        );
        assert_eq!(
            problems,
            ["import cycle: http::caller -> http::error -> http::quotes -> http::caller"]
        );
    }

    #[test]
    fn downward_imports_without_cycles_pass() {
        let problems = problems(
            &graph(&[
                ("app", &["http", "web_app"]),
                ("http", &["http::error"]),
                ("http::error", &["web_app"]),
                ("web_app", &[]),
            ]),
            API_LAYERS,
        );
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
