//! Errors as the API server sends them: a `Status` object (meta/v1) with
//! the HTTP code, the reason kubectl prints in `Error from server
//! (<reason>)`, and the message the CLI prints for the same failure (the
//! CLI's `ApiError` and `StoreError` are turned into one here, so both
//! faces of `pod` say the same words).

use serde_json::{Value, json};

use crate::api::FieldError;
use crate::api::field::ErrorType;
use crate::error::ApiError;

/// A failed request: what goes back as a `Status` body.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details` (name, group, kind, causes), when the reason has them.
    pub details: Option<Value>,
}

impl Status {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Status {
        Status {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 401: no credentials, or not ours.
    pub fn unauthorized() -> Status {
        Status::new(401, "Unauthorized", "Unauthorized")
    }

    /// 404 for a path that names no resource (the API server's body for an
    /// unknown URL).
    pub fn no_route() -> Status {
        Status::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// `pods "x" not found`, with the details kubectl reads.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Status {
        let qualified = qualified(group, resource);
        Status {
            details: Some(json!({"name": name, "group": group, "kind": resource})),
            ..Status::new(404, "NotFound", format!("{qualified} \"{name}\" not found"))
        }
    }

    /// 405: a verb the resource does not serve.
    pub fn method_not_allowed(method: &str, path: &str) -> Status {
        Status::new(
            405,
            "MethodNotAllowed",
            format!(
                "the server does not allow this method on the requested resource ({method} {path})"
            ),
        )
    }

    /// 400 for a request the server cannot read (a bad selector, a bad
    /// query parameter).
    pub fn bad_request(message: impl Into<String>) -> Status {
        Status::new(400, "BadRequest", message)
    }

    /// 410: a watch from a resourceVersion older than the history kept.
    pub fn gone(message: impl Into<String>) -> Status {
        Status::new(410, "Expired", message)
    }

    /// 413: a body over the limit.
    pub fn too_large() -> Status {
        Status::new(413, "RequestEntityTooLarge", "Request entity too large")
    }

    /// 500 with the failure's text.
    pub fn internal(message: impl Into<String>) -> Status {
        Status::new(500, "InternalError", message)
    }

    /// The status an error of the store or of the CLI's checks stands for:
    /// NotFound, AlreadyExists, Invalid (with causes), a refusal with its
    /// reason; anything else is a 500 with its text.
    pub fn from_error(group: &str, err: anyhow::Error) -> Status {
        match crate::error::into_api(err) {
            Ok(api) => Status::from_api(group, &api),
            Err(other) => Status::internal(format!("{other:#}")),
        }
    }

    /// The status of one of the CLI's API errors.
    pub fn from_api(group: &str, err: &ApiError) -> Status {
        match err {
            ApiError::NotFound { resource, name } => {
                let plain = resource.split('.').next().unwrap_or(resource);
                Status::not_found(group, plain, name)
            }
            ApiError::AlreadyExists { resource, name } => {
                let plain = resource.split('.').next().unwrap_or(resource);
                Status {
                    details: Some(json!({"name": name, "group": group, "kind": plain})),
                    ..Status::new(409, "AlreadyExists", err.to_string())
                }
            }
            ApiError::Invalid { kind, name, causes } => Status {
                details: Some(json!({
                    "name": name,
                    "group": group,
                    "kind": kind,
                    "causes": causes.iter().map(|c| json!({
                        "reason": cause_reason(c.kind),
                        "message": cause_message(c),
                        "field": c.field,
                    })).collect::<Vec<_>>(),
                })),
                ..Status::new(422, "Invalid", err.to_string())
            },
            ApiError::Refused { reason, message } => {
                let (code, reason) = match reason.as_str() {
                    "Conflict" => (409, "Conflict"),
                    "Forbidden" => (403, "Forbidden"),
                    "NotFound" => (404, "NotFound"),
                    "AlreadyExists" => (409, "AlreadyExists"),
                    "Invalid" => (422, "Invalid"),
                    "BadRequest" => (400, "BadRequest"),
                    "MethodNotAllowed" => (405, "MethodNotAllowed"),
                    "Gone" | "Expired" => (410, "Expired"),
                    _ => (500, "InternalError"),
                };
                Status::new(code, reason, message.clone())
            }
        }
    }

    /// The `Status` object.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            body["details"] = details.clone();
        }
        body
    }
}

/// apimachinery's `CauseType` of a field error.
fn cause_reason(kind: ErrorType) -> &'static str {
    match kind {
        ErrorType::NotFound => "FieldValueNotFound",
        ErrorType::Required => "FieldValueRequired",
        ErrorType::Duplicate => "FieldValueDuplicate",
        ErrorType::Invalid => "FieldValueInvalid",
        ErrorType::NotSupported => "FieldValueNotSupported",
        ErrorType::Forbidden => "FieldValueForbidden",
        ErrorType::TooLong => "FieldValueTooLong",
    }
}

/// A cause's message: the error without its field path (`field.Error`'s
/// `ErrorBody`), the field being a member of its own.
fn cause_message(cause: &FieldError) -> String {
    let full = cause.to_string();
    full.strip_prefix(&format!("{}: ", cause.field))
        .map_or(full.clone(), str::to_string)
}

/// `pods`, or `podpresets.settings.k8s.io` outside the core group.
fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_reads_as_the_api_servers() {
        let s = Status::not_found("", "pods", "web");
        assert_eq!(
            s.to_json(),
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "message": "pods \"web\" not found",
                "reason": "NotFound",
                "details": {"name": "web", "group": "", "kind": "pods"},
                "code": 404,
            })
        );
        let s = Status::not_found("settings.k8s.io", "podpresets", "p");
        assert_eq!(s.message, "podpresets.settings.k8s.io \"p\" not found");
    }

    #[test]
    fn store_errors_keep_the_clis_words() {
        let err = anyhow::Error::from(crate::store::StoreError::NotFound {
            resource: "configmaps".into(),
            name: "c".into(),
        });
        let s = Status::from_error("", err);
        assert_eq!((s.code, s.reason), (404, "NotFound"));
        assert_eq!(s.message, "configmaps \"c\" not found");
        let s = Status::from_error("", anyhow::anyhow!("disk on fire"));
        assert_eq!(
            (s.code, s.reason, s.message.as_str()),
            (500, "InternalError", "disk on fire")
        );
    }

    #[test]
    fn unauthorized_is_the_api_servers_401() {
        assert_eq!(
            Status::unauthorized().to_json(),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                   "status": "Failure", "message": "Unauthorized",
                   "reason": "Unauthorized", "code": 401})
        );
    }
}
