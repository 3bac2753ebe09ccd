//! A run's setup, before any timed request: the services ready, the chaos driver's
//! preflight (when the scenario has process, link or dependency faults), every fault switch
//! cleared, the scenario's menus created under names of this run, its times scaled to the
//! run time, and the fault steps due at the start applied.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rand::Rng;

use super::Execution;
use super::shared::lock;
use crate::api::Api;
use crate::chaos::ChaosStep;
use crate::chaos_driver::ChaosDriver;
use crate::recorder::Recorder;
use crate::scenario::{Assertion, Scenario};
use crate::service::Service;
use crate::switch::{Fault, FaultStep};

/// What the setup made ready for the load.
pub(super) struct Plan {
    /// Makes user names, menu names and idempotency keys unique to the run.
    pub(super) run_tag: String,
    /// Present when the scenario has process, link or dependency faults.
    pub(super) chaos_driver: Option<ChaosDriver>,
    /// Menu key → id created for this run.
    pub(super) menu_ids: HashMap<String, i64>,
    /// The same, in the scenario's order (what the consistency checker reads).
    pub(super) menus: Vec<(String, i64)>,
    /// The switch steps, at their scaled times; those at 0 are on already.
    pub(super) faults: Vec<FaultStep>,
    pub(super) at_start: Vec<FaultStep>,
    pub(super) later: Vec<FaultStep>,
    /// The process, link and dependency steps, at their scaled times.
    pub(super) chaos: Vec<ChaosStep>,
    /// The assertions, their windows scaled.
    pub(super) assertions: Vec<Assertion>,
}

impl Execution {
    pub(super) async fn set_up(
        &mut self,
        started_at: &chrono::DateTime<chrono::Local>,
    ) -> anyhow::Result<Plan> {
        let options = &self.options;
        let run_tag = format!(
            "{}{:04x}",
            started_at.format("%H%M%S"),
            rand::rng().random::<u16>()
        );
        // Setup calls are untimed; they get a recorder of their own that nobody reads.
        let setup_api = Api::new(
            options.targets.clone(),
            options.admin_token.clone(),
            Duration::from_secs(10),
            Arc::new(Recorder::with_shards(1)),
        )?;
        setup_api.wait_ready(Duration::from_secs(30)).await?;
        let chaos_driver = self.chaos_driver().await?;
        for service in Service::ALL {
            setup_api
                .apply_fault(service, &Fault::Clear)
                .await
                .with_context(|| {
                    format!("clearing faults before the run on the {service} service")
                })?;
        }
        let scenario = &self.options.scenario;
        let menu_ids = create_menus(&setup_api, scenario, &run_tag).await?;
        let menus = scenario
            .menus
            .iter()
            .filter_map(|m| menu_ids.get(&m.key).map(|id| (m.key.clone(), *id)))
            .collect();
        let faults = scenario.scaled_faults(self.run_time);
        // Faults due at the start are on before the first request.
        let (at_start, later): (Vec<FaultStep>, Vec<FaultStep>) =
            faults.iter().cloned().partition(|step| step.at.is_zero());
        self.set_initial_faults(&setup_api, &at_start).await?;
        Ok(Plan {
            run_tag,
            chaos_driver,
            menu_ids,
            menus,
            faults,
            at_start,
            later,
            chaos: scenario.scaled_chaos(self.run_time),
            assertions: scenario.scaled_assertions(self.run_time),
        })
    }

    /// The chaos driver, checked against the stack and with the stack made clean (its
    /// fixes noted), when the scenario needs one.
    async fn chaos_driver(&mut self) -> anyhow::Result<Option<ChaosDriver>> {
        let options = &self.options;
        let scenario = &options.scenario;
        if !scenario.needs_chaos() {
            return Ok(None);
        }
        let driver = ChaosDriver::new(options.chaos.clone(), options.admin_token.clone())?;
        driver
            .preflight(&scenario.chaos, &options.targets)
            .await
            .context("preflight")?;
        self.notes.extend(driver.prepare(&scenario.chaos).await?);
        Ok(Some(driver))
    }

    /// Applies the steps due at 0, then reads every service's switches for the run's view.
    async fn set_initial_faults(&self, api: &Api, at_start: &[FaultStep]) -> anyhow::Result<()> {
        for step in at_start {
            api.apply_fault(step.service, &step.fault)
                .await
                .with_context(|| {
                    format!("setting {} on the {} service", step.fault, step.service)
                })?;
        }
        let mut initial_states = BTreeMap::new();
        for service in Service::ALL {
            if let Ok(state) = api.fault_state(service).await {
                initial_states.insert(service, state);
            }
        }
        *lock(&self.shared.faults) = initial_states;
        Ok(())
    }
}

/// The scenario's menus, created for this run: key → id.
async fn create_menus(
    api: &Api,
    scenario: &Scenario,
    run_tag: &str,
) -> anyhow::Result<HashMap<String, i64>> {
    let mut menu_ids = HashMap::new();
    for menu in &scenario.menus {
        let name = format!("{} [{} {run_tag}]", menu.name, scenario.name);
        let id = api
            .create_menu(&name, menu.price, menu.stock)
            .await
            .with_context(|| format!("creating the scenario menu \"{}\"", menu.key))?;
        menu_ids.insert(menu.key.clone(), id);
    }
    Ok(menu_ids)
}
