//! What the CLI process does to a pod: place it on the node and try the
//! waiting pods again ([`queue`], [`retry_quietly`]), start its supervisor
//! ([`start`]),
//! adopt it when its supervisor and keeper died ([`revive`]),
//! stop and remove it ([`delete`]), open exec and attach sessions with its
//! containers ([`session`]), follow its containers' logs ([`logs`]), relay
//! local ports to its ports ([`portforward`]), talk to its supervisor's
//! socket ([`client`]).
//!
//! This is one side of the process boundary: everything here runs in the
//! short-lived `pod` command (but [`retry_quietly`], which a supervisor
//! also calls when its pod ends and frees what it held). The other side,
//! `supervisor`, runs in the per-pod `pod-supervisor` process; the two share nothing but the files
//! of the state directory (`store`) and the supervisor's socket, whose
//! protocol `supervisor::socket` and `supervisor::attach` define.

pub mod boot;
pub mod client;
pub mod logs;
pub mod namespace;
pub mod portforward;
mod revive;
mod schedule;
pub mod session;
mod start;
mod terminate;

use revive::revive_to_delete;
pub use revive::{maybe_lost, revive};
pub use schedule::{flush_if_due, queue, retry_quietly};
pub use start::{Starting, recover, start, start_before_storing, start_stored};
pub use terminate::{delete, delete_damaged};

/// How `delete` ends a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// terminationGracePeriodSeconds of the pod.
    PodDefault,
    /// This many seconds (kubectl's --grace-period).
    Grace(u64),
    /// --force --grace-period=0: kill at once, do not wait.
    Immediate,
}
