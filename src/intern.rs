//! Interning: turning repeated text (units, providers, professions, patient
//! ids) into small integer ids so hot loops store and compare integers.
//!
//! * [`SharedNames`] holds a small vocabulary shared by all reader threads;
//!   each thread keeps a [`NameCache`] in front of it, so the lock is taken
//!   once per distinct raw value per thread, not per row.
//! * [`KeyTable`] holds keys that turn up while reading (patient-unit pairs
//!   without a listing, visit ids): keys of up to 15 bytes sit inline in
//!   the hash slots, longer ones in per-shard arenas. It is sharded so
//!   threads insert concurrently; [`KeyTable::freeze`] turns it into a
//!   lock-free [`FrozenKeys`] with dense ids. (A listing, known in full
//!   before it is used, goes into a [`crate::keyindex::KeyIndex`] instead.)
//!
//! Ids depend on which thread saw a key first, so they are never an output
//! order: outputs sort by the names, and [`Names::ranks`] gives name order.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::Mutex;

use hashbrown::{HashMap, HashTable};
use rayon::prelude::*;

/// Asks the CPU to start loading `value`'s cache line, without waiting for
/// it: batched lookups prefetch every slot first so the misses overlap.
#[inline]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    prefetch_hint::<{ std::arch::x86_64::_MM_HINT_T0 }, T>(value);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Like [`prefetch`] for data read once (a slot of a big index): the line
/// is kept out of the larger caches, so it does not push out the small hot
/// tables every row uses.
#[inline]
pub(crate) fn prefetch_once<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    prefetch_hint::<{ std::arch::x86_64::_MM_HINT_NTA }, T>(value);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn prefetch_hint<const HINT: i32, T>(value: &T) {
    let first = (value as *const T).cast::<i8>();
    // A value need not be aligned to a cache line: its last byte may be on
    // the next one.
    let last = first.wrapping_add(size_of::<T>().max(1) - 1);
    // SAFETY: a prefetch is only a hint; it never faults or changes memory,
    // and both pointers are inside a live reference anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<HINT>(first);
        if (first as usize) / 64 != (last as usize) / 64 {
            std::arch::x86_64::_mm_prefetch::<HINT>(last);
        }
    }
}

/// A vector of `len` values made by `make`, filled on every thread. It is
/// for big tables read at random (an index, per-patient marks): on Linux
/// the kernel is asked to back it with huge pages before it is touched, so
/// random reads do not each miss the TLB and first touches fault 2 MiB at
/// a time.
pub(crate) fn random_access_vec<T: Send>(len: usize, make: impl Fn() -> T + Sync) -> Vec<T> {
    let mut values: Vec<T> = Vec::with_capacity(len);
    advise_huge_pages(values.as_mut_ptr().cast(), len * size_of::<T>());
    values
        .spare_capacity_mut()
        .par_chunks_mut(1 << 16)
        .for_each(|chunk| {
            for value in chunk {
                value.write(make());
            }
        });
    // SAFETY: every one of the `len` values was written just above.
    unsafe { values.set_len(len) };
    values
}

/// Types whose all-zero bytes are a valid value.
///
/// # Safety
/// Implement it only for such types (integers, atomics, and structs of
/// those).
pub(crate) unsafe trait Zeroable {}

/// Like [`random_access_vec`] for `len` all-zero values, without a pass
/// that writes them: a big table's fresh pages are zeroed by the kernel as
/// they are first touched, by whichever thread touches them.
pub(crate) fn zeroed_random_access_vec<T: Zeroable>(len: usize) -> Vec<T> {
    let layout = std::alloc::Layout::array::<T>(len).expect("a table that fits in memory");
    if layout.size() == 0 {
        return Vec::new();
    }
    // SAFETY: the layout's size is not zero.
    let start = unsafe { std::alloc::alloc_zeroed(layout) };
    if start.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    advise_huge_pages(start, layout.size());
    // SAFETY: `start` comes from the global allocator with the layout of
    // `len` values of `T`, and all its bytes are zero, a valid `T` by
    // `T: Zeroable`.
    unsafe { Vec::from_raw_parts(start.cast(), len, len) }
}

