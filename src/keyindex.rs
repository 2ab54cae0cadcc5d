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

use crate::intern::{SlotKey, hash_bytes, prefetch_once};

/// Keys gathered by one reader thread, to be merged and built.
pub struct PendingKeys<V> {
    entries: Vec<Pending<V>>,
    arena: Vec<u8>,
}

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

#[derive(Clone, Copy, Default)]
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
    /// pending value into the stored one. Each part is sorted on its own
    /// thread and the parts are merged straight into the slots, so no
    /// combined copy is ever made.
    pub fn build<V: Send + Sync>(
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
        if let [single] = &mut parts[..] {
            let arena = &single.arena;
            single
                .entries
                .par_sort_unstable_by(|a, b| compare(a, arena, b, arena));
        } else {
            parts.par_iter_mut().for_each(|part| {
                let arena = &part.arena;
                part.entries
                    .sort_unstable_by(|a, b| compare(a, arena, b, arena));
            });
        }
        let total: usize = parts.iter().map(PendingKeys::len).sum();
        let spread = (total as u64 * 5 / 4).max(1);
        let mut builder = Builder {
            slots: Vec::with_capacity(spread as usize + 64),
            arena: Vec::new(),
            spread,
            len: 0,
        };
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
            builder.place(entry.hash, entry.key.bytes(arena), keep(&entry.value));
        }
        builder.finish()
    }
}

/// Lays sorted entries into slots.
struct Builder<W> {
    slots: Vec<Slot<W>>,
    arena: Vec<u8>,
    spread: u64,
    len: usize,
}

impl<W: Copy + Default> Builder<W> {
    fn place(&mut self, hash: u64, key: &[u8], value: W) {
        let position = ideal(hash, self.spread).max(self.slots.len());
        self.slots.resize(position, Slot::default());
        let key = SlotKey::inline(key).unwrap_or_else(|| {
            let offset = self.arena.len();
            self.arena.extend_from_slice(key);
            SlotKey::long(offset, key.len())
        });
        self.slots.push(Slot { hash, key, value });
        self.len += 1;
    }

    fn finish(mut self) -> KeyIndex<W> {
        if (self.slots.len() as u64) < self.spread {
            self.slots.resize(self.spread as usize, Slot::default());
        }
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
        if let Some(slot) = self.slots.get(ideal(hash, self.spread)) {
            prefetch_once(slot);
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

    #[test]
    fn an_empty_index_finds_nothing() {
        let (index, _) = build(&[]);
        assert!(index.is_empty());
        assert!(index.get(b"x").is_none());
    }
}
