//! Webhook payloads as GraphQL results. A webhook's `selection` is a selection set on the
//! event's subject, written as a fragment (`fragment on Article { title url }`, `{ id }`
//! for any subject). It is checked when the webhook is saved and run when an event is
//! dispatched, as the webhook's owner, in one document:
//!
//! ```graphql
//! query Webhook($id: ID!) { node(id: $id) { ... on Article { ...Selection } } }
//! fragment Selection on Article { title url }
//! ```
//!
//! so a receiver gets exactly what that query answers. The document passes the same guard
//! as any request (size, nesting, depth, aliases, complexity) and the schema's validation,
//! which also refuses a selection on a type the event's subject can never be.

use async_graphql::parser::parse_query;
use async_graphql::{Request, Variables};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::accounts::Viewer;
use crate::domain::outbox::{Subject, WebhookEvent};
use crate::domain::webhooks::Render;
use crate::error::{AppError, AppResult, ErrorCode, Problem};
use crate::graphql::context::Auth;
use crate::graphql::guard::{self, Limits, Transport};
use crate::graphql::loaders::Loaders;
use crate::graphql::{AppSchema, node};
use crate::state::AppState;

/// The longest selection a webhook may have.
pub const MAX_SELECTION: usize = 4_000;

/// What a webhook sends when it has no selection of its own.
pub fn default_selection(subject: Subject) -> &'static str {
    match subject {
        Subject::Article => {
            "{ id title url status publishedAt editedAt tagList author { id username url } }"
        }
        Subject::Comment => {
            "{ id url bodyMarkdown createdAt editedAt isDeleted author { id username } \
             article { id title url } }"
        }
        Subject::User => "{ id username name url }",
        Subject::Report => "{ id subjectType subjectId category message status createdAt }",
    }
}

fn refuse(message: impl Into<String>) -> AppError {
    AppError::invalid("selection", Problem::Invalid, message)
}

/// A selection's type condition (none: whatever the subject is) and its selection set.
fn split(text: &str) -> AppResult<(Option<&str>, &str)> {
    let text = text.trim();
    let shape = || {
        refuse(
            "write the selection as `fragment on Type { fields }`, `... on Type { fields }` or `{ fields }`",
        )
    };
    let brace = text.find('{').ok_or_else(shape)?;
    let (head, set) = text.split_at(brace);
    let head = head.strip_prefix("...").map_or(head, |rest| rest);
    let words: Vec<&str> = head.split_whitespace().collect();
    let condition = match words.as_slice() {
        [] if !text.starts_with("...") => None,
        ["on", name] if text.starts_with("...") => Some(*name),
        ["fragment", "on", name] | ["fragment", _, "on", name] if !text.starts_with("...") => {
            Some(*name)
        }
        _ => return Err(shape()),
    };
    let is_name = |n: &str| {
        n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && n.chars().next().is_some_and(|c| !c.is_ascii_digit())
    };
    if condition.is_some_and(|n| !is_name(n)) {
        return Err(shape());
    }
    Ok((condition, set))
}

/// How deep brackets may nest in a selection, counted before anything parses it.
const MAX_NESTING: usize = 32;

/// The document that runs `selection` on a subject of one of `subjects`' types.
fn compose(selection: Option<&str>, subjects: &[Subject], skip: bool) -> AppResult<String> {
    if let Some(text) = selection
        && guard::nesting(text) > MAX_NESTING
    {
        return Err(refuse(format!(
            "the selection nests brackets more than {MAX_NESTING} deep"
        )));
    }
    let (condition, set) = match selection {
        Some(text) => split(text)?,
        None => match subjects {
            [one] => (None, default_selection(*one)),
            _ => return Err(refuse("a default selection is for one subject type")),
        },
    };
    let condition = match (condition, subjects) {
        (Some(name), _) => name,
        (None, [one]) => one.as_str(),
        (None, _) => return Err(refuse("a selection without a type is for one subject type")),
    };
    let spreads: String = subjects
        .iter()
        .map(|s| format!(" ... on {} {{ ...Selection }}", s.as_str()))
        .collect();
    let skip = if skip { " @skip(if: true)" } else { "" };
    let document = format!(
        "query Webhook($id: ID!) {{ node(id: $id){skip} {{{spreads} }} }}\n\
         fragment Selection on {condition} {set}"
    );
    // The selection set must stay one selection set: nothing closes it early to add
    // operations or fragments of its own.
    let parsed =
        parse_query(&document).map_err(|e| refuse(format!("the selection does not parse: {e}")))?;
    if parsed.operations.iter().count() != 1 || parsed.fragments.len() != 1 {
        return Err(refuse(
            "the selection must be one selection set, with no operations or fragments of its own",
        ));
    }
    Ok(document)
}

fn variables(id: &str) -> Variables {
    Variables::from_json(json!({ "id": id }))
}

