use async_graphql::{Context, ID, Object, Upload};
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::domain::accounts::service::{self, Outcome, ProfileChange, Registration, SignedIn};
use crate::domain::media;
use crate::graphql::context::{ContextExt as _, limit, limit_address};
use crate::graphql::mutation::media::store_upload;
use crate::graphql::mutation::payload::{mutation_input, mutation_payload, respond};
use crate::graphql::node::{self, NodeType as _};
use crate::graphql::types::accounts::{ApiKeyNode, SessionNode, UserNode, ViewerNode, load_viewer};
use crate::limits::Action;

mutation_input! {
    /// A new account.
    RegisterInput {
        /// The address the confirmation link is sent to; unique.
        email: String,
        /// 3 to 30 letters, digits and underscores; stored in lower case.
        username: String,
        /// 8 to 128 characters, not the username or email.
        #[graphql(secret)]
        password: String,
        /// The display name (at most 100 characters); may be left out.
        #[graphql(default)]
        name: String,
        /// The instance's `FOREM_OWNER_SECRET`: the first account to give it becomes admin.
        #[graphql(secret)]
        owner_secret: Option<String>,
    }
}

mutation_payload! {
    /// A new account, signed in.
    RegisterPayload {
        /// The session token: send it as `Authorization: Bearer <token>` (also set as an
        /// HttpOnly cookie). Shown only now.
        token: Option<String>,
        /// When the session ends.
        expires_at: Option<DateTime<Utc>>,
        /// The new member.
        user: Option<UserNode>,
    }
}

mutation_input! {
    /// A sign-in with a password.
    LoginInput {
        /// Email or username.
        login: String,
        /// The account's password.
        #[graphql(secret)]
        password: String,
    }
}

mutation_payload! {
    /// A new session, or, for a member with two-factor authentication, a challenge to
    /// finish with `completeLogin`.
    LoginPayload {
        /// The session token: send it as `Authorization: Bearer <token>` (also set as an
        /// HttpOnly cookie). Shown only now. Null when a second factor is due.
        token: Option<String>,
        /// When the session ends.
        expires_at: Option<DateTime<Utc>>,
        /// The signed-in member. Null when a second factor is due.
        user: Option<UserNode>,
        /// Set when the password was right and a second factor is due: pass it, with a code
        /// from the authenticator app or a recovery code, to `completeLogin`.
        second_factor_challenge: Option<String>,
        /// When the challenge expires (`auth.challenge_minutes` after the password).
        second_factor_expires_at: Option<DateTime<Utc>>,
    }
}

mutation_input! {
    /// The token from a confirmation link.
    ConfirmEmailInput {
        /// The token from the confirmation link.
        token: String,
    }
}

mutation_payload! {
    /// A confirmed address.
    ConfirmEmailPayload {
        /// The member whose address is now confirmed.
        user: Option<UserNode>,
        /// The signed-in member's account (with `emailConfirmed`), when the request is
        /// signed in.
        viewer: Option<ViewerNode>,
    }
}

mutation_input! {
    /// Nothing to fill in but `clientMutationId`: the signed-in member's address is used.
    #[derive(Default)]
    ResendConfirmationInput {}
}

mutation_input! {
    /// Nothing to fill in but `clientMutationId`: the request's session ends.
    #[derive(Default)]
    LogoutInput {}
}

mutation_input! {
    /// Nothing to fill in but `clientMutationId`: every session of the member ends.
    #[derive(Default)]
    LogoutEverywhereInput {}
}

mutation_payload! {
    /// A confirmation link mailed again.
    ResendConfirmationPayload {
        /// The signed-in member's account.
        viewer: Option<ViewerNode>,
    }
}

mutation_payload! {
    /// This session, ended.
    LogoutPayload {
        /// The ended session's ID (see `Session`). A request signed in with an API key has
        /// no session to end: revoke the key instead.
        ended_session_id: Option<ID>,
    }
}

