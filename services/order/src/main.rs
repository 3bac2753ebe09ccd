//! The Order Service binary: parse configuration, build the app, serve until signalled.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    testbed_common::telemetry::init_tracing();
    let config = order_service::OrderConfig::parse();
    let server = order_service::build(config).await?;
    server.run(testbed_common::server::shutdown_signal()).await
}
