//! The layering invariant (docs/ARCHITECTURE.md), enforced: the repository
//! format (`backend/`, `crypto/`, `repo/`) imports nothing above it — no
//! PostgreSQL, jobs, catalog, schedules or notifications — only itself and
//! the leaf helpers; and the engine depends on no GUI crate.

use std::path::Path;

/// What the repository layers may name with `crate::`.
const ALLOWED: [&str; 9] = [
    "error", "Error", "Result", "backend", "crypto", "repo", "progress", "units", "paths",
];

#[test]
fn the_repository_layers_import_nothing_above_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut files = 0;
    for layer in ["backend", "crypto", "repo"] {
        for file in lifeboat_testkit::files_under(&src.join(layer)) {
            files += 1;
            let text = std::fs::read_to_string(&file).unwrap();
            for (number, line) in text.lines().enumerate() {
                for (at, _) in line.match_indices("crate::") {
                    let module: String = line[at + "crate::".len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !ALLOWED.contains(&module.as_str()) {
                        violations.push(format!("{}:{}: crate::{module}", file.display(), number + 1));
                    }
                }
            }
        }
    }
    assert!(files > 20, "the layers' files were not found under {}", src.display());
    assert!(
        violations.is_empty(),
        "the repository layers import from above:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_engine_depends_on_no_gui_crate() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    for gui in ["tauri", "wry", "tao", "gtk", "webkit"] {
        let named = manifest.lines().any(|l| l.trim_start().starts_with(gui));
        assert!(!named, "lifeboat-core's Cargo.toml names {gui}: the engine has no GUI dependency");
    }
}

/// The top-level modules each module under `src` names with `crate::`
/// (a folder module counts as one), for the import-circle check.
fn module_imports(src: &Path) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    for file in lifeboat_testkit::files_under(src) {
        if file.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = file.strip_prefix(src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        let imports = graph.entry(module.clone()).or_default();
        for (at, _) in text.match_indices("crate::") {
            let named: String = text[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if named != module && named.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                imports.insert(named);
            }
        }
    }
    graph
}

/// Each module that can reach itself through the imports, with the path.
fn circles(graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>) -> Vec<String> {
    let mut found = Vec::new();
    for start in graph.keys() {
        // Depth-first from `start`, remembering the path to each module.
        let mut stack = vec![vec![start.clone()]];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last().unwrap();
            for next in graph.get(last).into_iter().flatten() {
                if next == start {
                    found.push(format!("{} -> {start}", path.join(" -> ")));
                } else if seen.insert(next.clone()) {
                    stack.push([path.clone(), vec![next.clone()]].concat());
                }
            }
        }
    }
    found
}

/// Domain modules never import the catalog or `ops`, the catalog never
/// imports `ops`, and so on: no module reaches itself through its imports,
/// in the engine or in the CLI.
#[test]
fn no_import_circles_between_modules() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for krate in ["lifeboat-core", "lifeboat-cli", "lifeboat-api"] {
        let graph = module_imports(&crates.join(krate).join("src"));
        assert!(graph.len() > 5, "{krate}: its modules were not found");
        let found = circles(&graph);
        assert!(found.is_empty(), "{krate} has import circles:\n{}", found.join("\n"));
    }
}

/// The check above finds a circle when there is one.
#[test]
fn an_import_circle_is_found() {
    let graph = [
        ("catalog", vec!["connections"]),
        ("connections", vec!["pg", "catalog"]),
        ("pg", vec![]),
    ]
    .into_iter()
    .map(|(m, imports)| (m.to_string(), imports.into_iter().map(String::from).collect()))
    .collect();
    let found = circles(&graph);
    assert!(found.contains(&"catalog -> connections -> catalog".to_string()), "{found:?}");
}
