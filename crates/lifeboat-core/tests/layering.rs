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
