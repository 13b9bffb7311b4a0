use async_graphql::{Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::media::{self, Image, ImageKey, Purpose};
use crate::graphql::context::ContextExt as _;
use crate::graphql::node::NodeType;
use crate::graphql::pagination::{Conn, IntoConnection as _, PageArgs, Total};
use crate::ids::UserId;

/// What an uploaded image is for; decides the copies made.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "Purpose")]
pub enum ImagePurpose {
    /// For use in an article's body; kept as uploaded (cleaned).
    Article,
    /// An article's cover; a 1000x420 copy is made.
    Cover,
    /// A profile picture; 90 and 320 px square copies are made.
    Avatar,
}

/// The format of an uploaded image, as its bytes show it.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::images::Format")]
pub enum ImageFormat {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// GIF.
    Gif,
    /// WebP.
    Webp,
}

#[derive(SimpleObject)]
/// A resized copy of an image.
pub struct ImageVariant {
    /// `small` (90 px) or `medium` (320 px) for avatars, `cover` (1000x420) for covers.
    pub name: String,
    /// Where the copy is served.
    pub url: String,
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
}

pub struct ImageNode(pub Image);

impl NodeType for ImageNode {
    const TYPE_NAME: &'static str = "Image";
    type Id = crate::ids::ImageId;
}

/// An uploaded image, cleaned of its metadata.
#[Object(name = "Image")]
impl ImageNode {
    /// The image's opaque global ID (for `coverImageId` and `deleteImage`).
    pub async fn id(&self) -> ID {
        Self::global_id(self.0.id)
    }
    /// Where the cleaned image is served; use it in Markdown.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// Width in pixels.
    async fn width(&self) -> i32 {
        self.0.width
    }
    /// Height in pixels.
    async fn height(&self) -> i32 {
        self.0.height
    }
    /// The image's format, read from its bytes (never from its name).
    async fn format(&self) -> ImageFormat {
        self.0.format.into()
    }
    /// Bytes stored.
    async fn size(&self) -> i64 {
        self.0.size_bytes
    }
    /// What it was uploaded for.
    async fn purpose(&self) -> ImagePurpose {
        self.0.purpose.into()
    }
    /// Resized copies: `small` and `medium` for avatars, `cover` for covers.
    async fn variants(&self) -> Vec<ImageVariant> {
        self.0
            .variants
            .iter()
            .map(|v| ImageVariant {
                name: v.name.clone(),
                url: v.url.clone(),
                width: v.width,
                height: v.height,
            })
            .collect()
    }
    /// When it was uploaded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A page of `owner`'s images, newest first.
pub async fn image_page(
    ctx: &async_graphql::Context<'_>,
    owner: UserId,
    args: PageArgs,
) -> async_graphql::Result<Conn<ImageNode>> {
    let page = ctx.page::<ImageKey>(args)?;
    let db = ctx.state().db.clone();
    let rows = media::list_owned(&db, owner, &page).await?;
    let total = Total::later(async move { media::count_owned(&db, owner).await });
    Ok(page
        .into_connection(rows.into_iter().map(ImageNode).collect(), |i| {
            (i.0.created_at, i.0.id)
        })?
        .counted(total))
}
