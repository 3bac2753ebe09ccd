//! The `restaurants` entity.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "restaurants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub category: String,
    pub address: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::menus::Entity")]
    Menus,
}

impl Related<super::menus::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Menus.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
