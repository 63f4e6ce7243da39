//! The fuzz targets' entry points (`pod::fuzz`, driven by `fuzz/`) over
//! the seed corpus: the Kubernetes documentation's manifests and the
//! selectors, jsonpath templates and quantities in them, plus the fuzz
//! seeds and the inputs the fuzz runs found once
//! (`fuzz/seeds/<target>/`, `fuzz/regressions/<target>/`). Any panic here
//! is a bug a fuzz run would report; this keeps them fixed without
//! needing a fuzzer on CI.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn manifests() -> Vec<PathBuf> {
    let mut out = Vec::new();
    files(Path::new("tests/conformance/k8s-examples"), &mut out);
    out.retain(|p| {
        matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        )
    });
    out.sort();
    assert!(out.len() > 100, "the seed corpus is missing: {}", out.len());
    out
}

/// The target's own seeds (`fuzz/seeds/`, the alias bomb among them) and
/// the inputs fuzz runs once found (`fuzz/regressions/`).
fn regressions(target: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    files(&Path::new("fuzz/seeds").join(target), &mut out);
    files(&Path::new("fuzz/regressions").join(target), &mut out);
    out.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn manifests_decode_and_validate_without_panic() {
    for path in manifests() {
        pod::fuzz::manifest(&std::fs::read(&path).unwrap());
    }
    for input in regressions("manifest") {
        pod::fuzz::manifest(&input);
    }
}

/// Every `key: value` line of the corpus is a selector and a quantity
/// candidate; every `{...}` path-looking string a jsonpath.
#[test]
fn selectors_quantities_and_jsonpaths_from_the_corpus() {
    let mut lines = 0;
    for path in manifests() {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let line = line.trim().trim_start_matches("- ");
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            lines += 1;
            pod::fuzz::selector(format!("{key}={value}").as_bytes());
            pod::fuzz::selector(format!("{key} in ({value}),!{key}").as_bytes());
            pod::fuzz::quantity(value.as_bytes());
            pod::fuzz::jsonpath(format!("{{.{key}}}").as_bytes());
            pod::fuzz::jsonpath(format!("{{.spec.containers[*].{key}}}").as_bytes());
        }
    }
    assert!(lines > 1000, "{lines}");
    for target in ["selector", "quantity", "jsonpath"] {
        for input in regressions(target) {
            match target {
                "selector" => pod::fuzz::selector(&input),
                "quantity" => pod::fuzz::quantity(&input),
                _ => pod::fuzz::jsonpath(&input),
            }
        }
    }
}

#[test]
fn layers_unpack_without_panic_or_escape() {
    for input in regressions("layer") {
        pod::fuzz::layer(&input);
    }
    // A well-formed layer: a directory, a file and a symlink.
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_size(0);
    tar.append_data(&mut header, "etc/", &[][..]).unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o644);
    header.set_size(5);
    tar.append_data(&mut header, "etc/hosts", &b"hello"[..])
        .unwrap();
    pod::fuzz::layer(&tar.into_inner().unwrap());
}

/// Nested `{range ..}` recursive descents once walked every chain of
/// nested values, a number exponential in the nesting (the fuzzer's slow
/// input took 0.6 s; `fuzz/regressions/jsonpath/`). A body that prints
/// nothing is now walked once per place and value, so the work stays
/// within a polynomial of the input's size: here its square (without
/// the memo the walk took 1.3 million steps for the first, before `..`
/// found strings too, and 0.98 million for the second; now 2,740 and
/// 1,081).
#[test]
fn jsonpath_nested_ranges_take_polynomial_work() {
    let mut inputs = Vec::new();
    files(Path::new("fuzz/regressions/jsonpath"), &mut inputs);
    inputs.retain(|p| p.to_string_lossy().contains("nested-range"));
    assert!(
        !inputs.is_empty(),
        "the nested range regressions are missing"
    );
    for path in inputs {
        let input = std::fs::read(&path).unwrap();
        let steps = pod::fuzz::jsonpath_steps(&input);
        let bound = (input.len() as u64).pow(2);
        eprintln!("{}: {steps} steps", path.display());
        assert!(
            steps <= bound,
            "{}: {steps} steps, over {bound}",
            path.display()
        );
    }
}
