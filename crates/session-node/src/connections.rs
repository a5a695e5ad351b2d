//! Connection admission: a cap per IP address, slots for clients, and slots kept for listed
//! nodes, so that idle connections from one address cannot lock out other clients or stop
//! replication and relaying.
//!
//! A new TCP connection counts against its IP address and takes a client slot (or, when every
//! client slot is taken, one of the node slots, which it keeps only if its TLS handshake proves
//! a listed node's key). After the handshake a listed node moves to a node slot and stops
//! counting against its address; a client keeps its client slot and its count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The connection caps of one listener.
#[derive(Debug)]
pub struct ConnectionLimits {
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    max_per_ip: usize,
    clients: Arc<Semaphore>,
    nodes: Arc<Semaphore>,
}

/// Why a connection was not admitted (for metrics and debug logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address holds `max_connections_per_ip` already.
    PerIp,
    /// Every client and node slot is taken.
    Full,
}

/// The slot a connection holds; released when dropped.
#[derive(Debug)]
pub struct Slot {
    address: Option<AddressCount>,
    permit: Permit,
}

#[derive(Debug)]
enum Permit {
    Client(#[allow(dead_code)] OwnedSemaphorePermit),
    Node(#[allow(dead_code)] OwnedSemaphorePermit),
}

/// One connection counted against an IP address.
#[derive(Debug)]
struct AddressCount {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl Drop for AddressCount {
    fn drop(&mut self) {
        if let Ok(mut per_ip) = self.limits.per_ip.lock() {
            if let Some(count) = per_ip.get_mut(&self.ip) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    per_ip.remove(&self.ip);
                }
            }
        }
    }
}

impl ConnectionLimits {
    /// `clients` client slots, `nodes` slots kept for listed nodes, `max_per_ip` connections
    /// per address that have not proved a listed node.
    pub fn new(clients: usize, nodes: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            per_ip: Mutex::new(HashMap::new()),
            max_per_ip,
            clients: Arc::new(Semaphore::new(clients)),
            nodes: Arc::new(Semaphore::new(nodes)),
        })
    }

    /// Admits a new connection from `ip` (before TLS), or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refusal> {
        {
            let mut per_ip = self.per_ip.lock().map_err(|_| Refusal::Full)?;
            let count = per_ip.entry(ip).or_default();
            if *count >= self.max_per_ip {
                return Err(Refusal::PerIp);
            }
            *count += 1;
        }
        let address = AddressCount {
            limits: self.clone(),
            ip,
        };
        let permit = match self.clients.clone().try_acquire_owned() {
            Ok(permit) => Permit::Client(permit),
            Err(_) => Permit::Node(
                self.nodes
                    .clone()
                    .try_acquire_owned()
                    .map_err(|_| Refusal::Full)?,
            ),
        };
        Ok(Slot {
            address: Some(address),
            permit,
        })
    }

    /// Connections from `ip` counted now (clients and handshakes in progress).
    pub fn count(&self, ip: IpAddr) -> usize {
        self.per_ip
            .lock()
            .map(|p| p.get(&ip).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

impl Slot {
    /// After the TLS handshake: a listed node (`node`) leaves its address's count and moves to
    /// a node slot if one is free; a client keeps its client slot, or is refused (`None`) if it
    /// only got in on a slot kept for nodes.
    pub fn settle(mut self, limits: &ConnectionLimits, node: bool) -> Option<Slot> {
        match (node, &self.permit) {
            (true, Permit::Node(_)) => {
                self.address = None;
                Some(self)
            }
            (true, Permit::Client(_)) => {
                self.address = None;
                if let Ok(permit) = limits.nodes.clone().try_acquire_owned() {
                    self.permit = Permit::Node(permit);
                }
                Some(self)
            }
            (false, Permit::Client(_)) => Some(self),
            (false, Permit::Node(_)) => None,
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn caps_per_address_and_keeps_slots_for_nodes() {
        let limits = ConnectionLimits::new(3, 2, 2);
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        let a1 = limits.admit(a).unwrap();
        let a2 = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).unwrap_err(), Refusal::PerIp);
        let b1 = limits.admit(b).unwrap();
        // Client slots are full: the next connection gets a node slot, which a client loses.
        let b2 = limits.admit(b).unwrap();
        assert!(b2.settle(&limits, false).is_none());
        // A node keeps it, and no longer counts against its address.
        let node = limits.admit(b).unwrap().settle(&limits, true).unwrap();
        assert_eq!(limits.count(b), 1);
        drop(a1);
        assert_eq!(limits.count(a), 1);
        let a3 = limits.admit(a).unwrap().settle(&limits, false).unwrap();
        drop((a2, a3, b1, node));
        assert_eq!(limits.count(a), 0);
        assert_eq!(limits.count(b), 0);
    }
}
