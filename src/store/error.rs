//! The store's error: what a caller may branch on (the object is not
//! there, is there already, its file is damaged, the disk failed), and
//! anything else the store refuses. The CLI renders them in kubectl's
//! words (`crate::error`).

use std::io;
use std::path::PathBuf;

use crate::api::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `Error from server (NotFound): pods "x" not found`
    #[error("{resource} \"{name}\" not found")]
    NotFound { resource: String, name: String },
    /// `Error from server (AlreadyExists): pods "x" already exists`
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists { resource: String, name: String },
    /// A state file that does not decode.
    #[error("corrupt state file {}", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A record written by a newer build, in a format this one does not
    /// know.
    #[error(transparent)]
    Version(#[from] super::format::UnknownVersion),
    /// Reading or writing the state directory failed (what was being done,
    /// when said).
    /// (Not a `source`: its text is in the message, once.)
    #[error("{}", io_text(context, error))]
    Io {
        context: Option<String>,
        error: io::Error,
    },
    /// Anything else: an invalid name, a namespace's refusal (its
    /// `ApiError` inside keeps kubectl's wording).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// `<context>: <error>` as anyhow's context chain reads, or the error alone.
fn io_text(context: &Option<String>, error: &io::Error) -> String {
    match context {
        Some(c) => format!("{c}: {error}"),
        None => error.to_string(),
    }
}

impl From<io::Error> for StoreError {
    fn from(error: io::Error) -> StoreError {
        StoreError::Io {
            context: None,
            error,
        }
    }
}

impl StoreError {
    /// An I/O failure while doing `context`.
    pub fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> StoreError {
        let context = context.into();
        move |error| StoreError::Io {
            context: Some(context),
            error,
        }
    }

    /// The kubectl error it stands for, if it is one.
    pub fn api(&self) -> Option<ApiError> {
        match self {
            StoreError::NotFound { resource, name } => Some(ApiError::NotFound {
                resource: resource.clone(),
                name: name.clone(),
            }),
            StoreError::AlreadyExists { resource, name } => Some(ApiError::AlreadyExists {
                resource: resource.clone(),
                name: name.clone(),
            }),
            _ => None,
        }
    }
}
