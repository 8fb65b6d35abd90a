//! The window's command surface agrees everywhere it is written down: the
//! commands `src-tauri/build.rs` declares, the handlers `main.rs` registers,
//! the permissions `capabilities/main.json` grants, and the commands
//! `ui/src/lib/api.ts` calls. A command added in one place and forgotten in
//! another fails here, not in the window.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("{start:?} not found")) + start.len();
    let to = from
        + text[from..]
            .find(end)
            .unwrap_or_else(|| panic!("{end:?} not found after {start:?}"));
    &text[from..to]
}

/// Every `"..."` in `text`.
fn quoted(text: &str) -> BTreeSet<String> {
    text.split('"').skip(1).step_by(2).map(str::to_owned).collect()
}

#[test]
fn declared_registered_granted_and_called_commands_are_the_same() {
    let declared = quoted(between(&read("src-tauri/build.rs"), "const COMMANDS: &[&str] = &[", "];"));
    let registered: BTreeSet<String> = between(&read("src-tauri/src/main.rs"), "generate_handler![", "]")
        .split(',')
        .filter_map(|path| path.trim().rsplit("::").next())
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    let capability: serde_json::Value = serde_json::from_str(&read("src-tauri/capabilities/main.json")).unwrap();
    let granted: BTreeSet<String> = capability["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = p.as_str().unwrap();
            p.strip_prefix("allow-")
                .unwrap_or_else(|| panic!("the window is granted {p}, which is not one of Lifeboat's commands"))
                .replace('-', "_")
        })
        .collect();
    let api = read("ui/src/lib/api.ts");
    let called: BTreeSet<String> = api
        .match_indices("call<")
        .filter_map(|(at, _)| api[at..].split_once(">(\"").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once('"').map(|(name, _)| name.to_owned()))
        .collect();

    assert!(declared.len() > 30, "build.rs declares {declared:?}");
    assert_eq!(registered, declared, "main.rs registers other commands than build.rs declares");
    assert_eq!(
        granted, declared,
        "capabilities/main.json grants other commands than build.rs declares"
    );
    assert_eq!(called, declared, "ui/src/lib/api.ts calls other commands than build.rs declares");
}
