//! Message padding: `M || 0x80 || 0x00...` up to a multiple of 160 bytes, as Session clients do.

/// Padded messages are a multiple of this many bytes.
pub const PADDING_BLOCK: usize = 160;

/// Pads `message` to the next multiple of 160 bytes (always adding at least the `0x80` marker).
pub fn pad(message: &[u8]) -> Vec<u8> {
    let len = (message.len() + 1).div_ceil(PADDING_BLOCK) * PADDING_BLOCK;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(message);
    out.push(0x80);
    out.resize(len, 0);
    out
}

/// Removes padding if present. Accepts lengths of 160k and 160k-1 (older clients dropped one
/// byte) and unpadded input: when the trailing bytes are not `0x80` followed by zeros, the input
/// is returned unchanged.
pub fn unpad(padded: &[u8]) -> &[u8] {
    let len = padded.len();
    let looks_padded = len.is_multiple_of(PADDING_BLOCK) || (len + 1).is_multiple_of(PADDING_BLOCK);
    if !looks_padded {
        return padded;
    }
    match padded.iter().rposition(|b| *b != 0) {
        Some(marker) if padded.get(marker) == Some(&0x80) => padded.get(..marker).unwrap_or(padded),
        _ => padded,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn pads_to_multiples_of_160() {
        assert_eq!(pad(b"").len(), 160);
        assert_eq!(pad(&[1; 159]).len(), 160);
        assert_eq!(pad(&[1; 160]).len(), 320);
        let padded = pad(b"hello");
        assert_eq!(&padded[..6], b"hello\x80");
        assert!(padded[6..].iter().all(|b| *b == 0));
    }

    #[test]
    fn unpads_every_accepted_form() {
        let message = b"hello".as_slice();
        let padded = pad(message);
        assert_eq!(unpad(&padded), message);
        // 160k - 1: one trailing zero dropped.
        assert_eq!(unpad(&padded[..159]), message);
        // Unpadded input passes through.
        assert_eq!(unpad(message), message);
        // A message that ends in zeros without a marker is not mangled.
        let zeros = [7u8, 0, 0];
        assert_eq!(unpad(&zeros), &zeros);
        let mut no_marker = vec![1u8; 10];
        no_marker.resize(160, 0);
        assert_eq!(unpad(&no_marker), no_marker.as_slice());
    }
}
