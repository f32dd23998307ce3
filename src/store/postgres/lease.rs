//! The leader lease (`c1bot_lease`): which instance serves, under a fencing token.
//!
//! Times are the database's (`now()`), so instances' clocks never disagree about
//! expiry. A lease is taken only once it has lapsed (or was never held), and every
//! take moves the token on by one; a renewal succeeds only under the token it was
//! taken with. The token is the fence (see [`super::Fence`]): each write of the
//! holder checks it, `FOR SHARE`, in its own transaction, so once a taker's `UPDATE`
//! has committed no write of the former holder can commit after it.

use std::time::Duration;

use super::cached::Cached;
use super::{Ctx, Fence, PgStore};
use crate::store::StoreError;

impl PgStore {
    /// Takes lease `name` for `holder` for `ttl` if nobody holds it (it lapsed, or
    /// was never taken); returns the fence for the new token, `None` when held.
    pub async fn try_acquire(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Fence>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt_cached(
                "INSERT INTO c1bot_lease AS l (name, holder, token, expires_at) \
                 VALUES ($1, $2, 1, now() + make_interval(secs => $3)) \
                 ON CONFLICT (name) DO UPDATE \
                   SET holder = EXCLUDED.holder, token = l.token + 1, expires_at = EXCLUDED.expires_at \
                   WHERE l.expires_at < now() \
                 RETURNING token",
                &[&name, &holder, &ttl.as_secs_f64()],
            )
            .await
            .ctx("taking the lease")?;
        Ok(row.map(|r| Fence {
            lease: name.to_owned(),
            token: r.get(0),
        }))
    }

    /// Extends the lease held under `fence` by `ttl` from now; false when another
    /// instance took it since (this one must stop serving).
    pub async fn renew(&self, fence: &Fence, ttl: Duration) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let renewed = client
            .execute_cached(
                "UPDATE c1bot_lease SET expires_at = now() + make_interval(secs => $3) \
                 WHERE name = $1 AND token = $2",
                &[&fence.lease, &fence.token, &ttl.as_secs_f64()],
            )
            .await
            .ctx("renewing the lease")?;
        Ok(renewed == 1)
    }

    /// Gives the lease up at once (an orderly shutdown), so a standby need not wait
    /// for it to lapse. A no-op when it is no longer ours.
    pub async fn release(&self, fence: &Fence) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute_cached(
                "UPDATE c1bot_lease SET expires_at = now() - interval '1 second' \
                 WHERE name = $1 AND token = $2",
                &[&fence.lease, &fence.token],
            )
            .await
            .ctx("releasing the lease")?;
        Ok(())
    }

    /// Who holds lease `name` now (holder, token), if anyone does.
    pub async fn lease_holder(&self, name: &str) -> Result<Option<(String, i64)>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt_cached(
                "SELECT holder, token FROM c1bot_lease WHERE name = $1 AND expires_at >= now()",
                &[&name],
            )
            .await
            .ctx("reading the lease")?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Change, CommitError, Store, Table};

    async fn pg() -> Option<Store> {
        crate::store::suite::pg_store().await
    }

    #[tokio::test]
    async fn one_holder_at_a_time_and_a_lapsed_lease_is_taken_under_a_new_token() {
        let Some(store) = pg().await else { return };
        let pg = store.postgres().expect("postgres");
        let ttl = Duration::from_millis(300);
        let first = pg.try_acquire("leader", "a", ttl).await.expect("query");
        let first = first.expect("a free lease is taken");
        assert!(pg
            .try_acquire("leader", "b", ttl)
            .await
            .expect("query")
            .is_none());
        assert!(pg.renew(&first, ttl).await.expect("renew"));
        tokio::time::sleep(Duration::from_millis(400)).await;
        let second = pg.try_acquire("leader", "b", ttl).await.expect("query");
        let second = second.expect("a lapsed lease is taken");
        assert_eq!(second.token, first.token + 1);
        assert!(
            !pg.renew(&first, ttl).await.expect("renew"),
            "the old holder lost it"
        );
        pg.release(&second).await.expect("release");
        assert!(pg.lease_holder("leader").await.expect("read").is_none());
    }

    #[tokio::test]
    async fn a_fenced_former_holder_writes_nothing() {
        let Some(store) = pg().await else { return };
        let pg = store.postgres().expect("postgres");
        let ttl = Duration::from_millis(200);
        let old = pg.try_acquire("leader", "a", ttl).await.expect("query");
        pg.set_fence(old);
        store
            .commit(Change::new().put(Table::Sessions, "x", &crate::store::suite::req("a")))
            .await
            .expect("the holder writes");
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Another instance takes over (taking needs no fence).
        let taker = pg.try_acquire("leader", "b", ttl).await.expect("query");
        assert!(taker.is_some());
        let refused = store
            .commit(Change::new().put(Table::Sessions, "x", &crate::store::suite::req("b")))
            .await
            .expect_err("fenced");
        assert!(refused.is_fenced(), "{refused:?}");
        assert!(matches!(refused, CommitError::Storage(_)));
        let kept = store
            .get::<crate::store::suite::Req>(Table::Sessions, "x")
            .await
            .expect("read")
            .expect("there");
        assert_eq!(kept.data, crate::store::suite::req("a"));
    }
}
