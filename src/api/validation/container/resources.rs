//! A container's resources: `ValidateResourceRequirements` and the
//! quantities in it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;

use crate::api::quantity::Quantity;
use crate::api::validation::{Errors, Path, names};

/// A quantity the server would not parse, or a negative one.
pub fn validate_quantity(errs: &mut Errors, path: &Path, text: &str) -> Option<Quantity> {
    match Quantity::parse(text) {
        Err(e) => {
            errs.invalid(path, text, e.to_string());
            None
        }
        Ok(q) if q.is_negative() => {
            errs.invalid(path, q.canonical(), "must be greater than or equal to 0");
            None
        }
        Ok(q) => Some(q),
    }
}

/// `ValidateResourceRequirements` for a container.
pub(super) fn validate_resources(resources: &ResourceRequirements, path: &Path) -> Errors {
    let mut errs = Errors::default();
    let limits_path = path.child("limits");
    let requests_path = path.child("requests");
    let empty = BTreeMap::new();
    let limits = resources.limits.as_ref().unwrap_or(&empty);
    let requests = resources.requests.as_ref().unwrap_or(&empty);
    let mut parsed_limits = BTreeMap::new();
    for (name, quantity) in limits {
        let key_path = limits_path.key(name);
        validate_resource_name(&mut errs, name, &key_path);
        if let Some(q) = validate_resource_value(&mut errs, name, quantity, &key_path) {
            parsed_limits.insert(name.as_str(), q);
        }
    }
    for (name, quantity) in requests {
        let key_path = requests_path.key(name);
        validate_resource_name(&mut errs, name, &key_path);
        let Some(request) = validate_resource_value(&mut errs, name, quantity, &key_path) else {
            continue;
        };
        match parsed_limits.get(name.as_str()) {
            Some(limit) => {
                if !overcommit_allowed(name) && request != *limit {
                    errs.invalid(
                        &requests_path,
                        request.canonical(),
                        format!("must be equal to {name} limit of {}", limit.canonical()),
                    );
                } else if request > *limit {
                    errs.invalid(
                        &requests_path,
                        request.canonical(),
                        format!(
                            "must be less than or equal to {name} limit of {}",
                            limit.canonical()
                        ),
                    );
                }
            }
            None if !overcommit_allowed(name) && !limits.contains_key(name) => {
                errs.required_because(
                    &limits_path.key(name),
                    "Limit must be set for non overcommitable resources",
                );
            }
            None => {}
        }
    }
    errs
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// Extended resources (`example.com/gpu`) and huge pages are not
/// overcommitted: request and limit must be equal.
fn overcommit_allowed(name: &str) -> bool {
    is_standard_container_resource(name) && !name.starts_with("hugepages-")
}

fn validate_resource_name(errs: &mut Errors, name: &str, path: &Path) {
    let messages = names::qualified_name(name);
    if !messages.is_empty() {
        errs.check(path, name, messages);
        return;
    }
    if !name.contains('/') && !is_standard_container_resource(name) {
        errs.invalid(path, name, "must be a standard resource for containers");
    } else if name.starts_with("requests.")
        || name.contains("kubernetes.io/") && !is_standard_container_resource(name)
    {
        errs.invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        );
    }
}

fn validate_resource_value(
    errs: &mut Errors,
    name: &str,
    quantity: &WireQuantity,
    path: &Path,
) -> Option<Quantity> {
    let q = validate_quantity(errs, path, &quantity.0)?;
    // Extended resources and huge pages count whole units.
    if !matches!(name, "cpu" | "memory" | "ephemeral-storage")
        && !name.starts_with("hugepages-")
        && q.as_millis_ceil() % 1000 != 0
    {
        errs.invalid(path, q.canonical(), "must be an integer");
        return None;
    }
    Some(q)
}
