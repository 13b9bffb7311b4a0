//! The guard every operation passes before the engine looks at it, whatever its transport
//! (HTTP GET or POST, multipart, WebSocket, the reading pages):
//!
//! 1. persisted queries: the text behind a hash, and `persisted_only`;
//! 2. the text: at most `max_document_bytes`, brackets nested at most `max_nesting` deep
//!    (counted on the raw text, so no parser recursion ever sees more);
//! 3. every string in the variables and in the document's literals obeys [`crate::text`]
//!    and `max_text_bytes`;
//! 4. the parsed document, in time proportional to its size: each fragment's cost is
//!    worked out once and reused at every spread, so a fragment spread twice in each of 40
//!    nested fragments costs 40 steps here, not 2^40. Refused when an operation expands to
//!    more than `max_selections` selections, nests deeper than `max_depth` fields, has more
//!    than `max_aliases` aliases, repeats a field more than `max_field_repeats` times in one
//!    selection set, or runs more than one search;
//! 5. the operation's type against the transport (no mutation over GET, no subscription
//!    over HTTP).
//!
//! Only then do the engine's own walks (recursion depth, directives, validation,
//! complexity) run, and they visit each fragment once per spread: the limits above bound
//! them. The guard is not a schema extension: with any extension installed the engine
//! wraps every field it resolves in the extension chain (see [`crate::graphql::api`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::parser::types::{
    Directive, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{Name, Pos, Positioned, Request, ServerError, ServerResult};
use async_graphql_value::{ConstValue, Value};

use crate::config::Settings;
use crate::error::{AppError, ErrorCode};
use crate::graphql::persisted::{self, Manifest, Resolution};

/// How an operation reached the server; what it may do depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `GET /graphql`: queries only.
    HttpGet,
    /// `POST /graphql`, JSON or multipart: queries and mutations.
    HttpPost,
    /// `/graphql/ws`: anything.
    WebSocket,
    /// The server's own reading pages: fixed documents, exempt from `persisted_only`.
    Internal,
}

/// What the guard and the engine found out about one request, read back by the HTTP
/// layer for the status code and metrics. Request data.
#[derive(Clone, Default)]
pub struct RequestReport(Arc<Mutex<Report>>);

#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The request passed parsing and validation and ran.
    pub executed: bool,
    /// The type of the operation it names, once parsed.
    pub operation_type: Option<OperationType>,
    /// Its name, or its type when it has none ("invalid" before it parses).
    pub operation: Option<String>,
    /// Refused because its type may not travel over this transport (a mutation over GET).
    pub wrong_method: bool,
    /// A query of first pages of feeds only: the same for every signed-out reader.
    pub shared: bool,
}

