//! An Account ID as a QR code drawn with plain widgets (a square per module: no image or
//! canvas feature needed), and read back from a PNG image (decoded with `png`, the code found
//! and read with `rqrr`).

use std::io::Read as _;
use std::path::Path;

use iced::widget::{container, row, Column, Row};
use iced::{Color, Element};
use qrcode::{Color as Module, QrCode};
use session_client::parse_account_id;
use session_crypto::AccountId;

use crate::app::Message;

/// Pixels per module.
const MODULE: f32 = 4.0;
/// Light modules around the code, as the standard asks.
const QUIET_ZONE: usize = 4;

/// The QR code of `text`, black on white whatever the theme (scanners expect that). Drawn as
/// columns of runs of one colour, so that no edge falls between two modules of the same colour.
pub fn view(text: &str) -> Element<'static, Message> {
    let Ok(code) = QrCode::new(text.as_bytes()) else {
        return iced::widget::text("cannot draw the QR code").into();
    };
    let width = code.width();
    let modules = code.to_colors();
    let side = width + 2 * QUIET_ZONE;
    let inside = QUIET_ZONE..QUIET_ZONE + width;
    let dark = |x: usize, y: usize| {
        inside.contains(&x)
            && inside.contains(&y)
            && modules[(y - QUIET_ZONE) * width + (x - QUIET_ZONE)] == Module::Dark
    };
    let mut grid = Row::new();
    for x in 0..side {
        let mut column = Column::new();
        let mut y = 0;
        while y < side {
            let is_dark = dark(x, y);
            let run = (y..side).take_while(|&y| dark(x, y) == is_dark).count();
            let color = if is_dark { Color::BLACK } else { Color::WHITE };
            column = column.push(
                container(row![])
                    .width(MODULE)
                    .height(MODULE * run as f32)
                    .style(move |_| container::Style::default().background(color)),
            );
            y += run;
        }
        grid = grid.push(column);
    }
    grid.into()
}

/// The largest image read, in pixels (checked in the header, before anything is allocated).
pub const MAX_PIXELS: u64 = 40_000_000;

/// The largest file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// The first bytes of every PNG file.
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Reads the PNG image at `path`, finds its QR code and checks that it holds an Account ID (as a
/// pasted one is checked): the Account ID, or a sentence saying what went wrong.
pub fn read_account_id(path: &Path) -> Result<AccountId, String> {
    let shown = path.display();
    let unreadable = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => format!("there is no file {shown}"),
        std::io::ErrorKind::IsADirectory => format!("{shown} is a folder, not a PNG image"),
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
    let text = decode_qr(&bytes).map_err(|e| format!("{shown}: {e}"))?;
    parse_account_id(text.trim())
        .map_err(|e| format!("the QR code in {shown} is not an Account ID: {e}"))
}

/// The text of the first readable QR code in the PNG image `bytes`.
pub fn decode_qr(bytes: &[u8]) -> Result<String, String> {
    let (width, height, grey) = greyscale(bytes)?;
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        grey.get(y * width + x).copied().unwrap_or(255)
    });
    let grids = image.detect_grids();
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

