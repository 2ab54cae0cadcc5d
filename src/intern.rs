//! Interning: turning repeated text (units, providers, professions, patient
//! ids) into small integer ids so hot loops store and compare integers.
//!
//! * [`SharedNames`] holds a small vocabulary shared by all reader threads;
//!   each thread keeps a [`NameCache`] in front of it, so the lock is taken
//!   once per distinct raw value per thread, not per row.
//! * [`KeyTable`] holds millions of keys (patient ids) compactly: key bytes
//!   in per-shard arenas, the hash table holding only 4-byte indexes. It is
//!   sharded so threads insert concurrently; [`KeyTable::freeze`] turns it
//!   into a lock-free [`FrozenKeys`] with dense ids.
//!
//! Ids depend on which thread saw a key first, so they are never an output
//! order: outputs sort by the names, and [`Names::ranks`] gives name order.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::Mutex;

use hashbrown::{HashMap, HashTable};

/// A fixed-seed hasher: the same on every run and thread.
fn hash_bytes(bytes: &[u8]) -> u64 {
    foldhash::fast::FixedState::with_seed(0x5eed_cafe).hash_one(bytes)
}

/// An interned vocabulary: id ↔ name.
#[derive(Debug, Default, Clone)]
pub struct Names {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Names {
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Per id, its position when the names are sorted: a deterministic order.
    pub fn ranks(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize]));
        let mut ranks = vec![0u32; order.len()];
        for (rank, id) in order.into_iter().enumerate() {
            ranks[id as usize] = rank as u32;
        }
        ranks
    }
}

/// A vocabulary several threads add to.
#[derive(Debug, Default)]
pub struct SharedNames {
    inner: Mutex<Names>,
}

impl SharedNames {
    pub fn new() -> SharedNames {
        SharedNames::default()
    }

    pub fn id(&self, name: &str) -> u32 {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .id(name)
    }

    pub fn into_names(self) -> Names {
        self.inner
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One thread's memo from raw field bytes to something derived from them
/// once per distinct value (an id, a yes/no), so rows cost a small lookup.
#[derive(Debug)]
pub struct Memo<T> {
    seen: HashMap<Box<[u8]>, T>,
}

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo {
            seen: HashMap::new(),
        }
    }
}

impl<T: Copy> Memo<T> {
    pub fn get_or_insert_with(&mut self, raw: &[u8], derive: impl FnOnce() -> T) -> T {
        if let Some(&value) = self.seen.get(raw) {
            return value;
        }
        let value = derive();
        self.seen.insert(raw.into(), value);
        value
    }
}

/// One thread's memo of raw field bytes → id in a [`SharedNames`], with the
/// normalisation (e.g. "Distriktssköterska" → "nurse") applied once per
/// distinct raw value.
pub struct NameCache<'a> {
    shared: &'a SharedNames,
    normalize: fn(&str) -> Cow<'static, str>,
    seen: Memo<u32>,
}

impl<'a> NameCache<'a> {
    pub fn new(shared: &'a SharedNames, normalize: fn(&str) -> Cow<'static, str>) -> NameCache<'a> {
        NameCache {
            shared,
            normalize,
            seen: Memo::default(),
        }
    }

    /// Keeps values as they are (after trimming).
    pub fn verbatim(shared: &'a SharedNames) -> NameCache<'a> {
        NameCache::new(shared, |s| Cow::Owned(s.to_string()))
    }

    /// The id of `text` (already checked to be UTF-8 and trimmed).
    pub fn id(&mut self, text: &str) -> u32 {
        let (shared, normalize) = (self.shared, self.normalize);
        self.seen
            .get_or_insert_with(text.as_bytes(), || shared.id(&normalize(text)))
    }
}

const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;

/// A key's id while the table is still growing: shard and index in shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(u32);

impl KeyId {
    fn new(shard: usize, local: u32) -> KeyId {
        KeyId((local << SHARD_BITS) | shard as u32)
    }

    /// The id as a plain integer, for compact storage.
    pub fn raw(self) -> u32 {
        self.0
    }

    pub fn from_raw(raw: u32) -> KeyId {
        KeyId(raw)
    }

    fn shard(self) -> usize {
        (self.0 & (SHARDS as u32 - 1)) as usize
    }

    fn local(self) -> u32 {
        self.0 >> SHARD_BITS
    }
}

struct Shard<V> {
    table: HashTable<u32>,
    arena: Vec<u8>,
    /// End of each key in `arena`; key i spans ends[i-1]..ends[i].
    ends: Vec<u64>,
    values: Vec<V>,
}

impl<V> Shard<V> {
    fn new() -> Shard<V> {
        Shard {
            table: HashTable::new(),
            arena: Vec::new(),
            ends: Vec::new(),
            values: Vec::new(),
        }
    }

    fn key(&self, local: u32) -> &[u8] {
        let i = local as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.arena[start..self.ends[i] as usize]
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        self.table
            .find(hash, |&local| self.key(local) == key)
            .copied()
    }

    fn insert(&mut self, hash: u64, key: &[u8], value: V) -> u32 {
        let local = self.values.len() as u32;
        self.arena.extend_from_slice(key);
        self.ends.push(self.arena.len() as u64);
        self.values.push(value);
        let (arena, ends) = (&self.arena, &self.ends);
        let rehash = |&l: &u32| {
            let i = l as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] as usize };
            hash_bytes(&arena[start..ends[i] as usize])
        };
        self.table.insert_unique(hash, local, rehash);
        local
    }
}