impl RequestReport {
    fn update(&self, f: impl FnOnce(&mut Report)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub fn read(&self) -> Report {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn mark_executed(&self) {
        self.update(|r| r.executed = true);
    }
}

/// The guard's limits, from `graphql.*`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_document_bytes: usize,
    pub max_nesting: usize,
    pub max_text_bytes: usize,
    pub max_selections: u64,
    pub max_depth: usize,
    pub max_aliases: u64,
    pub max_field_repeats: usize,
    pub max_searches: u64,
}

impl Limits {
    pub fn from_settings(settings: &Settings) -> Self {
        let g = &settings.graphql;
        Self {
            max_document_bytes: g.max_document_bytes,
            max_nesting: g.max_nesting,
            max_text_bytes: g.max_text_bytes,
            max_selections: g.max_selections,
            max_depth: g.max_depth,
            max_aliases: g.max_aliases,
            max_field_repeats: g.max_field_repeats,
            max_searches: 1,
        }
    }
}

/// What the guard found that the rest of the request's run needs.
#[derive(Debug, Default)]
pub struct Admitted {
    /// An automatically persisted query to store once the document has run.
    pub register: Option<(String, String)>,
    /// The document's cost, estimated as the engine's complexity is (each field 1, a list
    /// times its page: `first`/`last`, or the default page for a connection), plus
    /// [`crate::graphql::pagination::SEARCH_COST`] per search.
    pub cost: u64,
    /// The type of the operation it runs, once parsed.
    pub operation_type: Option<OperationType>,
}

fn error(code: ErrorCode, message: impl Into<String>, pos: Option<Pos>) -> ServerError {
    let mut error = ServerError::new(message, pos);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    error
}

fn bad_input(message: impl Into<String>, pos: Option<Pos>) -> ServerError {
    error(ErrorCode::BadUserInput, message, pos)
}

fn bad_field(field: &str, message: impl Into<String>, pos: Option<Pos>) -> ServerError {
    let mut error = bad_input(message, pos);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("field", field);
    error
}

/// A request-level error from an [`AppError`], with its code and details.
pub fn app_error(app: &AppError) -> ServerError {
    let mut server_error = error(app.code(), app.public_message(), None);
    if let AppError::RateLimited { retry_after, .. } = app {
        server_error
            .extensions
            .get_or_insert_with(Default::default)
            .set("retryAfter", *retry_after);
    }
    server_error
}

/// Checks a request before the engine sees it (see the module's doc): persisted queries
/// resolved, text, variables and document bounded, the operation's type allowed on its
/// transport. The request leaves parsed, so the engine does not parse it again.
pub async fn admit(
    state: &crate::state::AppState,
    manifest: &Manifest,
    limits: &Limits,
    request: &mut Request,
    transport: Transport,
    report: Option<&RequestReport>,
) -> ServerResult<Admitted> {
    let mut admitted = Admitted::default();
    resolve_persisted(state, manifest, request, transport, &mut admitted).await?;
    check_text_size(&request.query, limits)?;
    let operation_name = request.operation_name.clone();
    let variables = std::mem::take(&mut request.variables);
    let checked = (|| {
        let document = request.parsed_query()?;
        check_variables(&variables, &variable_uses(document), limits)?;
        check_literals(document, limits)?;
        let cost = check_document(document, &variables, limits)?;
        let shared = shares_first_pages(document, &variables, operation_name.as_deref());
        Ok::<_, ServerError>((cost, shared, selected(document, operation_name.as_deref())))
    })();
    request.variables = variables;
    let (cost, shared, operation) = checked?;
    admitted.cost = cost;
    admitted.operation_type = operation.as_ref().map(|(ty, _)| *ty);
    if let (Some(report), Some((ty, label))) = (report, &operation) {
        report.update(|r| {
            r.operation_type = Some(*ty);
            r.operation = Some(label.clone());
            r.shared = shared;
        });
    }
    match (transport, operation.as_ref().map(|(ty, _)| *ty)) {
        (Transport::HttpGet, Some(OperationType::Mutation | OperationType::Subscription)) => {
            if let Some(report) = report {
                report.update(|r| r.wrong_method = true);
            }
            return Err(bad_input(
                "Only queries can be sent with GET; send mutations with POST",
                None,
            ));
        }
        (Transport::HttpPost, Some(OperationType::Subscription)) => {
            return Err(bad_input(
                "Subscriptions are served over WebSocket at /graphql/ws",
                None,
            ));
        }
        _ => {}
    }
    Ok(admitted)
}

/// The guard's checks of the text and the document alone (2 to 4 above), for documents
/// the server composes from parts a member gave (a webhook's selection).
pub fn check_composed(request: &mut Request, limits: &Limits) -> ServerResult<()> {
    check_text_size(&request.query, limits)?;
    let variables = std::mem::take(&mut request.variables);
    let checked = (|| {
        let document = request.parsed_query()?;
        check_variables(&variables, &variable_uses(document), limits)?;
        check_literals(document, limits)?;
        check_document(document, &variables, limits).map(|_| ())
    })();
    request.variables = variables;
    checked
}

/// Puts the text of a persisted query in place, or refuses the request.
async fn resolve_persisted(
    state: &crate::state::AppState,
    manifest: &Manifest,
    request: &mut Request,
    transport: Transport,
    admitted: &mut Admitted,
) -> ServerResult<()> {
    let exempt = transport == Transport::Internal;
    let query = std::mem::take(&mut request.query);
    match persisted::resolve(state, manifest, query, &request.extensions.0, exempt).await {
        Ok(Resolution::Text(text)) => request.query = text,
        Ok(Resolution::Register { hash, text }) => {
            request.query = text.clone();
            admitted.register = Some((hash, text));
        }
        Err(refusal) => {
            let mut e = ServerError::new(refusal.message, None);
            e.extensions
                .get_or_insert_with(Default::default)
                .set("code", refusal.code);
            return Err(e);
        }
    }
    if request.query.trim().is_empty() {
        return Err(bad_input("The request has no query", None));
    }
    Ok(())
}

/// The document's size, and how deep its brackets nest, read off the text itself.
fn check_text_size(text: &str, limits: &Limits) -> ServerResult<()> {
    if text.len() > limits.max_document_bytes {
        return Err(bad_input(
            format!(
                "The document is {} bytes; at most {} are accepted (send large values as variables)",
                text.len(),
                limits.max_document_bytes
            ),
            None,
        ));
    }
    if nesting(text) > limits.max_nesting {
        return Err(bad_input(
            format!(
                "The document nests brackets more than {} deep",
                limits.max_nesting
            ),
            None,
        ));
    }
    Ok(())
}

/// The deepest nesting of `{`, `[` and `(` outside strings and comments. Linear, and it
/// stops counting nothing: a document nested too deep is refused before it is parsed.
pub fn nesting(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    // `\"""` is an escaped triple quote inside a block string.
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// The rule of [`crate::text`] and the size limit, for one string at `path`.
fn check_string(text: &str, path: &[&str], limits: &Limits, pos: Option<Pos>) -> ServerResult<()> {
    let field = path.last().copied().unwrap_or("");
    let shown = path.join(".");
    if let Some(c) = crate::text::forbidden_char(text) {
        return Err(bad_field(
            field,
            format!(
                "{shown} contains the control character {}; only tab and line breaks are allowed",
                crate::text::describe(c)
            ),
            pos,
        ));
    }
    if text.len() > limits.max_text_bytes {
        return Err(bad_field(
            field,
            format!(
                "{shown} is {} bytes long; at most {} are accepted",
                text.len(),
                limits.max_text_bytes
            ),
            pos,
        ));
    }
    Ok(())
}

fn check_const<'a>(
    value: &'a ConstValue,
    path: &mut Vec<&'a str>,
    limits: &Limits,
    pos: Option<Pos>,
) -> ServerResult<()> {
    match value {
        ConstValue::String(s) => check_string(s, path, limits, pos),
        ConstValue::List(items) => items
            .iter()
            .try_for_each(|item| check_const(item, path, limits, pos)),
        ConstValue::Object(fields) => fields.iter().try_for_each(|(name, item)| {
            path.push(name.as_str());
            let checked = check_const(item, path, limits, pos);
            path.pop();
            checked
        }),
        _ => Ok(()),
    }
}

/// Checks every variable, naming a bad value by the argument it feeds (the variable's own
/// name, chosen by the client, says nothing): `$v` in `login(input: {login: $v})` is
/// `input.login`.
fn check_variables(
    variables: &async_graphql::Variables,
    uses: &HashMap<&str, Vec<&str>>,
    limits: &Limits,
) -> ServerResult<()> {
    for (name, value) in variables.iter() {
        let mut path = uses
            .get(name.as_str())
            .cloned()
            .unwrap_or_else(|| vec![name.as_str()]);
        check_const(value, &mut path, limits, None)?;
    }
    Ok(())
}

/// Where each variable is first used: the argument's name and the input fields around it.
fn variable_uses(document: &ExecutableDocument) -> HashMap<&str, Vec<&str>> {
    fn value<'a>(v: &'a Value, path: &mut Vec<&'a str>, uses: &mut HashMap<&'a str, Vec<&'a str>>) {
        match v {
            Value::Variable(name) => {
                uses.entry(name.as_str()).or_insert_with(|| path.clone());
            }
            Value::List(items) => items.iter().for_each(|item| value(item, path, uses)),
            Value::Object(fields) => {
                for (name, item) in fields {
                    path.push(name.as_str());
                    value(item, path, uses);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    fn arguments<'a>(
        args: &'a [(Positioned<Name>, Positioned<Value>)],
        uses: &mut HashMap<&'a str, Vec<&'a str>>,
    ) {
        for (name, v) in args {
            let mut path = vec![name.node.as_str()];
            value(&v.node, &mut path, uses);
        }
    }
    fn set<'a>(selections: &'a SelectionSet, uses: &mut HashMap<&'a str, Vec<&'a str>>) {
        for item in &selections.items {
            for directive in item.node.directives() {
                arguments(&directive.node.arguments, uses);
            }
            match &item.node {
                Selection::Field(field) => {
                    arguments(&field.node.arguments, uses);
                    set(&field.node.selection_set.node, uses);
                }
                Selection::InlineFragment(fragment) => set(&fragment.node.selection_set.node, uses),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut uses = HashMap::new();
    for (_, operation) in document.operations.iter() {
        set(&operation.node.selection_set.node, &mut uses);
    }
    for fragment in document.fragments.values() {
        set(&fragment.node.selection_set.node, &mut uses);
    }
    uses
}

fn check_value<'a>(
    value: &'a Value,
    path: &mut Vec<&'a str>,
    limits: &Limits,
    pos: Pos,
) -> ServerResult<()> {
    match value {
        Value::String(s) => check_string(s, path, limits, Some(pos)),
        Value::List(items) => items
            .iter()
            .try_for_each(|item| check_value(item, path, limits, pos)),
        Value::Object(fields) => fields.iter().try_for_each(|(name, item)| {
            path.push(name.as_str());
            let checked = check_value(item, path, limits, pos);
            path.pop();
            checked
        }),
        _ => Ok(()),
    }
}

fn check_arguments(
    arguments: &[(Positioned<Name>, Positioned<Value>)],
    limits: &Limits,
) -> ServerResult<()> {
    let mut path = Vec::new();
    for (name, value) in arguments {
        path.push(name.node.as_str());
        check_value(&value.node, &mut path, limits, value.pos)?;
        path.pop();
    }
    Ok(())
}

fn check_directives(directives: &[Positioned<Directive>], limits: &Limits) -> ServerResult<()> {
    directives
        .iter()
        .try_for_each(|d| check_arguments(&d.node.arguments, limits))
}

fn check_set_literals(set: &SelectionSet, limits: &Limits) -> ServerResult<()> {
    for item in &set.items {
        check_directives(item.node.directives(), limits)?;
        match &item.node {
            Selection::Field(field) => {
                check_arguments(&field.node.arguments, limits)?;
                check_set_literals(&field.node.selection_set.node, limits)?;
            }
            Selection::InlineFragment(fragment) => {
                check_set_literals(&fragment.node.selection_set.node, limits)?;
            }
            Selection::FragmentSpread(_) => {}
        }
    }
    Ok(())
}

/// Every literal of the document, each visited once (fragments where they are defined).
fn check_literals(document: &ExecutableDocument, limits: &Limits) -> ServerResult<()> {
    for (_, operation) in document.operations.iter() {
        let operation = &operation.node;
        check_directives(&operation.directives, limits)?;
        for variable in &operation.variable_definitions {
            if let Some(default) = &variable.node.default_value {
                let mut path = vec![variable.node.name.node.as_str()];
                check_const(&default.node, &mut path, limits, Some(default.pos))?;
            }
        }
        check_set_literals(&operation.selection_set.node, limits)?;
    }
    for fragment in document.fragments.values() {
        check_directives(&fragment.node.directives, limits)?;
        check_set_literals(&fragment.node.selection_set.node, limits)?;
    }
    Ok(())
}

/// What a selection set costs once every fragment in it is expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    /// Fields, fragment spreads and inline fragments (saturating).
    selections: u64,
    /// The deepest chain of fields below, introspection left out.
    depth: usize,
    aliases: u64,
    /// `search` fields at the set's own level (through fragments at that level).
    searches: u64,
    /// The engine's complexity, estimated: each field 1 plus its selection's, a list's
    /// selection times its page.
    complexity: u64,
    /// Whether the set selects `edges`, `nodes`, `pageInfo` or `totalCount`: it belongs to
    /// a connection.
    connection: bool,
}

impl Cost {
    fn add(&mut self, child: Cost, own_level: bool) {
        self.selections = self
            .selections
            .saturating_add(1)
            .saturating_add(child.selections);
        self.aliases = self.aliases.saturating_add(child.aliases);
        self.complexity = self.complexity.saturating_add(child.complexity);
        if own_level {
            self.depth = self.depth.max(child.depth);
            self.searches = self.searches.saturating_add(child.searches);
            self.connection |= child.connection;
        }
    }
}

enum Memo {
    Visiting,
    /// The fragment's cost, and how many levels its walk went below where it started.
    Done(Cost, usize),
}

/// The deepest the walk below may recurse (fields, fragments and inline fragments
/// together): as deep as the engine's own recursion limit.
const MAX_WALK: usize = 64;

struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a async_graphql::Variables,
    limits: &'a Limits,
    memo: HashMap<&'a str, Memo>,
    level: usize,
    /// The deepest level the walk has reached.
    deepest: usize,
}

/// The page size a field asks for (`first` or `last`, literal or variable).
fn page_size(
    field: &async_graphql::parser::types::Field,
    variables: &async_graphql::Variables,
) -> Option<u64> {
    field
        .arguments
        .iter()
        .filter(|(name, _)| matches!(name.node.as_str(), "first" | "last"))
        .find_map(|(_, value)| match &value.node {
            Value::Number(n) => n.as_u64(),
            Value::Variable(name) => match variables.get(name) {
                Some(ConstValue::Number(n)) => n.as_u64(),
                _ => None,
            },
            _ => None,
        })
}

/// What the engine's complexity counts for one field over its selection's `child` cost,
/// by the same rules the schema's `complexity` attributes state: a connection's items
/// times its page, `nodes(ids:)` times its ids, a thread's replies once (they come from the
/// thread already loaded), and the fixed extra of a search or of loading a thread.
fn field_complexity(
    field: &async_graphql::parser::types::Field,
    child: &Cost,
    variables: &async_graphql::Variables,
) -> u64 {
    use crate::graphql::pagination::{COUNT_COST, SEARCH_COST, THREAD_COST, default_page};
    let each = |times: u64| 1u64.saturating_add(child.complexity.saturating_mul(times.max(1)));
    let page = || {
        page_size(field, variables).unwrap_or(if child.connection {
            default_page() as u64
        } else {
            1
        })
    };
    match field.name.node.as_str() {
        "replies" => each(1),
        "nodes" if field.get_argument("ids").is_some() => {
            each(list_length(field, "ids", variables).unwrap_or(1))
        }
        "search" => each(page()).saturating_add(SEARCH_COST as u64),
        "comments" => each(page()).saturating_add(THREAD_COST as u64),
        "totalCount" => COUNT_COST as u64,
        _ => each(page()),
    }
}

/// The length of a list argument, literal or variable.
fn list_length(
    field: &async_graphql::parser::types::Field,
    argument: &str,
    variables: &async_graphql::Variables,
) -> Option<u64> {
    match &field.get_argument(argument)?.node {
        Value::List(items) => Some(items.len() as u64),
        Value::Variable(name) => match variables.get(name) {
            Some(ConstValue::List(items)) => Some(items.len() as u64),
            _ => None,
        },
        _ => None,
    }
}

impl<'a> Walk<'a> {
    fn set(&mut self, set: &'a Positioned<SelectionSet>) -> ServerResult<Cost> {
        self.level += 1;
        self.deepest = self.deepest.max(self.level);
        if self.level > MAX_WALK {
            return Err(bad_input("Query is nested too deep.", Some(set.pos)));
        }
        let mut cost = Cost::default();
        let mut keys: HashMap<&str, usize> = HashMap::new();
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let key = field.response_key().node.as_str();
                    let seen = keys.entry(key).or_default();
                    *seen += 1;
                    if *seen > self.limits.max_field_repeats {
                        return Err(bad_input(
                            format!(
                                "Field \"{key}\" is selected more than {} times in one selection set",
                                self.limits.max_field_repeats
                            ),
                            Some(item.pos),
                        ));
                    }
                    let mut child = self.set(&field.selection_set)?;
                    if field.alias.is_some() {
                        child.aliases = child.aliases.saturating_add(1);
                    }
                    if matches!(name, "edges" | "nodes" | "pageInfo" | "totalCount") {
                        cost.connection = true;
                    }
                    let own = field_complexity(field, &child, self.variables);
                    child.complexity = 0;
                    cost.complexity = cost.complexity.saturating_add(own);
                    // Introspection (`__schema`, `__type`) nests `ofType` a dozen levels:
                    // exempt from the depth limit, not from the others.
                    let introspection = name.starts_with("__");
                    let below = if introspection { 0 } else { child.depth + 1 };
                    cost.add(child, false);
                    cost.depth = cost.depth.max(below);
                    if name == "search" {
                        cost.searches = cost.searches.saturating_add(1);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let child = self.set(&fragment.node.selection_set)?;
                    cost.add(child, true);
                }
                Selection::FragmentSpread(spread) => {
                    let child = self.fragment(&spread.node.fragment_name.node, spread.pos)?;
                    cost.add(child, true);
                }
            }
        }
        self.level -= 1;
        Ok(cost)
    }

