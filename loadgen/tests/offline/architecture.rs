//! Loadgen's top-level modules (`run`, `record`, `scenario`, …) depend on each other
//! without circles: for every module, what it names through `crate::` — in code, tests and
//! doc links alike — never leads back to it. A circle means two modules own one thing
//! between them; the fix is to move that thing down to one of them (or to a module of its
//! own), not to allow the circle here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module → the other top-level modules it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`run.rs`, `run/goose.rs` → `run`); `None` for
/// the crate roots, which declare the modules rather than use them.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The top-level modules `text` names through `crate::`: `crate::run::X` and every item of
/// a group, `crate::{run, merge::{self, Y}}`.
fn referenced(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start => {
                        item_start = false;
                        names.insert(identifier(&group[i..]).to_string());
                    }
                    _ => {}
                }
            }
        } else {
            names.insert(identifier(rest).to_string());
        }
    }
    names.retain(|name| !name.is_empty() && name != "self");
    names
}

/// The modules of `src` and what each names.
fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph = Graph::new();
    for file in &files {
        let Some(module) = top_module(src, file) else {
            continue;
        };
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let uses = graph.entry(module.clone()).or_default();
        uses.extend(referenced(&text).into_iter().filter(|used| *used != module));
    }
    graph
}

/// A circle of modules, each naming the next and the last the first; `None` when there is
/// none. Depth first: a module met again while it is still on the path closes a circle.
fn find_circle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
        module: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            return Some(path[at..].to_vec());
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_string());
        for used in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(graph, used, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(module.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(graph, module, &mut Vec::new(), &mut done))
}

fn shown(circle: &[String]) -> String {
    let mut names = circle.to_vec();
    names.extend(circle.first().cloned());
    names.join(" → ")
}

#[test]
fn loadgen_modules_name_each_other_without_circles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    // The graph is loadgen's, not an empty directory's.
    assert!(graph.len() > 15, "{graph:?}");
    assert!(graph["run"].contains("record"), "{:?}", graph["run"]);
    if let Some(circle) = find_circle(&graph) {
        panic!(
            "loadgen's modules name each other in a circle: {} (move what they share into \
             one of them)",
            shown(&circle)
        );
    }
}

fn graph_of(edges: &[(&str, &str)]) -> Graph {
    let mut graph = Graph::new();
    for (from, to) in edges {
        graph.entry(to.to_string()).or_default();
        graph
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string());
    }
    graph
}

#[test]
fn the_circle_finder_names_a_circle_and_passes_a_tree() {
    let circle = graph_of(&[
        ("cli", "run"),
        ("run", "merge"),
        ("merge", "report"),
        ("report", "run"),
        ("report", "hlog"),
    ]);
    let found = find_circle(&circle).expect("a circle");
    assert_eq!(shown(&found), "run → merge → report → run");
    let tree = graph_of(&[
        ("cli", "run"),
        ("cli", "merge"),
        ("run", "record"),
        ("merge", "record"),
        ("merge", "report"),
        ("report", "record"),
    ]);
    assert_eq!(find_circle(&tree), None);
    assert_eq!(
        find_circle(&graph_of(&[("a", "b"), ("b", "a")])).map(|c| c.len()),
        Some(2)
    );
}

#[test]
fn references_are_read_from_paths_groups_and_doc_links() {
    let text = "use crate::run::{RunRecord, start_run};\n\
                use crate::{merge::{self, LoadedRun}, report,\n    hlog::Seconds};\n\
                /// See [`crate::recovery`].\n\
                let x = crate::duration::parse_duration(\"1s\");\n\
                use crate::{self as loadgen};";
    let names: Vec<String> = referenced(text).into_iter().collect();
    assert_eq!(
        names,
        ["duration", "hlog", "merge", "recovery", "report", "run"]
    );
    let src = Path::new("/x/src");
    assert_eq!(
        top_module(src, Path::new("/x/src/run/goose.rs")).as_deref(),
        Some("run")
    );
    assert_eq!(
        top_module(src, Path::new("/x/src/record.rs")).as_deref(),
        Some("record")
    );
    assert_eq!(top_module(src, Path::new("/x/src/lib.rs")), None);
}
