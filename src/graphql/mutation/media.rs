use async_graphql::{Context, ID, Object, Upload};

use crate::domain::media::{self, Purpose};
use crate::error::{AppError, AppResult};
use crate::graphql::context::{ContextExt as _, limit};
use crate::graphql::mutation::payload::{mutation_input, mutation_payload, respond};
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

mutation_input! {
    /// An image file to upload.
    UploadImageInput {
        /// The image file, as a GraphQL multipart request part.
        file: Upload,
        /// What the image is for; decides the copies made. ARTICLE when left out.
        purpose: Option<ImagePurpose>,
    }
}

mutation_payload! {
    /// An uploaded image.
    UploadImagePayload {
        /// The image, with its URL and copies.
        image: Option<ImageNode>,
    }
}

mutation_input! {
    /// One of your images.
    DeleteImageInput {
        /// The image's global ID.
        id: ID,
    }
}

mutation_payload! {
    /// A deleted image.
    DeleteImagePayload {
        /// The deleted image's ID, to drop it from `viewer.images`.
        deleted_image_id: Option<ID>,
    }
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
        #[graphql(desc = "The file and what it is for.")] input: UploadImageInput,
    ) -> async_graphql::Result<UploadImagePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            let purpose = input.purpose.unwrap_or(ImagePurpose::Article);
            let image = store_upload(ctx, &input.file, purpose.into()).await?;
            Ok(UploadImagePayload {
                image: Some(ImageNode(image)),
                ..Default::default()
            })
        })
        .await
    }

    /// Deletes one of your images and its stored copies. Articles that show it keep the
    /// URL, which stops working.
    async fn delete_image(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The image to delete.")] input: DeleteImageInput,
    ) -> async_graphql::Result<DeleteImagePayload> {
        respond(ctx, input.client_mutation_id.clone(), async {
            ctx.require_viewer()?;
            let id = crate::graphql::node::decode_as::<ImageNode>(&input.id)?;
            let state = ctx.state();
            media::delete(&state.db, &state.storage, ctx.require_viewer()?, id).await?;
            Ok(DeleteImagePayload {
                deleted_image_id: Some(input.id.clone()),
                ..Default::default()
            })
        })
        .await
    }
}
