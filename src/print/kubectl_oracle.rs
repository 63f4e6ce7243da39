//! The printers against the installed kubectl: `kubectl label --local -f
//! FILE x=y -o …` prints the file's object (which already carries x=y)
//! through kubectl's own printers, so the outputs must be identical.
//! Skipped, saying so, where no kubectl is installed.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::{OutputFormat, json, yaml};

const FIXTURE: &str = "tests/fixtures/print/oracle-pod.json";

fn kubectl(output: &str) -> Option<(bool, String, String)> {
    let out = Command::new("kubectl")
        .args(["label", "--local", "-f", FIXTURE, "x=y", "-o", output])
        .output()
        .ok()?;
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn have_kubectl() -> bool {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("kubectl is not installed: skipping the comparison with it");
    }
    found
}

#[test]
fn yaml_and_json_match_kubectl() {
    if !have_kubectl() {
        return;
    }
    let value = fixture();
    let (ok, want, _) = kubectl("yaml").unwrap();
    assert!(ok);
    assert_eq!(yaml::to_yaml(&value), want);
    let (ok, want, _) = kubectl("json").unwrap();
    assert!(ok);
    assert_eq!(json::to_json(&value), want);
}

#[test]
fn jsonpath_matches_kubectl() {
    if !have_kubectl() {
        return;
    }
    let value = fixture();
    let templates = [
        "{.metadata.name}",
        "{.spec.containers[*].name}",
        "{.spec.containers[0].ports}",
        "{.spec.containers[-1].args[0]}",
        "{.spec.containers[0:2].image}",
        "{range .spec.containers[*]}{.name}={.image}{\"\\n\"}{end}",
        "{.spec.containers[?(@.name==\"side\")].args}",
        "{.spec.containers[?(@.ports)].name}",
        "{.metadata.labels.app\\.kubernetes\\.io/name}",
        // `..` walks maps in Go's random order; a list keeps it stable.
        "{.spec.containers..image}",
        "{.metadata.labels}",
        "{$.kind} {.spec.terminationGracePeriodSeconds} {.spec.hostNetwork}",
        "{.spec.missing}",
        "{.spec.containers[0].resources.limits['cpu']}",
        "{.metadata.annotations.k072}",
        "{.spec.containers[7].name}",
        "{.spec.containers[0].name",
    ];
    for template in templates {
        let (ok, want, stderr) = kubectl(&format!("jsonpath={template}")).unwrap();
        let format = OutputFormat::JsonPath(template.to_string());
        match super::machine(&value, &format) {
            Ok(got) => {
                assert!(ok, "{template}: kubectl failed: {stderr}");
                assert_eq!(got, want, "{template}");
            }
            Err(e) => {
                assert!(!ok, "{template}: kubectl printed {want:?}, we failed: {e}");
                // pod's error funnel: `error: `, the message, a newline.
                assert_eq!(format!("error: {e}\n"), stderr, "{template}");
            }
        }
    }
}
