//! Concurrent requests' queries sent together, as one statement.
//!
//! A request that asks the database for something joins a queue. When no
//! batch of its kind is in flight on the share, the queue is sent at once;
//! while one is, the queue grows, and when that batch is answered the next
//! takes all of it (up to [`MAX_BATCH`]) in one statement and one round
//! trip. A lone request therefore waits for nothing, and under load
//! the database runs one statement, and commits once, for many requests:
//! the per-statement costs (the protocol's messages, executor start-up, a
//! commit's WAL flush) are shared out instead of paid per request.
//!
//! A batch is one unit of work of [`Database::run`], so it holds behind a
//! transaction-mode pooler as any other, with the statement timeout; its
//! error is every one of its requests' error. A request whose batch has not
//! started within the acquire timeout leaves the queue with
//! [`DatabaseUnavailable::Waited`] (a `503`), as it would have waited for a
//! pooled connection.

use std::collections::{HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use tokio::sync::oneshot;

use super::pool::{Database, DatabaseError, DatabaseUnavailable};
use crate::metrics;

/// Most requests in one statement: enough to share a statement's cost
/// among every connection a worker serves at once, few enough that one
/// batch's rows stay small.
pub const MAX_BATCH: usize = 64;

/// Most requests waiting in one queue; beyond it a request gets `503` at
/// once rather than holding memory for a database that has fallen behind.
pub const MAX_QUEUED: usize = 4096;

/// Batches of one kind in flight at once on one share. One, because the
/// fewer batches run at once the more requests each one carries: measured
/// with `cargo xtask bench` on a 2-core machine shared with Postgres, one
/// batch in flight served 1.20 times `pgbench -S` on `GET`, two 1.09 and
/// four 1.06. A batch is as slow as its slowest row, but the only locks on
/// a quote's row are the API's own single-statement writes.
pub const IN_FLIGHT: usize = 1;

/// One kind of query that many requests can share.
pub trait Batch: Send + Sync + 'static {
    /// The kind's name in metrics.
    const NAME: &'static str;

    /// What one request asks.
    type Item: Send + Sync + 'static;
    /// What one request gets back.
    type Output: Send + 'static;

    /// Items with the same key never share a batch, and a later one waits
    /// for the next: a statement may write a row only once. `None` when any
    /// items may share one.
    fn key(item: &Self::Item) -> Option<&str>;

    /// The items' answers, one per item and in their order, from one unit
    /// of work on `conn`.
    fn run<'a>(
        conn: &'a mut AsyncPgConnection,
        items: &'a [Self::Item],
    ) -> impl Future<Output = QueryResult<Vec<Self::Output>>> + Send + 'a;
}

/// The queue of one kind of query on one share of the pool.
pub struct Batcher<B: Batch> {
    db: Database,
    /// Requests waiting for a batch, over every worker's queue of the kind.
    queued: metrics::Queued,
    state: Mutex<State<B>>,
}

impl<B: Batch> std::fmt::Debug for Batcher<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Batcher")
            .field("running", &state.running)
            .field("queued", &state.queue.len())
            .finish_non_exhaustive()
    }
}

struct State<B: Batch> {
    queue: VecDeque<Waiting<B>>,
    /// Batches being run, each by a task of its own.
    running: usize,
    next_id: u64,
}

struct Waiting<B: Batch> {
    id: u64,
    item: B::Item,
    reply: oneshot::Sender<Result<B::Output, DatabaseError>>,
}

