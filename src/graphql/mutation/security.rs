//! The second factor, signing in through providers, and a member's data in and out.

use async_graphql::{Context, ID, Object, Upload};
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::domain::accounts::{identities, two_factor};
use crate::domain::portability;
use crate::error::AppError;
use crate::graphql::context::{ContextExt as _, limit, limit_address};
use crate::graphql::mutation::accounts::signed_in;
use crate::graphql::mutation::payload::{mutation_input, mutation_payload, respond};
use crate::graphql::node::{self, NodeType as _};
use crate::graphql::types::accounts::{UserNode, ViewerNode, load_viewer};
use crate::graphql::types::content::ArticleNode;
use crate::graphql::types::security::{DataExportNode, IdentityNode, ImportSkip};
use crate::limits::Action;

mutation_input! {
    /// The second step of a sign-in.
    CompleteLoginInput {
        /// The `secondFactorChallenge` from `login` (or from the provider sign-in's
        /// `#challenge=`, in the URL fragment).
        #[graphql(secret)]
        challenge: String,
        /// The 6-digit code the authenticator app shows now, or an unused recovery code.
        #[graphql(secret)]
        code: String,
    }
}

mutation_payload! {
    /// A new session, after the second factor.
    CompleteLoginPayload {
        /// The session token: send it as `Authorization: Bearer <token>` (also set as an
        /// HttpOnly cookie). Shown only now.
        token: Option<String>,
        /// When the session ends.
        expires_at: Option<DateTime<Utc>>,
        /// The signed-in member.
        user: Option<UserNode>,
    }
}

mutation_input! {
    /// The password, to start setting up two-factor authentication.
    BeginTwoFactorSetupInput {
        /// The account's password.
        #[graphql(secret)]
        password: String,
    }
}

mutation_payload! {
    /// A secret for the authenticator app; confirm it with `confirmTwoFactorSetup`.
    BeginTwoFactorSetupPayload {
        /// The secret in base32, for typing into the app by hand.
        secret: Option<String>,
        /// The `otpauth://totp/...` URI, usually shown as a QR code.
        otpauth_uri: Option<String>,
    }
}

mutation_input! {
    /// A first code from the authenticator app.
    ConfirmTwoFactorSetupInput {
        /// The 6-digit code the app shows now.
        #[graphql(secret)]
        code: String,
    }
}

mutation_payload! {
    /// Two-factor authentication turned on.
    ConfirmTwoFactorSetupPayload {
        /// Ten single-use recovery codes, for when the app is lost: shown only now, store
        /// them somewhere safe.
        recovery_codes: Option<Vec<String>>,
        /// The signed-in member.
        viewer: Option<ViewerNode>,
    }
}

mutation_input! {
    /// The password and a code, to turn the second factor off.
    DisableTwoFactorInput {
        /// The account's password.
        #[graphql(secret)]
        password: String,
        /// A code from the authenticator app, or an unused recovery code.
        #[graphql(secret)]
        code: String,
    }
}

mutation_input! {
    /// The password and a code, to replace the recovery codes.
    RegenerateRecoveryCodesInput {
        /// The account's password.
        #[graphql(secret)]
        password: String,
        /// A code from the authenticator app, or an unused recovery code.
        #[graphql(secret)]
        code: String,
    }
}

mutation_payload! {
    /// Two-factor authentication turned off.
    DisableTwoFactorPayload {
        /// The signed-in member.
        viewer: Option<ViewerNode>,
    }
}

mutation_payload! {
    /// New recovery codes; the old ones no longer work.
    RegenerateRecoveryCodesPayload {
        /// Ten single-use recovery codes: shown only now.
        recovery_codes: Option<Vec<String>>,
    }
}

mutation_input! {
    /// A provider to link.
    LinkIdentityInput {
        /// The provider, in lower case: `github`.
        provider: String,
        /// The account's password: linking adds a way in, so a session alone does not do.
        #[graphql(secret)]
        password: String,
    }
}

mutation_payload! {
    /// Where to send the browser to link the provider.
    LinkIdentityPayload {
        /// Open this in the browser signed in with the session cookie, within
        /// `oauth.flow_minutes` (it works once): it goes through the provider and comes
        /// back to `oauth.return_to` with `?linked=` (or `?error=`). The member is emailed.
        url: Option<String>,
    }
}

mutation_input! {
    /// A linked account to unlink.
    UnlinkIdentityInput {
        /// The link's ID (see `viewer.identities`).
        id: ID,
    }
}

