//! The small part of bencoding (bt) that Session Protocol v2 needs: dictionaries whose keys are
//! byte strings in ascending order and whose values are byte strings.
//!
//! Signed dicts end with a `~` entry whose signature covers every byte of the dict before the
//! `~` key (the convention of libsession-util's producers and consumers).

/// Appends the byte string `value` in bt form: `<len>:<bytes>`.
pub(crate) fn put_bytes(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(value.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(value);
}

/// Appends the entry `key: value` (both byte strings).
pub(crate) fn put_entry(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    put_bytes(out, key);
    put_bytes(out, value);
}

/// One entry of a parsed dict: its key, its value, and the offset at which the key starts (the
/// length of the signed prefix when the key is `~`).
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// Offset of the key's first byte in the input.
    pub start: usize,
}

/// Parses a dict of byte-string values at the start of `input`; returns its entries and the
/// number of bytes it took. Keys must be strictly ascending; any other value type is refused.
pub(crate) fn parse_dict(input: &[u8]) -> Result<(Vec<Entry<'_>>, usize), &'static str> {
    if input.first() != Some(&b'd') {
        return Err("not a dict");
    }
    let mut pos = 1;
    let mut entries: Vec<Entry<'_>> = Vec::new();
    loop {
        match input.get(pos) {
            None => return Err("dict not terminated"),
            Some(b'e') => return Ok((entries, pos + 1)),
            Some(_) => {}
        }
        let start = pos;
        let key = take_bytes(input, &mut pos)?;
        if let Some(last) = entries.last() {
            if key <= last.key {
                return Err("dict keys out of order");
            }
        }
        let value = take_bytes(input, &mut pos)?;
        entries.push(Entry { key, value, start });
    }
}

/// Reads one `<len>:<bytes>` at `*pos`, advancing it.
fn take_bytes<'a>(input: &'a [u8], pos: &mut usize) -> Result<&'a [u8], &'static str> {
    let rest = input.get(*pos..).ok_or("truncated")?;
    let colon = rest
        .iter()
        .take(8)
        .position(|&b| b == b':')
        .ok_or("bad string length")?;
    let digits = &rest[..colon];
    if digits.is_empty()
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits.len() > 1 && digits[0] == b'0')
    {
        return Err("bad string length");
    }
    let len: usize = digits
        .iter()
        .fold(0usize, |n, &d| n * 10 + usize::from(d - b'0'));
    let body = rest
        .get(colon + 1..colon + 1 + len)
        .ok_or("string runs past the end")?;
    *pos += colon + 1 + len;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_offsets() {
        let mut d = vec![b'd'];
        put_entry(&mut d, b"S", b"abc");
        put_entry(&mut d, b"c", b"");
        let sig_at = d.len();
        put_entry(&mut d, b"~", b"xy");
        d.push(b'e');
        assert_eq!(d, b"d1:S3:abc1:c0:1:~2:xye");
        let (entries, used) = parse_dict(&d).unwrap();
        assert_eq!(used, d.len());
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2].start, sig_at);
        assert_eq!(entries[0].value, b"abc");
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            &b""[..],
            b"l",
            b"d",
            b"d1:S",
            b"d1:S3:ab",
            b"d1:c0:1:S0:e",
            b"d1:S0:1:S0:e",
            b"d01:S0:e",
            b"di1e0:e",
            b"d999999999:e",
        ] {
            assert!(parse_dict(bad).is_err(), "{bad:?}");
        }
    }
}
