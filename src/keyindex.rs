//! A read-only index from byte keys (patient ids) to small values, built in
//! one sort instead of millions of random hash-table inserts.
//!
//! Entries are ordered by hash and each sits at or just after the slot its
//! hash maps to (ordered linear probing), so a lookup reads one or two
//! neighbouring slots, and a batch of lookups can touch their slots first
//! to overlap the cache misses ([`KeyIndex::touch`]). Reader threads file
//! keys by the top bits of their hash; building sorts and lays out each
//! such partition on its own thread, and settles the few runs that cross
//! from one partition into the next in sequence. Slot positions are the
//! ids: they depend only on the keys, so they are the same on every run.

use std::borrow::Cow;
use std::cmp::Ordering;

use rayon::prelude::*;

use crate::filed::Filed;
use crate::intern::{SlotKey, hash_bytes, prefetch_once, random_access_vec, release_free_memory};

/// Keys gathered by one reader thread, to be merged and built, already
/// filed into [`PARTITIONS`] by the top bits of their hash, so building
/// needs no pass (and no second copy in fresh memory) to group them.
pub struct PendingKeys<V> {
    /// Coded keys ([`coded`]), which their hash determines, so no key is
    /// staged; only while no other key has come.
    coded: Filed<CodedPending<V>>,
    /// Every key, once one is not coded.
    keyed: Filed<Pending<V>>,
    arena: Vec<u8>,
}

/// Bits of the hash that choose a key's partition.
const PARTITION_BITS: u32 = 8;
const PARTITIONS: usize = 1 << PARTITION_BITS;
/// Entries per block of a partition.
const BLOCK: usize = 1024;

#[derive(Clone, Copy)]
struct Pending<V> {
    hash: u64,
    key: SlotKey,
    value: V,
}

/// A pending coded key: 16 bytes smaller than [`Pending`], which is most
/// of the memory and sorting work of building an index of personnummer.
#[derive(Clone, Copy)]
struct CodedPending<V> {
    hash: u64,
    value: V,
}

/// What building needs of a pending entry of either kind.
trait Staged<V>: Copy + Send + Sync {
    fn hash(&self) -> u64;
    fn value(&self) -> &V;
    /// The order of the keys of two entries with equal hashes.
    fn key_order(&self, other: &Self, arena: &[u8]) -> Ordering;
}

impl<V: Copy + Send + Sync> Staged<V> for Pending<V> {
    fn hash(&self) -> u64 {
        self.hash
    }
    fn value(&self) -> &V {
        &self.value
    }
    fn key_order(&self, other: &Self, arena: &[u8]) -> Ordering {
        self.key.bytes(arena).cmp(other.key.bytes(arena))
    }
}

impl<V: Copy + Send + Sync> Staged<V> for CodedPending<V> {
    fn hash(&self) -> u64 {
        self.hash
    }
    fn value(&self) -> &V {
        &self.value
    }
    /// Equal hashes of coded keys are equal keys.
    fn key_order(&self, _: &Self, _: &[u8]) -> Ordering {
        Ordering::Equal
    }
}

impl<V> Default for PendingKeys<V> {
    fn default() -> Self {
        PendingKeys {
            coded: Filed::new(PARTITIONS, BLOCK),
            keyed: Filed::new(PARTITIONS, BLOCK),
            arena: Vec::new(),
        }
    }
}

/// The hash an index uses for `key`; never 0, which marks an empty slot.
/// Coded keys ([`coded`]) hash to even numbers that determine them, all
/// others to odd ones.
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    match coded(key) {
        Some(code) => mix(code),
        None => hash_bytes(key) | 1,
    }
}

/// Most patient ids are digits: a personnummer (with or without its dash)
/// or a numeric pseudonym. Such an id of up to 15 bytes is coded as a
/// number ([`coded`]).
const CODED_BYTES: usize = 15;
/// The bytes a coded key may hold: '-', '.', '/' and the digits, which are
/// 1 to 13 once this is subtracted, so that four bits hold one.
const CODED_BASE: u8 = b'-' - 1;
const LOW_63: u64 = (1 << 63) - 1;

