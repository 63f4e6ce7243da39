//! The one error funnel: every failure that reaches `main` is printed here in
//! kubectl's words (`Error from server (NotFound): …`, `The Pod "x" is
//! invalid: …`, `error: …`) with kubectl's exit codes.

use std::fmt;
use std::process::ExitCode;

use crate::api::FieldError;
use crate::store::StoreError;

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

/// A command that ends with a given exit code and an optional message, the
/// way `kubectl exec` ends with the remote command's status.
#[derive(Debug)]
pub struct ExitStatus {
    pub code: u8,
    pub message: Option<String>,
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => f.write_str(m),
            None => write!(f, "exit status {}", self.code),
        }
    }
}

impl std::error::Error for ExitStatus {}

/// Several errors reported at once, as kubectl's `checkErr` prints an
/// aggregate: each message on its line, without the `error: ` prefix.
#[derive(Debug)]
pub struct Aggregate(pub Vec<anyhow::Error>);

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(message).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for Aggregate {}

/// The errors as one: none, the only one (kubectl unwraps an aggregate of
/// one), or an [`Aggregate`].
pub fn aggregate(mut errors: Vec<anyhow::Error>) -> Option<anyhow::Error> {
    match errors.len() {
        0 => None,
        1 => errors.pop(),
        _ => Some(Aggregate(errors).into()),
    }
}

/// kubectl's `messageForError`: the standard message of an API error, the
/// text of any other.
fn message(err: &anyhow::Error) -> String {
    match render(err).strip_prefix("error: ") {
        Some(plain) => plain.to_string(),
        None => render(err),
    }
}

/// The kubectl error `err` is, whether the command made it or the store
/// (a [`StoreError`] NotFound or AlreadyExists, or one it passed on).
pub fn into_api(err: anyhow::Error) -> Result<ApiError, anyhow::Error> {
    let err = match err.downcast::<ApiError>() {
        Ok(api) => return Ok(api),
        Err(other) => other,
    };
    match err.downcast::<StoreError>() {
        Ok(StoreError::Other(inner)) => into_api(inner),
        Ok(store) => store.api().ok_or_else(|| store.into()),
        Err(other) => Err(other),
    }
}

/// Prints `err` the way kubectl's `checkErr` does and returns the exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    if let Some(exit) = err.downcast_ref::<ExitStatus>() {
        if let Some(message) = &exit.message {
            eprintln!("{message}");
        }
        return ExitCode::from(exit.code);
    }
    eprintln!("{}", render(err));
    ExitCode::from(1)
}

/// The text kubectl prints for `err`, without a trailing newline.
pub fn render(err: &anyhow::Error) -> String {
    if let Some(e) = err.downcast_ref::<FromSource>() {
        return match e.error.reason() {
            Some(reason) => format!("Error from server ({reason}): {e}"),
            None => render_api(&e.error),
        };
    }
    if let Some(e) = err.downcast_ref::<ApiError>() {
        return render_api(e);
    }
    if let Some(e) = err.downcast_ref::<StoreError>() {
        if let Some(api) = e.api() {
            return render_api(&api);
        }
        if let StoreError::Other(inner) = e {
            return render(inner);
        }
    }
    if let Some(e) = err.downcast_ref::<Aggregate>() {
        return e.to_string();
    }
    format!("error: {err:#}")
}

fn render_api(e: &ApiError) -> String {
    match e {
        ApiError::Invalid { kind, name, causes } if causes.len() > 1 => {
            let mut out = format!("The {kind} \"{name}\" is invalid: ");
            for cause in causes {
                out.push_str("\n* ");
                out.push_str(&cause.to_string());
            }
            out
        }
        other => match other.reason() {
            Some(reason) => format!("Error from server ({reason}): {other}"),
            None => other.to_string(),
        },
    }
}
