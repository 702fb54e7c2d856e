//! Signs the pass: a room's ES256 key (made here, kept in the operator's account by the CLI), its public
//! half for the JWKS, and the compact JWS a consumer stores with each token item it writes.
//!
//! Why ES256: every JWT library a destination uses verifies it (`jose`, PyJWT, `jsonwebtoken`, Java,
//! .NET, Go), and its signature is 64 bytes where RS256's is 256, which keeps a token item with its pass
//! under DynamoDB's 1 KB write unit. EdDSA is smaller still but several stacks verify it only with extras.
//!
//! Why the consumer signs, at release: `/poll` is answered by API Gateway straight from DynamoDB (no
//! code runs at admission), so the pass must be in the token item when the visitor polls; and the
//! consumers are few (the release rate's share of concurrency), so only they hold the key, never the
//! producer that faces the crowd. The key comes from a Secrets Manager secret ([`PassKeys`]).
//!
//! Why ring and not `jsonwebtoken`: its signing backends are aws-lc (whose C code was a third of each
//! Lambda zip) or RustCrypto (RSA and all); ring is what the functions' TLS links. A compact JWS is three
//! base64url parts (RFC 7515 §7.1), and ring's fixed-width ECDSA signature is the `r || s` that ES256
//! wants, so the whole encoding is [`PassSigner::sign`]. Every verifier in the tests and `examples/` is
//! an independent library.

use crate::Error;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use beekeeper_core::pass::{CurrentKey, KeyRing, PassClaims, PublicKey};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

fn key_error(detail: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        what: "pass signing key",
        detail: detail.to_string(),
    }
}

/// A new P-256 key from the system's CSPRNG.
pub fn generate_key() -> Result<CurrentKey, Error> {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|e| key_error(format!("cannot generate a key: {e}")))?;
    current_key(pkcs8.as_ref())
}

/// The stored form of a PKCS#8 key: its public coordinates, `kid` and the DER itself.
fn current_key(pkcs8: &[u8]) -> Result<CurrentKey, Error> {
    Ok(CurrentKey {
        public: public_key(key_pair(pkcs8)?.public_key().as_ref())?,
        pkcs8: STANDARD.encode(pkcs8),
    })
}

fn key_pair(pkcs8: &[u8]) -> Result<EcdsaKeyPair, Error> {
    EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8,
        &SystemRandom::new(),
    )
    .map_err(|e| key_error(format!("not a P-256 PKCS#8 key: {e}")))
}

/// `point` is SEC1 uncompressed (0x04, x, y). The `kid` is the key's RFC 7638 thumbprint, so it names
/// the key itself and two rooms never collide.
fn public_key(point: &[u8]) -> Result<PublicKey, Error> {
    let (Some(0x04), 65) = (point.first().copied(), point.len()) else {
        return Err(key_error("public key is not an uncompressed P-256 point"));
    };
    let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
    let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
    // RFC 7638: the required members, in lexicographic order, without whitespace.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    Ok(PublicKey { kid, x, y })
}

/// The JOSE header of every pass a key signs.
#[derive(Serialize)]
struct JwsHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// The key a consumer signs with, and the claims it must put in every pass.
pub struct PassSigner {
    kid: String,
    issuer: String,
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    /// The header, base64url-encoded once: it is the same in every pass this key signs.
    header: String,
}

impl PassSigner {
    /// From the room's key ring, checking that the private key is the one its public half says.
    pub fn from_ring(ring: &KeyRing) -> Result<PassSigner, Error> {
        let der = STANDARD
            .decode(&ring.current.pkcs8)
            .map_err(|e| key_error(format!("pkcs8 is not base64: {e}")))?;
        let pair = key_pair(&der)?;
        let public = public_key(pair.public_key().as_ref())?;
        if public != ring.current.public {
            return Err(key_error(
                "the private key does not match its published public key; run `beekeeper rotate-key`",
            ));
        }
        let header = JwsHeader {
            alg: "ES256",
            typ: "JWT",
            kid: &public.kid,
        };
        let header = serde_json::to_vec(&header).map_err(key_error)?;
        Ok(PassSigner {
            header: URL_SAFE_NO_PAD.encode(header),
            pair,
            rng: SystemRandom::new(),
            kid: public.kid,
            issuer: ring.issuer.clone(),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The compact JWS (`header.claims.signature`) for `claims`.
    pub fn sign(&self, claims: &PassClaims) -> Result<String, Error> {
        let claims = serde_json::to_vec(claims).map_err(key_error)?;
        // header, claims, and the 86 characters of a 64-byte signature, with their two dots
        let size = self.header.len() + claims.len().div_ceil(3) * 4 + 86 + 2;
        let mut jws = String::with_capacity(size);
        jws.push_str(&self.header);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut jws);
        let signature = self
            .pair
            .sign(&self.rng, jws.as_bytes())
            .map_err(|e| key_error(format!("cannot sign a pass: {e}")))?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut jws);
        Ok(jws)
    }
}

/// Where a consumer gets the signer: the AWS secret (cached, re-read every
/// [`beekeeper_core::pass::KEY_REFRESH_SECS`]) in Lambda, a fixed one in `dev` and tests.
#[async_trait]
pub trait PassKeys: Send + Sync {
    async fn signer(&self) -> Result<Arc<PassSigner>, Error>;
}

/// One signer for the life of the process (`beekeeper dev` makes its key at start).
pub struct FixedKeys(pub Arc<PassSigner>);

#[async_trait]
impl PassKeys for FixedKeys {
    async fn signer(&self) -> Result<Arc<PassSigner>, Error> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beekeeper_core::Token;
    use beekeeper_core::contract::TokenItem;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

