//! Stable error codes, set in one place for every response (see [`crate::graphql::api`]).

use async_graphql::{ServerError, Value};

use crate::error::{AppError, ErrorCode, INTERNAL_MESSAGE};
use crate::telemetry::RequestId;

fn set_extension(error: &mut ServerError, key: &str, value: impl Into<Value>) {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set(key, value);
}

fn has_code(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some())
}

/// The code an error carries (see [`classify`]), if any.
pub fn code_of(error: &ServerError) -> Option<ErrorCode> {
    let code = error.extensions.as_ref()?.get("code")?;
    let Value::String(code) = code else {
        return None;
    };
    ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code)
}

/// Sets the code of one error. Errors the engine raises itself (syntax, validation,
/// limits, argument coercion) carry no source and are the client's to fix; errors from
/// resolvers carry an [`AppError`]; anything else is internal.
pub fn classify(error: &mut ServerError, request_id: Option<&RequestId>, operation: Option<&str>) {
    if has_code(error) {
        return;
    }
    let request_id = request_id.map(|r| r.as_str()).unwrap_or("-");
    let operation = operation.unwrap_or("-");
    let app = error.source.clone();
    let code = match (
        app.is_some(),
        app.as_deref().and_then(crate::error::app_error),
    ) {
        (_, Some(app)) => {
            match app {
                AppError::Internal(cause) => {
                    tracing::error!(
                        request_id,
                        operation,
                        error = format!("{cause:#}"),
                        "internal error"
                    );
                }
                AppError::BadUserInput(invalid) => {
                    if let Some(field) = invalid.iter().find_map(|i| i.field.as_deref()) {
                        set_extension(error, "field", field);
                    }
                }
                AppError::RateLimited { retry_after, .. } => {
                    set_extension(error, "retryAfter", *retry_after);
                }
                _ => {}
            }
            error.message = app.public_message();
            app.code()
        }
        (true, None) => {
            tracing::error!(request_id, operation, error = %error.message, "unexpected error");
            error.message = INTERNAL_MESSAGE.to_owned();
            ErrorCode::Internal
        }
        (false, None) => ErrorCode::BadUserInput,
    };
    set_extension(error, "code", code.as_str());
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::*;

    struct Query;

    #[Object]
    impl Query {
        async fn internal(&self) -> async_graphql::Result<i32> {
            Err(AppError::internal(anyhow::anyhow!("relation \"users\" does not exist")).into())
        }
        async fn foreign(&self) -> async_graphql::Result<i32> {
            Err(std::io::Error::other("disk path /secret/file").into())
        }
        async fn bad(&self) -> async_graphql::Result<i32> {
            Err(AppError::bad_input("email", "email is not valid").into())
        }
        async fn limited(&self) -> async_graphql::Result<i32> {
            Err(AppError::RateLimited {
                message: "slow down".into(),
                retry_after: 7,
            }
            .into())
        }
        async fn missing(&self) -> async_graphql::Result<i32> {
            Err(AppError::NotFound("no such article".into()).into())
        }
    }

    async fn run(query: &str) -> serde_json::Value {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        let mut response = schema.execute(query).await;
        for error in &mut response.errors {
            classify(error, None, None);
        }
        serde_json::to_value(response).unwrap()
    }

    #[tokio::test]
    async fn internal_errors_are_hidden_and_coded() {
        for field in ["internal", "foreign"] {
            let body = run(&format!("{{ {field} }}")).await;
            let error = &body["errors"][0];
            assert_eq!(error["message"], INTERNAL_MESSAGE, "{body}");
            assert_eq!(error["extensions"]["code"], "INTERNAL_SERVER_ERROR");
            assert!(
                !body.to_string().contains("relation") && !body.to_string().contains("/secret")
            );
        }
    }

    #[tokio::test]
    async fn client_errors_keep_their_message_and_details() {
        let body = run("{ bad }").await;
        assert_eq!(body["errors"][0]["message"], "email is not valid");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(body["errors"][0]["extensions"]["field"], "email");
        let body = run("{ limited }").await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
        assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 7);
        let body = run("{ missing }").await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
        let body = run("{ nope }").await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
}