mutation_payload! {
    /// An unlinked account.
    UnlinkIdentityPayload {
        /// The ID of the link removed.
        unlinked_identity_id: Option<ID>,
        /// The signed-in member.
        viewer: Option<ViewerNode>,
    }
}

mutation_input! {
    /// Nothing to fill in but `clientMutationId`.
    #[derive(Default)]
    RequestDataExportInput {}
}

mutation_payload! {
    /// An export queued; `viewer.dataExports` shows when it is ready, and an email says so.
    RequestDataExportPayload {
        /// The export, PENDING.
        data_export: Option<DataExportNode>,
    }
}

mutation_input! {
    /// An archive of articles to import.
    ImportArticlesInput {
        /// A ZIP: an export from here, a Forem/dev.to export (`articles.json`), or Markdown
        /// files with front matter. Sent as a GraphQL multipart request part.
        file: Upload,
        /// Publish the articles that were published where they came from (dates kept);
        /// by default (false or null) every article becomes a draft.
        publish: Option<bool>,
    }
}

mutation_payload! {
    /// What an import made and skipped.
    ImportArticlesPayload {
        /// The articles made, in the archive's order.
        articles: Option<Vec<ArticleNode>>,
        /// What was not imported, and why.
        skipped: Option<Vec<ImportSkip>>,
    }
}

fn secret(s: String) -> SecretString {
    SecretString::from(s)
}

#[derive(Default)]
pub struct SecurityMutation;