/// Hands memory freed to the allocator back to the kernel. Many small
/// blocks freed together (a listing's staging blocks once its index is
/// built) otherwise stay part of the process, and later allocations do not
/// all fit into them.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of glibc's own heaps to
    // the kernel; it touches no memory the program uses.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(start: *mut u8, bytes: usize) {
    const HUGE: usize = 2 << 20;
    let first = (start as usize).next_multiple_of(HUGE);
    let end = (start as usize + bytes) / HUGE * HUGE;
    if end > first {
        // SAFETY: the range lies inside the vector's own allocation, and
        // MADV_HUGEPAGE only changes how the kernel backs it, not its
        // contents; a failure (no THP support) leaves ordinary pages.
        unsafe {
            libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_start: *mut u8, _bytes: usize) {}

/// A fixed-seed hasher: the same on every run and thread.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
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

    /// A copy of the vocabulary so far.
    pub fn to_names(&self) -> Names {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn into_names(self) -> Names {
        self.inner
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One thread's memo from raw field bytes to something derived from them
/// once per distinct value (an id, a yes/no), so rows cost a small lookup.
///
/// Values of up to 31 bytes (nearly all: units, staff ids, professions) are
/// keyed inline as four words in an open-addressing table kept at most
/// half full, so a lookup is one multiply, four word compares and rarely a
/// step to the next slot, with no second structure to miss in.
#[derive(Debug)]
pub struct Memo<T> {
    slots: Vec<Option<([u64; 4], T)>>,
    len: usize,
    long: HashMap<Box<[u8]>, T>,
}

const MEMO_MIN_SLOTS: usize = 64;

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo {
            slots: Vec::new(),
            len: 0,
            long: HashMap::new(),
        }
    }
}

/// Up to 16 bytes, zero-padded, as two little-endian words, built in
/// registers from overlapping loads. Copying a short value into a buffer
/// and reading the buffer back as words stalls on store forwarding, which
/// was the largest cost of a memo lookup.
#[inline(always)]
pub(crate) fn padded_words(bytes: &[u8]) -> [u64; 2] {
    let n = bytes.len();
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| {
        u64::from(u32::from_le_bytes(
            bytes[at..at + 4].try_into().expect("4 bytes"),
        ))
    };
    match n {
        0 => [0, 0],
        1..=3 => {
            let byte = |i: usize| u64::from(bytes[i]) << (8 * i);
            [byte(0) | byte(n / 2) | byte(n - 1), 0]
        }
        4..=7 => [half(0) | ((half(n - 4) >> (8 * (8 - n))) << 32), 0],
        // One arm for 8 bytes too (its second word is 0): one branch less.
        8..=16 => [
            word(0),
            word(n - 8).checked_shr(8 * (16 - n) as u32).unwrap_or(0),
        ],
        _ => panic!("padded_words takes at most 16 bytes"),
    }
}

/// The inline key of a value shorter than 32 bytes: its bytes zero-padded,
/// with the length in the top byte of the last word.
#[inline(always)]
fn short_key(raw: &[u8]) -> Option<[u64; 4]> {
    let n = raw.len();
    if n >= 32 {
        return None;
    }
    let (head, tail) = raw.split_at(n.min(16));
    let [a, b] = padded_words(head);
    let [c, d] = padded_words(tail);
    Some([a, b, c, d | ((n as u64) << 56)])
}

/// Word-by-word equality of two keys. An array compare is done with
/// 16-byte vector loads, and loading a key just built in registers that
/// way stalls on store forwarding (a quarter of a coverage memo lookup).
#[inline(always)]
fn same_key(a: &[u64; 4], b: &[u64; 4]) -> bool {
    ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0
}

/// Whether two byte strings are equal; short ones (unit names, codes) are
/// compared as two words each instead of through a `memcmp` call.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    match (SlotKey::inline(a), SlotKey::inline(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// A cheap mix of the key's four words, to index the cache.
fn slot_of(key: &[u64; 4], slots: usize) -> usize {
    let mixed = key[0] ^ key[1].rotate_left(17) ^ key[2].rotate_left(31) ^ key[3].rotate_left(47);
    (mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & (slots - 1)
}

impl<T: Copy> Memo<T> {
    pub fn get_or_insert_with(&mut self, raw: &[u8], derive: impl FnOnce() -> T) -> T {
        match self.get_or_try_insert_with(raw, || Ok::<T, ()>(derive())) {
            Ok(value) => value,
            Err(()) => unreachable!("derive cannot fail"),
        }
    }

    /// Like [`Memo::get_or_insert_with`]; a failed derivation is not remembered.
    #[inline]
    pub fn get_or_try_insert_with<E>(
        &mut self,
        raw: &[u8],
        derive: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let Some(key) = short_key(raw) else {
            if let Some(&value) = self.long.get(raw) {
                return Ok(value);
            }
            let value = derive()?;
            self.long.insert(raw.into(), value);
            return Ok(value);
        };
        let at = match self.find(&key) {
            Ok(value) => return Ok(value),
            Err(empty) => empty,
        };
        let value = derive()?;
        self.insert(at, key, value);
        Ok(value)
    }

    /// The value of `key`, or the empty slot where it would go.
    #[inline]
    fn find(&self, key: &[u64; 4]) -> Result<T, Option<usize>> {
        if self.slots.is_empty() {
            return Err(None);
        }
        let mask = self.slots.len() - 1;
        let mut at = slot_of(key, self.slots.len());
        loop {
            match &self.slots[at] {
                Some((stored, value)) if same_key(stored, key) => return Ok(*value),
                Some(_) => at = (at + 1) & mask,
                None => return Err(Some(at)),
            }
        }
    }

    #[cold]
    fn insert(&mut self, at: Option<usize>, key: [u64; 4], value: T) {
        self.len += 1;
        match at {
            Some(at) if self.len * 2 <= self.slots.len() => self.slots[at] = Some((key, value)),
            _ => {
                let size = (self.len * 2).next_power_of_two().max(MEMO_MIN_SLOTS);
                let old = std::mem::replace(&mut self.slots, vec![None; size]);
                for (key, value) in old.into_iter().flatten().chain([(key, value)]) {
                    let Err(Some(at)) = self.find(&key) else {
                        unreachable!("keys are distinct and the table has room")
                    };
                    self.slots[at] = Some((key, value));
                }
            }
        }
    }

    /// Loads the slot of `raw`, so a lookup soon after finds it in the CPU
    /// cache; used to overlap the misses of a batch of lookups.
    pub fn touch(&self, raw: &[u8]) {
        if let Some(key) = short_key(raw)
            && !self.slots.is_empty()
        {
            prefetch(&self.slots[slot_of(&key, self.slots.len())]);
        }
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

    /// See [`Memo::touch`].
    pub fn touch(&self, raw: &[u8]) {
        self.seen.touch(raw);
    }

    /// The id of raw field bytes already known to be UTF-8 (invalid bytes
    /// would be replaced).
    pub fn id_valid(&mut self, raw: &[u8]) -> u32 {
        let (shared, normalize) = (self.shared, self.normalize);
        self.seen
            .get_or_insert_with(raw, || shared.id(&normalize(&String::from_utf8_lossy(raw))))
    }

    /// The id of raw field bytes; they are checked to be UTF-8 only the
    /// first time they are seen.
    pub fn id_bytes(&mut self, raw: &[u8]) -> Result<u32, std::str::Utf8Error> {
        let (shared, normalize) = (self.shared, self.normalize);
        self.seen
            .get_or_try_insert_with(raw, || Ok(shared.id(&normalize(std::str::from_utf8(raw)?))))
    }
}

const SHARD_BITS: u32 = 6;
/// A [`KeyTable`]'s shards: the low bits of a [`KeyId`]'s raw value name
/// its shard, and a frozen shard's keys have a range of dense ids
/// ([`FrozenKeys::shard_ids`]).
pub const SHARDS: usize = 1 << SHARD_BITS;
/// Keys up to this many bytes are stored in the hash slot itself.
const INLINE: usize = 15;
const LONG: u8 = 0xFF;

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

/// A key as stored in a slot: up to 15 bytes inline with the length in the
/// last byte (so a lookup is one 16-byte compare, no pointer chase), or, for
/// longer keys, offset and length into the shard's arena.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SlotKey([u8; 16]);

impl SlotKey {
    /// The inline form of `key`, if it is short enough.
    #[inline]
    pub(crate) fn inline(key: &[u8]) -> Option<SlotKey> {
        (key.len() <= INLINE).then(|| SlotKey::from_words(padded_words(key), key.len()))
    }

    /// The inline form of the key of `len` bytes that `words` hold as
    /// [`padded_words`] does.
    #[inline]
    pub(crate) fn from_words([low, high]: [u64; 2], len: usize) -> SlotKey {
        debug_assert!(len <= INLINE);
        let high = high | ((len as u64) << 56);
        SlotKey((u128::from(low) | (u128::from(high) << 64)).to_le_bytes())
    }

    pub(crate) fn long(offset: usize, len: usize) -> SlotKey {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&(offset as u64).to_le_bytes());
        bytes[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        bytes[15] = LONG;
        SlotKey(bytes)
    }

    /// The same key with a long key's arena offset moved by `base` (for
    /// arenas appended to one another).
    pub(crate) fn rebased(self, base: usize) -> SlotKey {
        match self.long_place() {
            Some((offset, len)) => SlotKey::long(offset + base, len),
            None => self,
        }
    }

    /// Offset and length in the arena of a long key.
    fn long_place(&self) -> Option<(usize, usize)> {
        (self.0[15] == LONG).then(|| {
            let offset = u64::from_le_bytes(self.0[..8].try_into().expect("8 bytes"));
            let len = u32::from_le_bytes(self.0[8..12].try_into().expect("4 bytes"));
            (offset as usize, len as usize)
        })
    }

    pub(crate) fn bytes<'a>(&'a self, arena: &'a [u8]) -> &'a [u8] {
        match self.long_place() {
            Some((offset, len)) => &arena[offset..offset + len],
            None => &self.0[..usize::from(self.0[15])],
        }
    }
}

struct Slot<V> {
    key: SlotKey,
    local: u32,
    value: V,
}

struct Shard<V> {
    table: HashTable<Slot<V>>,
    /// Bytes of keys longer than [`INLINE`].
    arena: Vec<u8>,
    len: u32,
}

impl<V> Shard<V> {
    fn new() -> Shard<V> {
        Shard {
            table: HashTable::new(),
            arena: Vec::new(),
            len: 0,
        }
    }

    fn find_index(&self, hash: u64, key: &[u8]) -> Option<usize> {
        match SlotKey::inline(key) {
            Some(probe) => self.table.find_bucket_index(hash, |slot| slot.key == probe),
            None => self.table.find_bucket_index(hash, |slot| {
                slot.key.0[15] == LONG && slot.key.bytes(&self.arena) == key
            }),
        }
    }

    fn insert(&mut self, hash: u64, key: &[u8], value: V) -> usize {
        let stored = SlotKey::inline(key).unwrap_or_else(|| {
            let offset = self.arena.len();
            self.arena.extend_from_slice(key);
            SlotKey::long(offset, key.len())
        });
        let local = self.len;
        self.len += 1;
        let arena = &self.arena;
        let slot = Slot {
            key: stored,
            local,
            value,
        };
        let bucket = self
            .table
            .insert_unique(hash, slot, |s| hash_bytes(s.key.bytes(arena)));
        bucket.bucket_index()
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
        let mut guard = self.shards[shard_index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(probe) = SlotKey::inline(key) else {
            return Self::upsert_long(&mut guard, shard_index, hash, key, insert, visit);
        };
        let Shard { table, arena, len } = &mut *guard;
        let (local, result) =
            match table.entry(hash, |s| s.key == probe, |s| hash_bytes(s.key.bytes(arena))) {
                hashbrown::hash_table::Entry::Occupied(entry) => {
                    let slot = entry.into_mut();
                    (slot.local, visit(&mut slot.value, false))
                }
                hashbrown::hash_table::Entry::Vacant(entry) => {
                    let local = *len;
                    *len += 1;
                    let slot = entry
                        .insert(Slot {
                            key: probe,
                            local,
                            value: insert(),
                        })
                        .into_mut();
                    (local, visit(&mut slot.value, true))
                }
            };
        (KeyId::new(shard_index, local), result)
    }

    fn upsert_long<R>(
        shard: &mut Shard<V>,
        shard_index: usize,
        hash: u64,
        key: &[u8],
        insert: impl FnOnce() -> V,
        visit: impl FnOnce(&mut V, bool) -> R,
    ) -> (KeyId, R) {
        let (bucket, fresh) = match shard.find_index(hash, key) {
            Some(bucket) => (bucket, false),
            None => (shard.insert(hash, key, insert()), true),
        };
        let slot = shard
            .table
            .get_bucket_mut(bucket)
            .expect("bucket just found");
        let result = visit(&mut slot.value, fresh);
        (KeyId::new(shard_index, slot.local), result)
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
        let mut buckets = Vec::with_capacity(SHARDS);
        let mut total = 0u32;
        for shard in &shards {
            offsets.push(total);
            total += shard.len;
            let mut by_local = vec![0u32; shard.len as usize];
            for bucket in shard.table.iter_buckets() {
                let slot = shard.table.get_bucket(bucket).expect("occupied bucket");
                by_local[slot.local as usize] = bucket as u32;
            }
            buckets.push(by_local);
        }
        FrozenKeys {
            shards,
            offsets,
            buckets,
            len: total as usize,
        }
    }
}

/// A finished [`KeyTable`]: dense ids, lock-free lookups.
pub struct FrozenKeys<V> {
    shards: Vec<Shard<V>>,
    offsets: Vec<u32>,
    /// Per shard, the bucket of each local id (buckets no longer move).
    buckets: Vec<Vec<u32>>,
    len: usize,
}

impl<V> FrozenKeys<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The dense ids of `shard`'s keys.
    pub fn shard_ids(&self, shard: usize) -> std::ops::Range<u32> {
        let start = self.offsets[shard];
        start..start + self.shards[shard].len
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
        let slot = shard.table.get_bucket(shard.find_index(hash, key)?)?;
        Some((self.offsets[shard_index] + slot.local, &slot.value))
    }

    fn slot(&self, dense: u32) -> (&Shard<V>, &Slot<V>) {
        let shard_index = self.offsets.partition_point(|&offset| offset <= dense) - 1;
        let shard = &self.shards[shard_index];
        let bucket = self.buckets[shard_index][(dense - self.offsets[shard_index]) as usize];
        (
            shard,
            shard
                .table
                .get_bucket(bucket as usize)
                .expect("bucket of a dense id"),
        )
    }

    pub fn key(&self, dense: u32) -> &[u8] {
        let (shard, slot) = self.slot(dense);
        slot.key.bytes(&shard.arena)
    }

    pub fn value(&self, dense: u32) -> &V {
        &self.slot(dense).1.value
    }

    /// Every (dense id, key, value), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &[u8], &V)> {
        self.shards
            .iter()
            .zip(&self.offsets)
            .flat_map(|(shard, &offset)| {
                shard.table.iter().map(move |slot| {
                    (
                        offset + slot.local,
                        slot.key.bytes(&shard.arena),
                        &slot.value,
                    )
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Pair(u64, u32);
    // SAFETY: two integers.
    unsafe impl Zeroable for Pair {}

    #[test]
    fn zeroed_tables_read_as_zeros_and_can_be_written() {
        assert!(zeroed_random_access_vec::<Pair>(0).is_empty());
        let mut table = zeroed_random_access_vec::<Pair>(300_000);
        assert_eq!(table.len(), 300_000);
        assert!(table.iter().all(|pair| *pair == Pair(0, 0)));
        table[299_999] = Pair(7, 8);
        assert_eq!(table[299_999], Pair(7, 8));
    }

    #[test]
    fn same_bytes_is_slice_equality() {
        let words: [&[u8]; 8] = [
            b"",
            b"VC1",
            b"VC10",
            b"VC1\0",
            b"fifteen bytes!!",
            b"sixteen bytes!!!",
            b"sixteen bytes!!?",
            b"Vardcentralen Backa, Goteborg",
        ];
        for a in words {
            for b in words {
                assert_eq!(same_bytes(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn rebasing_moves_long_keys_only() {
        let arena = b"0123456789abcdefghij a long patient identifier";
        let long = SlotKey::long(3, 5);
        assert_eq!(long.bytes(arena), b"34567");
        assert_eq!(long.rebased(10).bytes(arena), b"defgh");
        let short = SlotKey::inline(b"19121212-1212").unwrap();
        assert_eq!(short.rebased(10).bytes(arena), b"19121212-1212");
    }

    /// The naive form of [`padded_words`]: copy, pad, read back.
    fn copied_words(bytes: &[u8]) -> [u64; 2] {
        let mut buffer = [0u8; 16];
        buffer[..bytes.len()].copy_from_slice(bytes);
        [
            u64::from_le_bytes(buffer[..8].try_into().unwrap()),
            u64::from_le_bytes(buffer[8..].try_into().unwrap()),
        ]
    }

    #[test]
    fn memo_derives_once_per_distinct_value_as_it_grows() {
        let mut memo = Memo::default();
        let mut derived = 0;
        let key = |i: usize| format!("{}-{i}", "x".repeat(i % 40));
        for round in 0..3 {
            for i in 0..5000 {
                let value = memo.get_or_insert_with(key(i).as_bytes(), || {
                    derived += 1;
                    i
                });
                assert_eq!(value, i, "round {round}");
            }
        }
        assert_eq!(derived, 5000);
        let failed: Result<usize, ()> = memo.get_or_try_insert_with(b"new", || Err(()));
        assert!(failed.is_err());
        assert_eq!(memo.get_or_insert_with(b"new", || 7), 7);
    }

    #[test]
    fn random_access_vectors_hold_what_was_made_at_any_length() {
        for len in [0, 1, 65_537, 3 << 20] {
            let values = random_access_vec(len, || 7u64);
            assert_eq!(values.len(), len);
            assert!(values.iter().all(|&v| v == 7));
        }
    }

    #[test]
    fn padded_words_equal_a_padded_copy_at_every_length() {
        let source: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(37) | 0x80).collect();
        for n in 0..=16 {
            for start in 0..=(16 - n) {
                let bytes = &source[start..start + n];
                assert_eq!(padded_words(bytes), copied_words(bytes), "{n} bytes");
            }
        }
        // Keys that differ in one byte or only in length never collide.
        let mut seen = HashMap::new();
        for n in 0..32 {
            for flipped in 0..n {
                let mut key: Vec<u8> = vec![b'0'; n];
                key[flipped] = b'1';
                assert!(seen.insert(short_key(&key).unwrap(), key.clone()).is_none());
                let inline = SlotKey::inline(&key);
                assert_eq!(
                    inline.map(|k| k.bytes(&[]).to_vec()),
                    (n <= INLINE).then_some(key)
                );
            }
        }
        assert!(short_key(&[0; 32]).is_none());
    }

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
    fn memo_remembers_short_and_long_values_through_cache_growth() {
        let mut memo: Memo<usize> = Memo::default();
        let keys: Vec<String> = (0..3000).map(|i| format!("SE2321000016-U{i:04}")).collect();
        for round in 0..2 {
            for (i, key) in keys.iter().enumerate() {
                assert_eq!(
                    memo.get_or_insert_with(key.as_bytes(), || i + round * 10_000),
                    i
                );
            }
        }
        let long = "x".repeat(40);
        assert_eq!(memo.get_or_insert_with(long.as_bytes(), || 7), 7);
        assert_eq!(memo.get_or_insert_with(long.as_bytes(), || 8), 7);
        assert_eq!(
            memo.get_or_try_insert_with(b"bad", || Err::<usize, ()>(())),
            Err(())
        );
        assert_eq!(memo.get_or_insert_with(b"bad", || 3), 3);
        assert_eq!(memo.get_or_insert_with(b"", || 4), 4);
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
        let long_key = "a key longer than fifteen bytes".as_bytes();
        let (long_id, fresh) = table.upsert(long_key, || 7, |_, fresh| fresh);
        assert!(fresh);
        assert!(!table.upsert(long_key, || 7, |_, fresh| fresh).1);
        let frozen = table.freeze();
        assert_eq!(frozen.key(frozen.dense(long_id)), long_key);
        assert_eq!(
            frozen.get(long_key).map(|(d, v)| (d, *v)),
            Some((frozen.dense(long_id), 7))
        );
        assert_eq!(frozen.len(), 5001);
        let mut seen = vec![false; 5001];
        seen[frozen.dense(long_id) as usize] = true;
        for (key, id) in keys.iter().zip(&ids) {
            let dense = frozen.dense(*id);
            assert_eq!(frozen.get(key.as_bytes()).map(|(d, _)| d), Some(dense));
            assert_eq!(frozen.key(dense), key.as_bytes());
            seen[dense as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(*frozen.get(keys[42].as_bytes()).unwrap().1, 2);
        assert!(frozen.get(b"nope").is_none());
        assert_eq!(frozen.iter().count(), 5001);
    }
}
