//! The canary's minute over the in-memory table and a scripted walk: nothing without a URL or in an
//! idle closed room, a walker every five minutes while open, none for a duplicate tick, a walker through
//! recorded; and the pass check a walker makes, against a pass the room really signed.

use super::*;
use beekeeper_core::canary::{Joined, Seen, Walker};
use beekeeper_core::contract::TokenItem;
use beekeeper_core::pass::{KeyRing, PassClaims};
use beekeeper_room::canary::{Canary, CanaryStore, Walk, check_pass};
use beekeeper_room::pass::{PassSigner, generate_key};
use beekeeper_room::trigger::TickReport;

const URL: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com/live/";
const NOW: u64 = T0_MS / 1000;

/// A walk that gives tickets 1, 2, … and answers polls with what `next` holds.
#[derive(Default)]
struct Scripted {
    joins: Mutex<u64>,
    next: Mutex<Option<Seen>>,
}

#[async_trait]
impl Walk for Scripted {
    async fn join(&self, url: &str) -> Result<Joined, String> {
        assert_eq!(url, URL);
        let mut n = self.joins.lock().unwrap();
        *n += 1;
        Ok(Joined {
            token: format!("walker{n}"),
            ticket: *n,
            released_total: 0,
            rate: 60,
        })
    }

    async fn poll(&self, _: &str, _: &Walker, _: u64) -> Seen {
        self.next.lock().unwrap().clone().unwrap_or(Seen::Waiting {
            released_total: 0,
            rate: 60,
            open: true,
        })
    }
}

fn report(open: bool) -> TickReport {
    TickReport {
        open,
        rate: 60,
        queued: 0,
        returning: 0,
        minute_ms: T0_MS,
        skipped: None,
        tasks: Vec::new(),
    }
}

#[tokio::test]
async fn a_walker_joins_every_five_minutes_while_open_and_its_arrival_through_is_recorded() {
    let table = Arc::new(MemoryTable::with_room(room()));
    let walk = Arc::new(Scripted::default());
    let canary = Canary::new(table.clone(), walk.clone());
    assert_eq!(canary.after(&report(true), NOW).await, None, "no URL yet");
    table.set_canary_url(URL).await.unwrap();
    assert_eq!(
        canary.after(&report(false), NOW).await,
        None,
        "closed, nobody out"
    );

    let first = canary.after(&report(true), NOW).await.unwrap();
    assert_eq!((first.joined, first.out, first.late), (1, 0, 0));
    let (_, state) = table.canary().await.unwrap();
    assert_eq!(state.out.len(), 1);
    assert_eq!(state.out[0].token, "walker1");
    let mut duplicate = report(true);
    duplicate.skipped = Some(beekeeper_room::trigger::Skip::Claimed);
    assert_eq!(canary.after(&duplicate, NOW + 1).await, None);

    for minute in 1..5 {
        let t = canary
            .after(&report(true), NOW + 60 * minute)
            .await
            .unwrap();
        assert_eq!((t.joined, t.out), (0, 1), "minute {minute}");
    }
    let fifth = canary.after(&report(true), NOW + 300).await.unwrap();
    assert_eq!(
        (fifth.joined, fifth.out),
        (1, 1),
        "one more after five minutes"
    );

    *walk.next.lock().unwrap() = Some(Seen::Through);
    let through = canary.after(&report(false), NOW + 360).await.unwrap();
    assert_eq!((through.through, through.joined, through.out), (2, 0, 0));
    let (_, state) = table.canary().await.unwrap();
    assert_eq!(state.last_through.unwrap().took_secs(), 60);
    assert_eq!(
        canary.after(&report(false), NOW + 420).await,
        None,
        "closed and nobody out: an idle room writes nothing"
    );
}

fn signed(ring: &KeyRing, token: &str, exp: u64) -> String {
    let signer = PassSigner::from_ring(ring).unwrap();
    let item = TokenItem {
        token: Token::parse(token).unwrap(),
        released_at: NOW,
        expires_at: exp,
        pass: None,
    };
    let claims = PassClaims::at_release(&item, URL, "https://shop.example.com", [7; 16]);
    signer.sign(&claims).unwrap()
}

#[test]
fn the_walker_checks_its_pass_as_a_destination_would() {
    let ring = KeyRing::new(URL, generate_key().unwrap());
    let jwks = ring.jwks(NOW);
    let token = FIXTURE_TOKEN;
    let pass = signed(&ring, token, NOW + 600);
    assert_eq!(check_pass(&pass, &jwks, URL, token, NOW), Ok(()));
    let another_room = "https://other.example/live/";
    assert!(
        check_pass(&pass, &jwks, another_room, token, NOW)
            .unwrap_err()
            .contains("another room")
    );
    let other = "ZyXwVuTsRqPoNmLkJiHgFe";
    assert!(
        check_pass(&pass, &jwks, URL, other, NOW)
            .unwrap_err()
            .contains("another visitor")
    );
    assert!(
        check_pass(&pass, &jwks, URL, token, NOW + 600)
            .unwrap_err()
            .contains("expired")
    );
    let elsewhere = KeyRing::new(URL, generate_key().unwrap()).jwks(NOW);
    assert!(
        check_pass(&pass, &elsewhere, URL, token, NOW)
            .unwrap_err()
            .contains("does not list")
    );
    // A forged payload under the room's own header and signature.
    let parts: Vec<&str> = pass.split('.').collect();
    let forged_claims = signed(&ring, other, NOW + 600);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        forged_claims.split('.').nth(1).unwrap(),
        parts[2]
    );
    assert!(
        check_pass(&forged, &jwks, URL, other, NOW)
            .unwrap_err()
            .contains("signature")
    );
    assert!(check_pass("not-a-pass", &jwks, URL, token, NOW).is_err());
}
