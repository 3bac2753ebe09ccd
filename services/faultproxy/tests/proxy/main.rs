//! The fault proxy's tests: its Toxiproxy-compatible REST API, every toxic on real sockets
//! against small loopback upstreams, and the binary's config file and SIGTERM.

mod api;
mod binary;
mod fixtures;
mod toxics;
