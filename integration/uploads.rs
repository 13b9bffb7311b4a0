//! Image uploads through the GraphQL multipart request: checks on real image bytes,
//! metadata stripping, local storage and its resized copies, and Cloudinary's signed
//! upload API against a local server.

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, Frame, RgbaImage};
use serde_json::{Value, json};
use sha1::{Digest as _, Sha1};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Options, TestApp, code, field, message, spawn_app, spawn_app_with};

const UPLOAD: &str = "mutation($file: Upload!, $purpose: ImagePurpose) { uploadImage(input: { file: $file, purpose: $purpose }) { userErrors { field message code } image { id url width height format size purpose variants { name url width height } } } }";

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(image)
        .write_with_encoder(PngEncoder::new(&mut out))
        .unwrap();
    out
}

/// One colour, so even a huge image is a small file: a decompression bomb.
fn solid_png(width: u32, height: u32) -> Vec<u8> {
    let image = image::GrayImage::from_pixel(width, height, image::Luma([7]));
    let mut out = Vec::new();
    DynamicImage::ImageLuma8(image)
        .write_with_encoder(PngEncoder::new(&mut out))
        .unwrap();
    out
}

fn gif(frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 30);
        for i in 0..frames {
            let shade = (i % 250) as u8;
            encoder
                .encode_frame(Frame::new(RgbaImage::from_pixel(
                    4,
                    4,
                    image::Rgba([shade, 0, 0, 255]),
                )))
                .unwrap();
        }
    }
    out
}

