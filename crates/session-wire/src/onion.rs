//! Building onion requests and opening their replies (DESIGN.md section 7).
//!
//! For a path `[h1, .., hn]` whose last hop is the destination, the destination's layer carries
//! `frame(payload, {"headers": ""})`; each earlier hop's layer carries
//! `frame(next layer, {"destination", "ephemeral_key", "enc_type"})`; the first hop receives
//! `frame(its layer, {"ephemeral_key", "enc_type"})`. Every layer has its own ephemeral key.
//! Only the destination encrypts the reply, with its layer's key.

use serde::{Deserialize, Serialize};
use session_crypto::{
    CryptoRngCore, Ed25519PublicKey, HopCipher, HopKey, X25519PublicKey, X25519SecretKey,
};

use crate::error::WireError;
use crate::frame::{encode_frame, LayerRoute, ReplyFormat};

/// Most hops an onion request may take.
pub const MAX_HOPS: usize = 15;

/// Milliseconds a relay that has taken `hops_taken` hops before it waits for the next hop:
/// the longest hold of a waiting retrieve ([`MAX_WAIT_MS`](crate::rpc::MAX_WAIT_MS)), 10 s for
/// the work and the transfer, and 250 ms for each hop still possible ahead, so that every
/// relay waits longer than the hop it relays to and no hop gives up before the destination.
pub fn relay_timeout_ms(hops_taken: usize) -> u64 {
    let ahead = MAX_HOPS.saturating_sub(hops_taken) as u64;
    crate::rpc::MAX_WAIT_MS + 10_000 + ahead * 250
}

/// Milliseconds a client waits for the answer to a waiting retrieve: longer than its guard
/// (the first relay, [`relay_timeout_ms`]`(0)`), so that the client gives up last.
pub fn client_wait_timeout_ms() -> u64 {
    relay_timeout_ms(0) + 2_000
}

/// A node on an onion path: its identity (to be named by the previous hop) and its X25519 key
/// (to encrypt its layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    /// Ed25519 identity key.
    pub ed25519: Ed25519PublicKey,
    /// X25519 key for the layer.
    pub x25519: X25519PublicKey,
}

/// A built onion request: the body for the first hop, and the key that opens the reply.
#[derive(Debug)]
pub struct OnionRequest {
    /// What to `POST /onion_req/v2` to the first hop.
    pub body: Vec<u8>,
    /// The destination's layer key, which opens the reply.
    pub reply_key: HopKey,
}

/// The plaintext of an onion reply: the destination's HTTP status and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnionReply {
    /// HTTP status of the request at the destination.
    pub status: u16,
    /// The response body (JSON text, or an error message). A reply whose layer asked for the
    /// body embedded as JSON reads back as that JSON's text.
    #[serde(deserialize_with = "text_or_json")]
    pub body: String,
}

/// A string as it is, any other JSON value as its text.
fn text_or_json<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    })
}

/// Wraps `payload` (an RPC request body) for `path`, whose last element is the destination.
pub fn build_onion(
    path: &[Hop],
    payload: &[u8],
    cipher: HopCipher,
    rng: &mut impl CryptoRngCore,
) -> Result<OnionRequest, WireError> {
    let (destination, relays) = path.split_last().ok_or_else(|| bad_path(0))?;
    if path.len() > MAX_HOPS {
        return Err(bad_path(path.len()));
    }
    let ephemeral = X25519SecretKey::generate(rng);
    let reply_key = HopKey::for_client(cipher, &ephemeral, &destination.x25519)?;
    let route = LayerRoute::Deliver(ReplyFormat::RAW);
    let mut layer = reply_key.encrypt(&encode_frame(payload, &route.to_json())?, rng)?;
    let mut layer_key = ephemeral.public_key();
    let mut next = destination.ed25519;
    for hop in relays.iter().rev() {
        let ephemeral = X25519SecretKey::generate(rng);
        let key = HopKey::for_client(cipher, &ephemeral, &hop.x25519)?;
        let route = LayerRoute::Relay {
            destination: next,
            ephemeral_key: layer_key,
            cipher,
        };
        layer = key.encrypt(&encode_frame(&layer, &route.to_json())?, rng)?;
        layer_key = ephemeral.public_key();
        next = hop.ed25519;
    }
    let outer = LayerRoute::Decrypt {
        ephemeral_key: layer_key,
        cipher,
    };
    Ok(OnionRequest {
        body: encode_frame(&layer, &outer.to_json())?,
        reply_key,
    })
}

/// Opens the destination's encrypted reply.
pub fn open_reply(reply_key: &HopKey, bytes: &[u8]) -> Result<OnionReply, WireError> {
    let plain = reply_key.decrypt(bytes)?;
    serde_json::from_slice(&plain).map_err(|e| WireError::BadJson(e.to_string()))
}

