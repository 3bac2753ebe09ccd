//! Schema migrations of the Order Service, run at start-up.

use sea_orm_migration::prelude::*;
use testbed_common::db::id_column as pk;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateTables),
            Box::new(AddRequestFingerprint),
            Box::new(AddInstances),
        ]
    }
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    UserId,
    Status,
    Total,
    Address,
    Phone,
    FailureReason,
    CompensationPending,
    IdempotencyKey,
    RequestFingerprint,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrderItems {
    Table,
    Id,
    OrderId,
    MenuId,
    Quantity,
    UnitPrice,
}

struct CreateTables;

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "m20261128_000001_create_orders"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .if_not_exists()
                    .col(pk(Orders::Id))
                    .col(ColumnDef::new(Orders::UserId).big_integer().not_null())
                    .col(ColumnDef::new(Orders::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Orders::Total).big_integer().not_null())
                    .col(ColumnDef::new(Orders::Address).string().not_null())
                    .col(ColumnDef::new(Orders::Phone).string_len(32).not_null())
                    .col(ColumnDef::new(Orders::FailureReason).string_len(64).null())
                    .col(
                        ColumnDef::new(Orders::CompensationPending)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(Orders::IdempotencyKey)
                            .string_len(128)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Orders::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Orders::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrderItems::Table)
                    .if_not_exists()
                    .col(pk(OrderItems::Id))
                    .col(ColumnDef::new(OrderItems::OrderId).big_integer().not_null())
                    .col(ColumnDef::new(OrderItems::MenuId).big_integer().not_null())
                    .col(
                        ColumnDef::new(OrderItems::Quantity)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrderItems::UnitPrice)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrderItems::Table, OrderItems::OrderId)
                            .to(Orders::Table, Orders::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, table, cols, unique) in [
            (
                "ux_orders_user_idempotency",
                Orders::Table.into_iden(),
                vec![
                    Orders::UserId.into_iden(),
                    Orders::IdempotencyKey.into_iden(),
                ],
                true,
            ),
            (
                "ix_orders_status_created",
                Orders::Table.into_iden(),
                vec![Orders::Status.into_iden(), Orders::CreatedAt.into_iden()],
                false,
            ),
            (
                "ix_order_items_order",
                OrderItems::Table.into_iden(),
                vec![OrderItems::OrderId.into_iden()],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(table).if_not_exists();
            for col in cols {
                index.col(col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrderItems::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Orders::Table).to_owned())
            .await
    }
}

/// Adds `orders.request_fingerprint`: the SHA-256 of a keyed request, so a reused
/// `Idempotency-Key` with a different body is told apart (422). Rows from before have none
/// and keep replaying as they did.
struct AddRequestFingerprint;

impl MigrationName for AddRequestFingerprint {
    fn name(&self) -> &str {
        "m20261130_000001_add_request_fingerprint"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddRequestFingerprint {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_column("orders", "request_fingerprint").await? {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(
                        ColumnDef::new(Orders::RequestFingerprint)
                            .string_len(64)
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .drop_column(Orders::RequestFingerprint)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum OrderServiceInstances {
    Table,
    Id,
    StartedAt,
    BeatAt,
}

/// Adds `order_service_instances`: which Order Service processes are alive (see
/// `store::instances`), so recovery finishes a crashed process's orders at once.
struct AddInstances;

impl MigrationName for AddInstances {
    fn name(&self) -> &str {
        "m20261130_000002_add_order_service_instances"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddInstances {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let at = |column| {
            ColumnDef::new(column)
                .timestamp_with_time_zone()
                .not_null()
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(OrderServiceInstances::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(OrderServiceInstances::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(at(OrderServiceInstances::StartedAt))
                    .col(at(OrderServiceInstances::BeatAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrderServiceInstances::Table).to_owned())
            .await
    }
}
