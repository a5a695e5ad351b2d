//! libsodium's `crypto_secretstream_xchacha20poly1305`, byte-compatible, on RustCrypto's `chacha20`
//! and `poly1305`. Only what the attachment format needs: a state set up from a given header (what
//! `init_push` does after drawing its random header, and what `init_pull` does), `push` and `pull`
//! without additional data.

use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::ChaCha20;
use poly1305::universal_hash::KeyInit;
use poly1305::Poly1305;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// Bytes of the header that starts a stream.
pub(crate) const HEADER_LEN: usize = 24;
/// Bytes each push adds: the encrypted tag byte and the 16-byte Poly1305 MAC.
pub(crate) const OVERHEAD: usize = 17;
/// The tag of an ordinary message.
pub(crate) const TAG_MESSAGE: u8 = 0;
/// The tag of the last message of a stream (`TAG_PUSH | TAG_REKEY`).
pub(crate) const TAG_FINAL: u8 = 3;
const TAG_REKEY: u8 = 2;

/// The stream state: the subkey, and the 12-byte IETF nonce = 32-bit little-endian counter ||
/// 8-byte inner nonce.
pub(crate) struct StreamState {
    key: Zeroizing<[u8; 32]>,
    nonce: [u8; 12],
}

impl Drop for StreamState {
    fn drop(&mut self) {
        self.nonce.zeroize();
    }
}

impl StreamState {
    /// The state `init_push`/`init_pull` derive from `key` and `header`:
    /// subkey = HChaCha20(key, header[0..16]), counter 1, inner nonce header[16..24].
    pub(crate) fn new(key: &[u8; 32], header: &[u8; HEADER_LEN]) -> Self {
        let mut input = [0u8; 16];
        input.copy_from_slice(&header[..16]);
        let subkey = chacha20::hchacha::<chacha20::cipher::consts::U10>(key.into(), &input.into());
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(&subkey);
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&1u32.to_le_bytes());
        nonce[4..].copy_from_slice(&header[16..]);
        Self { key: k, nonce }
    }

    /// XORs `buf` with the ChaCha20 (IETF) keystream from block `counter` on.
    fn xor_keystream(&self, counter: u64, buf: &mut [u8]) {
        let mut cipher = ChaCha20::new((&*self.key).into(), (&self.nonce).into());
        cipher.seek(counter * 64);
        cipher.apply_keystream(buf);
    }

    /// The Poly1305 tag over `block || c || pad || le64(0) || le64(64 + len(c))`, with the pad
    /// length libsodium uses (`(0x10 - 64 + mlen) & 0xf`, that is `mlen mod 16`).
    fn mac(&self, block: &[u8; 64], c: &[u8]) -> [u8; 16] {
        let mut poly_key = Zeroizing::new([0u8; 64]);
        self.xor_keystream(0, &mut poly_key[..]);
        let mut input = Vec::with_capacity(64 + c.len() + 16 + 16);
        input.extend_from_slice(block);
        input.extend_from_slice(c);
        input.resize(input.len() + (c.len() & 0xf), 0);
        input.extend_from_slice(&0u64.to_le_bytes());
        input.extend_from_slice(&(64 + c.len() as u64).to_le_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(&poly_key[..32]);
        let tag = Poly1305::new(&key.into()).compute_unpadded(&input);
        key.zeroize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&tag);
        out
    }

    /// The tag block: 64 bytes of keystream from block 1 with byte 0 XORed by `tag`.
    fn tag_block(&self, first: u8) -> [u8; 64] {
        let mut block = [0u8; 64];
        block[0] = first;
        self.xor_keystream(1, &mut block);
        block
    }

    /// After each message: inner nonce ^= mac[0..8], counter += 1, rekey on `TAG_REKEY` or wrap.
    fn advance(&mut self, mac: &[u8; 16], tag: u8) {
        for (n, m) in self.nonce[4..].iter_mut().zip(mac) {
            *n ^= m;
        }
        let mut counter = [0u8; 4];
        counter.copy_from_slice(&self.nonce[..4]);
        let counter = u32::from_le_bytes(counter).wrapping_add(1);
        self.nonce[..4].copy_from_slice(&counter.to_le_bytes());
        if tag & TAG_REKEY != 0 || counter == 0 {
            self.rekey();
        }
    }

    /// `crypto_secretstream_xchacha20poly1305_rekey`: (key || inner nonce) ^= keystream from
    /// block 0, counter back to 1.
    fn rekey(&mut self) {
        let mut buf = Zeroizing::new([0u8; 40]);
        buf[..32].copy_from_slice(&self.key[..]);
        buf[32..].copy_from_slice(&self.nonce[4..]);
        self.xor_keystream(0, &mut buf[..]);
        self.key.copy_from_slice(&buf[..32]);
        self.nonce[4..].copy_from_slice(&buf[32..]);
        self.nonce[..4].copy_from_slice(&1u32.to_le_bytes());
    }

    /// Encrypts one message with `tag`, appending `OVERHEAD + m.len()` bytes to `out`.
    pub(crate) fn push(&mut self, m: &[u8], tag: u8, out: &mut Vec<u8>) {
        let block = self.tag_block(tag);
        let start = out.len();
        out.push(block[0]);
        out.extend_from_slice(m);
        self.xor_keystream(2, &mut out[start + 1..]);
        let mac = self.mac(&block, &out[start + 1..]);
        out.extend_from_slice(&mac);
        self.advance(&mac, tag);
    }

    /// Decrypts one pushed message (`c` = tag byte || ciphertext || MAC), appending the plaintext
    /// to `out` and returning its tag; `None` if the MAC does not verify (the state is unchanged).
    pub(crate) fn pull(&mut self, c: &[u8], out: &mut Vec<u8>) -> Option<u8> {
        if c.len() < OVERHEAD {
            return None;
        }
        let (body, mac) = c[1..].split_at(c.len() - OVERHEAD);
        let mut block = self.tag_block(c[0]);
        let tag = block[0];
        block[0] = c[0];
        let expected = self.mac(&block, body);
        if !bool::from(expected.ct_eq(mac)) {
            return None;
        }
        let start = out.len();
        out.extend_from_slice(body);
        self.xor_keystream(2, &mut out[start..]);
        self.advance(&expected, tag);
        Some(tag)
    }
}
