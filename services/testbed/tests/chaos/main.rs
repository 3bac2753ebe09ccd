//! Faults beyond the switches on real stacks: the launcher's fault proxy on every link
//! (latency, partitions, the Toxiproxy API) and loadgen's chaos scenarios driving links and
//! processes, each ending with the books balanced.

mod chaos_scenarios;
mod fault_links;
mod stacks;