/// Eight bytes of a key as four bits each (0 for bytes past its end, which
/// `present` masks out), or `None` if a present byte may not be coded.
#[inline(always)]
fn nibbles(word: u64, present: u64) -> Option<u64> {
    const EACH: u64 = 0x0101_0101_0101_0101;
    const TOP: u64 = 0x8080_8080_8080_8080;
    // Absent bytes read as '0' for the check; present ones must be ASCII,
    // at least '-' and at most '9' (bytewise additions that cannot carry).
    let word = (word & present) | ((u64::from(b'0') * EACH) & !present);
    let ascii = word & TOP == 0;
    let from_dash = word.wrapping_add((0x80 - u64::from(b'-')) * EACH) & TOP == TOP;
    let to_nine = word.wrapping_add((0x80 - u64::from(b'9') - 1) * EACH) & TOP == 0;
    if !(ascii && from_dash && to_nine) {
        return None;
    }
    let mut packed = (word - u64::from(CODED_BASE) * EACH) & present;
    packed = (packed | (packed >> 4)) & 0x00FF_00FF_00FF_00FF;
    packed = (packed | (packed >> 8)) & 0x0000_FFFF_0000_FFFF;
    Some((packed | (packed >> 16)) & 0xFFFF_FFFF)
}

/// `key` as a nonzero number below 2^60 if it is 1 to 15 bytes of '-',
/// '.', '/' and digits: four bits a byte, first byte lowest, none for the
/// bytes past its end, so that "0012" and "12" differ.
#[inline]
fn coded(key: &[u8]) -> Option<u64> {
    let len = key.len();
    if len == 0 || len > CODED_BYTES {
        return None;
    }
    let [low, high] = crate::intern::padded_words(key);
    let low = nibbles(low, present(len))?;
    let high = nibbles(high, present(len.saturating_sub(8)))?;
    Some(low | (high << 32))
}

/// The mask of the first `bytes` bytes of a word (all of them from 8 on).
#[inline(always)]
fn present(bytes: usize) -> u64 {
    match bytes {
        0 => 0,
        1..=7 => (1u64 << (8 * bytes)) - 1,
        _ => u64::MAX,
    }
}

/// The key a code stands for (the inverse of [`coded`]).
fn uncoded(code: u64) -> SlotKey {
    let len = (u64::BITS - code.leading_zeros()).div_ceil(4) as usize;
    let word = |nibbles: u64, bytes: usize| {
        let mut word = nibbles & 0xFFFF_FFFF;
        word = (word | (word << 16)) & 0x0000_FFFF_0000_FFFF;
        word = (word | (word << 8)) & 0x00FF_00FF_00FF_00FF;
        word = (word | (word << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        (word + u64::from(CODED_BASE) * 0x0101_0101_0101_0101) & present(bytes)
    };
    let words = [
        word(code, len.min(8)),
        word(code >> 32, len.saturating_sub(8)),
    ];
    SlotKey::from_words(words, len)
}

const MIX: [u64; 2] = [0xbf58_476d_1ce4_e5b9, 0x94d0_49bb_1331_11eb];

/// A code's hash: a bijection of 63-bit numbers (xor-shifts and odd
/// multipliers modulo 2^63), shifted left. Hashes of coded keys are thus
/// even and determine their key; other keys' hashes are odd.
#[inline]
fn mix(code: u64) -> u64 {
    let mut x = code;
    x ^= x >> 31;
    x = x.wrapping_mul(MIX[0]) & LOW_63;
    x ^= x >> 29;
    x = x.wrapping_mul(MIX[1]) & LOW_63;
    x ^= x >> 32;
    x << 1
}

/// The code whose [`mix`] is `hash`.
fn unmix(hash: u64) -> u64 {
    let unshift = |y: u64, shift: u32| {
        let mut x = y;
        for _ in 0..=63 / shift {
            x = y ^ (x >> shift);
        }
        x
    };
    // The inverse of an odd number modulo 2^64, by Newton's iteration.
    let inverse = |c: u64| {
        let mut inv = c;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(c.wrapping_mul(inv)));
        }
        inv
    };
    let mut x = hash >> 1;
    x = unshift(x, 32);
    x = x.wrapping_mul(inverse(MIX[1])) & LOW_63;
    x = unshift(x, 29);
    x = x.wrapping_mul(inverse(MIX[0])) & LOW_63;
    unshift(x, 31)
}

impl<V> PendingKeys<V> {
    #[inline]
    pub fn push(&mut self, key: &[u8], value: V) {
        // Once one key is not coded the index will store keys, so coded
        // ones are staged with theirs too from then on.
        if self.keyed.is_empty()
            && let Some(code) = coded(key)
        {
            let hash = mix(code);
            let entry = CodedPending { hash, value };
            self.coded.push(partition_of(hash), entry);
            return;
        }
        let stored = SlotKey::inline(key).unwrap_or_else(|| {
            let offset = self.arena.len();
            self.arena.extend_from_slice(key);
            SlotKey::long(offset, key.len())
        });
        let hash = key_hash(key);
        let entry = Pending {
            hash,
            key: stored,
            value,
        };
        self.keyed.push(partition_of(hash), entry);
    }

