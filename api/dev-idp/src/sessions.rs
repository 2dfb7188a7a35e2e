//! What the provider remembers of people who signed in: browser sessions
//! (behind a cookie, so `prompt=none` can answer without a page) and
//! refresh-token families, as plain state with the clock passed in, so the
//! rules can be tested without HTTP and without waiting.
//!
//! Anyone who can reach the provider can create both, so both are bounded
//! and every entry expires. Each client address holds a share of each
//! (the least recently used of its own entries makes room for its next
//! one), and when the whole store is full the address holding the most
//! (of those, the one used last) gives up its least recently used: a flood
//! of sign-ins, from however many addresses, displaces the flood's own
//! entries before the sessions people already had.
//!
//! A session is known by the SHA-256 of its id: the id itself is never
//! stored, and a lookup's timing says nothing about it.
//!
//! Refresh tokens rotate (OAuth 2.0 Security BCP, RFC 9700 §4.14.2): each
//! use spends the token and answers the next one of its family (every
//! token descended from one sign-in). A token names its family and its
//! generation and carries an HMAC of both under the family's own key, so a
//! family keeps one key and a counter however often it rotates, and still
//! recognises every token it ever issued: one from an earlier generation
//! is a spent token presented again, which means it was copied, and the
//! whole family is revoked.
//!
//! A family also remembers the `jti` of the last few access tokens issued
//! with it, so that revoking the family (logout, a replay, RFC 7009
//! revocation) revokes them too.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long a browser session lasts, from sign-in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Most sessions kept at once.
pub const MAX_SESSIONS: usize = 1024;

/// Most sessions kept for one client address.
pub const MAX_SESSIONS_PER_ADDRESS: usize = 32;

/// How long a refresh-token family lasts, from the sign-in that started
/// it: rotation renews the token, never the family.
pub const FAMILY_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Most refresh-token families kept at once.
pub const MAX_FAMILIES: usize = 1024;

/// Most refresh-token families kept for one client address.
pub const MAX_FAMILIES_PER_ADDRESS: usize = 32;

/// How many of a family's latest access tokens it remembers, to revoke
/// with it. Each renewal issues one, so the live ones are the last few.
pub const ACCESS_TOKENS_PER_FAMILY: usize = 8;

/// An access token's `jti` and `exp`: what revoking it takes.
pub type AccessTokenId = (String, u64);

/// A session as the server knows it: the SHA-256 of its id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    fn of(id: &str) -> Self {
        let mut key = [0; 32];
        key.copy_from_slice(digest(&SHA256, id.as_bytes()).as_ref());
        Self(key)
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// A session just started: the id the browser keeps, and its key.
pub struct NewSession {
    /// 256 random bits, base64url: the cookie's value.
    pub id: String,
    pub key: SessionKey,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession").finish_non_exhaustive()
    }
}

/// A live session: who it speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub key: SessionKey,
    pub user: String,
}

/// What a new refresh-token family is for.
#[derive(Debug, Clone, Copy)]
pub struct FamilyStart<'a> {
    pub user: &'a str,
    pub client_id: &'a str,
    /// The scope of the token answer: the OpenID scopes asked for and the
    /// API scopes granted, kept for every renewal.
    pub scope: &'a str,
    /// The resource its tokens are bound to, if any.
    pub audience: Option<&'a str>,
    /// The browser session the sign-in happened in, which logging out of
    /// revokes the family.
    pub session: Option<SessionKey>,
    /// Where the code was exchanged from.
    pub address: IpAddr,
}

/// What a refresh token was worth: the family's user, client and scope,
/// and the token that replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    pub user: String,
    pub client_id: String,
    pub scope: String,
    pub audience: Option<String>,
    pub refresh_token: String,
    pub family: FamilyId,
}

