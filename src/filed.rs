//! Items filed by partition as they arrive, so that later work can take one
//! partition at a time with everything it needs close together.
//!
//! Each partition is a list of blocks of a fixed size: blocks never move or
//! grow, so filing leaves no memory behind by reallocation and copies
//! nothing, and at most one block per partition is not full. The open
//! blocks are kept side by side, apart from the full ones, so a push
//! reaches its block in one step.

/// Items in `partitions` lists of blocks of `block` items.
#[derive(Debug)]
pub struct Filed<T> {
    /// Per partition, its full blocks.
    full: Vec<Vec<Vec<T>>>,
    /// Per partition, the block being filled.
    open: Vec<Vec<T>>,
    block: usize,
    len: usize,
}

impl<T> Filed<T> {
    /// Empty, with `partitions` partitions. Blocks are allocated at the
    /// first item filed in them.
    pub fn new(partitions: usize, block: usize) -> Filed<T> {
        Filed {
            full: (0..partitions).map(|_| Vec::new()).collect(),
            open: (0..partitions).map(|_| Vec::new()).collect(),
            block: block.max(1),
            len: 0,
        }
    }

    /// Files `item` in `partition`, which must be below the number given to
    /// [`Filed::new`].
    #[inline]
    pub fn push(&mut self, partition: usize, item: T) {
        let block = &mut self.open[partition];
        if block.len() == block.capacity() {
            self.retire(partition);
        }
        self.open[partition].push(item);
        self.len += 1;
    }

    /// Files `partition`'s open block (if it has items) with the full ones
    /// and opens an empty one.
    #[inline(never)]
    fn retire(&mut self, partition: usize) {
        let fresh = Vec::with_capacity(self.block);
        let block = std::mem::replace(&mut self.open[partition], fresh);
        if !block.is_empty() {
            self.full[partition].push(block);
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn partition_count(&self) -> usize {
        self.open.len()
    }

    /// Each partition's blocks, in filing order, for changing items in place.
    pub fn partitions_mut(&mut self) -> impl Iterator<Item = impl Iterator<Item = &mut Vec<T>>> {
        self.full
            .iter_mut()
            .zip(self.open.iter_mut())
            .map(|(full, open)| full.iter_mut().chain(std::iter::once(open)))
    }

    /// The same partitions and blocks, each item changed by `change`; the
    /// partitions in parallel, each freed as it is done.
    pub fn map<U: Send>(self, change: impl Fn(T) -> U + Sync) -> Filed<U>
    where
        T: Send,
    {
        use rayon::prelude::*;
        let (block, len) = (self.block, self.len);
        let partitions: Vec<Vec<Vec<T>>> = self.into_partitions().collect();
        let full: Vec<Vec<Vec<U>>> = partitions
            .into_par_iter()
            .map(|blocks| {
                let blocks = blocks.into_iter().filter(|b| !b.is_empty());
                blocks
                    .map(|b| b.into_iter().map(&change).collect())
                    .collect()
            })
            .collect();
        let open = full.iter().map(|_| Vec::new()).collect();
        Filed {
            full,
            open,
            block,
            len,
        }
    }

    /// Each partition's blocks, in filing order, taken out.
    pub fn into_partitions(self) -> impl Iterator<Item = Vec<Vec<T>>> {
        self.full
            .into_iter()
            .zip(self.open)
            .map(|(mut full, open)| {
                full.push(open);
                full
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_back_by_partition_in_filing_order() {
        let mut filed = Filed::new(3, 2);
        for i in 0..11 {
            filed.push(i % 3, i);
        }
        assert_eq!(filed.len(), 11);
        let parts: Vec<Vec<usize>> = filed
            .into_partitions()
            .map(|blocks| blocks.into_iter().flatten().collect())
            .collect();
        assert_eq!(
            parts,
            vec![vec![0, 3, 6, 9], vec![1, 4, 7, 10], vec![2, 5, 8]]
        );
    }

    #[test]
    fn mapping_keeps_partitions_and_order() {
        let mut filed = Filed::new(3, 2);
        for i in 0..11 {
            filed.push(i % 3, i);
        }
        let mapped = filed.map(|i| i * 10);
        assert_eq!(mapped.len(), 11);
        let parts: Vec<Vec<usize>> = mapped
            .into_partitions()
            .map(|blocks| blocks.into_iter().flatten().collect())
            .collect();
        assert_eq!(
            parts,
            vec![vec![0, 30, 60, 90], vec![10, 40, 70, 100], vec![20, 50, 80]]
        );
    }

    #[test]
    fn blocks_hold_at_most_the_block_size_and_only_the_last_is_partial() {
        let mut filed = Filed::new(1, 4);
        for i in 0..10 {
            filed.push(0, i);
        }
        let blocks: Vec<usize> = filed
            .partitions_mut()
            .next()
            .unwrap()
            .map(|b| b.len())
            .collect();
        assert_eq!(blocks, vec![4, 4, 2]);
    }
}
