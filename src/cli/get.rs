//! `pod get`: list or show objects in kubectl's formats.

use anyhow::Result;

use super::GlobalArgs;
use super::resources::{self, Selection};
use crate::api::selector::Selector;
use crate::api::{Kind, Object};
use crate::error;
use crate::print::{self, OutputFormat, TableOptions};
use crate::store::{Detail, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TYPE[,TYPE...] [NAME...] or TYPE/NAME...
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::candidates::Resources))]
    pub resources: Vec<String>,

    /// Files, directories or `-` naming the objects to show
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filenames: Vec<String>,

    /// Process the directories given with -f recursively
    #[arg(short = 'R', long)]
    pub recursive: bool,

    /// Output format: wide, yaml, json, kyaml, name, jsonpath=..., custom-columns=...
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<String>,

    /// Label selector (=, ==, !=, in, notin, key, !key)
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,

    /// Do not print the header row
    #[arg(long)]
    pub no_headers: bool,

    /// Add a LABELS column
    #[arg(long)]
    pub show_labels: bool,

    /// After listing, watch for changes
    #[arg(short = 'w', long)]
    pub watch: bool,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    let store = global.store()?;
    let format = match &args.output {
        Some(o) => OutputFormat::parse(o)?,
        None => OutputFormat::Table,
    };
    if let [word] = args.resources.as_slice()
        && matches!(word.as_str(), "events" | "event" | "ev")
    {
        return get_events(global, &store, &args);
    }
    let selector = args.selector.as_deref().map(Selector::parse).transpose()?;
    // Tables read a few fields of each pod; decoding only those makes
    // listing many pods several times faster. `-w` compares whole objects.
    let detail = if matches!(format, OutputFormat::Table | OutputFormat::Wide) && !args.watch {
        Detail::Table
    } else {
        Detail::Full
    };
    let (objects, listed_kinds, unreadable) =
        fetch(global, &store, &args, selector.as_ref(), detail)?;
    if objects.is_empty() && listed_kinds && unreadable.is_empty() {
        match global.list_namespace() {
            Some(ns) if !cluster_scoped(&args.resources) => {
                eprintln!("No resources found in {ns} namespace.")
            }
            _ => eprintln!("No resources found"),
        }
        if !args.watch {
            return Ok(());
        }
    }
    let options = TableOptions {
        no_headers: args.no_headers,
        show_labels: args.show_labels,
        with_namespace: global.all_namespaces,
        wide: matches!(format, OutputFormat::Wide),
        as_list: listed_kinds || objects.len() > 1,
    };
    if !objects.is_empty() || unreadable.is_empty() {
        let text = if args.watch {
            print::watch::listing(&objects, &format, &options, jiff::Timestamp::now())?
        } else {
            print::render(&objects, &format, &options)?
        };
        out!("{text}");
    }
    // As kubectl reports the items it failed to get: after the others, on
    // stderr, exit 1.
    if let Some(err) = error::aggregate(unreadable) {
        return Err(err);
    }
    if args.watch {
        let target = watch_target(global, &args, &objects, selector)?;
        let mut out = super::output::stdout();
        print::watch::run(&store, &target, &objects, &format, &options, &mut out)?;
    }
    Ok(())
}

/// `get events`: the events of every pod in the namespace (or all).
fn get_events(global: &GlobalArgs, store: &Store, args: &Args) -> Result<()> {
    let mut events = Vec::new();
    for pod in store.list(Kind::Pod, global.list_namespace())? {
        events.extend(store.read_pod_events(pod.namespace(), pod.name())?);
    }
    if events.is_empty() {
        match global.list_namespace() {
            Some(ns) => eprintln!("No resources found in {ns} namespace."),
            None => eprintln!("No resources found"),
        }
        return Ok(());
    }
    let now = jiff::Timestamp::now();
    out!(
        "{}",
        print::events::table(&events, global.all_namespaces, args.no_headers, now)
    );
    Ok(())
}

/// What `-w` keeps watching: the kinds listed (or of the objects named),
/// in the namespace, under the selector.
fn watch_target(
    global: &GlobalArgs,
    args: &Args,
    shown: &[Object],
    selector: Option<Selector>,
) -> Result<print::watch::Target> {
    let mut target = print::watch::Target {
        namespace: global.list_namespace().map(str::to_string),
        selector,
        ..Default::default()
    };
    if args.filenames.is_empty() {
        match resources::parse(&args.resources)? {
            Selection::Kinds(kinds) => target.kinds = kinds,
            Selection::Named(named) => {
                target.namespace = Some(global.namespace.clone());
                target.kinds = named.iter().map(|(k, _)| *k).collect();
                target.names = Some(named);
            }
        }
    } else {
        target.names = Some(
            shown
                .iter()
                .map(|o| (o.kind(), o.name().to_string()))
                .collect(),
        );
        target.kinds = shown.iter().map(Object::kind).collect();
    }
    target.kinds.dedup();
    if target.kinds.len() > 1 {
        anyhow::bail!(
            "watch is only supported on individual resources and resource collections - more than 1 resource was found"
        );
    }
    Ok(target)
}

/// The objects to show, whether they came from listing whole kinds (where
/// an empty result is "No resources found", not an error), and the errors
/// of the listed objects that could not be read.
fn fetch(
    global: &GlobalArgs,
    store: &Store,
    args: &Args,
    selector: Option<&Selector>,
    detail: Detail,
) -> Result<(Vec<Object>, bool, Vec<anyhow::Error>)> {
    let mut unreadable: Vec<anyhow::Error> = Vec::new();
    let mut errors: Vec<anyhow::Error> = Vec::new();
    let mut objects = Vec::new();
    let listed;
    if !args.filenames.is_empty() {
        listed = false;
        let docs =
            super::create::read_documents(&args.filenames, args.recursive, &global.namespace)?;
        for doc in docs {
            let o = &doc.object;
            match crate::objects::get_required(store, o.kind(), o.namespace(), o.name()) {
                Ok(found) => objects.push(found),
                Err(e) => errors.push(e.into()),
            }
        }
    } else {
        match resources::parse(&args.resources)? {
            Selection::Kinds(kinds) => {
                listed = true;
                for kind in kinds {
                    for read in
                        crate::objects::list_each(store, kind, global.list_namespace(), detail)?
                    {
                        match read {
                            Ok(o)
                                if selector
                                    .is_none_or(|s| s.matches(o.metadata().labels.as_ref())) =>
                            {
                                objects.push(o)
                            }
                            Ok(_) => {}
                            Err(e) => unreadable.push(e.into()),
                        }
                    }
                }
            }
            Selection::Named(named) => {
                listed = false;
                for (kind, name) in named {
                    match crate::objects::get_required(store, kind, &global.namespace, &name) {
                        Ok(found) => objects.push(found),
                        Err(e) => errors.push(e.into()),
                    }
                }
            }
        }
    }
    if let Some(first) = errors.into_iter().next() {
        if !objects.is_empty() {
            let options = TableOptions::default();
            out!(
                "{}",
                print::render(&objects, &OutputFormat::Table, &options)?
            );
        }
        return Err(first);
    }
    Ok((objects, listed, unreadable))
}

/// Whether the arguments list only kinds without namespaces (nodes), for
/// which kubectl's "No resources found" names no namespace.
pub fn cluster_scoped(resources: &[String]) -> bool {
    matches!(resources::parse(resources), Ok(Selection::Kinds(kinds)) if kinds.iter().all(|k| !k.namespaced()))
}
