//! The module layers: every module of `src/` imports only the modules
//! below it in the README's module map (the `text` block of its Design
//! section), its unit tests included. This reads every path of the
//! sources that names a top-level module (`use` lines and paths inline):
//! a `crate::` path, and a `super::` path that climbs out of its
//! top-level module to the crate root (`super::super::cli` in
//! `src/store/events.rs`). It fails on one that climbs the map, and on a
//! top-level module the map does not place: the map is the rule, and
//! this keeps it true.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The layers from the top, as the README's module map lists them: a line
/// of the map's block indented by two spaces starts a layer, and its
/// leading words that end in `/` or `.rs` are the layer's modules (several
/// on one line: a layer whose modules may use each other). Other lines
/// (process headings, boundaries, the descriptions' continuations) place
/// nothing.
fn documented_layers(readme: &str) -> Vec<Vec<String>> {
    let mut lines = readme.lines();
    lines
        .by_ref()
        .find(|l| l.trim() == "## Design")
        .expect("the README has a '## Design' section");
    lines
        .by_ref()
        .find(|l| l.trim() == "```text")
        .expect("the README's Design section holds the module map in a ```text block");
    let mut layers = Vec::new();
    for line in lines.take_while(|l| l.trim() != "```") {
        let Some(entry) = line.strip_prefix("  ") else {
            continue;
        };
        if entry.starts_with(' ') {
            continue;
        }
        let modules: Vec<String> = entry
            .split_whitespace()
            .take_while(|w| w.ends_with('/') || w.ends_with(".rs"))
            .map(|w| w.trim_end_matches('/').trim_end_matches(".rs").to_string())
            .collect();
        if !modules.is_empty() {
            layers.push(modules);
        }
    }
    layers
}

/// Source text with comments and string literals blanked (newlines kept,
/// so lines keep their numbers): a `crate::` in a doc comment or a
/// message is no import.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let mut blank = |from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        let end = if rest.starts_with(b"//") {
            i + rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len())
        } else if rest.starts_with(b"/*") {
            // Block comments nest in Rust.
            let mut depth = 0;
            let mut j = i;
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            j
        } else if let Some(hashes) = raw_string(rest, i > 0 && is_ident(b[i - 1])) {
            let open = rest.iter().position(|&c| c == b'"').unwrap() + 1;
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let body = &rest[open..];
            i + open
                + body
                    .windows(close.len())
                    .position(|w| w == close)
                    .unwrap_or(body.len())
                + close.len()
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            j + 1
        } else if let Some(len) = char_literal(rest) {
            // A character literal: `'"'` would open a string, `'{'` would
            // count as a brace.
            i + len
        } else {
            i += 1;
            continue;
        };
        blank(i, end);
        i = end;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The length of a character literal (`'x'`, `'\''`, `'\u{7b}'`, `'é'`)
/// starting here; `None` for a lifetime or a label (`'a`).
fn char_literal(b: &[u8]) -> Option<usize> {
    if b.first() != Some(&b'\'') {
        return None;
    }
    if b.get(1) == Some(&b'\\') {
        // An escape: up to the closing quote, a short way on.
        let close = b.iter().skip(3).take(10).position(|&c| c == b'\'')?;
        return Some(close + 4);
    }
    // One character, of one to four bytes in UTF-8.
    let width = match *b.get(1)? {
        c if c < 0x80 => 1,
        c if c >= 0xf0 => 4,
        c if c >= 0xe0 => 3,
        _ => 2,
    };
    (b.get(1 + width) == Some(&b'\'')).then_some(width + 2)
}

/// A raw string literal (`r"…"`, `r#"…"#`, `br"…"`) starting here, not
/// inside an identifier: its number of `#`s.
fn raw_string(b: &[u8], after_ident: bool) -> Option<usize> {
    if after_ident {
        return None;
    }
    let rest = b.strip_prefix(b"b").unwrap_or(b).strip_prefix(b"r")?;
    let hashes = rest.iter().take_while(|&&c| c == b'#').count();
    (rest.get(hashes) == Some(&b'"')).then_some(hashes)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The top-level modules named by each `crate::` path of `code`, with
/// the line they are on: `crate::a::b` names `a`, `crate::{a, b::c}` names
/// `a` and `b`. (`$crate` in a macro is left out: it is whoever expands it.)
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let b = code.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::").map(|k| k + from) {
        from = at + "crate::".len();
        if at > 0 && (is_ident(b[at - 1]) || b[at - 1] == b'$') {
            continue;
        }
        found.extend(names_after(code, from));
    }
    found
}

