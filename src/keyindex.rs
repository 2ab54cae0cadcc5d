//! A read-only index from byte keys (patient ids) to small values, built in
//! one sort instead of millions of random hash-table inserts.
//!
//! Entries are ordered by hash and each sits at or just after the slot its
//! hash maps to (ordered linear probing), so a lookup reads one or two
//! neighbouring slots, and a batch of lookups can touch their slots first
//! to overlap the cache misses ([`KeyIndex::touch`]). Building is a parallel
//! sort plus one sequential pass. Slot positions are the ids: they depend
//! only on the keys, so they are the same on every run.

use std::cmp::Ordering;

use rayon::prelude::*;

use crate::intern::{SlotKey, hash_bytes, prefetch_once, random_access_vec};

/// Keys gathered by one reader thread, to be merged and built.
pub struct PendingKeys<V> {
    entries: Vec<Pending<V>>,
    arena: Vec<u8>,
}

#[derive(Clone, Copy)]
struct Pending<V> {
    hash: u64,
    key: SlotKey,
    value: V,
}

impl<V> Default for PendingKeys<V> {
    fn default() -> Self {
        PendingKeys {
            entries: Vec::new(),
            arena: Vec::new(),
        }
    }
}

/// The hash an index uses for `key`; never 0, which marks an empty slot.
pub fn key_hash(key: &[u8]) -> u64 {
    hash_bytes(key) | 1
}

