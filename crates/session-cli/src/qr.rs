//! The Account ID as a QR code: in the terminal (Unicode half blocks) or as a PNG image.

use std::path::Path;

use qrcode::render::unicode::Dense1x2;
use qrcode::{Color, QrCode};

use crate::commands::Result;

/// Pixels per module in the PNG.
const PNG_SCALE: usize = 8;
/// Light modules around the code, as the standard asks.
const QUIET_ZONE: usize = 4;

/// The code drawn with half blocks, light on dark terminals and dark on light ones alike.
pub fn terminal(text: &str) -> Result<String> {
    let code = QrCode::new(text.as_bytes())?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .build()
        + "\n")
}

/// Writes the code as a greyscale PNG.
pub fn write_png(text: &str, path: &Path) -> Result<()> {
    let code = QrCode::new(text.as_bytes())?;
    let width = code.width();
    let colors = code.to_colors();
    let side = (width + 2 * QUIET_ZONE) * PNG_SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % width + QUIET_ZONE, i / width + QUIET_ZONE);
        for y in my * PNG_SCALE..(my + 1) * PNG_SCALE {
            let row = y * side;
            pixels[row + mx * PNG_SCALE..row + (mx + 1) * PNG_SCALE].fill(0);
        }
    }
    let file =
        std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let side = u32::try_from(side)?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(())
}
