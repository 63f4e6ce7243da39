//! Validation with the API server's field paths and messages
//! (pkg/apis/core/validation).
//!
//! TODO(api): the full rule set.

use super::{FieldError, Object};

/// Every cause for which the API server would reject `object`.
pub fn validate(object: &Object) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if object.name().is_empty() {
        errors.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    }
    errors
}

/// `Warning:` lines for fields a single node cannot honour.
pub fn warnings(_object: &Object) -> Vec<String> {
    Vec::new()
}
