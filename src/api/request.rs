//! What a write request asks besides its object, read as the API server
//! reads it: `dryRun`, `fieldValidation`, `fieldManager`, `force`, and the
//! DeleteOptions of a delete (body or query). Bad values are refused with
//! the server's Invalid error on the options kind
//! (`CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value:
//! ...`).

use serde_json::Value;

use super::FieldError;
use super::field::BadValue;
use crate::api::ApiError;

/// The verb, which names the options kind in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    Update,
    Patch,
    Delete,
}

impl Verb {
    fn options_kind(self) -> &'static str {
        match self {
            Verb::Create => "CreateOptions.meta.k8s.io",
            Verb::Update => "UpdateOptions.meta.k8s.io",
            Verb::Patch => "PatchOptions.meta.k8s.io",
            Verb::Delete => "DeleteOptions.meta.k8s.io",
        }
    }
}

fn invalid(verb: Verb, causes: Vec<FieldError>) -> ApiError {
    ApiError::Invalid {
        kind: verb.options_kind().into(),
        name: String::new(),
        causes,
    }
}

/// How unknown and duplicate fields of the body are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Refused: 400 BadRequest `strict decoding error: unknown field "x"`.
    Strict,
    /// Dropped, each named in a `Warning:` header (the server's default).
    Warn,
    /// Dropped silently.
    Ignore,
}

/// The options of a create, update or patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// `dryRun=All`: validated and answered, nothing stored.
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    /// `fieldManager`, or the user agent's first word.
    pub field_manager: String,
    /// `force=true` (an apply takes the fields other managers own).
    pub force: bool,
}

/// Reads the write options from the query (`param` gives every value of
/// a parameter) and the request's user agent.
pub fn write_options(
    verb: Verb,
    param: impl Fn(&str) -> Vec<String>,
    user_agent: &str,
    apply: bool,
) -> Result<WriteOptions, ApiError> {
    let mut causes = Vec::new();
    let dry_run = dry_run(&param("dryRun"), &mut causes);
    let field_validation = match param("fieldValidation").last().map(String::as_str) {
        None | Some("") | Some("Warn") => FieldValidation::Warn,
        Some("Strict") => FieldValidation::Strict,
        Some("Ignore") => FieldValidation::Ignore,
        Some(other) => {
            causes.push(FieldError::not_supported(
                "fieldValidation",
                BadValue::Str(other.into()),
                &["Ignore", "Strict", "Warn"],
            ));
            FieldValidation::Warn
        }
    };
    let named = param("fieldManager").last().cloned().unwrap_or_default();
    if named.chars().count() > 128 {
        causes.push(FieldError::new(
            super::field::ErrorType::TooLong,
            "fieldManager",
            BadValue::None,
            "may not be more than 128 bytes",
        ));
    }
    if apply && named.is_empty() {
        causes.push(FieldError::required(
            "fieldManager",
            "is required for apply patch",
        ));
    }
    let force = match param("force").last().map(String::as_str) {
        None | Some("false") => false,
        Some("true") if apply => true,
        Some(_) if !apply => {
            causes.push(FieldError::invalid(
                "force",
                BadValue::Bool(true),
                "may not be specified for non-apply patch",
            ));
            false
        }
        Some(_) => true,
    };
    if !causes.is_empty() {
        return Err(invalid(verb, causes));
    }
    let field_manager = if named.is_empty() {
        crate::api::managed::manager_from_user_agent(user_agent)
    } else {
        named
    };
    Ok(WriteOptions {
        dry_run,
        field_validation,
        field_manager,
        force,
    })
}

/// `dryRun`: absent, or `All` (the only value the server knows).
fn dry_run(values: &[String], causes: &mut Vec<FieldError>) -> bool {
    if values.iter().any(|v| v != "All") {
        causes.push(FieldError::new(
            super::field::ErrorType::NotSupported,
            "dryRun",
            BadValue::StrList(values.to_vec()),
            "supported values: \"All\"",
        ));
        return false;
    }
    !values.is_empty()
}

