//! The command line: clap definitions, one file per subcommand. Each file
//! holds its `Args` and a `run` that glues the library modules together;
//! the work itself happens in `api`, `store`, `print`, `image`, `runtime`
//! and `supervisor`.

#[macro_use]
mod output;

mod annotate;
mod apply;
mod attach;
pub mod candidates;
mod completion;
pub(crate) mod create;
pub(crate) mod delete;
mod describe;
mod exec;
#[cfg(test)]
mod generated;
mod get;
mod image;
mod kubeconfig;
mod label;
mod logs;
mod port_forward;
mod repl;
mod resources;
mod serve;
mod shell;
mod taint;
mod up;
pub mod usage;
mod version;
mod wait;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::store::Store;
use crate::terminal::ReaderGone;

/// Run Kubernetes Pod manifests on this machine: a single-node kubectl and
/// kubelet in one binary.
#[derive(Debug, Parser)]
#[command(name = "pod", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    /// Without a subcommand: the interactive shell (`pod shell`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every subcommand takes.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Directory of persistent state: pods, images, logs
    #[arg(
        long,
        global = true,
        env = "POD_ROOT",
        default_value = "/var/lib/pod",
        value_name = "DIR"
    )]
    pub root: PathBuf,

    /// Directory of runtime state: sockets, mount points
    #[arg(
        long,
        global = true,
        env = "POD_RUN_ROOT",
        default_value = "/run/pod",
        value_name = "DIR"
    )]
    pub run_root: PathBuf,

    /// The node configuration file [default: <root>/config.yaml]
    #[arg(long, global = true, env = "POD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The namespace of the objects
    #[arg(
        short = 'n',
        long,
        global = true,
        add = clap_complete::engine::ArgValueCompleter::new(candidates::namespaces),
        default_value = "default",
        value_name = "NAMESPACE"
    )]
    pub namespace: String,

    /// List objects across all namespaces
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
}

impl GlobalArgs {
    pub fn store(&self) -> Result<Store> {
        Store::open(&self.root, &self.run_root)?.with_node_config(self.config.as_deref())
    }

    /// The namespace to list, or `None` for all namespaces.
    pub fn list_namespace(&self) -> Option<&str> {
        (!self.all_namespaces).then_some(self.namespace.as_str())
    }
}

/// Each subcommand's arguments (and an image's or create's own
/// subcommands) are made only when that subcommand is parsed or built:
/// every `pod` process the user or a create starts (`create`, `wait`)
/// otherwise spent a third of its own start-up making, copying and
/// dropping the arguments and help texts of all twenty. Help, usage and
/// errors are those of the same definitions; code that walks the tree
/// unparsed builds it first (`usage::command_path`, the man pages,
/// [`completion_command`]).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Create objects from manifests (files, directories or stdin)
    Create(create::Args),
    /// Create or update objects from manifests
    Apply(apply::Args),
    /// Display one or many objects
    Get(get::Args),
    /// Show details of objects, with their events
    Describe(describe::Args),
    /// Delete objects by name, by file, by label or all
    Delete(delete::Args),
    /// Print the logs of a container
    Logs(logs::Args),
    /// Run a command in a running container
    Exec(exec::Args),
    /// Attach to the main process of a running container
    Attach(attach::Args),
    /// Forward one or more local ports to a pod
    PortForward(port_forward::Args),
    /// Wait for a condition on objects
    Wait(wait::Args),
    /// Update the labels of objects
    Label(label::Args),
    /// Update the annotations of objects
    Annotate(annotate::Args),
    /// Update the taints on the node
    Taint(taint::Args),
    /// Manage images: list, pull, load, import, inspect, remove, prune
    #[command(subcommand)]
    Image(image::Command),
    /// Start the node's pods again after the machine restarted (at boot)
    Up(up::Args),
    /// Serve the Kubernetes API for this machine (kubectl, client libraries)
    Serve(serve::Args),
    /// Write a kubeconfig for `pod serve`
    Kubeconfig(kubeconfig::Args),
    /// Print the version of pod
    Version(version::Args),
    /// Print a shell completion script (bash, zsh, fish)
    Completion(completion::Args),
    /// An interactive prompt for pod's commands (also `pod` alone)
    Shell,
}

/// Parses the command line and runs the subcommand.
/// The scheduler's periodic retry of waiting pods, done by the pod
/// commands as they start (`pods::flush_if_due`); nothing of it can fail
/// the command.
fn flush_unschedulable(global: &GlobalArgs) {
    if !nix::unistd::geteuid().is_root() || !global.root.join("nodes").is_dir() {
        return;
    }
    let Ok(store) = global.store() else {
        return;
    };
    let interval = crate::node::config::NodeConfig::of(&store)
        .map_or(crate::node::config::DEFAULT_UNSCHEDULABLE_RETRY, |c| {
            c.unschedulable_retry
        });
    crate::pods::flush_if_due(&store, interval);
}

