//! The chunked reader: one thread cuts the input into blocks at record
//! boundaries, worker threads parse them and fold rows into their own sink,
//! and the caller merges the sinks. Blocks are read into buffers, except
//! that big UTF-8 files are mapped into memory and a block is a range of the
//! map (no copy; its pages are let go once it is parsed). Either way memory
//! is bounded by the blocks in flight plus what the sinks keep.
//!
//! Line numbers stay exact: each row is located by (chunk, line in chunk) and
//! chunk offsets are summed in file order once every chunk is done. The
//! first error reported is the one a sequential reader would have hit first.

use std::io::{self, Read};
use std::ops::{Deref, Range};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use anyhow::{Context, Result, anyhow, bail};
use csv::ByteRecord;
use memchr::{memchr_iter, memchr2_iter, memrchr};
use memmap2::{Mmap, UncheckedAdvice};

use super::progress::Progress;
use super::row::{Fields, Locator, Row, RowError};
use super::{Columns, Opened, ReadOptions, Reject, RejectLog, Schema, Source};

/// 1 MiB: against 4 MiB, a block a worker takes is still in cache from
/// the read, and the pipeline fills and drains sooner at each input's
/// start and end (10 M set: pv-coc wall −7 %, pv-coverage −4.5 %,
/// pv-listing-diff −8 %; 256 KiB and 16 MiB were slower, 512 KiB the same).
const DEFAULT_BLOCK_SIZE: usize = 1 << 20;

/// Block size; `PVKIT_BLOCK_SIZE` lowers it so tests can exercise chunk
/// boundaries and the parallel path on small files.
fn block_size() -> usize {
    std::env::var("PVKIT_BLOCK_SIZE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n >= 16)
        .unwrap_or(DEFAULT_BLOCK_SIZE)
}

/// What a computation folds rows into. One sink per worker thread; the
/// caller merges them, so a sink must not depend on which rows it saw.
pub trait RowSink: Send {
    fn row(&mut self, row: &Row<'_>) -> Result<(), RowError>;

    /// Called after each chunk: a sink that batches rows (to overlap memory
    /// lookups) finishes its batch here. Must not fail: rows are validated
    /// in [`RowSink::row`].
    fn flush(&mut self) {}
}

/// The sinks of a read, its counts, and what is needed to turn a row's
/// [`Locator`] back into a file and line.
pub struct ReadResult<S> {
    pub sinks: Vec<S>,
    pub columns: Columns,
    /// Data rows read (blank rows not counted).
    pub rows: u64,
    /// Rows skipped with `--skip-invalid`.
    pub rejected: u64,
    places: Places,
}

impl<S> ReadResult<S> {
    /// An error about one row, worded like every other row error.
    pub fn row_error(&self, locator: Locator, error: &RowError) -> anyhow::Error {
        anyhow!(self.places.message(locator, error, &self.columns))
    }
}

/// Chunk and file bookkeeping for resolving locators.
#[derive(Default)]
struct Places {
    sources: Vec<Source>,
    /// Per chunk: its source and the absolute line its first line is on.
    chunks: Vec<(usize, u64)>,
}

impl Places {
    fn line(&self, locator: Locator) -> (usize, u64) {
        let (source, first_line) = self
            .chunks
            .get(locator.chunk() as usize)
            .copied()
            .unwrap_or((0, 1));
        (source, first_line + u64::from(locator.local_line()) - 1)
    }

    fn prefix(&self, source: usize) -> String {
        match &self.sources[source] {
            Source::Stdin => String::new(),
            file => format!("{file}: "),
        }
    }

    fn describe(&self, locator: Locator) -> String {
        let (source, line) = self.line(locator);
        format!("{}line {line}", self.prefix(source))
    }

    fn message(&self, locator: Locator, error: &RowError, columns: &Columns) -> String {
        let mut text = self.describe(locator);
        if let Some(column) = error.column {
            text.push_str(&format!(", column {:?}", columns.header(column)));
        }
        text.push_str(": ");
        text.push_str(&error.message);
        if let Some(related) = error.related {
            let (_, line) = self.line(related);
            text.push_str(&format!(" (other row: line {line})"));
        }
        text
    }
}

/// Reads `sources` in order (they must share a header) through `schema`,
/// folding every row into sinks made by `make` (one per thread; `make` may
/// refuse the columns). Skipped rows go to `rejects`.
pub fn read<S, F>(
    sources: &[Source],
    schema: &'static Schema,
    options: &ReadOptions,
    rejects: &mut RejectLog,
    mut make: F,
) -> Result<ReadResult<S>>
where
    S: RowSink,
    F: FnMut(&Columns) -> Result<S>,
{
    let first_source = sources.first().context("no input given")?;
    let first = OpenInput::open(first_source, options)?;
    let columns = Columns::resolve(
        schema,
        first.headers.clone(),
        &options.overrides,
        &first_source.to_string(),
    )?;
    let shared = Shared {
        width: columns.headers.len(),
        skip_invalid: options.skip_invalid,
        stop_at: AtomicU32::new(u32::MAX),
    };
    let mut feeder = Feeder {
        sources,
        options,
        columns: &columns,
        places: Places {
            sources: sources.to_vec(),
            chunks: Vec::new(),
        },
        header_lines: Vec::new(),
        progress: Progress::new(options.progress, sources),
        block_size: block_size(),
    };
    let mut workers = Vec::with_capacity(options.threads.max(1));
    for _ in 0..options.threads.max(1) {
        workers.push(Worker::new(make(&columns)?));
    }
    let workers = if let [worker] = &mut workers[..] {
        feeder.run(first, &shared, |chunk| {
            worker.process(&chunk, &shared);
            Ok(chunk.data.release())
        })?;
        workers
    } else {
        run_parallel(&mut feeder, first, &shared, workers)?
    };
    feeder.progress.finish();
    let (places, header_lines) = (feeder.places, feeder.header_lines);
    finish(workers, places, &header_lines, columns, rejects)
}

fn run_parallel<S: RowSink>(
    feeder: &mut Feeder<'_>,
    first: OpenInput,
    shared: &Shared,
    workers: Vec<Worker<S>>,
) -> Result<Vec<Worker<S>>> {
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<Chunk>(workers.len() * 2);
    let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>();
    let chunk_rx = Mutex::new(chunk_rx);
    std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .into_iter()
            .map(|mut worker| {
                let (chunk_rx, spare_tx) = (&chunk_rx, spare_tx.clone());
                scope.spawn(move || {
                    loop {
                        let next = chunk_rx
                            .lock()
                            .map_err(|_| ())
                            .and_then(|rx| rx.recv().map_err(|_| ()));
                        let Ok(chunk) = next else { break };
                        worker.process(&chunk, shared);
                        if let Some(buffer) = chunk.data.release() {
                            let _ = spare_tx.send(buffer);
                        }
                    }
                    worker
                })
            })
            .collect();
        drop(spare_tx);
        let fed = feeder.run(first, shared, |chunk| {
            chunk_tx
                .send(chunk)
                .map_err(|_| anyhow!("internal error: all reader threads stopped"))?;
            Ok(spare_rx.try_recv().ok())
        });
        drop(chunk_tx);
        let workers: Vec<Worker<S>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        fed.map(|()| workers)
    })
}

