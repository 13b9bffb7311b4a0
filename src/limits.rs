//! Rate limits: fixed windows counted in Redis by one atomic script, so a limit holds
//! across every node sharing the Redis (and in process when Redis is switched off).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cache::Cache;
use crate::config::{Rule, Settings};
use crate::error::{AppError, AppResult};

/// What is being limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ArticleCreate,
    ArticleUpdate,
    CommentCreate,
    Reaction,
    ImageUpload,
    ProfileUpdate,
    Follow,
    ConfirmationEmail,
    Report,
    NewMemberArticle,
    NewMemberComment,
    Registration,
    Login,
    PasswordChange,
    EmailChange,
    AccountDeletion,
    AccountChange,
    PasswordReset,
    PasswordResetEmail,
    PersistedQuery,
    /// Creating, changing, pinging and redelivering webhooks.
    Webhook,
    /// Adding and refreshing feed sources.
    FeedSource,
    /// Importing an archive of articles.
    ArticleImport,
    /// Beginning a sign-in at an outside provider.
    ProviderSignIn,
}

impl Action {
    fn key(self) -> &'static str {
        match self {
            Self::ArticleCreate => "article_create",
            Self::ArticleUpdate => "article_update",
            Self::CommentCreate => "comment_create",
            Self::Reaction => "reaction",
            Self::ImageUpload => "image_upload",
            Self::ProfileUpdate => "profile_update",
            Self::Follow => "follow",
            Self::ConfirmationEmail => "confirmation_email",
            Self::Report => "report",
            Self::NewMemberArticle => "new_member_article",
            Self::NewMemberComment => "new_member_comment",
            Self::Registration => "registration_per_ip",
            Self::Login => "login_per_ip",
            Self::PasswordChange => "password_change",
            Self::EmailChange => "email_change",
            Self::AccountDeletion => "account_deletion",
            Self::AccountChange => "account_change_per_ip",
            Self::PasswordReset => "password_reset_per_ip",
            Self::PasswordResetEmail => "password_reset_per_email",
            Self::PersistedQuery => "persisted_query_per_ip",
            Self::Webhook => "webhook",
            Self::FeedSource => "feed_source",
            Self::ArticleImport => "article_import",
            Self::ProviderSignIn => "provider_sign_in_per_ip",
        }
    }

    fn rule(self, settings: &Settings) -> Rule {
        let limits = &settings.rate_limits;
        match self {
            Self::ArticleCreate => limits.article_create,
            Self::ArticleUpdate => limits.article_update,
            Self::CommentCreate => limits.comment_create,
            Self::Reaction => limits.reaction,
            Self::ImageUpload => limits.image_upload,
            Self::ProfileUpdate => limits.profile_update,
            Self::Follow => limits.follow,
            Self::ConfirmationEmail => limits.confirmation_email,
            Self::Report => limits.report,
            Self::NewMemberArticle => limits.new_member_article,
            Self::NewMemberComment => limits.new_member_comment,
            Self::Registration => limits.registration_per_ip,
            Self::Login => limits.login_per_ip,
            Self::PasswordChange => limits.password_change,
            Self::EmailChange => limits.email_change,
            Self::AccountDeletion => limits.account_deletion,
            Self::AccountChange => limits.account_change_per_ip,
            Self::PasswordReset => limits.password_reset_per_ip,
            Self::PasswordResetEmail => limits.password_reset_per_email,
            Self::PersistedQuery => limits.persisted_query_per_ip,
            Self::Webhook => limits.webhook,
            Self::FeedSource => limits.feed_source,
            Self::ArticleImport => limits.article_import,
            Self::ProviderSignIn => limits.provider_sign_in_per_ip,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::ArticleCreate => "new articles",
            Self::ArticleUpdate => "article updates",
            Self::CommentCreate => "comments",
            Self::Reaction => "reactions",
            Self::ImageUpload => "image uploads",
            Self::ProfileUpdate => "profile updates",
            Self::Follow => "follows",
            Self::ConfirmationEmail => "confirmation emails",
            Self::Report => "reports",
            Self::NewMemberArticle => "published articles from a new account",
            Self::NewMemberComment => "comments from a new account",
            Self::Registration => "registrations from one address",
            Self::Login => "sign-in attempts from one address",
            Self::PasswordChange => "password changes",
            Self::EmailChange => "email changes",
            Self::AccountDeletion => "account deletion attempts",
            Self::AccountChange => "account changes from one address",
            Self::PasswordReset => "password-reset requests from one address",
            Self::PasswordResetEmail => "password-reset emails to one address",
            Self::PersistedQuery => "persisted-query registrations from one address",
            Self::Webhook => "webhook changes, pings and redeliveries",
            Self::FeedSource => "feed sources added or refreshed",
            Self::ArticleImport => "article imports",
            Self::ProviderSignIn => "provider sign-ins from one address",
        }
    }
}