    fn fragment(&mut self, name: &'a Name, pos: Pos) -> ServerResult<Cost> {
        match self.memo.get(name.as_str()) {
            // A fragment met again counts as deep as its first walk went, from here:
            // whichever spread of it comes first, the depth is the same.
            Some(Memo::Done(cost, height)) => {
                if self.level + height > MAX_WALK {
                    return Err(bad_input("Query is nested too deep.", Some(pos)));
                }
                self.deepest = self.deepest.max(self.level + height);
                return Ok(*cost);
            }
            Some(Memo::Visiting) => {
                return Err(bad_input(
                    format!("Cannot spread fragment \"{name}\" within itself."),
                    Some(pos),
                ));
            }
            None => {}
        }
        // Unknown fragments are the validator's to report.
        let Some(fragment) = self.document.fragments.get(name) else {
            return Ok(Cost::default());
        };
        self.memo.insert(name.as_str(), Memo::Visiting);
        let (start, outer) = (self.level, self.deepest);
        self.deepest = start;
        let cost = self.set(&fragment.node.selection_set)?;
        let height = self.deepest - start;
        self.deepest = self.deepest.max(outer);
        self.check(&cost, fragment.pos)?;
        self.memo.insert(name.as_str(), Memo::Done(cost, height));
        Ok(cost)
    }

