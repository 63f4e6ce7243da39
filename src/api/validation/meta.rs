//! `ValidateObjectMeta` (apimachinery pkg/api/validation/objectmeta.go).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Errors, Path, names};

/// The total size of all annotations (`TotalAnnotationSizeLimitB`).
const ANNOTATIONS_LIMIT: usize = 256 * 1024;

/// Checks name (with `name_check`, the kind's rule), namespace, labels and
/// annotations of an object of a namespaced kind.
pub fn validate_object_meta(meta: &ObjectMeta, name_check: fn(&str) -> Vec<String>) -> Errors {
    validate_meta(meta, true, name_check)
}

/// `ValidateObjectMeta` with its `requiresNamespace`: a cluster-scoped
/// object may not name a namespace.
pub fn validate_meta(
    meta: &ObjectMeta,
    namespaced: bool,
    name_check: fn(&str) -> Vec<String>,
) -> Errors {
    let path = Path::new("metadata");
    let mut errs = Errors::default();
    if let Some(generate_name) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        // A generated name adds a suffix, so the prefix may end in '-'.
        let trimmed = generate_name.trim_end_matches('-');
        if !trimmed.is_empty() {
            errs.check(
                &path.child("generateName"),
                generate_name,
                name_check(trimmed),
            );
        }
    }
    match meta.name.as_deref().unwrap_or("") {
        "" => errs.required_because(&path.child("name"), "name or generateName is required"),
        name => errs.check(&path.child("name"), name, name_check(name)),
    }
    match meta.namespace.as_deref().unwrap_or("") {
        "" if namespaced => errs.required(&path.child("namespace")),
        "" => {}
        _ if !namespaced => errs.forbidden(&path.child("namespace"), "not allowed on this type"),
        namespace => errs.check(
            &path.child("namespace"),
            namespace,
            names::dns1123_label(namespace),
        ),
    }
    errs.non_negative(&path.child("generation"), meta.generation);
    errs.extend(validate_labels(meta.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs
}

/// `ValidateLabels`: keys are qualified names, values label values; both
/// are reported at the map's path.
pub fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &Path) -> Errors {
    let mut errs = Errors::default();
    for (key, value) in labels.into_iter().flatten() {
        errs.check(path, key, names::qualified_name(key));
        errs.check(path, value, names::label_value(value));
    }
    errs
}

/// `ValidateAnnotations`: keys are qualified names (compared lower-case),
/// all of them together at most 256 KiB.
pub fn validate_annotations(annotations: Option<&BTreeMap<String, String>>, path: &Path) -> Errors {
    let mut errs = Errors::default();
    let mut total = 0;
    for (key, value) in annotations.into_iter().flatten() {
        errs.check(path, key, names::qualified_name(&key.to_lowercase()));
        total += key.len() + value.len();
    }
    if total > ANNOTATIONS_LIMIT {
        errs.push(crate::api::FieldError::new(
            crate::api::field::ErrorType::TooLong,
            path,
            crate::api::field::BadValue::None,
            format!("may not be more than {ANNOTATIONS_LIMIT} bytes"),
        ));
    }
    errs
}
