//! The checked-in files generated from the clap definitions:
//! `completions/` (bash, zsh, fish) and `man/` (one page per subcommand).
//! A test fails when they are stale; `UPDATE_GENERATED=1 cargo test
//! generated` rewrites them.

use std::path::{Path, PathBuf};

use super::completion::{Shell, script};

/// Every generated file: its path under the repository and its content.
pub fn files() -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for (shell, name) in [
        (Shell::Bash, "pod.bash"),
        (Shell::Zsh, "_pod"),
        (Shell::Fish, "pod.fish"),
    ] {
        out.push((Path::new("completions").join(name), script(shell)));
    }
    man_pages(&super::command(), "pod", &mut out);
    out
}

fn man_pages(command: &clap::Command, name: &str, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let command = command.clone().name(name.to_string());
    let mut buf = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut buf)
        .expect("rendering to memory cannot fail");
    out.push((Path::new("man").join(format!("{name}.1")), buf));
    // A top-level subcommand is deferred: its own subcommands (image's,
    // create's) are made when it is built. Building the top instead would
    // copy its global options into every page, so it is not built.
    let mut expanded = command.clone();
    if !command.get_arguments().any(|a| a.is_global_set()) {
        expanded.build();
    }
    for sub in expanded
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        // Each page is rendered as if its subcommand stood on its own,
        // named and titled by the page.
        let name = format!("{name}-{}", sub.get_name());
        let sub = sub.clone().bin_name(&name).display_name(&name);
        man_pages(&sub, &name, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_are_current() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let update = std::env::var_os("UPDATE_GENERATED").is_some();
        let mut stale = Vec::new();
        for (path, content) in files() {
            let full = repo.join(&path);
            if std::fs::read(&full).ok().as_deref() == Some(&content[..]) {
                continue;
            }
            if update {
                std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                std::fs::write(&full, &content).unwrap();
            } else {
                stale.push(path.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "stale generated files (run `UPDATE_GENERATED=1 cargo test generated`): {stale:?}"
        );
    }
}