    fn check(&self, cost: &Cost, pos: Pos) -> ServerResult<()> {
        let limits = self.limits;
        if cost.selections > limits.max_selections {
            return Err(bad_input(
                format!(
                    "Query expands to more than {} selections once its fragments are spread",
                    limits.max_selections
                ),
                Some(pos),
            ));
        }
        if cost.depth > limits.max_depth {
            return Err(bad_input("Query is nested too deep.", Some(pos)));
        }
        if cost.aliases > limits.max_aliases {
            return Err(bad_input(
                format!(
                    "Query has {} aliases; at most {} are allowed",
                    cost.aliases, limits.max_aliases
                ),
                Some(pos),
            ));
        }
        Ok(())
    }
}

/// Refuses documents whose expansion exceeds the limits, in time linear in their size;
/// answers the costliest operation's estimated complexity.
fn check_document(
    document: &ExecutableDocument,
    variables: &async_graphql::Variables,
    limits: &Limits,
) -> ServerResult<u64> {
    let mut walk = Walk {
        document,
        variables,
        limits,
        memo: HashMap::new(),
        level: 0,
        deepest: 0,
    };
    let mut costliest = 0u64;
    for (name, fragment) in &document.fragments {
        walk.fragment(name, fragment.pos)?;
    }
    for (_, operation) in document.operations.iter() {
        let cost = walk.set(&operation.node.selection_set)?;
        walk.check(&cost, operation.pos)?;
        costliest = costliest.max(cost.complexity);
        if operation.node.ty == OperationType::Query && cost.searches > limits.max_searches {
            return Err(bad_input(
                format!(
                    "A document may run at most {} search; send the others separately",
                    limits.max_searches
                ),
                Some(operation.pos),
            ));
        }
    }
    Ok(costliest)
}