mutation_payload! {
    /// Every session of the member, ended.
    LogoutEverywherePayload {
        /// How many sessions ended.
        ended_sessions_count: Option<i32>,
    }
}

mutation_input! {
    /// One of the signed-in member's sessions.
    RevokeSessionInput {
        /// The session's global ID (see `viewer.sessions`).
        id: ID,
    }
}

mutation_payload! {
    /// A session ended.
    RevokeSessionPayload {
        /// The ended session's ID, to drop it from `viewer.sessions`.
        revoked_session_id: Option<ID>,
    }
}

mutation_input! {
    /// A new personal API key.
    CreateApiKeyInput {
        /// What the key is for (1 to 100 characters), to tell keys apart.
        description: String,
    }
}

mutation_payload! {
    /// A new API key, with its secret shown this once.
    CreateApiKeyPayload {
        /// Send it in the `api-key` header; it is shown only now.
        key: Option<String>,
        /// The key's record, as `viewer.apiKeys` lists it.
        api_key: Option<ApiKeyNode>,
    }
}

mutation_input! {
    /// One of the signed-in member's API keys.
    RevokeApiKeyInput {
        /// The key's global ID (see `viewer.apiKeys`).
        id: ID,
    }
}

mutation_payload! {
    /// An API key revoked.
    RevokeApiKeyPayload {
        /// The revoked key's ID, to drop it from `viewer.apiKeys`.
        revoked_api_key_id: Option<ID>,
    }
}

mutation_input! {
    /// Where to send a password reset link.
    RequestPasswordResetInput {
        /// The account's email address.
        email: String,
    }
}

mutation_payload! {
    /// The same answer whether or not the address belongs to a member.
    RequestPasswordResetPayload {}
}

mutation_input! {
    /// A new password, with the token from a reset link.
    ResetPasswordInput {
        /// The token from the reset link (valid for 2 hours, once).
        token: String,
        /// The new password: 8 to 128 characters, not the username or email.
        #[graphql(secret)]
        password: String,
    }
}

mutation_payload! {
    /// A new password is set and every session of the account ended; sign in with it.
    ResetPasswordPayload {}
}

mutation_input! {
    /// The password in use and the new one.
    ChangePasswordInput {
        /// The password in use now.
        #[graphql(secret)]
        current_password: String,
        /// The new password: 8 to 128 characters, not the username or email.
        #[graphql(secret)]
        new_password: String,
    }
}

mutation_payload! {
    /// A changed password; every other session has ended.
    ChangePasswordPayload {
        /// The signed-in member's account.
        viewer: Option<ViewerNode>,
    }
}

mutation_input! {
    /// A new email address, confirmed by the password.
    ChangeEmailInput {
        /// The account's password.
        #[graphql(secret)]
        password: String,
        /// The new address; a confirmation link is sent there.
        new_email: String,
    }
}

mutation_payload! {
    /// An email change waiting for its confirmation.
    ChangeEmailPayload {
        /// The signed-in member's account, with the new address as `pendingEmail`.
        viewer: Option<ViewerNode>,
    }
}

mutation_input! {
    /// Fields left out stay as they are; an empty string clears an optional one.
    #[derive(Default)]
    UpdateProfileInput {
        /// A new profile picture (GraphQL multipart request): cleaned, cropped square.
        avatar: Option<Upload>,
        /// The display name (at most 100 characters).
        name: Option<String>,
        /// A short introduction (at most 200 characters).
        bio: Option<String>,
        /// Where you are (at most 100 characters).
        location: Option<String>,
        /// Your website: an http(s) URL of at most 200 characters.
        website_url: Option<String>,
        /// Your GitHub login (at most 39 characters).
        github_username: Option<String>,
        /// Your Twitter/X handle (at most 15 characters), with or without `@`.
        twitter_username: Option<String>,
    }
}

