//! Bencoding ("bt" in the reference: oxenc's `bt_dict`), the container of the group and v2
//! formats: integers `i<n>e`, byte strings `<len>:<bytes>`, lists `l...e` and dictionaries
//! `d...e` with keys in ascending byte order.
//!
//! The decoder is strict (canonical integers, ascending unique keys, nothing after the value
//! but where a format pads after a dictionary: [`decode_dict_prefix`]), so every value has one
//! encoding and a signature over encoded bytes means one thing.

use std::collections::BTreeMap;

use crate::CryptoError;

/// Deepest nesting the decoder accepts (the group formats nest three levels at most).
const MAX_DEPTH: usize = 8;

/// A bencoded value.
#[derive(Clone, PartialEq, Eq)]
pub enum BtValue {
    /// An integer.
    Int(i64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<BtValue>),
    /// A dictionary (keys sorted, as the encoding requires).
    Dict(BTreeMap<Vec<u8>, BtValue>),
}

impl std::fmt::Debug for BtValue {
    // Byte strings may be key material: show their length only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Int(n) => write!(f, "Int({n})"),
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::List(items) => f.debug_list().entries(items).finish(),
            Self::Dict(map) => f
                .debug_map()
                .entries(map.iter().map(|(k, v)| (String::from_utf8_lossy(k), v)))
                .finish(),
        }
    }
}

impl BtValue {
    /// The encoding of this value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoding of this value to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Self::Int(n) => {
                out.push(b'i');
                out.extend_from_slice(n.to_string().as_bytes());
                out.push(b'e');
            }
            Self::Bytes(bytes) => encode_bytes(bytes, out),
            Self::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode_into(out);
                }
                out.push(b'e');
            }
            Self::Dict(map) => {
                out.push(b'd');
                for (key, value) in map {
                    encode_bytes(key, out);
                    value.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }

    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The list, if this is one.
    pub fn as_list(&self) -> Option<&[BtValue]> {
        match self {
            Self::List(items) => Some(items),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&BTreeMap<Vec<u8>, BtValue>> {
        match self {
            Self::Dict(map) => Some(map),
            _ => None,
        }
    }
}

/// Appends `<len>:<bytes>`.
pub fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
}

/// A top-level dictionary as decoded, with the offset at which each key's encoding starts (what
/// a trailing signature covers: everything before its key).
#[derive(Debug, Clone)]
pub struct DecodedDict {
    /// The entries in the order they appear (ascending keys).
    pub entries: Vec<(Vec<u8>, BtValue, usize)>,
}

impl DecodedDict {
    /// The value under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&BtValue> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v)
    }

    /// The offset where `key`'s encoding starts.
    pub fn offset_of(&self, key: &[u8]) -> Option<usize> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, at)| *at)
    }

    /// The byte string under `key`.
    pub fn bytes(&self, key: &[u8]) -> Option<&[u8]> {
        self.get(key).and_then(BtValue::as_bytes)
    }
}

/// Decodes `input` as exactly one value.
pub fn decode(input: &[u8]) -> Result<BtValue, CryptoError> {
    let mut parser = Parser { input, at: 0 };
    let value = parser.value(0)?;
    parser.finish()?;
    Ok(value)
}

/// Decodes `input` as exactly one dictionary, keeping each key's offset.
pub fn decode_dict(input: &[u8]) -> Result<DecodedDict, CryptoError> {
    let (dict, used) = decode_dict_prefix(input)?;
    if used != input.len() {
        return Err(malformed());
    }
    Ok(dict)
}

/// Decodes the dictionary `input` starts with (padding may follow it), keeping each key's
/// offset; returns it and the number of bytes it took.
pub fn decode_dict_prefix(input: &[u8]) -> Result<(DecodedDict, usize), CryptoError> {
    let mut parser = Parser { input, at: 0 };
    parser.expect(b'd')?;
    let mut entries: Vec<(Vec<u8>, BtValue, usize)> = Vec::new();
    while parser.peek()? != b'e' {
        let offset = parser.at;
        let key = parser.string()?;
        if entries.last().is_some_and(|(last, _, _)| *last >= key) {
            return Err(malformed());
        }
        let value = parser.value(1)?;
        entries.push((key, value, offset));
    }
    parser.at += 1;
    Ok((DecodedDict { entries }, parser.at))
}

fn malformed() -> CryptoError {
    CryptoError::Malformed("bencoded data")
}

