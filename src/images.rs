//! Checks an uploaded file and rewrites it without its metadata.
//!
//! The type comes from the bytes (never the name); only JPEG, PNG, GIF and WebP pass.
//! Dimensions (and a GIF's frame count) are read from the headers before any pixel is
//! decoded, so a decompression bomb is refused for the price of reading its header; the
//! decoder then runs with the same limits. So is an animation whose frames together hold
//! more than `uploads.max_pixels` (a 4096x4096 canvas of 500 frames would be 8 billion
//! pixels to decode and encode again). Every image is decoded and encoded again: what is
//! stored holds pixels only, so EXIF (GPS included), XMP, comments and anything hidden
//! after the image data are gone. JPEG orientation is applied to the pixels first. A lossy
//! WebP is encoded lossy again (libwebp), a lossless one lossless: a photo does not grow
//! tenfold on the way in.

use std::io::Cursor;

use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{AnimationDecoder as _, DynamicImage, ImageDecoder as _, ImageFormat, ImageReader};

use crate::config::UploadSettings;
use crate::error::{AppError, AppResult};

/// The formats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Gif,
    Webp,
}

crate::text_enum!(Format {
    Jpeg = "jpeg",
    Png = "png",
    Gif = "gif",
    Webp = "webp",
});

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            other => other.as_str(),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
        }
    }
}

/// A checked image, re-encoded without metadata.
pub struct Cleaned {
    pub format: Format,
    pub width: u32,
    pub height: u32,
    pub frames: u32,
    /// Encoded with loss (JPEG, lossy WebP): its copies are too.
    pub lossy: bool,
    pub bytes: Vec<u8>,
    /// The first frame, for resized copies.
    pub first_frame: DynamicImage,
}

fn refuse(message: impl Into<String>) -> AppError {
    AppError::bad_input("file", message)
}

fn sniff(raw: &[u8]) -> AppResult<Format> {
    let format = image::guess_format(raw).ok();
    match format {
        Some(ImageFormat::Jpeg) => Ok(Format::Jpeg),
        Some(ImageFormat::Png) => Ok(Format::Png),
        Some(ImageFormat::Gif) => Ok(Format::Gif),
        Some(ImageFormat::WebP) => Ok(Format::Webp),
        Some(other) => Err(refuse(format!(
            "{} images are not accepted: upload JPEG, PNG, GIF or WebP",
            other
                .extensions_str()
                .first()
                .unwrap_or(&"these")
                .to_uppercase()
        ))),
        None => Err(refuse(
            "the file is not a JPEG, PNG, GIF or WebP image (SVG and other formats are not accepted)",
        )),
    }
}

fn limits(settings: &UploadSettings) -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(settings.max_dimension);
    limits.max_image_height = Some(settings.max_dimension);
    // Room for one RGBA frame of the largest size, and the decoder's own buffers.
    let side = u64::from(settings.max_dimension);
    limits.max_alloc = Some(side * side * 4 * 2 + 64 * 1024 * 1024);
    limits
}

fn check_size(settings: &UploadSettings, width: u32, height: u32, frames: u32) -> AppResult<()> {
    if width == 0 || height == 0 {
        return Err(refuse("the image has no pixels"));
    }
    let max = settings.max_dimension;
    if width > max || height > max {
        return Err(refuse(format!(
            "the image is {width}x{height} pixels; at most {max}x{max} are accepted"
        )));
    }
    let pixels = u64::from(width) * u64::from(height) * u64::from(frames.max(1));
    if pixels > settings.max_pixels {
        return Err(refuse(format!(
            "the image holds {pixels} pixels over its {frames} frame(s); at most {} are accepted",
            settings.max_pixels
        )));
    }
    Ok(())
}

/// Whether a WebP file holds a lossy (VP8) image rather than a lossless (VP8L) one.
fn webp_is_lossy(raw: &[u8]) -> bool {
    // RIFF header (12 bytes), then chunks: a four-byte tag, a little-endian size, the
    // data padded to even length.
    let mut at = 12usize;
    while let Some(header) = raw.get(at..at + 8) {
        match &header[..4] {
            b"VP8 " => return true,
            b"VP8L" => return false,
            _ => {}
        }
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        at = at
            .saturating_add(8)
            .saturating_add(size)
            .saturating_add(size % 2);
    }
    false
}

/// Lossy WebP through libwebp, at `quality` (0-100).
fn lossy_webp(pixels: &DynamicImage, quality: f32) -> AppResult<Vec<u8>> {
    let rgba = pixels.to_rgba8();
    let encoder = webp::Encoder::from_rgba(rgba.as_raw(), rgba.width(), rgba.height());
    let encoded = encoder
        .encode_simple(false, quality)
        .map_err(|e| AppError::internal(anyhow::anyhow!("WebP encoding failed: {e:?}")))?;
    Ok(encoded.to_vec())
}

