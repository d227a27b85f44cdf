//! The crate's modules are layered along the pipeline: a module may use only modules of a lower
//! layer (never one of its own layer or above), so there are no import cycles.
//!
//! The check reads the sources: every `crate::…` path outside comments names the top-level
//! module it uses; a path through a root re-export (`crate::Limit`) counts as a use of the
//! module the item comes from (read from the `pub use` lines of `lib.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules and their layer, lowest first. `sign` uses no other module.
const LAYERS: &[(&str, u32)] = &[
    ("error", 0),
    ("insn", 0),
    ("options", 0),
    ("sign", 0),
    ("parse", 1),
    ("link", 2),
    ("emit", 3),
    ("meta", 4),
    ("pipeline", 5),
    ("artifact", 6),
    ("api", 7),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `(top-level module, file text)` of every source file but `lib.rs`.
fn module_files() -> Vec<(String, PathBuf, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![src()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src()).unwrap();
            let first = rel.components().next().unwrap().as_os_str();
            let module = first.to_str().unwrap().trim_end_matches(".rs").to_string();
            if module == "lib" {
                continue;
            }
            out.push((
                module,
                path.clone(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    out
}

/// Text without `//` comments (line and doc comments).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first path segments after every `crate::` (`crate::{a, b::c}` gives `a` and `b`).
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap()];
            for part in group.split(',') {
                let name = ident_at(part.trim());
                if !name.is_empty() {
                    out.push(name.to_string());
                }
            }
        } else {
            out.push(ident_at(rest).to_string());
        }
    }
    out
}

/// Root re-exports: item name → the top-level module it comes from (`pub use m::{A, B};`).
fn root_reexports() -> BTreeMap<String, String> {
    let lib = code(&std::fs::read_to_string(src().join("lib.rs")).unwrap());
    let mut map = BTreeMap::new();
    for (i, _) in lib.match_indices("pub use ") {
        let stmt = &lib[i + "pub use ".len()..];
        let stmt = &stmt[..stmt.find(';').unwrap()];
        let module = ident_at(stmt).to_string();
        let items = stmt[module.len()..].trim_start_matches("::");
        let items = items.trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            let name = item.trim().rsplit("::").next().unwrap().trim();
            if !name.is_empty() {
                map.insert(name.to_string(), module.clone());
            }
        }
    }
    map
}

#[test]
fn no_module_uses_one_of_its_layer_or_above() {
    let layer: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let reexports = root_reexports();
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut bad = Vec::new();
    for (module, path, text) in module_files() {
        let Some(&own) = layer.get(module.as_str()) else {
            panic!(
                "{}: module '{module}' has no layer in LAYERS",
                path.display()
            );
        };
        for used in crate_paths(&code(&text)) {
            let target = reexports.get(&used).cloned().unwrap_or(used.clone());
            if target == module {
                continue;
            }
            let Some(&theirs) = layer.get(target.as_str()) else {
                bad.push(format!(
                    "{}: crate::{used} is neither a layered module nor a root re-export",
                    path.display()
                ));
                continue;
            };
            if theirs >= own {
                bad.push(format!(
                    "{}: '{module}' (layer {own}) uses '{target}' (layer {theirs}) via crate::{used}",
                    path.display()
                ));
            }
            uses.entry(module.clone()).or_default().insert(target);
        }
    }
    for (m, deps) in &uses {
        println!(
            "{m} -> {}",
            deps.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
    // The check sees the imports: the pipeline's middle uses what it should.
    assert!(uses["link"].contains("parse") && uses["emit"].contains("link"));
}

#[test]
fn the_scanner_sees_grouped_and_reexported_paths() {
    let c = code(
        "use crate::{emit, link::Linked};\n// crate::api in a comment\nlet l = crate::Limit::Maps;",
    );
    assert_eq!(crate_paths(&c), ["emit", "link", "Limit"]);
    assert_eq!(
        root_reexports().get("Limit").map(String::as_str),
        Some("error")
    );
}
