//! The one error funnel: every failure that reaches `main` is printed here in
//! kubectl's words (`Error from server (NotFound): …`, `The Pod "x" is
//! invalid: …`, `error: …`) with kubectl's exit codes.

use std::fmt;
use std::process::ExitCode;

pub use crate::api::error::{ApiError, FromSource};
use crate::store::StoreError;

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

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;
    use crate::api::decode::{Source, decode};

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

    #[test]
    fn decoding_refusals_in_kubectls_words() {
        let err = |text: &str| {
            let source = Source {
                name: "x.yaml".into(),
                text: text.into(),
            };
            render(&decode(&source).unwrap_err())
        };
        assert_eq!(
            err("kind: Pod\n"),
            "error: error validating \"x.yaml\": error validating data: apiVersion not set"
        );
        assert_eq!(
            err("apiVersion: v2\nkind: Pod\nmetadata: {name: p}\n"),
            "error: resource mapping not found for name: \"p\" namespace: \"\" from \"x.yaml\": no matches for kind \"Pod\" in version \"v2\"\nensure CRDs are installed first"
        );
        assert_eq!(
            err("- a\n"),
            "error: unable to decode \"x.yaml\": a manifest must be a mapping with apiVersion and kind, not a list"
        );
        assert_eq!(
            err(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {on: x}\nimmutable: yes\nbogus: 1\n"
            ),
            "Error from server (BadRequest): error when creating \"x.yaml\": ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"bogus\""
        );
    }
}
