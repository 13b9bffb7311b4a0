//! Opaque global IDs for Relay object identification.
//!
//! A global ID is `base64url("<Type>:<uuid>")`. Clients treat it as opaque; inside the
//! server it becomes a typed ID before it reaches a service.

use async_graphql::ID;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// An entity type with a global ID: its type name and the typed id the ID carries. Every
/// object with an `id` goes through this codec, and `node(id:)` fetches each of them.
pub trait NodeType {
    const TYPE_NAME: &'static str;
    type Id: From<Uuid> + Into<Uuid> + Copy;

    /// The opaque global ID of `id`.
    fn global_id(id: Self::Id) -> ID {
        encode(Self::TYPE_NAME, id.into())
    }
}

pub fn encode(type_name: &str, id: Uuid) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}")))
}

/// Splits a global ID into its type name and UUID; `BAD_USER_INPUT` when it is not one.
pub fn decode(id: &ID) -> AppResult<(String, Uuid)> {
    let invalid = || AppError::bad_input("id", format!("\"{}\" is not a valid ID", id.as_str()));
    let bytes = URL_SAFE_NO_PAD
        .decode(id.as_bytes())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (type_name, raw) = text.split_once(':').ok_or_else(invalid)?;
    let uuid = Uuid::parse_str(raw).map_err(|_| invalid())?;
    Ok((type_name.to_owned(), uuid))
}

/// Decodes an ID that must name an entity of type `T` (argument `id`).
pub fn decode_as<T: NodeType>(id: &ID) -> AppResult<T::Id> {
    decode_field::<T>(id, "id")
}

/// Decodes an ID that must name an entity of type `T`, given as the argument `field`.
pub fn decode_field<T: NodeType>(id: &ID, field: &str) -> AppResult<T::Id> {
    let (type_name, uuid) = decode(id).map_err(|_| {
        AppError::bad_input(field, format!("\"{}\" is not a valid ID", id.as_str()))
    })?;
    if type_name != T::TYPE_NAME {
        return Err(AppError::bad_input(
            field,
            format!("\"{}\" is not the ID of a {}", id.as_str(), T::TYPE_NAME),
        ));
    }
    Ok(uuid.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing;
    impl NodeType for Thing {
        const TYPE_NAME: &'static str = "Thing";
        type Id = crate::ids::TagId;
    }

    #[test]
    fn ids_round_trip_and_check_their_type() {
        let uuid = Uuid::now_v7();
        let id = encode("Thing", uuid);
        assert_eq!(decode(&id).unwrap(), ("Thing".to_owned(), uuid));
        assert_eq!(decode_as::<Thing>(&id).unwrap(), crate::ids::TagId(uuid));
        assert_eq!(Thing::global_id(crate::ids::TagId(uuid)), id);
        assert!(decode_as::<Thing>(&encode("Other", uuid)).is_err());
        assert!(decode(&ID("not an id".into())).is_err());
        assert!(decode(&ID(URL_SAFE_NO_PAD.encode("Thing:42"))).is_err());
    }
}

/// Every object with a global ID implements `Node`; `node(id:)` fetches any of them.
#[derive(async_graphql::Interface)]
#[graphql(field(
    name = "id",
    ty = "async_graphql::ID",
    desc = "The object's opaque global ID."
))]
pub enum Node {
    User(crate::graphql::types::accounts::UserNode),
    Article(crate::graphql::types::content::ArticleNode),
    Comment(crate::graphql::types::content::CommentNode),
    Tag(crate::graphql::types::content::TagNode),
    Session(crate::graphql::types::accounts::SessionNode),
    ApiKey(crate::graphql::types::accounts::ApiKeyNode),
    Notification(crate::graphql::types::notifications::NotificationNode),
    Image(crate::graphql::types::media::ImageNode),
    Report(crate::graphql::types::moderation::ReportNode),
    AuditEntry(crate::graphql::types::moderation::AuditEntryNode),
    Series(crate::graphql::types::content::SeriesNode),
    Webhook(crate::graphql::types::webhooks::WebhookNode),
    WebhookDelivery(crate::graphql::types::webhooks::WebhookDeliveryNode),
    FeedSource(crate::graphql::types::imports::FeedSourceNode),
    Revision(crate::graphql::types::revisions::RevisionNode),
    Organization(crate::graphql::types::organizations::OrganizationNode),
    OrganizationInvitation(crate::graphql::types::organizations::OrganizationInvitation),
    Identity(crate::graphql::types::security::IdentityNode),
    DataExport(crate::graphql::types::security::DataExportNode),
}

