//! Batching on tokio's own scheduler, without a timer.
//!
//! async-graphql's `DataLoader` gathers keys for a fixed delay on `async-io`'s timer: a
//! reactor thread of its own beside tokio's, a cross-thread wake-up for every batch, and
//! the delay added to every level of every request. Here the first caller of a batch leads
//! it: it yields to the scheduler a few times, which lets the request's other resolvers
//! (polled by the same task, in the same `join_all`) add their keys, then loads them all
//! at once. Requests resolve sibling fields in one task, so a page of 20 articles asks
//! for its 20 authors in one statement, deterministically and at once.
//!
//! A cache per instance (one request, or one WebSocket connection) answers a key loaded
//! before. Should a leader be dropped before it loads (its operation was cancelled), its
//! batch is loaded on a task of its own, so no one waiting on it is left hanging.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::dataloader::Loader;
use tokio::sync::SetOnce;

/// How often a leader yields before it loads: enough for every sibling resolver of the
/// request to be polled once more.
const YIELDS: usize = 3;

type Outcome<E> = Result<(), E>;

/// One batch: the keys gathered, and the outcome everyone waiting on it reads.
struct Pending<K, E> {
    keys: Vec<K>,
    done: Arc<SetOnce<Outcome<E>>>,
}

struct State<K, V, E> {
    /// Loaded keys: `None` for a key the loader did not find.
    cache: HashMap<K, Option<V>>,
    /// Keys whose batch is gathering or loading, with its outcome.
    inflight: HashMap<K, Arc<SetOnce<Outcome<E>>>>,
    /// The batch still gathering, if any.
    gathering: Option<Pending<K, E>>,
}

pub struct Batch<K, L: Loader<K>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    inner: Arc<Inner<K, L>>,
}

struct Inner<K, L: Loader<K>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    loader: L,
    state: Mutex<State<K, L::Value, L::Error>>,
}

