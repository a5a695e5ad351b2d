#![doc = include_str!("../README.md")]

mod blob;
mod error;
pub mod frame;
pub mod group_update;
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
pub use message::{
    decode_text_message, encode_sync_copy, encode_text_message, open_content, parse_text_content,
    seal_content, text_content, OutgoingText, ReceivedText,
};