/// Decodes a PNG image to one grey byte a pixel (0 black, 255 white; transparency shows white).
fn greyscale(bytes: &[u8]) -> Result<(usize, usize, Vec<u8>), String> {
    const NOT_PNG: &str = "not a PNG image (the window reads QR codes from PNG files)";
    if !bytes.starts_with(&PNG_SIGNATURE) {
        return Err(NOT_PNG.into());
    }
    let damaged = |e: png::DecodingError| format!("a damaged PNG image ({e})");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let (width, height) = {
        let info = decoder.read_header_info().map_err(damaged)?;
        (info.width, info.height)
    };
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS {
        return Err(format!(
            "the image is too large ({width} × {height} pixels; at most {} million are read)",
            MAX_PIXELS / 1_000_000
        ));
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
    Ok((w, h, grey))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use session_crypto::{Ed25519Seed, OsRng};

    /// `text`'s QR code as a PNG of `color` and `depth` (8 pixels a module, a quiet zone).
    fn png_of(text: &str, color: png::ColorType, depth: png::BitDepth) -> Vec<u8> {
        let code = QrCode::new(text.as_bytes()).unwrap();
        let width = code.width();
        let modules = code.to_colors();
        let side = (width + 2 * QUIET_ZONE) * 8;
        let dark = |x: usize, y: usize| {
            let (mx, my) = (x / 8, y / 8);
            (QUIET_ZONE..QUIET_ZONE + width).contains(&mx)
                && (QUIET_ZONE..QUIET_ZONE + width).contains(&my)
                && modules[(my - QUIET_ZONE) * width + mx - QUIET_ZONE] == Module::Dark
        };
        let mut data = Vec::new();
        for y in 0..side {
            for x in 0..side {
                let v: u8 = if dark(x, y) { 0 } else { 255 };
                let sample: &[u8] = match color {
                    png::ColorType::Grayscale => &[v],
                    // White pixels fully transparent: they must read as white.
                    png::ColorType::GrayscaleAlpha => &[v, 255 - v],
                    png::ColorType::Rgb => &[v, v, v],
                    png::ColorType::Rgba => &[v, v / 2, v, 255],
                    png::ColorType::Indexed => &[u8::from(v == 0)],
                };
                for &s in sample {
                    data.push(s);
                    if depth == png::BitDepth::Sixteen {
                        data.push(s);
                    }
                }
            }
        }
        let mut out = Vec::new();
        let side = u32::try_from(side).unwrap();
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(color);
        encoder.set_depth(depth);
        if color == png::ColorType::Indexed {
            encoder.set_palette(vec![255, 255, 255, 0, 0, 0]);
        }
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&data).unwrap();
        writer.finish().unwrap();
        out
    }

    fn account() -> AccountId {
        Ed25519Seed::generate(&mut OsRng).key_pair().account_id()
    }

    #[test]
    fn an_account_ids_qr_png_reads_back_as_the_same_id() {
        let id = account();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.png");
        std::fs::write(
            &path,
            png_of(
                &id.to_string(),
                png::ColorType::Grayscale,
                png::BitDepth::Eight,
            ),
        )
        .unwrap();
        assert_eq!(read_account_id(&path).unwrap(), id);
    }

    #[test]
    fn every_colour_type_and_depth_decodes() {
        use png::{BitDepth::*, ColorType::*};
        let id = account();
        for (color, depth) in [
            (Grayscale, Sixteen),
            (GrayscaleAlpha, Eight),
            (GrayscaleAlpha, Sixteen),
            (Rgb, Eight),
            (Rgb, Sixteen),
            (Rgba, Eight),
            (Rgba, Sixteen),
            (Indexed, Eight),
        ] {
            let text = decode_qr(&png_of(&id.to_string(), color, depth))
                .unwrap_or_else(|e| panic!("{color:?} {depth:?}: {e}"));
            assert_eq!(text, id.to_string(), "{color:?} {depth:?}");
        }
    }

    #[test]
    fn failures_are_sentences() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.png");
        let error = read_account_id(&missing).unwrap_err();
        assert!(error.starts_with("there is no file "), "{error}");

        let text = dir.path().join("notes.png");
        std::fs::write(&text, "not an image").unwrap();
        let error = read_account_id(&text).unwrap_err();
        assert!(error.contains("not a PNG image"), "{error}");
        assert!(error.contains("reads QR codes from PNG files"), "{error}");

        let blank = dir.path().join("blank.png");
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, 64, 64);
        encoder.set_color(png::ColorType::Grayscale);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[255; 64 * 64]).unwrap();
        writer.finish().unwrap();
        std::fs::write(&blank, &out).unwrap();
        let error = read_account_id(&blank).unwrap_err();
        assert!(error.ends_with("no QR code found in the image"), "{error}");

        let other = dir.path().join("other.png");
        let url = png_of(
            "https://example.invalid/",
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
        );
        std::fs::write(&other, url).unwrap();
        let error = read_account_id(&other).unwrap_err();
        assert!(
            error.starts_with("the QR code in ") && error.contains("is not an Account ID: "),
            "{error}"
        );

        // The one pasted without its 05 gets the CLI's precise error.
        let short = dir.path().join("short.png");
        let id = account().to_string();
        let png = png_of(&id[2..], png::ColorType::Grayscale, png::BitDepth::Eight);
        std::fs::write(&short, png).unwrap();
        let error = read_account_id(&short).unwrap_err();
        assert!(
            error.ends_with(&session_client::StoreError::MissingPrefix.to_string()),
            "{error}"
        );
    }

    #[test]
    fn a_huge_image_is_refused_from_its_header() {
        // A header claiming 100 000 × 100 000 pixels, and no pixels: refused before decoding.
        let mut out = Vec::new();
        let encoder = png::Encoder::new(&mut out, 100_000, 100_000);
        drop(encoder.write_header().unwrap());
        let error = decode_qr(&out).unwrap_err();
        assert!(error.starts_with("the image is too large"), "{error}");
    }
}
