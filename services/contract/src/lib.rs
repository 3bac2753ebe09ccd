//! The wire contract of the testbed: every request, response and error body the three
//! services exchange with their callers, in one place, and a typed async client per
//! service built on those same types.
//!
//! The services serve these types (and their OpenAPI schemas come from them), the Order
//! Service calls the other two through [`client`], and the load generator and every test
//! harness read and write the same structs. A field renamed here therefore breaks the
//! build of every side at once instead of failing at run time somewhere.
//!
//! Layout: [`error`] (the JSON error body), [`ops`] (health, readiness, fault switches),
//! [`user`], [`restaurant`], [`order`] (each service's bodies), [`client`] (the clients).

pub mod client;
pub mod error;
pub mod ops;
pub mod order;
pub mod restaurant;
pub mod user;

pub use client::{
    Answer, ClientError, OrderClient, RestaurantClient, ServiceClient, StockCaller, UserClient,
};
pub use error::ErrorBody;
pub use ops::{ChaosSnapshot, DelayRequest, ErrorRequest, Health, Readiness, SwitchName};
pub use order::{
    CreateOrder, FailedOrder, OrderItemView, OrderLine, OrderStats, OrderStatus, OrderView,
};
pub use restaurant::{
    CreateMenuRequest, MenuDetail, MenuSummary, Reservation, ReserveRequest, RestaurantView,
    Restoration, RestoreRequest, SetStockRequest, StockAudit,
};
pub use user::{LoginRequest, LoginResponse, SignupRequest, UserProfile, ValidateResponse};
