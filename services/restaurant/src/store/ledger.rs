//! The `inventory_ledger` entity: one row per reservation or restoration, unique per
//! (order, menu, kind), which is what makes both calls idempotent per order.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inventory_ledger")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub menu_id: i64,
    /// Absent for anonymous decrements (no idempotency).
    pub order_id: Option<i64>,
    /// `reserve` or `restore`.
    pub kind: String,
    pub quantity: i64,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
