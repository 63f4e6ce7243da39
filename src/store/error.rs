//! The store's error: what a caller may branch on (the object is not
//! there, is there already, its file is damaged, the disk failed), and
//! anything else the store refuses. The CLI renders them in kubectl's
//! words (`crate::error`).

use std::io;
use std::path::PathBuf;

use crate::error::ApiError;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{into_api, render};

    fn not_found() -> StoreError {
        StoreError::NotFound {
            resource: "pods".into(),
            name: "web".into(),
        }
    }

    #[test]
    fn the_cli_renders_them_in_kubectls_words() {
        let corrupt = StoreError::Corrupt {
            path: "/s/pods/default/web/pod.json".into(),
            source: serde_json::from_slice::<serde_json::Value>(b"{").unwrap_err(),
        };
        let denied = || io::Error::from(io::ErrorKind::PermissionDenied);
        let refused = anyhow::Error::new(ApiError::Refused {
            reason: "Forbidden".into(),
            message: "namespace \"x\" is being terminated".into(),
        });
        let table = [
            (
                not_found(),
                "Error from server (NotFound): pods \"web\" not found",
            ),
            (
                StoreError::AlreadyExists {
                    resource: "configmaps".into(),
                    name: "c".into(),
                },
                "Error from server (AlreadyExists): configmaps \"c\" already exists",
            ),
            (
                corrupt,
                "error: corrupt state file /s/pods/default/web/pod.json: EOF while parsing an object at line 1 column 1",
            ),
            (
                StoreError::io("reading /s/x")(denied()),
                "error: reading /s/x: permission denied",
            ),
            (denied().into(), "error: permission denied"),
            (
                StoreError::Other(refused),
                "Error from server (Forbidden): namespace \"x\" is being terminated",
            ),
        ];
        for (err, want) in table {
            assert_eq!(render(&anyhow::Error::new(err)), want);
        }
        // Wrapped by a caller's context, it is still found.
        let wrapped = anyhow::Error::new(not_found()).context("deleting");
        assert_eq!(
            render(&wrapped),
            "Error from server (NotFound): pods \"web\" not found"
        );
    }

    #[test]
    fn callers_tell_them_apart() {
        let api = into_api(not_found().into()).unwrap();
        assert!(matches!(api, ApiError::NotFound { .. }));
        let inner = anyhow::Error::new(ApiError::AlreadyExists {
            resource: "namespaces".into(),
            name: "n".into(),
        });
        assert!(matches!(
            into_api(StoreError::Other(inner).into()),
            Ok(ApiError::AlreadyExists { .. })
        ));
        let io = StoreError::io("removing object")(io::Error::from(io::ErrorKind::Other));
        let back = into_api(io.into()).unwrap_err();
        assert!(matches!(
            back.downcast_ref::<StoreError>(),
            Some(StoreError::Io { context: Some(c), .. }) if c == "removing object"
        ));
    }
}
