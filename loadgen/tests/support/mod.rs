//! The stack the integration tests drive: the three services started in this test process
//! on random ports, with the real PostgreSQL + Redis.

use loadgen::api::Targets;
use testbed_common::testing::{Backend, TestStorage};

pub struct Stack {
    pub targets: Targets,
    _storage: TestStorage,
}

pub async fn start_stack() -> Stack {
    let mut storage = TestStorage::new(Backend::Postgres);
    let user = user_service::build(user_service::UserConfig::new(storage.config("user")))
        .await
        .expect("user service starts");
    let user_url = format!("http://{}", user.local_addr());
    tokio::spawn(user.run(std::future::pending()));
    let restaurant = restaurant_service::build(restaurant_service::RestaurantConfig::new(
        storage.config("restaurant"),
    ))
    .await
    .expect("restaurant service starts");
    let restaurant_url = format!("http://{}", restaurant.local_addr());
    tokio::spawn(restaurant.run(std::future::pending()));
    let order = order_service::build(order_service::OrderConfig::new(
        storage.config("order"),
        user_url.clone(),
        restaurant_url.clone(),
    ))
    .await
    .expect("order service starts");
    let order_url = format!("http://{}", order.local_addr());
    tokio::spawn(order.run(std::future::pending()));
    Stack {
        targets: Targets {
            user: user_url,
            restaurant: restaurant_url,
            order: order_url,
            gateway: None,
        },
        _storage: storage,
    }
}
