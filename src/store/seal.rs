//! Key names and sealed values (the derivation is written down in the
//! module docs of `store`): HKDF-SHA256 from the credential, AES-256-GCM
//! bound to the Redis key name.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

/// HKDF salt: a fixed domain label, so that these keys never coincide with
/// keys some other program derives from the same credential.
pub(super) const SALT: &[u8] = b"wml-native token store v1";
/// `info` prefixes; same length, so `label || context` never collides
/// across labels.
pub(super) const NAME_INFO: &[u8] = b"wmln/v1/name\0";
pub(super) const SEAL_INFO: &[u8] = b"wmln/v1/seal\0";
/// Every key this module writes starts with this.
pub const KEY_PREFIX: &str = "wmln:v1:";
/// First byte of every value: the format of what follows.
pub(super) const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Everything derived for one cache identity: the Redis key names of its
/// entry and its lease, and the key that seals its entry. Cheap to clone;
/// `Debug` shows only the start of the (already opaque) key name.
#[derive(Clone)]
pub struct Slot {
    pub(super) value_key: String,
    pub(super) lease_key: String,
    cipher: Aes256Gcm,
}

impl Slot {
    pub(super) fn derive(ikm: &[u8], context: &[u8]) -> Slot {
        let hk = Hkdf::<Sha256>::new(Some(SALT), ikm);
        let mut id = [0u8; 32];
        let mut key = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit (255 * 32): cannot fail.
        let ok = hk.expand_multi_info(&[NAME_INFO, context], &mut id).is_ok()
            && hk
                .expand_multi_info(&[SEAL_INFO, context], &mut *key)
                .is_ok();
        debug_assert!(ok);
        let id = hex(&id);
        Slot {
            value_key: format!("{KEY_PREFIX}t:{id}"),
            lease_key: format!("{KEY_PREFIX}l:{id}"),
            cipher: Aes256Gcm::new((&*key).into()),
        }
    }

    /// The Redis key of the entry (`wmln:v1:t:<64 hex>`).
    pub fn key(&self) -> &str {
        &self.value_key
    }

    /// The Redis key of the lease (`wmln:v1:l:<64 hex>`).
    pub fn lease_key(&self) -> &str {
        &self.lease_key
    }

    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(1 + self.value_key.len());
        aad.push(VERSION);
        aad.extend_from_slice(self.value_key.as_bytes());
        aad
    }

    /// `VERSION || nonce || AES-256-GCM(record, aad = VERSION || key name)`.
    /// Fails only if the system has no randomness to give.
    pub(super) fn seal(&self, record: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).ok()?;
        let aad = self.aad();
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: record,
                    aad: &aad,
                },
            )
            .ok()?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(out)
    }

    /// The record inside `value`, or None if it does not open: another
    /// version, another credential or context, another key name, altered.
    pub(super) fn open(&self, value: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if value.len() < 1 + NONCE_LEN + TAG_LEN || value[0] != VERSION {
            return None;
        }
        let (nonce, sealed) = value[1..].split_at(NONCE_LEN);
        let aad = self.aad();
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = self
            .value_key
            .get(..KEY_PREFIX.len() + 2 + 12)
            .unwrap_or("");
        write!(f, "Slot({short}…)")
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}
