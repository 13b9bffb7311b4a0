//! Schema extensions: stable error codes set in one place, and the document limits the
//! engine does not have (aliases, repeated fields).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::ValidationResult;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
    NextSubscribe, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Pos, Positioned, Response, ServerError, ServerResult, Value, Variables};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;

use crate::error::{AppError, ErrorCode, INTERNAL_MESSAGE};
use crate::http::request_id::RequestId;
use crate::http::ws_limits::SubscriptionCount;

/// Set by the engine once a request has passed parsing and validation. The HTTP layer
/// reads it to tell request errors (no `data`, status 400) from field errors.
#[derive(Clone, Default)]
pub struct ExecutionFlag(Arc<AtomicBool>);

impl ExecutionFlag {
    pub fn executed(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The operation a request runs (its name, or its type when it has none), for logs and
/// error reports.
#[derive(Debug, Clone)]
pub struct OperationName(pub String);

/// Gives every error its `extensions.code`, and replaces internal errors with a generic
/// message after logging their cause (which also reports them to Sentry).
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

#[async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            classify(error, None, None);
        }
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let request_id = ctx.data_opt::<RequestId>().cloned();
        // Each subscription holds a slot of its connection until its stream ends.
        let max = ctx
            .data_opt::<crate::state::AppState>()
            .map_or(usize::MAX, |s| {
                s.settings.http.max_subscriptions_per_connection
            });
        let slot = match ctx.data_opt::<SubscriptionCount>() {
            Some(count) => match count.acquire(max) {
                Some(slot) => Some(slot),
                None => {
                    let mut error = ServerError::new(
                        format!("At most {max} subscriptions per connection"),
                        None,
                    );
                    set_extension(&mut error, "code", ErrorCode::RateLimited.as_str());
                    return futures_util::stream::once(async move {
                        Response::from_errors(vec![error])
                    })
                    .boxed();
                }
            },
            None => None,
        };
        next.run(ctx, stream)
            .map(move |mut response| {
                let _held = &slot;
                for error in &mut response.errors {
                    classify(error, request_id.as_ref(), None);
                }
                response
            })
            .boxed()
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(flag) = ctx.data_opt::<ExecutionFlag>() {
            flag.0.store(true, Ordering::Release);
        }
        let mut response = next.run(ctx, operation_name).await;
        // Resolver errors are classified here, where the request's data (its id and
        // operation) can be read; `request` codes whatever is left.
        let request_id = ctx.data_opt::<RequestId>();
        let operation = ctx.data_opt::<OperationName>();
        for error in &mut response.errors {
            classify(error, request_id, operation);
        }
        response
    }
}

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

/// Sets the code of one error. Errors the engine raises itself (syntax, validation,
/// limits, argument coercion) carry no source and are the client's to fix; errors from
/// resolvers carry an [`AppError`]; anything else is internal.
pub fn classify(
    error: &mut ServerError,
    request_id: Option<&RequestId>,
    operation: Option<&OperationName>,
) {
    if has_code(error) {
        return;
    }
    let request_id = request_id.map(|r| r.as_str()).unwrap_or("-");
    let operation = operation.map_or("-", |o| o.0.as_str());
    let app = error.source.clone();
    let code = match (
        app.is_some(),
        app.as_deref().and_then(|s| s.downcast_ref::<AppError>()),
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
                AppError::BadUserInput {
                    field: Some(field), ..
                } => set_extension(error, "field", field.as_str()),
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

/// Charges each valid document its computed complexity against the caller's budget for
/// the window (per member, or per address when signed out), so a few expensive queries
/// cost what many cheap ones do. Refused before execution with RATE_LIMITED.
pub struct QueryBudget;

impl ExtensionFactory for QueryBudget {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryBudget)
    }
}

