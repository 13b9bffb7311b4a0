//! `GET /exports/{id}/{signature}`: a member's data export, while its link is valid, sent
//! a slice at a time (the archive is never held whole in memory).

use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, Response, handler};

use crate::domain::portability;
use crate::error::ErrorCode;
use crate::state::AppState;

#[handler]
pub async fn download(
    Path((id, signature)): Path<(String, String)>,
    Data(state): Data<&AppState>,
) -> Response {
    let (id, size) = match portability::download(&state.db, &state.settings, &id, &signature).await
    {
        Ok(found) => found,
        Err(e) => {
            return super::error_response(
                if e.code() == ErrorCode::NotFound {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                },
                e.code(),
                &e.public_message(),
            );
        }
    };
    let db = state.db.clone();
    let slices = futures_util::stream::unfold(0i64, move |offset| {
        let db = db.clone();
        async move {
            if offset >= size {
                return None;
            }
            let len = portability::CHUNK.min(size - offset);
            let slice = portability::archive_slice(&db, id, offset, len).await;
            match slice {
                // Expired mid-way, or cut short: end the body, which comes out shorter than
                // its Content-Length, so the client sees the download failed.
                Ok(bytes) if bytes.is_empty() => None,
                Ok(bytes) => {
                    let next = offset + i64::try_from(bytes.len()).unwrap_or(len);
                    Some((Ok(bytes::Bytes::from(bytes)), next))
                }
                Err(e) => Some((Err(std::io::Error::other(e.public_message())), size)),
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .content_type("application/zip")
        .header(header::CONTENT_LENGTH, size)
        .header(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"vibecoding-export.zip\"",
        )
        .header(header::CACHE_CONTROL, "private, no-store")
        .body(Body::from_bytes_stream(slices))
}