/// Why a refresh token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.description())]
pub enum RefreshError {
    /// Unknown, forged, revoked or expired: nothing to tell them apart by.
    Unknown,
    /// Spent before: its family is now revoked.
    Reused,
    /// Presented by another client than the one it was issued to.
    OtherClient,
}

impl RefreshError {
    /// What the client is told.
    pub const fn description(self) -> &'static str {
        match self {
            Self::Unknown => "the refresh token is unknown, revoked or expired",
            Self::Reused => {
                "the refresh token was already used, so every token of its sign-in is revoked"
            }
            Self::OtherClient => "the refresh token was issued to another client_id",
        }
    }
}

/// Sessions and refresh-token families, under one lock: logging out
/// touches both.
#[derive(Debug, Default)]
pub struct Sessions {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<SessionKey, Session>,
    families: HashMap<FamilyId, Family>,
}

#[derive(Debug)]
struct Session {
    user: String,
    started: Instant,
    last_used: Instant,
    address: IpAddr,
}

/// 128 random bits naming a family; not a secret (every token of the
/// family shows it), the HMAC is.
pub type FamilyId = [u8; 16];

struct Family {
    /// Signs this family's tokens, and nothing else.
    key: hmac::Key,
    /// The generation of the one token that may still be used.
    current: u32,
    client_id: String,
    user: String,
    scope: String,
    audience: Option<String>,
    /// The latest access tokens issued with it, newest last.
    access_tokens: VecDeque<AccessTokenId>,
    session: Option<SessionKey>,
    started: Instant,
    last_used: Instant,
    address: IpAddr,
}

