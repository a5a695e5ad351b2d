//! Onion layer framing: `u32_le(len(blob)) || blob || json`.
//!
//! Each layer of an onion request is such a frame. The client sends its guard a frame whose JSON
//! is `{"ephemeral_key", "enc_type"}`; each decrypted layer is again a frame whose JSON either
//! names the next hop (`{"destination", "ephemeral_key", "enc_type"}`) or, for the destination,
//! carries `{"headers": ""}` with the RPC request as the blob.

use serde_json::{Map, Value};
use session_crypto::{Ed25519PublicKey, HopCipher, X25519PublicKey};

use crate::error::WireError;

/// A parsed frame: the opaque blob and the JSON object after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame<'a> {
    /// The bytes the length prefix covers (usually the next, encrypted layer).
    pub blob: &'a [u8],
    /// The JSON object after the blob.
    pub json: Map<String, Value>,
}

/// Builds `u32_le(len(blob)) || blob || json`.
pub fn encode_frame(blob: &[u8], json: &Map<String, Value>) -> Result<Vec<u8>, WireError> {
    let len = u32::try_from(blob.len()).map_err(|_| WireError::TooLarge {
        size: blob.len(),
        max: u32::MAX as usize,
    })?;
    let json = serde_json::to_vec(json).map_err(|e| WireError::FrameBadJson(e.to_string()))?;
    let mut out = Vec::with_capacity(4 + blob.len() + json.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(blob);
    out.extend_from_slice(&json);
    Ok(out)
}

/// Parses a frame, checking the length prefix and that the JSON is a UTF-8 object.
pub fn parse_frame(bytes: &[u8]) -> Result<Frame<'_>, WireError> {
    let (prefix, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or(WireError::FrameTruncated(bytes.len()))?;
    let declared = u32::from_le_bytes(*prefix);
    let past_end = WireError::FrameLengthPastEnd {
        declared: u64::from(declared),
        available: rest.len(),
    };
    let (blob, json) = usize::try_from(declared)
        .ok()
        .and_then(|n| rest.split_at_checked(n))
        .ok_or(past_end)?;
    let json = std::str::from_utf8(json).map_err(|_| WireError::FrameNotUtf8)?;
    match serde_json::from_str(json) {
        Ok(Value::Object(json)) => Ok(Frame { blob, json }),
        Ok(_) => Err(WireError::FrameBadJson("not a JSON object".into())),
        Err(e) => Err(WireError::FrameBadJson(e.to_string())),
    }
}

/// What a decrypted (or outermost) layer's JSON asks of the node holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerRoute {
    /// Decrypt the blob with `ephemeral_key` and `cipher`, as this layer's recipient.
    Decrypt {
        /// The client's ephemeral X25519 key for this layer.
        ephemeral_key: X25519PublicKey,
        /// The layer's cipher.
        cipher: HopCipher,
    },
    /// Forward the blob to `destination`, to be decrypted there with `ephemeral_key`.
    Relay {
        /// The next node's Ed25519 key.
        destination: Ed25519PublicKey,
        /// The client's ephemeral X25519 key for the next layer.
        ephemeral_key: X25519PublicKey,
        /// The next layer's cipher.
        cipher: HopCipher,
    },
    /// The blob is the RPC request for this node; the reply is encoded as the layer asks.
    Deliver(ReplyFormat),
}

/// How the destination encodes its reply: the `"base64"` and `"json"` flags of the innermost
/// layer, read as the reference storage server reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyFormat {
    /// Base64-encode the sealed reply (the reference's default).
    pub base64: bool,
    /// Put a JSON body into the reply as JSON, rather than as a string holding JSON.
    pub embed_json: bool,
}

impl ReplyFormat {
    /// The reference's defaults, for a layer that names neither flag: base64, body as a string.
    pub const REFERENCE: Self = Self {
        base64: true,
        embed_json: false,
    };
    /// Raw sealed bytes, body as a string: what session-rs clients ask for (a third smaller).
    pub const RAW: Self = Self {
        base64: false,
        embed_json: false,
    };
}