/// Checks `selection` for every event of `events`: it parses, it is one selection set, it
/// applies to the event's subject, it passes the guard and the schema's validation.
pub async fn check(settings: &Settings, selection: &str, events: &[WebhookEvent]) -> AppResult<()> {
    if selection.len() > MAX_SELECTION {
        return Err(AppError::invalid(
            "selection",
            Problem::TooLong,
            format!("selection is longer than {MAX_SELECTION} bytes"),
        ));
    }
    if let Some(c) = crate::text::forbidden_char(selection) {
        return Err(refuse(format!(
            "selection contains {}",
            crate::text::describe(c)
        )));
    }
    let (condition, _) = split(selection)?;
    let limits = Limits::from_settings(settings);
    let schema = super::payload_validator(settings);
    let mut checked = std::collections::HashSet::new();
    for event in events {
        // Without a type, the selection applies to each subject type on its own.
        let groups: Vec<Vec<Subject>> = match condition {
            Some(_) => vec![event.subject_types().to_vec()],
            None => event.subject_types().iter().map(|s| vec![*s]).collect(),
        };
        for subjects in groups {
            if !checked.insert(subjects.clone()) {
                continue;
            }
            let document = compose(Some(selection), &subjects, true)?;
            let mut request = Request::new(document).variables(variables("-"));
            guard::check_composed(&mut request, &limits).map_err(|e| refuse(e.message))?;
            let response = schema.execute(request).await;
            if let Some(error) = response.errors.first() {
                let on = subjects
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ");
                return Err(refuse(format!(
                    "for {event} (a subject of type {on}): {}",
                    error.message
                )));
            }
        }
    }
    Ok(())
}

/// Renders payloads through the schema the server runs.
pub struct Renderer {
    schema: AppSchema,
    state: AppState,
    limits: Limits,
}

impl Renderer {
    pub fn new(state: AppState) -> Self {
        Self {
            schema: super::build_for_payloads(state.clone()),
            limits: Limits::from_settings(&state.settings),
            state,
        }
    }
}

impl Render for Renderer {
    fn render<'a>(
        &'a self,
        owner: &'a Viewer,
        selection: Option<&'a str>,
        subject: (Subject, Uuid),
    ) -> BoxFuture<'a, AppResult<(Value, Vec<String>)>> {
        Box::pin(async move {
            // A selection saved before the schema changed may no longer apply: the
            // receiver hears why, in the payload's errors.
            let document = match compose(selection, &[subject.0], false) {
                Ok(document) => document,
                Err(e) => return Ok((Value::Null, vec![e.public_message()])),
            };
            let id = self.global_id(subject.0.as_str(), subject.1);
            let mut request = Request::new(document).variables(variables(&id));
            if let Err(e) = guard::check_composed(&mut request, &self.limits) {
                return Ok((Value::Null, vec![e.message]));
            }
            let request = request
                .data(Loaders::new(
                    &self.state.db,
                    &self.state.settings,
                    Some(owner.user_id),
                ))
                .data(Auth(Some(owner.clone())))
                .data(Transport::Internal);
            let mut response = self.schema.execute(request).await;
            let mut messages = Vec::new();
            for error in &mut response.errors {
                crate::graphql::extensions::classify(error, None, Some("Webhook"));
                let code = crate::graphql::extensions::code_of(error);
                // Our failure, not the selection's: the job tries again later.
                if matches!(code, Some(ErrorCode::Internal | ErrorCode::RateLimited)) {
                    return Err(AppError::internal(anyhow::anyhow!(
                        "rendering a webhook payload failed: {}",
                        error.message
                    )));
                }
                messages.push(error.message.clone());
            }
            let data = response.data.into_json().unwrap_or_default();
            Ok((data["node"].clone(), messages))
        })
    }

    fn global_id(&self, type_name: &str, id: Uuid) -> String {
        node::encode(type_name, id).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_split_into_a_type_and_a_set() {
        assert_eq!(split("{ id }").unwrap(), (None, "{ id }"));
        assert_eq!(
            split("fragment on Article { title }").unwrap(),
            (Some("Article"), "{ title }")
        );
        assert_eq!(
            split("fragment Mine on Comment{ id }").unwrap(),
            (Some("Comment"), "{ id }")
        );
        assert_eq!(
            split("  ... on Node { id }").unwrap(),
            (Some("Node"), "{ id }")
        );
        assert!(split("query { viewer { id } }").is_err());
        assert!(split("fragment on { id }").is_err());
        assert!(split("fragment X Article { id }").is_err());
    }

    #[test]
    fn a_selection_cannot_break_out_of_its_set() {
        let escape = "fragment on Article { title } } query Other { viewer { id } ";
        assert!(compose(Some(escape), &[Subject::Article], false).is_err());
        let extra = "{ title } fragment Other on Article { id }";
        assert!(compose(Some(extra), &[Subject::Article], false).is_err());
        assert!(compose(Some("{ title }"), &[Subject::Article], false).is_ok());
        // Nesting is refused before the parser, whose recursion it would exhaust.
        let deep = format!("{{ f(a: {}", "[".repeat(3_990));
        assert!(compose(Some(&deep), &[Subject::Article], false).is_err());
        for subject in [
            Subject::Article,
            Subject::Comment,
            Subject::User,
            Subject::Report,
        ] {
            assert!(compose(None, &[subject], false).is_ok());
        }
    }
}
