//! A fair share for every caller under overload: each caller (a verified
//! user, or a client address) may make `burst` requests at once and
//! `per_minute` a minute after that, so that one of them cannot take every
//! worker and database connection from the others. The generic cell rate
//! algorithm, from the `governor` crate. A leaf: it knows nothing of HTTP.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use governor::clock::{Clock, FakeRelativeClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

/// How many requests a caller may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Requests a minute, sustained.
    pub per_minute: NonZeroU32,
    /// Requests at once, before the rate applies.
    pub burst: NonZeroU32,
}

impl RateLimitSettings {
    /// Ten requests a second: far above what a person does, low enough that
    /// one script cannot crowd out the rest.
    pub const DEFAULT_PER_MINUTE: NonZeroU32 = NonZeroU32::new(600).expect("not zero");
    /// A page load, a burst of retries, a few tabs at once.
    pub const DEFAULT_BURST: NonZeroU32 = NonZeroU32::new(100).expect("not zero");
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            per_minute: Self::DEFAULT_PER_MINUTE,
            burst: Self::DEFAULT_BURST,
        }
    }
}

/// Whom a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallerKey {
    /// A verified token's `sub`: the same user from any address.
    User(Box<str>),
    /// A client address; an IPv6 one by its /64 (see [`address_block`]).
    Address(IpAddr),
}

impl CallerKey {
    /// The key of a verified user.
    pub fn user(subject: &str) -> Self {
        Self::User(subject.into())
    }

    /// The key of a client address.
    pub fn address(ip: IpAddr) -> Self {
        Self::Address(address_block(ip))
    }
}

/// The block a client address stands for: an IPv4 address itself, an
/// IPv6 one its /64, the block one machine or household gets, so that
/// rotating addresses within it does not help.
pub fn address_block(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The policy, the same for every caller, for the `RateLimit-Policy` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The burst, as the policy's quota.
    pub limit: u32,
    /// Seconds in which a spent burst comes back whole.
    pub window_secs: u64,
}

/// Where a caller stands after a request, for the `RateLimit` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Requests the caller may still make at once.
    pub remaining: u32,
    /// Seconds until the burst is whole again.
    pub reset_secs: u64,
}

/// A request refused: the caller is over its rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// The caller's standing (nothing remaining).
    pub usage: Usage,
    /// Whole seconds until the next request would be let through.
    pub retry_after_secs: u64,
}

/// Where the limits read the time: the system's monotonic clock, or one a
/// test moves by hand, so that a rate is checked without waiting for it.
#[derive(Debug, Clone, Default)]
pub struct RateClock {
    manual: Option<FakeRelativeClock>,
}

impl RateClock {
    /// A clock that stands still until `advance` moves it.
    pub fn manual() -> Self {
        Self {
            manual: Some(FakeRelativeClock::default()),
        }
    }

    /// Moves a manual clock forward; the system's cannot be moved.
    pub fn advance(&self, by: Duration) {
        if let Some(manual) = &self.manual {
            manual.advance(by);
        }
    }
}

impl Clock for RateClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        match &self.manual {
            Some(manual) => manual.now(),
            None => Nanos::from(START.get_or_init(std::time::Instant::now).elapsed()),
        }
    }
}

/// Keyed by caller, hashed with foldhash (randomly seeded per process):
/// several times faster than the standard library's `SipHash` for keys this
/// short, on a map every request touches.
type Keyed = RateLimiter<
    CallerKey,
    DashMapStateStore<CallerKey, foldhash::fast::RandomState>,
    RateClock,
    StateInformationMiddleware,
>;

/// The callers' rates, shared by every worker.
#[derive(Debug)]
pub struct CallerLimits {
    limiter: Keyed,
    quota: Quota,
    policy: Policy,
}

impl CallerLimits {
    /// How often callers whose burst has come back whole are forgotten:
    /// the memory held is what the callers of about the last
    /// `burst / per_minute` minutes plus this interval need, whoever they
    /// are and however many addresses they use.
    pub const FORGET_EVERY: Duration = Duration::from_secs(10);

    pub fn new(settings: RateLimitSettings) -> Self {
        Self::with_clock(settings, RateClock::default())
    }

    /// As [`CallerLimits::new`], reading the time from `clock`.
    pub fn with_clock(settings: RateLimitSettings, clock: RateClock) -> Self {
        let quota = Quota::per_minute(settings.per_minute).allow_burst(settings.burst);
        let state = DashMapStateStore::with_hasher(foldhash::fast::RandomState::default());
        Self {
            limiter: Keyed::new(quota, state, clock),
            quota,
            policy: Policy {
                limit: quota.burst_size().get(),
                window_secs: whole_seconds(quota.burst_size_replenished_in()),
            },
        }
    }

