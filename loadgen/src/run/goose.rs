//! The closed-loop load driver: the scenario's workflows run as goose users, each signing
//! up and logging in once, then running weighted workflows back to back with think time,
//! following goose's hatch-and-hold test plan; a stop request reaches goose through its
//! killswitch.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use goose::prelude::*;

use super::shared::Shared;
use crate::scenario::Scenario;
use crate::service::Service;
use crate::workflow::{VirtualUser, Workload};

/// Runs the workflows as goose users: one goose scenario, a start transaction that signs
/// the user up and logs in once, and one weighted transaction per workflow.
pub(super) async fn drive_goose(
    shared: &Arc<Shared>,
    workload: &Arc<Workload>,
    scenario: &Scenario,
    users: usize,
    run_time: Duration,
) -> anyhow::Result<()> {
    let hatch_secs = (users as f64 / scenario.load.hatch_rate).ceil() as u64;
    let total_secs = run_time.as_secs().max(1);
    let hatch_secs = hatch_secs.min(total_secs.saturating_sub(1));
    let hold_secs = (total_secs - hatch_secs).max(1);
    let plan = format!("{users},{hatch_secs}s;{users},{hold_secs}s;0,0s");

    let mut load = goose::goose::Scenario::new("load")
        .set_wait_time(scenario.load.think_min, scenario.load.think_max)
        .map_err(|e| anyhow::anyhow!("think time: {e}"))?
        .register_transaction(
            user_start_transaction(shared.clone(), workload.clone())
                .set_name("signup+login")
                .set_on_start(),
        )
        .register_transaction(
            user_stop_transaction(shared.clone())
                .set_name("stop")
                .set_on_stop(),
        );
    for (index, workflow) in scenario.workflows.iter().enumerate() {
        let transaction = workflow_transaction(workload.clone(), index)
            .set_name(&workflow.label())
            .set_weight(workflow.weight)
            .map_err(|e| anyhow::anyhow!("workflow weight: {e}"))?;
        load = load.register_transaction(transaction);
    }

    let configuration = goose::config::GooseConfiguration::parse_args_default::<&str>(&[])
        .map_err(|e| anyhow::anyhow!("goose configuration: {e}"))?;
    let goose_error = |e: GooseError| anyhow::anyhow!("goose: {e:?}");
    let attack = GooseAttack::initialize_with_config(configuration)
        .map(|attack| attack.register_scenario(load))
        .and_then(|attack| {
            with_defaults(attack, workload.api.targets().direct(Service::Order), &plan)
        })
        .map_err(goose_error)?;

    // A stop request reaches goose through its killswitch.
    let watcher = {
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                if shared.stopping() {
                    goose::trigger_killswitch("stop requested");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let result = attack.execute().await;
    watcher.abort();
    result.map(|_| ()).map_err(goose_error)
}

/// The host, the test plan, and goose's own output and metrics all off. The load generator
/// times every request itself (µs, per endpoint), so goose's request, transaction and
/// scenario metrics would be a second, unused aggregation on every iteration (issue 15).
fn with_defaults(
    attack: GooseAttack,
    host: &str,
    plan: &str,
) -> Result<Box<GooseAttack>, GooseError> {
    let mut attack = attack
        .set_default(GooseDefault::Host, host)?
        .set_default(GooseDefault::TestPlan, plan)?
        .set_default(GooseDefault::Quiet, 1)?;
    for off in [
        GooseDefault::NoPrintMetrics,
        GooseDefault::NoErrorSummary,
        GooseDefault::NoTelnet,
        GooseDefault::NoMetrics,
        GooseDefault::NoTransactionMetrics,
        GooseDefault::NoScenarioMetrics,
    ] {
        attack = attack.set_default(off, true)?;
    }
    Ok(attack)
}

fn user_start_transaction(shared: Arc<Shared>, workload: Arc<Workload>) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let shared = shared.clone();
        let workload = workload.clone();
        Box::pin(async move {
            shared.users_active.fetch_add(1, Ordering::Relaxed);
            let virtual_user = workload.new_user().await;
            user.set_session_data(virtual_user);
            Ok(())
        })
    }))
}

fn user_stop_transaction(shared: Arc<Shared>) -> Transaction {
    Transaction::new(Arc::new(move |_user: &mut GooseUser| {
        let shared = shared.clone();
        Box::pin(async move {
            let _ = shared
                .users_active
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
            Ok(())
        })
    }))
}

fn workflow_transaction(workload: Arc<Workload>, index: usize) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let workload = workload.clone();
        Box::pin(async move {
            let mut virtual_user = user
                .get_session_data::<VirtualUser>()
                .cloned()
                .unwrap_or_default();
            if virtual_user.username.is_empty() {
                virtual_user = workload.new_user().await;
            }
            workload.run(index, &mut virtual_user, None).await;
            user.set_session_data(virtual_user);
            Ok(())
        })
    }))
}