#[async_trait::async_trait]
impl Extension for QueryBudget {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let Some(state) = ctx.data_opt::<crate::state::AppState>() else {
            return Ok(result);
        };
        let member = ctx
            .data_opt::<crate::graphql::context::Auth>()
            .and_then(|a| a.0.as_ref())
            .map(|v| v.user_id);
        let address = ctx
            .data_opt::<crate::domain::accounts::service::ClientInfo>()
            .and_then(|c| c.ip.clone())
            .unwrap_or_else(|| "unknown".to_owned());
        let cost = u64::try_from(result.complexity).unwrap_or(u64::MAX);
        match crate::limits::charge_complexity(
            &state.cache,
            &state.settings,
            member,
            &address,
            cost,
        )
        .await
        {
            Ok(()) => Ok(result),
            Err(error) => {
                let mut server_error = ServerError::new(error.public_message(), None);
                if let AppError::RateLimited { retry_after, .. } = &error {
                    set_extension(&mut server_error, "retryAfter", *retry_after);
                }
                set_extension(&mut server_error, "code", error.code().as_str());
                Err(vec![server_error])
            }
        }
    }
}

/// Refuses, before validation and execution, documents nested too deep, with too many
/// aliases, or with a field repeated too often in one selection set.
///
/// Depth is counted here rather than by the engine so that introspection (`__schema`,
/// `__type`), whose standard query nests `ofType` a dozen levels deep, is exempt: GraphiQL
/// and code generators work while data queries stay shallow. Introspection is off in
/// production by default.
#[derive(Clone, Copy)]
pub struct DocumentLimits {
    pub max_depth: usize,
    pub max_aliases: usize,
    pub max_field_repeats: usize,
}

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_trait::async_trait]
impl Extension for DocumentLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let mut counter = Counter {
            limits: *self,
            document: &document,
            aliases: 0,
            first_alias: None,
            repeated: None,
            too_deep: None,
        };
        for (_, operation) in document.operations.iter() {
            counter.walk(&operation.node.selection_set, 1, &mut Vec::new());
        }
        if let Some(pos) = counter.too_deep {
            return Err(limit_error("Query is nested too deep.".to_owned(), pos));
        }
        if let Some((name, pos)) = counter.repeated {
            return Err(limit_error(
                format!(
                    "Field \"{name}\" is selected more than {} times in one selection set",
                    self.max_field_repeats
                ),
                pos,
            ));
        }
        if counter.aliases > self.max_aliases {
            return Err(limit_error(
                format!(
                    "Query has {} aliases; at most {} are allowed",
                    counter.aliases, self.max_aliases
                ),
                counter.first_alias.unwrap_or_default(),
            ));
        }
        Ok(document)
    }
}

fn limit_error(message: String, pos: Pos) -> ServerError {
    let mut error = ServerError::new(message, Some(pos));
    set_extension(&mut error, "code", ErrorCode::BadUserInput.as_str());
    error
}

struct Counter<'a> {
    limits: DocumentLimits,
    document: &'a ExecutableDocument,
    aliases: usize,
    first_alias: Option<Pos>,
    repeated: Option<(String, Pos)>,
    too_deep: Option<Pos>,
}

impl<'a> Counter<'a> {
    /// Walks a selection set whose fields sit at `depth`, following fragment spreads
    /// (each at most once per path, so cycles end; validation reports them).
    fn walk(&mut self, set: &'a Positioned<SelectionSet>, depth: usize, path: &mut Vec<&'a str>) {
        let mut keys: HashMap<&str, usize> = HashMap::new();
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    if let Some(alias) = &field.node.alias {
                        self.aliases += 1;
                        self.first_alias.get_or_insert(alias.pos);
                    }
                    let key = field.node.response_key().node.as_str();
                    let seen = keys.entry(key).or_default();
                    *seen += 1;
                    if *seen > self.limits.max_field_repeats && self.repeated.is_none() {
                        self.repeated = Some((key.to_owned(), field.pos));
                    }
                    if name.starts_with("__") {
                        continue;
                    }
                    if depth > self.limits.max_depth {
                        self.too_deep.get_or_insert(field.pos);
                        continue;
                    }
                    self.walk(&field.node.selection_set, depth + 1, path);
                }
                Selection::InlineFragment(fragment) => {
                    self.walk(&fragment.node.selection_set, depth, path);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if path.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.document.fragments.get(name) {
                        path.push(name);
                        self.walk(&fragment.node.selection_set, depth, path);
                        path.pop();
                    }
                }
            }
        }
    }
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
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(ErrorCodes)
            .finish();
        serde_json::to_value(schema.execute(query).await).unwrap()
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
