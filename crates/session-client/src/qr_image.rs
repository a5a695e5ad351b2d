//! QR codes read from images: a PNG (decoded with `png`) or JPEG (`jpeg-decoder`) file, made
//! grey, the code found and read with `rqrr`. A screenshot or a photo of a friend's code
//! works; what it holds is read as a contact link or a bare Account ID, as a pasted one is.

use std::io::Read as _;
use std::path::Path;

use crate::link::ContactLink;

/// The largest image read, in pixels (checked in the header, before anything is allocated).
pub const MAX_PIXELS: u64 = 40_000_000;

/// The largest file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// The first bytes of every PNG file.
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
/// The first bytes of every JPEG file (start of image, then a marker).
const JPEG_SIGNATURE: [u8; 3] = [0xff, 0xd8, 0xff];

/// Reads the image at `path`, finds its QR code and reads it as a contact: a `session:` link or
/// a bare Account ID. The contact, or a sentence saying what went wrong.
pub fn read_contact(path: &Path) -> Result<ContactLink, String> {
    let shown = path.display();
    let text = read_qr_text(path)?;
    ContactLink::parse(&text)
        .map_err(|e| format!("the QR code in {shown} is not an Account ID: {e}"))
}

/// The text of the QR code in the image at `path` (a sentence naming the file on failure).
pub fn read_qr_text(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let unreadable = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => format!("there is no file {shown}"),
        std::io::ErrorKind::IsADirectory => format!("{shown} is a folder, not an image"),
        _ => format!("cannot read {shown}: {e}"),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{shown} is too large (more than {} MiB): is it the image of a QR code?",
            MAX_FILE_BYTES >> 20
        ));
    }
    decode_qr(&bytes).map_err(|e| format!("{shown}: {e}"))
}

/// A greyscale image: one byte a pixel, 0 black, 255 white, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreyImage {
    /// Pixels a row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `width * height` bytes.
    pub pixels: Vec<u8>,
}

/// The text of the first readable QR code in the PNG or JPEG image `bytes`.
pub fn decode_qr(bytes: &[u8]) -> Result<String, String> {
    let image = if bytes.starts_with(&PNG_SIGNATURE) {
        png_grey(bytes)?
    } else if bytes.starts_with(&JPEG_SIGNATURE) {
        jpeg_grey(bytes)?
    } else {
        return Err("not a PNG or JPEG image (QR codes are read from PNG and JPEG files)".into());
    };
    decode_grey(&image)
}

/// The text of the first readable QR code in a greyscale image. A photo's grain can break the
/// finder's thresholding, so an image read as it is without success is read again smoothed (a
/// 3 × 3 box blur, then twice).
pub fn decode_grey(image: &GreyImage) -> Result<String, String> {
    let first = match find_and_read(image) {
        Ok(text) => return Ok(text),
        Err(first) => first,
    };
    let once = smoothed(image);
    find_and_read(&once)
        .or_else(|_| find_and_read(&smoothed(&once)))
        .map_err(|_| first)
}

fn find_and_read(image: &GreyImage) -> Result<String, String> {
    let width = image.width;
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(image.width, image.height, |x, y| {
            image.pixels.get(y * width + x).copied().unwrap_or(255)
        });
    let grids = prepared.detect_grids();
    if grids.is_empty() {
        return Err("no QR code found in the image".into());
    }
    let mut last = String::new();
    for grid in grids {
        match grid.decode() {
            Ok((_, text)) => return Ok(text),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!(
        "a QR code was found in the image but it cannot be read ({last})"
    ))
}

/// The image under a 3 × 3 box blur (edges use the pixels there are).
fn smoothed(image: &GreyImage) -> GreyImage {
    let (w, h) = (image.width, image.height);
    let mut pixels = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let (mut sum, mut count) = (0u32, 0u32);
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    sum += u32::from(image.pixels.get(yy * w + xx).copied().unwrap_or(255));
                    count += 1;
                }
            }
            pixels.push(u8::try_from(sum / count.max(1)).unwrap_or(u8::MAX));
        }
    }
    GreyImage {
        width: w,
        height: h,
        pixels,
    }
}