/// Per-read state the workers share.
struct Shared {
    width: usize,
    skip_invalid: bool,
    /// The lowest chunk that hit an error; later chunks need not be parsed.
    stop_at: AtomicU32,
}

impl Shared {
    fn stopped_before(&self, seq: u32) -> bool {
        self.stop_at.load(Ordering::Relaxed) < seq
    }
}

struct Chunk {
    seq: u32,
    data: ChunkBytes,
    /// Whether the chunk has a `"`; only then is the csv parser needed.
    quoted: bool,
    delimiter: u8,
}

/// A chunk's bytes: a buffer the reader filled, or a range of a mapped file.
enum ChunkBytes {
    Owned(Vec<u8>),
    Mapped(Arc<Mmap>, Range<usize>),
}

impl ChunkBytes {
    /// Lets the bytes go once parsed: a buffer comes back to be filled
    /// again; a map's pages are dropped from the process.
    fn release(self) -> Option<Vec<u8>> {
        match self {
            ChunkBytes::Owned(buffer) => Some(buffer),
            ChunkBytes::Mapped(map, range) => {
                // SAFETY: the map is read-only and file-backed: pages
                // dropped here (also those at either end, which the
                // neighbouring chunks share) are read again from the page
                // cache if they are touched after this.
                let _ = unsafe {
                    map.unchecked_advise_range(UncheckedAdvice::DontNeed, range.start, range.len())
                };
                None
            }
        }
    }
}

impl Deref for ChunkBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            ChunkBytes::Owned(buffer) => buffer,
            ChunkBytes::Mapped(map, range) => &map[range.clone()],
        }
    }
}

/// An input opened and positioned after its header.
struct OpenInput {
    blocks: Blocks,
    headers: Vec<String>,
    header_lines: u64,
    delimiter: u8,
    /// Data bytes already read past the header.
    rest: Vec<u8>,
}

/// What the header row told.
struct Header {
    headers: Vec<String>,
    lines: u64,
    delimiter: u8,
    /// Where the data after it starts.
    end: usize,
}

impl OpenInput {
    fn open(source: &Source, options: &ReadOptions) -> Result<OpenInput> {
        let opened = source.open()?;
        if let Some(map) = map_file(&opened, options) {
            return Self::open_mapped(source, map, options);
        }
        let (raw, size) = opened.into_stream();
        let reader: Box<dyn Read> = if options.encoding == encoding_rs::UTF_8 {
            raw
        } else {
            Box::new(
                encoding_rs_io::DecodeReaderBytesBuilder::new()
                    .encoding(Some(options.encoding))
                    .build(raw),
            )
        };
        let mut blocks = BlockReader {
            inner: reader,
            cr_line_ends: None,
            carry: Vec::new(),
            eof: false,
            size,
            consumed: 0,
            quoted: true,
        };
        let mut first = Vec::new();
        blocks
            .next_block(&mut first, block_size())
            .with_context(|| format!("reading {source}"))?;
        if first.starts_with(UTF8_BOM) {
            first.drain(..3);
        }
        check_not_utf16(source, &first, options)?;
        let header = Header::parse(source, &first, options)?;
        Ok(OpenInput {
            blocks: Blocks::Read(blocks),
            headers: header.headers,
            header_lines: header.lines,
            delimiter: header.delimiter,
            rest: first.split_off(header.end),
        })
    }

