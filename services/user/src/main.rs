//! The User Service binary: SIGTERM/SIGINT handled from the first instruction, then parse
//! configuration, build the app (a signal meanwhile stops it cleanly), serve until signalled.

use clap::Parser;
use testbed_common::signals;

fn main() -> anyhow::Result<()> {
    signals::run(|shutdown| async move {
        testbed_common::telemetry::init_tracing();
        let config = user_service::UserConfig::parse();
        let built = signals::unless_signalled(&shutdown, user_service::build(config)).await?;
        match built {
            Some(server) => server.run(shutdown.cancelled_owned()).await,
            None => Ok(()),
        }
    })
}