fn unreadable(e: impl std::fmt::Display) -> AppError {
    refuse(format!("the image could not be read: {e}"))
}

fn encoding_failed(e: image::ImageError) -> AppError {
    AppError::internal(anyhow::anyhow!("re-encoding an upload failed: {e}"))
}

/// Checks `raw` against the upload rules and re-encodes it. CPU-bound: run it on a
/// blocking thread.
pub fn clean(raw: &[u8], settings: &UploadSettings) -> AppResult<Cleaned> {
    if raw.len() > settings.max_bytes {
        return Err(refuse(format!(
            "the file is {} bytes; at most {} are accepted",
            raw.len(),
            settings.max_bytes
        )));
    }
    if raw.is_empty() {
        return Err(refuse("the file is empty"));
    }
    let format = sniff(raw)?;
    match format {
        Format::Gif => clean_gif(raw, settings),
        _ => clean_still(raw, format, settings),
    }
}

fn clean_still(raw: &[u8], format: Format, settings: &UploadSettings) -> AppResult<Cleaned> {
    let image_format = match format {
        Format::Jpeg => ImageFormat::Jpeg,
        Format::Png => ImageFormat::Png,
        Format::Webp => ImageFormat::WebP,
        Format::Gif => ImageFormat::Gif,
    };
    // The header's size, before a single pixel is decoded.
    let (width, height) = ImageReader::with_format(Cursor::new(raw), image_format)
        .into_dimensions()
        .map_err(unreadable)?;
    check_size(settings, width, height, 1)?;
    let mut reader = ImageReader::with_format(Cursor::new(raw), image_format);
    reader.limits(limits(settings));
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().ok();
    let mut pixels = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    if let Some(orientation) = orientation {
        pixels.apply_orientation(orientation);
    }
    let mut bytes = Vec::new();
    match format {
        Format::Jpeg => {
            let rgb = pixels.to_rgb8();
            JpegEncoder::new_with_quality(&mut bytes, 88)
                .encode_image(&rgb)
                .map_err(encoding_failed)?;
        }
        Format::Png => pixels
            .write_with_encoder(PngEncoder::new(&mut bytes))
            .map_err(encoding_failed)?,
        Format::Webp if webp_is_lossy(raw) => bytes = lossy_webp(&pixels, 85.0)?,
        Format::Webp => {
            let rgba = DynamicImage::ImageRgba8(pixels.to_rgba8());
            rgba.write_with_encoder(WebPEncoder::new_lossless(&mut bytes))
                .map_err(encoding_failed)?;
        }
        // `clean` sends GIFs to `clean_gif`.
        Format::Gif => return clean_gif(raw, settings),
    }
    Ok(Cleaned {
        format,
        width: pixels.width(),
        height: pixels.height(),
        frames: 1,
        lossy: format == Format::Jpeg || (format == Format::Webp && webp_is_lossy(raw)),
        bytes,
        first_frame: pixels,
    })
}

/// Counts a GIF's frames from their descriptors, without decompressing any.
fn gif_frames(raw: &[u8], settings: &UploadSettings) -> AppResult<u32> {
    let mut options = gif::DecodeOptions::new();
    options.skip_frame_decoding(true);
    let mut decoder = options.read_info(Cursor::new(raw)).map_err(unreadable)?;
    let (width, height) = (u32::from(decoder.width()), u32::from(decoder.height()));
    check_size(settings, width, height, 1)?;
    let mut frames = 0u32;
    while decoder.next_frame_info().map_err(unreadable)?.is_some() {
        frames += 1;
        if frames > settings.max_frames {
            return Err(refuse(format!(
                "the GIF has more than {} frames; at most {} are accepted",
                settings.max_frames, settings.max_frames
            )));
        }
        // Each frame is decoded onto the whole canvas: refused as soon as they add up.
        check_size(settings, width, height, frames)?;
    }
    if frames == 0 {
        return Err(refuse("the GIF has no frames"));
    }
    Ok(frames)
}

fn clean_gif(raw: &[u8], settings: &UploadSettings) -> AppResult<Cleaned> {
    let frames = gif_frames(raw, settings)?;
    let mut decoder = GifDecoder::new(Cursor::new(raw)).map_err(unreadable)?;
    decoder.set_limits(limits(settings)).map_err(unreadable)?;
    let (width, height) = decoder.dimensions();
    let mut bytes = Vec::new();
    let mut first_frame = None;
    {
        // Fastest palette search: the frames come from a GIF, so each already fits one.
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, 30);
        encoder
            .set_repeat(Repeat::Infinite)
            .map_err(encoding_failed)?;
        for frame in decoder.into_frames() {
            let frame = frame.map_err(unreadable)?;
            if first_frame.is_none() {
                first_frame = Some(DynamicImage::ImageRgba8(frame.buffer().clone()));
            }
            encoder.encode_frame(frame).map_err(encoding_failed)?;
        }
    }
    let first_frame = first_frame.ok_or_else(|| refuse("the GIF has no frames"))?;
    Ok(Cleaned {
        format: Format::Gif,
        width,
        height,
        frames,
        lossy: false,
        bytes,
        first_frame,
    })
}