    fn open_mapped(source: &Source, map: Mmap, options: &ReadOptions) -> Result<OpenInput> {
        check_not_utf16(source, &map, options)?;
        let start = if map.starts_with(UTF8_BOM) { 3 } else { 0 };
        let header = Header::parse(source, &map[start..], options)?;
        Ok(OpenInput {
            blocks: Blocks::Mapped(MappedBlocks {
                position: start + header.end,
                map: Arc::new(map),
                quoted: true,
            }),
            headers: header.headers,
            header_lines: header.lines,
            delimiter: header.delimiter,
            rest: Vec::new(),
        })
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Maps a big UTF-8 file into memory, so its bytes are parsed where the
/// page cache holds them instead of being copied into buffers first
/// (`None`: read it). Files with lone-CR line ends are read, as those are
/// rewritten while reading; small files are read, as mapping gains nothing
/// there. A file truncated by another program while it is mapped ends the
/// run with SIGBUS; exports are written before they are read.
fn map_file(opened: &Opened, options: &ReadOptions) -> Option<Mmap> {
    let Opened::File(file, Some(meta)) = opened else {
        return None;
    };
    if options.encoding != encoding_rs::UTF_8 || !meta.is_file() {
        return None;
    }
    let wanted = match std::env::var("PVKIT_MAP").as_deref() {
        Ok("never") => false,
        Ok("always") => meta.len() > 0,
        _ => meta.len() >= MAP_AT_BLOCKS * block_size() as u64,
    };
    if !wanted {
        return None;
    }
    // SAFETY: the map is only read; the file changing under it is the
    // documented SIGBUS case above.
    let map = unsafe { Mmap::map(file) }.ok()?;
    (first_line_ends_with_lone_cr(&map, true) != Some(true)).then_some(map)
}

/// Files of at least this many blocks are mapped (16 MiB by default).
/// `PVKIT_MAP=never` reads every file and `PVKIT_MAP=always` maps every
/// one, for tests and comparisons.
const MAP_AT_BLOCKS: u64 = 16;

fn check_not_utf16(source: &Source, data: &[u8], options: &ReadOptions) -> Result<()> {
    if let Some(label) = utf16_bom(data)
        && options.encoding == encoding_rs::UTF_8
    {
        bail!(
            "{source}: the file is UTF-16 (as Excel saves \"Unicode text\"), not UTF-8; \
             add --encoding {label}, or save it as CSV"
        );
    }
    Ok(())
}

impl Header {
    fn parse(source: &Source, data: &[u8], options: &ReadOptions) -> Result<Header> {
        let end = record_end(data);
        let header_bytes = &data[..end];
        if header_bytes.trim_ascii().is_empty() {
            bail!("{source}: the input is empty; expected a header row");
        }
        let delimiter = options
            .delimiter
            .unwrap_or_else(|| sniff_delimiter(header_bytes));
        let mut record = ByteRecord::new();
        csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(delimiter)
            .from_reader(header_bytes)
            .read_byte_record(&mut record)
            .with_context(|| format!("{source}: cannot read the header row"))?;
        let headers = record
            .iter()
            .map(|field| {
                std::str::from_utf8(field).map(|s| s.trim().to_string()).map_err(|_| {
                    anyhow!("{source}: line 1: the header is not valid UTF-8; for a Windows-1252 (Excel) export use --encoding windows-1252")
                })
            })
            .collect::<Result<Vec<String>>>()?;
        Ok(Header {
            headers,
            lines: memchr_iter(b'\n', header_bytes).count().max(1) as u64,
            delimiter,
            end,
        })
    }
}

/// The encoding a UTF-16 byte order mark at the start names.
fn utf16_bom(data: &[u8]) -> Option<&'static str> {
    match data {
        [0xFF, 0xFE, ..] => Some("utf-16le"),
        [0xFE, 0xFF, ..] => Some("utf-16be"),
        _ => None,
    }
}

/// End of the first record (after its line break), honouring quotes.
fn record_end(data: &[u8]) -> usize {
    let mut quoted = false;
    for position in memchr2_iter(b'"', b'\n', data) {
        match data[position] {
            b'"' => quoted = !quoted,
            _ if !quoted => return position + 1,
            _ => {}
        }
    }
    data.len()
}

/// The most frequent of `,` `;` TAB `|` in the header line (`,` if none).
fn sniff_delimiter(header: &[u8]) -> u8 {
    let mut best = (0usize, b',');
    for candidate in [b',', b';', b'\t', b'|'] {
        let count = memchr_iter(candidate, header).count();
        if count > best.0 {
            best = (count, candidate);
        }
    }
    best.1
}

/// Where an input's blocks come from.
enum Blocks {
    Read(BlockReader),
    Mapped(MappedBlocks),
}

impl Blocks {
    /// The next block of whole records, read into `spare` if it is read
    /// (`spare` keeps the buffer when there is nothing left).
    fn next(
        &mut self,
        spare: &mut Option<Vec<u8>>,
        block: usize,
    ) -> io::Result<Option<ChunkBytes>> {
        match self {
            Blocks::Read(reader) => {
                let mut buffer = spare.take().unwrap_or_default();
                if reader.next_block(&mut buffer, block)? {
                    Ok(Some(ChunkBytes::Owned(buffer)))
                } else {
                    *spare = Some(buffer);
                    Ok(None)
                }
            }
            Blocks::Mapped(mapped) => Ok(mapped.next_block(block)),
        }
    }

    /// Whether the last block may have a `"`.
    fn quoted(&self) -> bool {
        match self {
            Blocks::Read(reader) => reader.quoted,
            Blocks::Mapped(mapped) => mapped.quoted,
        }
    }

