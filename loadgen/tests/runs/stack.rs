//! The stack loadgen runs drive: the test kit's three services in this test process on
//! random ports, with the real PostgreSQL + Redis, as loadgen's `Targets`.

use loadgen::api::Targets;
use loadgen::run::RunOptions;
use loadgen::scenario::Scenario;
use testkit::Backend;

pub struct Stack {
    pub targets: Targets,
    _services: testkit::Stack,
}

pub async fn start_stack() -> Stack {
    let services = testkit::Stack::start(Backend::Postgres).await;
    Stack {
        targets: Targets {
            user: services.user.clone(),
            restaurant: services.restaurant.clone(),
            order: services.order.clone(),
            gateway: None,
        },
        _services: services,
    }
}

impl Stack {
    /// A run of `scenario` against this stack: its own users, duration and rate, full
    /// length, seed 1, no progress lines, no chaos targets.
    pub fn options(&self, scenario: Scenario) -> RunOptions {
        RunOptions {
            scenario,
            users: None,
            run_time: None,
            rate: None,
            short: false,
            targets: self.targets.clone(),
            admin_token: None,
            seed: 1,
            progress: false,
            max_in_flight: None,
            chaos: Default::default(),
        }
    }
}