fn too_large(width: u64, height: u64) -> Option<String> {
    (width * height > MAX_PIXELS).then(|| {
        format!(
            "the image is too large ({width} × {height} pixels; at most {} million are read)",
            MAX_PIXELS / 1_000_000
        )
    })
}

/// Decodes a PNG image to grey (transparency shows white).
fn png_grey(bytes: &[u8]) -> Result<GreyImage, String> {
    let damaged = |e: png::DecodingError| format!("a damaged PNG image ({e})");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let (width, height) = {
        let info = decoder.read_header_info().map_err(damaged)?;
        (info.width, info.height)
    };
    if let Some(error) = too_large(u64::from(width), u64::from(height)) {
        return Err(error);
    }
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(damaged)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| "the image is too large".to_owned())?;
    let mut buffer = vec![0u8; size];
    let frame = reader.next_frame(&mut buffer).map_err(damaged)?;
    let channels = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err("a PNG image with an unexpanded palette".into()),
    };
    if frame.bit_depth != png::BitDepth::Eight {
        return Err(format!(
            "a PNG image of an unexpected depth ({:?})",
            frame.bit_depth
        ));
    }
    let (w, h) = (frame.width as usize, frame.height as usize);
    let mut grey = Vec::with_capacity(w * h);
    for y in 0..h {
        let start = y * frame.line_size;
        let line = buffer
            .get(start..start + w * channels)
            .ok_or_else(|| "a damaged PNG image (short rows)".to_owned())?;
        grey.extend(line.chunks_exact(channels).map(|p| match *p {
            [v] => v,
            [v, a] => over_white(v, a),
            [r, g, b] => luma(r, g, b),
            [r, g, b, a] => over_white(luma(r, g, b), a),
            _ => 255,
        }));
    }
    Ok(GreyImage {
        width: w,
        height: h,
        pixels: grey,
    })
}

/// Decodes a JPEG image (baseline or progressive) to grey.
fn jpeg_grey(bytes: &[u8]) -> Result<GreyImage, String> {
    let damaged = |e: jpeg_decoder::Error| format!("a damaged JPEG image ({e})");
    let mut decoder = jpeg_decoder::Decoder::new(std::io::Cursor::new(bytes));
    decoder.read_info().map_err(damaged)?;
    let info = decoder
        .info()
        .ok_or_else(|| "a damaged JPEG image (no header)".to_owned())?;
    let (w, h) = (usize::from(info.width), usize::from(info.height));
    if let Some(error) = too_large(w as u64, h as u64) {
        return Err(error);
    }
    let data = decoder.decode().map_err(damaged)?;
    let pixels: Vec<u8> = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => data,
        jpeg_decoder::PixelFormat::L16 => data.chunks_exact(2).map(|p| p[0]).collect(),
        jpeg_decoder::PixelFormat::RGB24 => data
            .chunks_exact(3)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
        jpeg_decoder::PixelFormat::CMYK32 => data
            .chunks_exact(4)
            .map(|p| {
                // Adobe CMYK JPEGs store the inverted channels; white is 255 in each.
                let k = u32::from(p[3]);
                let rgb = |c: u8| u8::try_from(u32::from(c) * k / 255).unwrap_or(u8::MAX);
                luma(rgb(p[0]), rgb(p[1]), rgb(p[2]))
            })
            .collect(),
    };
    if pixels.len() < w * h {
        return Err("a damaged JPEG image (short data)".into());
    }
    Ok(GreyImage {
        width: w,
        height: h,
        pixels,
    })
}

/// The brightness of a colour.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    let y = (299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b)) / 1000;
    u8::try_from(y).unwrap_or(u8::MAX)
}

/// A grey of opacity `a` over white.
fn over_white(v: u8, a: u8) -> u8 {
    let (v, a) = (u32::from(v), u32::from(a));
    u8::try_from((v * a + 255 * (255 - a)) / 255).unwrap_or(u8::MAX)
}