    /// Bytes consumed so far and the input's size, if known.
    fn progress(&self) -> (u64, Option<u64>) {
        match self {
            Blocks::Read(reader) => (reader.consumed, reader.size),
            Blocks::Mapped(mapped) => (mapped.position as u64, Some(mapped.map.len() as u64)),
        }
    }
}

/// Cuts a mapped file into blocks that end on a record boundary.
struct MappedBlocks {
    map: Arc<Mmap>,
    position: usize,
    quoted: bool,
}

impl MappedBlocks {
    fn next_block(&mut self, block: usize) -> Option<ChunkBytes> {
        let (start, len) = (self.position, self.map.len());
        if start >= len {
            return None;
        }
        let mut want = block.max(1);
        let end = loop {
            let end = start.saturating_add(want).min(len);
            if let Some((cut, quoted)) = block_cut(&self.map[start..end], end == len) {
                self.quoted = quoted;
                break start + cut;
            }
            // One record longer than the block: take more.
            want = want.saturating_mul(2);
        };
        self.position = end;
        Some(ChunkBytes::Mapped(Arc::clone(&self.map), start..end))
    }
}

/// Reads blocks that end on a record boundary.
struct BlockReader {
    inner: Box<dyn Read>,
    /// Old Mac files end lines with a lone CR: read those as LF. Decided
    /// by how the header line ends, once it has been read.
    cr_line_ends: Option<bool>,
    /// Bytes read past the last boundary, the start of the next block.
    carry: Vec<u8>,
    eof: bool,
    size: Option<u64>,
    consumed: u64,
    /// Whether the last block may have a `"` (false only when it surely
    /// has none), found while looking for its last record boundary.
    quoted: bool,
}

impl BlockReader {
    /// Fills `buf` with whole records (at least `block` bytes unless the
    /// input ends). Returns false when there is nothing left.
    fn next_block(&mut self, buf: &mut Vec<u8>, block: usize) -> io::Result<bool> {
        buf.clear();
        buf.append(&mut self.carry);
        let mut want = block;
        loop {
            if !self.eof && buf.len() < want {
                let missing = (want - buf.len()) as u64;
                let before = buf.len();
                let got = self.inner.by_ref().take(missing).read_to_end(buf)?;
                self.consumed += got as u64;
                self.eof = (got as u64) < missing;
                match self.cr_line_ends {
                    Some(true) => cr_to_lf(&mut buf[before..]),
                    Some(false) => {}
                    None => {
                        // Nothing is handed out before this is decided, so
                        // all that was read is still in `buf`.
                        self.cr_line_ends = first_line_ends_with_lone_cr(buf, self.eof);
                        if self.cr_line_ends == Some(true) {
                            cr_to_lf(buf);
                        }
                    }
                }
            }
            if let Some((cut, quoted)) = block_cut(buf, self.eof) {
                self.carry.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                self.quoted = quoted;
                return Ok(!buf.is_empty());
            }
            // One record longer than the block: read more.
            want = buf.len() * 2;
        }
    }
}

/// Whether the first line break in `data` is a CR without LF; `None` while
/// that cannot be told yet.
fn first_line_ends_with_lone_cr(data: &[u8], eof: bool) -> Option<bool> {
    match memchr::memchr2(b'\n', b'\r', data) {
        None => eof.then_some(false),
        Some(i) if data[i] == b'\n' => Some(false),
        Some(i) => match data.get(i + 1) {
            Some(next) => Some(*next != b'\n'),
            None => eof.then_some(true),
        },
    }
}

fn cr_to_lf(bytes: &mut [u8]) {
    for byte in bytes.iter_mut().filter(|b| **b == b'\r') {
        *byte = b'\n';
    }
}

/// Where a block taken from `data` (which starts at a record boundary)
/// ends, and whether the block may have a `"`: all of `data` at the end of
/// the input, else up to its last record boundary; `None` when no record
/// ends in it.
fn block_cut(data: &[u8], at_end: bool) -> Option<(usize, bool)> {
    if at_end {
        return Some((data.len(), memchr::memchr(b'"', data).is_some()));
    }
    let (boundary, quoted) = last_record_boundary(data);
    boundary.map(|cut| (cut, quoted))
}

/// Position just after the last line break that is outside quotes, and
/// whether `data` has a quote.
fn last_record_boundary(data: &[u8]) -> (Option<usize>, bool) {
    if memchr::memchr(b'"', data).is_none() {
        return (memrchr(b'\n', data).map(|p| p + 1), false);
    }
    let mut quoted = false;
    let mut last = None;
    for position in memchr2_iter(b'"', b'\n', data) {
        match data[position] {
            b'"' => quoted = !quoted,
            _ if !quoted => last = Some(position + 1),
            _ => {}
        }
    }
    (last, true)
}

/// Walks the inputs and hands out chunks.
struct Feeder<'a> {
    sources: &'a [Source],
    options: &'a ReadOptions,
    columns: &'a Columns,
    places: Places,
    header_lines: Vec<u64>,
    progress: Progress,
    block_size: usize,
}

