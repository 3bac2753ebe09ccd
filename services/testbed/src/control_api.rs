//! The control API of `testbed up --processes` (port 8000 by default): `GET /processes`
//! lists each service's pid, state, restarts and last exit status; `POST
//! /processes/{service}/{kill|stop|start|pause|resume|restart}` acts on one. With an admin
//! token configured every call needs `X-Admin-Token`, as `/chaos` does. Errors are JSON:
//! 404 for an unknown service or action, 409 for an action the service's state does not
//! allow, 401 without the token.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use testbed_common::ApiError;
use testbed_common::auth::check_admin_token;
use testbed_common::server::method_not_allowed;

use crate::supervisor::{ControlError, ProcessView, Supervisor};

/// The control API over `supervisor`, guarded by `admin_token` when one is given.
pub fn router(supervisor: Supervisor, admin_token: Option<String>) -> Router {
    Router::new()
        .route("/processes", get(list))
        .route("/processes/{service}/{action}", post(act))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(supervisor)
        .layer(from_fn_with_state(admin_token, require_admin))
}

async fn list(State(supervisor): State<Supervisor>) -> Json<Vec<ProcessView>> {
    Json(supervisor.list().await)
}

async fn act(
    State(supervisor): State<Supervisor>,
    Path((service, action)): Path<(String, String)>,
) -> Result<Json<ProcessView>, ApiError> {
    let done = match action.as_str() {
        "kill" => supervisor.kill(&service).await,
        "stop" => supervisor.stop(&service).await,
        "start" => supervisor.start(&service).await,
        "pause" => supervisor.pause(&service, true).await,
        "resume" => supervisor.pause(&service, false).await,
        "restart" => supervisor.restart(&service).await,
        _ => {
            return Err(ApiError::not_found(format!(
                "no action `{action}`: use kill, stop, start, pause, resume or restart"
            )));
        }
    };
    done.map(Json).map_err(control_error)
}

fn control_error(error: ControlError) -> ApiError {
    match error {
        ControlError::UnknownService(service) => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_service",
            format!("no service `{service}`: use user, restaurant or order"),
        ),
        ControlError::WrongState {
            service,
            state,
            action,
        } => ApiError::conflict(
            "wrong_state",
            format!("{service} is {state:?} and cannot {action} now").to_lowercase(),
        )
        .with("service", service)
        .with("state", serde_json::to_value(state).unwrap_or_default()),
        ControlError::Failed(message) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "control_failed", message)
        }
    }
}

async fn require_admin(
    State(expected): State<Option<String>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = &expected
        && let Err(refused) = check_admin_token(request.headers(), expected)
    {
        return refused.into_response();
    }
    next.run(request).await
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}: GET /processes, POST /processes/{{service}}/{{action}}",
        request.method(),
        request.uri().path()
    ))
}