/// Fields whose first page is the same for every signed-out reader.
const SHARED_FIELDS: &[&str] = &["feed"];

/// Whether the operation a request runs is a query of nothing but first pages of
/// [`SHARED_FIELDS`] (no `after` or `before`), through fragments too.
fn shares_first_pages(
    document: &ExecutableDocument,
    variables: &async_graphql::Variables,
    name: Option<&str>,
) -> bool {
    // An argument given a value: a literal other than null, or a variable set to one.
    let given = |value: &Value| match value {
        Value::Null => false,
        Value::Variable(name) => variables
            .get(name)
            .is_some_and(|v| !matches!(v, ConstValue::Null)),
        _ => true,
    };
    let set = |selections: &SelectionSet| shared_set(document, selections, 0, &given);
    let name = name.filter(|n| !n.is_empty());
    let operation = match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        _ => None,
    };
    operation.is_some_and(|op| {
        op.node.ty == OperationType::Query
            && op.node.directives.is_empty()
            && set(&op.node.selection_set.node)
    })
}

fn shared_set(
    document: &ExecutableDocument,
    selections: &SelectionSet,
    depth: usize,
    given: &dyn Fn(&Value) -> bool,
) -> bool {
    depth < 8
        && selections.items.iter().all(|item| match &item.node {
            Selection::Field(field) => {
                let field = &field.node;
                field.name.node == "__typename"
                    || (SHARED_FIELDS.contains(&field.name.node.as_str())
                        && field.directives.is_empty()
                        && !field.arguments.iter().any(|(arg, value)| {
                            matches!(arg.node.as_str(), "after" | "before") && given(&value.node)
                        }))
            }
            Selection::InlineFragment(inline) => {
                shared_set(document, &inline.node.selection_set.node, depth + 1, given)
            }
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .is_some_and(|f| {
                    shared_set(document, &f.node.selection_set.node, depth + 1, given)
                }),
        })
}