impl Feeder<'_> {
    /// Sends every chunk of every input to `send`, which may hand back a
    /// spent buffer to reuse.
    fn run(
        &mut self,
        first: OpenInput,
        shared: &Shared,
        mut send: impl FnMut(Chunk) -> Result<Option<Vec<u8>>>,
    ) -> Result<()> {
        let mut spare: Option<Vec<u8>> = None;
        let mut input = Some(first);
        for (index, source) in self.sources.iter().enumerate() {
            let mut open = match input.take() {
                Some(open) => open,
                None => self.open_next(source)?,
            };
            self.header_lines.push(open.header_lines);
            let mut data = ChunkBytes::Owned(std::mem::take(&mut open.rest));
            // The first block lost its header: look at what is left of it.
            let mut known_quoted = None;
            loop {
                if shared.stop_at.load(Ordering::Relaxed) != u32::MAX {
                    return Ok(());
                }
                if !data.is_empty() {
                    let seq = u32::try_from(self.places.chunks.len()).context("input too large")?;
                    self.places.chunks.push((index, 0));
                    let quoted = known_quoted
                        .take()
                        .unwrap_or_else(|| memchr::memchr(b'"', &data).is_some());
                    let chunk = Chunk {
                        seq,
                        data,
                        quoted,
                        delimiter: open.delimiter,
                    };
                    spare = send(chunk)?.or(spare);
                } else if let Some(buffer) = data.release() {
                    spare = spare.or(Some(buffer));
                }
                let next = open
                    .blocks
                    .next(&mut spare, self.block_size)
                    .with_context(|| format!("reading {source}"))?;
                let (consumed, size) = open.blocks.progress();
                self.progress.advance(index, consumed, size);
                let Some(next) = next else { break };
                data = next;
                known_quoted = Some(open.blocks.quoted());
            }
        }
        Ok(())
    }

    fn open_next(&self, source: &Source) -> Result<OpenInput> {
        let open = OpenInput::open(source, self.options)?;
        let columns = Columns::resolve(
            self.columns.schema,
            open.headers.clone(),
            &self.options.overrides,
            &source.to_string(),
        )?;
        if !columns.same_layout(self.columns) {
            bail!(
                "{source}: the header differs from {}'s; several inputs must share one header",
                self.sources[0]
            );
        }
        Ok(open)
    }
}

/// What a worker learned about one chunk.
struct ChunkReport {
    seq: u32,
    newlines: u64,
    rows: u64,
}

struct Worker<S> {
    sink: S,
    reports: Vec<ChunkReport>,
    failures: Vec<(Locator, RowError)>,
    rejects: Vec<(Locator, RowError, Vec<u8>)>,
    ends: Vec<u32>,
    record: ByteRecord,
}

impl<S: RowSink> Worker<S> {
    fn new(sink: S) -> Worker<S> {
        Worker {
            sink,
            reports: Vec::new(),
            failures: Vec::new(),
            rejects: Vec::new(),
            ends: Vec::new(),
            record: ByteRecord::new(),
        }
    }

    fn process(&mut self, chunk: &Chunk, shared: &Shared) {
        if shared.stopped_before(chunk.seq) {
            return;
        }
        let (rows, newlines) = if chunk.quoted {
            let rows = self.parse_quoted(chunk, shared, is_damaged(&chunk.data));
            (rows, memchr_iter(b'\n', &chunk.data).count() as u64)
        } else {
            self.split_plain(chunk, shared)
        };
        self.sink.flush();
        self.reports.push(ChunkReport {
            seq: chunk.seq,
            newlines,
            rows,
        });
    }

    /// The fast path: no quotes, so lines and delimiters are all there is
    /// ([`separators`] finds them 64 bytes at a time). Rare damage (NUL
    /// bytes, text that is not UTF-8) needs bytes that are not plain ASCII;
    /// at the first row that has such bytes the whole chunk is checked once,
    /// and rows are checked one by one only in a chunk that has damage.
    /// Returns the rows and the line breaks seen.
    fn split_plain(&mut self, chunk: &Chunk, shared: &Shared) -> (u64, u64) {
        let data = &chunk.data[..];
        let mut ends = std::mem::take(&mut self.ends);
        ends.clear();
        let (mut line_no, mut rows) = (0u32, 0u64);
        let mut damaged: Option<bool> = None;
        let newlines = separators(
            data,
            chunk.delimiter,
            &mut ends,
            |line_start, line_end, ends, unusual_end| {
                line_no += 1;
                let mut line = &data[line_start..line_end];
                if let [rest @ .., b'\r'] = line {
                    line = rest;
                }
                ends.push(line.len() as u32);
                let fields = Fields::Split { line, ends };
                let check_row =
                    unusual_end > line_start && *damaged.get_or_insert_with(|| is_damaged(data));
                let handled = self.handle(
                    fields,
                    Locator::new(chunk.seq, line_no),
                    line,
                    shared,
                    check_row,
                );
                match handled {
                    Handled::Row => rows += 1,
                    Handled::Blank => {}
                    Handled::Stop => return false,
                }
                true
            },
        );
        self.ends = ends;
        (rows, newlines)
    }

    /// Chunks with quotes go through the csv crate.
    fn parse_quoted(&mut self, chunk: &Chunk, shared: &Shared, check_rows: bool) -> u64 {
        let data = &chunk.data[..];
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(chunk.delimiter)
            .from_reader(data);
        let mut record = std::mem::take(&mut self.record);
        let (mut rows, mut line, mut counted_to) = (0u64, 1u32, 0usize);
        loop {
            let start = reader.position().byte() as usize;
            match reader.read_byte_record(&mut record) {
                Ok(true) => {}
                // Reading from memory cannot fail; stop at the end or if it does.
                Ok(false) | Err(_) => break,
            }
            let end = (reader.position().byte() as usize).min(data.len());
            // The record starts after any blank lines the parser skipped; its
            // line is one more than the line breaks before it (the csv
            // crate's own count lags behind on CRLF).
            let skipped = data[start.min(end)..end]
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            let record_start = start + skipped;
            line += memchr_iter(b'\n', &data[counted_to..record_start]).count() as u32;
            counted_to = record_start;
            let raw = trim_line_breaks(&data[start.min(end)..end]);
            match self.handle(
                Fields::Csv(&record),
                Locator::new(chunk.seq, line),
                raw,
                shared,
                check_rows,
            ) {
                Handled::Row => rows += 1,
                Handled::Blank => {}
                Handled::Stop => break,
            }
        }
        self.record = record;
        rows
    }