/// `propagationPolicy`: what becomes of the object's dependents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

/// A delete's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteOptions {
    pub dry_run: bool,
    /// None: the object's own (a pod's terminationGracePeriodSeconds).
    pub grace_period_seconds: Option<i64>,
    pub propagation: Option<Propagation>,
    /// `preconditions.uid` and `preconditions.resourceVersion`.
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// Reads DeleteOptions from the body (a DeleteOptions object, or empty)
/// and the query, the query's values winning as in the server's handler.
pub fn delete_options(
    body: &[u8],
    param: impl Fn(&str) -> Vec<String>,
) -> Result<DeleteOptions, ApiError> {
    let verb = Verb::Delete;
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::Refused {
            reason: "BadRequest".into(),
            message: format!("error decoding DeleteOptions: {e}"),
        })?
    };
    let mut causes = Vec::new();
    let from_body = |key: &str| body.get(key).filter(|v| !v.is_null());
    let mut dry_values: Vec<String> = from_body("dryRun")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let query_dry = param("dryRun");
    if !query_dry.is_empty() {
        dry_values = query_dry;
    }
    let dry_run = dry_run(&dry_values, &mut causes);
    let mut grace = from_body("gracePeriodSeconds").and_then(Value::as_i64);
    if let Some(text) = param("gracePeriodSeconds").last() {
        match text.parse::<i64>() {
            Ok(n) => grace = Some(n),
            Err(_) => {
                return Err(ApiError::Refused {
                    reason: "BadRequest".into(),
                    message: format!("strconv.ParseInt: parsing \"{text}\": invalid syntax"),
                });
            }
        }
    }
    let mut policy = from_body("propagationPolicy")
        .and_then(Value::as_str)
        .map(String::from);
    if let Some(p) = param("propagationPolicy").last() {
        policy = Some(p.clone());
    }
    let propagation = match policy.as_deref() {
        None => None,
        Some("Orphan") => Some(Propagation::Orphan),
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some(other) => {
            causes.push(FieldError::not_supported(
                "propagationPolicy",
                BadValue::Str(other.into()),
                &["Foreground", "Background", "Orphan", "nil"],
            ));
            None
        }
    };
    if from_body("orphanDependents").is_some() && propagation.is_some() {
        causes.push(FieldError::invalid(
            "propagationPolicy",
            BadValue::Str(policy.clone().unwrap_or_default()),
            "orphanDependents and deletionPropagation cannot be both set",
        ));
    }
    if !causes.is_empty() {
        return Err(invalid(verb, causes));
    }
    let precondition = |key: &str| {
        body.get("preconditions")
            .and_then(|p| p.get(key))
            .and_then(Value::as_str)
            .map(String::from)
    };
    Ok(DeleteOptions {
        dry_run,
        grace_period_seconds: grace,
        propagation,
        uid: precondition("uid"),
        resource_version: precondition("resourceVersion"),
    })
}