/// The top-level modules named by each `super::` path of `code` that
/// climbs out of its top-level module to the crate root, with the line
/// they are on. `module` is the file's module path (`["store", "events"]`
/// for `src/store/events.rs`); the inline modules (`mod tests { … }`)
/// around a path add to it, so `super::super::cli` leaves
/// `store::events` for the root and names `cli`, where in its `mod tests`
/// it stays in `store`.
fn super_paths(code: &str, module: &[String]) -> Vec<(usize, String)> {
    let b = code.as_bytes();
    let inline = inline_modules(code);
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("super").map(|k| k + from) {
        from = at + "super".len();
        let before = code[..at].trim_end();
        if at > 0 && is_ident(b[at - 1]) || before.ends_with("::") {
            // Inside a word, or a later `super` of a chain already read.
            continue;
        }
        // How many `super`s the chain climbs, and where it goes on.
        let mut climbs = 0;
        let mut rest_at = at;
        while let Some(after) = code[rest_at..].strip_prefix("super") {
            let Some(next) = after.trim_start().strip_prefix("::") else {
                break;
            };
            climbs += 1;
            rest_at = code.len() - next.trim_start().len();
        }
        if climbs == 0 {
            // `pub(super)`, or `super` alone.
            continue;
        }
        let depth = module.len() + inline.iter().filter(|m| m.contains(&at)).count();
        if climbs == depth {
            found.extend(names_after(code, rest_at));
        }
    }
    found
}

/// The byte ranges of the inline modules' bodies (`mod name { … }`) in
/// `code`, whose comments, strings and character literals are blanked.
fn inline_modules(code: &str) -> Vec<std::ops::Range<usize>> {
    let b = code.as_bytes();
    let mut bodies = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("mod").map(|k| k + from) {
        from = at + "mod".len();
        if at > 0 && is_ident(b[at - 1]) || !code[from..].starts_with(char::is_whitespace) {
            continue;
        }
        let rest = code[from..].trim_start();
        let name_len = rest.bytes().take_while(|&c| is_ident(c)).count();
        if name_len == 0 || !rest[name_len..].trim_start().starts_with('{') {
            // `mod name;`: a file of its own, placed by its path.
            continue;
        }
        let open = code.len() - rest[name_len..].trim_start().len();
        let mut depth = 0;
        let close = code[open..]
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map_or(code.len(), |(k, _)| open + k);
        bodies.push(open..close);
    }
    bodies
}

/// The top-level names a path goes on to at `from` (just past `crate::`
/// or the `super::`s that reach the root), with their lines: one name, or
/// each item of a `{a, b::c}` group.
fn names_after(code: &str, from: usize) -> Vec<(usize, String)> {
    let line_of = |offset: usize| code[..offset].matches('\n').count() + 1;
    let mut found = Vec::new();
    let rest = code[from..].trim_start();
    let rest_at = code.len() - rest.len();
    if let Some(group) = rest.strip_prefix('{') {
        // The group's top-level items: what follows `{` or a `,` at
        // depth 0.
        let mut depth = 0;
        let mut start = true;
        let group_at = rest_at + 1;
        for (k, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => start = true,
                c if start && (c.is_ascii_alphanumeric() || c == '_') => {
                    let name: String = group[k..]
                        .chars()
                        .take_while(|&c| c.is_ascii() && is_ident(c as u8))
                        .collect();
                    found.push((line_of(group_at + k), name));
                    start = false;
                }
                c if !c.is_whitespace() => start = false,
                _ => {}
            }
        }
    } else {
        let name: String = rest
            .chars()
            .take_while(|&c| c.is_ascii() && is_ident(c as u8))
            .collect();
        found.push((line_of(rest_at), name));
    }
    found
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a source file is, from its path under `src/`:
/// `store/events.rs` and `store/events/mod.rs` are `store::events`, the
/// crate roots `main.rs` and `lib.rs` are the root.
fn module_path(rel: &Path) -> Vec<String> {
    let mut path: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if path.last().is_some_and(|last| last == "mod") || path == ["main"] || path == ["lib"] {
        path.pop();
    }
    path
}