/// Counts one `action` by `subject` (a member id or an address) and refuses it with
/// RATE_LIMITED and the seconds to wait once the rule's window is full.
pub async fn check(
    cache: &Cache,
    settings: &Settings,
    action: Action,
    subject: &str,
) -> AppResult<()> {
    if !settings.rate_limits.enabled {
        return Ok(());
    }
    let rule = action.rule(settings);
    let key = format!("rl:{}:{subject}", action.key());
    let (count, ttl) = match cache
        .incr_window(&key, Duration::from_secs(rule.per_secs))
        .await
    {
        Ok(counted) => counted,
        Err(e) => {
            // Without Redis nothing can be counted across nodes; writes go on rather than
            // fail while the health check reports the cache down.
            tracing::warn!(error = %e, action = action.key(), "a rate limit could not be counted");
            return Ok(());
        }
    };
    if count > rule.max {
        crate::metrics::record_refusal(action.key());
        return Err(AppError::RateLimited {
            message: format!(
                "Too many {}: at most {} every {}; try again in {} s",
                action.what(),
                rule.max,
                window_text(rule.per_secs),
                ttl.max(1)
            ),
            retry_after: ttl.max(1),
        });
    }
    Ok(())
}

/// The member's own limit for `action`, then, for members younger than the configured
/// age, the new-member limit `young` too.
pub async fn check_member(
    cache: &Cache,
    settings: &Settings,
    member: crate::ids::UserId,
    member_since: DateTime<Utc>,
    action: Action,
    young: Option<Action>,
) -> AppResult<()> {
    let subject = member.to_string();
    check(cache, settings, action, &subject).await?;
    if let Some(young) = young
        && Utc::now() - member_since < chrono::TimeDelta::days(settings.rate_limits.new_member_days)
    {
        check(cache, settings, young, &subject).await?;
    }
    Ok(())
}

/// Where a caller's query budget stands after a request was charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Complexity points per window.
    pub limit: u64,
    /// What this request cost.
    pub cost: u64,
    /// What is left in this window.
    pub remaining: u64,
    /// Seconds until the window starts again with the whole budget.
    pub resets_in: u64,
}

/// Charges a request's computed complexity against the caller's budget for the window:
/// where the budget stands, or `None` when budgets are off or could not be counted.
pub async fn charge_complexity(
    cache: &Cache,
    settings: &Settings,
    member: Option<crate::ids::UserId>,
    address: &str,
    cost: u64,
) -> AppResult<Option<Budget>> {
    if !settings.rate_limits.enabled {
        return Ok(None);
    }
    let (rule, key) = match member {
        Some(id) => (
            settings.rate_limits.complexity_per_member,
            format!("rl:complexity:{id}"),
        ),
        None => (
            settings.rate_limits.complexity_per_ip,
            format!("rl:complexity:{address}"),
        ),
    };
    let (spent, ttl) = match cache
        .incr_window_by(&key, cost, Duration::from_secs(rule.per_secs))
        .await
    {
        Ok(counted) => counted,
        Err(e) => {
            tracing::warn!(error = %e, "the query budget could not be counted");
            return Ok(None);
        }
    };
    if spent > rule.max {
        crate::metrics::record_refusal("complexity");
        return Err(AppError::RateLimited {
            message: format!(
                "Query budget spent: {} complexity points every {}; this request costs {cost}; try again in {} s",
                rule.max,
                window_text(rule.per_secs),
                ttl.max(1)
            ),
            retry_after: ttl.max(1),
        });
    }
    Ok(Some(Budget {
        limit: rule.max,
        cost,
        remaining: rule.max - spent,
        resets_in: ttl,
    }))
}

fn window_text(secs: u64) -> String {
    match secs {
        86_400 => "day".to_owned(),
        3_600 => "hour".to_owned(),
        s if s % 3_600 == 0 => format!("{} hours", s / 3_600),
        60 => "minute".to_owned(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_naturally() {
        assert_eq!(window_text(30), "30 seconds");
        assert_eq!(window_text(300), "5 minutes");
        assert_eq!(window_text(3_600), "hour");
        assert_eq!(window_text(86_400), "day");
    }

    #[tokio::test]
    async fn the_window_refuses_past_its_rule() {
        let cache = Cache::memory();
        let mut settings = Settings::default();
        settings.rate_limits.comment_create = Rule::new(2, 30);
        for _ in 0..2 {
            check(&cache, &settings, Action::CommentCreate, "m")
                .await
                .unwrap();
        }
        let err = check(&cache, &settings, Action::CommentCreate, "m")
            .await
            .unwrap_err();
        match err {
            AppError::RateLimited { retry_after, .. } => assert!((1..=30).contains(&retry_after)),
            other => panic!("{other:?}"),
        }
        check(&cache, &settings, Action::CommentCreate, "other")
            .await
            .unwrap();
    }
}
