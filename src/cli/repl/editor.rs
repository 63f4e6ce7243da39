//! The interactive prompt: rustyline with pod's completion and a history
//! file in the user's home.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;

use anyhow::Result;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Config, Context, Editor, Helper};

use super::line::Line;
use crate::cli::{GlobalArgs, candidates};

const PROMPT: &str = "pod> ";

/// Reads and runs commands until `exit` or Ctrl-D; returns the last
/// command's exit code.
pub fn run(global: &GlobalArgs) -> Result<u8> {
    let config = Config::builder()
        .auto_add_history(false)
        .max_history_size(10_000)?
        .history_ignore_dups(true)?
        .history_ignore_space(true)
        .completion_type(rustyline::CompletionType::List)
        .build();
    let mut editor: Editor<PodHelper, DefaultHistory> = Editor::with_config(config)?;
    editor.set_helper(Some(PodHelper));
    let history = history_file();
    if let Some(path) = &history {
        // A missing history file is a first run, not an error.
        let _ = editor.load_history(path);
    }
    let mut last = 0;
    loop {
        let text = match editor.readline(PROMPT) {
            Ok(text) => text,
            // Ctrl-C cancels the line being typed, not the shell.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let line = Line::parse(&text);
        if line != Line::Empty {
            let _ = editor.add_history_entry(text.trim());
            if let Some(path) = &history {
                let _ = editor.append_history(path);
            }
        }
        match line {
            Line::Empty => {}
            Line::Exit => break,
            Line::Invalid(message) => {
                eprintln!("error: {message}");
                last = 1;
            }
            Line::Command(words) => last = super::execute(global, &words, Stdio::inherit()),
        }
    }
    Ok(last)
}

/// `~/.pod_history`, or none when there is no home.
fn history_file() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".pod_history"))
}

/// Completion through clap_complete's engine, the one the shells use.
struct PodHelper;

impl Completer for PodHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words) = words_before(&line[..pos]);
        Ok((start, complete(&words)))
    }
}

/// Splits the text before the cursor into words; the last (possibly
/// empty) one is being completed and starts at the returned offset.
/// Quotes are not interpreted: completion candidates never need them.
fn words_before(text: &str) -> (usize, Vec<String>) {
    let start = text
        .rfind(char::is_whitespace)
        .map(|i| i + text[i..].chars().next().map_or(1, char::len_utf8))
        .unwrap_or(0);
    let mut words: Vec<String> = text[..start].split_whitespace().map(String::from).collect();
    if words.first().is_some_and(|w| w == "pod") {
        words.remove(0);
    }
    words.push(text[start..].to_string());
    (start, words)
}

/// Candidates for the last of `words` (a command line without `pod`).
pub fn complete(words: &[String]) -> Vec<Pair> {
    let args: Vec<OsString> = std::iter::once("pod".into())
        .chain(words.iter().map(OsString::from))
        .collect();
    let index = args.len() - 1;
    candidates::set_line(args.clone());
    let mut command = crate::cli::completion_command();
    let found = clap_complete::engine::complete(
        &mut command,
        args,
        index,
        std::env::current_dir().ok().as_deref(),
    )
    .unwrap_or_default();
    found
        .into_iter()
        .filter(|c| !c.is_hide_set())
        .map(|c| {
            let value = c.get_value().to_string_lossy().into_owned();
            // A finished word gets its space, as in a shell; a flag waiting
            // for `=value` or a directory does not.
            let replacement = if value.ends_with(['=', '/']) {
                value.clone()
            } else {
                format!("{value} ")
            };
            Pair {
                display: value,
                replacement,
            }
        })
        .collect()
}

impl Hinter for PodHelper {
    type Hint = String;
}

impl Highlighter for PodHelper {}

impl Validator for PodHelper {}

impl Helper for PodHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(words: &[&str]) -> Vec<String> {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        complete(&words).into_iter().map(|p| p.display).collect()
    }

    #[test]
    fn the_word_before_the_cursor_is_completed() {
        assert_eq!(
            words_before("get po"),
            (4, vec!["get".to_string(), "po".to_string()])
        );
        assert_eq!(
            words_before("pod exec "),
            (9, vec!["exec".to_string(), String::new()])
        );
    }

    #[test]
    fn subcommands_and_flags_complete() {
        assert_eq!(values(&["at"]), ["attach"]);
        let flags = values(&["exec", "--st"]);
        assert_eq!(flags, ["--stdin"]);
        assert!(values(&[""]).contains(&"exec".to_string()));
    }
}
