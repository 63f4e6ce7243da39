//! `pod describe`: kubectl's describe layout, with events.

use anyhow::Result;

use super::GlobalArgs;
use super::resources::{self, Selection};
use crate::api::Object;
use crate::api::selector::Selector;
use crate::print::describe;

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
    if !args.filenames.is_empty() {
        for doc in super::create::read_documents(&args.filenames, false, &global.namespace)? {
            let o = &doc.object;
            objects.push(store.get_required(o.kind(), o.namespace(), o.name())?);
        }
    } else {
        match resources::parse(&args.resources)? {
            Selection::Named(named) => {
                for (kind, name) in named {
                    objects.push(store.get_required(kind, &global.namespace, &name)?);
                }
            }
            Selection::Kinds(kinds) => {
                let selector = args.selector.as_deref().map(Selector::parse).transpose()?;
                for kind in kinds {
                    for o in store.list(kind, global.list_namespace())? {
                        if selector
                            .as_ref()
                            .is_none_or(|s| s.matches(o.metadata().labels.as_ref()))
                        {
                            objects.push(o);
                        }
                    }
                }
                if objects.is_empty() {
                    eprintln!("No resources found in {} namespace.", global.namespace);
                    return Ok(());
                }
            }
        }
    }
    let mut first = true;
    for object in &objects {
        if !first {
            println!();
        }
        first = false;
        let events = match object {
            Object::Pod(_) => store.read_pod_events(object.namespace(), object.name())?,
            _ => Vec::new(),
        };
        print!("{}", describe::describe(object, &events));
    }
    Ok(())
}
