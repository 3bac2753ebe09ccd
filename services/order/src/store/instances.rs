//! Liveness of Order Service processes (`order_service_instances`): each process registers
//! itself with its start time and then beats every [`BEAT_EVERY`]. An order is placed by a
//! process alive when it was created, so a PENDING order created before the oldest live
//! process started can only belong to processes that have died: recovery may finish it at
//! once instead of waiting for the age limit (`PENDING_TIMEOUT_SECS`). With several replicas
//! one that restarted after another one's crash does not make older orders of the crashed
//! one look orphaned while the older replica lives; those still wait for the age limit.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{QueryOrder, Set};
use testbed_common::db::Db;

/// How often a process says it is alive.
pub const BEAT_EVERY: Duration = Duration::from_millis(250);
/// A process that has not beaten for this long counts as dead (four missed beats).
pub const DEAD_AFTER: Duration = Duration::from_millis(1000);
/// Rows of processes dead this long are removed.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_service_instances")]
pub struct Model {
    /// A random id per process.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub started_at: ChronoDateTimeUtc,
    pub beat_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Registers the process or records its beat now (one upsert, on SQLite under the write
/// gate; the beat's time is taken once the gate is held).
pub async fn beat(db: &Db, id: &str, started_at: DateTime<Utc>) -> Result<(), DbErr> {
    let _writer = db.write_guard().await;
    let now = Utc::now();
    let row = ActiveModel {
        id: Set(id.to_string()),
        started_at: Set(started_at),
        beat_at: Set(now),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::Id)
                .update_column(Column::BeatAt)
                .to_owned(),
        )
        .exec(&db.conn)
        .await?;
    Ok(())
}

/// When the oldest process still alive at `now` started.
pub async fn oldest_live_start(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let alive_since = now - chrono::Duration::from_std(DEAD_AFTER).unwrap_or_default();
    Ok(Entity::find()
        .filter(Column::BeatAt.gte(alive_since))
        .order_by_asc(Column::StartedAt)
        .one(db)
        .await?
        .map(|row| row.started_at))
}

/// Removes the rows of processes long dead.
pub async fn forget_dead(db: &Db, now: DateTime<Utc>) -> Result<(), DbErr> {
    let before = now - chrono::Duration::from_std(FORGET_AFTER).unwrap_or_default();
    let _writer = db.write_guard().await;
    Entity::delete_many()
        .filter(Column::BeatAt.lt(before))
        .exec(&db.conn)
        .await?;
    Ok(())
}
