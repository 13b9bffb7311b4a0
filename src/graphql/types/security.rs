//! How a member signs in (linked providers, the second factor) and their data exports.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::accounts::identities::Identity;
use crate::domain::accounts::two_factor;
use crate::domain::portability::{self, DataExport};
use crate::graphql::context::ContextExt as _;
use crate::graphql::node::NodeType;

pub struct IdentityNode(pub Identity);

impl NodeType for IdentityNode {
    const TYPE_NAME: &'static str = "Identity";
    type Id = Uuid;
}

#[Object(name = "Identity")]
/// An account at an outside provider (GitHub) that signs the member in.
impl IdentityNode {
    /// The link's opaque global ID (for `unlinkIdentity`).
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// The provider, in lower case: `github`.
    async fn provider(&self) -> &str {
        &self.0.provider
    }
    /// The account's login at the provider, as of its last sign-in here.
    async fn login(&self) -> &str {
        &self.0.login
    }
    /// The account's email at the provider, when it was linked.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// When it was linked.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last began a sign-in here (or was linked).
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
}

/// The member's second factor.
#[derive(SimpleObject)]
pub struct TwoFactor {
    /// Whether signing in takes a code from an authenticator app (or a recovery code).
    pub enabled: bool,
    /// When it was turned on.
    pub enabled_at: Option<DateTime<Utc>>,
    /// Recovery codes not used yet (each works once); regenerate them when few are left.
    pub recovery_codes_left: i32,
}

impl From<two_factor::Status> for TwoFactor {
    fn from(status: two_factor::Status) -> Self {
        Self {
            enabled: status.enabled_at.is_some(),
            enabled_at: status.enabled_at,
            recovery_codes_left: i32::try_from(status.recovery_codes_left).unwrap_or(i32::MAX),
        }
    }
}

/// Where a data export stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum DataExportStatus {
    /// Queued or being built.
    Pending,
    /// Built: `url` downloads it until `expiresAt`.
    Ready,
    /// It could not be built (`error` says why).
    Failed,
    /// Its link expired and the archive was deleted.
    Expired,
}

pub struct DataExportNode(pub DataExport);

impl NodeType for DataExportNode {
    const TYPE_NAME: &'static str = "DataExport";
    type Id = Uuid;
}

#[Object(name = "DataExport")]
/// A ZIP of everything a member made here: articles as Markdown with Forem front matter,
/// comments, reactions, follows, notification settings, uploaded images and the profile.
impl DataExportNode {
    /// The export's opaque global ID.
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// Where it stands.
    async fn status(&self) -> DataExportStatus {
        match self.0.status.as_str() {
            "ready" if self.0.expires_at.is_some_and(|t| t <= Utc::now()) => {
                DataExportStatus::Expired
            }
            "ready" => DataExportStatus::Ready,
            "failed" => DataExportStatus::Failed,
            "expired" => DataExportStatus::Expired,
            _ => DataExportStatus::Pending,
        }
    }
    /// The download link (signed; whoever has it can download), while READY.
    async fn url(&self, ctx: &Context<'_>) -> Option<String> {
        self.0.url(&ctx.state().settings)
    }
    /// When the link stops working and the archive is deleted (`exports.link_days` after
    /// it was built).
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// The archive's size in bytes, once built.
    async fn size_bytes(&self) -> Option<f64> {
        self.0.size_bytes.map(|b| b as f64)
    }
    /// Why it failed, when it did.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// When it was asked for.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was built.
    async fn ready_at(&self) -> Option<DateTime<Utc>> {
        self.0.ready_at
    }
}

/// An article an import did not make, and why.
#[derive(SimpleObject)]
pub struct ImportSkip {
    /// The file in the archive (with the entry's position for an `articles.json`).
    pub source: String,
    /// The article's title, when it could be read.
    pub title: Option<String>,
    /// Why it was skipped.
    pub reason: String,
}

impl From<portability::Skipped> for ImportSkip {
    fn from(s: portability::Skipped) -> Self {
        Self {
            source: s.source,
            title: s.title,
            reason: s.reason,
        }
    }
}
