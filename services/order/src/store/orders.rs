//! The `orders` entity: one row per order, with its saga state.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// `PENDING`, `PAID`, `FAILED` or `CANCELLED`.
    pub status: String,
    pub total: i64,
    pub address: String,
    pub phone: String,
    pub failure_reason: Option<String>,
    /// True while stock taken for this order still has to be given back.
    pub compensation_pending: bool,
    pub idempotency_key: Option<String>,
    /// SHA-256 (hex) of the keyed request (user, lines, address, phone); absent on rows from
    /// before it was recorded, and without a key.
    pub request_fingerprint: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

/// Nothing is read through this table's relations; the other side declares the link.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
