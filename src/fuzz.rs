//! Entry points for the fuzz targets (`fuzz/`): each takes arbitrary bytes
//! and runs one parser of untrusted input the way `pod` runs it. A panic,
//! a hang or a runaway allocation in any of them is a bug; an `Err` is the
//! expected answer to garbage. They are also run by `tests/fuzz_seeds.rs`
//! over the seed corpus, so a regression shows in the ordinary suite.

use serde_json::Value;

use crate::api::decode::{self, Source};
use crate::api::quantity::Quantity;
use crate::api::selector::Selector;
use crate::api::{defaults, validation};
use crate::image::unpack::{self, Limits};
use crate::print::jsonpath::JsonPath;

/// A manifest as `pod create -f` reads it: decoded (YAML or JSON, strict),
/// defaulted and validated, with every error rendered as the CLI prints it.
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let source = Source {
        name: "fuzz.yaml".into(),
        text: text.to_string(),
    };
    match decode::decode_all(&source) {
        Ok((documents, unmapped)) => {
            for error in unmapped {
                let _ = crate::error::render(&error.into());
            }
            for mut doc in documents {
                defaults::apply(&mut doc.object, "default");
                for cause in validation::validate(&doc.object) {
                    let _ = cause.to_string();
                }
            }
        }
        Err(error) => {
            let _ = crate::error::render(&error);
        }
    }
}

/// A label selector (`-l`), matched against a few label sets.
pub fn selector(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(selector) = Selector::parse(text) else {
        return;
    };
    let labels = std::collections::BTreeMap::from([
        ("app".to_string(), "web".to_string()),
        ("tier".to_string(), "3".to_string()),
    ]);
    let _ = selector.matches(Some(&labels));
    let _ = selector.matches(None);
}

/// A jsonpath template (`-o jsonpath=`), run over a pod. The first line,
/// when the input has several, is the template and the rest a JSON value
/// to run it over, so the fuzzer can vary both.
pub fn jsonpath(data: &[u8]) {
    jsonpath_steps(data);
}

/// [`jsonpath`], saying how much work the run took (nodes stepped
/// through), so that `tests/fuzz_seeds.rs` can bound it for the inputs
/// that once took exponential time.
pub fn jsonpath_steps(data: &[u8]) -> u64 {
    let Ok(text) = std::str::from_utf8(data) else {
        return 0;
    };
    let (template, json) = text.split_once('\n').unwrap_or((text, ""));
    let data: Value = serde_json::from_str(json).unwrap_or_else(|_| sample_pod());
    let Ok(path) = JsonPath::parse(template) else {
        return 0;
    };
    let (_, steps) = path.execute_counting(&data);
    let _ = path.values(&data);
    steps
}

fn sample_pod() -> Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "a", "labels": {"app": "web", "x.io/y": "z"}},
        "spec": {"containers": [
            {"name": "c", "image": "busybox", "ports": [{"containerPort": 80}]},
            {"name": "d", "image": "busybox", "args": ["1", 2, true, null]}
        ]},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}]}
    })
}

/// A resource quantity (`cpu: 250m`, `memory: 1Gi`): parsed, printed back
/// and parsed again to the same value, and used as the kubelet uses one.
pub fn quantity(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(q) = Quantity::parse(text) else {
        return;
    };
    let printed = q.canonical();
    let again = Quantity::parse(&printed)
        .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which does not parse: {e}"));
    assert_eq!(
        again, q,
        "{text:?} printed as {printed:?}, which parses to another value"
    );
    // The text settles from the second print on, not always the first: a
    // binary quantity that is no whole multiple of 1024 prints as a plain
    // number (`1062.5Ki` as `1088000`, as apimachinery prints it), which
    // reads back as a decimal one and prints as `1088k`.
    let settled = again.canonical();
    let reread = Quantity::parse(&settled)
        .unwrap_or_else(|e| panic!("{text:?} printed as {settled:?}, which does not parse: {e}"));
    assert_eq!(reread, q, "{text:?} printed as {settled:?}, another value");
    assert_eq!(
        reread.canonical(),
        settled,
        "{text:?}: canonical form not stable"
    );
    let _ = q.as_bytes_ceil();
    let _ = q.as_millis_ceil();
    let _ = q.checked_add(&again);
}

/// An image layer (tar, gzip or zstd) unpacked into a fresh directory,
/// within small limits so that the fuzzer's output never fills a disk.
/// Nothing may land outside that directory: the entries that try are
/// refused, and a file next to it must stay as it was.
pub fn layer(data: &[u8]) {
    let Ok(top) = tempfile::tempdir() else {
        return;
    };
    let dest = top.path().join("layer");
    let canary = top.path().join("canary");
    if std::fs::create_dir(&dest).is_err() || std::fs::write(&canary, b"canary").is_err() {
        return;
    }
    let limits = Limits {
        bytes: 8 << 20,
        entries: 4096,
    };
    let _ = unpack::unpack_within(data, &dest, limits);
    let names: Vec<_> = std::fs::read_dir(top.path())
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(
        names.len(),
        2,
        "a layer wrote beside its directory: {names:?}"
    );
    assert_eq!(std::fs::read(&canary).ok().as_deref(), Some(&b"canary"[..]));
}
