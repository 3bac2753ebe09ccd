//! The test kit every crate's tests share — a dev-dependency only, never in a release
//! build: throw-away storage on either backend ([`storage`]), the real services started in
//! the test process ([`stack`]) or as child processes ([`process`]), raw HTTP answers
//! ([`http`]), and the calls and audits every test makes through the contract clients
//! ([`books`]: a new user, a menu, an order, settled orders, balanced books).

pub mod books;
pub mod http;
pub mod process;
pub mod stack;
pub mod storage;

pub use books::{Clients, MENU_NAME, assert_books_balance, create_menu, new_user, settle};
pub use http::Response;
pub use stack::{Served, Stack, stock_token};
pub use storage::{Backend, Databases, TempDir, TestStorage, database_server, redis_url, unique};
pub use testbed_common::net::free_port;
