//! The import order of src/, read from the source: data flows down the layers (main.rs ->
//! pipeline -> cli/plan -> run -> measure, and report -> diagnose -> analyze -> measure), and no
//! file imports one that imports it back.
//!
//! What it reads: every `use` path (braces expanded) and every inline `crate::`/`super::` path
//! of the library's files, from the top of each file down to its first `#[cfg(test)]`; test-only
//! files (`tests.rs`, `tests/`) are left out, since a test may reach anywhere. A path counts as
//! an import of the deepest module file it names. A file's import of a module that encloses it
//! (its folder's mod.rs, through `super::`) is not counted: mod.rs is the folder's face, which
//! declares the files and re-exports them. What it does not read: macros that expand to paths,
//! paths inside strings, and glob imports of a module's children.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top first: a module may import only modules of a lower layer. Modules of one
/// layer do not import each other. A new top-level module must be placed here.
const LAYERS: &[&[&str]] = &[
    &["pipeline"],
    &["plan", "doctor"],
    &["cli"],
    &["saved"],
    &["run", "report"],
    &["diagnose"],
    &["analyze"],
    &["measure", "output"],
    &["error", "redact", "units"],
];

/// A module path (`["run", "sampler", "tree"]`) for each library file under src/.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if name != "tests" {
                    stack.push(path);
                }
                continue;
            }
            let Some(stem) = name.strip_suffix(".rs") else {
                continue;
            };
            if matches!(stem, "main" | "lib" | "tests") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let mut module: Vec<String> = rel
                .parent()
                .into_iter()
                .flat_map(|p| p.iter())
                .map(|s| s.to_string_lossy().to_string())
                .collect();
            if stem != "mod" {
                module.push(stem.to_string());
            }
            out.insert(module, path);
        }
    }
    out
}

/// The shipped code of a file: comments dropped, cut at its first `#[cfg(test)]`.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a file names: its `use` trees expanded, and its inline `crate::`/`super::` paths.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    // A use statement starts a line (`use`, `pub use`, `pub(crate) use`) and ends at its `;`.
    let mut offset = 0;
    for line in code.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let body = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .find_map(|p| trimmed.strip_prefix(p));
        if let Some(body) = body {
            let at = offset + (line.len() - body.len());
            if let Some(end) = code[at..].find(';') {
                expand(&[], code[at..at + end].trim(), &mut out);
            }
        }
        offset += line.len();
    }
    for root in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(root) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at..];
            let len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                out.push(segments(&rest[..len]));
            }
            rest = &rest[len..];
        }
    }
    out
}

fn segments(path: &str) -> Vec<String> {
    path.split("::")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Expands one use tree (`a::{b, c::{d, e}}`) into its paths.
fn expand(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or("");
        let mut full = prefix.to_vec();
        full.extend(segments(path).into_iter().filter(|s| s != "*"));
        out.push(full);
        return;
    };
    let mut full = prefix.to_vec();
    full.extend(segments(tree[..open].trim_end_matches("::")));
    out.push(full.clone());
    let close = tree.rfind('}').filter(|&c| c > open).unwrap_or(tree.len());
    let inner = &tree[open + 1..close];
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&full, &inner[start..i], out);
                start = i + 1;
            }
            _ => {}
        }
    }
    expand(&full, &inner[start..], out);
}

/// The module file a path imports, seen from `module` (`super` is its parent, `self` itself).
fn resolve(
    module: &[String],
    path: &[String],
    known: &BTreeMap<Vec<String>, PathBuf>,
) -> Option<Vec<String>> {
    let mut full: Vec<String> = module.to_vec();
    let mut rest = path;
    match rest.first()?.as_str() {
        "crate" => {
            full.clear();
            rest = &rest[1..];
        }
        "super" | "self" => {
            while let Some(word) = rest.first().filter(|w| *w == "super" || *w == "self") {
                if word == "super" {
                    full.pop();
                }
                rest = &rest[1..];
            }
        }
        // A child module named without `self::` (`use sweep::Plan` in run/mod.rs); else another
        // crate's path.
        first => {
            let mut child = module.to_vec();
            child.push(first.to_string());
            if !known.contains_key(&child) {
                return None;
            }
        }
    }
    full.extend(rest.iter().cloned());
    (1..=full.len())
        .rev()
        .map(|n| full[..n].to_vec())
        .find(|m| known.contains_key(m))
        // A folder's mod.rs is its face: it declares and re-exports its files, and they may use
        // what it defines (`super::Step`). That edge up to an enclosing module is not counted.
        .filter(|m| !module.starts_with(m))
}

