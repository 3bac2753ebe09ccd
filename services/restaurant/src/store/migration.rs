//! Schema migrations of the Restaurant Service, and the seed data (run once, so restarts
//! never duplicate it): a few restaurants with realistic menus, menu 1 with a large stock
//! because the brief's examples order menu 1. On PostgreSQL also the `reserve_stock`
//! function (`reserve_stock.sql`), the reservation in one round trip.

use sea_orm_migration::prelude::*;
use testbed_common::db::id_column as pk;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateTables),
            Box::new(SeedMenus),
            Box::new(ReserveFunction),
        ]
    }
}

#[derive(DeriveIden)]
enum Restaurants {
    Table,
    Id,
    Name,
    Category,
    Address,
}

#[derive(DeriveIden)]
enum Menus {
    Table,
    Id,
    RestaurantId,
    Name,
    Description,
    Price,
    Stock,
    InitialStock,
}

#[derive(DeriveIden)]
enum InventoryLedger {
    Table,
    Id,
    MenuId,
    OrderId,
    Kind,
    Quantity,
    CreatedAt,
}

struct CreateTables;

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "m20261128_000001_create_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Restaurants::Table)
                    .if_not_exists()
                    .col(pk(Restaurants::Id))
                    .col(ColumnDef::new(Restaurants::Name).string().not_null())
                    .col(ColumnDef::new(Restaurants::Category).string().not_null())
                    .col(ColumnDef::new(Restaurants::Address).string().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Menus::Table)
                    .if_not_exists()
                    .col(pk(Menus::Id))
                    .col(ColumnDef::new(Menus::RestaurantId).big_integer().not_null())
                    .col(ColumnDef::new(Menus::Name).string().not_null())
                    .col(ColumnDef::new(Menus::Description).string().null())
                    .col(ColumnDef::new(Menus::Price).big_integer().not_null())
                    .col(ColumnDef::new(Menus::Stock).big_integer().not_null())
                    .col(ColumnDef::new(Menus::InitialStock).big_integer().not_null())
                    .check(Expr::col(Menus::Stock).gte(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Menus::Table, Menus::RestaurantId)
                            .to(Restaurants::Table, Restaurants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InventoryLedger::Table)
                    .if_not_exists()
                    .col(pk(InventoryLedger::Id))
                    .col(
                        ColumnDef::new(InventoryLedger::MenuId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InventoryLedger::OrderId)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(InventoryLedger::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InventoryLedger::Quantity)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InventoryLedger::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(InventoryLedger::Table, InventoryLedger::MenuId)
                            .to(Menus::Table, Menus::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_ledger_order_menu_kind")
                    .table(InventoryLedger::Table)
                    .col(InventoryLedger::OrderId)
                    .col(InventoryLedger::MenuId)
                    .col(InventoryLedger::Kind)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_ledger_menu")
                    .table(InventoryLedger::Table)
                    .col(InventoryLedger::MenuId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            InventoryLedger::Table.into_iden(),
            Menus::Table.into_iden(),
            Restaurants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Stock of the seeded menu 1: large, so the brief's examples can order it all day.
pub const MENU_ONE_STOCK: i64 = 1_000_000;

struct SeedMenus;

impl MigrationName for SeedMenus {
    fn name(&self) -> &str {
        "m20261128_000002_seed_menus"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SeedMenus {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let restaurants: [(&str, &str, &str); 4] = [
            (
                "Gangnam Chicken House",
                "chicken",
                "Seoul Gangnam-gu Teheran-ro 152",
            ),
            ("Mapo Tteokbokki", "bunsik", "Seoul Mapo-gu Yanghwa-ro 45"),
            ("Jongno Gukbap", "korean", "Seoul Jongno-gu Jong-ro 33"),
            (
                "Haeundae Jjajang",
                "chinese",
                "Busan Haeundae-gu Haeundae-ro 570",
            ),
        ];
        let mut insert = Query::insert()
            .into_table(Restaurants::Table)
            .columns([
                Restaurants::Name,
                Restaurants::Category,
                Restaurants::Address,
            ])
            .to_owned();
        for (name, category, address) in restaurants {
            insert.values_panic([name.into(), category.into(), address.into()]);
        }
        manager.exec_stmt(insert).await?;

        // (restaurant, name, description, price in won, stock)
        let menus: [(i64, &str, &str, i64, i64); 10] = [
            (
                1,
                "Fried Chicken (huraideu)",
                "Crispy whole fried chicken",
                20_000,
                MENU_ONE_STOCK,
            ),
            (
                1,
                "Yangnyeom Chicken",
                "Sweet and spicy glazed chicken",
                21_000,
                500,
            ),
            (
                1,
                "Half-and-Half Chicken",
                "Half fried, half yangnyeom",
                22_000,
                500,
            ),
            (
                2,
                "Tteokbokki",
                "Spicy rice cakes with fish cake",
                5_000,
                800,
            ),
            (2, "Gimbap", "Seaweed rice roll", 3_500, 800),
            (2, "Twigim Set", "Assorted fritters", 6_000, 300),
            (3, "Dwaeji Gukbap", "Pork and rice soup", 9_000, 400),
            (3, "Sundae Gukbap", "Blood sausage soup", 9_500, 400),
            (4, "Jjajangmyeon", "Noodles in black bean sauce", 7_000, 600),
            (4, "Tangsuyuk", "Sweet and sour pork", 18_000, 200),
        ];
        let mut insert = Query::insert()
            .into_table(Menus::Table)
            .columns([
                Menus::RestaurantId,
                Menus::Name,
                Menus::Description,
                Menus::Price,
                Menus::Stock,
                Menus::InitialStock,
            ])
            .to_owned();
        for (restaurant, name, description, price, stock) in menus {
            insert.values_panic([
                restaurant.into(),
                name.into(),
                description.into(),
                price.into(),
                stock.into(),
                stock.into(),
            ]);
        }
        manager.exec_stmt(insert).await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

/// The `reserve_stock` PL/pgSQL function (PostgreSQL only; SQLite runs the steps from Rust).
struct ReserveFunction;

impl MigrationName for ReserveFunction {
    fn name(&self) -> &str {
        "m20261201_000003_reserve_function"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for ReserveFunction {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(include_str!("reserve_stock.sql"))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS reserve_stock(bigint, bigint, bigint)")
                .await?;
        }
        Ok(())
    }
}
