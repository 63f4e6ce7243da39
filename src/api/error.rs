//! The errors the API server answers with, which kubectl prints in a
//! form of their own (`Error from server (NotFound): …`, `The Pod "x" is
//! invalid: …`); how the CLI prints them is `crate::error`'s. Anything
//! else is an `anyhow::Error` and is printed as `error: <message>`.

use std::fmt;

use super::FieldError;

/// Errors that kubectl prints in a form of their own. Anything else is an
/// `anyhow::Error` and is printed as `error: <message>`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `Error from server (NotFound): pods "x" not found`
    #[error("{resource} \"{name}\" not found")]
    NotFound { resource: String, name: String },
    /// `Error from server (AlreadyExists): pods "x" already exists`
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists { resource: String, name: String },
    /// `The Pod "x" is invalid: <causes>`
    #[error("The {kind} \"{name}\" is invalid: {}", render_causes(.causes))]
    Invalid {
        kind: String,
        name: String,
        causes: Vec<FieldError>,
    },
    /// A request the server refuses as a whole (immutable field updates,
    /// images in use): `Error from server (<reason>): <message>`.
    #[error("{message}")]
    Refused { reason: String, message: String },
}

impl ApiError {
    /// The reason kubectl shows in `Error from server (<reason>)`, or `None`
    /// for errors kubectl prints without that prefix.
    pub fn reason(&self) -> Option<&str> {
        match self {
            ApiError::NotFound { .. } => Some("NotFound"),
            ApiError::AlreadyExists { .. } => Some("AlreadyExists"),
            ApiError::Invalid { .. } => None,
            ApiError::Refused { reason, .. } => Some(reason),
        }
    }
}

fn render_causes(causes: &[FieldError]) -> String {
    match causes {
        [one] => one.to_string(),
        many => {
            let mut out = String::from("[");
            for (i, cause) in many.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&cause.to_string());
            }
            out.push(']');
            out
        }
    }
}

/// An error from a source file: kubectl names the file the object came
/// from (`error when creating "nginx.yaml": …`).
#[derive(Debug)]
pub struct FromSource {
    pub verb: &'static str,
    pub source: String,
    pub error: ApiError,
}

impl fmt::Display for FromSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error when {} \"{}\": {}",
            self.verb, self.source, self.error
        )
    }
}

impl std::error::Error for FromSource {}