impl LayerRoute {
    /// Reads the route from a frame's JSON. `enc_type` absent means `aes-gcm`, as in the
    /// reference.
    pub fn from_json(json: &Map<String, Value>) -> Result<Self, WireError> {
        if json.contains_key("headers") {
            let flag = |name: &'static str, default: bool| match json.get(name) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Bool(value)) => Ok(*value),
                Some(_) => Err(bad(name, "not a boolean".into())),
            };
            return Ok(Self::Deliver(ReplyFormat {
                base64: flag("base64", ReplyFormat::REFERENCE.base64)?,
                embed_json: flag("json", ReplyFormat::REFERENCE.embed_json)?,
            }));
        }
        let ephemeral_key = X25519PublicKey::from_hex(str_field(json, "ephemeral_key")?)
            .map_err(|e| bad("ephemeral_key", e.to_string()))?;
        let cipher = match json.get("enc_type") {
            None | Some(Value::Null) => HopCipher::AesGcm,
            Some(Value::String(name)) => {
                name.parse()
                    .map_err(|e: session_crypto::onion::UnknownCipher| {
                        bad("enc_type", e.to_string())
                    })?
            }
            Some(_) => return Err(bad("enc_type", "not a string".into())),
        };
        if !json.contains_key("destination") {
            return Ok(Self::Decrypt {
                ephemeral_key,
                cipher,
            });
        }
        let destination = Ed25519PublicKey::from_hex(str_field(json, "destination")?)
            .map_err(|e| bad("destination", e.to_string()))?;
        Ok(Self::Relay {
            destination,
            ephemeral_key,
            cipher,
        })
    }

    /// The JSON that expresses this route.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut json = Map::new();
        match self {
            Self::Deliver(format) => {
                json.insert("headers".into(), Value::String(String::new()));
                if format.base64 != ReplyFormat::REFERENCE.base64 {
                    json.insert("base64".into(), format.base64.into());
                }
                if format.embed_json != ReplyFormat::REFERENCE.embed_json {
                    json.insert("json".into(), format.embed_json.into());
                }
            }
            Self::Decrypt {
                ephemeral_key,
                cipher,
            } => {
                json.insert("ephemeral_key".into(), ephemeral_key.to_string().into());
                json.insert("enc_type".into(), cipher.as_str().into());
            }
            Self::Relay {
                destination,
                ephemeral_key,
                cipher,
            } => {
                json.insert("destination".into(), destination.to_string().into());
                json.insert("ephemeral_key".into(), ephemeral_key.to_string().into());
                json.insert("enc_type".into(), cipher.as_str().into());
            }
        }
        json
    }
}

fn str_field<'a>(json: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, WireError> {
    match json.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(bad(field, "not a string".into())),
        None => Err(bad(field, "missing".into())),
    }
}

fn bad(field: &'static str, reason: String) -> WireError {
    WireError::BadLayerField { field, reason }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn frame_errors_are_distinct() {
        assert_eq!(parse_frame(&[1, 0]), Err(WireError::FrameTruncated(2)));
        assert_eq!(
            parse_frame(&[5, 0, 0, 0, 1, 2]),
            Err(WireError::FrameLengthPastEnd {
                declared: 5,
                available: 2
            })
        );
        assert_eq!(
            parse_frame(&[0, 0, 0, 0, 0xff, 0xfe]),
            Err(WireError::FrameNotUtf8)
        );
        assert!(matches!(
            parse_frame(b"\x00\x00\x00\x00{not json"),
            Err(WireError::FrameBadJson(_))
        ));
        assert!(matches!(
            parse_frame(b"\x00\x00\x00\x00[1]"),
            Err(WireError::FrameBadJson(_))
        ));
        assert!(matches!(
            parse_frame(&[0xff, 0xff, 0xff, 0xff]),
            Err(WireError::FrameLengthPastEnd { .. })
        ));
    }

    #[test]
    fn large_floats_survive_a_round_trip() {
        // Found by the `frame` fuzz target: without serde_json's exact float parsing, a float
        // re-encoded and parsed again came back different.
        let json = br#"{"GG"
  :555555555555555999999999999999999999999999999999999999999999999999999999999999999955555585}"#;
        let mut bytes = vec![0, 0, 0, 0];
        bytes.extend_from_slice(json);
        let frame = parse_frame(&bytes).unwrap();
        let again = encode_frame(frame.blob, &frame.json).unwrap();
        assert_eq!(parse_frame(&again).unwrap(), frame);
    }

    #[test]
    fn the_innermost_layer_flags_default_as_the_reference_reads_them() {
        let parse = |text: &str| {
            let json: Map<String, Value> = serde_json::from_str(text).unwrap();
            LayerRoute::from_json(&json)
        };
        assert_eq!(
            parse(r#"{"headers": ""}"#),
            Ok(LayerRoute::Deliver(ReplyFormat::REFERENCE))
        );
        assert_eq!(
            parse(r#"{"headers": "", "base64": false, "json": true}"#),
            Ok(LayerRoute::Deliver(ReplyFormat {
                base64: false,
                embed_json: true
            }))
        );
        assert!(parse(r#"{"headers": "", "base64": "yes"}"#).is_err());
    }

    #[test]
    fn routes_round_trip() {
        let key = X25519PublicKey([3; 32]);
        for route in [
            LayerRoute::Deliver(ReplyFormat::REFERENCE),
            LayerRoute::Deliver(ReplyFormat::RAW),
            LayerRoute::Deliver(ReplyFormat {
                base64: true,
                embed_json: true,
            }),
            LayerRoute::Decrypt {
                ephemeral_key: key,
                cipher: HopCipher::XChaCha20,
            },
            LayerRoute::Relay {
                destination: Ed25519PublicKey([4; 32]),
                ephemeral_key: key,
                cipher: HopCipher::AesGcm,
            },
        ] {
            assert_eq!(LayerRoute::from_json(&route.to_json()), Ok(route));
        }
        let mut json = Map::new();
        json.insert("ephemeral_key".into(), "zz".into());
        assert!(matches!(
            LayerRoute::from_json(&json),
            Err(WireError::BadLayerField {
                field: "ephemeral_key",
                ..
            })
        ));
        json.insert("ephemeral_key".into(), key.to_string().into());
        json.insert("enc_type".into(), "rot13".into());
        assert!(matches!(
            LayerRoute::from_json(&json),
            Err(WireError::BadLayerField {
                field: "enc_type",
                ..
            })
        ));
    }
}
