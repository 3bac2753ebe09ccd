//! `[[faults]]`: each table is a step at a time into the run, either one of the services'
//! fault switches (checked here) or a process, link or dependency fault (whose fields the
//! chaos module checks, as it checks the steps against each other).

use std::time::Duration;

use toml::Spanned;

use super::raw::{Locator, RawFault, ScenarioError, Table};
use crate::chaos::{self, ChaosStep, RawChaos};
use crate::duration::format_duration;
use crate::service::Service;
use crate::switch::{Fault, FaultStep};

/// The scenario's switch steps and its process, link and dependency steps.
pub(super) fn check_faults(
    at: &Locator<'_>,
    raw: &[Spanned<RawFault>],
    run_time: Duration,
) -> Result<(Vec<FaultStep>, Vec<ChaosStep>), ScenarioError> {
    let mut switches = Vec::new();
    let mut chaos_steps = Vec::new();
    let mut chaos_spans = Vec::new();
    for spanned in raw {
        let table = Table::of(at, spanned);
        let when = table.when(run_time)?;
        if chaos::KINDS.contains(&table.raw.fault.as_str()) {
            chaos_steps.push(table.chaos_step(when, run_time)?);
            chaos_spans.push(spanned.span());
        } else {
            switches.push(table.switch_step(when)?);
        }
    }
    chaos::check_sequence(&chaos_steps, run_time)
        .map_err(|(index, message)| at.error(chaos_spans[index].clone(), message))?;
    Ok((switches, chaos_steps))
}

/// A `[[faults]]` table.
impl Table<'_, RawFault> {
    /// `at`: within the run (0 when not given).
    fn when(&self, run_time: Duration) -> Result<Duration, ScenarioError> {
        let when = match &self.raw.at {
            Some(text) => self.duration(text, "faults.at")?,
            None => Duration::ZERO,
        };
        if when >= run_time {
            return Err(self.error(format!(
                "faults.at: {} is not within the run ({})",
                format_duration(when),
                format_duration(run_time)
            )));
        }
        Ok(when)
    }

    /// A process, link or dependency fault (the chaos module checks the fields).
    fn chaos_step(&self, when: Duration, run_time: Duration) -> Result<ChaosStep, ScenarioError> {
        let raw = self.raw;
        let duration = match &raw.duration {
            Some(text) => Some(self.duration(text, "faults.duration")?),
            None => None,
        };
        let fields = RawChaos {
            fault: &raw.fault,
            service: raw.service.as_deref(),
            duration,
            link: raw.link.as_deref(),
            toxic: raw.toxic.as_deref(),
            stream: raw.stream.as_deref(),
            toxicity: raw.toxicity,
            attributes: raw.attributes.as_ref(),
            dependency: raw.dependency.as_deref(),
        };
        let fault = chaos::check(&fields, when, run_time).map_err(|message| self.error(message))?;
        Ok(ChaosStep {
            at: when,
            duration,
            fault,
            line: self.line(),
        })
    }

    /// One of the services' fault switches, as before issue 13.
    fn switch_step(&self, when: Duration) -> Result<FaultStep, ScenarioError> {
        self.refuse_chaos_fields()?;
        let service = self.switch_service()?;
        Ok(FaultStep {
            at: when,
            service,
            fault: self.switch_fault(service)?,
        })
    }

    /// A switch takes none of the fields of the process, link and dependency faults.
    fn refuse_chaos_fields(&self) -> Result<(), ScenarioError> {
        let raw = self.raw;
        let extra = [
            ("duration", raw.duration.is_some()),
            ("link", raw.link.is_some()),
            ("toxic", raw.toxic.is_some()),
            ("stream", raw.stream.is_some()),
            ("toxicity", raw.toxicity.is_some()),
            ("attributes", raw.attributes.is_some()),
            ("dependency", raw.dependency.is_some()),
        ];
        let Some((field, _)) = extra.iter().find(|(_, given)| *given) else {
            return Ok(());
        };
        let hint = if *field == "duration" {
            ": a switch stays on until a later `clear` step"
        } else {
            ""
        };
        Err(self.error(format!(
            "faults: the switch \"{}\" takes no `{field}`{hint}",
            raw.fault
        )))
    }

    fn switch_service(&self) -> Result<Service, ScenarioError> {
        let Some(service) = self.raw.service.as_deref() else {
            return Err(self.error(format!(
                "faults: \"{}\" needs service = \"user\", \"restaurant\" or \"order\"",
                self.raw.fault
            )));
        };
        Service::ALL
            .into_iter()
            .find(|known| known.name() == service)
            .ok_or_else(|| {
                self.error(format!(
                    "faults.service: unknown service \"{service}\"; expected user, restaurant or order"
                ))
            })
    }

    fn switch_fault(&self, service: Service) -> Result<Fault, ScenarioError> {
        let raw = self.raw;
        let need_delay = |what: &str| {
            raw.delay_ms
                .ok_or_else(|| self.error(format!("faults: \"{what}\" needs delay_ms")))
        };
        let check_percent = |percent: Option<u8>| match percent {
            Some(percent) if percent > 100 => Err(self.error("faults: percent must be 0..=100")),
            _ => Ok(()),
        };
        Ok(match raw.fault.as_str() {
            "delay" => Fault::Delay {
                delay_ms: need_delay("delay")?,
            },
            "inventory_delay" => {
                if service != Service::Restaurant {
                    return Err(self.error("faults: inventory_delay is a restaurant switch"));
                }
                Fault::InventoryDelay {
                    delay_ms: need_delay("inventory_delay")?,
                }
            }
            "payment_fail" => {
                if service != Service::Order {
                    return Err(self.error("faults: payment_fail is an order switch"));
                }
                let percent = raw
                    .percent
                    .ok_or_else(|| self.error("faults: \"payment_fail\" needs percent"))?;
                check_percent(Some(percent))?;
                Fault::PaymentFail { percent }
            }
            "error" => {
                check_percent(raw.percent)?;
                Fault::Error {
                    enable: raw.enable.unwrap_or(true),
                    percent: raw.percent,
                }
            }
            "clear" => Fault::Clear,
            other => {
                return Err(self.error(format!(
                    "faults: unknown fault \"{other}\"; expected a switch (delay, error, payment_fail, inventory_delay, clear) or one of: {}",
                    chaos::KINDS.join(", ")
                )));
            }
        })
    }
}
