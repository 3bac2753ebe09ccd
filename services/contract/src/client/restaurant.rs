//! The Restaurant Service client.

use reqwest::Method;

use super::{Answer, ClientError, with_request_id};
use crate::restaurant::{
    CreateMenuRequest, MenuDetail, MenuSummary, Reservation, ReserveRequest, RestaurantView,
    Restoration, RestoreRequest, SetStockRequest, StockAudit,
};

service_client! {
    /// Calls of the Restaurant Service.
    RestaurantClient
}

impl RestaurantClient {
    /// `GET /restaurants`.
    pub async fn restaurants(&self) -> Result<Vec<RestaurantView>, ClientError> {
        self.body(self.request(Method::GET, "/restaurants")).await
    }

    /// `GET /menus` (cached; the answer's `X-Cache` says HIT or MISS).
    pub async fn menus(&self) -> Result<Answer<Vec<MenuSummary>>, ClientError> {
        self.call(self.request(Method::GET, "/menus")).await
    }

    /// `GET /menus/{id}` (cached; the answer's `X-Cache` says HIT or MISS).
    pub async fn menu(&self, id: i64) -> Result<Answer<MenuDetail>, ClientError> {
        self.call(self.request(Method::GET, &format!("/menus/{id}")))
            .await
    }

    /// `POST /admin/menus`.
    pub async fn create_menu(&self, menu: &CreateMenuRequest) -> Result<MenuDetail, ClientError> {
        self.post_json("/admin/menus", menu).await
    }

    /// `PUT /admin/menus/{id}/stock`: sets the stock and restarts the menu's accounting.
    pub async fn set_stock(&self, id: i64, stock: i64) -> Result<StockAudit, ClientError> {
        let request = self
            .request(Method::PUT, &format!("/admin/menus/{id}/stock"))
            .json(&SetStockRequest { stock });
        self.body(request).await
    }

    /// `PUT /inventory/{menuId}`: takes stock for an order, signed with the Order
    /// Service's `service_token`.
    pub async fn reserve_stock(
        &self,
        menu_id: i64,
        reserve: &ReserveRequest,
        service_token: &str,
        request_id: Option<&str>,
    ) -> Result<Reservation, ClientError> {
        let path = format!("/inventory/{menu_id}");
        let request = self.request(Method::PUT, &path).json(reserve);
        self.signed(request, service_token, request_id).await
    }

    /// `POST /inventory/{menuId}/restore`: gives back what an order reserved, signed with
    /// the Order Service's `service_token`.
    pub async fn restore_stock(
        &self,
        menu_id: i64,
        restore: &RestoreRequest,
        service_token: &str,
        request_id: Option<&str>,
    ) -> Result<Restoration, ClientError> {
        let path = format!("/inventory/{menu_id}/restore");
        let request = self.request(Method::POST, &path).json(restore);
        self.signed(request, service_token, request_id).await
    }

    /// Sends a stock call signed with the Order Service's `service_token`, passing the
    /// caller's request id on.
    async fn signed<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        service_token: &str,
        request_id: Option<&str>,
    ) -> Result<T, ClientError> {
        let request = with_request_id(request.bearer_auth(service_token), request_id);
        self.body(request).await
    }

    /// `GET /inventory/{menuId}`: one menu's audit figures.
    pub async fn inventory(&self, menu_id: i64) -> Result<StockAudit, ClientError> {
        self.body(self.request(Method::GET, &format!("/inventory/{menu_id}")))
            .await
    }

    /// `GET /inventory`: every menu's audit figures.
    pub async fn inventories(&self) -> Result<Vec<StockAudit>, ClientError> {
        self.body(self.request(Method::GET, "/inventory")).await
    }
}