    pub fn len(&self) -> usize {
        self.coded.len() + self.keyed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn partition_of(hash: u64) -> usize {
    hash_bits(hash, 0, PARTITION_BITS)
}

/// Entries per bucket a partition is grouped into before each bucket is
/// sorted: insertion sort moves whole entries, so small buckets sort
/// fastest (8 measured best against 4, 16 and 32).
const BUCKET_TARGET: usize = 8;

/// The `bits` hash bits below the top `skip` ones.
fn hash_bits(hash: u64, skip: u32, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        ((hash << skip) >> (64 - bits)) as usize
    }
}

/// `n / target` rounded down to a power of two, as a number of bits.
fn bits_for(n: usize, target: usize, max: u32) -> u32 {
    (n / target).checked_ilog2().unwrap_or(0).min(max)
}

impl<V: Copy + Send> PendingKeys<V> {
    /// The coded keys staged with their keys spelled out, for an index
    /// that stores keys because some are not coded.
    fn coded_with_keys(&mut self) -> Filed<Pending<V>> {
        let coded = std::mem::replace(&mut self.coded, Filed::new(PARTITIONS, BLOCK));
        coded.map(|entry| Pending {
            hash: entry.hash,
            key: uncoded(unmix(entry.hash)),
            value: entry.value,
        })
    }

