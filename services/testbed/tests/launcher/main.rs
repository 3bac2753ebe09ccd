//! The launcher itself: `testbed up` embedded and on PostgreSQL + Redis, SIGTERM at any
//! moment, supervised service processes controlled through its API, and the README's
//! configuration table checked against every binary's flags.

mod config_table;
mod launcher;
mod processes;