/// The type and label of the operation a request runs; `None` when it names none.
fn selected(document: &ExecutableDocument, name: Option<&str>) -> Option<(OperationType, String)> {
    let name = name.filter(|n| !n.is_empty());
    match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some((
            op.node.ty,
            name.map_or_else(|| op.node.ty.to_string(), str::to_owned),
        )),
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get(name).map(|op| (op.node.ty, name.to_owned()))
        }
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops
            .iter()
            .next()
            .map(|(name, op)| (op.node.ty, name.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::from_settings(&Settings::default())
    }

    fn analyse(query: &str) -> ServerResult<()> {
        let limits = limits();
        check_text_size(query, &limits)?;
        let document = async_graphql::parser::parse_query(query)
            .map_err(|e| bad_input(e.to_string(), None))?;
        check_literals(&document, &limits)?;
        assert!(variable_uses(&document).len() <= 1);
        check_document(&document, &async_graphql::Variables::default(), &limits).map(|_| ())
    }

    #[test]
    fn only_first_pages_of_feeds_are_shared() {
        let shared = |q: &str| {
            let document = async_graphql::parser::parse_query(q).unwrap();
            shares_first_pages(&document, &async_graphql::Variables::default(), None)
        };
        assert!(shared(
            "{ feed(type: LATEST) { edges { node { title } } } __typename }"
        ));
        assert!(shared(
            "query { ...F } fragment F on Query { feed { edges { cursor } } }"
        ));
        assert!(!shared("{ feed(after: \"x\") { edges { cursor } } }"));
        assert!(!shared("{ feed { edges { cursor } } viewer { id } }"));
        assert!(!shared("mutation { logout }"));
        let document = async_graphql::parser::parse_query(
            "query($a: String) { feed(after: $a) { edges { cursor } } }",
        )
        .unwrap();
        let none = async_graphql::Variables::from_json(serde_json::json!({ "a": null }));
        let some = async_graphql::Variables::from_json(serde_json::json!({ "a": "x" }));
        assert!(shares_first_pages(&document, &none, None));
        assert!(!shares_first_pages(&document, &some, None));
    }

    #[test]
    fn the_cost_counts_pages_as_the_engine_does() {
        let cost = |q: &str, vars: serde_json::Value| {
            let document = async_graphql::parser::parse_query(q).unwrap();
            check_document(
                &document,
                &async_graphql::Variables::from_json(vars),
                &limits(),
            )
            .unwrap()
        };
        // feed 1 + 20 x (edges 1 + node 1 + title 1 + author (1 + name 1)) = 1 + 20 x 5
        let feed = "{ feed { edges { node { title author { name } } } } }";
        assert_eq!(cost(feed, serde_json::json!({})), 101);
        let paged = "query($n: Int) { feed(first: $n) { edges { node { title } } } }";
        assert_eq!(cost(paged, serde_json::json!({ "n": 50 })), 1 + 50 * 3);
        let search = "{ search(query: \"x\", first: 2) { edges { cursor } } }";
        assert_eq!(cost(search, serde_json::json!({})), 200 + 1 + 2 * 2);
    }

    /// The complexity the engine computes for `query`: validation runs, then an extension
    /// stops the request before anything resolves.
    fn engine_complexity(query: &str, variables: serde_json::Value) -> usize {
        use async_graphql::extensions::{
            Extension, ExtensionContext, ExtensionFactory, NextValidation,
        };
        use async_graphql::{ServerError, ValidationResult};

        #[derive(Clone, Default)]
        struct Capture(Arc<Mutex<Option<usize>>>);
        #[async_trait::async_trait]
        impl Extension for Capture {
            async fn validation(
                &self,
                ctx: &ExtensionContext<'_>,
                next: NextValidation<'_>,
            ) -> Result<ValidationResult, Vec<ServerError>> {
                let result = next.run(ctx).await?;
                *self.0.lock().unwrap() = Some(result.complexity);
                Err(vec![ServerError::new("stop", None)])
            }
        }
        impl ExtensionFactory for Capture {
            fn create(&self) -> Arc<dyn Extension> {
                Arc::new(self.clone())
            }
        }
        let capture = Capture::default();
        let schema = crate::graphql::builder()
            .extension(capture.clone())
            .finish();
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        let response = futures_util::FutureExt::now_or_never(schema.execute(request))
            .expect("validation does not wait");
        assert_eq!(response.errors[0].message, "stop", "{:?}", response.errors);
        capture.0.lock().unwrap().expect("validated")
    }

    #[test]
    fn the_estimate_is_the_engines_complexity() {
        let mut thread = "id bodyHtml author { username }".to_owned();
        for _ in 0..3 {
            thread =
                format!("id bodyHtml replies(first: 100) {{ edges {{ node {{ {thread} }} }} }}");
        }
        let cases = [
            ("{ feed { edges { node { title author { name } tags { name } } } } }".to_owned(), serde_json::json!({})),
            ("query($n: Int) { feed(first: $n) { edges { cursor node { id } } pageInfo { hasNextPage } } }".to_owned(), serde_json::json!({ "n": 50 })),
            (format!("{{ article(username: \"a\", slug: \"b\") {{ title comments(first: 100) {{ edges {{ node {{ {thread} }} }} }} }} }}"), serde_json::json!({})),
            ("{ search(query: \"x\", first: 5) { edges { node { rank } } } }".to_owned(), serde_json::json!({})),
            ("query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Article { title } } }".to_owned(), serde_json::json!({ "ids": ["a", "b", "c"] })),
            ("{ nodes(ids: [\"a\", \"b\"]) { id } node(id: \"a\") { id } }".to_owned(), serde_json::json!({})),
            ("{ viewer { notifications(last: 7) { edges { node { id } } } } }".to_owned(), serde_json::json!({})),
            ("{ feed { totalCount } articles(first: 3) { totalCount nodes { id } } }".to_owned(), serde_json::json!({})),
            ("{ tags { pageInfo { hasNextPage } } }".to_owned(), serde_json::json!({})),
        ];
        for (query, variables) in cases {
            let document = async_graphql::parser::parse_query(&query).unwrap();
            let estimated = check_document(
                &document,
                &async_graphql::Variables::from_json(variables.clone()),
                &limits(),
            )
            .unwrap();
            assert_eq!(
                estimated,
                engine_complexity(&query, variables) as u64,
                "{query}"
            );
        }
    }

    /// `{...F0} fragment F0 on Query {...F1 ...F1} ... fragment F<n> on Query {health{app}}`
    fn fan_out(levels: usize) -> String {
        let mut q = String::from("query{...F0}");
        for i in 0..levels {
            q.push_str(&format!(
                " fragment F{i} on Query{{...F{} ...F{}}}",
                i + 1,
                i + 1
            ));
        }
        q.push_str(&format!(" fragment F{levels} on Query{{health{{app}}}}"));
        q
    }

    #[test]
    fn fragment_fan_out_is_costed_once_per_fragment() {
        // 2^40 selections once spread; refused after 41 fragment visits.
        let error = analyse(&fan_out(40)).unwrap_err();
        assert!(
            error.message.contains("expands to more than"),
            "{}",
            error.message
        );
        // A few levels stay well inside the limits.
        analyse(&fan_out(3)).unwrap();
    }

    #[test]
    fn cycles_deep_chains_and_nesting_are_refused() {
        let cycle = "{...A} fragment A on Query{...B} fragment B on Query{...A}";
        assert!(
            analyse(cycle)
                .unwrap_err()
                .message
                .contains("within itself")
        );
        let mut chain = String::from("{...F0}");
        for i in 0..200 {
            chain.push_str(&format!(" fragment F{i} on Query{{...F{}}}", i + 1));
        }
        chain.push_str(" fragment F200 on Query{health{app}}");
        // Whatever order the fragments are met in (their map's order differs from one
        // document to the next), the chain is as deep.
        for _ in 0..50 {
            assert!(analyse(&chain).unwrap_err().message.contains("too deep"));
        }
        let lists = format!("{{a(x: {}1{})}}", "[".repeat(3000), "]".repeat(3000));
        assert!(
            analyse(&lists)
                .unwrap_err()
                .message
                .contains("nests brackets")
        );
    }

    #[test]
    fn nesting_ignores_strings_and_comments() {
        assert_eq!(nesting("{ a(x: \"{{{[[[\") # {{{{\n { b { c } } }"), 3);
        assert_eq!(nesting("{ a(x: \"\"\" {{{ \\\"\"\" [[ \"\"\") }"), 2);
        assert_eq!(nesting("{ a(x: \"\\\"{{\") }"), 2);
    }

    #[test]
    fn aliases_repeats_depth_and_searches_count_through_fragments() {
        let aliases = "{...A ...A} fragment A on Query{a:health{app} b:health{app} c:health{app} d:health{app} e:health{app} f:health{app} g:health{app} h:health{app}}";
        assert!(analyse(aliases).unwrap_err().message.contains("aliases"));
        let searches = "{ ...S s2: search(query: \"b\") { totalCount } } fragment S on Query { search(query: \"a\") { totalCount } }";
        assert!(analyse(searches).unwrap_err().message.contains("search"));
        analyse("{ search(query: \"a\") { edges { node { __typename } } } }").unwrap();
        let repeated = "{ health { app } health { app } health { app } health { app } }";
        assert!(
            analyse(repeated)
                .unwrap_err()
                .message
                .contains("more than 3 times")
        );
        let deep = format!("{{{}b{}}}", "a{".repeat(17), "}".repeat(17));
        assert!(analyse(&deep).unwrap_err().message.contains("too deep"));
        // Introspection nests deep and is exempt from the depth limit.
        let introspection = format!(
            "{{__schema{{types{{{}name{}}}}}}}",
            "ofType{".repeat(20),
            "}".repeat(20)
        );
        analyse(&introspection).unwrap();
    }

    #[test]
    fn variables_are_named_by_the_argument_they_feed() {
        let document = async_graphql::parser::parse_query(
            "query($v: String!, $w: String) { login(input: {login: $v}) { token } tag(name: $w) { name } }",
        )
        .unwrap();
        let uses = variable_uses(&document);
        assert_eq!(uses["v"], vec!["input", "login"]);
        assert_eq!(uses["w"], vec!["name"]);
        let variables = async_graphql::Variables::from_json(serde_json::json!({ "v": "a\u{0}" }));
        let error = check_variables(&variables, &uses, &limits()).unwrap_err();
        assert!(
            error.message.starts_with("input.login contains"),
            "{}",
            error.message
        );
    }

    #[test]
    fn control_characters_in_literals_name_their_argument() {
        let error = analyse("{ tag(name: \"a\\u0000b\") { name } }").unwrap_err();
        let extensions = error.extensions.unwrap();
        assert_eq!(extensions.get("field"), Some(&ConstValue::from("name")));
        assert!(error.message.contains("U+0000"), "{}", error.message);
        let error =
            analyse("mutation { login(input: {login: \"\\u001b\", password: \"x\"}) { token } }")
                .unwrap_err();
        assert!(error.message.contains("input.login"), "{}", error.message);
        analyse("{ tag(name: \"tabs\\tand\\nlines\") { name } }").unwrap();
    }
}
