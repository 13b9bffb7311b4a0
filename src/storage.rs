//! Where uploaded images are kept: Cloudinary when `CLOUDINARY_URL` is set, otherwise a
//! local directory served at `/uploads/`.
//!
//! Cloudinary is reached through a small client of our own (signed upload API, base URL
//! configurable) rather than the `cloudinary` crate, which hard-codes its host, ignores
//! HTTP statuses and signs with millisecond timestamps.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use sha1::{Digest as _, Sha1};

use crate::config::Settings;
use crate::error::{AppError, AppResult};
use crate::images::{self, Cleaned, Format};

/// Path prefix of locally stored images.
pub const UPLOADS_PATH: &str = "/uploads";

#[derive(Clone)]
pub enum Storage {
    Local { dir: PathBuf, base_url: String },
    Cloudinary(Cloudinary),
}

/// A stored original.
#[derive(Debug, Clone)]
pub struct Stored {
    pub key: String,
    pub url: String,
}

impl Storage {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        match settings
            .cloudinary_url
            .as_ref()
            .map(|u| u.expose_secret().trim().to_owned())
            .filter(|u| !u.is_empty())
        {
            Some(url) => Ok(Self::Cloudinary(Cloudinary::new(
                &url,
                &settings.uploads.cloudinary_api_base,
            )?)),
            None => Ok(Self::Local {
                dir: settings.uploads.dir.clone(),
                base_url: format!("{}{UPLOADS_PATH}", settings.public_origin()),
            }),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Local { .. } => "local",
            Self::Cloudinary(_) => "cloudinary",
        }
    }

    /// Stores the cleaned original under `key`.
    pub async fn put(&self, key: &str, image: &Cleaned) -> AppResult<Stored> {
        match self {
            Self::Local { dir, base_url } => {
                let file = format!("{key}.{}", image.format.extension());
                write_file(dir, &file, &image.bytes).await?;
                Ok(Stored {
                    key: file.clone(),
                    url: format!("{base_url}/{file}"),
                })
            }
            Self::Cloudinary(client) => client.upload(key, image).await,
        }
    }

    /// A copy cropped to fill `width`x`height`: a transformation URL on Cloudinary, a
    /// resized file locally.
    pub async fn variant(
        &self,
        stored: &Stored,
        image: &Arc<Cleaned>,
        name: &str,
        width: u32,
        height: u32,
    ) -> AppResult<String> {
        match self {
            Self::Local { dir, base_url } => {
                let (format, bytes) = resize_blocking(image, width, height).await?;
                let stem = stored
                    .key
                    .rsplit_once('.')
                    .map_or(stored.key.as_str(), |(stem, _)| stem);
                let file = format!("{stem}-{name}.{}", format.extension());
                write_file(dir, &file, &bytes).await?;
                Ok(format!("{base_url}/{file}"))
            }
            Self::Cloudinary(_) => Ok(cloudinary_transform(
                &stored.url,
                &format!("c_fill,g_auto,w_{width},h_{height}"),
            )),
        }
    }
}

