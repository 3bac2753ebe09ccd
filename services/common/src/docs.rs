//! API documentation served by every service: `/openapi.json`, Swagger UI at `/docs` (its
//! assets are compiled in, so it works with no network) and ReDoc at `/redoc` (a local copy
//! of the ReDoc bundle instead of the CDN).

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

static REDOC_JS: &[u8] = include_bytes!("../assets/redoc.standalone.js");

const REDOC_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>API reference</title>
  <style>body { margin: 0; padding: 0; }</style>
</head>
<body>
  <redoc spec-url="/openapi.json"></redoc>
  <script src="/redoc/redoc.standalone.js"></script>
</body>
</html>
"#;

/// Routes for the docs of `openapi`.
pub fn router(openapi: OpenApi) -> Router {
    let swagger: Router = SwaggerUi::new("/docs").url("/openapi.json", openapi).into();
    swagger
        .route("/redoc", get(|| async { Html(REDOC_PAGE) }))
        .route(
            "/redoc/redoc.standalone.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "application/javascript"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    REDOC_JS,
                )
                    .into_response()
            }),
        )
}

/// Adds the security schemes to a service's OpenAPI document: a plain bearer token, and
/// the OAuth2 password flow against the User Service's `/login` so Swagger's Authorize
/// button can log in.
pub struct SecurityAddon {
    /// Where the password form is posted, e.g. `/login` or `http://127.0.0.1:8001/login`.
    pub token_url: &'static str,
}

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut OpenApi) {
        use utoipa::openapi::security::{
            Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                self.token_url,
                Scopes::new(),
            ))])),
        );
    }
}
