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

    /// The stock calls (reserve, restore), signed with the Order Service's `service_token`
    /// and passing the caller's request id on.
    pub fn stock_caller<'a>(
        &'a self,
        service_token: &'a str,
        request_id: Option<&'a str>,
    ) -> StockCaller<'a> {
        StockCaller {
            client: self,
            service_token,
            request_id,
        }
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

/// The Restaurant Service's stock calls as the Order Service makes them: every call carries
/// its service token and the caller's request id (from [`RestaurantClient::stock_caller`]).
pub struct StockCaller<'a> {
    client: &'a RestaurantClient,
    service_token: &'a str,
    request_id: Option<&'a str>,
}

impl StockCaller<'_> {
    /// `PUT /inventory/{menuId}`: takes stock for an order.
    pub async fn reserve(
        &self,
        menu_id: i64,
        reserve: &ReserveRequest,
    ) -> Result<Reservation, ClientError> {
        self.send(Method::PUT, &format!("/inventory/{menu_id}"), reserve)
            .await
    }

    /// `POST /inventory/{menuId}/restore`: gives back what an order reserved.
    pub async fn restore(
        &self,
        menu_id: i64,
        restore: &RestoreRequest,
    ) -> Result<Restoration, ClientError> {
        self.send(
            Method::POST,
            &format!("/inventory/{menu_id}/restore"),
            restore,
        )
        .await
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ClientError> {
        let request = self.client.request(method, path).json(body);
        let request = with_request_id(request.bearer_auth(self.service_token), self.request_id);
        self.client.body(request).await
    }
}
