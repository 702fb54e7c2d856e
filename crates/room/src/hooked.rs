//! One forwarding decorator for every test double, bench and simulation that watches or disturbs the
//! calls the handlers make: [`Hooked`] passes each call of a [`Table`] or a [`Queue`] to the real one and
//! tells a [`Hook`] before and after, so a double says only what it adds (count a key, record a write,
//! fail a call, hang at a step) and a new call needs forwarding in one place.

use crate::Error;
use crate::backend::{
    BatchKey, PassedOver, Presence, Queue, QueueDepth, Received, Released, RoomUpdate, Table,
};
use async_trait::async_trait;
use beekeeper_core::Token;
use beekeeper_core::contract::{RoomState, TokenItem};
use beekeeper_core::place::PlaceRecord;
use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// One call, with what identifies it.
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    Room,
    PutRoom,
    UpdateRoom(&'a RoomUpdate),
    Token(&'a Token),
    Place(&'a Token),
    RecordPlace(&'a Token),
    Confirm(&'a Token),
    Presence(&'a [Token]),
    PassOver(&'a [Token]),
    Collect(&'a Token),
    ClaimReadmit(&'a Token),
    TakeTickets(u64),
    ClaimMinute(u64),
    ClaimTask { minute_ms: u64, index: u32 },
    Release(&'a [TokenItem]),
    Readmit(&'a [TokenItem]),
    PublishReleased,
    RefreshCopies,
    SeedCounters,
    Send(&'a Token),
    SendPending(&'a Token),
    Receive { max: u32, wait: Duration },
    Delete(&'a [Received]),
    Defer(usize),
    Depth,
}

/// What a double adds around the real calls.
#[async_trait]
pub trait Hook: Send + Sync {
    /// Before the call: an error fails it without reaching the real backend.
    async fn before(&self, _call: &Call<'_>) -> Result<(), Error> {
        Ok(())
    }
    /// After it, with what it returned (downcast to the call's output type: `Released`, `u64`, …).
    async fn after(&self, _call: &Call<'_>, _result: Result<&(dyn Any + Send + Sync), &Error>) {}
}

/// One hook shared by several decorated backends (a table and a queue that one kill switch stops).
#[async_trait]
impl<H: Hook + ?Sized> Hook for Arc<H> {
    async fn before(&self, call: &Call<'_>) -> Result<(), Error> {
        (**self).before(call).await
    }
    async fn after(&self, call: &Call<'_>, result: Result<&(dyn Any + Send + Sync), &Error>) {
        (**self).after(call, result).await
    }
}

/// A [`Table`] or [`Queue`] (`T`) whose calls go through `hook` (`H`).
pub struct Hooked<T: ?Sized, H> {
    pub inner: Arc<T>,
    pub hook: H,
}

impl<T: ?Sized, H: Hook> Hooked<T, H> {
    pub fn new(inner: Arc<T>, hook: H) -> Self {
        Hooked { inner, hook }
    }

    async fn around<R: Any + Send + Sync>(
        &self,
        call: Call<'_>,
        f: impl Future<Output = Result<R, Error>> + Send,
    ) -> Result<R, Error> {
        self.hook.before(&call).await?;
        let r = f.await;
        let seen = r.as_ref().map(|v| v as &(dyn Any + Send + Sync));
        self.hook.after(&call, seen).await;
        r
    }
}

#[async_trait]
impl<T: Table + ?Sized, H: Hook> Table for Hooked<T, H> {
    async fn room(&self) -> Result<Option<RoomState>, Error> {
        self.around(Call::Room, self.inner.room()).await
    }
    async fn put_room(&self, room: &RoomState) -> Result<(), Error> {
        self.around(Call::PutRoom, self.inner.put_room(room)).await
    }
    async fn update_room(&self, update: RoomUpdate, now_secs: u64) -> Result<bool, Error> {
        let call = Call::UpdateRoom(&update);
        self.around(call, self.inner.update_room(update.clone(), now_secs))
            .await
    }
    async fn token(&self, t: &Token) -> Result<Option<TokenItem>, Error> {
        self.around(Call::Token(t), self.inner.token(t)).await
    }
    async fn place(&self, t: &Token) -> Result<(Option<TokenItem>, Option<PlaceRecord>), Error> {
        self.around(Call::Place(t), self.inner.place(t)).await
    }
    async fn record_place(
        &self,
        t: &Token,
        ticket: u64,
        confirmed: bool,
        now_ms: u64,
    ) -> Result<(), Error> {
        let f = self.inner.record_place(t, ticket, confirmed, now_ms);
        self.around(Call::RecordPlace(t), f).await
    }
    async fn confirm(&self, t: &Token, now_ms: u64) -> Result<bool, Error> {
        self.around(Call::Confirm(t), self.inner.confirm(t, now_ms))
            .await
    }
    async fn presence(&self, tokens: &[Token]) -> Result<Presence, Error> {
        self.around(Call::Presence(tokens), self.inner.presence(tokens))
            .await
    }
    async fn pass_over(&self, tokens: &[Token], now_ms: u64) -> Result<PassedOver, Error> {
        let f = self.inner.pass_over(tokens, now_ms);
        self.around(Call::PassOver(tokens), f).await
    }
    async fn collect(&self, t: &Token, now_ms: u64) -> Result<(), Error> {
        self.around(Call::Collect(t), self.inner.collect(t, now_ms))
            .await
    }
    async fn claim_readmit(&self, t: &Token, now_ms: u64) -> Result<bool, Error> {
        let f = self.inner.claim_readmit(t, now_ms);
        self.around(Call::ClaimReadmit(t), f).await
    }
    async fn take_tickets(&self, n: u64) -> Result<u64, Error> {
        self.around(Call::TakeTickets(n), self.inner.take_tickets(n))
            .await
    }
    async fn claim_minute(&self, minute_ms: u64, now_secs: u64) -> Result<bool, Error> {
        let f = self.inner.claim_minute(minute_ms, now_secs);
        self.around(Call::ClaimMinute(minute_ms), f).await
    }
    async fn claim_task(&self, minute_ms: u64, index: u32, expires_at: u64) -> Result<bool, Error> {
        let f = self.inner.claim_task(minute_ms, index, expires_at);
        self.around(Call::ClaimTask { minute_ms, index }, f).await
    }
    async fn release(&self, items: &[TokenItem], batch: BatchKey) -> Result<Released, Error> {
        let f = self.inner.release(items, batch);
        self.around(Call::Release(items), f).await
    }
    async fn readmit(&self, items: &[TokenItem]) -> Result<Released, Error> {
        self.around(Call::Readmit(items), self.inner.readmit(items))
            .await
    }
    async fn publish_released(&self, now_secs: u64) -> Result<u64, Error> {
        let f = self.inner.publish_released(now_secs);
        self.around(Call::PublishReleased, f).await
    }
    async fn refresh_copies(&self) -> Result<(), Error> {
        self.around(Call::RefreshCopies, self.inner.refresh_copies())
            .await
    }
    async fn seed_released_counters(&self) -> Result<Option<u64>, Error> {
        let f = self.inner.seed_released_counters();
        self.around(Call::SeedCounters, f).await
    }
}

#[async_trait]
impl<Q: Queue + ?Sized, H: Hook> Queue for Hooked<Q, H> {
    async fn send(&self, t: &Token) -> Result<(), Error> {
        self.around(Call::Send(t), self.inner.send(t)).await
    }
    async fn send_pending(&self, t: &Token, poll_by_ms: u64) -> Result<(), Error> {
        let f = self.inner.send_pending(t, poll_by_ms);
        self.around(Call::SendPending(t), f).await
    }
    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<Received>, Error> {
        let f = self.inner.receive(max, wait);
        self.around(Call::Receive { max, wait }, f).await
    }
    async fn delete(&self, messages: &[Received]) -> Result<Vec<String>, Error> {
        self.around(Call::Delete(messages), self.inner.delete(messages))
            .await
    }
    async fn defer(&self, messages: &[(Received, Duration)]) -> Result<(), Error> {
        let f = self.inner.defer(messages);
        self.around(Call::Defer(messages.len()), f).await
    }
    async fn depth(&self) -> Result<QueueDepth, Error> {
        self.around(Call::Depth, self.inner.depth()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryTable;
    use std::sync::Mutex;

    /// Fails every ticket call and records every release's fresh count.
    #[derive(Default)]
    struct Watch {
        fresh: Mutex<Vec<usize>>,
    }

    #[async_trait]
    impl Hook for Watch {
        async fn before(&self, call: &Call<'_>) -> Result<(), Error> {
            match call {
                Call::TakeTickets(_) => Err(Error::NoRoom),
                _ => Ok(()),
            }
        }
        async fn after(&self, call: &Call<'_>, r: Result<&(dyn Any + Send + Sync), &Error>) {
            if let (Call::Release(_), Ok(r)) = (call, r) {
                if let Some(r) = r.downcast_ref::<Released>() {
                    self.fresh.lock().unwrap().push(r.fresh.len());
                }
            }
        }
    }

    #[tokio::test]
    async fn every_call_reaches_the_real_table_and_the_hook_sees_it() {
        let inner = Arc::new(MemoryTable::default());
        let t = Hooked::new(inner.clone(), Watch::default());
        assert!(matches!(t.take_tickets(1).await, Err(Error::NoRoom)));
        let tok = Token::parse("AbCdEfGhIjKlMnOpQrStUw").unwrap();
        let items = [TokenItem::released(tok.clone(), 10, 1)];
        t.release(&items, BatchKey::new(0, 0)).await.unwrap();
        assert_eq!(*t.hook.fresh.lock().unwrap(), vec![1]);
        assert!(inner.token(&tok).await.unwrap().is_some());
        let other = Token::parse("ZbCdEfGhIjKlMnOpQrStUw").unwrap();
        assert!(
            !t.confirm(&other, 0).await.unwrap(),
            "no record, nothing to confirm"
        );
        t.record_place(&other, 1, false, 0).await.unwrap();
        assert!(t.confirm(&other, 0).await.unwrap());
    }
}