impl Storage {
    /// The bytes of a stored original (for a member's export): the file, or a download
    /// of its URL from Cloudinary (read through the outbound limits), at most `max` bytes.
    pub async fn read(
        &self,
        outbound: &crate::config::OutboundSettings,
        key: &str,
        url: &str,
        max: usize,
    ) -> AppResult<Vec<u8>> {
        match self {
            Self::Local { dir, .. } => {
                // Keys are ours (a name in the directory); anything else is not read.
                if key.contains('/') || key.contains('\\') || key.starts_with('.') {
                    return Err(AppError::NotFound("No such stored image".to_owned()));
                }
                tokio::fs::read(dir.join(key))
                    .await
                    .map_err(|_| AppError::NotFound("No such stored image".to_owned()))
            }
            Self::Cloudinary(client) => {
                let failed = |e: &dyn std::fmt::Display| {
                    AppError::internal(anyhow::anyhow!("reading a stored image: {e}"))
                };
                let response = client
                    .http
                    .get(url)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| failed(&e))?;
                crate::outbound::read_capped(outbound, response, max)
                    .await
                    .map_err(|e| failed(&e))
            }
        }
    }

    /// Removes a stored original and its copies. Failures are logged: the record is gone
    /// already, and a leftover file harms nobody.
    pub async fn remove(&self, key: &str, copies: &[String]) {
        match self {
            Self::Local { dir, .. } => {
                let names = std::iter::once(key.to_owned()).chain(
                    copies
                        .iter()
                        .filter_map(|url| url.rsplit('/').next().map(str::to_owned)),
                );
                for name in names {
                    // Names come from our own records; never follow a path out of the folder.
                    if name.contains('/') || name.contains("..") || name.is_empty() {
                        continue;
                    }
                    if let Err(e) = tokio::fs::remove_file(dir.join(&name)).await {
                        tracing::warn!(error = %e, file = %name, "an upload could not be removed");
                    }
                }
            }
            Self::Cloudinary(client) => {
                if let Err(e) = client.destroy(key).await {
                    tracing::warn!(error = %e, "Cloudinary did not delete an image");
                }
            }
        }
    }
}

async fn resize_blocking(
    image: &Arc<Cleaned>,
    width: u32,
    height: u32,
) -> AppResult<(Format, Vec<u8>)> {
    let image = Arc::clone(image);
    tokio::task::spawn_blocking(move || images::resized(&image, width, height))
        .await
        .map_err(AppError::internal)?
}

async fn write_file(dir: &std::path::Path, file: &str, bytes: &[u8]) -> AppResult<()> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("creating {}: {e}", dir.display())))?;
    let path = dir.join(file);
    // Written under a temporary name and renamed, so a reader never sees half a file.
    let partial = dir.join(format!(".{file}.partial"));
    tokio::fs::write(&partial, bytes)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("writing {}: {e}", partial.display())))?;
    tokio::fs::rename(&partial, &path)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("renaming {}: {e}", path.display())))
}

/// Inserts a transformation after `/upload/` in a Cloudinary delivery URL.
pub fn cloudinary_transform(url: &str, transformation: &str) -> String {
    match url.split_once("/upload/") {
        Some((head, tail)) => format!("{head}/upload/{transformation}/{tail}"),
        None => url.to_owned(),
    }
}

/// Cloudinary's signed upload API.
#[derive(Clone)]
pub struct Cloudinary {
    http: reqwest::Client,
    api_base: String,
    cloud_name: String,
    api_key: String,
    api_secret: SecretString,
}

#[derive(Deserialize)]
struct UploadAnswer {
    public_id: String,
    secure_url: String,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: ErrorMessage,
}

#[derive(Deserialize)]
struct ErrorMessage {
    message: String,
}

/// `hex(sha1("k1=v1&k2=v2" + secret))` over the parameters sorted by name, as Cloudinary
/// signs requests (`file`, `cloud_name`, `resource_type` and `api_key` are left out by
/// the caller).
pub fn sign(params: &[(&str, &str)], secret: &str) -> String {
    let mut sorted: Vec<_> = params.iter().filter(|(_, v)| !v.is_empty()).collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let joined = sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    hex::encode(Sha1::digest(format!("{joined}{secret}").as_bytes()))
}

