use async_graphql::{Context, ID, InputObject, Object, Upload};
use secrecy::SecretString;

use crate::domain::accounts::model::EmailAddress;
use crate::domain::accounts::service::{self, ProfileChange, Registration, SignedIn};
use crate::domain::media;
use crate::graphql::context::{ContextExt as _, limit, limit_address};
use crate::graphql::mutation::media::store_upload;
use crate::graphql::node;
use crate::graphql::types::accounts::{
    ApiKeyNode, AuthPayload, CreatedApiKey, SessionNode, UserNode,
};
use crate::limits::Action;

#[derive(InputObject)]
/// A new account.
pub struct RegisterInput {
    /// The address the confirmation link is sent to; unique.
    pub email: String,
    /// 3 to 30 letters, digits and underscores; stored in lower case.
    pub username: String,
    /// 8 to 128 characters, not the username or email.
    #[graphql(secret)]
    pub password: String,
    /// The display name (at most 100 characters); may be left out.
    #[graphql(default)]
    pub name: String,
    /// The instance's `FOREM_OWNER_SECRET`: the first account to give it becomes admin.
    #[graphql(secret)]
    pub owner_secret: Option<String>,
}

#[derive(InputObject)]
/// A sign-in with a password.
pub struct LoginInput {
    /// Email or username.
    pub login: String,
    /// The account's password.
    #[graphql(secret)]
    pub password: String,
}

/// Fields left out stay as they are; an empty string clears an optional one.
#[derive(InputObject, Default)]
pub struct UpdateProfileInput {
    /// A new profile picture (GraphQL multipart request): cleaned, cropped square.
    pub avatar: Option<Upload>,
    /// The display name (at most 100 characters).
    pub name: Option<String>,
    /// A short introduction (at most 200 characters).
    pub bio: Option<String>,
    /// Where you are (at most 100 characters).
    pub location: Option<String>,
    /// Your website: an http(s) URL of at most 200 characters.
    pub website_url: Option<String>,
    /// Your GitHub login (at most 39 characters).
    pub github_username: Option<String>,
    /// Your Twitter/X handle (at most 15 characters), with or without `@`.
    pub twitter_username: Option<String>,
}

fn secret(s: String) -> SecretString {
    SecretString::from(s)
}