impl<K, L> Inner<K, L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K>,
{
    fn lock(&self) -> std::sync::MutexGuard<'_, State<K, L::Value, L::Error>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the gathering batch and loads it, answering everyone who waits on it.
    async fn run(&self) {
        let Some(batch) = self.lock().gathering.take() else {
            return;
        };
        let loaded = self.loader.load(&batch.keys).await;
        let outcome = {
            let mut state = self.lock();
            for key in &batch.keys {
                state.inflight.remove(key);
            }
            match loaded {
                Ok(mut values) => {
                    for key in batch.keys {
                        let value = values.remove(&key);
                        state.cache.insert(key, value);
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        let _ = batch.done.set(outcome);
    }
}

/// Loads the leader's batch on a task of its own if the leader is dropped first.
struct Lead<K, L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K>,
    L::Error: Sync,
{
    inner: Option<Arc<Inner<K, L>>>,
}

impl<K, L> Drop for Lead<K, L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K>,
    L::Error: Sync,
{
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move { inner.run().await });
        }
    }
}

impl<K, L> Clone for Batch<K, L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K>,
{
    /// The same loader, sharing its batches and its cache.
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<K, L> Batch<K, L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K>,
    L::Error: Sync,
{
    pub fn new(loader: L) -> Self {
        Self {
            inner: Arc::new(Inner {
                loader,
                state: Mutex::new(State {
                    cache: HashMap::new(),
                    inflight: HashMap::new(),
                    gathering: None,
                }),
            }),
        }
    }

    pub async fn load_one(&self, key: K) -> Result<Option<L::Value>, L::Error> {
        let mut found = self.load_many(std::iter::once(key.clone())).await?;
        Ok(found.remove(&key))
    }

    /// The values of `keys` that exist, each loaded at most once per instance.
    pub async fn load_many<I>(&self, keys: I) -> Result<HashMap<K, L::Value>, L::Error>
    where
        I: IntoIterator<Item = K>,
    {
        let keys: Vec<K> = keys.into_iter().collect();
        let mut waits: Vec<Arc<SetOnce<Outcome<L::Error>>>> = Vec::new();
        let mut leads = false;
        {
            let mut state = self.inner.lock();
            let mut seen = HashSet::new();
            for key in &keys {
                if state.cache.contains_key(key) || !seen.insert(key.clone()) {
                    continue;
                }
                if let Some(done) = state.inflight.get(key) {
                    if !waits.iter().any(|w| Arc::ptr_eq(w, done)) {
                        waits.push(done.clone());
                    }
                    continue;
                }
                let batch = state.gathering.get_or_insert_with(|| {
                    leads = true;
                    Pending {
                        keys: Vec::new(),
                        done: Arc::new(SetOnce::new()),
                    }
                });
                batch.keys.push(key.clone());
                let done = batch.done.clone();
                state.inflight.insert(key.clone(), done.clone());
                if !waits.iter().any(|w| Arc::ptr_eq(w, &done)) {
                    waits.push(done);
                }
            }
        }
        if leads {
            let mut lead = Lead {
                inner: Some(self.inner.clone()),
            };
            for _ in 0..YIELDS {
                tokio::task::yield_now().await;
            }
            lead.inner = None;
            self.inner.run().await;
        }
        for done in waits {
            if let Err(e) = done.wait().await {
                return Err(e.clone());
            }
        }
        let state = self.inner.lock();
        Ok(keys
            .into_iter()
            .filter_map(|k| {
                let value = state.cache.get(&k)?.clone()?;
                Some((k, value))
            })
            .collect())
    }

    /// The loader this batches for.
    pub fn loader(&self) -> &L {
        &self.inner.loader
    }

    /// Forgets every loaded value: after a write, the next load reads the database again.
    /// Batches in flight finish as they were.
    pub fn forget(&self) {
        self.inner.lock().cache.clear();
    }

    /// Puts values in the cache, as if loaded (a list read them already).
    pub fn feed_many(&self, values: impl IntoIterator<Item = (K, L::Value)>) {
        let mut state = self.inner.lock();
        for (key, value) in values {
            state.cache.insert(key, Some(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Doubling(Arc<AtomicUsize>);

    impl Loader<u32> for Doubling {
        type Value = u32;
        type Error = Arc<String>;

        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u32>, Self::Error> {
            self.0.fetch_add(1, Ordering::SeqCst);
            if keys.contains(&13) {
                return Err(Arc::new("unlucky".to_owned()));
            }
            Ok(keys
                .iter()
                .filter(|k| **k != 0)
                .map(|k| (*k, k * 2))
                .collect())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn siblings_share_one_load_and_the_cache_answers_again() {
        let calls = Arc::new(AtomicUsize::new(0));
        let batch = Batch::new(Doubling(calls.clone()));
        let found =
            futures_util::future::join_all((0..50).filter(|k| *k != 13).map(|k| batch.load_one(k)))
                .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(found[0], Ok(None));
        assert_eq!(found[7], Ok(Some(14)));
        // Cached: no second load.
        assert_eq!(batch.load_one(7).await, Ok(Some(14)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // An error reaches everyone in its batch, and is not cached.
        let failed = futures_util::future::join_all([batch.load_one(13), batch.load_one(60)]).await;
        assert!(failed.iter().all(Result::is_err));
        assert_eq!(batch.load_one(60).await, Ok(Some(120)));
    }

    #[tokio::test]
    async fn a_dropped_leader_still_answers_its_followers() {
        let calls = Arc::new(AtomicUsize::new(0));
        let batch = Arc::new(Batch::new(Doubling(calls.clone())));
        let leader = {
            let batch = batch.clone();
            tokio::spawn(async move { batch.load_one(1).await })
        };
        tokio::task::yield_now().await;
        let follower = {
            let batch = batch.clone();
            tokio::spawn(async move { batch.load_one(1).await })
        };
        leader.abort();
        let answer = tokio::time::timeout(std::time::Duration::from_secs(2), follower)
            .await
            .expect("the follower is answered")
            .unwrap();
        assert_eq!(answer, Ok(Some(2)));
    }
}