/// A JPEG whose APP1 segment holds EXIF with a GPS position.
fn jpeg_with_gps() -> Vec<u8> {
    let image = image::RgbImage::from_pixel(32, 24, image::Rgb([10, 120, 200]));
    let mut plain = Vec::new();
    JpegEncoder::new_with_quality(&mut plain, 90)
        .encode_image(&image)
        .unwrap();
    // TIFF, little-endian: IFD0 with one entry (GPSInfo), then the GPS IFD with the
    // latitude reference and the latitude.
    let mut tiff: Vec<u8> = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend(1u16.to_le_bytes());
    tiff.extend(0x8825u16.to_le_bytes());
    tiff.extend(4u16.to_le_bytes());
    tiff.extend(1u32.to_le_bytes());
    tiff.extend(26u32.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    tiff.extend(2u16.to_le_bytes());
    tiff.extend(1u16.to_le_bytes());
    tiff.extend(2u16.to_le_bytes());
    tiff.extend(2u32.to_le_bytes());
    tiff.extend(*b"N\0\0\0");
    tiff.extend(2u16.to_le_bytes());
    tiff.extend(5u16.to_le_bytes());
    tiff.extend(3u32.to_le_bytes());
    tiff.extend(56u32.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    for (n, d) in [(52u32, 1u32), (31, 1), (0, 1)] {
        tiff.extend(n.to_le_bytes());
        tiff.extend(d.to_le_bytes());
    }
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(tiff);
    payload.extend(b"GPSSecretPlace");
    let mut out = plain[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    out.extend(payload);
    out.extend(&plain[2..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn upload(
    app: &TestApp,
    token: Option<&str>,
    name: &str,
    bytes: Vec<u8>,
    purpose: &str,
) -> (u16, Value) {
    app.upload(
        token,
        UPLOAD,
        json!({ "file": null, "purpose": purpose }),
        "file",
        name,
        bytes,
    )
    .await
}

/// The path of a URL on the test server's public origin.
fn local_path(url: &str) -> String {
    let at = url.find("/uploads/").expect("a local upload URL");
    url[at..].to_owned()
}

#[tokio::test]
async fn uploads_are_judged_by_their_bytes_and_refusals_store_nothing() {
    let app = spawn_app_with(Options::default(), |s| s.uploads.max_bytes = 300_000).await;
    let ada = app.member("ada").await;

    // A PNG named .gif is a PNG.
    let (status, body) = upload(&app, Some(&ada), "holiday.gif", png(64, 48), "ARTICLE").await;
    assert_eq!(status, 200, "{body}");
    let image = &body["data"]["uploadImage"]["image"];
    assert_eq!(image["format"], "PNG", "{body}");
    assert_eq!(
        (image["width"].as_i64(), image["height"].as_i64()),
        (Some(64), Some(48))
    );
    assert!(image["url"].as_str().unwrap().ends_with(".png"), "{body}");
    let served = app.get(&local_path(image["url"].as_str().unwrap())).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert!(
        served.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let bytes = served.bytes().await.unwrap();
    assert_eq!(image["size"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 64);

    let refusals: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "logo.svg",
            br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_vec(),
            "SVG",
        ),
        (
            "page.png",
            b"<html><body>hi</body></html>".to_vec(),
            "not a JPEG",
        ),
        ("huge.png", solid_png(5000, 5000), "5000x5000"),
        ("wide.png", solid_png(4097, 10), "4097x10"),
        ("flipbook.gif", gif(501), "more than 500 frames"),
        ("noise.png", vec![0x89; 299_000], "not a JPEG"),
        (
            "big.jpg",
            {
                let mut b = png(8, 8);
                b.resize(300_001, 0);
                b
            },
            "at most 300000",
        ),
        (
            "truncated.png",
            png(64, 64)[..60].to_vec(),
            "could not be read",
        ),
    ];
    for (name, bytes, reason) in refusals {
        let (status, body) = upload(&app, Some(&ada), name, bytes, "ARTICLE").await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(code(&body), "BAD_USER_INPUT", "{name}: {body}");
        assert_eq!(field(&body), "file", "{name}: {body}");
        let message = message(&body);
        assert!(message.contains(reason), "{name}: {message}");
    }
    // Past the body limit of the upload itself: refused before it is read.
    let (status, body) = upload(&app, Some(&ada), "huge.bin", vec![0; 600_000], "ARTICLE").await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(code(&body), "BAD_USER_INPUT");

    // 500 frames pass.
    let (_, body) = upload(&app, Some(&ada), "anim.gif", gif(500), "ARTICLE").await;
    assert_eq!(
        body["data"]["uploadImage"]["image"]["format"], "GIF",
        "{body}"
    );

    assert_eq!(app.count("SELECT count(*) FROM images").await, 2);
    let files = std::fs::read_dir(&app.state.settings.uploads.dir)
        .unwrap()
        .count();
    assert_eq!(files, 2, "only the accepted files are on disk");

    // Signed out, or without the preflight header a cross-site form cannot send.
    let (_, body) = upload(&app, None, "a.png", png(8, 8), "ARTICLE").await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
    let form = reqwest::multipart::Form::new()
        .text(
            "operations",
            json!({ "query": UPLOAD, "variables": { "file": null } }).to_string(),
        )
        .text("map", r#"{"0":["variables.file"]}"#)
        .part(
            "0",
            reqwest::multipart::Part::bytes(png(8, 8)).file_name("a.png"),
        );
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&ada)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(app.count("SELECT count(*) FROM images").await, 2);
}

#[tokio::test]
async fn exif_and_gps_are_stripped() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let original = jpeg_with_gps();
    assert!(contains(&original, b"Exif") && contains(&original, b"GPSSecretPlace"));
    let (_, body) = upload(&app, Some(&ada), "photo.jpeg", original, "ARTICLE").await;
    let image = &body["data"]["uploadImage"]["image"];
    assert_eq!(image["format"], "JPEG", "{body}");
    assert!(image["url"].as_str().unwrap().ends_with(".jpg"));
    let stored = app
        .get(&local_path(image["url"].as_str().unwrap()))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(!contains(&stored, b"Exif"), "EXIF survived");
    assert!(!contains(&stored, b"GPSSecretPlace"), "GPS data survived");
    let decoded = image::load_from_memory(&stored).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (32, 24));
}

#[tokio::test]
async fn avatars_and_covers_get_resized_copies() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let bob = app.member("bob").await;

    let (_, body) = app
        .upload(
            Some(&ada),
            "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { userErrors { field message code } user { name avatarUrl } } }",
            json!({ "i": { "avatar": null, "name": "Ada L." } }),
            "i.avatar",
            "me.png",
            png(600, 400),
        )
        .await;
    let profile = &body["data"]["updateProfile"]["user"];
    assert_eq!(profile["name"], "Ada L.", "{body}");
    let avatar = profile["avatarUrl"].as_str().unwrap();
    assert!(avatar.contains("-medium."), "{avatar}");
    let bytes = app.get(&local_path(avatar)).await.bytes().await.unwrap();
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (320, 320));

    let (_, body) = upload(&app, Some(&ada), "cover.png", png(1600, 900), "COVER").await;
    let image = &body["data"]["uploadImage"]["image"];
    let variant = &image["variants"][0];
    assert_eq!(variant["name"], "cover", "{body}");
    assert_eq!(
        (variant["width"].as_i64(), variant["height"].as_i64()),
        (Some(1000), Some(420))
    );
    let bytes = app
        .get(&local_path(variant["url"].as_str().unwrap()))
        .await
        .bytes()
        .await
        .unwrap();
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (1000, 420));

    let create = "mutation($i: CreateArticleInput!) { createArticle(input: $i) { userErrors { field message code } article { coverImageUrl } } }";
    let data = app
        .ok(
            Some(&ada),
            create,
            json!({ "i": { "title": "With a cover", "bodyMarkdown": "Hi", "coverImageId": image["id"] } }),
        )
        .await;
    assert_eq!(
        data["createArticle"]["article"]["coverImageUrl"],
        variant["url"]
    );
    // Someone else's image is not yours to use.
    let body = app.fails(Some(&bob),
            create,
            json!({ "i": { "title": "Borrowed", "bodyMarkdown": "Hi", "coverImageId": image["id"] } }), "BAD_USER_INPUT").await;
    assert_eq!(field(&body), "coverImageId");
}

/// The parts of a multipart body, by field name (text parts only).
fn form_fields(body: &[u8]) -> std::collections::HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    let mut fields = std::collections::HashMap::new();
    for part in text
        .split("Content-Disposition: form-data; name=\"")
        .skip(1)
    {
        let Some((name, rest)) = part.split_once('"') else {
            continue;
        };
        if rest.starts_with("; filename=") {
            continue;
        }
        if let Some((_, value)) = rest.split_once("\r\n\r\n") {
            let value = value.split("\r\n--").next().unwrap_or("");
            fields.insert(name.to_owned(), value.to_owned());
        }
    }
    fields
}

