//! An Account ID as a QR code drawn with plain widgets (a square per module: no image or
//! canvas feature needed).

use iced::widget::{container, row, Column, Row};
use iced::{Color, Element};
use qrcode::{Color as Module, QrCode};

use crate::app::Message;

/// Pixels per module.
const MODULE: f32 = 4.0;
/// Light modules around the code, as the standard asks.
const QUIET_ZONE: usize = 4;

/// The QR code of `text`, black on white whatever the theme (scanners expect that).
pub fn view(text: &str) -> Element<'static, Message> {
    let Ok(code) = QrCode::new(text.as_bytes()) else {
        return iced::widget::text("cannot draw the QR code").into();
    };
    let width = code.width();
    let modules = code.to_colors();
    let side = width + 2 * QUIET_ZONE;
    let mut grid = Column::new();
    for y in 0..side {
        let mut line = Row::new();
        for x in 0..side {
            let dark = (QUIET_ZONE..QUIET_ZONE + width).contains(&x)
                && (QUIET_ZONE..QUIET_ZONE + width).contains(&y)
                && modules[(y - QUIET_ZONE) * width + (x - QUIET_ZONE)] == Module::Dark;
            let color = if dark { Color::BLACK } else { Color::WHITE };
            line = line.push(
                container(row![])
                    .width(MODULE)
                    .height(MODULE)
                    .style(move |_| container::Style::default().background(color)),
            );
        }
        grid = grid.push(line);
    }
    grid.into()
}
