//! `GET /exports/{id}/{signature}`: a member's data export, while its link is valid.

use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Response, handler};

use crate::domain::portability;
use crate::error::ErrorCode;
use crate::state::AppState;

#[handler]
pub async fn download(
    Path((id, signature)): Path<(String, String)>,
    Data(state): Data<&AppState>,
) -> Response {
    match portability::download(&state.db, &state.settings, &id, &signature).await {
        Ok(bytes) => Response::builder()
            .status(StatusCode::OK)
            .content_type("application/zip")
            .header(
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"vibecoding-export.zip\"",
            )
            .header(header::CACHE_CONTROL, "private, no-store")
            .body(bytes),
        Err(e) => super::error_response(
            if e.code() == ErrorCode::NotFound {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            },
            e.code(),
            &e.public_message(),
        ),
    }
}
