//! The table layout pinned in the data contract, as DynamoDB attribute maps and update expressions. Kept
//! apart from the calls so the mapping is unit-tested without an emulator, and so a room item someone
//! edited by hand fails with a message naming the attribute rather than a panic.

use crate::Error;
use crate::backend::RoomUpdate;
use aws_sdk_dynamodb::types::AttributeValue;
use beekeeper_core::Token;
use beekeeper_core::contract::{ROOM_KEY, RoomState, TokenItem};
use beekeeper_core::ticket::TICKETS_ATTR;
use std::collections::HashMap;
use std::str::FromStr;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const PK: &str = "pk";

pub(crate) fn key(pk: &str) -> Item {
    HashMap::from([(PK.to_string(), AttributeValue::S(pk.to_string()))])
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn corrupt(what: &'static str, detail: String) -> Error {
    Error::Corrupt { what, detail }
}

pub(crate) fn number<T: FromStr>(
    item: &Item,
    what: &'static str,
    attr: &str,
) -> Result<Option<T>, Error> {
    match item.get(attr) {
        None => Ok(None),
        Some(AttributeValue::N(raw)) => raw.parse().map(Some).map_err(|_| {
            corrupt(
                what,
                format!("attribute {attr} is {raw:?}, not a number in range"),
            )
        }),
        Some(other) => Err(corrupt(
            what,
            format!("attribute {attr} is {other:?}, not a number (N)"),
        )),
    }
}

fn required_number<T: FromStr>(item: &Item, what: &'static str, attr: &str) -> Result<T, Error> {
    number(item, what, attr)?.ok_or_else(|| corrupt(what, format!("attribute {attr} is missing")))
}

fn string(item: &Item, what: &'static str, attr: &str) -> Result<Option<String>, Error> {
    match item.get(attr) {
        None => Ok(None),
        Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
        Some(other) => Err(corrupt(
            what,
            format!("attribute {attr} is {other:?}, not a string (S)"),
        )),
    }
}

const ROOM: &str = "room item (#room)";

pub(crate) fn room_to_item(room: &RoomState) -> Item {
    let mut item = key(ROOM_KEY);
    item.insert("open".into(), AttributeValue::Bool(room.open));
    item.insert("rate".into(), n(room.rate));
    item.insert("base_rate".into(), n(room.base_rate));
    item.insert("min_rate".into(), n(room.min_rate));
    item.insert(
        "destination".into(),
        AttributeValue::S(room.destination.clone()),
    );
    item.insert("session_minutes".into(), n(room.session_minutes));
    item.insert("released_total".into(), n(room.released_total));
    item.insert("queue_depth".into(), n(room.queue_depth));
    item.insert("updated_at".into(), n(room.updated_at));
    if let Some(ms) = room.drt_baseline_ms.filter(|ms| ms.is_finite()) {
        item.insert("drt_baseline_ms".into(), n(ms));
    }
    if let Some(last) = &room.drt_last {
        item.insert("drt_last".into(), AttributeValue::S(last.clone()));
    }
    item
}

pub(crate) fn room_from_item(item: &Item) -> Result<RoomState, Error> {
    let open = match item.get("open") {
        Some(AttributeValue::Bool(b)) => *b,
        Some(other) => {
            return Err(corrupt(
                ROOM,
                format!("attribute open is {other:?}, not a boolean (BOOL)"),
            ));
        }
        None => return Err(corrupt(ROOM, "attribute open is missing".into())),
    };
    Ok(RoomState {
        open,
        rate: required_number(item, ROOM, "rate")?,
        base_rate: required_number(item, ROOM, "base_rate")?,
        min_rate: required_number(item, ROOM, "min_rate")?,
        destination: string(item, ROOM, "destination")?
            .ok_or_else(|| corrupt(ROOM, "attribute destination is missing".into()))?,
        session_minutes: required_number(item, ROOM, "session_minutes")?,
        released_total: required_number(item, ROOM, "released_total")?,
        queue_depth: required_number(item, ROOM, "queue_depth")?,
        updated_at: required_number(item, ROOM, "updated_at")?,
        drt_baseline_ms: number(item, ROOM, "drt_baseline_ms")?,
        drt_last: string(item, ROOM, "drt_last")?,
    })
}

const TOKEN: &str = "token item";

pub(crate) fn token_to_item(t: &TokenItem) -> Item {
    let mut item = key(t.token.as_str());
    item.insert("released_at".into(), n(t.released_at));
    item.insert("expires_at".into(), n(t.expires_at));
    if let Some(pass) = &t.pass {
        item.insert("pass".into(), AttributeValue::S(pass.clone()));
    }
    item
}

pub(crate) fn token_from_item(item: &Item) -> Result<TokenItem, Error> {
    let pk =
        string(item, TOKEN, PK)?.ok_or_else(|| corrupt(TOKEN, "attribute pk is missing".into()))?;
    let token = Token::parse(&pk).map_err(|e| corrupt(TOKEN, format!("pk is not a token: {e}")))?;
    Ok(TokenItem {
        token,
        released_at: required_number(item, TOKEN, "released_at")?,
        expires_at: required_number(item, TOKEN, "expires_at")?,
        pass: string(item, TOKEN, "pass")?,
    })
}

/// One UpdateItem's expressions. Every placeholder is declared only when used: DynamoDB rejects unused
/// names and values.
#[derive(Debug, Default)]
pub(crate) struct Expr {
    pub update: String,
    pub condition: String,
    pub names: HashMap<String, String>,
    pub values: Item,
}

impl Expr {
    fn name(&mut self, attr: &str) -> String {
        let p = format!("#{attr}");
        self.names.insert(p.clone(), attr.to_string());
        p
    }
    fn value(&mut self, placeholder: &str, v: AttributeValue) -> String {
        let p = format!(":{placeholder}");
        self.values.insert(p.clone(), v);
        p
    }
}

fn assign(e: &mut Expr, attr: &str, v: AttributeValue) -> String {
    let n = e.name(attr);
    let p = e.value(attr, v);
    format!("{n} = {p}")
}

/// The room item's write counter. Every write adds 1, and the copies the waiting path reads
/// (`#room#0…`) only ever take a higher version, so concurrent writers converge on the newest state.
pub(crate) const VERSION: &str = "version";

/// The update for `u`. Each touches only its own attributes (plus `updated_at` and `version`), so
/// concurrent writers never overwrite each other; all are conditional on the room item existing, so an
/// update never creates a half room item.
pub(crate) fn room_update(u: &RoomUpdate, now_secs: u64) -> Expr {
    let mut e = Expr::default();
    let mut set: Vec<String> = Vec::new();
    let mut add: Vec<String> = Vec::new();
    let mut remove = String::new();
    match u {
        RoomUpdate::Open(open) => set.push(assign(&mut e, "open", AttributeValue::Bool(*open))),
        RoomUpdate::Rate { rate, min_rate } => {
            // One value for both: the operator's rate is also DRT's ceiling.
            let r = e.value("rate", n(rate));
            set.push(format!("{} = {r}", e.name("rate")));
            set.push(format!("{} = {r}", e.name("base_rate")));
            set.push(assign(&mut e, "min_rate", n(min_rate)));
        }
        RoomUpdate::Destination(d) => {
            set.push(assign(&mut e, "destination", AttributeValue::S(d.clone())))
        }
        RoomUpdate::SessionMinutes(m) => set.push(assign(&mut e, "session_minutes", n(m))),
        RoomUpdate::QueueDepth(d) => set.push(assign(&mut e, "queue_depth", n(d))),
        RoomUpdate::AddReleased(count) => {
            // ADD is atomic on the server: concurrent consumers never lose each other's increments.
            let name = e.name("released_total");
            let v = e.value("released", n(count));
            add.push(format!("{name} {v}"));
        }
        RoomUpdate::Drt {
            rate,
            baseline_ms,
            last,
            ..
        } => {
            set.push(assign(&mut e, "rate", n(rate)));
            set.push(assign(&mut e, "drt_last", AttributeValue::S(last.clone())));
            match baseline_ms.filter(|ms| ms.is_finite()) {
                Some(ms) => set.push(assign(&mut e, "drt_baseline_ms", n(ms))),
                None => remove = format!(" REMOVE {}", e.name("drt_baseline_ms")),
            }
        }
    }
    set.push(assign(&mut e, "updated_at", n(now_secs)));
    add.push(version_bump(&mut e));
    e.update = format!("SET {}{remove} ADD {}", set.join(", "), add.join(", "));
    e.condition = format!("attribute_exists({})", e.name(PK));
    if let RoomUpdate::Drt {
        expected_base_rate, ..
    } = u
    {
        // A `set-rate` that landed since the DRT read the room wins: the DRT's rate is then stale.
        let base = e.name("base_rate");
        let expected = e.value("expected_base_rate", n(expected_base_rate));
        e.condition = format!("{} AND {base} = {expected}", e.condition);
    }
    e
}

/// `#version :one`, for an `ADD` clause.
pub(crate) fn version_bump(e: &mut Expr) -> String {
    let name = e.name(VERSION);
    let one = e.value("one", n(1));
    format!("{name} {one}")
}

/// The copy of the room item stored under `key`: the same attributes, so `/poll` reads it exactly as it
/// would read the room item.
pub(crate) fn room_copy(room_item: &Item, key: &str) -> Item {
    let mut copy = room_item.clone();
    copy.insert(PK.to_string(), AttributeValue::S(key.to_string()));
    copy
}

/// The room item's version (0 for a room written before versions existed).
pub(crate) fn version_of(room_item: &Item) -> Result<u64, Error> {
    Ok(number(room_item, ROOM, VERSION)?.unwrap_or(0))
}

/// `ADD issued :n` on the ticket counter: no condition, because the first block creates the item.
pub(crate) fn tickets_add(count: u64) -> Expr {
    let mut e = Expr::default();
    let name = e.name(TICKETS_ATTR);
    let v = e.value("n", n(count));
    e.update = format!("ADD {name} {v}");
    e
}

const TICKETS: &str = "ticket counter (#tickets)";

/// The counter's value from `UpdateItem`'s `ReturnValues=UPDATED_NEW` answer.
pub(crate) fn tickets_from_answer(attrs: Option<&Item>) -> Result<u64, Error> {
    let empty = Item::new();
    required_number(attrs.unwrap_or(&empty), TICKETS, TICKETS_ATTR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticket_counter_is_one_unconditional_add() {
        let e = tickets_add(40);
        assert_eq!(e.update, "ADD #issued :n");
        assert!(e.condition.is_empty());
        assert_eq!(e.values[":n"], AttributeValue::N("40".into()));
        let answer = HashMap::from([("issued".to_string(), AttributeValue::N("120".into()))]);
        assert_eq!(tickets_from_answer(Some(&answer)).unwrap(), 120);
        let err = tickets_from_answer(None).unwrap_err().to_string();
        assert!(err.contains("issued") && err.contains("#tickets"), "{err}");
    }

    fn room() -> RoomState {
        RoomState {
            open: true,
            rate: 300,
            base_rate: 400,
            min_rate: 30,
            destination: "https://shop.example.com/?a=1".into(),
            session_minutes: 30,
            released_total: 12_345_678_901,
            queue_depth: 7,
            updated_at: 1_700_000_000,
            drt_baseline_ms: Some(123.25),
            drt_last: Some("cut to 300".into()),
        }
    }

    #[test]
    fn room_item_round_trips_with_and_without_drt_memory() {
        let r = room();
        let item = room_to_item(&r);
        assert_eq!(item.get("pk"), Some(&AttributeValue::S("#room".into())));
        assert_eq!(
            item.get("released_total"),
            Some(&AttributeValue::N("12345678901".into()))
        );
        assert_eq!(room_from_item(&item).unwrap(), r);
        let bare = RoomState {
            drt_baseline_ms: None,
            drt_last: None,
            ..r
        };
        let item = room_to_item(&bare);
        assert!(!item.contains_key("drt_baseline_ms") && !item.contains_key("drt_last"));
        assert_eq!(room_from_item(&item).unwrap(), bare);
    }

    #[test]
    fn bad_room_items_name_the_attribute() {
        let mut item = room_to_item(&room());
        item.remove("rate");
        let e = room_from_item(&item).unwrap_err().to_string();
        assert!(e.contains("rate is missing"), "{e}");

        let mut item = room_to_item(&room());
        item.insert("open".into(), AttributeValue::S("yes".into()));
        assert!(
            room_from_item(&item)
                .unwrap_err()
                .to_string()
                .contains("open")
        );

        let mut item = room_to_item(&room());
        item.insert("rate".into(), AttributeValue::N("-5".into()));
        let e = room_from_item(&item).unwrap_err();
        assert!(
            matches!(e, Error::Corrupt { .. }) && e.to_string().contains("\"-5\""),
            "{e}"
        );
    }

    #[test]
    fn token_items_round_trip_and_reject_a_bad_key() {
        let t = TokenItem::released(Token::parse("AbCdEfGhIjKlMnOpQrStUw").unwrap(), 1000, 30);
        let item = token_to_item(&t);
        assert_eq!(
            item.get("expires_at"),
            Some(&AttributeValue::N("2800".into()))
        );
        assert_eq!(token_from_item(&item).unwrap(), t);
        let mut bad = item.clone();
        bad.insert("pk".into(), AttributeValue::S("#room".into()));
        assert!(matches!(token_from_item(&bad), Err(Error::Corrupt { .. })));
        bad = item;
        bad.remove("expires_at");
        assert!(
            token_from_item(&bad)
                .unwrap_err()
                .to_string()
                .contains("expires_at")
        );
    }

    /// Every placeholder the expressions use is declared, and every declared one is used.
    fn assert_consistent(e: &Expr) {
        let text = format!("{} {}", e.update, e.condition);
        let used: Vec<&str> = text
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '#' || c == ':'))
            .filter(|w| w.starts_with('#') || w.starts_with(':'))
            .collect();
        for w in &used {
            assert!(
                e.names.contains_key(*w) || e.values.contains_key(*w),
                "{w} undeclared in {text}"
            );
        }
        for k in e.names.keys().chain(e.values.keys()) {
            assert!(
                used.contains(&k.as_str()),
                "{k} declared but unused in {text}"
            );
        }
    }

    #[test]
    fn every_update_is_well_formed_and_conditional_on_the_room() {
        let updates = [
            RoomUpdate::Open(false),
            RoomUpdate::Rate {
                rate: 500,
                min_rate: 50,
            },
            RoomUpdate::Destination("https://x.example/".into()),
            RoomUpdate::SessionMinutes(15),
            RoomUpdate::QueueDepth(99),
            RoomUpdate::AddReleased(10),
            RoomUpdate::Drt {
                rate: 200,
                baseline_ms: Some(80.0),
                last: "cut".into(),
                expected_base_rate: 400,
            },
            RoomUpdate::Drt {
                rate: 200,
                baseline_ms: None,
                last: "cut".into(),
                expected_base_rate: 400,
            },
        ];
        for u in &updates {
            let e = room_update(u, 42);
            assert_consistent(&e);
            assert!(
                e.condition.starts_with("attribute_exists(#pk)"),
                "{u:?}: {}",
                e.condition
            );
            assert_eq!(
                e.values.get(":updated_at"),
                Some(&AttributeValue::N("42".into()))
            );
        }
        for u in &updates {
            // Every write moves the version on, so the copies the waiting path reads follow it.
            let e = room_update(u, 42);
            assert!(e.update.ends_with("#version :one"), "{u:?}: {}", e.update);
        }
        let add = room_update(&RoomUpdate::AddReleased(10), 42);
        assert!(
            add.update
                .ends_with("ADD #released_total :released, #version :one"),
            "{}",
            add.update
        );
        let drt = room_update(&updates[7], 42);
        assert!(drt.condition.ends_with("#base_rate = :expected_base_rate"));
        assert!(drt.update.contains("REMOVE #drt_baseline_ms"));
    }
}