/// Which module file imports which, for every library file.
fn imports(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let known = modules(src);
    known
        .iter()
        .map(|(module, file)| {
            let targets = paths(&code(file))
                .iter()
                .filter_map(|p| resolve(module, p, &known))
                .collect();
            (module.clone(), targets)
        })
        .collect()
}

fn layer_of(module: &[String]) -> Option<usize> {
    let top = module.first()?;
    LAYERS.iter().position(|l| l.contains(&top.as_str()))
}

fn src() -> PathBuf {
    crate::support::repo_root().join("src")
}

#[test]
fn every_module_imports_only_the_layers_below_its_own() {
    let graph = imports(&src());
    assert!(
        graph.len() > 80,
        "read the library's files: {}",
        graph.len()
    );
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        let Some(own) = layer_of(from) else {
            wrong.push(format!(
                "{}: not in LAYERS (place it there)",
                from.join("::")
            ));
            continue;
        };
        for to in targets.iter().filter(|to| to[0] != from[0]) {
            if layer_of(to).is_none_or(|theirs| theirs <= own) {
                wrong.push(format!("{} imports {}", from.join("::"), to.join("::")));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let graph = imports(&src());
    // A module is in a circle when it can reach itself; each circle is named once, by its files.
    let reach = |start: &Vec<String>| -> BTreeSet<Vec<String>> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&Vec<String>> = graph[start].iter().collect();
        while let Some(m) = todo.pop() {
            if seen.insert(m.clone()) {
                todo.extend(graph.get(m).into_iter().flatten());
            }
        }
        seen
    };
    let reachable: BTreeMap<&Vec<String>, BTreeSet<Vec<String>>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let circles: BTreeSet<Vec<String>> = reachable
        .iter()
        .filter(|(m, r)| r.contains(**m))
        .map(|(m, _)| {
            let mut members: Vec<String> = reachable
                .iter()
                .filter(|(o, r)| r.contains(*m) && reachable[m].contains(**o))
                .map(|(o, _)| o.join("::"))
                .collect();
            members.sort();
            members
        })
        .collect();
    assert!(
        circles.is_empty(),
        "import circles (each line: files that import each other round):\n{}",
        circles
            .iter()
            .map(|c| c.join(" <-> "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_reader_sees_a_circle_and_an_upward_import() {
    // The check itself: a circle and an import up the layers, written as src/ writes them.
    let dir = std::env::temp_dir().join(format!("forkcast-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("analyze")).unwrap();
    std::fs::write(dir.join("analyze/mod.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(dir.join("analyze/a.rs"), "use super::b::{self, X};\n").unwrap();
    std::fs::write(
        dir.join("analyze/b.rs"),
        "pub fn f() { super::a::g(); crate::report::html(); }\n",
    )
    .unwrap();
    std::fs::write(dir.join("report.rs"), "use crate::{analyze::a, measure};\n").unwrap();
    let graph = imports(&dir);
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    assert!(
        graph[&m("analyze::a")].contains(&m("analyze::b")),
        "{graph:?}"
    );
    assert!(
        graph[&m("analyze::b")].contains(&m("analyze::a")),
        "{graph:?}"
    );
    assert!(graph[&m("analyze::b")].contains(&m("report")), "{graph:?}");
    assert!(graph[&m("report")].contains(&m("analyze::a")), "{graph:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