#[Object]
impl SecurityMutation {
    /// Finishes a sign-in that asked for a second factor. A wrong code answers in
    /// `userErrors` with the tries left; the last wrong one locks the challenge
    /// (UNAUTHENTICATED: sign in again), and too many wrong codes for one member within
    /// `auth.lockout_minutes` answer RATE_LIMITED, whatever the challenge.
    async fn complete_login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The challenge and the code.")] input: CompleteLoginInput,
    ) -> async_graphql::Result<CompleteLoginPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            limit_address(ctx, Action::Login).await?;
            let state = ctx.state();
            let session = two_factor::complete(
                &state.db,
                &state.cache,
                &state.settings,
                &input.challenge,
                &input.code,
            )
            .await?;
            let (token, expires_at) = signed_in(ctx, &session);
            Ok(CompleteLoginPayload {
                token,
                expires_at,
                user: Some(UserNode(session.user)),
                ..Default::default()
            })
        })
        .await
    }

    /// Starts setting up two-factor authentication (TOTP): answers a secret for the
    /// authenticator app. Nothing changes until `confirmTwoFactorSetup`.
    async fn begin_two_factor_setup(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The password.")] input: BeginTwoFactorSetupInput,
    ) -> async_graphql::Result<BeginTwoFactorSetupPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            limit_address(ctx, Action::AccountChange).await?;
            let state = ctx.state();
            let enrolment =
                two_factor::begin(&state.db, &state.settings, viewer, &secret(input.password))
                    .await?;
            Ok(BeginTwoFactorSetupPayload {
                secret: Some(enrolment.secret),
                otpauth_uri: Some(enrolment.uri),
                ..Default::default()
            })
        })
        .await
    }

    /// Turns two-factor authentication on with a first code from the app; answers the
    /// recovery codes.
    async fn confirm_two_factor_setup(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A code from the app.")] input: ConfirmTwoFactorSetupInput,
    ) -> async_graphql::Result<ConfirmTwoFactorSetupPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            limit_address(ctx, Action::AccountChange).await?;
            let state = ctx.state();
            let codes =
                two_factor::confirm(&state.db, &state.settings, viewer, &input.code).await?;
            Ok(ConfirmTwoFactorSetupPayload {
                recovery_codes: Some(codes),
                viewer: load_viewer(ctx).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Turns two-factor authentication off: the password and a code (or a recovery code).
    async fn disable_two_factor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The password and a code.")] input: DisableTwoFactorInput,
    ) -> async_graphql::Result<DisableTwoFactorPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            limit_address(ctx, Action::AccountChange).await?;
            let state = ctx.state();
            two_factor::disable(
                &state.db,
                &state.settings,
                viewer,
                &secret(input.password),
                &input.code,
            )
            .await?;
            Ok(DisableTwoFactorPayload {
                viewer: load_viewer(ctx).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Replaces the recovery codes: the password and a code.
    async fn regenerate_recovery_codes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The password and a code.")] input: RegenerateRecoveryCodesInput,
    ) -> async_graphql::Result<RegenerateRecoveryCodesPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            limit_address(ctx, Action::AccountChange).await?;
            let state = ctx.state();
            let codes = two_factor::regenerate_recovery_codes(
                &state.db,
                &state.settings,
                viewer,
                &secret(input.password),
                &input.code,
            )
            .await?;
            Ok(RegenerateRecoveryCodesPayload {
                recovery_codes: Some(codes),
                ..Default::default()
            })
        })
        .await
    }

    /// Starts linking a provider's account to the signed-in member: answers the URL to
    /// open in the browser (NOT_FOUND for a provider that is not configured).
    async fn link_identity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The provider.")] input: LinkIdentityInput,
    ) -> async_graphql::Result<LinkIdentityPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            limit_address(ctx, Action::AccountChange).await?;
            let state = ctx.state();
            let url = identities::link_url(
                &state.db,
                &state.settings,
                viewer,
                &input.provider,
                &secret(input.password),
            )
            .await?;
            Ok(LinkIdentityPayload {
                url: Some(url),
                ..Default::default()
            })
        })
        .await
    }

    /// Unlinks a provider's account; refused when it is the only way left to sign in
    /// (no password and no other provider).
    async fn unlink_identity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The link to remove.")] input: UnlinkIdentityInput,
    ) -> async_graphql::Result<UnlinkIdentityPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let id = node::decode_as::<IdentityNode>(&input.id)?;
            let gone = identities::unlink(&ctx.state().db, viewer, id).await?;
            Ok(UnlinkIdentityPayload {
                unlinked_identity_id: Some(IdentityNode::global_id(gone.id)),
                viewer: load_viewer(ctx).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Queues an export of everything the member made here (at most `exports.per_day`
    /// a day); an email says when it is ready.
    async fn request_data_export(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Only `clientMutationId`; may be left out.")]
        input: RequestDataExportInput,
    ) -> async_graphql::Result<RequestDataExportPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let state = ctx.state();
            let export = portability::request(&state.db, &state.settings, viewer).await?;
            Ok(RequestDataExportPayload {
                data_export: Some(DataExportNode(export)),
                ..Default::default()
            })
        })
        .await
    }

    /// Imports articles from a ZIP (an export from here, a Forem/dev.to export, or
    /// Markdown files with front matter): drafts, or published when asked; canonical URLs
    /// and dates are kept. Each article counts against the limits of `createArticle`. What
    /// cannot be imported is listed in `skipped`; an error on the server's side stops the
    /// import, and the articles made before it stay.
    async fn import_articles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The archive and whether to publish.")] input: ImportArticlesInput,
    ) -> async_graphql::Result<ImportArticlesPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            limit(ctx, Action::ArticleImport, None).await?;
            let state = ctx.state();
            let file = input
                .file
                .value(ctx)
                .map_err(|_| AppError::bad_input("file", "the file part is missing"))?
                .into_read();
            let cap = state.settings.uploads.max_bytes.max(1) as u64;
            let bytes = tokio::task::spawn_blocking(move || {
                use std::io::Read as _;
                let mut bytes = Vec::new();
                file.take(cap + 1).read_to_end(&mut bytes).map(|_| bytes)
            })
            .await
            .map_err(AppError::internal)?
            .map_err(|e| AppError::internal(anyhow::anyhow!("reading an upload: {e}")))?;
            if bytes.len() as u64 > cap {
                return Err(AppError::bad_input(
                    "file",
                    format!("the archive is larger than {} MB", cap / 1_000_000),
                )
                .into());
            }
            let report = portability::import(
                &state.db,
                &state.settings,
                viewer,
                bytes,
                input.publish.unwrap_or(false),
                // Each article counts against the limits createArticle has.
                |published| {
                    limit(
                        ctx,
                        Action::ArticleCreate,
                        published.then_some(Action::NewMemberArticle),
                    )
                },
            )
            .await?;
            let loaded = ctx
                .loaders()
                .articles
                .load_many(report.created.iter().copied())
                .await?;
            Ok(ImportArticlesPayload {
                articles: Some(
                    report
                        .created
                        .iter()
                        .filter_map(|id| loaded.get(id).cloned().map(ArticleNode))
                        .collect(),
                ),
                skipped: Some(report.skipped.into_iter().map(ImportSkip::from).collect()),
                ..Default::default()
            })
        })
        .await
    }
}
