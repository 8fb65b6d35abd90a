//! The recovery kit: a printable text that opens a repository with no
//! passphrase. It carries a 256-bit random code (with a short checksum so a
//! code typed back from paper is caught when mistyped) for a recovery slot.

use data_encoding::BASE32_NOPAD;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};

const HEADER: &str = "LIFEBOAT RECOVERY KIT";
const CODE_LINE: &str = "Recovery code:";
const CHECKSUM_LEN: usize = 2;

/// A recovery kit: which repository and slot it opens, and the secret code
/// (wiped from memory when dropped, as is every copy made while encoding it).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RecoveryKit {
    pub repository_id: String,
    pub slot_id: String,
    pub code: [u8; 32],
}

impl RecoveryKit {
    /// The kit as text to save or print.
    pub fn to_text(&self, location: &str) -> String {
        let mut payload = Zeroizing::new(self.code.to_vec());
        payload.extend_from_slice(&checksum(&self.code));
        let encoded = Zeroizing::new(BASE32_NOPAD.encode(&payload));
        let grouped: Vec<&str> = encoded
            .as_bytes()
            .chunks(5)
            .map(|g| std::str::from_utf8(g).expect("base32 is ASCII"))
            .collect();
        let code = Zeroizing::new(grouped.join("-"));
        format!(
            "{HEADER}\n\n\
             This kit opens the Lifeboat repository below without any passphrase.\n\
             Anyone who holds it can read every backup in it: keep it as secret as\n\
             the databases themselves (a safe, a password manager), never in the\n\
             repository's own folder. `lifeboat key remove {slot}` revokes it.\n\n\
             Repository: {repo}\n\
             Location when created: {location}\n\
             Key slot: {slot}\n\
             {CODE_LINE} {code}\n",
            repo = self.repository_id,
            slot = self.slot_id,
            code = code.as_str(),
        )
    }

    /// Reads a kit back from its text (spaces, dashes and case in the code are
    /// forgiven; a wrong character is caught by the checksum).
    pub fn parse(text: &str) -> Result<Self> {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
                .ok_or_else(|| Error::InvalidRecoveryKit(format!("no `{name}` line")))
        };
        let repository_id = field("Repository:")?;
        let slot_id = field("Key slot:")?;
        let code_line = Zeroizing::new(field(CODE_LINE)?);
        let code_text: Zeroizing<String> = Zeroizing::new(
            code_line
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        let payload = Zeroizing::new(BASE32_NOPAD.decode(code_text.as_bytes()).map_err(|_| {
            Error::InvalidRecoveryKit("the recovery code has characters that cannot be in it: check it was copied exactly".into())
        })?);
        if payload.len() != 32 + CHECKSUM_LEN {
            return Err(Error::InvalidRecoveryKit(
                "the recovery code has the wrong length: check it was copied whole".into(),
            ));
        }
        let code: [u8; 32] = payload[..32].try_into().expect("32 bytes");
        if payload[32..] != checksum(&code) {
            return Err(Error::InvalidRecoveryKit(
                "the recovery code's checksum does not match: a character was mistyped".into(),
            ));
        }
        Ok(RecoveryKit {
            repository_id,
            slot_id,
            code,
        })
    }
}

fn checksum(code: &[u8; 32]) -> [u8; CHECKSUM_LEN] {
    let hash = blake3::hash(code);
    [hash.as_bytes()[0], hash.as_bytes()[1]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kit_text_round_trips_and_catches_typos() {
        let kit = RecoveryKit {
            repository_id: "abc".into(),
            slot_id: "def".into(),
            code: [7; 32],
        };
        let text = kit.to_text("/mnt/nas/lifeboat");
        let back = RecoveryKit::parse(
            &text
                .to_lowercase()
                .replace("recovery code:", CODE_LINE)
                .replace("repository:", "Repository:")
                .replace("key slot:", "Key slot:"),
        )
        .unwrap();
        assert_eq!(back.code, [7; 32]);
        let line = text.lines().find(|l| l.starts_with(CODE_LINE)).unwrap();
        let code = line[CODE_LINE.len()..].trim();
        let typo = if code.starts_with('A') {
            code.replacen('A', "B", 1)
        } else {
            format!("A{}", &code[1..])
        };
        let bad = text.replace(code, &typo);
        assert!(matches!(RecoveryKit::parse(&bad), Err(Error::InvalidRecoveryKit(_))));
        assert!(matches!(RecoveryKit::parse("hello"), Err(Error::InvalidRecoveryKit(_))));
    }
}
