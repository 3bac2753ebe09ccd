//! `testbed up --processes`: the three services as supervised child processes (`testbed
//! serve <role>`), started in order, each ready before the next; the control API on its own
//! port; on SIGTERM/SIGINT the children are stopped (SIGTERM, last started first) and the
//! control API closes.

use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

use crate::StackConfig;
use crate::supervisor::{ControlError, Supervisor};

/// The running supervised stack.
pub struct Processes {
    pub supervisor: Supervisor,
    pub control_url: String,
    api: tokio::task::JoinHandle<std::io::Result<()>>,
    api_stop: CancellationToken,
}

impl Processes {
    /// Starts the children and the control API on `control_port`, unless `cancel` fires
    /// first (then whatever started is stopped and the answer is `Ok(None)`).
    pub async fn start_unless(
        config: &StackConfig,
        control_port: u16,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Option<Self>> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(config.host, control_port))
            .await
            .map_err(|e| {
                anyhow::anyhow!("control API: cannot listen on port {control_port}: {e}")
            })?;
        let control_url = format!("http://{}", listener.local_addr()?);
        // One fresh link secret for the Order and Restaurant children, unless one was given.
        let mut config = config.clone();
        config
            .service_token_secret
            .get_or_insert_with(crate::random_secret);
        let config = &config;
        let supervisor = Supervisor::new(std::env::current_exe()?, crate::roles::specs(config));
        match cancel.run_until_cancelled(supervisor.start_all()).await {
            Some(Ok(())) => {}
            Some(Err(error)) => {
                supervisor.stop_all().await;
                anyhow::bail!("start-up failed: {}", describe(error));
            }
            None => {
                supervisor.stop_all().await;
                return Ok(None);
            }
        }
        let api_stop = CancellationToken::new();
        let app = crate::control_api::router(supervisor.clone(), config.admin_token.clone());
        let api = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(api_stop.clone().cancelled_owned())
                .into_future(),
        );
        Ok(Some(Self {
            supervisor,
            control_url,
            api,
            api_stop,
        }))
    }

    /// Stops every child (SIGTERM, waiting for each) and the control API.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.supervisor.stop_all().await;
        self.api_stop.cancel();
        self.api.await??;
        Ok(())
    }
}

fn describe(error: ControlError) -> String {
    match error {
        ControlError::Failed(message) => message,
        other => format!("{other:?}"),
    }
}
