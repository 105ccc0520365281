//! The crate's layers have no circles: no two modules import each other, directly or around a
//! loop. A module may use its ancestors and descendants (that is what nesting is for); between
//! any other two, paths point one way only. Unit tests (`#[cfg(test)]`) may reach anywhere.
//!
//! Read from the source: `crate::` and `super::` paths (in `use` or inline), with brace groups.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Every module file under `src/` (the binary aside), by module path.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, src: &Path, out: &mut BTreeMap<Module, PathBuf>) {
        for entry in fs::read_dir(dir).expect("readable source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "bin") {
                    continue;
                }
                walk(&path, src, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).expect("under src");
                let mut module: Module = rel
                    .with_extension("")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                    module.pop();
                }
                out.insert(module, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, src, &mut out);
    out
}

/// The code of a file without its comments and its unit tests.
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).expect("readable source file");
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths that follow `at` in `text` (after `crate::` or `super::`): one, or several for a
/// brace group.
fn paths_from(
    text: &[char],
    mut at: usize,
    prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix;
    loop {
        while text.get(at).is_some_and(|c| c.is_whitespace()) {
            at += 1;
        }
        if text.get(at) == Some(&'{') {
            at += 1;
            loop {
                at = paths_from(text, at, path.clone(), out);
                while text.get(at).is_some_and(|c| c.is_whitespace() || *c == ',') {
                    at += 1;
                }
                match text.get(at) {
                    Some('}') => return at + 1,
                    None => return at,
                    _ => {}
                }
            }
        }
        let start = at;
        while text.get(at).copied().is_some_and(is_ident) {
            at += 1;
        }
        if at == start {
            break;
        }
        path.push(text[start..at].iter().collect());
        if text.get(at) == Some(&':') && text.get(at + 1) == Some(&':') {
            at += 2;
        } else {
            break;
        }
    }
    out.push(path);
    at
}

/// The modules `module` (in `file`) refers to.
fn references(module: &Module, file: &Path, known: &BTreeMap<Module, PathBuf>) -> BTreeSet<Module> {
    let text: Vec<char> = code(file).chars().collect();
    let mut found = BTreeSet::new();
    let mut i = 0;
    while i < text.len() {
        let before_ok = i == 0 || !is_ident(text[i - 1]);
        let rest: String = text[i..text.len().min(i + 7)].iter().collect();
        let (base, skip) = if before_ok && rest == "crate::" {
            (Vec::new(), 7)
        } else if before_ok && rest == "super::" {
            let mut ups = 1;
            let mut at = i + 7;
            while text[at..].iter().take(7).collect::<String>() == "super::" {
                ups += 1;
                at += 7;
            }
            let base = module[..module.len().saturating_sub(ups)].to_vec();
            (base, at - i)
        } else {
            i += 1;
            continue;
        };
        let mut paths = Vec::new();
        i = paths_from(&text, i + skip, base, &mut paths);
        for path in paths {
            let target = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| known.contains_key(p))
                .unwrap_or_default();
            found.insert(target);
        }
    }
    found
}

fn related(a: &Module, b: &Module) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Every import between two modules neither of which contains the other.
fn edges() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known = modules(&src);
    let mut edges = BTreeMap::new();
    for (module, file) in &known {
        let targets: BTreeSet<Module> = references(module, file, &known)
            .into_iter()
            .filter(|t| !related(module, t))
            .collect();
        edges.insert(module.clone(), targets);
    }
    edges
}

/// A path from `from` back to `to`, if there is one.
fn path_back(
    edges: &BTreeMap<Module, BTreeSet<Module>>,
    from: &Module,
    to: &Module,
    seen: &mut BTreeSet<Module>,
) -> Option<Vec<Module>> {
    if from == to {
        return Some(vec![from.clone()]);
    }
    if !seen.insert(from.clone()) {
        return None;
    }
    for next in edges.get(from).into_iter().flatten() {
        if let Some(mut rest) = path_back(edges, next, to, seen) {
            rest.insert(0, from.clone());
            return Some(rest);
        }
    }
    None
}

fn show(path: &[Module]) -> String {
    path.iter()
        .map(|m| m.join("::"))
        .collect::<Vec<_>>()
        .join(" -> ")
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let edges = edges();
    assert!(
        edges.len() > 40,
        "the source was found: {} modules",
        edges.len()
    );
    let mut circles = Vec::new();
    for (module, targets) in &edges {
        for target in targets {
            if let Some(back) = path_back(&edges, target, module, &mut BTreeSet::new()) {
                let mut circle = vec![module.clone()];
                circle.extend(back);
                circles.push(show(&circle));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn top_level_modules_point_one_way() {
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, targets) in edges() {
        let Some(from) = module.first() else { continue };
        for target in targets {
            if let Some(to) = target.first()
                && to != from
            {
                top.entry(from.clone()).or_default().insert(to.clone());
            }
        }
    }
    let mut both = Vec::new();
    for (a, targets) in &top {
        for b in targets {
            if a < b && top.get(b).is_some_and(|t| t.contains(a)) {
                both.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert!(both.is_empty(), "layers importing each other: {both:?}");
    // The engine sits on top: nothing below it reaches up.
    for (from, targets) in &top {
        assert!(
            from == "engine" || !targets.contains("engine"),
            "{from} imports the engine"
        );
    }
}

#[test]
fn the_reader_sees_grouped_and_nested_imports() {
    let text: Vec<char> = "use crate::a::{b, c::{d, e}, f};".chars().collect();
    let mut out = Vec::new();
    paths_from(&text, "use crate::".len(), Vec::new(), &mut out);
    let shown: Vec<String> = out.iter().map(|p| p.join("::")).collect();
    assert_eq!(shown, ["a::b", "a::c::d", "a::c::e", "a::f"]);
}
