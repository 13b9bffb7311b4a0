use async_graphql::{Context, ID, Object, Upload};

use crate::domain::media::{self, Purpose};
use crate::error::{AppError, AppResult};
use crate::graphql::context::{ContextExt as _, limit};
use crate::graphql::types::media::{ImageNode, ImagePurpose};
use crate::limits::Action;

/// Checks, cleans and stores an uploaded image for the signed-in member.
pub async fn store_upload(
    ctx: &Context<'_>,
    file: &Upload,
    purpose: Purpose,
) -> AppResult<media::Image> {
    let viewer = ctx.require_viewer()?;
    limit(ctx, Action::ImageUpload, None).await?;
    // The multipart parser spooled the file to a temporary file; it is read off the
    // async threads by `media::upload`.
    let file = file
        .value(ctx)
        .map_err(|_| AppError::bad_input("file", "the file part is missing"))?
        .into_read();
    let state = ctx.state();
    media::upload(
        &state.db,
        &state.storage,
        &state.settings.uploads,
        viewer,
        purpose,
        file,
    )
    .await
}

#[derive(Default)]
pub struct MediaMutation;

#[Object]
impl MediaMutation {
    /// Uploads an image (GraphQL multipart request). JPEG, PNG, GIF or WebP, read from
    /// the bytes; at most 25 MB and 4096x4096 pixels, a GIF at most 500 frames. Metadata
    /// (EXIF, GPS) is removed. Refer to it by URL in Markdown, or by ID as a cover.
    async fn upload_image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The image file, as a GraphQL multipart request part.")] file: Upload,
        #[graphql(desc = "What the image is for; decides the copies made.")] purpose: Option<
            ImagePurpose,
        >,
    ) -> async_graphql::Result<ImageNode> {
        let purpose = purpose.unwrap_or(ImagePurpose::Article);
        Ok(ImageNode(store_upload(ctx, &file, purpose.into()).await?))
    }

    /// Deletes one of your images and its stored copies. Articles that show it keep the
    /// URL, which stops working.
    async fn delete_image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The image's global ID.")] id: ID,
    ) -> async_graphql::Result<bool> {
        let id = crate::graphql::node::decode_as::<ImageNode>(&id)?;
        let state = ctx.state();
        media::delete(&state.db, &state.storage, ctx.require_viewer()?, id).await?;
        Ok(true)
    }
}