/// A resized copy (cropped to fill `width`x`height`), in the image's format (a GIF's
/// copy is a still PNG of its first frame).
pub fn resized(image: &Cleaned, width: u32, height: u32) -> AppResult<(Format, Vec<u8>)> {
    let copy =
        image
            .first_frame
            .resize_to_fill(width, height, image::imageops::FilterType::Triangle);
    let mut bytes = Vec::new();
    let format = match image.format {
        Format::Jpeg => {
            JpegEncoder::new_with_quality(&mut bytes, 85)
                .encode_image(&copy.to_rgb8())
                .map_err(encoding_failed)?;
            Format::Jpeg
        }
        Format::Webp if image.lossy => {
            bytes = lossy_webp(&copy, 82.0)?;
            Format::Webp
        }
        Format::Webp => {
            DynamicImage::ImageRgba8(copy.to_rgba8())
                .write_with_encoder(WebPEncoder::new_lossless(&mut bytes))
                .map_err(encoding_failed)?;
            Format::Webp
        }
        Format::Png | Format::Gif => {
            copy.write_with_encoder(PngEncoder::new(&mut bytes))
                .map_err(encoding_failed)?;
            Format::Png
        }
    };
    Ok((format, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(width, height, image::Rgb([200, 30, 30]));
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(image)
            .write_with_encoder(PngEncoder::new(&mut out))
            .unwrap();
        out
    }

    #[test]
    fn the_type_comes_from_the_bytes() {
        let cleaned = clean(&png(10, 8), &crate::config::Settings::default().uploads).unwrap();
        assert_eq!(cleaned.format, Format::Png);
        assert_eq!((cleaned.width, cleaned.height), (10, 8));
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        assert!(clean(svg, &crate::config::Settings::default().uploads).is_err());
    }

    /// Gradients with grain, as a photograph has.
    fn noisy(width: u32, height: u32) -> DynamicImage {
        let mut seed = 0x2545_f491_u32;
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let grain = (seed % 24) as u8;
            image::Rgb([
                (x * 255 / width) as u8 / 2 + grain,
                (y * 255 / height) as u8 / 2 + grain,
                ((x + y) % 256) as u8 / 2 + grain,
            ])
        }))
    }

    #[test]
    fn lossy_webp_stays_lossy_and_lossless_stays_lossless() {
        let settings = crate::config::Settings::default().uploads;
        let photo = noisy(300, 200);
        let lossy = lossy_webp(&photo, 80.0).unwrap();
        assert!(webp_is_lossy(&lossy));
        let cleaned = clean(&lossy, &settings).unwrap();
        assert_eq!(cleaned.format, Format::Webp);
        assert!(cleaned.lossy && webp_is_lossy(&cleaned.bytes));
        // Encoded without loss, the same photo would take several times the bytes.
        let mut lossless = Vec::new();
        photo
            .write_with_encoder(WebPEncoder::new_lossless(&mut lossless))
            .unwrap();
        assert!(
            cleaned.bytes.len() * 2 < lossless.len(),
            "{} vs {}",
            cleaned.bytes.len(),
            lossless.len()
        );
        let kept = clean(&lossless, &settings).unwrap();
        assert!(!kept.lossy && !webp_is_lossy(&kept.bytes));
    }

    #[test]
    fn frames_times_canvas_is_bounded_before_decoding() {
        let mut settings = crate::config::Settings::default().uploads;
        settings.max_pixels = 1_000_000;
        // A 1000x1000 canvas with three one-pixel frames: tiny file, 3 million pixels.
        let mut raw = Vec::new();
        {
            let mut encoder =
                gif::Encoder::new(&mut raw, 1000, 1000, &[0, 0, 0, 255, 255, 255]).unwrap();
            for _ in 0..3 {
                let frame = gif::Frame {
                    width: 1,
                    height: 1,
                    buffer: std::borrow::Cow::Borrowed(&[1]),
                    ..gif::Frame::default()
                };
                encoder.write_frame(&frame).unwrap();
            }
        }
        assert!(raw.len() < 200);
        let error = clean(&raw, &settings).err().unwrap().to_string();
        assert!(error.contains("pixels over its 2 frame"), "{error}");
    }

    #[test]
    fn resized_copies_fill_the_box() {
        let cleaned = clean(&png(40, 20), &crate::config::Settings::default().uploads).unwrap();
        let (format, bytes) = resized(&cleaned, 10, 10).unwrap();
        assert_eq!(format, Format::Png);
        let copy = image::load_from_memory(&bytes).unwrap();
        assert_eq!((copy.width(), copy.height()), (10, 10));
    }
}