/// Every import of the sources under `src` that climbs the layers of the
/// map in `readme`, and every top-level module the map does not place,
/// one line each (`src/file:line: a uses b, which is above it`).
fn violations(readme: &str, src: &Path) -> Vec<String> {
    let layers = documented_layers(readme);
    let rank: HashMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| layer.iter().map(move |m| (m.as_str(), i)))
        .collect();
    let mut files = Vec::new();
    sources(src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = top.trim_end_matches(".rs");
        let Some(&own) = rank.get(module) else {
            problems.push(format!(
                "src/{}: module {module:?} has no place in the README's module map",
                rel.display()
            ));
            continue;
        };
        let code = code_only(&fs::read_to_string(&file).unwrap());
        let paths = crate_paths(&code);
        let paths = paths
            .into_iter()
            .chain(super_paths(&code, &module_path(rel)));
        for (line, used) in paths {
            // A module of the same layer or below, or an item of the
            // crate root (not a module of the map), is fine.
            if let Some(&theirs) = rank.get(used.as_str())
                && theirs < own
            {
                problems.push(format!(
                    "src/{}:{line}: {module} uses {used}, which is above it",
                    rel.display()
                ));
            }
        }
    }
    problems
}

#[test]
fn no_module_imports_one_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = fs::read_to_string(root.join("README.md")).expect("reading README.md");
    let problems = violations(&readme, &root.join("src"));
    assert!(
        problems.is_empty(),
        "imports that climb the layers of the README's module map (a lower layer that needs something done above it is handed it, as main hands the supervisor its Scheduling):\n{}",
        problems.join("\n")
    );
}

/// The check itself: a tree whose store uses the supervisor and the CLI
/// is caught at the store's lines, in every form a path takes (`crate::`
/// and `super::` to the root, in a file's or an inline module); comments
/// and strings are not imports, modules of one layer may use each other,
/// and a module the map leaves out is named.
#[test]
fn an_upward_import_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let readme = "# x\n\n## Design\n\n```text\nthe command\n  lib.rs        the top\n  cli/          the CLI\n                store/ in a description places nothing\n─── a boundary\nthe daemon\n  supervisor/   x\n  store/ api/\n                y\n```\n";
    for m in ["cli", "supervisor", "store", "api"] {
        fs::create_dir(src.join(m)).unwrap();
    }
    fs::write(
        src.join("lib.rs"),
        "mod cli;\nfn f() { crate::cli::run(); }\n",
    )
    .unwrap();
    fs::write(
        src.join("cli/mod.rs"),
        "use crate::{store::Store, supervisor};\nfn f() { crate::api::x(); }\n",
    )
    .unwrap();
    fs::write(src.join("api/mod.rs"), "use crate::store::X;\n").unwrap();
    fs::write(
        src.join("store/mod.rs"),
        "// crate::supervisor in a comment\n/* crate::cli /* nested */\n crate::cli */\nconst S: &str = \"crate::cli \\\" crate::cli\";\nconst R: &str = r#\"crate::cli \"# ;\nconst Q: char = '\"';\nuse crate::api::Y;\nfn g() {\n    let _ = crate::supervisor::run();\n}\nuse crate::{\n    api::Z,\n    cli::{a, b},\n};\nmacro_rules! m { () => { $crate::cli::x() } }\n",
    )
    .unwrap();
    // `super::` paths: those that reach the root name a top-level
    // module, those that stay in `store` do not, whatever inline module
    // they are in.
    fs::write(
        src.join("store/events.rs"),
        "use super::Store;\nuse super::super::api::A;\nfn f() { super::super::supervisor::run(); }\nmod tests {\n    const B: char = '}';\n    use super::super::Store;\n    use super :: super :: super :: {api, cli};\n    fn g() { let _ = pub_super::x(); }\n}\npub(super) fn h() {}\nuse super::super::cli::C;\n",
    )
    .unwrap();
    fs::write(src.join("stray.rs"), "").unwrap();
    let mut problems = violations(readme, src);
    problems.sort();
    assert_eq!(
        problems,
        [
            "src/store/events.rs:11: store uses cli, which is above it",
            "src/store/events.rs:3: store uses supervisor, which is above it",
            "src/store/events.rs:7: store uses cli, which is above it",
            "src/store/mod.rs:13: store uses cli, which is above it",
            "src/store/mod.rs:9: store uses supervisor, which is above it",
            "src/stray.rs: module \"stray\" has no place in the README's module map",
        ]
    );
}
