//! How many connections the server holds: each worker's own, with the
//! idle ones closed first when it runs short, and each client address's,
//! across workers.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Waker;

use slab::Slab;

/// One worker's open connections. A worker runs on one thread, so its
/// registry needs no lock.
#[derive(Debug)]
pub struct Worker {
    slots: RefCell<Slab<Slot>>,
    /// From this many open connections on, each new one closes the
    /// longest-idle ones.
    pressure: usize,
    /// Orders idleness: the smallest mark went idle first.
    next_mark: Cell<u64>,
}

#[derive(Debug, Default)]
struct Slot {
    /// When the connection went idle (a mark), while it is.
    idle_since: Option<u64>,
    /// Whether an answer went out since it went idle.
    answered: bool,
    /// Asked to close.
    close: bool,
    /// Wakes the connection's task, to close it.
    waker: Option<Waker>,
}

/// Idle connections closed for each one accepted under pressure: more
/// than one, so the worker gets back below the mark.
const EVICT_PER_ACCEPT: usize = 2;

impl Worker {
    /// A worker that holds up to `max` connections.
    pub fn new(max: usize) -> Rc<Self> {
        Rc::new(Self {
            slots: RefCell::new(Slab::new()),
            pressure: max - max / 10,
            next_mark: Cell::new(0),
        })
    }

    /// Registers a connection just accepted, closing idle ones first when
    /// the worker is near its limit.
    pub fn admit(self: &Rc<Self>) -> SlotHandle {
        let mut slots = self.slots.borrow_mut();
        if slots.len() >= self.pressure {
            for _ in 0..evict_idle(&mut slots, EVICT_PER_ACCEPT) {
                quotes_core::metrics::record_connection_closed("idle_under_pressure");
            }
        }
        let key = slots.insert(Slot::default());
        drop(slots);
        SlotHandle {
            worker: Rc::clone(self),
            key,
        }
    }

    /// Connections open now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.slots.borrow().len()
    }
}

/// Asks up to `count` idle connections to close, those that went idle
/// first, and among them those already answered first. Answers how many.
fn evict_idle(slots: &mut Slab<Slot>, count: usize) -> usize {
    let mut idle: Vec<(bool, u64, usize)> = slots
        .iter()
        .filter(|(_, slot)| !slot.close)
        .filter_map(|(key, slot)| slot.idle_since.map(|mark| (!slot.answered, mark, key)))
        .collect();
    idle.sort_unstable();
    let mut evicted = 0;
    for (_, _, key) in idle.into_iter().take(count) {
        let slot = &mut slots[key];
        slot.close = true;
        if let Some(waker) = slot.waker.take() {
            waker.wake();
        }
        evicted += 1;
    }
    evicted
}

/// A connection's place in its worker's registry, freed when dropped.
#[derive(Debug)]
pub struct SlotHandle {
    worker: Rc<Worker>,
    key: usize,
}

impl SlotHandle {
    /// The connection is between requests from now on.
    pub fn idle(&self) {
        let mut slots = self.worker.slots.borrow_mut();
        let slot = &mut slots[self.key];
        if slot.idle_since.is_none() {
            let mark = self.worker.next_mark.get();
            self.worker.next_mark.set(mark + 1);
            slot.idle_since = Some(mark);
            slot.answered = false;
        }
    }

    /// A request has begun arriving.
    pub fn busy(&self) {
        self.worker.slots.borrow_mut()[self.key].idle_since = None;
    }

    /// An answer is going out.
    pub fn answered(&self) {
        self.worker.slots.borrow_mut()[self.key].answered = true;
    }

    /// Whether the worker asked this connection to close.
    pub fn must_close(&self) -> bool {
        self.worker.slots.borrow()[self.key].close
    }

    /// Remembers how to wake the connection while it waits for bytes.
    pub fn park(&self, waker: &Waker) {
        let mut slots = self.worker.slots.borrow_mut();
        let slot = &mut slots[self.key];
        if !slot.waker.as_ref().is_some_and(|own| own.will_wake(waker)) {
            slot.waker = Some(waker.clone());
        }
    }
}

impl Drop for SlotHandle {
    fn drop(&mut self) {
        self.worker.slots.borrow_mut().try_remove(self.key);
    }
}

/// Connections per client address, across workers. An IPv6 address
/// counts by its /64, as the rate limit does.
#[derive(Debug)]
pub struct Addresses {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize, foldhash::fast::RandomState>>,
}

impl Addresses {
    /// Up to `max` connections from each address.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: Mutex::new(HashMap::default()),
        })
    }

    /// The most connections an address may hold.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Counts a connection from `ip`; `None` when the address holds its
    /// share already.
    pub fn hold(self: &Arc<Self>, ip: IpAddr) -> Option<AddressHold> {
        let block = quotes_core::rate_limit::address_block(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(block).or_insert(0);
        if *count >= self.max {
            if *count == 0 {
                open.remove(&block);
            }
            return None;
        }
        *count += 1;
        Some(AddressHold {
            addresses: Arc::clone(self),
            block,
        })
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// One connection counted against its address, until dropped.
#[derive(Debug)]
pub struct AddressHold {
    addresses: Arc<Addresses>,
    block: IpAddr,
}

impl Drop for AddressHold {
    fn drop(&mut self) {
        let mut open = self
            .addresses
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.block) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.block);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_its_share_and_gets_it_back() {
        let addresses = Addresses::new(2);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let a = addresses.hold(ip).unwrap();
        let b = addresses.hold(ip).unwrap();
        assert!(addresses.hold(ip).is_none());
        assert!(addresses.hold("192.0.2.8".parse().unwrap()).is_some());
        drop(a);
        let c = addresses.hold(ip).unwrap();
        drop((b, c));
        // Nothing is kept for addresses with no connection.
        assert_eq!(addresses.tracked(), 0);
    }

    #[test]
    fn an_ipv6_address_counts_by_its_64() {
        let addresses = Addresses::new(1);
        let _held = addresses.hold("2001:db8::1".parse().unwrap()).unwrap();
        assert!(addresses.hold("2001:db8::2".parse().unwrap()).is_none());
        assert!(addresses.hold("2001:db8:0:1::1".parse().unwrap()).is_some());
    }

    #[test]
    fn under_pressure_the_longest_idle_answered_connections_go_first() {
        let worker = Worker::new(10);
        let slots: Vec<SlotHandle> = (0..9).map(|_| worker.admit()).collect();
        // 0 went idle first but was not answered; 1 and 2 were.
        slots[0].idle();
        slots[1].idle();
        slots[1].answered();
        slots[2].idle();
        slots[2].answered();
        // 3 went idle, then got busy again.
        slots[3].idle();
        slots[3].busy();
        assert!(slots.iter().all(|slot| !slot.must_close()));

        let tenth = worker.admit();
        let closing: Vec<usize> = (0..9).filter(|&i| slots[i].must_close()).collect();
        assert_eq!(closing, [1, 2]);
        assert!(!tenth.must_close());
        assert_eq!(worker.open(), 10);

        drop(slots);
        assert_eq!(worker.open(), 1);
    }

    #[test]
    fn below_the_mark_nothing_is_closed() {
        let worker = Worker::new(100);
        let slots: Vec<SlotHandle> = (0..50).map(|_| worker.admit()).collect();
        for slot in &slots {
            slot.idle();
        }
        let _more = worker.admit();
        assert!(slots.iter().all(|slot| !slot.must_close()));
    }
}