    /// Moves long keys' offsets by `base`, this part's place in the
    /// combined arena.
    fn rebase(&mut self, base: usize) {
        if base > 0 && !self.arena.is_empty() {
            for entry in self.keyed.partitions_mut().flatten().flatten() {
                entry.key = entry.key.rebased(base);
            }
        }
    }
}

/// Where one partition's kept entries go: `positions[i]` is the slot of
/// its `i`-th kept entry (kept entries are moved to the front of the
/// partition, in hash order), and `repeats` are the (kept, dropped) values
/// of the repeated keys it dropped.
struct Laid<V> {
    positions: Vec<u32>,
    repeats: Vec<(V, V)>,
}

/// A partition: its share of every part, read as one sequence.
type Shares<'a, E> = Vec<&'a mut [E]>;

/// The first `count` entries of a partition's shares, in order.
fn leading<'a, E>(shares: &'a [&'a mut [E]], count: usize) -> impl Iterator<Item = &'a E> {
    shares.iter().flat_map(|share| share.iter()).take(count)
}

impl<V: Copy> Laid<V> {
    /// Sorts one partition's entries by `compare` (a counting sort by the
    /// hash bits below the top `skip` ones into small buckets, then each
    /// bucket by hash, and equal hashes by `compare`), moves the first of
    /// each key to the front of `shares` in order, and places each at its
    /// ideal slot or just after the previous one, as if no earlier
    /// partition reached into this one ([`settle_boundaries`] fixes that).
    /// `gathered` and `sorted` are scratch space.
    fn new<E: Staged<V>>(
        shares: &mut Shares<'_, E>,
        (gathered, sorted): &mut (Vec<E>, Vec<E>),
        skip: u32,
        arena: &[u8],
        compare: impl Fn(&E, &E) -> Ordering,
        spread: u64,
    ) -> Laid<V> {
        gathered.clear();
        for share in shares.iter() {
            gathered.extend_from_slice(share);
        }
        let bits = bits_for(gathered.len(), BUCKET_TARGET, 16);
        let bucket = |entry: &E| hash_bits(entry.hash(), skip, bits);
        let mut starts = vec![0usize; (1 << bits) + 1];
        for entry in gathered.iter() {
            starts[bucket(entry) + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        sorted.clone_from(gathered);
        let mut next = starts.clone();
        for entry in gathered.iter() {
            let at = &mut next[bucket(entry)];
            sorted[*at] = *entry;
            *at += 1;
        }
        // By hash alone (a fast integer sort), then runs of equal hashes (a
        // repeated key, or a true collision) by the full comparison.
        for bounds in starts.windows(2) {
            sorted[bounds[0]..bounds[1]].sort_unstable_by_key(|entry| entry.hash());
        }
        for run in sorted.chunk_by_mut(|a, b| a.hash() == b.hash()) {
            if run.len() > 1 {
                run.sort_unstable_by(&compare);
            }
        }
        let mut laid = Laid {
            positions: Vec::with_capacity(sorted.len()),
            repeats: Vec::new(),
        };
        let mut next_free = 0;
        let mut kept: Option<&E> = None;
        let mut places = shares.iter_mut().flat_map(|share| share.iter_mut());
        for entry in sorted.iter() {
            if let Some(kept) = kept
                && kept.hash() == entry.hash()
                && kept.key_order(entry, arena) == Ordering::Equal
            {
                laid.repeats.push((*kept.value(), *entry.value()));
                continue;
            }
            kept = Some(entry);
            let position = ideal(entry.hash(), spread).max(next_free);
            *places.next().expect("a place for every kept entry") = *entry;
            laid.positions.push(position as u32);
            next_free = position + 1;
        }
        laid
    }

    /// One past the last slot taken.
    fn end(&self) -> usize {
        self.positions.last().map_or(0, |&last| last as usize + 1)
    }
}

/// Moves the first entries of each partition past the slots the previous
/// partition's last entries took (only a short run at the start can move:
/// once an entry keeps its slot, so do all after it).
fn settle_boundaries<V: Copy, E: Staged<V>>(
    lays: &mut [Laid<V>],
    partitions: &[Shares<'_, E>],
    spread: u64,
) {
    let mut next_free = 0;
    for (laid, shares) in lays.iter_mut().zip(partitions) {
        let count = laid.positions.len();
        for (entry, position) in leading(shares, count).zip(laid.positions.iter_mut()) {
            let wanted = ideal(entry.hash(), spread).max(next_free);
            if wanted as u32 == *position {
                break;
            }
            *position = wanted as u32;
            next_free = wanted + 1;
        }
        next_free = next_free.max(laid.end());
    }
}

/// 32 bytes for values of up to 8 bytes, aligned so that no slot spans
/// two cache lines: a lookup then touches as few lines as its probe needs.
#[derive(Clone, Copy, Default)]
#[repr(align(32))]
struct Slot<W> {
    /// 0 for an empty slot.
    hash: u64,
    key: SlotKey,
    value: W,
}

/// A slot of an index whose keys are all coded: the hash determines the
/// key, so four slots fit a cache line and a lookup compares hashes only.
#[derive(Clone, Copy, Default)]
#[repr(align(16))]
struct CodedSlot<W> {
    /// 0 for an empty slot.
    hash: u64,
    value: W,
}

trait Stored<W> {
    fn hash(&self) -> u64;
    fn value(&self) -> &W;
    fn value_mut(&mut self) -> &mut W;
}

impl<W> Stored<W> for Slot<W> {
    fn hash(&self) -> u64 {
        self.hash
    }
    fn value(&self) -> &W {
        &self.value
    }
    fn value_mut(&mut self) -> &mut W {
        &mut self.value
    }
}

impl<W> Stored<W> for CodedSlot<W> {
    fn hash(&self) -> u64 {
        self.hash
    }
    fn value(&self) -> &W {
        &self.value
    }
    fn value_mut(&mut self) -> &mut W {
        &mut self.value
    }
}

/// The slots: half as big, and a lookup touching fewer cache lines, when
/// every key is coded (the usual case: personnummer).
enum Slots<W> {
    Keyed(Vec<Slot<W>>),
    Coded(Vec<CodedSlot<W>>),
}

/// One of two iterators (over either kind of slots).
enum Either<A, B> {
    Keyed(A),
    Coded(B),
}

impl<T, A: Iterator<Item = T>, B: Iterator<Item = T>> Iterator for Either<A, B> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        match self {
            Either::Keyed(a) => a.next(),
            Either::Coded(b) => b.next(),
        }
    }
}

/// The taken slots of `slots`, whose first is slot `first`, with their ids.
fn taken<'s, W: 's, S: Stored<W>>(
    slots: &'s [S],
    first: usize,
) -> impl Iterator<Item = (u32, &'s W)> {
    slots
        .iter()
        .enumerate()
        .filter(|(_, slot)| slot.hash() != 0)
        .map(move |(offset, slot)| ((first + offset) as u32, slot.value()))
}

/// The slot of `hash` in `slots` if `same` says its key is the one sought.
#[inline]
fn probe<W, S: Stored<W>>(
    slots: &[S],
    spread: u64,
    hash: u64,
    same: impl Fn(&S) -> bool,
) -> Option<(u32, &W)> {
    let mut position = ideal(hash, spread);
    while let Some(slot) = slots.get(position) {
        let found = slot.hash();
        if found == 0 || found > hash {
            return None;
        }
        if found == hash && same(slot) {
            return Some((position as u32, slot.value()));
        }
        position += 1;
    }
    None
}

/// Writes each partition's kept entries into its own range of `slots`.
fn place<V: Copy + Sync, E: Staged<V>, S: Send>(
    slots: &mut [S],
    lays: &[Laid<V>],
    partitions: &[Shares<'_, E>],
    slot: impl Fn(&E) -> S + Sync,
) {
    let mut ranges = Vec::with_capacity(lays.len());
    let mut rest = slots;
    let mut offset = 0;
    for (laid, shares) in lays.iter().zip(partitions) {
        let Some(&first) = laid.positions.first() else {
            continue;
        };
        let (_, tail) = rest.split_at_mut(first as usize - offset);
        let (range, tail) = tail.split_at_mut(laid.end() - first as usize);
        ranges.push((laid, shares, range, first as usize));
        (rest, offset) = (tail, laid.end());
    }
    ranges
        .into_par_iter()
        .for_each(|(laid, shares, range, first)| {
            let kept = leading(shares, laid.positions.len());
            for (entry, &position) in kept.zip(&laid.positions) {
                range[position as usize - first] = slot(entry);
            }
        });
}

/// The built index.
pub struct KeyIndex<W> {
    slots: Slots<W>,
    arena: Vec<u8>,
    /// Slots hashes are spread over (the tail past it holds overflow).
    spread: u64,
    len: usize,
}

impl<W: Copy + Default + Send + Sync> KeyIndex<W> {
    /// Builds the index from the keys each reader thread gathered. Equal
    /// keys are ordered by `order` on their values; the first is kept and
    /// `duplicate(kept, dropped)` sees each other one, in hash order.
    /// `keep` turns a pending value into the stored one.
    ///
    /// When every key is coded, the slots hold no keys ([`CodedSlot`]);
    /// otherwise the coded keys are spelled out again to be stored with
    /// the others.
    pub fn build<V: Copy + Send + Sync>(
        mut parts: Vec<PendingKeys<V>>,
        order: impl Fn(&V, &V) -> Ordering + Sync,
        duplicate: impl FnMut(&V, &V),
        keep: impl Fn(&V) -> W + Sync,
    ) -> KeyIndex<W> {
        let total: usize = parts.iter().map(PendingKeys::len).sum();
        let spread = (total as u64 * 5 / 4).max(1);
        let all_coded = parts.iter().all(|part| part.keyed.is_empty());
        let mut arena = Vec::new();
        let (slots, len) = if all_coded {
            let filed = parts.iter_mut().map(|part| &mut part.coded);
            let (slots, len) =
                lay_out(filed, &arena, spread, order, duplicate, |entry| CodedSlot {
                    hash: entry.hash,
                    value: keep(&entry.value),
                });
            (Slots::Coded(slots), len)
        } else {
            for part in &mut parts {
                let base = arena.len();
                arena.extend_from_slice(&part.arena);
                part.rebase(base);
            }
            let mut spelled: Vec<_> = parts.iter_mut().map(PendingKeys::coded_with_keys).collect();
            let keyed = parts.iter_mut().map(|part| &mut part.keyed);
            let filed = keyed.chain(spelled.iter_mut());
            let (slots, len) = lay_out(filed, &arena, spread, order, duplicate, |entry| Slot {
                hash: entry.hash,
                key: entry.key,
                value: keep(&entry.value),
            });
            (Slots::Keyed(slots), len)
        };
        drop(parts);
        release_free_memory();
        KeyIndex {
            slots,
            arena,
            spread,
            len,
        }
    }
}

/// The slots of the entries `filed` by each part, and how many keys they
/// hold.
///
/// Each partition (its share of every part) is sorted and laid out by one
/// thread, and written into its own range of slots. Only runs crossing
/// partition boundaries are settled in sequence.
fn lay_out<'f, V, E, S>(
    filed: impl Iterator<Item = &'f mut Filed<E>>,
    arena: &[u8],
    spread: u64,
    order: impl Fn(&V, &V) -> Ordering + Sync,
    mut duplicate: impl FnMut(&V, &V),
    slot: impl Fn(&E) -> S + Sync,
) -> (Vec<S>, usize)
where
    V: Copy + Send + Sync,
    E: Staged<V> + 'f,
    S: Default + Send + Sync,
{
    let mut partitions: Vec<Shares<'_, E>> = (0..PARTITIONS).map(|_| Vec::new()).collect();
    for part in filed {
        for (p, blocks) in part.partitions_mut().enumerate() {
            partitions[p].extend(blocks.map(|block| &mut block[..]));
        }
    }
    let compare = |a: &E, b: &E| {
        a.hash()
            .cmp(&b.hash())
            .then_with(|| a.key_order(b, arena))
            .then_with(|| order(a.value(), b.value()))
    };
    let mut lays: Vec<Laid<V>> = partitions
        .par_iter_mut()
        .map_init(
            || (Vec::new(), Vec::new()),
            |scratch, shares| Laid::new(shares, scratch, PARTITION_BITS, arena, compare, spread),
        )
        .collect();
    for laid in &lays {
        for (kept, dropped) in &laid.repeats {
            duplicate(kept, dropped);
        }
    }
    settle_boundaries(&mut lays, &partitions, spread);
    let end = lays.iter().map(Laid::end).max().unwrap_or(0);
    let mut slots = random_access_vec(end.max(spread as usize), S::default);
    place(&mut slots, &lays, &partitions, slot);
    (slots, lays.iter().map(|laid| laid.positions.len()).sum())
}

fn ideal(hash: u64, spread: u64) -> usize {
    ((u128::from(hash) * u128::from(spread)) >> 64) as usize
}

impl<W> KeyIndex<W> {
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Ids are below this bound (they are slot positions).
    pub fn id_bound(&self) -> usize {
        match &self.slots {
            Slots::Keyed(slots) => slots.len(),
            Slots::Coded(slots) => slots.len(),
        }
    }

    /// Loads the slot `hash` starts at, so that a later [`KeyIndex::find`]
    /// finds it in cache; call it for a batch of keys before looking them up.
    #[inline]
    pub fn touch(&self, hash: u64) {
        // At 80 % load an entry sits on average two slots past its ideal
        // one: with two slots a line, within three lines in about 90 % of
        // lookups; with four, within two.
        let position = ideal(hash, self.spread);
        match &self.slots {
            Slots::Keyed(slots) => touch_lines(slots, position, 3),
            Slots::Coded(slots) => touch_lines(slots, position, 2),
        }
    }

    /// Id and value of `key`, whose [`key_hash`] is `hash`.
    #[inline]
    pub fn find(&self, hash: u64, key: &[u8]) -> Option<(u32, &W)> {
        match &self.slots {
            Slots::Keyed(slots) => {
                let wanted = SlotKey::inline(key);
                probe(slots, self.spread, hash, |slot| {
                    wanted.map_or_else(|| slot.key.bytes(&self.arena) == key, |w| w == slot.key)
                })
            }
            // A key that is not coded has an odd hash, which no slot has.
            Slots::Coded(slots) => probe(slots, self.spread, hash, |_| true),
        }
    }

    pub fn get(&self, key: &[u8]) -> Option<(u32, &W)> {
        self.find(key_hash(key), key)
    }

    /// The key with id `id`.
    pub fn key(&self, id: u32) -> Cow<'_, [u8]> {
        match &self.slots {
            Slots::Keyed(slots) => Cow::Borrowed(slots[id as usize].key.bytes(&self.arena)),
            Slots::Coded(slots) => {
                let key = uncoded(unmix(slots[id as usize].hash));
                Cow::Owned(key.bytes(&[]).to_vec())
            }
        }
    }

    /// (id, value) of the keys whose ids are in `ids` (a range below
    /// [`KeyIndex::id_bound`]), in id order: a part of the index for one
    /// thread to go through.
    pub fn values_in(&self, ids: std::ops::Range<usize>) -> impl Iterator<Item = (u32, &W)> {
        let first = ids.start;
        match &self.slots {
            Slots::Keyed(slots) => Either::Keyed(taken(&slots[ids], first)),
            Slots::Coded(slots) => Either::Coded(taken(&slots[ids], first)),
        }
    }

    /// Every (id, value) in id order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &W)> {
        self.values_in(0..self.id_bound())
    }

    /// Every value, to change in place (ids and keys stay).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut W> {
        fn taken_mut<'s, W: 's, S: Stored<W>>(
            slots: &'s mut [S],
        ) -> impl Iterator<Item = &'s mut W> {
            slots
                .iter_mut()
                .filter(|slot| slot.hash() != 0)
                .map(|slot| slot.value_mut())
        }
        match &mut self.slots {
            Slots::Keyed(slots) => Either::Keyed(taken_mut(slots)),
            Slots::Coded(slots) => Either::Coded(taken_mut(slots)),
        }
    }
}

