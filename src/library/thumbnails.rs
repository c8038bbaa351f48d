//! Cover thumbnails, made on demand and cached in `DATA/cache/covers/`. ABS clients ask for covers
//! at the size they draw (`?width=400`, sometimes `&height=` and `&format=webp`) and ABS answers a
//! 400 px wide image when no size is given, so a phone never downloads a 3000 px scan for a grid
//! tile. The cached file is keyed on the source path and size and rebuilt when the source changes.

use std::io::{BufWriter, Cursor};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageReader, Limits};
use sha2::{Digest, Sha256};

/// ABS's default width when the request names none.
pub const DEFAULT_WIDTH: u32 = 400;
/// The largest side a client may ask for; bigger requests are clamped, never refused.
pub const MAX_SIDE: u32 = 2048;
const JPEG_QUALITY: u8 = 85;
/// Source images beyond this (a decompression bomb, or a poster-sized scan) are not decoded.
const MAX_SOURCE_SIDE: u32 = 12_000;
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    /// Lossless: the `image` crate encodes WebP losslessly only, so JPEG stays the default.
    Webp,
    Png,
}

impl Format {
    /// ABS's `format` query values; None for anything else.
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => Some(Format::Jpeg),
            "webp" => Some(Format::Webp),
            "png" => Some(Format::Png),
            _ => None,
        }
    }

    pub fn ext(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Webp => "webp",
            Format::Png => "png",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
            Format::Png => "image/png",
        }
    }
}

/// The size and format a request asks for, already clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub width: u32,
    pub height: Option<u32>,
    pub format: Format,
}

impl Request {
    pub fn new(width: Option<u32>, height: Option<u32>, format: Format) -> Request {
        let clamp = |v: u32| v.clamp(1, MAX_SIDE);
        Request {
            width: clamp(width.unwrap_or(DEFAULT_WIDTH)),
            height: height.map(clamp),
            format,
        }
    }

    fn cache_name(&self, source: &Path) -> String {
        let key = Sha256::digest(source.as_os_str().as_encoded_bytes());
        let size = match self.height {
            Some(h) => format!("{}x{h}", self.width),
            None => self.width.to_string(),
        };
        format!("{}_{size}.{}", &hex::encode(key)[..24], self.format.ext())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ThumbnailError {
    #[error("cover image could not be read: {0}")]
    Decode(String),
    #[error("thumbnail could not be written: {0}")]
    Io(#[from] std::io::Error),
}

pub fn cache_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("cache").join("covers")
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The cached thumbnail of `source` for `req`, made now if missing or older than the source.
/// Blocking (decode, resize, encode): call it from a blocking task.
pub fn thumbnail(data_dir: &Path, source: &Path, req: Request) -> Result<PathBuf, ThumbnailError> {
    let dir = cache_dir(data_dir);
    let name = req.cache_name(source);
    let dest = dir.join(&name);
    let source_time = modified(source);
    if let (Some(made), Some(src)) = (modified(&dest), source_time)
        && made >= src
    {
        return Ok(dest);
    }
    let image = decode(source)?;
    let resized = resize(&image, req.width, req.height);
    let bytes = encode(&resized, req.format)?;
    std::fs::create_dir_all(&dir)?;
    // Write then rename: a concurrent reader sees the old file or the whole new one.
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        req.cache_name(source),
        std::process::id()
    ));
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, &dest)?;
    Ok(dest)
}

fn decode(source: &Path) -> Result<DynamicImage, ThumbnailError> {
    let bytes = std::fs::read(source)?;
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ThumbnailError::Decode(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_SIDE);
    limits.max_image_height = Some(MAX_SOURCE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| ThumbnailError::Decode(e.to_string()))
}

/// Fits the image into `width` × `height` (only `width` when no height), keeping its aspect and
/// never enlarging it: a small cover is re-encoded at its own size.
fn resize(image: &DynamicImage, width: u32, height: Option<u32>) -> DynamicImage {
    let (w, h) = (image.width().max(1), image.height().max(1));
    let box_h = height.unwrap_or(u32::MAX);
    if w <= width && h <= box_h {
        return image.clone();
    }
    image.resize(
        width.min(w),
        box_h.min(h),
        image::imageops::FilterType::Triangle,
    )
}