/// Seals a reply at the destination with its layer's key, encoded as the layer asked
/// (`{"status", "body"}`, the body embedded as JSON or as a string; base64 or raw).
pub fn seal_reply(
    key: &HopKey,
    reply: &OnionReply,
    format: ReplyFormat,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, WireError> {
    let embedded = format
        .embed_json
        .then(|| serde_json::from_str::<serde_json::Value>(&reply.body).ok())
        .flatten();
    let json = match embedded {
        Some(body) => {
            serde_json::to_vec(&serde_json::json!({"status": reply.status, "body": body}))
        }
        None => serde_json::to_vec(reply),
    }
    .map_err(|e| WireError::BadJson(e.to_string()))?;
    let sealed = key.encrypt(&json, rng)?;
    Ok(if format.base64 {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode(sealed)
            .into_bytes()
    } else {
        sealed
    })
}

fn bad_path(len: usize) -> WireError {
    WireError::BadLayerField {
        field: "path",
        reason: format!("an onion path has 1 to {MAX_HOPS} hops, got {len}"),
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::frame::parse_frame;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn each_hop_peels_one_layer_and_only_the_destination_sees_the_payload() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        for cipher in [HopCipher::XChaCha20, HopCipher::AesGcm] {
            let secrets: Vec<X25519SecretKey> = (0..4)
                .map(|_| X25519SecretKey::generate(&mut rng))
                .collect();
            let path: Vec<Hop> = secrets
                .iter()
                .enumerate()
                .map(|(i, s)| Hop {
                    ed25519: Ed25519PublicKey([i as u8 + 1; 32]),
                    x25519: s.public_key(),
                })
                .collect();
            let request = build_onion(&path, b"{\"method\":\"info\"}", cipher, &mut rng).unwrap();
            let mut body = request.body.clone();
            for (i, secret) in secrets.iter().enumerate() {
                let frame = parse_frame(&body).unwrap();
                let LayerRoute::Decrypt {
                    ephemeral_key,
                    cipher: c,
                } = LayerRoute::from_json(&frame.json).unwrap()
                else {
                    panic!("hop {i} must be told to decrypt");
                };
                assert_eq!(c, cipher);
                let key = HopKey::for_node(cipher, secret, &ephemeral_key).unwrap();
                let inner_bytes = key.decrypt(frame.blob).unwrap();
                let inner = parse_frame(&inner_bytes).unwrap();
                match LayerRoute::from_json(&inner.json).unwrap() {
                    LayerRoute::Relay {
                        destination,
                        ephemeral_key,
                        cipher,
                    } => {
                        assert!(i < 3);
                        assert_eq!(destination, path[i + 1].ed25519);
                        assert!(!String::from_utf8_lossy(&inner_bytes).contains("method"));
                        body = encode_frame(
                            inner.blob,
                            &LayerRoute::Decrypt {
                                ephemeral_key,
                                cipher,
                            }
                            .to_json(),
                        )
                        .unwrap();
                    }
                    LayerRoute::Deliver(format) => {
                        assert_eq!(format, ReplyFormat::RAW);
                        assert_eq!(i, 3);
                        assert_eq!(inner.blob, b"{\"method\":\"info\"}");
                        let reply = OnionReply {
                            status: 200,
                            body: "ok".into(),
                        };
                        let sealed = seal_reply(&key, &reply, format, &mut rng).unwrap();
                        assert_eq!(open_reply(&request.reply_key, &sealed).unwrap(), reply);
                        // As the reference's defaults ask: base64 of the sealed reply; and with
                        // "json", a JSON body embedded as JSON.
                        use base64::Engine as _;
                        let json_reply = OnionReply {
                            status: 200,
                            body: r#"{"t":1}"#.into(),
                        };
                        let b64 = seal_reply(
                            &key,
                            &json_reply,
                            ReplyFormat {
                                base64: true,
                                embed_json: true,
                            },
                            &mut rng,
                        )
                        .unwrap();
                        let sealed = base64::engine::general_purpose::STANDARD
                            .decode(&b64)
                            .unwrap();
                        let plain = request.reply_key.decrypt(&sealed).unwrap();
                        assert_eq!(plain, br#"{"body":{"t":1},"status":200}"#);
                        assert_eq!(open_reply(&request.reply_key, &sealed).unwrap(), json_reply);
                    }
                    LayerRoute::Decrypt { .. } => {
                        panic!("a decrypted layer never asks to decrypt again")
                    }
                }
            }
        }
        assert!(build_onion(
            &[],
            b"x",
            HopCipher::XChaCha20,
            &mut rand_chacha::ChaCha20Rng::seed_from_u64(1)
        )
        .is_err());
    }
}

#[cfg(test)]
mod timeout_tests {
    use super::*;

    #[test]
    fn every_hop_waits_longer_than_the_next_and_the_destination() {
        assert!(relay_timeout_ms(MAX_HOPS) > crate::rpc::MAX_WAIT_MS);
        for hops in 0..MAX_HOPS {
            assert!(relay_timeout_ms(hops) > relay_timeout_ms(hops + 1));
        }
        assert!(client_wait_timeout_ms() > relay_timeout_ms(0));
    }
}
