//! API documentation served by every service: `/openapi.json`, Swagger UI at `/docs` (its
//! assets are compiled in, so it works with no network) and ReDoc at `/redoc` (a local copy
//! of the ReDoc bundle instead of the CDN).

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
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
        use utoipa::openapi::security::{Flow, OAuth2, Password, Scopes, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", bearer_scheme("JWT", None));
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                self.token_url,
                Scopes::new(),
            ))])),
        );
    }
}

/// Adds the `service_token` scheme: the bearer token with which the Order Service signs its
/// stock calls (see `service_auth`).
pub struct ServiceTokenAddon;

impl utoipa::Modify for ServiceTokenAddon {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "service_token",
            bearer_scheme(
                "JWT (HS256, iss order-service, aud restaurant-service/stock)",
                Some(
                    "Internal: minted by the Order Service from SERVICE_TOKEN_SECRET; \
                     operators mint one with `testbed service-token`.",
                ),
            ),
        );
    }
}

/// An HTTP bearer scheme whose token has the given format.
fn bearer_scheme(
    format: &str,
    description: Option<&str>,
) -> utoipa::openapi::security::SecurityScheme {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format(format)
            .description(description)
            .build(),
    )
}

/// What a service's OpenAPI document says about the service itself; the `chaos` and
/// `operations` tags and the `ErrorBody` schema every service shares are added to it.
pub struct ServiceDoc {
    pub title: &'static str,
    pub description: &'static str,
    /// (name, description) of the tags of the service's own routes.
    pub tags: &'static [(&'static str, &'static str)],
}

/// The tags of the routes `crate::ops` adds to every service.
const SHARED_TAGS: [(&str, &str); 2] = [
    (crate::ops::CHAOS_TAG, "Fault injection switches"),
    (crate::ops::OPS_TAG, "Health, readiness and metrics"),
];

impl ServiceDoc {
    /// A router for the service's own routes, starting from this document with `security`
    /// applied (the schemes its routes name).
    pub fn router<S>(&self, security: impl utoipa::Modify) -> OpenApiRouter<S>
    where
        S: Send + Sync + Clone + 'static,
    {
        use utoipa::openapi::tag::TagBuilder;
        use utoipa::openapi::{ComponentsBuilder, InfoBuilder, LicenseBuilder, OpenApiBuilder};
        let tags = self.tags.iter().chain(&SHARED_TAGS).map(|(name, about)| {
            TagBuilder::new()
                .name(*name)
                .description(Some(*about))
                .build()
        });
        let mut openapi = OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title(self.title)
                    .version(env!("CARGO_PKG_VERSION"))
                    .description(Some(self.description))
                    .license(Some(
                        LicenseBuilder::new()
                            .name(env!("CARGO_PKG_LICENSE"))
                            .build(),
                    )),
            )
            .tags(Some(tags))
            .components(Some(
                ComponentsBuilder::new()
                    .schema_from::<contract::ErrorBody>()
                    .build(),
            ))
            .build();
        security.modify(&mut openapi);
        OpenApiRouter::with_openapi(openapi)
    }
}

/// Documents the answers every body-taking operation gives whatever its handler does: 413
/// for a body over `MAX_BODY_BYTES` and 415 for a body that is not JSON (nor, on `/login`,
/// the OAuth2 form). [`crate::server::build_app`] applies it to every service's document, so
/// the schema matches what the shared extractors answer.
pub fn document_body_errors(openapi: &mut OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            if operation.request_body.is_none() {
                continue;
            }
            let responses = &mut operation.responses.responses;
            responses
                .entry("413".into())
                .or_insert_with(|| error("the body is larger than the service accepts (`MAX_BODY_BYTES`, 64 KiB by default)"));
            responses.entry("415".into()).or_insert_with(|| {
                error("the body is not sent as `Content-Type: application/json`")
            });
        }
    }
}