/// 409 Conflict for a write made against an older version of the object
/// than the stored one (`resourceVersion` given and not the current).
pub fn check_version(
    resource: &str,
    name: &str,
    asked: Option<&str>,
    current: &str,
) -> Result<(), ApiError> {
    match asked {
        Some(asked) if !asked.is_empty() && asked != current => Err(ApiError::Refused {
            reason: "Conflict".into(),
            message: format!(
                "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
        }),
        _ => Ok(()),
    }
}

/// A delete's preconditions against the stored object.
pub fn check_preconditions(
    resource: &str,
    name: &str,
    options: &DeleteOptions,
    uid: &str,
    version: &str,
) -> Result<(), ApiError> {
    let conflict = |message: String| ApiError::Refused {
        reason: "Conflict".into(),
        message: format!("Operation cannot be fulfilled on {resource} \"{name}\": {message}"),
    };
    if let Some(want) = options.uid.as_deref().filter(|u| *u != uid) {
        return Err(conflict(format!(
            "Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"
        )));
    }
    if let Some(want) = options
        .resource_version
        .as_deref()
        .filter(|v| *v != version)
    {
        return Err(conflict(format!(
            "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {version}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Vec<String> {
        move |name| {
            pairs
                .iter()
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
                .collect()
        }
    }

    #[test]
    fn write_options_as_kubectl_sends_them() {
        let o = write_options(
            Verb::Create,
            query(&[
                ("fieldManager", "kubectl-create"),
                ("fieldValidation", "Strict"),
            ]),
            "kubectl/v1.32.0",
            false,
        )
        .unwrap();
        assert_eq!(
            o,
            WriteOptions {
                dry_run: false,
                field_validation: FieldValidation::Strict,
                field_manager: "kubectl-create".into(),
                force: false
            }
        );
        let o = write_options(
            Verb::Create,
            query(&[("dryRun", "All")]),
            "kubectl/v1.32.0 (linux/amd64)",
            false,
        )
        .unwrap();
        assert!(o.dry_run);
        assert_eq!(o.field_validation, FieldValidation::Warn);
        assert_eq!(o.field_manager, "kubectl");
        let o = write_options(
            Verb::Patch,
            query(&[("fieldManager", "kubectl"), ("force", "true")]),
            "",
            true,
        )
        .unwrap();
        assert!(o.force);
    }

    #[test]
    fn bad_options_in_the_servers_words() {
        let err = |verb, q, apply| {
            write_options(verb, query(q), "x", apply)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(Verb::Create, &[("dryRun", "Some")], false),
            "The CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Some\"}: supported values: \"All\""
        );
        assert_eq!(
            err(Verb::Update, &[("fieldValidation", "Loud")], false),
            "The UpdateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"Loud\": supported values: \"Ignore\", \"Strict\", \"Warn\""
        );
        assert_eq!(
            err(Verb::Patch, &[], true),
            "The PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
        );
        assert_eq!(
            err(Verb::Patch, &[("force", "true")], false),
            "The PatchOptions.meta.k8s.io \"\" is invalid: force: Invalid value: true: may not be specified for non-apply patch"
        );
    }

    #[test]
    fn delete_options_from_body_and_query() {
        let body = br#"{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":5,"propagationPolicy":"Background","preconditions":{"uid":"u"}}"#;
        let o = delete_options(body, query(&[])).unwrap();
        assert_eq!(o.grace_period_seconds, Some(5));
        assert_eq!(o.propagation, Some(Propagation::Background));
        assert_eq!(o.uid.as_deref(), Some("u"));
        let o = delete_options(
            b"",
            query(&[("gracePeriodSeconds", "0"), ("dryRun", "All")]),
        )
        .unwrap();
        assert_eq!(o.grace_period_seconds, Some(0));
        assert!(o.dry_run);
        let err = delete_options(br#"{"propagationPolicy":"Sideways"}"#, query(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Sideways\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
        );
        assert!(check_preconditions("pods", "p", &o, "u", "5").is_ok());
        let o = delete_options(br#"{"preconditions":{"uid":"v"}}"#, query(&[])).unwrap();
        assert_eq!(
            check_preconditions("pods", "p", &o, "u", "5")
                .unwrap_err()
                .to_string(),
            "Operation cannot be fulfilled on pods \"p\": Precondition failed: UID in precondition: v, UID in object meta: u"
        );
    }

    #[test]
    fn a_stale_version_is_a_conflict() {
        assert!(check_version("pods", "p", Some("7"), "7").is_ok());
        assert!(check_version("pods", "p", None, "7").is_ok());
        assert!(check_version("pods", "p", Some(""), "7").is_ok());
        assert_eq!(
            check_version("pods", "p", Some("6"), "7")
                .unwrap_err()
                .to_string(),
            "Operation cannot be fulfilled on pods \"p\": the object has been modified; please apply your changes to the latest version and try again"
        );
    }
}