impl Cloudinary {
    /// From `cloudinary://API_KEY:API_SECRET@CLOUD_NAME`.
    pub fn new(url: &str, api_base: &str) -> anyhow::Result<Self> {
        let rest = url.strip_prefix("cloudinary://").ok_or_else(|| {
            anyhow::anyhow!("CLOUDINARY_URL must look like cloudinary://key:secret@cloud")
        })?;
        let (credentials, cloud_name) = rest
            .rsplit_once('@')
            .ok_or_else(|| anyhow::anyhow!("CLOUDINARY_URL has no cloud name"))?;
        let (api_key, api_secret) = credentials
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("CLOUDINARY_URL has no API secret"))?;
        let cloud_name = cloud_name.split(['/', '?']).next().unwrap_or_default();
        if api_key.is_empty() || api_secret.is_empty() || cloud_name.is_empty() {
            anyhow::bail!("CLOUDINARY_URL must look like cloudinary://key:secret@cloud");
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
            cloud_name: cloud_name.to_owned(),
            api_key: api_key.to_owned(),
            api_secret: SecretString::from(api_secret.to_owned()),
        })
    }

    /// Deletes an image (its transformations go with it).
    async fn destroy(&self, public_id: &str) -> anyhow::Result<()> {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = sign(
            &[("public_id", public_id), ("timestamp", &timestamp)],
            self.api_secret.expose_secret(),
        );
        let url = format!("{}/v1_1/{}/image/destroy", self.api_base, self.cloud_name);
        let response = self
            .http
            .post(&url)
            .multipart(
                reqwest::multipart::Form::new()
                    .text("api_key", self.api_key.clone())
                    .text("public_id", public_id.to_owned())
                    .text("timestamp", timestamp)
                    .text("signature", signature),
            )
            .send()
            .await?;
        if !response.status().is_success() {
            anyhow::bail!("Cloudinary answered {}", response.status());
        }
        Ok(())
    }

    async fn upload(&self, public_id: &str, image: &Cleaned) -> AppResult<Stored> {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = sign(
            &[("public_id", public_id), ("timestamp", &timestamp)],
            self.api_secret.expose_secret(),
        );
        let file = reqwest::multipart::Part::bytes(image.bytes.clone())
            .file_name(format!("{public_id}.{}", image.format.extension()))
            .mime_str(image.format.content_type())
            .map_err(AppError::internal)?;
        let form = reqwest::multipart::Form::new()
            .text("api_key", self.api_key.clone())
            .text("public_id", public_id.to_owned())
            .text("timestamp", timestamp)
            .text("signature", signature)
            .part("file", file);
        let url = format!("{}/v1_1/{}/image/upload", self.api_base, self.cloud_name);
        let response = self
            .http
            .post(&url)
            .multipart(form)
            .send()
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("Cloudinary upload failed: {e}")))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("Cloudinary upload failed: {e}")))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorAnswer>(&body)
                .map(|e| e.error.message)
                .unwrap_or_else(|_| "no error message".to_owned());
            return Err(AppError::internal(anyhow::anyhow!(
                "Cloudinary refused the upload with {status}: {message}"
            )));
        }
        let answer: UploadAnswer = serde_json::from_slice(&body).map_err(|e| {
            AppError::internal(anyhow::anyhow!(
                "Cloudinary's answer could not be read: {e}"
            ))
        })?;
        Ok(Stored {
            key: answer.public_id,
            url: answer.secure_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_cloudinarys_worked_example() {
        // From Cloudinary's "Generating authentication signatures" documentation.
        let signature = sign(
            &[
                ("eager", "w_400,h_300,c_pad|w_260,h_200,c_crop"),
                ("public_id", "sample_image"),
                ("timestamp", "1315060510"),
            ],
            "abcd",
        );
        assert_eq!(signature, "bfd09f95f331f558cbd1320e67aa8d488770583e");
    }

    #[test]
    fn transformations_go_after_upload() {
        assert_eq!(
            cloudinary_transform(
                "https://res.cloudinary.com/demo/image/upload/v1/abc.png",
                "c_fill,w_90,h_90"
            ),
            "https://res.cloudinary.com/demo/image/upload/c_fill,w_90,h_90/v1/abc.png"
        );
    }

    #[test]
    fn the_url_gives_the_credentials() {
        let client = Cloudinary::new("cloudinary://123:s3cret@demo", "http://x/").unwrap();
        assert_eq!(client.cloud_name, "demo");
        assert_eq!(client.api_key, "123");
        assert_eq!(client.api_base, "http://x");
        assert!(Cloudinary::new("https://demo", "http://x").is_err());
    }
}