/// Loads the object behind a decoded ID through the loaders; `None` when it does not
/// exist or the viewer may not see it.
pub(crate) async fn resolve(
    ctx: &async_graphql::Context<'_>,
    type_name: &str,
    id: Uuid,
) -> async_graphql::Result<Option<Node>> {
    use crate::domain::accounts::Role;
    use crate::graphql::context::ContextExt as _;
    use crate::graphql::types::accounts::{ApiKeyNode, SessionNode, UserNode};
    use crate::graphql::types::content::{ArticleNode, CommentNode, SeriesNode, TagNode};
    use crate::graphql::types::imports::FeedSourceNode;
    use crate::graphql::types::media::ImageNode;
    use crate::graphql::types::moderation::{AuditEntryNode, ReportNode};
    use crate::graphql::types::notifications::NotificationNode;
    use crate::graphql::types::webhooks::{WebhookDeliveryNode, WebhookNode};
    let loaders = ctx.loaders();
    let viewer = ctx.viewer();
    let holds = |role: Role| viewer.is_some_and(|v| v.require_role(role).is_ok());
    Ok(match type_name {
        UserNode::TYPE_NAME => loaders
            .users
            .load_one(id.into())
            .await?
            .map(|u| Node::User(UserNode(u))),
        ArticleNode::TYPE_NAME => loaders
            .article(id.into(), ctx.look_ahead())
            .await?
            .filter(|a| a.visible_to(viewer))
            .map(|a| Node::Article(ArticleNode(a))),
        TagNode::TYPE_NAME => loaders
            .tags
            .load_one(id.into())
            .await?
            .map(|t| Node::Tag(TagNode(t))),
        CommentNode::TYPE_NAME => CommentNode::on_live_article(ctx, id.into())
            .await?
            .map(Node::Comment),
        SeriesNode::TYPE_NAME => SeriesNode::visible(ctx, id.into()).await?.map(Node::Series),
        // The records below are their owner's alone, or the moderators'.
        SessionNode::TYPE_NAME => loaders.sessions.load_one(id.into()).await?.map(|row| {
            Node::Session(SessionNode {
                current: viewer.and_then(|v| v.session_id) == Some(row.id),
                row,
            })
        }),
        ApiKeyNode::TYPE_NAME => loaders
            .api_keys
            .load_one(id.into())
            .await?
            .map(|k| Node::ApiKey(ApiKeyNode(k))),
        NotificationNode::TYPE_NAME => loaders
            .notifications
            .load_one(id.into())
            .await?
            .map(|n| Node::Notification(NotificationNode(n))),
        ImageNode::TYPE_NAME => loaders
            .images
            .load_one(id.into())
            .await?
            .map(|i| Node::Image(ImageNode(i))),
        FeedSourceNode::TYPE_NAME => loaders
            .feed_sources
            .load_one(id)
            .await?
            .map(|s| Node::FeedSource(FeedSourceNode(s))),
        WebhookNode::TYPE_NAME => loaders
            .webhooks
            .load_one(id)
            .await?
            .map(|w| Node::Webhook(WebhookNode(w))),
        WebhookDeliveryNode::TYPE_NAME => loaders
            .webhook_deliveries
            .load_one(id)
            .await?
            .map(|d| Node::WebhookDelivery(WebhookDeliveryNode(d))),
        ReportNode::TYPE_NAME if holds(Role::Moderator) => loaders
            .reports
            .load_one(id.into())
            .await?
            .map(|r| Node::Report(ReportNode(r))),
        crate::graphql::types::organizations::OrganizationNode::TYPE_NAME => {
            loaders.organizations.load_one(id.into()).await?.map(|o| {
                Node::Organization(crate::graphql::types::organizations::OrganizationNode(o))
            })
        }
        crate::graphql::types::organizations::OrganizationInvitation::TYPE_NAME => {
            crate::graphql::types::organizations::invitation(ctx, id.into())
                .await?
                .map(Node::OrganizationInvitation)
        }
        crate::graphql::types::revisions::RevisionNode::TYPE_NAME => {
            crate::graphql::types::revisions::visible(ctx, id.into())
                .await?
                .map(Node::Revision)
        }
        crate::graphql::types::security::IdentityNode::TYPE_NAME => loaders
            .identities
            .load_one(id)
            .await?
            .map(|i| Node::Identity(crate::graphql::types::security::IdentityNode(i))),
        crate::graphql::types::security::DataExportNode::TYPE_NAME => loaders
            .data_exports
            .load_one(id)
            .await?
            .map(|e| Node::DataExport(crate::graphql::types::security::DataExportNode(e))),
        AuditEntryNode::TYPE_NAME if holds(Role::Admin) => loaders
            .audit_entries
            .load_one(id.into())
            .await?
            .map(|e| Node::AuditEntry(AuditEntryNode(e))),
        _ => None,
    })
}

/// The most ids one `nodes(ids:)` call takes.
pub const MAX_NODES: usize = 100;

#[derive(Default)]
pub struct NodeQuery;

#[async_graphql::Object]
impl NodeQuery {
    /// Fetches any object by its global ID; null when it does not exist or is not visible.
    async fn node(
        &self,
        ctx: &async_graphql::Context<'_>,
        #[graphql(desc = "An opaque global ID, as any object's `id` field gives it.")] id: ID,
    ) -> async_graphql::Result<Option<Node>> {
        let (type_name, uuid) = decode(&id)?;
        resolve(ctx, &type_name, uuid).await
    }

    /// Fetches several objects by global ID, in order; null for each one missing. The
    /// loaders batch them into one query per type. At most 100 ids; each costs what its
    /// selection costs.
    #[graphql(complexity = "ids.len().max(1).saturating_mul(child_complexity.max(1)) + 1")]
    async fn nodes(
        &self,
        ctx: &async_graphql::Context<'_>,
        #[graphql(
            desc = "Up to 100 global IDs; the answer keeps their order, with null where one cannot be seen."
        )]
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(AppError::bad_input(
                "ids",
                format!("at most {MAX_NODES} ids can be fetched at once"),
            )
            .into());
        }
        let decoded = ids.iter().map(decode).collect::<AppResult<Vec<_>>>()?;
        futures_util::future::try_join_all(
            decoded
                .iter()
                .map(|(type_name, uuid)| resolve(ctx, type_name, *uuid)),
        )
        .await
    }
}