impl<V> PendingKeys<V> {
    pub fn push(&mut self, key: &[u8], value: V) {
        let stored = SlotKey::inline(key).unwrap_or_else(|| {
            let offset = self.arena.len();
            self.arena.extend_from_slice(key);
            SlotKey::long(offset, key.len())
        });
        self.entries.push(Pending {
            hash: key_hash(key),
            key: stored,
            value,
        });
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Entries per bucket [`PendingKeys::sort_by`] aims at: small enough for
/// the full comparison to run in cache, large enough that the bucket
/// counts stay small.
const BUCKET_TARGET: usize = 32;

impl<V: Copy + Send + Sync> PendingKeys<V> {
    /// Sorts the entries by `compare`, which orders by hash first. A
    /// counting pass groups them by the top bits of their hash into small
    /// buckets in hash order, and only the buckets are sorted by the full
    /// comparison, in parallel: far fewer comparisons and moves than
    /// sorting the whole part. The entries are gathered into bucket order
    /// in a new vector, which replaces the old one.
    fn sort_by(&mut self, compare: impl Fn(&Pending<V>, &[u8], &Pending<V>) -> Ordering + Sync) {
        let arena = &self.arena;
        let bits = (self.entries.len() / BUCKET_TARGET)
            .checked_ilog2()
            .unwrap_or(0)
            .min(24);
        if bits == 0 {
            self.entries.sort_unstable_by(|a, b| compare(a, arena, b));
            return;
        }
        let bucket = |entry: &Pending<V>| (entry.hash >> (64 - bits)) as usize;
        let mut starts = vec![0usize; (1 << bits) + 1];
        for entry in &self.entries {
            starts[bucket(entry) + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        let mut next = starts.clone();
        let mut order = vec![0u32; self.entries.len()];
        for (i, entry) in self.entries.iter().enumerate() {
            let slot = &mut next[bucket(entry)];
            order[*slot] = i as u32;
            *slot += 1;
        }
        drop(next);
        let gathered: Vec<Pending<V>> = order.iter().map(|&i| self.entries[i as usize]).collect();
        drop(order);
        self.entries = gathered;
        let mut buckets = Vec::with_capacity(starts.len() - 1);
        let mut rest = &mut self.entries[..];
        for bounds in starts.windows(2) {
            let (bucket, tail) = rest.split_at_mut(bounds[1] - bounds[0]);
            buckets.push(bucket);
            rest = tail;
        }
        buckets
            .into_par_iter()
            .with_min_len(1024)
            .for_each(|bucket| bucket.sort_unstable_by(|a, b| compare(a, arena, b)));
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
    /// `duplicate(kept, dropped)` sees each other one. `keep` turns a
    /// pending value into the stored one. Each part is sorted by hash
    /// bucket ([`PendingKeys::sort_by`]) and the parts are merged straight
    /// into the slots, so no combined copy is ever made.
    pub fn build<V: Copy + Send + Sync>(
        mut parts: Vec<PendingKeys<V>>,
        order: impl Fn(&V, &V) -> Ordering + Sync,
        mut duplicate: impl FnMut(&V, &V),
        keep: impl Fn(&V) -> W,
    ) -> KeyIndex<W> {
        let compare = |a: &Pending<V>, a_arena: &[u8], b: &Pending<V>, b_arena: &[u8]| {
            a.hash
                .cmp(&b.hash)
                .then_with(|| a.key.bytes(a_arena).cmp(b.key.bytes(b_arena)))
                .then_with(|| order(&a.value, &b.value))
        };
        parts
            .par_iter_mut()
            .for_each(|part| part.sort_by(|a, arena, b| compare(a, arena, b, arena)));
        let total: usize = parts.iter().map(PendingKeys::len).sum();
        let spread = (total as u64 * 5 / 4).max(1);
        let mut builder = Builder::new(spread);
        let mut heads = vec![0usize; parts.len()];
        let mut last: Option<(usize, usize)> = None;
        loop {
            // The smallest head among the parts (there are only a few).
            let mut next: Option<usize> = None;
            for (p, part) in parts.iter().enumerate() {
                if heads[p] < part.entries.len()
                    && next.is_none_or(|n| {
                        compare(
                            &part.entries[heads[p]],
                            &part.arena,
                            &parts[n].entries[heads[n]],
                            &parts[n].arena,
                        ) == Ordering::Less
                    })
                {
                    next = Some(p);
                }
            }
            let Some(p) = next else { break };
            let (entry, arena) = (&parts[p].entries[heads[p]], &parts[p].arena[..]);
            heads[p] += 1;
            if let Some((lp, li)) = last {
                let kept = &parts[lp].entries[li];
                if kept.hash == entry.hash
                    && kept.key.bytes(&parts[lp].arena) == entry.key.bytes(arena)
                {
                    duplicate(&kept.value, &entry.value);
                    continue;
                }
            }
            last = Some((p, heads[p] - 1));
            builder.place(entry.hash, entry.key, arena, keep(&entry.value));
        }
        builder.finish()
    }
}

/// Lays sorted entries into slots.
struct Builder<W> {
    slots: Vec<Slot<W>>,
    /// The first slot not yet taken by an entry.
    next_free: usize,
    arena: Vec<u8>,
    spread: u64,
    len: usize,
}

impl<W: Copy + Default + Send + Sync> Builder<W> {
    /// Empty slots made up front on every thread: first writes to fresh
    /// memory cost a page fault each, and this way they happen in parallel.
    fn new(spread: u64) -> Builder<W> {
        let slots = random_access_vec(spread as usize + 64, Slot::default);
        Builder {
            slots,
            next_free: 0,
            arena: Vec::new(),
            spread,
            len: 0,
        }
    }

    /// Places the next entry in hash order; an inline key is copied as it
    /// is, a long one moves into the index's arena.
    fn place(&mut self, hash: u64, key: SlotKey, key_arena: &[u8], value: W) {
        let position = ideal(hash, self.spread).max(self.next_free);
        let key = if key.is_inline() {
            key
        } else {
            let bytes = key.bytes(key_arena);
            let offset = self.arena.len();
            self.arena.extend_from_slice(bytes);
            SlotKey::long(offset, bytes.len())
        };
        let slot = Slot { hash, key, value };
        match self.slots.get_mut(position) {
            Some(free) => *free = slot,
            None => {
                self.slots.resize(position, Slot::default());
                self.slots.push(slot);
            }
        }
        self.next_free = position + 1;
        self.len += 1;
    }

    fn finish(mut self) -> KeyIndex<W> {
        self.slots
            .truncate(self.next_free.max(self.spread as usize));
        KeyIndex {
            slots: self.slots,
            arena: self.arena,
            spread: self.spread,
            len: self.len,
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
