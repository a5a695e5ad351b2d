#![doc = include_str!("../README.md")]

mod blob;
mod error;
pub mod frame;
mod hash;
pub mod message;
pub mod onion;
pub mod padding;
pub mod protos;
pub mod rpc;

pub use blob::{blob_name, blob_name_hex, blob_name_hex_of, parse_blob_name};
pub use error::WireError;
pub use frame::{encode_frame, parse_frame, Frame, LayerRoute, ReplyFormat};
pub use hash::message_hash;
pub use message::{decode_text_message, encode_text_message, OutgoingText, ReceivedText};