    fn handle(
        &mut self,
        fields: Fields<'_>,
        locator: Locator,
        raw: &[u8],
        shared: &Shared,
        check_rows: bool,
    ) -> Handled {
        if fields.is_blank() {
            return Handled::Blank;
        }
        let outcome = if fields.len() != shared.width {
            Err(RowError::new(
                None,
                format!(
                    "expected {} fields as in the header, found {}",
                    shared.width,
                    fields.len()
                ),
            ))
        } else if let Some(damage) = check_rows.then(|| damage(&fields)).flatten() {
            Err(damage)
        } else {
            self.sink.row(&Row { fields, locator })
        };
        match outcome {
            Ok(()) => Handled::Row,
            Err(error) if shared.skip_invalid => {
                // A row rejected on another row's behalf: its bytes are gone.
                let record = if error.at.is_some_and(|at| at != locator) {
                    Vec::new()
                } else {
                    raw.to_vec()
                };
                self.rejects
                    .push((error.at.unwrap_or(locator), error, record));
                Handled::Row
            }
            Err(error) => {
                let at = error.at.unwrap_or(locator);
                shared
                    .stop_at
                    .fetch_min(at.chunk().max(locator.chunk()), Ordering::Relaxed);
                self.failures.push((at, error));
                Handled::Stop
            }
        }
    }
}

/// Splits `data` into lines: for each line calls `found(start, end, ends,
/// unusual_end)`, where `start..end` is the line without its line break and
/// `ends` holds where each of its delimiters is, counted from `start` (the
/// caller may add to it; it is cleared for the next line), also for a last
/// line without a line break, until `found` returns false. Returns the
/// number of line breaks in all of `data`. `unusual_end` is where the last
/// 64-byte block with a byte that is not plain ASCII (see [`Masks`]) ends,
/// 0 before there is one: a line starting at or after it is plain ASCII.
/// Sixty-four bytes at a time: [`block_masks`] marks the separators of a
/// block in bit masks, and the set bits are visited in order; a delimiter
/// costs a push, only a line break a call. The last partial block is padded
/// with a byte that is none of these.
fn separators(
    data: &[u8],
    delimiter: u8,
    ends: &mut Vec<u32>,
    mut found: impl FnMut(usize, usize, &mut Vec<u32>, usize) -> bool,
) -> u64 {
    let (mut line_breaks, mut going, mut unusual_end) = (0u64, true, 0usize);
    let mut line_start = 0usize;
    ends.clear();
    let mut visit = |block: &[u8; 64], base: usize| {
        let masks = block_masks(block, delimiter);
        line_breaks += u64::from(masks.newlines.count_ones());
        if masks.unusual {
            unusual_end = base + 64;
        }
        let mut mask = if going {
            masks.delimiters | masks.newlines
        } else {
            0
        };
        // A block has at most 64 delimiters, so after this each push below
        // fits without a capacity check.
        ends.reserve(64);
        while mask != 0 {
            let bit = mask.trailing_zeros();
            let position = base + bit as usize;
            if masks.newlines & (1 << bit) == 0 {
                let len = ends.len();
                debug_assert!(len < ends.capacity());
                // SAFETY: `reserve(64)` above left room for every delimiter
                // of this block (`found` only adds after its line's last
                // one, and the list is cleared after each line).
                unsafe {
                    ends.as_mut_ptr()
                        .add(len)
                        .write((position - line_start) as u32);
                    ends.set_len(len + 1);
                }
            } else {
                if !found(line_start, position, ends, unusual_end) {
                    going = false;
                    return;
                }
                ends.clear();
                line_start = position + 1;
            }
            mask &= mask - 1;
        }
    };
    let mut blocks = data.chunks_exact(64);
    let mut base = 0;
    for block in blocks.by_ref() {
        visit(block.try_into().expect("64 bytes"), base);
        base += 64;
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // Padding that is neither a separator nor unusual.
        let padding = if delimiter == 1 { 2 } else { 1 };
        let mut last = [padding; 64];
        last[..rest.len()].copy_from_slice(rest);
        visit(&last, base);
    }
    if going && data.last().is_some_and(|&b| b != b'\n') {
        found(line_start, data.len(), ends, unusual_end);
    }
    line_breaks
}

/// Where the separators of a 64-byte block are: bit `i` of a mask stands
/// for `block[i]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Masks {
    delimiters: u64,
    newlines: u64,
    /// Whether the block has a byte that is not plain ASCII text: NUL, or
    /// the high bit set (UTF-8 beyond ASCII, or damage). Rows without any
    /// need no UTF-8 check.
    unusual: bool,
}