#[tokio::test]
async fn cloudinary_receives_signed_uploads_and_its_errors_store_nothing() {
    let cloudinary = MockServer::start().await;
    let base = cloudinary.uri();
    let app = spawn_app_with(Options::default(), move |s| {
        s.cloudinary_url = Some("cloudinary://123456:s3cr3t@demo".to_owned().into());
        s.uploads.cloudinary_api_base = base;
    })
    .await;
    let ada = app.member("ada").await;

    Mock::given(method("POST"))
        .and(path("/v1_1/demo/image/upload"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "public_id": "abc123",
            "secure_url": "https://res.cloudinary.com/demo/image/upload/v1700000000/abc123.png",
            "width": 400, "height": 300, "format": "png", "bytes": 1234
        })))
        .up_to_n_times(1)
        .mount(&cloudinary)
        .await;
    let (_, body) = upload(&app, Some(&ada), "me.png", png(400, 300), "AVATAR").await;
    let image = &body["data"]["uploadImage"]["image"];
    assert_eq!(
        image["url"], "https://res.cloudinary.com/demo/image/upload/v1700000000/abc123.png",
        "{body}"
    );
    assert_eq!(image["width"], 400);
    assert_eq!(
        image["variants"][1]["url"],
        "https://res.cloudinary.com/demo/image/upload/c_fill,g_auto,w_320,h_320/v1700000000/abc123.png"
    );
    let requests = cloudinary.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let fields = form_fields(&requests[0].body);
    assert_eq!(fields["api_key"], "123456");
    let timestamp: i64 = fields["timestamp"].parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - timestamp).abs() < 60,
        "seconds, not ms"
    );
    let expected = hex::encode(Sha1::digest(
        format!(
            "public_id={}&timestamp={}s3cr3t",
            fields["public_id"], fields["timestamp"]
        )
        .as_bytes(),
    ));
    assert_eq!(fields["signature"], expected);
    assert!(!fields.contains_key("api_secret"));
    assert!(contains(&requests[0].body, b"filename=\""));

    // Refusals and failures: the client sees a generic internal error, nothing is kept.
    for (status, message) in [(401, "Invalid Signature"), (500, "General Error")] {
        cloudinary.reset().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_json(json!({ "error": { "message": message } })),
            )
            .mount(&cloudinary)
            .await;
        let (_, body) = upload(&app, Some(&ada), "me.png", png(40, 30), "ARTICLE").await;
        assert_eq!(code(&body), "INTERNAL_SERVER_ERROR", "{body}");
        assert!(!body.to_string().contains(message), "{body}");
    }
    assert_eq!(app.count("SELECT count(*) FROM images").await, 1);
}