struct Parser<'a> {
    input: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Result<u8, CryptoError> {
        self.input.get(self.at).copied().ok_or_else(malformed)
    }

    fn expect(&mut self, byte: u8) -> Result<(), CryptoError> {
        if self.peek()? != byte {
            return Err(malformed());
        }
        self.at += 1;
        Ok(())
    }

    fn finish(&self) -> Result<(), CryptoError> {
        if self.at == self.input.len() {
            Ok(())
        } else {
            Err(malformed())
        }
    }

    /// Digits up to (not including) `end`, as a canonical decimal.
    fn number(&mut self, end: u8, allow_negative: bool) -> Result<i64, CryptoError> {
        let start = self.at;
        let rest = &self.input[start..];
        let len = rest.iter().position(|&b| b == end).ok_or_else(malformed)?;
        let text = std::str::from_utf8(&rest[..len]).map_err(|_| malformed())?;
        let digits = text
            .strip_prefix('-')
            .filter(|_| allow_negative)
            .unwrap_or(text);
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'))
            && text != "-0";
        if !canonical {
            return Err(malformed());
        }
        let value = text.parse::<i64>().map_err(|_| malformed())?;
        self.at = start + len + 1;
        Ok(value)
    }

    fn string(&mut self) -> Result<Vec<u8>, CryptoError> {
        let len = usize::try_from(self.number(b':', false)?).map_err(|_| malformed())?;
        let end = self.at.checked_add(len).ok_or_else(malformed)?;
        let bytes = self.input.get(self.at..end).ok_or_else(malformed)?.to_vec();
        self.at = end;
        Ok(bytes)
    }

    fn value(&mut self, depth: usize) -> Result<BtValue, CryptoError> {
        if depth > MAX_DEPTH {
            return Err(malformed());
        }
        match self.peek()? {
            b'i' => {
                self.at += 1;
                Ok(BtValue::Int(self.number(b'e', true)?))
            }
            b'l' => {
                self.at += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.at += 1;
                Ok(BtValue::List(items))
            }
            b'd' => {
                self.at += 1;
                let mut map = BTreeMap::new();
                let mut last: Option<Vec<u8>> = None;
                while self.peek()? != b'e' {
                    let key = self.string()?;
                    if last.as_ref().is_some_and(|l| *l >= key) {
                        return Err(malformed());
                    }
                    let value = self.value(depth + 1)?;
                    last = Some(key.clone());
                    map.insert(key, value);
                }
                self.at += 1;
                Ok(BtValue::Dict(map))
            }
            b'0'..=b'9' => Ok(BtValue::Bytes(self.string()?)),
            _ => Err(malformed()),
        }
    }
}

/// Builds a dictionary encoding key by key (keys must be given in ascending order), for
/// formats whose last entry signs the ones before it.
#[derive(Debug, Default)]
pub struct DictWriter {
    out: Vec<u8>,
}

impl DictWriter {
    /// An empty dictionary.
    pub fn new() -> Self {
        Self::with_capacity(64)
    }

    /// An empty dictionary with room for `bytes` of encoding.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut out = Vec::with_capacity(bytes);
        out.push(b'd');
        Self { out }
    }

    /// Appends `key` and `value`.
    pub fn entry(&mut self, key: &[u8], value: &BtValue) -> &mut Self {
        encode_bytes(key, &mut self.out);
        value.encode_into(&mut self.out);
        self
    }

    /// Appends `key` with a byte-string value.
    pub fn bytes(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        encode_bytes(key, &mut self.out);
        encode_bytes(value, &mut self.out);
        self
    }

    /// Appends `key` with an integer value.
    pub fn int(&mut self, key: &[u8], value: i64) -> &mut Self {
        self.entry(key, &BtValue::Int(value))
    }

    /// The bytes so far (what a signature entry appended next would cover).
    pub fn so_far(&self) -> &[u8] {
        &self.out
    }

    /// Closes the dictionary.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(b'e');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let mut map = BTreeMap::new();
        map.insert(b"a".to_vec(), BtValue::Int(-5));
        map.insert(
            b"b".to_vec(),
            BtValue::List(vec![BtValue::Bytes(b"xy".to_vec()), BtValue::Int(0)]),
        );
        let value = BtValue::Dict(map);
        let encoded = value.encode();
        assert_eq!(encoded, b"d1:ai-5e1:bl2:xyi0eee");
        assert_eq!(decode(&encoded), Ok(value));
        for bad in [
            &b"i-0e"[..],
            b"i03e",
            b"d1:bi1e1:ai1ee",
            b"d1:ai1e1:ai1ee",
            b"3:ab",
            b"i1ee",
            b"le ",
            b"",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let dict = decode_dict(b"d1:#i1e1:~2:zze").unwrap();
        assert_eq!(dict.offset_of(b"~"), Some(7));
    }
}
