//! The visitor token: 128 random bits, base64url without padding, 22 characters. It is the only secret a
//! visitor holds, so it comes from a CSPRNG the caller passes in, and parsing accepts nothing else.

use crate::Error;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

pub const TOKEN_LEN: usize = 22;

/// A well-formed visitor token. Its `#`-free alphabet is why the room item can use the key `#room`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(String);

impl Token {
    /// A fresh token. `CryptoRng` in the bound keeps a predictable generator from ever being passed.
    pub fn generate<R: rand::CryptoRng + ?Sized>(rng: &mut R) -> Token {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        Token(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts exactly `^[A-Za-z0-9_-]{22}$`, the same rule the API Gateway mapping templates apply.
    pub fn parse(s: &str) -> Result<Token, Error> {
        if s.len() != TOKEN_LEN {
            return Err(Error::Token {
                reason: "a token is 22 characters long",
            });
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::Token {
                reason: "a token holds only A-Z, a-z, 0-9, '-' and '_'",
            });
        }
        Ok(Token(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Redacted: tokens are bearer secrets and must not reach logs through `{:?}`.
impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({}…)", &self.0[..4])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn generated_tokens_are_22_url_safe_chars_and_distinct() {
        let mut rng = StdRng::seed_from_u64(7);
        let a = Token::generate(&mut rng);
        let b = Token::generate(&mut rng);
        assert_eq!(a.as_str().len(), 22);
        assert_ne!(a, b);
        assert_eq!(Token::parse(a.as_str()).unwrap(), a);
        assert!(!format!("{a:?}").contains(a.as_str()));
    }

    #[test]
    fn all_zero_and_all_one_bits_encode_as_expected() {
        struct Fixed(u8);
        impl rand::RngCore for Fixed {
            fn next_u32(&mut self) -> u32 {
                u32::from(self.0) * 0x0101_0101
            }
            fn next_u64(&mut self) -> u64 {
                u64::from(self.next_u32()) << 32 | u64::from(self.next_u32())
            }
            fn fill_bytes(&mut self, dst: &mut [u8]) {
                dst.fill(self.0)
            }
        }
        impl rand::CryptoRng for Fixed {}
        assert_eq!(
            Token::generate(&mut Fixed(0)).as_str(),
            "AAAAAAAAAAAAAAAAAAAAAA"
        );
        assert_eq!(
            Token::generate(&mut Fixed(0xff)).as_str(),
            "_____________________w"
        );
    }

    #[test]
    fn parse_rejects_everything_else() {
        for bad in [
            "",
            "short",
            "AAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAA+A",
            "AAAAAAAAAAAAAAAAAAAA/A",
            "AAAAAAAAAAAAAAAAAAAA=A",
            "AAAAAAAAAAAAAAAAAAAA\"A",
            "#room-AAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAé",
        ] {
            assert!(Token::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    proptest! {
        #[test]
        fn round_trip(seed in any::<u64>()) {
            let t = Token::generate(&mut StdRng::seed_from_u64(seed));
            prop_assert_eq!(Token::parse(&t.to_string()).unwrap(), t);
        }

        #[test]
        fn parse_never_panics_and_accepts_only_the_alphabet(s in "\\PC{0,40}") {
            let ok = Token::parse(&s).is_ok();
            let expected = s.len() == 22 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            prop_assert_eq!(ok, expected);
        }
    }
}