#[tokio::test]
async fn a_deleted_account_takes_its_images_with_it() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let dir = app.state.settings.uploads.dir.clone();
    let files = || std::fs::read_dir(&dir).map_or(0, |d| d.count());
    // A refused profile change keeps no new avatar, on record or on disk.
    let (_, body) = app
        .upload(
            Some(&ada),
            "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { userErrors { field message code } user { avatarUrl } } }",
            json!({ "i": { "avatar": null, "websiteUrl": "not a url" } }),
            "i.avatar",
            "me.png",
            png(200, 200),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(app.count("SELECT count(*) FROM images").await, 0);
    assert_eq!(files(), 0);
    let (_, body) = app
        .upload(
            Some(&ada),
            "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { userErrors { field message code } user { avatarUrl } } }",
            json!({ "i": { "avatar": null } }),
            "i.avatar",
            "me.png",
            png(200, 200),
        )
        .await;
    let avatar = body["data"]["updateProfile"]["user"]["avatarUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    upload(&app, Some(&ada), "post.png", png(30, 30), "ARTICLE").await;
    let dir = app.state.settings.uploads.dir.clone();
    let files = || std::fs::read_dir(&dir).map_or(0, |d| d.count());
    assert_eq!(
        files(),
        4,
        "the avatar, its two copies and the article image"
    );
    assert_eq!(app.get(&local_path(&avatar)).await.status(), 200);

    app.ok(
        Some(&ada),
        "mutation($p: String!) { deleteAccount(input: { password: $p }) { userErrors { field message code } deletedUserId } }",
        json!({ "p": "correct horse battery" }),
    )
    .await;
    assert_eq!(app.count("SELECT count(*) FROM images").await, 0);
    app.drain_jobs().await;
    assert_eq!(files(), 0, "the stored files are removed by the worker");
    assert_eq!(app.get(&local_path(&avatar)).await.status(), 404);
}

/// A photo sent as lossy WebP is stored lossy (VP8), not re-encoded losslessly into a file
/// many times its size; a lossless one stays lossless (VP8L).
#[tokio::test]
async fn webp_keeps_its_kind_of_compression() {
    let app = spawn_app().await;
    let ada = app.member("ada").await;
    let photo = image::RgbaImage::from_fn(200, 150, |x, y| {
        image::Rgba([
            (x * 7 % 256) as u8,
            (y * 13 % 256) as u8,
            ((x + y) % 256) as u8,
            255,
        ])
    });
    let lossy = webp::Encoder::from_rgba(photo.as_raw(), 200, 150)
        .encode(80.0)
        .to_vec();
    let lossless = webp::Encoder::from_rgba(photo.as_raw(), 200, 150)
        .encode_lossless()
        .to_vec();
    for (sent, chunk) in [(lossy, b"VP8 "), (lossless, b"VP8L")] {
        let size = sent.len();
        let (_, body) = upload(&app, Some(&ada), "photo.webp", sent, "ARTICLE").await;
        let image = &body["data"]["uploadImage"]["image"];
        assert_eq!(image["format"], "WEBP", "{body}");
        let stored = app
            .get(&local_path(image["url"].as_str().unwrap()))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(&stored[12..16], chunk, "stored as {:?}", &stored[12..16]);
        if chunk == b"VP8 " {
            assert!(
                stored.len() < size * 2,
                "{} bytes from {size}",
                stored.len()
            );
        }
    }
}