impl<B: Batch> Batcher<B> {
    /// A queue on `db`'s share.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            queued: metrics::Queued::new(B::NAME),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                running: 0,
                next_id: 0,
            }),
        }
    }

    /// The answer to `item`, from the batch it joins.
    pub async fn ask(self: &Arc<Self>, item: B::Item) -> Result<B::Output, DatabaseError> {
        if !self.db.is_migrated() {
            return Err(DatabaseUnavailable::NotMigrated.into());
        }
        let (reply, mut answer) = oneshot::channel();
        let (id, start) = {
            let mut state = self.lock();
            if state.queue.len() >= MAX_QUEUED {
                return Err(DatabaseUnavailable::Crowded.into());
            }
            let id = state.next_id;
            state.next_id += 1;
            state.queue.push_back(Waiting { id, item, reply });
            self.queued.joined();
            let start = state.running < IN_FLIGHT;
            if start {
                state.running += 1;
            }
            (id, start)
        };
        if start {
            tokio::spawn(Arc::clone(self).drain());
        }
        let lost = |_| Err(DatabaseUnavailable::Lost.into());
        let waited = self.db.acquire_timeout();
        if let Ok(answer) = tokio::time::timeout(waited, &mut answer).await {
            return answer.unwrap_or_else(lost);
        }
        let left = {
            let mut state = self.lock();
            let at = state.queue.iter().position(|waiting| waiting.id == id);
            at.and_then(|at| state.queue.remove(at)).is_some()
        };
        if left {
            self.queued.left(1);
            return Err(DatabaseUnavailable::Waited(waited).into());
        }
        // Its batch has started: the statement timeout bounds it.
        answer.await.unwrap_or_else(lost)
    }

    /// Requests waiting for a batch to start.
    pub fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    /// Runs batches until the queue is empty, then gives its slot back.
    async fn drain(self: Arc<Self>) {
        let mut slot = Slot {
            batcher: &self,
            held: true,
        };
        loop {
            let batch = {
                let mut state = self.lock();
                let before = state.queue.len();
                let batch = state.take();
                self.queued.left(before - state.queue.len());
                if batch.is_empty() {
                    // Under the lock, so that a request queued from now on
                    // finds the slot free and starts a batch itself.
                    state.running -= 1;
                    slot.held = false;
                    return;
                }
                batch
            };
            metrics::record_batch(B::NAME, batch.len());
            let (items, replies): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .map(|waiting| (waiting.item, waiting.reply))
                .unzip();
            match self.db.run(async |conn| B::run(conn, &items).await).await {
                Ok(outputs) => {
                    debug_assert_eq!(outputs.len(), replies.len(), "one answer per item");
                    // A reply whose request has gone (the client left) is
                    // dropped; a missing answer reaches its request as
                    // `Lost`.
                    for (reply, output) in replies.into_iter().zip(outputs) {
                        let _ = reply.send(Ok(output));
                    }
                }
                Err(error) => {
                    for reply in replies {
                        let _ = reply.send(Err(error.clone()));
                    }
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<B>> {
        // Nothing panics while holding the lock; were it to, the queue is
        // still whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<B: Batch> State<B> {
    /// The next batch: the oldest requests still waiting, up to
    /// [`MAX_BATCH`], skipping (for the next batch, in their order) any
    /// whose key is already in it.
    fn take(&mut self) -> Vec<Waiting<B>> {
        let mut batch = Vec::with_capacity(self.queue.len().min(MAX_BATCH));
        let mut keys = HashSet::new();
        let mut skipped = VecDeque::new();
        let hasher = foldhash::quality::FixedState::default();
        while batch.len() < MAX_BATCH {
            let Some(waiting) = self.queue.pop_front() else {
                break;
            };
            // A request that has gone (its client left, its deadline
            // passed) is not sent: nobody would learn that a save was made.
            if waiting.reply.is_closed() {
                continue;
            }
            // Keys are compared by hash: a collision only postpones an
            // item to the next batch.
            match B::key(&waiting.item) {
                Some(key) if !keys.insert(hasher.hash_one(key)) => skipped.push_back(waiting),
                _ => batch.push(waiting),
            }
        }
        if !skipped.is_empty() {
            skipped.append(&mut self.queue);
            self.queue = skipped;
        }
        batch
    }
}

/// A batch slot held by a draining task; given back if the task unwinds.
struct Slot<'a, B: Batch> {
    batcher: &'a Batcher<B>,
    held: bool,
}

impl<B: Batch> Drop for Slot<'_, B> {
    fn drop(&mut self) {
        if self.held {
            self.batcher.lock().running -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items keyed by their text; never run.
    struct Keyed;

    impl Batch for Keyed {
        const NAME: &'static str = "keyed";
        type Item = String;
        type Output = ();

        fn key(item: &String) -> Option<&str> {
            Some(item)
        }

        async fn run(_: &mut AsyncPgConnection, _: &[String]) -> QueryResult<Vec<()>> {
            unreachable!("the queue's order is tested without a database")
        }
    }

    /// A queue of `items`, and the answers their requests wait for.
    fn queue(items: &[&str]) -> (State<Keyed>, Vec<oneshot::Receiver<Answer>>) {
        let mut state = State {
            queue: VecDeque::new(),
            running: 0,
            next_id: 0,
        };
        let mut answers = Vec::new();
        for item in items {
            let (reply, answer) = oneshot::channel();
            answers.push(answer);
            state.queue.push_back(Waiting {
                id: state.next_id,
                item: (*item).to_owned(),
                reply,
            });
            state.next_id += 1;
        }
        (state, answers)
    }

    type Answer = Result<(), DatabaseError>;

    fn items(batch: &[Waiting<Keyed>]) -> Vec<&str> {
        batch.iter().map(|waiting| waiting.item.as_str()).collect()
    }

    #[test]
    fn a_key_asked_again_waits_for_the_next_batch_in_its_order() {
        let (mut state, _answers) = queue(&["a", "b", "a", "c", "b", "a"]);
        assert_eq!(items(&state.take()), ["a", "b", "c"]);
        assert_eq!(items(&state.take()), ["a", "b"]);
        assert_eq!(items(&state.take()), ["a"]);
        assert!(state.take().is_empty());
    }

    #[test]
    fn a_request_that_has_gone_is_not_sent() {
        let (mut state, mut answers) = queue(&["a", "gone", "b"]);
        drop(answers.remove(1));
        assert_eq!(items(&state.take()), ["a", "b"]);
        assert!(state.queue.is_empty());
    }

    #[test]
    fn a_batch_holds_at_most_max_batch_and_the_rest_keep_their_order() {
        let names: Vec<String> = (0..MAX_BATCH + 10).map(|n| format!("{n:03}")).collect();
        let (mut state, _answers) = queue(&names.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(state.take().len(), MAX_BATCH);
        let rest = state.take();
        assert_eq!(
            items(&rest),
            names[MAX_BATCH..]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
    }
}