    /// Counts one request against `key`.
    pub fn check(&self, key: &CallerKey) -> Result<Usage, Limited> {
        match self.limiter.check_key(key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let spent = self.quota.burst_size().get().saturating_sub(remaining);
                Ok(Self::usage(
                    remaining,
                    self.quota.replenish_interval() * spent,
                ))
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                let retry_after_secs = whole_seconds(wait).max(1);
                Err(Limited {
                    usage: Self::usage(0, self.quota.burst_size_replenished_in()),
                    retry_after_secs,
                })
            }
        }
    }

    fn usage(remaining: u32, until_whole: Duration) -> Usage {
        Usage {
            remaining,
            reset_secs: whole_seconds(until_whole),
        }
    }

    /// The burst and the seconds in which a spent one comes back whole.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Callers currently remembered.
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }

    /// Forgets every caller whose burst has come back whole: their state
    /// is the same as a caller never seen.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Forgets idle callers every [`CallerLimits::FORGET_EVERY`] for as long
    /// as the limits are in use.
    pub fn forget_idle_in_background(limits: &Arc<Self>) {
        let limits: Weak<Self> = Arc::downgrade(limits);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Self::FORGET_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                match limits.upgrade() {
                    Some(limits) => limits.forget_idle(),
                    None => break,
                }
            }
        });
    }
}

/// `duration` in seconds, rounded up: a client that waits that long is
/// never early.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Limits on a clock that stands still.
    fn limits(per_minute: u32, burst: u32) -> CallerLimits {
        CallerLimits::with_clock(
            RateLimitSettings {
                per_minute: NonZeroU32::new(per_minute).unwrap(),
                burst: NonZeroU32::new(burst).unwrap(),
            },
            RateClock::manual(),
        )
    }

    #[test]
    fn a_caller_gets_its_burst_then_waits_and_others_are_not_affected() {
        let limits = limits(60, 3);
        let alice = CallerKey::user("user_alice");
        let remaining: Vec<u32> = (0..3)
            .map(|_| limits.check(&alice).unwrap().remaining)
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        let limited = limits.check(&alice).unwrap_err();
        assert_eq!(limited.retry_after_secs, 1);
        assert_eq!(limited.usage.remaining, 0);
        assert_eq!(
            limits.policy(),
            Policy {
                limit: 3,
                window_secs: 3
            }
        );
        let bob = limits.check(&CallerKey::user("user_bob")).unwrap();
        assert_eq!(bob.remaining, 2);
        assert_eq!(bob.reset_secs, 1);
    }

    #[test]
    fn ipv6_callers_are_counted_by_their_64_block() {
        let a = CallerKey::address("2001:db8:1:2::1".parse().unwrap());
        let b = CallerKey::address("2001:db8:1:2:ffff::9".parse().unwrap());
        let other = CallerKey::address("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, other);
        let mapped = CallerKey::address("::ffff:192.0.2.7".parse().unwrap());
        assert_eq!(
            mapped,
            CallerKey::address("192.0.2.7".parse().unwrap()),
            "an IPv4 client over IPv6 is the same client"
        );
    }

    #[test]
    fn idle_callers_are_forgotten() {
        let clock = RateClock::manual();
        let limits = CallerLimits::with_clock(
            RateLimitSettings {
                per_minute: NonZeroU32::new(60).unwrap(),
                burst: NonZeroU32::new(1).unwrap(),
            },
            clock.clone(),
        );
        for n in 0..100u8 {
            let _ = limits.check(&CallerKey::address(IpAddr::from([10, 0, 0, n])));
        }
        assert_eq!(limits.tracked(), 100);
        limits.forget_idle();
        assert_eq!(limits.tracked(), 100, "their bursts are not back yet");
        // A burst of one at one a second is whole again after a second,
        // and such a caller is forgotten once it has been for a while.
        clock.advance(Duration::from_secs(2));
        limits.forget_idle();
        assert_eq!(limits.tracked(), 0);
    }

    #[test]
    fn a_spent_burst_comes_back_at_the_rate() {
        let clock = RateClock::manual();
        let limits = CallerLimits::with_clock(
            RateLimitSettings {
                per_minute: NonZeroU32::new(60).unwrap(),
                burst: NonZeroU32::new(2).unwrap(),
            },
            clock.clone(),
        );
        let carol = CallerKey::user("user_carol");
        assert_eq!(limits.check(&carol).unwrap().remaining, 1);
        assert_eq!(limits.check(&carol).unwrap().remaining, 0);
        assert_eq!(limits.check(&carol).unwrap_err().retry_after_secs, 1);
        clock.advance(Duration::from_millis(999));
        assert!(limits.check(&carol).is_err());
        clock.advance(Duration::from_millis(1));
        assert_eq!(limits.check(&carol).unwrap().remaining, 0);
    }
}
