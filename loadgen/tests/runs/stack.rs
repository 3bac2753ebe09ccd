//! The stack loadgen runs drive: the test kit's three services in this test process on
//! random ports, with the real PostgreSQL + Redis, as loadgen's `Targets`.

use loadgen::api::Targets;
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
