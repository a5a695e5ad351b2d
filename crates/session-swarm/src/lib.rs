#![doc = include_str!("../README.md")]

mod assignment;
mod space;

pub use assignment::{assign, Assignment, SwarmConfig, SwarmConfigError};
pub use space::{select_swarm, swarm_space, swarm_space_of_account, SwarmId};