fn encode(image: &DynamicImage, format: Format) -> Result<Vec<u8>, ThumbnailError> {
    let mut out = Vec::new();
    let failed = |e: image::ImageError| ThumbnailError::Decode(e.to_string());
    match format {
        Format::Jpeg => {
            // JPEG has no alpha: flatten onto the RGB channels.
            let rgb = image.to_rgb8();
            JpegEncoder::new_with_quality(BufWriter::new(&mut out), JPEG_QUALITY)
                .encode_image(&rgb)
                .map_err(failed)?;
        }
        Format::Webp => {
            let rgba = image.to_rgba8();
            WebPEncoder::new_lossless(&mut out)
                .encode(
                    rgba.as_raw(),
                    rgba.width(),
                    rgba.height(),
                    image::ExtendedColorType::Rgba8,
                )
                .map_err(failed)?;
        }
        Format::Png => {
            image
                .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
                .map_err(failed)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb};

    fn write_cover(dir: &Path, w: u32, h: u32) -> PathBuf {
        let img = ImageBuffer::from_fn(w, h, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let path = dir.join("cover.png");
        DynamicImage::ImageRgb8(img)
            .save_with_format(&path, image::ImageFormat::Png)
            .unwrap();
        path
    }

    fn dims(path: &Path) -> (u32, u32) {
        let img = ImageReader::open(path)
            .unwrap()
            .with_guessed_format()
            .unwrap()
            .decode()
            .unwrap();
        (img.width(), img.height())
    }

    #[test]
    fn shrinks_to_the_width_keeping_the_aspect() {
        let dir = tempfile::tempdir().unwrap();
        let src = write_cover(dir.path(), 1200, 1800);
        let out = thumbnail(dir.path(), &src, Request::new(None, None, Format::Jpeg)).unwrap();
        assert_eq!(dims(&out), (400, 600));
        assert!(out.starts_with(cache_dir(dir.path())));
        let webp = thumbnail(
            dir.path(),
            &src,
            Request::new(Some(100), Some(100), Format::Webp),
        )
        .unwrap();
        assert_eq!(dims(&webp), (67, 100));
        assert_eq!(&std::fs::read(&webp).unwrap()[8..12], b"WEBP");
    }

    #[test]
    fn never_enlarges_and_clamps_huge_requests() {
        let dir = tempfile::tempdir().unwrap();
        let src = write_cover(dir.path(), 120, 90);
        let out = thumbnail(
            dir.path(),
            &src,
            Request::new(Some(100_000), None, Format::Png),
        )
        .unwrap();
        assert_eq!(dims(&out), (120, 90));
        assert_eq!(Request::new(Some(0), Some(9_999), Format::Png).width, 1);
        assert_eq!(
            Request::new(Some(10), Some(9_999), Format::Png).height,
            Some(MAX_SIDE)
        );
    }

    #[test]
    fn cached_until_the_source_changes() {
        let dir = tempfile::tempdir().unwrap();
        let src = write_cover(dir.path(), 800, 800);
        let req = Request::new(Some(200), None, Format::Jpeg);
        let first = thumbnail(dir.path(), &src, req).unwrap();
        let made = modified(&first).unwrap();
        let again = thumbnail(dir.path(), &src, req).unwrap();
        assert_eq!(first, again);
        assert_eq!(modified(&again).unwrap(), made);
        // A new cover (newer mtime) replaces the cached thumbnail.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let img = ImageBuffer::from_fn(300, 600, |_, _| Rgb([1u8, 2, 3]));
        DynamicImage::ImageRgb8(img)
            .save_with_format(&src, image::ImageFormat::Png)
            .unwrap();
        let rebuilt = thumbnail(dir.path(), &src, req).unwrap();
        assert_eq!(dims(&rebuilt), (200, 400));
    }

    #[test]
    fn a_corrupt_cover_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("cover.jpg");
        std::fs::write(&src, b"\xff\xd8\xff\xe0 definitely not a jpeg").unwrap();
        let err = thumbnail(dir.path(), &src, Request::new(None, None, Format::Jpeg));
        assert!(matches!(err, Err(ThumbnailError::Decode(_))), "{err:?}");
    }
}