impl std::fmt::Debug for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family")
            .field("current", &self.current)
            .field("client_id", &self.client_id)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Starts a session for `user`. The id is always new, even for a
    /// browser that already had one (`previous`: the values of its
    /// cookie), so no id chosen before the sign-in survives it; the
    /// refresh families of the previous session move to the new one, so
    /// that logging out of this browser still revokes them. `None` when
    /// no randomness is available.
    pub fn start(
        &self,
        user: &str,
        previous: &[&str],
        address: IpAddr,
        now: Instant,
    ) -> Option<NewSession> {
        let id = URL_SAFE_NO_PAD.encode(random::<32>()?);
        let key = SessionKey::of(&id);
        let mut state = self.lock();
        for old in previous.iter().map(|id| SessionKey::of(id)) {
            state.sessions.remove(&old);
            for family in state.families.values_mut() {
                if family.session == Some(old) {
                    family.session = Some(key);
                }
            }
        }
        make_room(
            &mut state.sessions,
            Bounds {
                max: MAX_SESSIONS,
                per_address: MAX_SESSIONS_PER_ADDRESS,
                lifetime: SESSION_LIFETIME,
            },
            address,
            now,
        );
        state.sessions.insert(
            key,
            Session {
                user: user.to_owned(),
                started: now,
                last_used: now,
                address,
            },
        );
        Some(NewSession { id, key })
    }

    /// The live session behind one of `ids` (the cookie's values), if any;
    /// it counts as used now.
    pub fn find(&self, ids: &[&str], now: Instant) -> Option<SignedIn> {
        let mut state = self.lock();
        ids.iter().find_map(|id| {
            let key = SessionKey::of(id);
            state
                .sessions
                .get_mut(&key)
                .filter(|session| alive(session.started, SESSION_LIFETIME, now))
                .map(|session| {
                    session.last_used = now;
                    SignedIn {
                        key,
                        user: session.user.clone(),
                    }
                })
        })
    }

    /// Ends the sessions behind `ids`: forgets them and revokes every
    /// refresh family started in them (even when the session itself has
    /// expired or made room for others). Answers the access tokens those
    /// families had issued.
    pub fn end(&self, ids: &[&str]) -> Vec<AccessTokenId> {
        let mut state = self.lock();
        let mut access_tokens = Vec::new();
        for key in ids.iter().map(|id| SessionKey::of(id)) {
            state.sessions.remove(&key);
            state.families.retain(|_, family| {
                let started_here = family.session == Some(key);
                if started_here {
                    access_tokens.extend(family.access_tokens.drain(..));
                }
                !started_here
            });
        }
        access_tokens
    }

    /// Starts a refresh-token family; answers its first token and the
    /// family's id, or `None` when no randomness is available.
    pub fn open_family(&self, start: FamilyStart<'_>, now: Instant) -> Option<(String, FamilyId)> {
        let id = random::<16>()?;
        let family = Family {
            key: hmac::Key::new(hmac::HMAC_SHA256, &random::<32>()?),
            current: 0,
            client_id: start.client_id.to_owned(),
            user: start.user.to_owned(),
            scope: start.scope.to_owned(),
            audience: start.audience.map(str::to_owned),
            access_tokens: VecDeque::new(),
            session: start.session,
            started: now,
            last_used: now,
            address: start.address,
        };
        let token = family.token(&id);
        let mut state = self.lock();
        make_room(
            &mut state.families,
            Bounds {
                max: MAX_FAMILIES,
                per_address: MAX_FAMILIES_PER_ADDRESS,
                lifetime: FAMILY_LIFETIME,
            },
            start.address,
            now,
        );
        state.families.insert(id, family);
        Some((token, id))
    }

    /// Revokes a family: every token it issued stops working. Answers the
    /// access tokens it had issued.
    pub fn revoke_family(&self, id: &FamilyId) -> Vec<AccessTokenId> {
        self.lock()
            .families
            .remove(id)
            .map(|family| family.access_tokens.into())
            .unwrap_or_default()
    }

    /// RFC 7009: revokes the family of `token`, a refresh token of any of
    /// its generations, once `also` has revoked the access tokens the
    /// family issued: when `also` fails, nothing is revoked. `None` when
    /// the token is not a live family's, or (with `client_id`, for a
    /// public client) not one issued to that client.
    pub fn revoke<E>(
        &self,
        token: &str,
        client_id: Option<&str>,
        also: impl FnOnce(&[AccessTokenId]) -> Result<(), E>,
    ) -> Option<Result<(), E>> {
        let (id, generation, tag) = parse_token(token)?;
        let mut state = self.lock();
        let family = state.families.get(&id)?;
        hmac::verify(&family.key, &signed_part(&id, generation), &tag).ok()?;
        if client_id.is_some_and(|client_id| client_id != family.client_id) {
            return None;
        }
        let access_tokens: Vec<_> = family.access_tokens.iter().cloned().collect();
        Some(also(&access_tokens).map(|()| {
            state.families.remove(&id);
        }))
    }

    /// Remembers an access token issued with the family `id`, to revoke
    /// with it.
    pub fn issued_with(&self, id: &FamilyId, access_token: AccessTokenId) {
        if let Some(family) = self.lock().families.get_mut(id) {
            if family.access_tokens.len() == ACCESS_TOKENS_PER_FAMILY {
                family.access_tokens.pop_front();
            }
            family.access_tokens.push_back(access_token);
        }
    }

    /// Spends `token`, presented by `client_id`, for the next token of its
    /// family. A token spent before revokes the family.
    pub fn rotate(
        &self,
        token: &str,
        client_id: &str,
        now: Instant,
    ) -> Result<Renewal, RefreshError> {
        let (id, generation, tag) = parse_token(token).ok_or(RefreshError::Unknown)?;
        let mut state = self.lock();
        let family = state.families.get_mut(&id).ok_or(RefreshError::Unknown)?;
        // Constant time: the tag is the secret part.
        hmac::verify(&family.key, &signed_part(&id, generation), &tag)
            .map_err(|_| RefreshError::Unknown)?;
        if !alive(family.started, FAMILY_LIFETIME, now) {
            state.families.remove(&id);
            return Err(RefreshError::Unknown);
        }
        if generation < family.current {
            state.families.remove(&id);
            return Err(RefreshError::Reused);
        }
        if family.client_id != client_id {
            // Refused, but not spent: the client named the wrong id, and
            // the token's holder could spend it anyway.
            return Err(RefreshError::OtherClient);
        }
        // A valid tag for a later generation cannot exist; the counter ends
        // only after four billion renewals, within the family's lifetime.
        family.current = generation.checked_add(1).ok_or(RefreshError::Unknown)?;
        family.last_used = now;
        Ok(Renewal {
            user: family.user.clone(),
            client_id: family.client_id.clone(),
            scope: family.scope.clone(),
            audience: family.audience.clone(),
            refresh_token: family.token(&id),
            family: id,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.sessions.len(), state.families.len())
    }
}

