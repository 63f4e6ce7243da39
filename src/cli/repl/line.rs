//! One line typed at the prompt: its words, and the argv of the `pod`
//! command it stands for.

use clap::parser::ValueSource;

use crate::cli::GlobalArgs;

/// What a line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// Blank, or a `#` comment.
    Empty,
    /// `exit` or `quit`.
    Exit,
    /// Quotes that do not close.
    Invalid(String),
    /// A command, without the `pod` prefix (dropped when typed).
    Command(Vec<String>),
}

impl Line {
    pub fn parse(text: &str) -> Line {
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            return Line::Empty;
        }
        let Some(mut words) = shlex::split(text) else {
            return Line::Invalid(format!("unterminated quote in: {text}"));
        };
        if words.first().is_some_and(|w| w == "pod") {
            words.remove(0);
        }
        match words.first().map(String::as_str) {
            None => Line::Empty,
            Some("exit" | "quit") if words.len() == 1 => Line::Exit,
            Some(_) => Line::Command(words),
        }
    }
}

/// The arguments (after argv[0]) of the child `pod` that runs `words`,
/// checked with the real parser. The shell's own `--namespace` applies
/// unless the line names one; `--root` and `--run-root` reach the child
/// through POD_ROOT and POD_RUN_ROOT, which a flag on the line overrides.
pub fn argv(global: &GlobalArgs, words: &[String]) -> Result<Vec<String>, clap::Error> {
    let matches = crate::cli::command()
        .try_get_matches_from(std::iter::once("pod").chain(words.iter().map(String::as_str)))?;
    let mut argv = Vec::with_capacity(words.len() + 1);
    if namespace_source(&matches) == Some(ValueSource::DefaultValue) {
        argv.push(format!("--namespace={}", global.namespace));
    }
    argv.extend(words.iter().cloned());
    Ok(argv)
}

/// Where the namespace of the parsed line came from (a global flag is
/// recorded on the subcommand that it was typed after).
fn namespace_source(matches: &clap::ArgMatches) -> Option<ValueSource> {
    let mut m = matches;
    let mut source = m.value_source("namespace");
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
        match sub.value_source("namespace") {
            Some(ValueSource::CommandLine) => return Some(ValueSource::CommandLine),
            Some(s) => source = Some(s),
            None => {}
        }
    }
    source
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn global(namespace: &str) -> GlobalArgs {
        GlobalArgs {
            root: PathBuf::from("/r"),
            run_root: PathBuf::from("/run/r"),
            config: None,
            namespace: namespace.into(),
            all_namespaces: false,
        }
    }

    #[test]
    fn lines_split_like_a_shell() {
        assert_eq!(
            Line::parse("exec p -- sh -c 'exit 3'"),
            Line::Command(vec![
                "exec".into(),
                "p".into(),
                "--".into(),
                "sh".into(),
                "-c".into(),
                "exit 3".into()
            ])
        );
        assert_eq!(
            Line::parse("pod get pods"),
            Line::Command(vec!["get".into(), "pods".into()])
        );
        assert_eq!(Line::parse("   # a comment"), Line::Empty);
        assert_eq!(Line::parse("exit"), Line::Exit);
        assert!(matches!(Line::parse("get 'pods"), Line::Invalid(_)));
    }

    #[test]
    fn the_shell_namespace_applies_unless_the_line_names_one() {
        let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            argv(&global("web"), &words("get pods")).unwrap(),
            ["--namespace=web", "get", "pods"]
        );
        assert_eq!(
            argv(&global("web"), &words("get pods -n kube")).unwrap(),
            ["get", "pods", "-n", "kube"]
        );
        assert_eq!(
            argv(&global("web"), &words("-n kube get pods")).unwrap(),
            ["-n", "kube", "get", "pods"]
        );
    }

    #[test]
    fn usage_errors_are_caught_before_running() {
        let err = argv(&global("default"), &["frobnicate".to_string()]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidSubcommand);
    }
}