pub fn run() -> Result<ExitCode> {
    // A shell asking for completions (`POD_COMPLETE=bash pod -- pod get …`,
    // see `completion`) is answered here, before anything else runs.
    clap_complete::CompleteEnv::with_factory(completion_command)
        .var(completion::ENV_VAR)
        .complete();
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print as clap prints them.
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            let args: Vec<String> = std::env::args_os()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            eprintln!("{}", usage::one_line(&err, &args));
            return Ok(ExitCode::from(err.exit_code() as u8));
        }
    };
    // kubectl's `-n ""` is the default namespace.
    if cli.global.namespace.is_empty() {
        cli.global.namespace = "default".to_string();
    }
    let global = &cli.global;
    // Everything but printing the version or a completion script needs
    // root: refuse before a manifest or stdin is read (`create -f` would
    // otherwise answer about the file first).
    if !matches!(
        cli.command,
        Some(Command::Version(_) | Command::Completion(_))
    ) {
        crate::store::require_root()?;
    }
    let Some(command) = cli.command else {
        return shell::run(global).map(|()| ExitCode::SUCCESS);
    };
    if matches!(
        command,
        Command::Create(_)
            | Command::Apply(_)
            | Command::Get(_)
            | Command::Describe(_)
            | Command::Delete(_)
            | Command::Wait(_)
    ) {
        flush_unschedulable(global);
    }
    match command {
        Command::Create(args) => create::run(global, args),
        Command::Apply(args) => apply::run(global, args),
        Command::Get(args) => get::run(global, args),
        Command::Describe(args) => describe::run(global, args),
        Command::Delete(args) => delete::run(global, args),
        Command::Logs(args) => logs::run(global, args),
        Command::Exec(args) => exec::run(global, args),
        Command::Attach(args) => attach::run(global, args),
        Command::PortForward(args) => port_forward::run(global, args),
        Command::Wait(args) => wait::run(global, args),
        Command::Label(args) => label::run(global, args),
        Command::Annotate(args) => annotate::run(global, args),
        Command::Taint(args) => taint::run(global, args),
        Command::Image(command) => image::run(global, command),
        Command::Up(args) => up::run(global, args),
        Command::Serve(args) => serve::run(global, args),
        Command::Kubeconfig(args) => kubeconfig::run(global, args),
        Command::Version(args) => version::run(args),
        Command::Completion(args) => completion::run(args),
        Command::Shell => shell::run(global),
    }
    .map(|()| ExitCode::SUCCESS)
    .map_err(|err| match err.is::<ReaderGone>() {
        // A session's reader has gone: end as kubectl ends (`output`).
        true => output::die_of_sigpipe(),
        false => err,
    })
}

/// The clap command: for man pages and the usage errors' paths. Its
/// top-level subcommands are deferred (see [`Command`]): built, each is
/// made, with the global options added before its own.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// The clap command for completions, which list a subcommand's options in
/// their display order and, at equal orders, in the order they were
/// added. Deferred, a subcommand would get the global options before its
/// own (the top adds them first when built); here each is made on its own
/// and given the global options after, as a tree never deferred has them.
pub fn completion_command() -> clap::Command {
    let mut command = command();
    let mut top = command.clone();
    top.build();
    let globals: Vec<clap::Arg> = top
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        command = command.mut_subcommand(name, |mut sub| {
            sub.build();
            with_globals(sub, &globals)
        });
    }
    command
}

/// `command`, built, and its subcommands (but clap's `help`) given the
/// global options after their own, as clap's propagation gives them.
fn with_globals(command: clap::Command, globals: &[clap::Arg]) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .filter(|name| name != "help")
        .collect();
    let mut command = command.args(globals.iter().cloned());
    for name in names {
        command = command.mut_subcommand(name, |sub| with_globals(sub, globals));
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `pod` process builds the arguments of the subcommand it runs only.
    #[test]
    fn a_subcommand_is_made_only_when_it_is_parsed() {
        let made = |command: &clap::Command, name: &str| {
            let sub = command.find_subcommand(name).unwrap();
            sub.get_arguments().any(|a| !a.is_global_set())
        };
        let mut command = command();
        assert!(!made(&command, "create") && !made(&command, "get"));
        command
            .try_get_matches_from_mut(["pod", "create", "-f", "x.yaml"])
            .unwrap();
        assert!(made(&command, "create"));
        assert!(!made(&command, "get"));
    }

    /// Completion lists a subcommand's own options before the global ones
    /// of equal display order, at every depth, as before the deferral.
    #[test]
    fn completion_sees_own_options_before_the_global_ones() {
        let mut command = completion_command();
        command.build();
        let ids = |c: &clap::Command| -> Vec<String> {
            c.get_arguments()
                .filter_map(|a| a.get_long().map(str::to_string))
                .collect()
        };
        let get = command.find_subcommand("get").unwrap();
        let (filename, root) = (
            ids(get).iter().position(|i| i == "filename"),
            ids(get).iter().position(|i| i == "root"),
        );
        assert!(filename.unwrap() < root.unwrap(), "{:?}", ids(get));
        let pull = command
            .find_subcommand("image")
            .and_then(|i| i.find_subcommand("pull"))
            .unwrap();
        let (quiet, root) = (
            ids(pull).iter().position(|i| i == "quiet"),
            ids(pull).iter().position(|i| i == "root"),
        );
        assert!(quiet.unwrap() < root.unwrap(), "{:?}", ids(pull));
    }
}
