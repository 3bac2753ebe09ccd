//! Storage of the User Service: the `users` table (entity, migration) and its queries.

pub mod migration;
pub mod users;

use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

/// Inserts a user. A taken name surfaces as `Ok(None)`.
pub async fn insert_user(
    db: &DatabaseConnection,
    username: &str,
    email: Option<&str>,
    password_hash: &str,
) -> Result<Option<users::Model>, sea_orm::DbErr> {
    let model = users::ActiveModel {
        username: Set(username.to_string()),
        email: Set(email.map(str::to_string)),
        password_hash: Set(password_hash.to_string()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    };
    match model.insert(db).await {
        Ok(user) => Ok(Some(user)),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn find_by_username(
    db: &DatabaseConnection,
    username: &str,
) -> Result<Option<users::Model>, sea_orm::DbErr> {
    users::Entity::find()
        .filter(users::Column::Username.eq(username))
        .one(db)
        .await
}

pub async fn find_by_id(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Option<users::Model>, sea_orm::DbErr> {
    users::Entity::find_by_id(id).one(db).await
}

fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
