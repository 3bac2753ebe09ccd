//! Loadgen runs against the real services (the test kit's in-process stack on PostgreSQL +
//! Redis): the CLI, the baseline gate, merged runs, the open-loop cap and every scenario.

mod cli;
mod compare;
mod merge;
mod open_loop;
mod scenarios;
mod stack;