/// The masks of a block, with SSE2, part of every x86-64 CPU.
#[cfg(target_arch = "x86_64")]
fn block_masks(block: &[u8; 64], delimiter: u8) -> Masks {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_setzero_si128,
    };
    // SAFETY: SSE2 is part of the x86-64 baseline, so the intrinsics are
    // always available; each load reads one 16-byte part of `block`
    // (unaligned loads are allowed).
    unsafe {
        let delimiters = _mm_set1_epi8(delimiter as i8);
        let newlines = _mm_set1_epi8(b'\n' as i8);
        let zero = _mm_setzero_si128();
        let (mut found_delimiters, mut found_newlines) = (0u64, 0u64);
        // High bits of any byte, and bytes that are zero, over all parts.
        let mut unusual = zero;
        for (i, part) in block.chunks_exact(16).enumerate() {
            let bytes = _mm_loadu_si128(part.as_ptr().cast());
            let bits = |found| u64::from(_mm_movemask_epi8(found) as u16) << (16 * i);
            found_delimiters |= bits(_mm_cmpeq_epi8(bytes, delimiters));
            found_newlines |= bits(_mm_cmpeq_epi8(bytes, newlines));
            unusual = _mm_or_si128(unusual, _mm_or_si128(bytes, _mm_cmpeq_epi8(bytes, zero)));
        }
        Masks {
            delimiters: found_delimiters,
            newlines: found_newlines,
            unusual: _mm_movemask_epi8(unusual) != 0,
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn block_masks(block: &[u8; 64], delimiter: u8) -> Masks {
    block_masks_by_words(block, delimiter)
}

/// The same masks a word at a time, for other CPUs: a byte equal to the
/// pattern is a zero byte of `word ^ pattern`, and `zero_bytes` marks
/// exactly the zero bytes.
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
fn block_masks_by_words(block: &[u8; 64], delimiter: u8) -> Masks {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let zero_bytes = |v: u64| !(((v & LOW) + LOW) | v | LOW);
    // One bit per byte: the top bit of each byte, gathered.
    let gather =
        |v: u64| (v >> 7 & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080) >> 56;
    let delimiters = u64::from_ne_bytes([delimiter; 8]);
    let newlines = u64::from_ne_bytes([b'\n'; 8]);
    let mut masks = Masks {
        delimiters: 0,
        newlines: 0,
        unusual: false,
    };
    for (i, word) in block.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        masks.delimiters |= gather(zero_bytes(word ^ delimiters)) << (8 * i);
        masks.newlines |= gather(zero_bytes(word ^ newlines)) << (8 * i);
        masks.unusual |= (zero_bytes(word) | word) & !LOW != 0;
    }
    masks
}

/// Whether `data` has a NUL byte or is not UTF-8.
fn is_damaged(data: &[u8]) -> bool {
    std::str::from_utf8(data).is_err() || memchr::memchr(0, data).is_some()
}

enum Handled {
    Row,
    Blank,
    Stop,
}

/// A NUL byte (a damaged transfer, a binary file) or text that is not
/// UTF-8, in the first field that has it.
fn damage(fields: &Fields<'_>) -> Option<RowError> {
    (0..fields.len()).find_map(|i| {
        let field = fields.get(i)?;
        if memchr::memchr(0, field).is_some() {
            Some(RowError::new(
                Some(i),
                "contains a NUL byte; is the file damaged or not a CSV export?",
            ))
        } else if std::str::from_utf8(field).is_err() {
            Some(RowError::new(
                Some(i),
                "the text is not valid UTF-8; if this is a Windows-1252 (Excel) export, add --encoding windows-1252",
            ))
        } else {
            None
        }
    })
}

fn trim_line_breaks(mut raw: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = raw {
        raw = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = raw {
        raw = rest;
    }
    raw
}

/// Turns the workers' reports into line offsets, the first error (if any)
/// or the sorted rejects, and hands back the sinks.
fn finish<S>(
    workers: Vec<Worker<S>>,
    mut places: Places,
    header_lines: &[u64],
    columns: Columns,
    log: &mut RejectLog,
) -> Result<ReadResult<S>> {
    let mut newlines = vec![0u64; places.chunks.len()];
    let (mut rows, mut failures, mut rejects, mut sinks) =
        (0u64, Vec::new(), Vec::new(), Vec::new());
    for worker in workers {
        for report in &worker.reports {
            newlines[report.seq as usize] = report.newlines;
            rows += report.rows;
        }
        failures.extend(worker.failures);
        rejects.extend(worker.rejects);
        sinks.push(worker.sink);
    }
    let mut next_line: Vec<u64> = header_lines.iter().map(|lines| lines + 1).collect();
    for (seq, (source, first_line)) in places.chunks.iter_mut().enumerate() {
        *first_line = next_line[*source];
        next_line[*source] += newlines[seq];
    }
    if let Some((locator, error)) = failures.into_iter().min_by_key(|(locator, _)| *locator) {
        return Err(anyhow!(places.message(locator, &error, &columns)));
    }
    rejects.sort_by_key(|(locator, _, _)| *locator);
    let rejected = rejects.len() as u64;
    for (locator, error, record) in rejects {
        let (source, line) = places.line(locator);
        log.rejects.push(Reject {
            source: places.sources[source].to_string(),
            line,
            column: error
                .column
                .map(|c| columns.header(c).to_string())
                .unwrap_or_default(),
            reason: reason_text(&places, &error),
            record,
        });
    }
    Ok(ReadResult {
        sinks,
        columns,
        rows,
        rejected,
        places,
    })
}

fn reason_text(places: &Places, error: &RowError) -> String {
    match error.related {
        Some(related) => format!(
            "{} (other row: line {})",
            error.message,
            places.line(related).1
        ),
        None => error.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_respect_quotes() {
        assert_eq!(last_record_boundary(b"a,b\nc,d\ne"), (Some(8), false));
        assert_eq!(last_record_boundary(b"a,\"b\nc\",d\ne"), (Some(10), true));
        assert_eq!(last_record_boundary(b"a,\"b\nc"), (None, true));
        assert_eq!(record_end(b"\"x\ny\",z\n1,2\n"), 8);
    }

    /// Every delimiter and line end [`separators`] reports, as (position,
    /// is a line end), until `keep_going` says stop after a line, and the
    /// line breaks it counted.
    fn separator_list(
        data: &[u8],
        delimiter: u8,
        mut keep_going: impl FnMut(usize, usize, usize) -> bool,
    ) -> (Vec<(usize, bool)>, u64) {
        let mut seen = Vec::new();
        let mut ends = Vec::new();
        let count = separators(
            data,
            delimiter,
            &mut ends,
            |start, end, ends, unusual_end| {
                seen.extend(ends.iter().map(|&e| (start + e as usize, false)));
                seen.push((end, true));
                keep_going(start, end, unusual_end)
            },
        );
        (seen, count)
    }

    #[test]
    fn separators_are_found_in_order() {
        let data = b"ab,c\n,,xyz\r\nlast,line";
        let (seen, _) = separator_list(data, b',', |_, _, _| true);
        let expected: Vec<(usize, bool)> = data
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b',' || **b == b'\n')
            .map(|(p, b)| (p, *b == b'\n'))
            .chain([(data.len(), true)])
            .collect();
        assert_eq!(seen, expected);
        let (high, _) = separator_list("å;ö\n;".as_bytes(), b';', |_, _, _| true);
        assert_eq!(high, vec![(2, false), (5, true), (6, false), (7, true)]);
    }

    #[test]
    fn lines_of_only_delimiters_span_blocks() {
        // More delimiters in one line than a block holds, across blocks.
        for (before, after) in [(200, 70), (64, 64), (129, 0)] {
            let data = [vec![b','; before], vec![b'\n'], vec![b','; after]].concat();
            let (seen, count) = separator_list(&data, b',', |_, _, _| true);
            assert_eq!(count, 1);
            let mut expected: Vec<(usize, bool)> =
                (0..data.len()).map(|p| (p, data[p] == b'\n')).collect();
            if after > 0 {
                expected.push((data.len(), true));
            }
            assert_eq!(seen, expected, "{before} + {after}");
        }
    }

    #[test]
    fn separators_match_a_byte_by_byte_scan_across_blocks() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let alphabet = b",;\n\0ab\xc3\xa5\r ";
        for length in [0, 1, 63, 64, 65, 127, 128, 129, 300, 1000] {
            for delimiter in [b',', b';', 0] {
                let data: Vec<u8> = (0..length)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        alphabet[(state >> 33) as usize % alphabet.len()]
                    })
                    .collect();
                let (seen, count) = separator_list(&data, delimiter, |start, end, unusual_end| {
                    // A line with a NUL or a byte above 0x7f is flagged.
                    let plain = data[start..end].iter().all(|&b| b != 0 && b < 0x80);
                    assert!(plain || unusual_end > start, "line at {start}");
                    true
                });
                let line_breaks = data.iter().filter(|b| **b == b'\n').count() as u64;
                assert_eq!(count, line_breaks);
                let mut lines = 0;
                let (first, stopped) = separator_list(&data, delimiter, |_, _, _| {
                    lines += 1;
                    lines < 2
                });
                assert_eq!(stopped, line_breaks);
                let second_line_end = seen.iter().filter(|(_, end)| *end).nth(1);
                let upto = second_line_end.map_or(seen.len(), |end| {
                    seen.iter().position(|s| s == end).expect("seen") + 1
                });
                assert_eq!(first[..], seen[..upto]);
                let mut expected: Vec<(usize, bool)> = data
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == delimiter || **b == b'\n')
                    .map(|(p, b)| (p, *b == b'\n'))
                    .collect();
                if data.last().is_some_and(|&b| b != b'\n') {
                    expected.push((data.len(), true));
                }
                assert_eq!(seen, expected, "length {length}, delimiter {delimiter}");
            }
        }
    }

    #[test]
    fn both_mask_implementations_agree() {
        let mut block = [0u8; 64];
        for round in 0..2000u64 {
            for (i, byte) in block.iter_mut().enumerate() {
                let x = (round * 131 + i as u64 * 7919).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                *byte = [b',', b'\n', b';', 0x80, 0xff, b'a', 0, b'\r'][(x >> 61) as usize];
            }
            for delimiter in [b',', b';', 0] {
                assert_eq!(
                    block_masks(&block, delimiter),
                    block_masks_by_words(&block, delimiter)
                );
            }
        }
    }

    #[test]
    fn line_ends_are_told_by_the_header_line() {
        assert_eq!(
            first_line_ends_with_lone_cr(b"a,b\rc,d\r", false),
            Some(true)
        );
        assert_eq!(
            first_line_ends_with_lone_cr(b"a,b\r\nc,d", false),
            Some(false)
        );
        assert_eq!(
            first_line_ends_with_lone_cr(b"a,b\nc\rd", false),
            Some(false)
        );
        assert_eq!(first_line_ends_with_lone_cr(b"a,b", false), None);
        assert_eq!(first_line_ends_with_lone_cr(b"a,b\r", false), None);
        assert_eq!(first_line_ends_with_lone_cr(b"a,b\r", true), Some(true));
        assert_eq!(first_line_ends_with_lone_cr(b"a,b", true), Some(false));
    }

    #[test]
    fn sniffs_the_header_delimiter() {
        assert_eq!(sniff_delimiter(b"a;b;c\n"), b';');
        assert_eq!(sniff_delimiter(b"a,b;c,d\n"), b',');
        assert_eq!(sniff_delimiter(b"a\tb\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a|b|c\n"), b'|');
        assert_eq!(sniff_delimiter(b"single\n"), b',');
    }
}
