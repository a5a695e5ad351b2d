#![doc = include_str!("../README.md")]

pub mod app;
pub mod backend;
pub mod devnet;
pub mod live;
pub mod notify;
pub mod qr;
pub mod view;

pub use app::{App, Job, Message, NetworkChoice, Options};
