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

use std::cmp::Ordering;

use rayon::prelude::*;

use crate::filed::Filed;
use crate::intern::{SlotKey, hash_bytes, prefetch_once, random_access_vec, release_free_memory};

/// Keys gathered by one reader thread, to be merged and built, already
/// filed into [`PARTITIONS`] by the top bits of their hash, so building
/// needs no pass (and no second copy in fresh memory) to group them.
pub struct PendingKeys<V> {
    entries: Filed<Pending<V>>,
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

impl<V> Default for PendingKeys<V> {
    fn default() -> Self {
        PendingKeys {
            entries: Filed::new(PARTITIONS, BLOCK),
            arena: Vec::new(),
        }
    }
}

/// The hash an index uses for `key`; never 0, which marks an empty slot.
pub fn key_hash(key: &[u8]) -> u64 {
    hash_bytes(key) | 1
}

impl<V> PendingKeys<V> {
    #[inline]
    pub fn push(&mut self, key: &[u8], value: V) {
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
        self.entries.push(hash_bits(hash, 0, PARTITION_BITS), entry);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Each partition's blocks.
    fn partitions(&mut self) -> impl Iterator<Item = impl Iterator<Item = &mut Vec<Pending<V>>>> {
        self.entries.partitions_mut()
    }
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

impl<V: Copy> PendingKeys<V> {
    /// Moves long keys' offsets by `base`, this part's place in the
    /// combined arena.
    fn rebase(&mut self, base: usize) {
        if base > 0 && !self.arena.is_empty() {
            for entry in self.partitions().flatten().flatten() {
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
type Shares<'a, V> = Vec<&'a mut [Pending<V>]>;

/// The first `count` entries of a partition's shares, in order.
fn leading<'a, V>(
    shares: &'a [&'a mut [Pending<V>]],
    count: usize,
) -> impl Iterator<Item = &'a Pending<V>> {
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
    fn new(
        shares: &mut Shares<'_, V>,
        (gathered, sorted): &mut (Vec<Pending<V>>, Vec<Pending<V>>),
        skip: u32,
        arena: &[u8],
        compare: impl Fn(&Pending<V>, &Pending<V>) -> Ordering,
        spread: u64,
    ) -> Laid<V> {
        gathered.clear();
        for share in shares.iter() {
            gathered.extend_from_slice(share);
        }
        let bits = bits_for(gathered.len(), BUCKET_TARGET, 16);
        let bucket = |entry: &Pending<V>| hash_bits(entry.hash, skip, bits);
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
            sorted[bounds[0]..bounds[1]].sort_unstable_by_key(|entry| entry.hash);
        }
        for run in sorted.chunk_by_mut(|a, b| a.hash == b.hash) {
            if run.len() > 1 {
                run.sort_unstable_by(&compare);
            }
        }
        let mut laid = Laid {
            positions: Vec::with_capacity(sorted.len()),
            repeats: Vec::new(),
        };
        let mut next_free = 0;
        let mut kept: Option<&Pending<V>> = None;
        let mut places = shares.iter_mut().flat_map(|share| share.iter_mut());
        for entry in sorted.iter() {
            if let Some(kept) = kept
                && kept.hash == entry.hash
                && kept.key.bytes(arena) == entry.key.bytes(arena)
            {
                laid.repeats.push((kept.value, entry.value));
                continue;
            }
            kept = Some(entry);
            let position = ideal(entry.hash, spread).max(next_free);
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
fn settle_boundaries<V: Copy>(lays: &mut [Laid<V>], partitions: &[Shares<'_, V>], spread: u64) {
    let mut next_free = 0;
    for (laid, shares) in lays.iter_mut().zip(partitions) {
        let count = laid.positions.len();
        for (entry, position) in leading(shares, count).zip(laid.positions.iter_mut()) {
            let wanted = ideal(entry.hash, spread).max(next_free);
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

/// The built index.
pub struct KeyIndex<W> {
    slots: Vec<Slot<W>>,
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
    /// Each partition (its share of every part) is sorted and laid out by
    /// one thread, and written into its own range of slots. Only runs
    /// crossing partition boundaries are settled in sequence.
    pub fn build<V: Copy + Send + Sync>(
        mut parts: Vec<PendingKeys<V>>,
        order: impl Fn(&V, &V) -> Ordering + Sync,
        mut duplicate: impl FnMut(&V, &V),
        keep: impl Fn(&V) -> W + Sync,
    ) -> KeyIndex<W> {
        let total: usize = parts.iter().map(PendingKeys::len).sum();
        let spread = (total as u64 * 5 / 4).max(1);
        let mut arena = Vec::new();
        for part in &mut parts {
            let base = arena.len();
            arena.extend_from_slice(&part.arena);
            part.rebase(base);
        }
        // Partition by partition, each part's share of it.
        let mut partitions: Vec<Shares<'_, V>> = (0..PARTITIONS).map(|_| Vec::new()).collect();
        for part in &mut parts {
            for (p, blocks) in part.partitions().enumerate() {
                partitions[p].extend(blocks.map(|block| &mut block[..]));
            }
        }

        let compare = |a: &Pending<V>, b: &Pending<V>| {
            a.hash
                .cmp(&b.hash)
                .then_with(|| a.key.bytes(&arena).cmp(b.key.bytes(&arena)))
                .then_with(|| order(&a.value, &b.value))
        };
        let mut lays: Vec<Laid<V>> = partitions
            .par_iter_mut()
            .map_init(
                || (Vec::new(), Vec::new()),
                |scratch, shares| {
                    Laid::new(shares, scratch, PARTITION_BITS, &arena, compare, spread)
                },
            )
            .collect();
        for laid in &lays {
            for (kept, dropped) in &laid.repeats {
                duplicate(kept, dropped);
            }
        }
        settle_boundaries(&mut lays, &partitions, spread);

        let end = lays.iter().map(Laid::end).max().unwrap_or(0);
        let mut slots = random_access_vec(end.max(spread as usize), Slot::default);
        let mut ranges = Vec::with_capacity(lays.len());
        let mut rest = &mut slots[..];
        let mut offset = 0;
        for (laid, shares) in lays.iter().zip(&partitions) {
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
                    range[position as usize - first] = Slot {
                        hash: entry.hash,
                        key: entry.key,
                        value: keep(&entry.value),
                    };
                }
            });
        drop(partitions);
        drop(parts);
        release_free_memory();
        KeyIndex {
            slots,
            arena,
            spread,
            len: lays.iter().map(|laid| laid.positions.len()).sum(),
        }
    }
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
        self.slots.len()
    }

    /// Loads the slot `hash` starts at, so that a later [`KeyIndex::find`]
    /// finds it in cache; call it for a batch of keys before looking them up.
    pub fn touch(&self, hash: u64) {
        // At 80 % load an entry sits on average two slots past its ideal
        // one: on the same cache line in only about 40 % of lookups, within
        // three lines in about 90 %.
        let position = ideal(hash, self.spread);
        let per_line = (64 / size_of::<Slot<W>>()).max(1);
        for line in 0..3 {
            if let Some(slot) = self.slots.get(position + line * per_line) {
                prefetch_once(slot);
            }
        }
    }

    /// Id and value of `key`, whose [`key_hash`] is `hash`.
    pub fn find(&self, hash: u64, key: &[u8]) -> Option<(u32, &W)> {
        let probe = SlotKey::inline(key);
        let mut position = ideal(hash, self.spread);
        while let Some(slot) = self.slots.get(position) {
            if slot.hash == 0 || slot.hash > hash {
                return None;
            }
            if slot.hash == hash
                && probe.map_or_else(|| slot.key.bytes(&self.arena) == key, |p| p == slot.key)
            {
                return Some((position as u32, &slot.value));
            }
            position += 1;
        }
        None
    }

    pub fn get(&self, key: &[u8]) -> Option<(u32, &W)> {
        self.find(key_hash(key), key)
    }

    /// The key with id `id`.
    pub fn key(&self, id: u32) -> &[u8] {
        self.slots[id as usize].key.bytes(&self.arena)
    }

    /// (id, value) of the keys whose ids are in `ids` (a range below
    /// [`KeyIndex::id_bound`]), in id order: a part of the index for one
    /// thread to go through.
    pub fn values_in(&self, ids: std::ops::Range<usize>) -> impl Iterator<Item = (u32, &W)> {
        let first = ids.start;
        self.slots[ids]
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.hash != 0)
            .map(move |(offset, slot)| ((first + offset) as u32, &slot.value))
    }

    /// Every (id, key, value) in id order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &[u8], &W)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.hash != 0)
            .map(|(id, slot)| (id as u32, slot.key.bytes(&self.arena), &slot.value))
    }

    /// Every value, to change in place (ids and keys stay).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut W> {
        self.slots
            .iter_mut()
            .filter(|slot| slot.hash != 0)
            .map(|slot| &mut slot.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_of_every_listing_value_fill_half_a_cache_line() {
        assert_eq!(size_of::<Slot<u32>>(), 32);
        assert_eq!(size_of::<Slot<crate::listing::Person>>(), 32);
        assert_eq!(size_of::<Slot<crate::listing_diff::Listed>>(), 32);
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
        for (i, key) in keys.iter().enumerate() {
            let (id, value) = index.get(key.as_bytes()).unwrap();
            assert_eq!(*value, i as u32);
            assert_eq!(index.key(id), key.as_bytes());
        }
        let long = b"a patient id that is longer than fifteen bytes";
        assert_eq!(
            index.get(long).map(|(id, v)| (index.key(id) == long, *v)),
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
    type Slots = Vec<Option<(Vec<u8>, u32)>>;

    /// The index as defined: all entries sorted by (hash, key, value), the
    /// first of equal keys kept, each placed at its ideal slot or the next
    /// free one after the previous entry.
    fn reference(keys: &[(Vec<u8>, u32)]) -> (Slots, Vec<(u32, u32)>) {
        let mut entries: Vec<(u64, &[u8], u32)> = keys
            .iter()
            .map(|(key, value)| (key_hash(key), &key[..], *value))
            .collect();
        entries.sort();
        let spread = (keys.len() as u64 * 5 / 4).max(1);
        let mut slots: Slots = Vec::new();
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
        for (count, parts) in [
            (0, 1),
            (5, 2),
            (100, 3),
            (3000, 1),
            (20_000, 2),
            (50_000, 3),
            // ~800 keys per partition at 80 % load: runs cross their
            // boundaries, which are settled in sequence.
            (200_000, 2),
        ] {
            let keys: Vec<(Vec<u8>, u32)> = (0..count)
                .map(|i| {
                    let patient = next(count as u64 * 3 / 4 + 1);
                    let key = if patient % 97 == 0 {
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
            let built: Slots = index
                .slots
                .iter()
                .map(|slot| {
                    (slot.hash != 0).then(|| (slot.key.bytes(&index.arena).to_vec(), slot.value))
                })
                .collect();
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