/// Prefetches `lines` cache lines of `slots` from `position` on.
#[inline]
fn touch_lines<S>(slots: &[S], position: usize, lines: usize) {
    let per_line = (64 / size_of::<S>()).max(1);
    for line in 0..lines {
        if let Some(slot) = slots.get(position + line * per_line) {
            prefetch_once(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_coded(hash: u64) -> bool {
        hash & 1 == 0
    }

    #[test]
    fn slots_of_every_listing_value_fill_half_a_cache_line() {
        assert_eq!(size_of::<Slot<u32>>(), 32);
        assert_eq!(size_of::<Slot<crate::listing::Person>>(), 32);
        assert_eq!(size_of::<Slot<crate::listing_diff::Listed>>(), 32);
        assert_eq!(size_of::<CodedSlot<crate::listing::Person>>(), 16);
        assert_eq!(size_of::<CodedSlot<crate::listing_diff::Listed>>(), 16);
    }

    #[test]
    fn ids_of_digits_are_coded_reversibly_and_distinctly() {
        let keys: [&[u8]; 12] = [
            b"0",
            b"00",
            b"1234567",
            b"123456789",
            b"12",
            b"0012",
            b"191212121212",
            b"19121212-1212",
            b"121212-1212",
            b"123456789012345",
            b"1.2/3-",
            b"99999999",
        ];
        let mut hashes = Vec::new();
        for key in keys {
            let code = coded(key).unwrap();
            assert!(code > 0 && code < 1 << 60);
            assert!(uncoded(code) == SlotKey::inline(key).unwrap());
            let hash = key_hash(key);
            assert!(hash != 0 && is_coded(hash));
            assert_eq!(unmix(hash), code);
            hashes.push(hash);
        }
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), keys.len());
        let others: [&[u8]; 9] = [
            b"",
            b"1234567890123456",
            b"A123",
            b"12 34",
            b"12:3",
            b"12,3",
            "19121212\u{2013}1212".as_bytes(),
            b"\xff1",
            b"1234567\x80",
        ];
        for key in others {
            assert_eq!(coded(key), None, "{key:?}");
            assert!(!is_coded(key_hash(key)));
        }
    }

    #[test]
    fn the_mix_of_codes_is_undone() {
        let mut code = 1u64;
        for _ in 0..10_000 {
            assert_eq!(unmix(mix(code)), code);
            code = code.wrapping_mul(6364136223846793005).wrapping_add(1) & ((1 << 60) - 1);
        }
    }

    /// Builds from keys spread over two parts, as two reader threads would.
    fn build(keys: &[(&str, u32)]) -> (KeyIndex<u32>, Vec<(u32, u32)>) {
        let mut parts = vec![PendingKeys::default(), PendingKeys::default()];
        for (i, &(key, value)) in keys.iter().enumerate() {
            parts[i % 2].push(key.as_bytes(), value);
        }
        let mut dups = Vec::new();
        let index = KeyIndex::build(
            parts,
            |a: &u32, b: &u32| a.cmp(b),
            |kept, dropped| dups.push((*kept, *dropped)),
            |v| *v,
        );
        (index, dups)
    }

    #[test]
    fn an_index_of_coded_keys_finds_them_and_nothing_else() {
        let keys: Vec<String> = (0..5_000).map(|i| format!("19{i:010}")).collect();
        let pairs: Vec<(&str, u32)> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| (key.as_str(), i as u32))
            .collect();
        let (index, _) = build(&pairs);
        assert!(matches!(index.slots, Slots::Coded(_)));
        for (key, value) in pairs {
            let (id, found) = index.get(key.as_bytes()).unwrap();
            assert_eq!(*found, value);
            assert_eq!(&*index.key(id), key.as_bytes());
        }
        assert!(index.get(b"190000005000").is_none());
        assert!(index.get(b"0190000000001").is_none());
        assert!(index.get(b"19000000000A").is_none());
    }

    #[test]
    fn finds_every_key_and_nothing_else() {
        let keys: Vec<String> = (0..20_000).map(|i| format!("19{i:010}")).collect();
        let mut pending = PendingKeys::default();
        let half = keys.len() / 2;
        let mut other = PendingKeys::default();
        for (i, key) in keys.iter().enumerate() {
            if i < half {
                pending.push(key.as_bytes(), i as u32)
            } else {
                other.push(key.as_bytes(), i as u32)
            }
        }
        pending.push(b"a patient id that is longer than fifteen bytes", 99_999);
        other.push(b"another id that is longer than fifteen bytes", 88_888);
        let index = KeyIndex::build(
            vec![pending, other],
            |a: &u32, b: &u32| a.cmp(b),
            |_, _| panic!("no duplicates"),
            |v| *v,
        );
        assert_eq!(index.len(), 20_002);
        assert!(matches!(index.slots, Slots::Keyed(_)));
        for (i, key) in keys.iter().enumerate() {
            let (id, value) = index.get(key.as_bytes()).unwrap();
            assert_eq!(*value, i as u32);
            assert_eq!(&*index.key(id), key.as_bytes());
        }
        let long = b"a patient id that is longer than fifteen bytes";
        assert_eq!(
            index.get(long).map(|(id, v)| (&*index.key(id) == long, *v)),
            Some((true, 99_999))
        );
        assert!(index.get(b"1900000000000").is_none());
        assert!(index.get(b"").is_none());
        assert_eq!(index.iter().count(), 20_002);
    }

    #[test]
    fn duplicates_keep_the_first_in_value_order() {
        let (index, dups) = build(&[("p1", 7), ("p2", 1), ("p1", 3), ("p1", 5)]);
        assert_eq!(index.len(), 2);
        assert_eq!(index.get(b"p1").map(|(_, v)| *v), Some(3));
        assert_eq!(dups, vec![(3, 5), (3, 7)]);
    }

    #[test]
    fn ids_do_not_depend_on_insertion_order() {
        let (a, _) = build(&[("x", 1), ("y", 2), ("z", 3)]);
        let (b, _) = build(&[("z", 3), ("x", 1), ("y", 2)]);
        for key in ["x", "y", "z"] {
            assert_eq!(
                a.get(key.as_bytes()).unwrap().0,
                b.get(key.as_bytes()).unwrap().0
            );
        }
    }

    /// Per slot its key and value, if taken.
    type Taken = Vec<Option<(Vec<u8>, u32)>>;

    /// The index as defined: all entries sorted by (hash, key, value), the
    /// first of equal keys kept, each placed at its ideal slot or the next
    /// free one after the previous entry.
    fn reference(keys: &[(Vec<u8>, u32)]) -> (Taken, Vec<(u32, u32)>) {
        let mut entries: Vec<(u64, &[u8], u32)> = keys
            .iter()
            .map(|(key, value)| (key_hash(key), &key[..], *value))
            .collect();
        entries.sort();
        let spread = (keys.len() as u64 * 5 / 4).max(1);
        let mut slots: Taken = Vec::new();
        let mut dups = Vec::new();
        let mut last: Option<(u64, &[u8], u32)> = None;
        for (hash, key, value) in entries {
            if let Some((h, k, kept)) = last
                && h == hash
                && k == key
            {
                dups.push((kept, value));
                continue;
            }
            last = Some((hash, key, value));
            let position = ideal(hash, spread).max(slots.len());
            slots.resize(position, None);
            slots.push(Some((key.to_vec(), value)));
        }
        slots.resize(slots.len().max(spread as usize), None);
        (slots, dups)
    }

    #[test]
    fn builds_the_same_index_as_the_definition() {
        let mut state = 7u64;
        let mut next = move |bound: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % bound
        };
        // Every 97th key long (a keyed index) or none (a coded one).
        for (count, parts, long_every) in [
            (0, 1, 97),
            (5, 2, 97),
            (100, 3, 97),
            (3000, 1, 97),
            (3000, 2, 0),
            (20_000, 2, 97),
            (50_000, 3, 97),
            // ~800 keys per partition at 80 % load: runs cross their
            // boundaries, which are settled in sequence.
            (200_000, 2, 97),
            (200_000, 2, 0),
        ] {
            let keys: Vec<(Vec<u8>, u32)> = (0..count)
                .map(|i| {
                    let patient = next(count as u64 * 3 / 4 + 1);
                    let key = if long_every > 0 && patient % long_every == 0 {
                        format!("a long identifier number {patient}").into_bytes()
                    } else {
                        format!("19{patient:010}").into_bytes()
                    };
                    (key, i as u32)
                })
                .collect();
            let mut pending: Vec<PendingKeys<u32>> =
                (0..parts).map(|_| PendingKeys::default()).collect();
            for (key, value) in &keys {
                pending[next(parts as u64) as usize].push(key, *value);
            }
            let mut dups = Vec::new();
            let index = KeyIndex::build(
                pending,
                |a: &u32, b: &u32| a.cmp(b),
                |kept, dropped| dups.push((*kept, *dropped)),
                |v| *v,
            );
            let (slots, expected_dups) = reference(&keys);
            let mut built: Taken = vec![None; index.id_bound()];
            for (id, &value) in index.iter() {
                built[id as usize] = Some((index.key(id).into_owned(), value));
            }
            assert_eq!(built, slots, "{count} keys in {parts} parts");
            assert_eq!(dups, expected_dups);
        }
    }

    #[test]
    fn an_empty_index_finds_nothing() {
        let (index, _) = build(&[]);
        assert!(index.is_empty());
        assert!(index.get(b"x").is_none());
    }
}