fn signed_in(ctx: &Context<'_>, session: SignedIn) -> AuthPayload {
    let settings = &ctx.state().settings;
    let max_age = (session.expires_at - chrono::Utc::now())
        .num_seconds()
        .max(0);
    ctx.append_http_header(
        "set-cookie",
        settings.session_cookie(&session.token, max_age),
    );
    AuthPayload {
        token: session.token,
        expires_at: session.expires_at,
        user: UserNode(session.user),
    }
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
    ) -> async_graphql::Result<AuthPayload> {
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
        Ok(signed_in(ctx, session))
    }

    /// Confirms an email address with the token from the confirmation link.
    async fn confirm_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token from the confirmation link.")] token: String,
    ) -> async_graphql::Result<UserNode> {
        Ok(UserNode(
            service::confirm_email(&ctx.state().db, &token).await?,
        ))
    }

    /// Mails the confirmation link again (at most 2 every 2 minutes).
    async fn resend_confirmation(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let viewer = ctx.require_viewer()?;
        let state = ctx.state();
        service::resend_confirmation(&state.db, &state.cache, &state.settings, viewer).await?;
        Ok(true)
    }

    /// Signs in with email or username. Also sets the session cookie.
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The login (email or username) and password.")] input: LoginInput,
    ) -> async_graphql::Result<AuthPayload> {
        limit_address(ctx, Action::Login).await?;
        let state = ctx.state();
        let session = service::login(
            &state.db,
            &state.cache,
            &state.settings,
            &input.login,
            &secret(input.password),
            &ctx.client(),
        )
        .await?;
        Ok(signed_in(ctx, session))
    }

    /// Ends this session and clears the cookie.
    async fn logout(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let viewer = ctx.require_viewer()?;
        let ended = service::logout(&ctx.state().db, viewer).await?;
        ctx.append_http_header("set-cookie", ctx.state().settings.clear_session_cookie());
        Ok(ended)
    }

    /// Ends every session of the signed-in member; returns how many.
    async fn logout_everywhere(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let viewer = ctx.require_viewer()?;
        let ended = service::logout_everywhere(&ctx.state().db, viewer).await?;
        ctx.append_http_header("set-cookie", ctx.state().settings.clear_session_cookie());
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }

    /// Ends one of the signed-in member's sessions (see `viewer.sessions`); answers true, or
    /// NOT_FOUND when there is no such session of theirs.
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session's global ID.")] id: ID,
    ) -> async_graphql::Result<bool> {
        let viewer = ctx.require_viewer()?;
        let uuid = session_id(&id)?;
        service::revoke_session(&ctx.state().db, viewer, uuid).await?;
        Ok(true)
    }

    /// Creates a personal API key for the `api-key` header. The key is shown only here.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the key is for (1 to 100 characters), to tell keys apart.")]
        description: String,
    ) -> async_graphql::Result<CreatedApiKey> {
        let viewer = ctx.require_viewer()?;
        let created = service::create_api_key(&ctx.state().db, viewer, &description).await?;
        Ok(CreatedApiKey {
            key: created.raw,
            api_key: ApiKeyNode(created.row),
        })
    }

    /// Revokes one of the member's API keys at once; answers true, or NOT_FOUND when there
    /// is no such key of theirs.
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key's global ID.")] id: ID,
    ) -> async_graphql::Result<bool> {
        let viewer = ctx.require_viewer()?;
        let uuid = node::decode_as::<ApiKeyNode>(&id)?;
        service::revoke_api_key(&ctx.state().db, viewer, uuid).await?;
        Ok(true)
    }

    /// Mails a reset link when the address belongs to a member. Always answers true, so
    /// it tells nobody which addresses are registered.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's email address.")] email: String,
    ) -> async_graphql::Result<bool> {
        limit_address(ctx, Action::PasswordReset).await?;
        // At most a few reset mails per target address, counted for every address alike
        // (known or not) and keyed by its hash: past the limit nothing more is sent, and
        // the answer is the same.
        let state = ctx.state();
        let target = crate::domain::accounts::tokens::hash(&email.trim().to_lowercase());
        let mailable = crate::limits::check(
            &state.cache,
            &state.settings,
            Action::PasswordResetEmail,
            &hex::encode(target),
        )
        .await
        .is_ok();
        if mailable {
            service::request_password_reset(&state.db, &email).await?;
        }
        Ok(true)
    }

    /// Sets a new password with the token from a reset link; ends every session.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token from the reset link (valid for 2 hours, once).")] token: String,
        #[graphql(
            secret,
            desc = "The new password: 8 to 128 characters, not the username or email."
        )]
        password: String,
    ) -> async_graphql::Result<bool> {
        let state = ctx.state();
        service::reset_password(&state.db, &state.settings, &token, &secret(password)).await?;
        Ok(true)
    }

    /// Changes the password; every other session ends.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret, desc = "The password in use now.")] current_password: String,
        #[graphql(
            secret,
            desc = "The new password: 8 to 128 characters, not the username or email."
        )]
        new_password: String,
    ) -> async_graphql::Result<bool> {
        limit(ctx, Action::PasswordChange, None).await?;
        limit_address(ctx, Action::AccountChange).await?;
        let viewer = ctx.require_viewer()?;
        let state = ctx.state();
        service::change_password(
            &state.db,
            &state.settings,
            viewer,
            &secret(current_password),
            &secret(new_password),
        )
        .await?;
        Ok(true)
    }

    /// Starts an email change: the new address must be confirmed before it replaces the old one.
    async fn change_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret, desc = "The account's password.")] password: String,
        #[graphql(desc = "The new address; a confirmation link is sent there.")] new_email: String,
    ) -> async_graphql::Result<bool> {
        limit(ctx, Action::EmailChange, None).await?;
        limit_address(ctx, Action::AccountChange).await?;
        let viewer = ctx.require_viewer()?;
        let new_email = EmailAddress::parse_field("newEmail", &new_email)?;
        let state = ctx.state();
        service::change_email(
            &state.db,
            &state.settings,
            viewer,
            &secret(password),
            &new_email,
        )
        .await?;
        Ok(true)
    }

    /// Changes the signed-in member's public profile; returns it.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The fields to change; those left out stay as they are.")]
        input: UpdateProfileInput,
    ) -> async_graphql::Result<UserNode> {
        let viewer = ctx.require_viewer()?;
        limit(ctx, Action::ProfileUpdate, None).await?;
        let avatar = match &input.avatar {
            Some(file) => Some(store_upload(ctx, file, media::Purpose::Avatar).await?),
            None => None,
        };
        let state = ctx.state();
        let updated = service::update_profile(
            &state.db,
            viewer,
            ProfileChange {
                avatar_url: avatar.as_ref().map(media::avatar_url),
                name: input.name,
                bio: input.bio,
                location: input.location,
                website_url: input.website_url,
                github_username: input.github_username,
                twitter_username: input.twitter_username,
            },
        )
        .await;
        let user = match (updated, avatar) {
            (Ok(user), _) => user,
            // A refused profile keeps no new avatar.
            (Err(e), Some(image)) => {
                media::delete(&state.db, &state.storage, viewer, image.id).await?;
                return Err(e.into());
            }
            (Err(e), None) => return Err(e.into()),
        };
        Ok(UserNode(user))
    }

    /// Deletes the account: personal data, sessions and keys are removed.
    async fn delete_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret, desc = "The account's password, to confirm.")] password: String,
    ) -> async_graphql::Result<bool> {
        limit(ctx, Action::AccountDeletion, None).await?;
        limit_address(ctx, Action::AccountChange).await?;
        let viewer = ctx.require_viewer()?;
        let state = ctx.state();
        crate::domain::erasure::delete_account(
            &state.db,
            &state.settings,
            viewer,
            &secret(password),
        )
        .await?;
        ctx.append_http_header("set-cookie", state.settings.clear_session_cookie());
        Ok(true)
    }
}

fn session_id(id: &ID) -> async_graphql::Result<crate::ids::SessionId> {
    Ok(node::decode_as::<SessionNode>(id)?)
}