    fn ring() -> KeyRing {
        KeyRing::new("https://r.example/live/", generate_key().unwrap())
    }

    fn claims() -> PassClaims {
        let item = TokenItem::released(Token::parse("AbCdEfGhIjKlMnOpQrStUw").unwrap(), 1_000, 10);
        PassClaims::at_release(
            &item,
            "https://r.example/live/",
            "https://shop.example",
            [1; 16],
        )
    }

    fn verifier(k: &PublicKey) -> DecodingKey {
        DecodingKey::from_ec_components(&k.x, &k.y).unwrap()
    }

    #[test]
    fn a_pass_verifies_against_the_published_half_only() {
        let ring = ring();
        let signer = PassSigner::from_ring(&ring).unwrap();
        let pass = signer.sign(&claims()).unwrap();
        assert!(beekeeper_core::pass::is_compact_jws(&pass));
        assert!(pass.len() < 600, "{} characters", pass.len());
        let header = decode_header(&pass).unwrap();
        assert_eq!(
            header.kid.as_deref(),
            Some(ring.current.public.kid.as_str())
        );
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&["https://shop.example"]);
        v.set_issuer(&["https://r.example/live/"]);
        v.validate_exp = false;
        let got = decode::<PassClaims>(&pass, &verifier(&ring.current.public), &v).unwrap();
        assert_eq!(got.claims, claims());
        let other = generate_key().unwrap();
        assert!(decode::<PassClaims>(&pass, &verifier(&other.public), &v).is_err());
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 7517 appendix A.1's P-256 key; the thumbprint Python's hashlib gives over RFC 7638's
        // canonical form (`crates/cli/tests/examples.rs` also checks live kids against `jose`'s).
        let x = URL_SAFE_NO_PAD
            .decode("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4")
            .unwrap();
        let y = URL_SAFE_NO_PAD
            .decode("4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM")
            .unwrap();
        let point: Vec<u8> = [vec![4u8], x, y].concat();
        assert_eq!(
            public_key(&point).unwrap().kid,
            "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s"
        );
    }

    #[test]
    fn a_key_made_by_aws_lc_before_ring_still_signs() {
        // Rooms deployed before the switch to ring keep their secret: this ring was made by
        // aws-lc-rs's `generate_pkcs8`, and its pass must still verify under the kid it published.
        let public = PublicKey {
            kid: "c4R3EWrhrmjQL_beVeu_mhoQVZHl64Paitnq32LmtHg".into(),
            x: "RYrYvuj_XZRr5zIU4r4BpBXkL1POnDiRhcb7dKbBC8E".into(),
            y: "HN62UVCw2kJ90TgjQbGyRuSURluK1IhAsi7kUJ3LA-Q".into(),
        };
        let pkcs8 = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgqJ5LQNJ/geOk+fYdLSGRX5mZLOGIOhyXLeII\
                     SBwhGb2hRANCAARFiti+6P9dlGvnMhTivgGkFeQvU86cOJGFxvt0psELwRzetlFQsNpCfdE4I0GxskbklEZbitSI\
                     QLIu5FCdywPk";
        let current = CurrentKey {
            public: public.clone(),
            pkcs8: pkcs8.into(),
        };
        let signer =
            PassSigner::from_ring(&KeyRing::new("https://r.example/live/", current)).unwrap();
        assert_eq!(signer.kid(), public.kid);
        let pass = signer.sign(&claims()).unwrap();
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&["https://shop.example"]);
        v.validate_exp = false;
        assert!(decode::<PassClaims>(&pass, &verifier(&public), &v).is_ok());
    }

    #[test]
    fn a_ring_whose_halves_disagree_is_refused() {
        let mut ring = ring();
        ring.current.public = generate_key().unwrap().public;
        let err = PassSigner::from_ring(&ring).err().unwrap().to_string();
        assert!(err.contains("does not match"), "{err}");
        let mut ring = self::tests::ring();
        ring.current.pkcs8 = "bm90IGEga2V5".into();
        assert!(PassSigner::from_ring(&ring).is_err());
    }
}