mutation_payload! {
    /// The profile as saved.
    UpdateProfilePayload {
        /// The member's public profile, as others see it now.
        user: Option<UserNode>,
    }
}

mutation_input! {
    /// The password, to confirm deleting the account.
    DeleteAccountInput {
        /// The account's password.
        #[graphql(secret)]
        password: String,
    }
}

mutation_payload! {
    /// A deleted account.
    DeleteAccountPayload {
        /// The deleted member's ID.
        deleted_user_id: Option<ID>,
    }
}

fn secret(s: String) -> SecretString {
    SecretString::from(s)
}

/// Sets the session cookie and answers with the session's token.
pub(crate) fn signed_in(
    ctx: &Context<'_>,
    session: &SignedIn,
) -> (Option<String>, Option<DateTime<Utc>>) {
    let settings = &ctx.state().settings;
    let max_age = (session.expires_at - chrono::Utc::now())
        .num_seconds()
        .max(0);
    ctx.append_http_header(
        "set-cookie",
        settings.session_cookie(&session.token, max_age),
    );
    (Some(session.token.clone()), Some(session.expires_at))
}

#[derive(Default)]
pub struct AccountsMutation;

#[Object]
impl AccountsMutation {
    /// Creates an account and signs it in. A confirmation link and a welcome message are
    /// emailed.
    async fn register(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's email, username, password and name.")] input: RegisterInput,
    ) -> async_graphql::Result<RegisterPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            limit_address(ctx, Action::Registration).await?;
            let state = ctx.state();
            let session = service::register(
                &state.db,
                &state.settings,
                Registration::parse(
                    &input.email,
                    &input.username,
                    &secret(input.password),
                    &input.name,
                    input.owner_secret.map(secret),
                )?,
                &ctx.client(),
            )
            .await?;
            let (token, expires_at) = signed_in(ctx, &session);
            Ok(RegisterPayload {
                token,
                expires_at,
                user: Some(UserNode(session.user)),
                ..Default::default()
            })
        })
        .await
    }

    /// Confirms an email address with the token from the confirmation link.
    async fn confirm_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token from the confirmation link.")] input: ConfirmEmailInput,
    ) -> async_graphql::Result<ConfirmEmailPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let user = service::confirm_email(&ctx.state().db, &input.token).await?;
            Ok(ConfirmEmailPayload {
                user: Some(UserNode(user)),
                viewer: load_viewer(ctx).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Mails the confirmation link again (at most 2 every 2 minutes).
    async fn resend_confirmation(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Only `clientMutationId`; may be left out.")]
        input: ResendConfirmationInput,
    ) -> async_graphql::Result<ResendConfirmationPayload> {
        respond(ctx, input.client_mutation_id, async {
            let viewer = ctx.require_viewer()?;
            let state = ctx.state();
            service::resend_confirmation(&state.db, &state.cache, &state.settings, viewer).await?;
            Ok(ResendConfirmationPayload {
                viewer: load_viewer(ctx).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Signs in with email or username. Also sets the session cookie.
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The login (email or username) and password.")] input: LoginInput,
    ) -> async_graphql::Result<LoginPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            limit_address(ctx, Action::Login).await?;
            let state = ctx.state();
            let outcome = service::login(
                &state.db,
                &state.cache,
                &state.settings,
                &input.login,
                &secret(input.password),
                &ctx.client(),
            )
            .await?;
            Ok(match outcome {
                Outcome::SignedIn(session) => {
                    let (token, expires_at) = signed_in(ctx, &session);
                    LoginPayload {
                        token,
                        expires_at,
                        user: Some(UserNode(session.user)),
                        ..Default::default()
                    }
                }
                Outcome::SecondFactor(challenge) => LoginPayload {
                    second_factor_challenge: Some(challenge.token),
                    second_factor_expires_at: Some(challenge.expires_at),
                    ..Default::default()
                },
            })
        })
        .await
    }

    /// Ends this session and clears the cookie.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Only `clientMutationId`; may be left out.")] input: LogoutInput,
    ) -> async_graphql::Result<LogoutPayload> {
        respond(ctx, input.client_mutation_id, async {
            let viewer = ctx.require_viewer()?;
            let ended = service::logout(&ctx.state().db, viewer).await?;
            ctx.append_http_header("set-cookie", ctx.state().settings.clear_session_cookie());
            ctx.end_credential();
            Ok(LogoutPayload {
                ended_session_id: viewer
                    .session_id
                    .filter(|_| ended)
                    .map(SessionNode::global_id),
                ..Default::default()
            })
        })
        .await
    }

    /// Ends every session of the signed-in member, this one included.
    async fn logout_everywhere(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Only `clientMutationId`; may be left out.")]
        input: LogoutEverywhereInput,
    ) -> async_graphql::Result<LogoutEverywherePayload> {
        respond(ctx, input.client_mutation_id, async {
            let viewer = ctx.require_viewer()?;
            let ended = service::logout_everywhere(&ctx.state().db, viewer).await?;
            ctx.append_http_header("set-cookie", ctx.state().settings.clear_session_cookie());
            ctx.end_credential();
            Ok(LogoutEverywherePayload {
                ended_sessions_count: Some(i32::try_from(ended).unwrap_or(i32::MAX)),
                ..Default::default()
            })
        })
        .await
    }

    /// Ends one of the signed-in member's sessions (see `viewer.sessions`); NOT_FOUND when
    /// there is no such session of theirs.
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session to end.")] input: RevokeSessionInput,
    ) -> async_graphql::Result<RevokeSessionPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let uuid = node::decode_as::<SessionNode>(&input.id)?;
            service::revoke_session(&ctx.state().db, viewer, uuid).await?;
            Ok(RevokeSessionPayload {
                revoked_session_id: Some(input.id),
                ..Default::default()
            })
        })
        .await
    }

    /// Creates a personal API key for the `api-key` header. The key is shown only here.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the key is for.")] input: CreateApiKeyInput,
    ) -> async_graphql::Result<CreateApiKeyPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let created =
                service::create_api_key(&ctx.state().db, viewer, &input.description).await?;
            Ok(CreateApiKeyPayload {
                key: Some(created.raw),
                api_key: Some(ApiKeyNode(created.row)),
                ..Default::default()
            })
        })
        .await
    }

    /// Revokes one of the member's API keys at once; NOT_FOUND when there is no such key
    /// of theirs.
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key to revoke.")] input: RevokeApiKeyInput,
    ) -> async_graphql::Result<RevokeApiKeyPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            let uuid = node::decode_as::<ApiKeyNode>(&input.id)?;
            service::revoke_api_key(&ctx.state().db, viewer, uuid).await?;
            Ok(RevokeApiKeyPayload {
                revoked_api_key_id: Some(input.id),
                ..Default::default()
            })
        })
        .await
    }

    /// Mails a reset link when the address belongs to a member. The answer is the same
    /// either way, so it tells nobody which addresses are registered.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's email address.")] input: RequestPasswordResetInput,
    ) -> async_graphql::Result<RequestPasswordResetPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            limit_address(ctx, Action::PasswordReset).await?;
            // At most a few reset mails per target address, counted for every address
            // alike (known or not) and keyed by its hash: past the limit nothing more is
            // sent, and the answer is the same.
            let state = ctx.state();
            let target = crate::domain::accounts::tokens::hash(&input.email.trim().to_lowercase());
            let mailable = crate::limits::check(
                &state.cache,
                &state.settings,
                Action::PasswordResetEmail,
                &hex::encode(target),
            )
            .await
            .is_ok();
            if mailable {
                service::request_password_reset(&state.db, &input.email).await?;
            }
            Ok(RequestPasswordResetPayload::default())
        })
        .await
    }

    /// Sets a new password with the token from a reset link; ends every session.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token and the new password.")] input: ResetPasswordInput,
    ) -> async_graphql::Result<ResetPasswordPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let state = ctx.state();
            service::reset_password(
                &state.db,
                &state.settings,
                &input.token,
                &secret(input.password),
            )
            .await?;
            Ok(ResetPasswordPayload::default())
        })
        .await
    }

    /// Changes the password; every other session ends.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The password in use and the new one.")] input: ChangePasswordInput,
    ) -> async_graphql::Result<ChangePasswordPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            limit(ctx, Action::PasswordChange, None).await?;
            limit_address(ctx, Action::AccountChange).await?;
            let viewer = ctx.require_viewer()?;
            let state = ctx.state();
            service::change_password(
                &state.db,
                &state.settings,
                viewer,
                &secret(input.current_password),
                &secret(input.new_password),
            )
            .await?;
            Ok(ChangePasswordPayload {
                viewer: load_viewer(ctx).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Starts an email change: the new address must be confirmed before it replaces the old one.
    async fn change_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The password and the new address.")] input: ChangeEmailInput,
    ) -> async_graphql::Result<ChangeEmailPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            limit(ctx, Action::EmailChange, None).await?;
            limit_address(ctx, Action::AccountChange).await?;
            let viewer = ctx.require_viewer()?;
            let state = ctx.state();
            service::change_email(
                &state.db,
                &state.settings,
                viewer,
                &secret(input.password),
                &input.new_email,
            )
            .await?;
            Ok(ChangeEmailPayload {
                viewer: load_viewer(ctx).await?,
                ..Default::default()
            })
        })
        .await
    }

    /// Changes the signed-in member's public profile.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The fields to change; those left out stay as they are.")]
        input: UpdateProfileInput,
    ) -> async_graphql::Result<UpdateProfilePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let viewer = ctx.require_viewer()?;
            limit(ctx, Action::ProfileUpdate, None).await?;
            // The fields first: a refused profile stores no picture.
            let profile = ProfileChange {
                name: input.name,
                bio: input.bio,
                location: input.location,
                website_url: input.website_url,
                github_username: input.github_username,
                twitter_username: input.twitter_username,
            }
            .check(viewer)?;
            let avatar = match &input.avatar {
                Some(file) => Some(
                    store_upload(ctx, file, media::Purpose::Avatar)
                        .await
                        .map_err(|e| e.renaming("file", "avatar"))?,
                ),
                None => None,
            };
            let state = ctx.state();
            let updated = service::update_profile(
                &state.db,
                viewer,
                profile,
                avatar.as_ref().map(media::avatar_url),
            )
            .await;
            let user = match (updated, avatar) {
                (Ok(user), _) => user,
                // A profile that could not be saved keeps no new avatar.
                (Err(e), Some(image)) => {
                    media::delete(&state.db, &state.storage, viewer, image.id).await?;
                    return Err(e.into());
                }
                (Err(e), None) => return Err(e.into()),
            };
            Ok(UpdateProfilePayload {
                user: Some(UserNode(user)),
                ..Default::default()
            })
        })
        .await
    }

    /// Deletes the account: personal data, sessions and keys are removed.
    async fn delete_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The password, to confirm.")] input: DeleteAccountInput,
    ) -> async_graphql::Result<DeleteAccountPayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            limit(ctx, Action::AccountDeletion, None).await?;
            limit_address(ctx, Action::AccountChange).await?;
            let viewer = ctx.require_viewer()?;
            let state = ctx.state();
            crate::domain::erasure::delete_account(
                &state.db,
                &state.settings,
                viewer,
                &secret(input.password),
            )
            .await?;
            ctx.append_http_header("set-cookie", state.settings.clear_session_cookie());
            ctx.end_credential();
            Ok(DeleteAccountPayload {
                deleted_user_id: Some(UserNode::global_id(viewer.user_id)),
                ..Default::default()
            })
        })
        .await
    }
}
