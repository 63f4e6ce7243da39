//! A bad command line in one line: clap's error message, with what it
//! lists on the lines below (the missing arguments, the possible values)
//! folded in, and where to read the usage. Tips and the usage block are
//! left out; `--help` has them. A script reading stderr gets one line per
//! failure, as for every other error of `pod`.

/// `err`'s one-line form: `error: <message>; see '<command> --help'`,
/// where `<command>` is the subcommand `args` (without the program name)
/// got as far as.
pub fn one_line(err: &clap::Error, args: &[String]) -> String {
    let text = err.render().to_string();
    let mut lines = text.lines();
    let mut message = lines
        .next()
        .unwrap_or("error: invalid arguments")
        .trim_end()
        .to_string();
    // The block right under the message: indented details, up to the
    // first blank line.
    let details: Vec<&str> = lines
        .by_ref()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .filter(|l| !l.starts_with("tip:"))
        .collect();
    if !details.is_empty() {
        match message.strip_suffix(':') {
            Some(head) => message = format!("{head}: {}", details.join(", ")),
            None => message = format!("{message} {}", details.join(" ")),
        }
    }
    format!("{message}; see '{} --help'", command_path(args))
}

/// `pod image pull` for `--root /x image pull --bogus`: the subcommands
/// named before the first word that is none (option values skipped).
fn command_path(args: &[String]) -> String {
    // Built, so that the subcommands' own arguments and subcommands are
    // there (they are made when built: `Command` is deferred). Building
    // also copies the global options into every subcommand; below the
    // top, only a subcommand's own options are looked at, as before.
    let mut command = super::command();
    command.build();
    let mut top = true;
    let mut path = vec!["pod".to_string()];
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if let Some(option) = word.strip_prefix('-') {
            let takes_value =
                |a: &clap::Arg| a.get_action().takes_values() && (top || !a.is_global_set());
            let value_follows = match option.strip_prefix('-') {
                Some(long) => {
                    !long.contains('=')
                        && command
                            .get_arguments()
                            .any(|a| a.get_long() == Some(long) && takes_value(a))
                }
                None => {
                    option.len() == 1
                        && command
                            .get_arguments()
                            .any(|a| a.get_short() == option.chars().next() && takes_value(a))
                }
            };
            if value_follows {
                words.next();
            }
            continue;
        }
        // clap's own `help` subcommand, made when a command is built, was
        // never part of the path.
        match command
            .find_subcommand(word)
            .filter(|s| s.get_name() != "help")
        {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                command = sub.clone();
                top = false;
            }
            None => break,
        }
    }
    path.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(args: &[&str]) -> String {
        let err = super::super::command()
            .try_get_matches_from(std::iter::once("pod").chain(args.iter().copied()))
            .unwrap_err();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        one_line(&err, &args)
    }

    #[test]
    fn clap_errors_fold_into_one_line() {
        #[rustfmt::skip]
        let rows = [
            (&["get", "--bogus"][..],
             "error: unexpected argument '--bogus' found; see 'pod get --help'"),
            (&["exec"], "error: the following required arguments were not provided: <POD>, <COMMAND>...; see 'pod exec --help'"),
            (&["completion", "tcsh"],
             "error: invalid value 'tcsh' for '<SHELL>' [possible values: bash, zsh, fish]; see 'pod completion --help'"),
            (&["--root", "/x", "-n", "ns", "image", "ls", "--bogus"],
             "error: unexpected argument '--bogus' found; see 'pod image ls --help'"),
            (&["bogus"], "error: unrecognized subcommand 'bogus'; see 'pod --help'"),
            (&["image", "pull"], "error: the following required arguments were not provided: <IMAGE>; see 'pod image pull --help'"),
        ];
        for (args, want) in rows {
            let got = error(args);
            assert_eq!(got, want, "{args:?}");
            assert_eq!(got.lines().count(), 1);
        }
    }
}
