//! The one shape of every mutation: a single `input` argument carrying an optional
//! `clientMutationId`, and a `<Name>Payload` answer carrying that id back, the nodes the
//! mutation changed, and `userErrors`.
//!
//! Input that breaks the mutation's rules is not a GraphQL error: the payload lists every
//! invalid field at once in `userErrors` (Shopify's shape), with its nodes null. Signing
//! in, permissions (NOT_FOUND included: a subject the viewer may not touch is reported as
//! missing), rate limits and internal failures stay top-level errors with their codes.

use std::future::Future;

use async_graphql::{Context, Enum, SimpleObject};

use crate::error::{AppError, Invalid, Problem};
use crate::graphql::context::ContextExt as _;

/// What kind of rule a refused input field broke.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum UserErrorCode {
    /// Missing or empty where a value is required.
    Blank,
    /// Shorter than allowed.
    TooShort,
    /// Longer, or more of them, than allowed.
    TooLong,
    /// Already in use: a username, an email address, a canonical URL, a series title.
    Taken,
    /// Any other rule: a format, a reference to nothing, a state the subject is not in.
    Invalid,
}

impl From<Problem> for UserErrorCode {
    fn from(problem: Problem) -> Self {
        match problem {
            Problem::Blank => Self::Blank,
            Problem::TooShort => Self::TooShort,
            Problem::TooLong => Self::TooLong,
            Problem::Taken => Self::Taken,
            Problem::Invalid => Self::Invalid,
        }
    }
}

/// One input field a mutation refused, and why.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserError {
    /// The path to the field from the mutation's arguments, e.g. `["input", "title"]`; null
    /// when the rule is about the input as a whole.
    pub field: Option<Vec<String>>,
    /// What is wrong, as a sentence to show beside the field.
    pub message: String,
    /// The kind of rule broken, for clients that branch on it.
    pub code: UserErrorCode,
}

impl From<Invalid> for UserError {
    fn from(invalid: Invalid) -> Self {
        Self {
            field: invalid.field.map(|f| vec!["input".to_owned(), f]),
            message: invalid.message,
            code: invalid.problem.into(),
        }
    }
}

/// What every payload carries besides its nodes.
pub trait Payload: Default {
    fn finish(self, client_mutation_id: Option<String>, user_errors: Vec<UserError>) -> Self;
}

/// Runs a mutation's `body` and shapes its outcome: input errors become `userErrors` on an
/// otherwise empty payload, other errors stay errors. Before and after the body the
/// request's loaders forget what they read, so the payload's nodes show the state the
/// mutation left.
pub async fn respond<P: Payload>(
    ctx: &Context<'_>,
    client_mutation_id: Option<String>,
    body: impl Future<Output = async_graphql::Result<P>>,
) -> async_graphql::Result<P> {
    // What earlier fields of the document (an earlier mutation's payload) loaded is older
    // than this write, and what this one loads before its write is older than what it
    // leaves: the loaders forget before and after.
    ctx.loaders().forget_all();
    let outcome = body.await;
    ctx.loaders().forget_all();
    match outcome {
        Ok(payload) => Ok(payload.finish(client_mutation_id, Vec::new())),
        Err(error) => match error.source.as_deref().and_then(crate::error::app_error) {
            Some(AppError::BadUserInput(invalid)) => Ok(P::default().finish(
                client_mutation_id,
                invalid.iter().cloned().map(UserError::from).collect(),
            )),
            _ => Err(error),
        },
    }
}

/// Declares a mutation's input object: the fields given, then `clientMutationId`.
macro_rules! mutation_input {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$field_meta:meta])* $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(async_graphql::InputObject)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
            /// Any string of the client's; the payload returns it unchanged, to match answers
            /// to requests.
            pub client_mutation_id: Option<String>,
        }
    };
}

/// Declares a mutation's payload: the fields given (the nodes it changed, null when
/// `userErrors` is not empty), then `clientMutationId` and `userErrors`.
macro_rules! mutation_payload {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$field_meta:meta])* $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(async_graphql::SimpleObject, Default)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
            /// The input's `clientMutationId`, unchanged.
            pub client_mutation_id: Option<String>,
            /// Every input field the mutation refused, each with why; empty when it succeeded.
            /// When not empty, nothing was changed and the other fields are null.
            pub user_errors: Vec<$crate::graphql::mutation::payload::UserError>,
        }

        impl $crate::graphql::mutation::payload::Payload for $name {
            fn finish(
                mut self,
                client_mutation_id: Option<String>,
                user_errors: Vec<$crate::graphql::mutation::payload::UserError>,
            ) -> Self {
                self.client_mutation_id = client_mutation_id;
                self.user_errors = user_errors;
                self
            }
        }
    };
}

pub(crate) use {mutation_input, mutation_payload};
