//! `pod annotate`: the label command's code, on annotations.

use anyhow::Result;

use super::GlobalArgs;
use super::label::{self, Field};

pub use label::Args;

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    label::edit(global, args, Field::Annotations)
}
