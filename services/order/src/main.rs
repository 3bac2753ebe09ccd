//! The Order Service binary: `testbed_common::signals::run_service` handles SIGTERM/SIGINT
//! from the first instruction, parses the configuration, builds the app and serves.

fn main() -> anyhow::Result<()> {
    testbed_common::signals::run_service(order_service::build)
}