fn shard_of(hash: u64) -> usize {
    // hashbrown uses the low bits for buckets and the top 7 for tags.
    ((hash >> 40) as usize) & (SHARDS - 1)
}

/// A concurrent map from byte keys to values of type `V`.
pub struct KeyTable<V> {
    shards: Box<[Mutex<Shard<V>>]>,
}

impl<V: Send> Default for KeyTable<V> {
    fn default() -> Self {
        KeyTable::new()
    }
}

impl<V: Send> KeyTable<V> {
    pub fn new() -> KeyTable<V> {
        KeyTable {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
        }
    }

    /// Finds or inserts `key`, then lets `visit` see its value (`true` when
    /// just inserted with `insert`'s value) under the shard's lock.
    pub fn upsert<R>(
        &self,
        key: &[u8],
        insert: impl FnOnce() -> V,
        visit: impl FnOnce(&mut V, bool) -> R,
    ) -> (KeyId, R) {
        let hash = hash_bytes(key);
        let shard_index = shard_of(hash);
        let mut shard = self.shards[shard_index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (local, fresh) = match shard.find(hash, key) {
            Some(local) => (local, false),
            None => (shard.insert(hash, key, insert()), true),
        };
        let result = visit(&mut shard.values[local as usize], fresh);
        (KeyId::new(shard_index, local), result)
    }

    /// Stops growth: ids become dense (0..len) and lookups lock-free.
    pub fn freeze(self) -> FrozenKeys<V> {
        let shards: Vec<Shard<V>> = self
            .shards
            .into_vec()
            .into_iter()
            .map(|m| {
                m.into_inner()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
            })
            .collect();
        let mut offsets = Vec::with_capacity(SHARDS);
        let mut total = 0u32;
        for shard in &shards {
            offsets.push(total);
            total += shard.values.len() as u32;
        }
        FrozenKeys {
            shards,
            offsets,
            len: total as usize,
        }
    }
}

/// A finished [`KeyTable`]: dense ids, lock-free lookups.
pub struct FrozenKeys<V> {
    shards: Vec<Shard<V>>,
    offsets: Vec<u32>,
    len: usize,
}

impl<V> FrozenKeys<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The dense id a [`KeyId`] handed out before freezing became.
    pub fn dense(&self, id: KeyId) -> u32 {
        self.offsets[id.shard()] + id.local()
    }

    /// Dense id and value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<(u32, &V)> {
        let hash = hash_bytes(key);
        let shard_index = shard_of(hash);
        let shard = &self.shards[shard_index];
        let local = shard.find(hash, key)?;
        Some((
            self.offsets[shard_index] + local,
            &shard.values[local as usize],
        ))
    }

    fn locate(&self, dense: u32) -> (usize, u32) {
        let shard = self.offsets.partition_point(|&offset| offset <= dense) - 1;
        (shard, dense - self.offsets[shard])
    }

    pub fn key(&self, dense: u32) -> &[u8] {
        let (shard, local) = self.locate(dense);
        self.shards[shard].key(local)
    }

    pub fn value(&self, dense: u32) -> &V {
        let (shard, local) = self.locate(dense);
        &self.shards[shard].values[local as usize]
    }

    /// Every (dense id, key, value), in dense-id order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &[u8], &V)> {
        self.shards
            .iter()
            .zip(&self.offsets)
            .flat_map(|(shard, &offset)| {
                (0..shard.values.len() as u32).map(move |local| {
                    (
                        offset + local,
                        shard.key(local),
                        &shard.values[local as usize],
                    )
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_rank_by_text() {
        let mut names = Names::default();
        let b = names.id("b");
        let a = names.id("a");
        assert_eq!(names.id("b"), b);
        assert_eq!(names.ranks()[a as usize], 0);
        assert_eq!(names.ranks()[b as usize], 1);
    }

    #[test]
    fn name_cache_normalises_once_per_raw_value() {
        let shared = SharedNames::new();
        let mut cache = NameCache::new(&shared, crate::input::values::profession);
        let doctor = cache.id("Läkare");
        assert_eq!(cache.id("distriktsläkare"), doctor);
        assert_ne!(cache.id("Sjuksköterska"), doctor);
        assert_eq!(shared.into_names().name(doctor), "doctor");
    }

    #[test]
    fn key_table_dedupes_and_freezes_densely() {
        let table: KeyTable<u32> = KeyTable::new();
        let keys: Vec<String> = (0..5000).map(|i| format!("19{i:010}")).collect();
        let mut ids = Vec::new();
        for key in &keys {
            let (id, fresh) = table.upsert(key.as_bytes(), || 1, |_, fresh| fresh);
            assert!(fresh);
            ids.push(id);
        }
        let (again, fresh) = table.upsert(
            keys[42].as_bytes(),
            || 1,
            |v, fresh| {
                *v += 1;
                fresh
            },
        );
        assert!(!fresh);
        assert_eq!(again, ids[42]);
        let frozen = table.freeze();
        assert_eq!(frozen.len(), 5000);
        let mut seen = vec![false; 5000];
        for (key, id) in keys.iter().zip(&ids) {
            let dense = frozen.dense(*id);
            assert_eq!(frozen.get(key.as_bytes()).map(|(d, _)| d), Some(dense));
            assert_eq!(frozen.key(dense), key.as_bytes());
            seen[dense as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(*frozen.get(keys[42].as_bytes()).unwrap().1, 2);
        assert!(frozen.get(b"nope").is_none());
        assert_eq!(frozen.iter().count(), 5000);
    }
}
