#![doc = include_str!("../README.md")]

mod assignment;
mod node_list;
mod space;

pub use assignment::{assign, Assignment, SwarmConfig, SwarmConfigError};
pub use node_list::{
    NodeEntry, NodeList, NodeListError, SignedNodeList, SwarmEntry, MAX_FIRST_LIST_AGE_MS,
};
pub use space::{select_swarm, swarm_space, swarm_space_of_account, SwarmId};