impl Family {
    /// The token of the current generation.
    fn token(&self, id: &FamilyId) -> String {
        let signed = signed_part(id, self.current);
        let tag = hmac::sign(&self.key, &signed);
        let mut bytes = signed;
        bytes.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

/// Length of a token's bytes: family id, generation, HMAC-SHA256 tag.
const TOKEN_BYTES: usize = 16 + 4 + 32;

/// The family id and generation, as the token carries and the tag signs them.
fn signed_part(id: &FamilyId, generation: u32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(TOKEN_BYTES);
    bytes.extend_from_slice(id);
    bytes.extend_from_slice(&generation.to_be_bytes());
    bytes
}

/// A token's family id, generation and tag; `None` for anything not
/// shaped like one of ours.
fn parse_token(token: &str) -> Option<(FamilyId, u32, Vec<u8>)> {
    // Checked before decoding, so no work is done for arbitrary input.
    if token.len() != (TOKEN_BYTES * 4).div_ceil(3) {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let (id, rest) = bytes.split_first_chunk::<16>()?;
    let (generation, tag) = rest.split_first_chunk::<4>()?;
    (tag.len() == 32).then(|| (*id, u32::from_be_bytes(*generation), tag.to_vec()))
}

fn alive(started: Instant, lifetime: Duration, now: Instant) -> bool {
    now.saturating_duration_since(started) < lifetime
}

/// What a store keeps, and for how long.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    max: usize,
    per_address: usize,
    lifetime: Duration,
}

/// An entry of a bounded store.
trait Entry {
    fn started(&self) -> Instant;
    fn last_used(&self) -> Instant;
    fn address(&self) -> IpAddr;
}

impl Entry for Session {
    fn started(&self) -> Instant {
        self.started
    }
    fn last_used(&self) -> Instant {
        self.last_used
    }
    fn address(&self) -> IpAddr {
        self.address
    }
}

impl Entry for Family {
    fn started(&self) -> Instant {
        self.started
    }
    fn last_used(&self) -> Instant {
        self.last_used
    }
    fn address(&self) -> IpAddr {
        self.address
    }
}

/// Makes room for one more entry from `address`: drops the expired
/// entries; then, while `address` holds its share, its least recently
/// used; then, while the store is full, the least recently used entry of
/// the address holding the most (of those, the one active last).
fn make_room<K: Copy + Eq + Hash, V: Entry>(
    map: &mut HashMap<K, V>,
    bounds: Bounds,
    address: IpAddr,
    now: Instant,
) {
    map.retain(|_, value| alive(value.started(), bounds.lifetime, now));
    while map.values().filter(|v| v.address() == address).count() >= bounds.per_address {
        if !drop_least_recently_used(map, address) {
            break;
        }
    }
    while map.len() >= bounds.max {
        // Per address: how many entries, and when it last used one.
        let mut held: HashMap<IpAddr, (usize, Instant)> = HashMap::new();
        for value in map.values() {
            let (count, latest) = held
                .entry(value.address())
                .or_insert((0, value.last_used()));
            *count += 1;
            *latest = (*latest).max(value.last_used());
        }
        let Some((&greediest, _)) = held.iter().max_by_key(|(_, held)| **held) else {
            break;
        };
        if !drop_least_recently_used(map, greediest) {
            break;
        }
    }
}

/// Drops the least recently used entry of `address`; false if it has none.
fn drop_least_recently_used<K: Copy + Eq + Hash, V: Entry>(
    map: &mut HashMap<K, V>,
    address: IpAddr,
) -> bool {
    let oldest = map
        .iter()
        .filter(|(_, value)| value.address() == address)
        .min_by_key(|(_, value)| value.last_used())
        .map(|(key, _)| *key);
    oldest.is_some_and(|key| map.remove(&key).is_some())
}

/// `N` random bytes from the system's generator.
fn random<const N: usize>() -> Option<[u8; N]> {
    let mut bytes = [0; N];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn family_for(session: Option<SessionKey>) -> FamilyStart<'static> {
        FamilyStart {
            user: "alice",
            client_id: "spa",
            scope: "openid offline_access quotes:read",
            audience: None,
            session,
            address: HOME,
        }
    }

    /// The `n`th address of a flood.
    fn address(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x7f00_0000 + n))
    }

    #[test]
    fn session_ids_are_long_random_and_url_safe() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let a = sessions.start("alice", &[], HOME, now).unwrap();
        let b = sessions.start("alice", &[], HOME, now).unwrap();
        assert_ne!(a.id, b.id);
        // 32 bytes: 256 bits.
        assert_eq!(URL_SAFE_NO_PAD.decode(&a.id).unwrap().len(), 32);
        assert!(
            a.id.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn a_session_is_found_by_its_id_until_it_expires_or_ends() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let session = sessions.start("alice", &[], HOME, now).unwrap();
        let found = sessions.find(&["unknown", &session.id], now).unwrap();
        assert_eq!(found.user, "alice");
        assert_eq!(found.key, session.key);
        assert_eq!(sessions.find(&["unknown"], now), None);

        let late = now + SESSION_LIFETIME;
        assert_eq!(sessions.find(&[&session.id], late), None);

        sessions.end(&[&session.id]);
        assert_eq!(sessions.find(&[&session.id], now), None);
        assert_eq!(sessions.counts(), (0, 0));
    }

    #[test]
    fn an_address_holds_its_share_and_its_least_recently_used_makes_room() {
        let sessions = Sessions::default();
        let start = Instant::now();
        let first = sessions.start("first", &[], HOME, start).unwrap();
        let second = sessions
            .start("second", &[], HOME, start + Duration::from_secs(1))
            .unwrap();
        for i in 2..MAX_SESSIONS_PER_ADDRESS {
            let at = start + Duration::from_secs(u64::try_from(i).unwrap());
            sessions.start("someone", &[], HOME, at).unwrap();
        }
        // The first is used again, so the second is now the least recent.
        let now = start + Duration::from_secs(100);
        assert!(sessions.find(&[&first.id], now).is_some());
        sessions.start("one more", &[], HOME, now).unwrap();
        assert_eq!(sessions.counts().0, MAX_SESSIONS_PER_ADDRESS);
        assert_eq!(sessions.find(&[&second.id], now), None);
        assert_eq!(sessions.find(&[&first.id], now).unwrap().user, "first");
        // Other addresses have shares of their own.
        sessions.start("elsewhere", &[], address(9), now).unwrap();
        assert_eq!(sessions.counts().0, MAX_SESSIONS_PER_ADDRESS + 1);
    }

    #[test]
    fn a_flood_of_sign_ins_from_many_addresses_keeps_the_sessions_in_use() {
        let sessions = Sessions::default();
        let start = Instant::now();
        let victim = sessions.start("victim", &[], HOME, start).unwrap();
        let quiet = sessions
            .start(
                "quiet",
                &[],
                address(50_000),
                start + Duration::from_secs(1),
            )
            .unwrap();
        // Five thousand sign-ins: in bursts from a few addresses, then one
        // from each of thousands.
        let mut at = start + Duration::from_secs(10);
        for n in 0..5000 {
            at += Duration::from_millis(1);
            let from = if n < 2000 {
                address(100 + n % 23)
            } else {
                address(n)
            };
            sessions.start("mallory", &[], from, at).unwrap();
        }
        assert_eq!(sessions.counts().0, MAX_SESSIONS);
        assert_eq!(sessions.find(&[&victim.id], at).unwrap().user, "victim");
        assert_eq!(sessions.find(&[&quiet.id], at).unwrap().user, "quiet");
    }

    #[test]
    fn families_share_the_same_bounds() {
        let sessions = Sessions::default();
        let start = Instant::now();
        let (mine, _) = sessions.open_family(family_for(None), start).unwrap();
        let mut at = start + Duration::from_secs(10);
        for n in 0..3000 {
            at += Duration::from_millis(1);
            let flood = FamilyStart {
                address: address(1000 + n),
                ..family_for(None)
            };
            sessions.open_family(flood, at).unwrap();
        }
        assert_eq!(sessions.counts().1, MAX_FAMILIES);
        assert!(sessions.rotate(&mine, "spa", at).is_ok());
    }

    #[test]
    fn expired_sessions_make_room_before_live_ones() {
        let sessions = Sessions::default();
        let start = Instant::now();
        for _ in 0..10 {
            sessions.start("old", &[], HOME, start).unwrap();
        }
        let later = start + SESSION_LIFETIME;
        sessions.start("new", &[], HOME, later).unwrap();
        assert_eq!(sessions.counts().0, 1);
    }

    #[test]
    fn refresh_tokens_rotate_and_each_is_spent_by_its_use() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let first = sessions.open_family(family_for(None), now).unwrap().0;
        let renewal = sessions.rotate(&first, "spa", now).unwrap();
        assert_eq!(renewal.user, "alice");
        assert_eq!(renewal.client_id, "spa");
        assert_eq!(renewal.scope, "openid offline_access quotes:read");
        assert_ne!(renewal.refresh_token, first);
        let third = sessions
            .rotate(&renewal.refresh_token, "spa", now)
            .unwrap()
            .refresh_token;
        assert!(sessions.rotate(&third, "spa", now).is_ok());
    }

    #[test]
    fn a_spent_token_presented_again_revokes_its_family() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let first = sessions.open_family(family_for(None), now).unwrap().0;
        let other = sessions.open_family(family_for(None), now).unwrap().0;
        let second = sessions.rotate(&first, "spa", now).unwrap().refresh_token;
        let third = sessions.rotate(&second, "spa", now).unwrap().refresh_token;

        assert_eq!(
            sessions.rotate(&first, "spa", now),
            Err(RefreshError::Reused)
        );
        // The newest token dies with its family, and the replay is not
        // reported as such twice: the family is gone.
        assert_eq!(
            sessions.rotate(&third, "spa", now),
            Err(RefreshError::Unknown)
        );
        assert_eq!(
            sessions.rotate(&second, "spa", now),
            Err(RefreshError::Unknown)
        );
        // Other families are untouched.
        assert!(sessions.rotate(&other, "spa", now).is_ok());
    }

    #[test]
    fn a_refresh_token_works_only_for_its_client() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let token = sessions.open_family(family_for(None), now).unwrap().0;
        assert_eq!(
            sessions.rotate(&token, "other", now),
            Err(RefreshError::OtherClient)
        );
        assert!(sessions.rotate(&token, "spa", now).is_ok());
    }

    #[test]
    fn forged_malformed_and_expired_tokens_are_unknown() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let token = sessions.open_family(family_for(None), now).unwrap().0;

        // The same family and generation with another tag.
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[TOKEN_BYTES - 1] ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(&bytes);
        // A later generation of the same family, tag unchanged.
        bytes[TOKEN_BYTES - 1] ^= 1;
        bytes[19] = 1;
        let skipped = URL_SAFE_NO_PAD.encode(&bytes);
        for bad in [
            "",
            "not-a-token",
            &forged,
            &skipped,
            &format!("{token}A"),
            &token[1..],
        ] {
            assert_eq!(
                sessions.rotate(bad, "spa", now),
                Err(RefreshError::Unknown),
                "{bad:?}"
            );
        }
        // A forgery revokes nothing: only a genuine spent token does.
        assert_eq!(sessions.counts().1, 1);

        let late = now + FAMILY_LIFETIME;
        assert_eq!(
            sessions.rotate(&token, "spa", late),
            Err(RefreshError::Unknown)
        );
        assert_eq!(sessions.counts().1, 0);
    }

    #[test]
    fn ending_a_session_revokes_the_families_started_in_it() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let session = sessions.start("alice", &[], HOME, now).unwrap();
        let mine = sessions
            .open_family(family_for(Some(session.key)), now)
            .unwrap()
            .0;
        let renewed = sessions.rotate(&mine, "spa", now).unwrap().refresh_token;
        let elsewhere = sessions.open_family(family_for(None), now).unwrap().0;

        sessions.end(&[&session.id]);
        assert_eq!(
            sessions.rotate(&renewed, "spa", now),
            Err(RefreshError::Unknown)
        );
        assert!(sessions.rotate(&elsewhere, "spa", now).is_ok());
    }

    #[test]
    fn a_new_sign_in_replaces_the_session_and_keeps_its_families_revocable() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let old = sessions.start("alice", &[], HOME, now).unwrap();
        let token = sessions
            .open_family(family_for(Some(old.key)), now)
            .unwrap()
            .0;

        let new = sessions.start("bob", &[&old.id], HOME, now).unwrap();
        assert_ne!(new.id, old.id);
        assert_eq!(sessions.find(&[&old.id], now), None);
        assert_eq!(sessions.find(&[&new.id], now).unwrap().user, "bob");
        assert_eq!(sessions.counts(), (1, 1));

        sessions.end(&[&new.id]);
        assert_eq!(
            sessions.rotate(&token, "spa", now),
            Err(RefreshError::Unknown)
        );
    }

    #[test]
    fn revoking_a_refresh_token_revokes_its_family_and_answers_its_access_tokens() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let (first, id) = sessions.open_family(family_for(None), now).unwrap();
        sessions.issued_with(&id, ("jti-1".to_owned(), 10));
        let second = sessions.rotate(&first, "spa", now).unwrap();
        assert_eq!(second.family, id);
        for n in 2..12 {
            sessions.issued_with(&id, (format!("jti-{n}"), 10));
        }
        let other = sessions.open_family(family_for(None), now).unwrap().0;

        let keep = |_: &[AccessTokenId]| Ok::<(), ()>(());
        assert_eq!(sessions.revoke("not-a-token", None, keep), None);
        // When the access tokens cannot be revoked, nothing is.
        assert_eq!(sessions.revoke(&first, None, |_| Err(())), Some(Err(())));
        // An earlier generation is still the family's own token.
        let mut revoked = Vec::new();
        let outcome = sessions.revoke(&first, None, |access_tokens| {
            revoked = access_tokens.to_vec();
            Ok::<(), ()>(())
        });
        assert_eq!(outcome, Some(Ok(())));
        assert_eq!(revoked.len(), ACCESS_TOKENS_PER_FAMILY);
        assert_eq!(revoked.last().unwrap().0, "jti-11");
        assert_eq!(
            sessions.rotate(&second.refresh_token, "spa", now),
            Err(RefreshError::Unknown)
        );
        assert_eq!(sessions.revoke(&second.refresh_token, None, keep), None);
        assert!(sessions.rotate(&other, "spa", now).is_ok());
    }
}
