//! `pod describe`: kubectl's describe layout, with events.

use anyhow::Result;

use super::GlobalArgs;
use super::resources::{self, Selection};
use crate::api::selector::Selector;
use crate::api::{Kind, Object};
use crate::print::describe;
use crate::store::{Detail, Store};
use k8s_openapi::api::core::v1::Pod;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TYPE [NAME...] or TYPE/NAME...
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::candidates::Resources))]
    pub resources: Vec<String>,

    /// Files, directories or `-` naming the objects to describe
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filenames: Vec<String>,

    /// Label selector
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    let store = global.store()?;
    let mut objects: Vec<Object> = Vec::new();
    // As kubectl does, what can be described is, and what cannot (not
    // found, a corrupt record) is reported after it, on stderr, exit 1.
    let mut errors: Vec<anyhow::Error> = Vec::new();
    if !args.filenames.is_empty() {
        for doc in super::create::read_documents(&args.filenames, false, &global.namespace)? {
            let o = &doc.object;
            match crate::objects::get_required(&store, o.kind(), o.namespace(), o.name()) {
                Ok(found) => objects.push(found),
                Err(e) => errors.push(e.into()),
            }
        }
    } else {
        match resources::parse(&args.resources)? {
            Selection::Named(named) => {
                for (kind, name) in named {
                    match crate::objects::get_required(&store, kind, &global.namespace, &name) {
                        Ok(found) => objects.push(found),
                        Err(e) => errors.push(e.into()),
                    }
                }
            }
            Selection::Kinds(kinds) => {
                let selector = args.selector.as_deref().map(Selector::parse).transpose()?;
                for kind in kinds {
                    for read in crate::objects::list_each(
                        &store,
                        kind,
                        global.list_namespace(),
                        Detail::Full,
                    )? {
                        match read {
                            Ok(o)
                                if selector
                                    .as_ref()
                                    .is_none_or(|s| s.matches(o.metadata().labels.as_ref())) =>
                            {
                                objects.push(o)
                            }
                            Ok(_) => {}
                            Err(e) => errors.push(e.into()),
                        }
                    }
                }
                if objects.is_empty() && errors.is_empty() {
                    if super::get::cluster_scoped(&args.resources) {
                        eprintln!("No resources found");
                        return Ok(());
                    }
                    eprintln!("No resources found in {} namespace.", global.namespace);
                    return Ok(());
                }
            }
        }
    }
    let mut first = true;
    for object in &objects {
        if !first {
            outln!();
        }
        first = false;
        let events = match object {
            Object::Pod(_) => store.read_pod_events(object.namespace(), object.name())?,
            Object::Node(_) => crate::node::events(&store, object.name())?,
            _ => Vec::new(),
        };
        if let Object::Node(node) = object {
            let pods = pods_on(&store, object.name())?;
            out!("{}", describe::describe_node(node, &pods, &events));
            continue;
        }
        out!("{}", describe::describe(object, &events));
    }
    match crate::error::aggregate(errors) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// The pods bound to the node that have not terminated, in every
/// namespace (kubectl's field selector `spec.nodeName=NAME`,
/// `status.phase!=Succeeded`, `status.phase!=Failed`).
fn pods_on(store: &Store, node: &str) -> Result<Vec<Pod>> {
    let mut out = Vec::new();
    // A pod whose record cannot be read is left out, as the others still
    // describe the node.
    for object in store.list_each(Kind::Pod, None, Detail::Full)? {
        let Ok(Object::Pod(pod)) = object else {
            continue;
        };
        let bound = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node);
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if bound && !matches!(phase, Some("Succeeded" | "Failed")) {
            out.push(*pod);
        }
    }
    Ok(out)
}
