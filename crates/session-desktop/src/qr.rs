//! An Account ID as a QR code drawn with plain widgets (a square per module: no image or
//! canvas feature needed), and read back from a PNG or JPEG image (by
//! `session_client::qr_image`).

use std::path::Path;

use iced::widget::{container, row, Column, Row};
use iced::{Color, Element};
use qrcode::{Color as Module, QrCode};
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

/// Reads the PNG or JPEG image at `path`, finds its QR code and checks that it holds an Account
/// ID or a `session:` link (as a pasted one is checked): the Account ID, or a sentence saying
/// what went wrong. The decoding is the client library's, shared with the `session` command.
pub fn read_account_id(path: &Path) -> Result<AccountId, String> {
    session_client::qr_image::read_contact(path).map(|contact| contact.account_id)
}
