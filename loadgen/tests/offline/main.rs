//! Loadgen tests that need no running service: its module graph has no circles, and the
//! fault kinds of a scenario file parse (or are refused with their line).

mod architecture;
mod chaos_parsing;
