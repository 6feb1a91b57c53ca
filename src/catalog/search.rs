//! In-memory search over the catalogue: name folding, ranked search and autocomplete.
//!
//! # Layout
//! - [`fold`]: the normalisation every comparison goes through (case, diacritics, width,
//!   punctuation). Public so that sorting by name elsewhere agrees with search.
//! - [`SearchIndex`]: the shared index. Request handlers query it under a read lock; the scanner
//!   writes under a short write lock per item, or per chunk in [`SearchIndex::upsert_many`].
//! - `Vocab`: every distinct folded word once, with a postings list of the documents that use
//!   it, and per pair of adjacent bytes the sorted list of the words that hold it.
//! - `Inner`: documents in slots, as parallel vectors; word lists and folded names sit in two
//!   arenas rather than one allocation per document.
//!
//! # Answering a query
//! A query word matches a document if it is a prefix or a substring of one of the document's
//! words, so words are matched once per distinct vocabulary word, not once per document, and
//! only the words listed under the query word's rarest byte pair are read. The postings of the
//! matching words then set bits in a few bitsets over slots (a slot's words matched anywhere,
//! in the name, as word prefixes...), and the bitsets of the query words are intersected. A
//! bitset is 14 KB for 113,000 documents and stays in cache, so even a one-letter query that
//! matches every document costs one sequential read of the postings, about a millisecond.
//! Words that one document in 16 or more holds are also kept as bitsets of their own, derived
//! with the name ranks, so marking `track` or `love` costs a few operations per 64 documents.
//! Query words are taken cheapest first, and once few candidates are left, a common word
//! (`the`, `a`) is checked against each candidate's own words, or each candidate is sought in
//! its postings, instead of every posting being read. Totals are population counts against
//! per-kind bitsets. The page comes from walking the match tiers best first into a bounded
//! top-k heap, stopping once the heap is full of better tiers: nothing is ever sorted in full.
//! A tier that takes thousands of documents of one kind is walked in that kind's
//! popularity-then-name order, derived at most once a second while the index changes, and stops
//! at the first document the heap turns away.
//!
//! # Why a lock and not snapshots
//! With 113,000 documents a search holds the read lock for about 2 ms at most and an upsert
//! holds the write lock for about 10 µs (folding happens before the lock is taken); compacting
//! the arenas, once per tens of thousands of changes, holds it for a few milliseconds. Swapping
//! immutable snapshots would spare readers that short wait, but each batch of changes would
//! need a copy of the whole index: about 25 ms of work and, while both copies live, twice the
//! memory. Persistent structures would avoid the copy but slow every read.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// What a document is. Ordered as results of otherwise equal rank are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Artist,
    Album,
    Track,
    Playlist,
    User,
}

impl Kind {
    /// Every kind, in rank order.
    pub const ALL: [Kind; 5] = [
        Kind::Artist,
        Kind::Album,
        Kind::Track,
        Kind::Playlist,
        Kind::User,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// One searchable item, as the catalogue hands it to the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doc {
    pub kind: Kind,
    /// The entity's UUID as an integer (`Uuid::as_u128`); unique within its kind.
    pub id: u128,
    /// The primary name (a track's title, an album's title, an artist's name).
    pub name: String,
    /// Other text the item is found by, ranked below the name: for a track its artist and
    /// album names, for an album its artist.
    pub secondary: Vec<String>,
    /// Higher is listed first among matches of equal rank.
    pub popularity: u64,
}

/// How well a hit matched, best first. Results are ordered by this, then by popularity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchType {
    /// The folded name is the folded query.
    Exact,
    /// The folded name starts with the folded query.
    Prefix,
    /// Every query word starts a word of the name (`love` in `Crazy in Love`).
    WordPrefix,
    /// Every query word occurs in the name, at least one only inside a word.
    Substring,
    /// Every query word starts a word of the name or of the secondary text, and at least one
    /// is found only in the secondary text.
    SecondaryWordPrefix,
    /// Every query word occurs in the name or the secondary text, at least one only in the
    /// secondary text and at least one only inside a word.
    SecondarySubstring,
}

impl MatchType {
    const BY_TIER: [MatchType; 6] = [
        MatchType::Exact,
        MatchType::Prefix,
        MatchType::WordPrefix,
        MatchType::Substring,
        MatchType::SecondaryWordPrefix,
        MatchType::SecondarySubstring,
    ];
}

/// One search result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub kind: Kind,
    pub id: u128,
    pub match_type: MatchType,
}

/// One page of search results and how many matched in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Results {
    /// The requested page, best first.
    pub hits: Vec<Hit>,
    totals: [usize; Kind::ALL.len()],
}

impl Results {
    /// How many items of this kind matched, on every page.
    pub fn total(&self, kind: Kind) -> usize {
        self.totals[kind.index()]
    }

    /// How many items matched, on every page, over all requested kinds.
    pub fn total_all(&self) -> usize {
        self.totals.iter().sum()
    }
}

/// One autocomplete proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    pub kind: Kind,
    pub id: u128,
    /// The name as stored, for display.
    pub name: String,
}

/// Folds text for comparison: compatibility decomposition (full-width forms, ligatures),
/// diacritics dropped, lower case, a few letters that do not decompose spelled out (`ß` -> `ss`,
/// `æ` -> `ae`, `ø` -> `o`, ...), apostrophes removed, and every run of other
/// non-alphanumeric characters turned into one space, with none at either end.
///
/// Apostrophes vanish rather than split words so that `dont stop` finds `Don't Stop`.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

/// [`fold`], appended to `out`.
pub fn fold_into(s: &str, out: &mut String) {
    let mut f = Folder {
        start: out.len(),
        out,
        gap: false,
    };
    for c in s.chars() {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                f.letter(c.to_ascii_lowercase());
            } else if c != '\'' && c != '`' {
                f.gap = true;
            }
        } else if !is_apostrophe(c) {
            decompose_compatible(c, |d| {
                for l in d.to_lowercase() {
                    f.push_lower(l);
                }
            });
        }
    }
}

/// The output of [`fold`] under construction. A separator is only remembered, and written
/// before the next letter, so that leading, trailing and repeated separators vanish.
struct Folder<'a> {
    out: &'a mut String,
    /// Where this text's output begins in `out`.
    start: usize,
    gap: bool,
}

impl Folder<'_> {
    fn letter(&mut self, c: char) {
        if self.gap && self.out.len() > self.start {
            self.out.push(' ');
        }
        self.gap = false;
        self.out.push(c);
    }

    fn push_lower(&mut self, c: char) {
        // A decomposition can yield an apostrophe (`ŉ` is `ʼn`): it vanishes here as it does in
        // the input, or folding the output again would change it.
        if is_combining_mark(c) || is_apostrophe(c) || c == '\'' || c == '`' {
            return;
        }
        let spelled = match c {
            'ß' => "ss",
            'æ' => "ae",
            'œ' => "oe",
            'ø' => "o",
            'ł' => "l",
            'đ' | 'ð' => "d",
            'þ' => "th",
            'ı' => "i",
            'ħ' => "h",
            'ŧ' => "t",
            'ς' => "σ",
            _ => {
                if c.is_alphanumeric() {
                    self.letter(c);
                } else {
                    self.gap = true;
                }
                return;
            }
        };
        spelled.chars().for_each(|c| self.letter(c));
    }
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\u{2018}' | '\u{2019}' | '\u{02BC}' | '\u{00B4}')
}

/// Raw query text beyond this is ignored: no catalogue name is that long, and it bounds the
/// folding work one request can cause.
const MAX_QUERY_BYTES: usize = 1024;
/// Distinct query words beyond this are ignored (the result is then a superset): each word
/// costs a pass over the vocabulary and over the postings of the words it matches.
const MAX_QUERY_WORDS: usize = 16;
/// [`SearchIndex::upsert_many`] releases the write lock between chunks of this many documents
/// (about half a millisecond of inserting) so that a large rescan does not stall searches.
const UPSERT_CHUNK: usize = 128;

/// Low bits of a name posting, above them the slot: whether the word is the name's first
/// word, and whether it is the name's only word.
const NAME_FIRST: u32 = 0b01;
const NAME_SINGLE: u32 = 0b10;
const POSTING_SHIFT: u32 = 2;
/// Checking one candidate's own words against a query word costs about as much as reading
/// this many postings: its words lie elsewhere in memory.
const CANDIDATE_COST: usize = 16;
/// Seeking one candidate in one sorted postings list costs about as much as reading this many
/// postings: a few steps, each near the last.
const SEEK_COST: usize = 4;

/// The searchable index, shared by request handlers and the scanner.
pub struct SearchIndex {
    inner: RwLock<Inner>,
    derived: parking_lot::Mutex<Derived>,
    rebuild_interval: Duration,
}

/// Orders derived from the index. With them, a broad query's ties (equal tier and popularity:
/// thousands of tracks named "... love") are settled by comparing two integers instead of two
/// names, and its best few are found without looking at every match.
#[derive(Default)]
struct Derived {
    /// Every document's place in name order, as of `generation`.
    ranks: Option<Arc<Vec<u32>>>,
    /// As of `generation`.
    dense: Option<Arc<DenseWords>>,
    generation: u64,
    built: Option<Instant>,
    /// As of `generation` and `popularity`.
    walks: Option<Arc<Walks>>,
    popularity: u64,
    walks_built: Option<Instant>,
}

/// Per kind, its documents in the order they rank within one tier: the most popular first,
/// then by name. A pass that takes thousands of documents walks it and stops as soon as the
/// rest cannot make the page.
struct Walks([Vec<u32>; Kind::ALL.len()]);

/// The postings of the words that many documents hold, as bitsets over slots: per block of 64
/// slots, the documents with the word in their name, first in their name, as their name's only
/// word, and in their secondary text. Marking such a word (`track` in every title, `love` in a
/// quarter of them) is then a few operations per block instead of one per posting.
#[derive(Default)]
struct DenseWords {
    /// Bit `w` is set when word `w` is dense. A query word matches thousands of vocabulary
    /// words (`12` is in every track number holding it) and almost none are dense: this
    /// answers for them with one load instead of a hash lookup each.
    marked: Vec<u64>,
    bits: hashbrown::HashMap<u32, Box<[[u64; 4]]>, foldhash::fast::RandomState>,
}

impl DenseWords {
    fn insert(&mut self, w: usize, bits: Box<[[u64; 4]]>) {
        if self.marked.len() <= w / 64 {
            self.marked.resize(w / 64 + 1, 0);
        }
        self.marked[w / 64] |= 1 << (w % 64);
        self.bits.insert(w as u32, bits);
    }

    fn contains(&self, w: usize) -> bool {
        self.marked
            .get(w / 64)
            .is_some_and(|m| m & (1 << (w % 64)) != 0)
    }

    fn get(&self, w: usize) -> Option<&[[u64; 4]]> {
        if !self.contains(w) {
            return None;
        }
        self.bits.get(&(w as u32)).map(|b| &**b)
    }

    fn heap_bytes(&self) -> usize {
        self.marked.capacity() * 8
            + self.bits.capacity() * (std::mem::size_of::<(u32, Box<[[u64; 4]]>)>() + 1)
            + (self.bits.values())
                .map(|bits| bits.len() * 32 + ALLOC_OVERHEAD)
                .sum::<usize>()
    }
}

/// A word is kept as bitsets when at least one document in this many holds it.
const DENSE_SHARE: usize = 16;

/// While the index keeps changing (a scan, plays), the orders are rebuilt at most this often;
/// in between, ties are settled by comparing names and every match is looked at, as before any
/// orders exist.
const REBUILD_INTERVAL: Duration = Duration::from_secs(1);

impl Default for SearchIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl SearchIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::with_rebuild_interval(REBUILD_INTERVAL)
    }

    /// An empty index whose derived orders are rebuilt at most once per `interval`.
    fn with_rebuild_interval(interval: Duration) -> Self {
        Self {
            inner: RwLock::new(Inner::default()),
            derived: parking_lot::Mutex::new(Derived::default()),
            rebuild_interval: interval,
        }
    }

    /// Builds the orders now if they are stale, however recently they were last built. After
    /// a scan or at start-up the first search then finds them ready: building them for
    /// 100,000 tracks takes about 200 ms, and every search waits for it.
    pub fn prepare(&self) {
        self.derive(&self.inner.read(), true);
    }

    /// The orders for `inner` as it is, rebuilt if stale and not rebuilt too recently.
    fn orders(&self, inner: &Inner) -> Orders {
        self.derive(inner, false)
    }

    /// [`SearchIndex::orders`]; with `now`, stale orders are rebuilt even if built recently.
    fn derive(&self, inner: &Inner, now: bool) -> Orders {
        let mut d = self.derived.lock();
        let recent =
            |t: Option<Instant>| !now && t.is_some_and(|t| t.elapsed() < self.rebuild_interval);
        if d.generation != inner.generation || d.ranks.is_none() {
            if recent(d.built) {
                return Orders::default();
            }
            d.ranks = Some(Arc::new(inner.name_ranks()));
            d.dense = Some(Arc::new(inner.dense_words()));
            d.generation = inner.generation;
            d.built = Some(Instant::now());
            d.walks = None;
        }
        let ranks = d.ranks.clone();
        let dense = d.dense.clone();
        if d.walks.is_none() || d.popularity != inner.popularity {
            // Fresh ranks always get walks; a popularity change alone waits its turn.
            if d.walks.is_some() && recent(d.walks_built) {
                return Orders {
                    ranks,
                    walks: None,
                    dense,
                };
            }
            d.walks = ranks.as_deref().map(|r| Arc::new(inner.walks(r)));
            d.popularity = inner.popularity;
            d.walks_built = Some(Instant::now());
        }
        Orders {
            ranks,
            walks: d.walks.clone(),
            dense,
        }
    }

    /// Inserts a document, or replaces the one with the same kind and id.
    pub fn upsert(&self, doc: Doc) {
        let prepared = Prepared::new(doc);
        self.inner.write().insert(prepared);
    }

    /// Inserts or replaces many documents; the start-up rebuild goes through here.
    pub fn upsert_many(&self, docs: impl IntoIterator<Item = Doc>) {
        let mut docs = docs.into_iter();
        loop {
            // Folding is the expensive part and needs no lock.
            let chunk: Vec<Prepared> = docs
                .by_ref()
                .take(UPSERT_CHUNK)
                .map(Prepared::new)
                .collect();
            if chunk.is_empty() {
                return;
            }
            let mut inner = self.inner.write();
            for prepared in chunk {
                inner.insert(prepared);
            }
        }
    }

    /// Gives back the room that bulk inserts left spare: every vector here doubles as it
    /// grows, so after a large library's load up to half of each is empty.
    pub fn shrink_to_fit(&self) {
        self.inner.write().shrink_to_fit();
    }

    /// Removes a document; removing one that is not there does nothing.
    pub fn remove(&self, kind: Kind, id: u128) {
        self.inner.write().remove(kind, id);
    }

    /// Changes a document's popularity; does nothing if it is not indexed.
    pub fn set_popularity(&self, kind: Kind, id: u128, popularity: u64) {
        let mut inner = self.inner.write();
        if let Some(slot) = inner.slot_of(kind, id) {
            if inner.pops[slot as usize] != popularity {
                inner.pops[slot as usize] = popularity;
                inner.popularity += 1;
            }
        }
    }

    /// Searches names and secondary text. Every query word must match as a prefix or
    /// substring of some word; see [`MatchType`] for the order. `kinds` empty means every kind.
    /// A query that folds to nothing (empty, blank, only punctuation) matches nothing.
    pub fn search(&self, q: &str, kinds: &[Kind], limit: usize, offset: usize) -> Results {
        let Some(query) = Query::new(q) else {
            return Results::default();
        };
        let kinds = if kinds.is_empty() {
            &Kind::ALL[..]
        } else {
            kinds
        };
        let inner = self.inner.read();
        let orders = self.orders(&inner);
        let Some(sets) = inner.select(&query, false, &orders) else {
            return Results::default();
        };
        inner.rank_kinds(
            &query,
            &sets,
            kinds,
            offset.saturating_add(limit),
            offset,
            &orders,
        )
    }

    /// A page per kind, as [`SearchIndex::search`] would give for each kind alone, with the
    /// query words matched once for all of them.
    pub fn search_each(
        &self,
        q: &str,
        kinds: &[Kind],
        limit: usize,
        offset: usize,
    ) -> Vec<(Kind, Results)> {
        let Some(query) = Query::new(q) else {
            return kinds.iter().map(|&k| (k, Results::default())).collect();
        };
        let inner = self.inner.read();
        let orders = self.orders(&inner);
        match inner.select(&query, false, &orders) {
            Some(sets) => {
                let k = offset.saturating_add(limit);
                inner.rank_each(&query, &sets, kinds, k, offset, &orders)
            }
            None => kinds.iter().map(|&k| (k, Results::default())).collect(),
        }
    }

    /// Autocomplete over primary names: every word of `prefix` must start a word of the name.
    /// Names equal to the prefix come first, then names starting with it, then the rest;
    /// popularity orders each group.
    pub fn suggest(&self, prefix: &str, limit: usize) -> Vec<Suggestion> {
        match Query::new(prefix) {
            Some(query) if limit > 0 => {
                let inner = self.inner.read();
                let orders = self.orders(&inner);
                inner.suggest(&query, limit, &orders)
            }
            _ => Vec::new(),
        }
    }

    /// How many documents are indexed.
    pub fn len(&self) -> usize {
        self.inner.read().live
    }

    /// Whether no document is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap bytes held, for the status page and capacity planning. Counts
    /// allocated capacity plus a typical allocator overhead per allocation.
    pub fn heap_bytes(&self) -> usize {
        let derived = self.derived.lock().heap_bytes();
        self.inner.read().heap_bytes() + derived
    }
}

impl Derived {
    fn heap_bytes(&self) -> usize {
        let ranks = self.ranks.as_ref().map_or(0, |r| r.capacity() * 4);
        let walks = self.walks.as_ref().map_or(0, |w| {
            w.0.iter().map(|walk| walk.capacity() * 4).sum::<usize>()
        });
        let dense = self.dense.as_ref().map_or(0, |d| d.heap_bytes());
        ranks + walks + dense
    }
}

/// A document with its text folded, ready to be inserted under the lock.
struct Prepared {
    kind: Kind,
    id: u128,
    name: String,
    folded: String,
    secondary: String,
    popularity: u64,
}

impl Prepared {
    fn new(doc: Doc) -> Self {
        let folded = fold(&doc.name);
        let mut secondary = String::new();
        for s in &doc.secondary {
            secondary.push_str(&fold(s));
            secondary.push(' ');
        }
        Self {
            kind: doc.kind,
            id: doc.id,
            name: doc.name,
            folded,
            secondary,
            popularity: doc.popularity,
        }
    }
}

/// A folded query and its distinct words, in query order.
struct Query {
    text: String,
    words: Vec<String>,
}

impl Query {
    fn new(raw: &str) -> Option<Self> {
        let mut end = raw.len().min(MAX_QUERY_BYTES);
        while !raw.is_char_boundary(end) {
            end -= 1;
        }
        let text = fold(&raw[..end]);
        let mut words: Vec<String> = Vec::new();
        for w in text.split(' ').filter(|w| !w.is_empty()) {
            if words.len() == MAX_QUERY_WORDS {
                break;
            }
            if !words.iter().any(|seen| seen == w) {
                words.push(w.to_owned());
            }
        }
        (!words.is_empty()).then_some(Self { text, words })
    }

    /// Whether the query is one word, so that "the name starts with the query" is "the name's
    /// first word starts with it", which the postings record.
    fn is_one_word(&self) -> bool {
        !self.text.contains(' ')
    }
}

/// A word's postings. Most words of a large library (numbers, rare names) occur in one or
/// two documents: kept inline, they cost no allocation of their own.
type Postings = smallvec::SmallVec<[u32; 4]>;

/// Every distinct folded word, with what is needed to match query words against it quickly.
/// A freed word id has an empty text, no byte pairs and no postings until it is reused.
#[derive(Default)]
struct Vocab {
    /// Word ids by the hash of their text: the text itself lives once, in `texts`.
    ids: hashbrown::HashTable<u32>,
    hasher: std::hash::RandomState,
    texts: Texts,
    /// Word ids by each distinct pair of adjacent bytes in their text, each list sorted: a word
    /// containing a query word of two bytes or more contains all of its pairs, so the shortest
    /// of their lists holds every candidate, and reading it costs far less than testing every
    /// word (a large library's vocabulary is as large as its track count: titles carry numbers).
    /// Words of one byte have no pair and are not listed.
    grams: hashbrown::HashMap<u16, Vec<u32>, foldhash::fast::RandomState>,
    /// First byte of each word, so that prefix scans skip most words without touching text.
    heads: Vec<u8>,
    /// Documents whose name has the word, as `slot << POSTING_SHIFT | bits` (see
    /// [`NAME_FIRST`]), sorted by slot.
    name_postings: Vec<Postings>,
    /// Documents whose secondary text but not name has the word, in the same form. Apart from
    /// the name postings because autocomplete never reads them.
    secondary_postings: Vec<Postings>,
    free: Vec<u32>,
    /// Longest word ever interned: a longer query word cannot match anything.
    max_len: usize,
}

/// The distinct pairs of adjacent bytes in `word`, each as one number.
fn grams(word: &str) -> smallvec::SmallVec<[u16; 16]> {
    let mut grams: smallvec::SmallVec<[u16; 16]> = word
        .as_bytes()
        .windows(2)
        .map(|w| u16::from(w[0]) << 8 | u16::from(w[1]))
        .collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// Every word's text back to back, `spans[id]` giving where word `id`'s is: one allocation
/// instead of one a word, as a library's vocabulary can be as large as its track count (titles
/// carry numbers). A freed word leaves its text behind as garbage until the next compaction.
#[derive(Default)]
struct Texts {
    text: String,
    spans: Vec<(u32, u32)>,
    garbage: usize,
}

impl Texts {
    fn get(&self, id: usize) -> &str {
        let (start, len) = self.spans[id];
        &self.text[start as usize..(start + len) as usize]
    }

    /// Stores `word` as word `id`'s text; `id` is a freed word's or the next new one.
    fn set(&mut self, id: usize, word: &str) {
        let span = (self.text.len() as u32, word.len() as u32);
        self.text.push_str(word);
        match self.spans.get_mut(id) {
            Some(at) => *at = span,
            None => self.spans.push(span),
        }
    }

    fn free(&mut self, id: usize) {
        self.garbage += self.spans[id].1 as usize;
        self.spans[id] = (0, 0);
        self.compact_if_wasteful();
    }

    /// Rewrites the text without garbage once garbage is half of it, as the index's arenas do.
    fn compact_if_wasteful(&mut self) {
        if self.garbage <= 65536 || self.garbage * 2 <= self.text.len() {
            return;
        }
        let mut text = String::with_capacity(self.text.len() - self.garbage);
        for span in &mut self.spans {
            let (start, len) = *span;
            *span = (text.len() as u32, len);
            text.push_str(&self.text[start as usize..(start + len) as usize]);
        }
        self.text = text;
        self.garbage = 0;
    }

    fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.spans.shrink_to_fit();
    }

    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.spans.capacity() * 8
    }
}

impl Vocab {
    fn text(&self, id: usize) -> &str {
        self.texts.get(id)
    }

    fn len(&self) -> usize {
        self.texts.spans.len()
    }

    fn shrink_to_fit(&mut self) {
        let Self {
            ids, texts, hasher, ..
        } = self;
        ids.shrink_to_fit(|&i| hasher.hash_one(texts.get(i as usize)));
        self.texts.shrink_to_fit();
        self.grams.values_mut().for_each(Vec::shrink_to_fit);
        self.grams.shrink_to_fit();
        self.heads.shrink_to_fit();
        for list in self
            .name_postings
            .iter_mut()
            .chain(&mut self.secondary_postings)
        {
            list.shrink_to_fit();
        }
        self.name_postings.shrink_to_fit();
        self.secondary_postings.shrink_to_fit();
        self.free.shrink_to_fit();
    }

    fn find(&self, word: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(word);
        self.ids
            .find(hash, |&id| self.text(id as usize) == word)
            .copied()
    }

    fn intern(&mut self, word: &str) -> u32 {
        if let Some(id) = self.find(word) {
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                let i = id as usize;
                self.texts.set(i, word);
                self.heads[i] = word.as_bytes()[0];
                id
            }
            None => {
                self.texts.set(self.heads.len(), word);
                self.heads.push(word.as_bytes()[0]);
                self.name_postings.push(Postings::new());
                self.secondary_postings.push(Postings::new());
                (self.heads.len() - 1) as u32
            }
        };
        let Self {
            ids, texts, hasher, ..
        } = self;
        ids.insert_unique(hasher.hash_one(word), id, |&i| {
            hasher.hash_one(texts.get(i as usize))
        });
        for gram in grams(word) {
            let list = self.grams.entry(gram).or_default();
            // Ids are mostly new ones, larger than any listed, so this is usually a push.
            match list.last() {
                Some(&last) if last > id => {
                    let at = list.partition_point(|&w| w < id);
                    list.insert(at, id);
                }
                _ => list.push(id),
            }
        }
        self.max_len = self.max_len.max(word.len());
        id
    }

    fn add_posting(&mut self, word: u32, in_name: bool, slot: u32, bits: u32) {
        let list = if in_name {
            &mut self.name_postings[word as usize]
        } else {
            &mut self.secondary_postings[word as usize]
        };
        let posting = slot << POSTING_SHIFT | bits;
        // Slots are mostly handed out in increasing order, so this is usually a push.
        match list.last() {
            Some(&last) if last >> POSTING_SHIFT > slot => {
                let at = list.partition_point(|&p| p >> POSTING_SHIFT < slot);
                list.insert(at, posting);
            }
            _ => list.push(posting),
        }
    }

    fn remove_posting(&mut self, word: u32, in_name: bool, slot: u32) {
        let w = word as usize;
        let list = if in_name {
            &mut self.name_postings[w]
        } else {
            &mut self.secondary_postings[w]
        };
        let at = list.partition_point(|&p| p >> POSTING_SHIFT < slot);
        if list.get(at).is_some_and(|&p| p >> POSTING_SHIFT == slot) {
            list.remove(at);
        }
        if self.name_postings[w].is_empty() && self.secondary_postings[w].is_empty() {
            let hash = self.hasher.hash_one(self.text(w));
            if let Ok(entry) = self.ids.find_entry(hash, |&i| i == word) {
                entry.remove();
            }
            for gram in grams(self.texts.get(w)) {
                if let Some(list) = self.grams.get_mut(&gram) {
                    if let Ok(at) = list.binary_search(&word) {
                        list.remove(at);
                    }
                    if list.is_empty() {
                        self.grams.remove(&gram);
                    }
                }
            }
            self.texts.free(w);
            self.heads[w] = 0;
            self.name_postings[w] = Postings::new();
            self.secondary_postings[w] = Postings::new();
            self.free.push(word);
        }
    }

    /// How many postings word `w` has: the cost of reading them.
    fn postings_len(&self, w: usize, prefix_only: bool) -> usize {
        self.name_postings[w].len()
            + if prefix_only {
                0
            } else {
                self.secondary_postings[w].len()
            }
    }

    /// The words that `word` is a prefix of, or (unless `prefix_only`) a substring of, each
    /// with whether it is a prefix, in id order.
    fn scan(&self, word: &str, prefix_only: bool) -> Vec<(usize, bool)> {
        let mut matched = Vec::new();
        if word.len() > self.max_len {
            return matched;
        }
        let head = word.as_bytes()[0];
        if word.len() == 1 {
            // One byte has no pair to look up; the first bytes answer prefixes without
            // reading texts, and substrings need every text.
            for (id, &h) in self.heads.iter().enumerate() {
                if h == head {
                    matched.push((id, true));
                } else if !prefix_only && h != 0 && self.text(id).as_bytes().contains(&head) {
                    matched.push((id, false));
                }
            }
            return matched;
        }
        let bytes = word.as_bytes();
        let lists = if prefix_only {
            // The first pair starts every word the query word is a prefix of.
            vec![self
                .grams
                .get(&(u16::from(bytes[0]) << 8 | u16::from(bytes[1])))]
        } else {
            grams(word)
                .into_iter()
                .map(|g| self.grams.get(&g))
                .collect()
        };
        let Some(Some(shortest)) = lists.into_iter().min_by_key(|l| l.map_or(0, |l| l.len()))
        else {
            return matched;
        };
        // Every word listed for a two-byte query word's one pair contains it.
        let contains = |id: usize| bytes.len() == 2 || self.text(id).contains(word);
        for &id in shortest {
            let id = id as usize;
            // The first byte rules out a prefix without reading the text.
            if self.heads[id] == head && self.text(id).starts_with(word) {
                matched.push((id, true));
            } else if !prefix_only && contains(id) {
                matched.push((id, false));
            }
        }
        matched
    }

    fn heap_bytes(&self) -> usize {
        let postings: usize = self
            .name_postings
            .iter()
            .chain(&self.secondary_postings)
            .filter(|p| p.spilled())
            .map(|p| p.capacity() * 4 + ALLOC_OVERHEAD)
            .sum();
        let grams: usize = self
            .grams
            .values()
            .map(|l| l.capacity() * 4 + ALLOC_OVERHEAD)
            .sum();
        // The id table holds an id and a control byte per bucket.
        self.texts.heap_bytes()
            + self.ids.capacity() * (std::mem::size_of::<u32>() + 1)
            + self.grams.capacity() * (std::mem::size_of::<(u16, Vec<u32>)>() + 1)
            + grams
            + self.heads.capacity()
            + (self.name_postings.capacity() + self.secondary_postings.capacity()) * 24
            + postings
            + self.free.capacity() * 4
    }
}

/// What a typical allocator adds to each allocation.
const ALLOC_OVERHEAD: usize = 16;

/// For one block of 64 slots, the documents that satisfy each condition, for one query word
/// or, once intersected, for all of them. Bit `i` stands for slot `64 * block + i`.
#[derive(Clone, Copy, Default, PartialEq)]
struct Block {
    /// Matched somewhere.
    any: u64,
    /// Matched in the name.
    name: u64,
    /// Starts a word of the name.
    name_prefix: u64,
    /// Starts a word of the name or of the secondary text.
    prefix: u64,
    /// Starts the name's first word (first query word only).
    first: u64,
    /// Is the name's only word (first query word of a one-word query only).
    exact: u64,
}

/// All ones if `condition` holds, so that setting a bit needs no branch.
fn ones_if(condition: bool) -> u64 {
    0u64.wrapping_sub(u64::from(condition))
}

/// Match tiers in rank order: the tier a pass yields, and the documents it takes. The first
/// two take the names whose first word starts with the query's, split by the `exact` bit: for
/// a longer query, reading each of their names tells exact, prefix and word-prefix matches
/// apart instead (see [`Inner::rank`]).
type Pass = (u8, fn(&Block) -> u64);
const PASSES: [Pass; 6] = [
    (0, |b| b.name_prefix & b.first & b.exact),
    (1, |b| b.name_prefix & b.first & !b.exact),
    (2, |b| b.name_prefix & !b.first),
    (3, |b| b.name & !b.name_prefix),
    (4, |b| b.any & !b.name & b.prefix),
    (5, |b| b.any & !b.name & !b.prefix),
];

/// The passes autocomplete takes: word prefixes of names.
const SUGGEST_PASSES: usize = 3;

/// The derived orders a search may use; any may be missing while the index changes.
#[derive(Default)]
struct Orders {
    ranks: Option<Arc<Vec<u32>>>,
    walks: Option<Arc<Walks>>,
    dense: Option<Arc<DenseWords>>,
}

/// Where a slot's word list and folded name sit in the arenas.
#[derive(Clone, Copy, Default)]
struct Span {
    /// Start of the slot's distinct words in `word_arena`: the name's in name order (so the
    /// first is the name's first word), then those only in the secondary text.
    words: u32,
    name_words: u32,
    word_count: u32,
    /// Start and length of the folded name in `name_arena`; the name as given follows it.
    name: u32,
    name_len: u32,
    display_len: u32,
}

/// The index proper. Slot `i` of each parallel vector describes one document; a free slot has
/// no kind and an empty span.
#[derive(Default)]
struct Inner {
    /// Slots by the hash of their document's id; the kind and id live once, in `kinds` and
    /// `ids`. A map keyed by (kind, id) would spend 48 bytes an entry on a copy of both.
    by_key: hashbrown::HashTable<u32>,
    key_hasher: foldhash::fast::RandomState,
    kinds: Vec<Option<Kind>>,
    /// One bitset over slots per kind, for counting matches per kind and filtering by kind.
    kind_slots: [Vec<u64>; Kind::ALL.len()],
    pops: Vec<u64>,
    spans: Vec<Span>,
    /// Word lists and names (folded, then as given) of all documents, back to back: two
    /// allocations instead of three per document save many megabytes of allocator overhead on a
    /// large library.
    /// Replaced entries stay behind as garbage until [`Inner::compact_if_wasteful`].
    word_arena: Vec<u32>,
    name_arena: String,
    garbage_words: usize,
    garbage_name_bytes: usize,
    ids: Vec<u128>,
    free_slots: Vec<u32>,
    live: usize,
    vocab: Vocab,
    /// Bumped by every insert and removal, so derived orders know when they are stale.
    generation: u64,
    /// Bumped by every change of a popularity, which the walks depend on.
    popularity: u64,
}

impl Inner {
    fn slot_of(&self, kind: Kind, id: u128) -> Option<u32> {
        let hash = self.key_hasher.hash_one(id);
        let (kinds, ids) = (&self.kinds, &self.ids);
        (self.by_key)
            .find(hash, |&s| {
                kinds[s as usize] == Some(kind) && ids[s as usize] == id
            })
            .copied()
    }

    fn insert(&mut self, doc: Prepared) {
        self.generation += 1;
        let slot = match self.slot_of(doc.kind, doc.id) {
            Some(slot) => slot,
            None => {
                let slot = match self.free_slots.pop() {
                    Some(slot) => slot,
                    None => {
                        self.kinds.push(None);
                        self.pops.push(0);
                        self.spans.push(Span::default());
                        self.ids.push(0);
                        let blocks = self.kinds.len().div_ceil(64);
                        for slots in &mut self.kind_slots {
                            slots.resize(blocks, 0);
                        }
                        (self.kinds.len() - 1) as u32
                    }
                };
                let s = slot as usize;
                // Set before the slot is hashed in: growing the table rehashes every entry
                // from `ids`.
                self.kinds[s] = Some(doc.kind);
                self.ids[s] = doc.id;
                let Self {
                    by_key,
                    key_hasher,
                    ids,
                    ..
                } = self;
                by_key.insert_unique(key_hasher.hash_one(doc.id), slot, |&t| {
                    key_hasher.hash_one(ids[t as usize])
                });
                self.live += 1;
                slot
            }
        };
        self.detach(slot);
        let s = slot as usize;

        let mut name_words: Vec<u32> = doc
            .folded
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| self.vocab.intern(w))
            .collect();
        dedup_keep_order(&mut name_words);
        let mut secondary_words: Vec<u32> = doc
            .secondary
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| self.vocab.intern(w))
            .collect();
        secondary_words.sort_unstable();
        secondary_words.dedup();

        let single_word = !doc.folded.contains(' ');
        for (i, &w) in name_words.iter().enumerate() {
            let bits = match (i, single_word) {
                (0, true) => NAME_FIRST | NAME_SINGLE,
                (0, false) => NAME_FIRST,
                _ => 0,
            };
            self.vocab.add_posting(w, true, slot, bits);
        }
        let mut name_sorted = name_words.clone();
        name_sorted.sort_unstable();
        secondary_words.retain(|w| name_sorted.binary_search(w).is_err());
        for &w in &secondary_words {
            self.vocab.add_posting(w, false, slot, 0);
        }

        self.spans[s] = Span {
            words: self.word_arena.len() as u32,
            name_words: name_words.len() as u32,
            word_count: (name_words.len() + secondary_words.len()) as u32,
            name: self.name_arena.len() as u32,
            name_len: doc.folded.len() as u32,
            display_len: doc.name.len() as u32,
        };
        self.word_arena.extend_from_slice(&name_words);
        self.word_arena.extend_from_slice(&secondary_words);
        self.name_arena.push_str(&doc.folded);
        self.name_arena.push_str(&doc.name);
        self.kinds[s] = Some(doc.kind);
        self.kind_slots[doc.kind.index()][s / 64] |= 1 << (s % 64);
        self.pops[s] = doc.popularity;
        self.ids[s] = doc.id;
        self.compact_if_wasteful();
    }

    fn remove(&mut self, kind: Kind, id: u128) {
        let hash = self.key_hasher.hash_one(id);
        let (kinds, ids) = (&self.kinds, &self.ids);
        let Ok(entry) = (self.by_key).find_entry(hash, |&s| {
            kinds[s as usize] == Some(kind) && ids[s as usize] == id
        }) else {
            return;
        };
        let (slot, _) = entry.remove();
        self.generation += 1;
        self.detach(slot);
        let s = slot as usize;
        self.kinds[s] = None;
        self.kind_slots[kind.index()][s / 64] &= !(1 << (s % 64));
        self.free_slots.push(slot);
        self.live -= 1;
        self.compact_if_wasteful();
    }

    /// Takes the slot out of every postings list and leaves its arena entries as garbage.
    fn detach(&mut self, slot: u32) {
        let span = std::mem::take(&mut self.spans[slot as usize]);
        let start = span.words as usize;
        for i in 0..span.word_count as usize {
            let in_name = i < span.name_words as usize;
            self.vocab
                .remove_posting(self.word_arena[start + i], in_name, slot);
        }
        self.garbage_words += span.word_count as usize;
        self.garbage_name_bytes += (span.name_len + span.display_len) as usize;
    }

    fn shrink_to_fit(&mut self) {
        let Self {
            by_key,
            key_hasher,
            ids,
            ..
        } = self;
        by_key.shrink_to_fit(|&t| key_hasher.hash_one(ids[t as usize]));
        self.kinds.shrink_to_fit();
        self.kind_slots.iter_mut().for_each(Vec::shrink_to_fit);
        self.pops.shrink_to_fit();
        self.spans.shrink_to_fit();
        self.word_arena.shrink_to_fit();
        self.name_arena.shrink_to_fit();
        self.ids.shrink_to_fit();
        self.free_slots.shrink_to_fit();
        self.vocab.shrink_to_fit();
    }

    /// Rewrites the arenas without garbage once garbage is half of them, so that memory stays
    /// within twice the live size while the copying cost is spread over as many changes as
    /// were made since the last compaction.
    fn compact_if_wasteful(&mut self) {
        let words_wasteful =
            self.garbage_words > 4096 && self.garbage_words * 2 > self.word_arena.len();
        let names_wasteful =
            self.garbage_name_bytes > 65536 && self.garbage_name_bytes * 2 > self.name_arena.len();
        if !(words_wasteful || names_wasteful) {
            return;
        }
        let mut words = Vec::with_capacity(self.word_arena.len() - self.garbage_words);
        let mut names = String::with_capacity(self.name_arena.len() - self.garbage_name_bytes);
        for span in &mut self.spans {
            let (w, n) = (span.words as usize, span.name as usize);
            let new_words = words.len() as u32;
            words.extend_from_slice(&self.word_arena[w..w + span.word_count as usize]);
            let new_name = names.len() as u32;
            names.push_str(&self.name_arena[n..n + (span.name_len + span.display_len) as usize]);
            span.words = new_words;
            span.name = new_name;
        }
        self.word_arena = words;
        self.name_arena = names;
        self.garbage_words = 0;
        self.garbage_name_bytes = 0;
    }

    fn folded(&self, slot: usize) -> &str {
        let span = &self.spans[slot];
        &self.name_arena[span.name as usize..(span.name + span.name_len) as usize]
    }

    /// Every live slot's place in the order of (folded name, name, kind, id): the order
    /// [`Candidate`] breaks ties in. Free slots get `u32::MAX`.
    fn name_ranks(&self) -> Vec<u32> {
        let mut slots: Vec<u32> = (0..self.kinds.len() as u32)
            .filter(|&s| self.kinds[s as usize].is_some())
            .collect();
        let key = |s: u32| {
            let s = s as usize;
            (self.folded(s), self.display(s), self.kinds[s], self.ids[s])
        };
        slots.sort_unstable_by(|&a, &b| key(a).cmp(&key(b)));
        let mut ranks = vec![u32::MAX; self.kinds.len()];
        for (rank, &slot) in slots.iter().enumerate() {
            ranks[slot as usize] = rank as u32;
        }
        ranks
    }

    /// The words at least one document in [`DENSE_SHARE`] holds, as bitsets.
    fn dense_words(&self) -> DenseWords {
        let blocks = self.kinds.len().div_ceil(64);
        let least = (self.kinds.len() / DENSE_SHARE).max(1);
        let vocab = &self.vocab;
        let mut dense = DenseWords::default();
        for w in 0..vocab.len() {
            let (name, secondary) = (&vocab.name_postings[w], &vocab.secondary_postings[w]);
            if name.len() + secondary.len() < least {
                continue;
            }
            let mut bits = vec![[0u64; 4]; blocks];
            for &p in name {
                let slot = (p >> POSTING_SHIFT) as usize;
                let (b, bit) = (&mut bits[slot / 64], 1u64 << (slot % 64));
                b[0] |= bit;
                b[1] |= bit & ones_if(p & NAME_FIRST != 0);
                b[2] |= bit & ones_if(p & NAME_SINGLE != 0);
            }
            for &p in secondary {
                let slot = (p >> POSTING_SHIFT) as usize;
                bits[slot / 64][3] |= 1u64 << (slot % 64);
            }
            dense.insert(w, bits.into_boxed_slice());
        }
        dense
    }

    /// Each kind's live slots, most popular first, then in name order (`ranks`).
    fn walks(&self, ranks: &[u32]) -> Walks {
        let mut walks: [Vec<u32>; Kind::ALL.len()] = Default::default();
        for (slot, kind) in self.kinds.iter().enumerate() {
            if let Some(kind) = kind {
                walks[kind.index()].push(slot as u32);
            }
        }
        for walk in &mut walks {
            walk.sort_unstable_by_key(|&s| (Reverse(self.pops[s as usize]), ranks[s as usize]));
        }
        Walks(walks)
    }

    fn display(&self, slot: usize) -> &str {
        let span = &self.spans[slot];
        let start = (span.name + span.name_len) as usize;
        &self.name_arena[start..start + span.display_len as usize]
    }

    /// The documents matching every query word, by condition; `None` if none match. In
    /// `prefix_only` mode, for autocomplete, only word prefixes in names count.
    fn select(&self, query: &Query, prefix_only: bool, orders: &Orders) -> Option<Vec<Block>> {
        let dense = orders.dense.as_deref();
        let blocks = self.kinds.len().div_ceil(64);
        let mut words = Vec::with_capacity(query.words.len());
        for (j, word) in query.words.iter().enumerate() {
            let matched = self.vocab.scan(word, prefix_only);
            if matched.is_empty() {
                return None;
            }
            let cost: usize = matched
                .iter()
                .map(|&(w, _)| match dense.is_some_and(|d| d.contains(w)) {
                    true => blocks,
                    false => self.vocab.postings_len(w, prefix_only),
                })
                .sum();
            words.push((cost, j, matched));
        }
        // The cheapest word first: it leaves the fewest candidates, and once candidates are
        // few, checking each one's words is cheaper than reading a common word's postings.
        words.sort_unstable_by_key(|&(cost, j, _)| (cost, j));
        let mut all = vec![Block::default(); blocks];
        let mut one = Vec::new();
        let mut candidates: usize = 0;
        for (n, (cost, j, matched)) in words.into_iter().enumerate() {
            let word = &query.words[j];
            let lists = matched.len() * if prefix_only { 1 } else { 2 };
            let seek_cost = candidates.saturating_mul(lists).saturating_mul(SEEK_COST);
            if n == 0 {
                self.mark(&mut all, None, dense, word, j == 0, &matched, prefix_only);
            } else if candidates * CANDIDATE_COST < cost.min(seek_cost) {
                self.narrow(&mut all, j == 0, &matched, prefix_only);
            } else {
                one.clear();
                one.resize(blocks, Block::default());
                let among = (seek_cost < cost).then_some(all.as_slice());
                self.mark(&mut one, among, dense, word, j == 0, &matched, prefix_only);
                for (a, o) in all.iter_mut().zip(&one) {
                    a.any &= o.any;
                    a.name &= o.name;
                    a.name_prefix &= o.name_prefix;
                    a.prefix &= o.prefix;
                    if j == 0 {
                        a.first = o.first;
                        a.exact = o.exact;
                    }
                }
            }
            candidates = all.iter().map(|b| b.any.count_ones() as usize).sum();
            if candidates == 0 {
                return None;
            }
        }
        Some(all)
    }

    /// Sets, in `sets`, the documents one query word matches, from the postings of the
    /// vocabulary words it matched. `first_word`: it is the query's first word, which alone
    /// decides `first` and `exact`. With `among`, only the documents in it are looked for, each
    /// sought in the postings instead of every posting being read.
    #[allow(clippy::too_many_arguments)]
    fn mark(
        &self,
        sets: &mut [Block],
        among: Option<&[Block]>,
        dense: Option<&DenseWords>,
        word: &str,
        first_word: bool,
        matched: &[(usize, bool)],
        prefix_only: bool,
    ) {
        let vocab = &self.vocab;
        for &(w, is_prefix) in matched {
            let is_query = first_word && vocab.text(w).len() == word.len();
            if let Some(bits) = dense.and_then(|d| d.get(w)) {
                for (i, (b, &[name, first, single, secondary])) in
                    sets.iter_mut().zip(bits.iter()).enumerate()
                {
                    let allowed = among.map_or(u64::MAX, |a| a[i].any);
                    let name = name & allowed;
                    let anywhere = name | secondary & allowed & ones_if(!prefix_only);
                    b.any |= anywhere;
                    b.name |= name;
                    if is_prefix {
                        b.prefix |= anywhere;
                        b.name_prefix |= name;
                        if first_word {
                            b.first |= first & allowed;
                            b.exact |= single & allowed & ones_if(is_query);
                        }
                    }
                }
                continue;
            }
            let in_name = |b: &mut Block, bit: u64, p: u32| {
                b.any |= bit;
                b.name |= bit;
                if is_prefix {
                    b.prefix |= bit;
                    b.name_prefix |= bit;
                    if first_word {
                        b.first |= bit & ones_if(p & NAME_FIRST != 0);
                        b.exact |= bit & ones_if(is_query && p & NAME_SINGLE != 0);
                    }
                }
            };
            let in_secondary = |b: &mut Block, bit: u64, _: u32| {
                b.any |= bit;
                b.prefix |= bit & ones_if(is_prefix);
            };
            match among {
                None => postings_into(sets, &vocab.name_postings[w], in_name),
                Some(among) => seek_into(sets, among, &vocab.name_postings[w], in_name),
            }
            if prefix_only {
                continue;
            }
            match among {
                None => postings_into(sets, &vocab.secondary_postings[w], in_secondary),
                Some(among) => seek_into(sets, among, &vocab.secondary_postings[w], in_secondary),
            }
        }
    }

    /// Like [`Inner::mark`] followed by an intersection, but by looking up each remaining
    /// candidate's own words instead of reading postings. Never sets `exact`: only one-word
    /// queries read it, and their one word is always marked from postings.
    fn narrow(
        &self,
        sets: &mut [Block],
        first_word: bool,
        matched: &[(usize, bool)],
        prefix_only: bool,
    ) {
        const INSIDE: u8 = 1;
        const PREFIX: u8 = 2;
        let mut how = vec![0u8; self.vocab.len()];
        for &(w, is_prefix) in matched {
            how[w] = if is_prefix { PREFIX } else { INSIDE };
        }
        for (i, b) in sets.iter_mut().enumerate() {
            let mut bits = b.any;
            while bits != 0 {
                let bit = bits & bits.wrapping_neg();
                bits ^= bit;
                let span = &self.spans[i * 64 + bit.trailing_zeros() as usize];
                let start = span.words as usize;
                let words = &self.word_arena[start..start + span.word_count as usize];
                let (name, secondary) = words.split_at(span.name_words as usize);
                let best = |ws: &[u32]| ws.iter().map(|&w| how[w as usize]).max().unwrap_or(0);
                let in_name = best(name);
                let anywhere = if prefix_only {
                    in_name
                } else {
                    in_name.max(best(secondary))
                };
                let clear = |set: &mut u64, keep: bool| *set &= !bit | ones_if(keep);
                clear(&mut b.any, anywhere > 0);
                clear(&mut b.name, in_name > 0);
                clear(&mut b.name_prefix, in_name == PREFIX);
                clear(&mut b.prefix, anywhere == PREFIX);
                if first_word {
                    let first = name.first().is_some_and(|&w| how[w as usize] == PREFIX);
                    b.first = b.first & !bit | bit & ones_if(first);
                }
            }
        }
    }

    /// The best `k` of the selected documents that `allowed` lets through, taking the match
    /// tiers in order until the heap is full of better ones. Passes after `passes` are skipped.
    /// `blocks`: the indexes of the blocks of `sets` that hold a selected document, each with
    /// the mask of its documents that may be ranked; the others are not looked at, in any pass.
    /// `walk`: when every allowed document is of one kind, that kind's walk (it needs `ranks`).
    #[allow(clippy::too_many_arguments)]
    fn rank<'a>(
        &'a self,
        query: &Query,
        sets: &[Block],
        blocks: &[(u32, u64)],
        passes: usize,
        k: usize,
        ranks: Option<&[u32]>,
        walk: Option<&[u32]>,
    ) -> Vec<Candidate<'a>> {
        let mut top = TopK::new(k);
        for (pass, &(pass_tier, take)) in PASSES[..passes].iter().enumerate() {
            // Only a one-word query's `exact` bits mean an exact match.
            let read_names = pass <= 1 && !query.is_one_word();
            if top.is_full_above(if read_names { 0 } else { pass_tier }) {
                break;
            }
            if let (false, Some(walk), Some(ranks)) = (read_names, walk, ranks) {
                let taken: usize = blocks
                    .iter()
                    .map(|&(i, allowed)| (take(&sets[i as usize]) & allowed).count_ones() as usize)
                    .sum();
                // A walk finds the page after about `walk.len() * k / taken` steps; looking at
                // every match takes `taken`.
                if taken > 0 && walk.len().saturating_mul(k) < taken.saturating_mul(taken) {
                    self.walk(&mut top, pass_tier, take, sets, walk, ranks);
                    continue;
                }
            }
            for &(i, allowed) in blocks {
                let i = i as usize;
                let block = &sets[i];
                let mut bits = take(block) & allowed;
                while bits != 0 {
                    let bit = bits & bits.wrapping_neg();
                    bits ^= bit;
                    let slot = i * 64 + bit.trailing_zeros() as usize;
                    let Some(kind) = self.kinds[slot] else {
                        continue;
                    };
                    let rank = ranks.map_or(0, |r| r[slot]);
                    let tier = if !read_names {
                        pass_tier
                    } else {
                        // Only a name as long as the query can equal it: the others need not
                        // be read unless a prefix match would make the page.
                        let best = u8::from(self.spans[slot].name_len as usize != query.text.len());
                        if !top.would_take(best, self.pops[slot], rank) {
                            continue;
                        }
                        let folded = self.folded(slot);
                        if !folded.starts_with(&query.text) {
                            2
                        } else if folded.len() == query.text.len() {
                            0
                        } else {
                            1
                        }
                    };
                    top.offer(tier, self.pops[slot], rank, || {
                        self.candidate(tier, kind, slot, rank)
                    });
                }
            }
        }
        top.into_sorted()
    }

    /// Offers the documents one pass takes in `walk` order, which is their rank order within
    /// the pass's tier: the first one the heap turns away ends the pass.
    fn walk<'a>(
        &'a self,
        top: &mut TopK<'a>,
        tier: u8,
        take: fn(&Block) -> u64,
        sets: &[Block],
        walk: &[u32],
        ranks: &[u32],
    ) {
        for &slot in walk {
            let slot = slot as usize;
            if take(&sets[slot / 64]) & 1 << (slot % 64) == 0 {
                continue;
            }
            let Some(kind) = self.kinds[slot] else {
                continue;
            };
            let rank = ranks[slot];
            if !top.offer(tier, self.pops[slot], rank, || {
                self.candidate(tier, kind, slot, rank)
            }) {
                return;
            }
        }
    }

    /// Totals and the page of the selected documents of `kinds`.
    fn rank_kinds(
        &self,
        query: &Query,
        sets: &[Block],
        kinds: &[Kind],
        k: usize,
        offset: usize,
        orders: &Orders,
    ) -> Results {
        let mut totals = [0; Kind::ALL.len()];
        let wanted: Vec<usize> = Kind::ALL
            .into_iter()
            .filter(|k| kinds.contains(k))
            .map(Kind::index)
            .collect();
        // The blocks with a selected document of a wanted kind, found while counting: a kind
        // with few matches then ranks them without walking every block once per pass.
        let mut blocks = Vec::new();
        for (i, b) in sets.iter().enumerate() {
            let mut allowed = 0;
            for &k in &wanted {
                let of_kind = b.any & self.kind_slots[k][i];
                totals[k] += of_kind.count_ones() as usize;
                allowed |= of_kind;
            }
            if allowed != 0 {
                blocks.push((i as u32, allowed));
            }
        }
        let walk = match (&orders.walks, wanted.as_slice()) {
            (Some(walks), &[kind]) => Some(walks.0[kind].as_slice()),
            _ => None,
        };
        let ranks = orders.ranks.as_deref().map(Vec::as_slice);
        let found = self.rank(query, sets, &blocks, PASSES.len(), k, ranks, walk);
        Results {
            hits: page(found, offset),
            totals,
        }
    }

    /// For each of `kinds`, its total and page of the selected documents, as
    /// [`Inner::rank_kinds`] would give for that kind alone, counted in one pass over `sets`.
    fn rank_each(
        &self,
        query: &Query,
        sets: &[Block],
        kinds: &[Kind],
        k: usize,
        offset: usize,
        orders: &Orders,
    ) -> Vec<(Kind, Results)> {
        let mut blocks = vec![Vec::new(); kinds.len()];
        let mut totals = vec![0; kinds.len()];
        for (i, b) in sets.iter().enumerate().filter(|(_, b)| b.any != 0) {
            for (j, kind) in kinds.iter().enumerate() {
                let of_kind = b.any & self.kind_slots[kind.index()][i];
                if of_kind != 0 {
                    totals[j] += of_kind.count_ones() as usize;
                    blocks[j].push((i as u32, of_kind));
                }
            }
        }
        let ranks = orders.ranks.as_deref().map(Vec::as_slice);
        kinds
            .iter()
            .zip(blocks.iter().zip(totals))
            .map(|(&kind, (blocks, total))| {
                let walk = orders.walks.as_ref().map(|w| w.0[kind.index()].as_slice());
                let found = self.rank(query, sets, blocks, PASSES.len(), k, ranks, walk);
                let mut results = Results {
                    hits: page(found, offset),
                    totals: [0; Kind::ALL.len()],
                };
                results.totals[kind.index()] = total;
                (kind, results)
            })
            .collect()
    }

    fn suggest(&self, query: &Query, limit: usize, orders: &Orders) -> Vec<Suggestion> {
        let Some(sets) = self.select(query, true, orders) else {
            return Vec::new();
        };
        let ranks = orders.ranks.as_deref().map(Vec::as_slice);
        let blocks: Vec<(u32, u64)> = (0..sets.len())
            .filter(|&i| sets[i].any != 0)
            .map(|i| (i as u32, u64::MAX))
            .collect();
        self.rank(query, &sets, &blocks, SUGGEST_PASSES, limit, ranks, None)
            .into_iter()
            .map(|c| Suggestion {
                kind: c.kind,
                id: c.id,
                name: c.name.to_owned(),
            })
            .collect()
    }

    fn candidate(&self, tier: u8, kind: Kind, slot: usize, rank: u32) -> Candidate<'_> {
        Candidate {
            tier,
            popularity: Reverse(self.pops[slot]),
            rank,
            folded: self.folded(slot),
            name: self.display(slot),
            kind,
            id: self.ids[slot],
        }
    }

    fn heap_bytes(&self) -> usize {
        let kind_slots: usize = self.kind_slots.iter().map(|s| s.capacity() * 8).sum();
        self.by_key.capacity() * (std::mem::size_of::<u32>() + 1)
            + self.kinds.capacity()
            + kind_slots
            + self.pops.capacity() * 8
            + self.spans.capacity() * std::mem::size_of::<Span>()
            + self.word_arena.capacity() * 4
            + self.name_arena.capacity()
            + self.ids.capacity() * 16
            + self.free_slots.capacity() * 4
            + self.vocab.heap_bytes()
    }
}

/// The hits of `found`, best first, after the first `offset`.
fn page(found: Vec<Candidate<'_>>, offset: usize) -> Vec<Hit> {
    found
        .into_iter()
        .skip(offset)
        .map(|c| Hit {
            kind: c.kind,
            id: c.id,
            match_type: MatchType::BY_TIER[c.tier as usize],
        })
        .collect()
}

/// Calls `set` for the block and bit of every posting.
fn postings_into(sets: &mut [Block], postings: &[u32], set: impl Fn(&mut Block, u64, u32)) {
    for &p in postings {
        let slot = (p >> POSTING_SHIFT) as usize;
        set(&mut sets[slot / 64], 1 << (slot % 64), p);
    }
}

/// Calls `set` for the block and bit of every posting whose document is in `among`, seeking
/// each of those in the postings, which are sorted by slot: a gallop from the last one found,
/// then a binary search.
fn seek_into(
    sets: &mut [Block],
    among: &[Block],
    postings: &[u32],
    set: impl Fn(&mut Block, u64, u32),
) {
    let mut rest = postings;
    for (i, b) in among.iter().enumerate() {
        let mut bits = b.any;
        while bits != 0 && !rest.is_empty() {
            let bit = bits & bits.wrapping_neg();
            bits ^= bit;
            let slot = (i * 64 + bit.trailing_zeros() as usize) as u32;
            let mut step = 1;
            while step < rest.len() && rest[step] >> POSTING_SHIFT < slot {
                step *= 2;
            }
            let window = &rest[..rest.len().min(step + 1)];
            let at = window.partition_point(|&p| p >> POSTING_SHIFT < slot);
            rest = &rest[at..];
            if let Some(&p) = rest.first().filter(|&&p| p >> POSTING_SHIFT == slot) {
                set(&mut sets[i], bit, p);
            }
        }
    }
}

/// Removes repeated ids, keeping the first of each so that the first stays the name's first word.
fn dedup_keep_order(ids: &mut Vec<u32>) {
    if ids.len() <= 16 {
        let mut i = 0;
        while i < ids.len() {
            if ids[..i].contains(&ids[i]) {
                ids.remove(i);
            } else {
                i += 1;
            }
        }
    } else {
        let mut seen = HashSet::with_capacity(ids.len());
        ids.retain(|&w| seen.insert(w));
    }
}

/// A match in rank order: the derived ordering is the result order, best first, and total
/// because (kind, id) is unique.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Candidate<'a> {
    tier: u8,
    popularity: Reverse<u64>,
    /// The place in name order when ranks are known (then it alone orders equal tiers and
    /// popularities, agreeing with the fields after it); 0 for every candidate otherwise.
    rank: u32,
    folded: &'a str,
    name: &'a str,
    kind: Kind,
    id: u128,
}

/// The best `k` candidates seen so far: a max-heap whose top is the worst kept, so a candidate
/// that cannot make the cut is rejected on tier and popularity alone.
struct TopK<'a> {
    k: usize,
    heap: BinaryHeap<Candidate<'a>>,
}

impl<'a> TopK<'a> {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.min(1024)),
        }
    }

    /// Whether no candidate of `tier` or worse can get in any more.
    fn is_full_above(&self, tier: u8) -> bool {
        self.heap.len() == self.k && self.heap.peek().is_none_or(|worst| worst.tier < tier)
    }

    /// Whether a candidate of this tier, popularity and rank could be kept, as far as those
    /// tell.
    fn would_take(&self, tier: u8, popularity: u64, rank: u32) -> bool {
        self.heap.len() < self.k
            || self.heap.peek().is_some_and(|worst| {
                (tier, Reverse(popularity), rank) <= (worst.tier, worst.popularity, worst.rank)
            })
    }

    /// Keeps the candidate if it beats the worst kept; false if it was turned away on tier,
    /// popularity and rank alone.
    fn offer(
        &mut self,
        tier: u8,
        popularity: u64,
        rank: u32,
        make: impl FnOnce() -> Candidate<'a>,
    ) -> bool {
        if self.heap.len() < self.k {
            self.heap.push(make());
            return true;
        }
        let Some(mut worst) = self.heap.peek_mut() else {
            return false;
        };
        if (tier, Reverse(popularity), rank) > (worst.tier, worst.popularity, worst.rank) {
            return false;
        }
        let candidate = make();
        if candidate < *worst {
            *worst = candidate;
        }
        true
    }

    fn into_sorted(self) -> Vec<Candidate<'a>> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn doc(kind: Kind, id: u128, name: &str, secondary: &[&str], popularity: u64) -> Doc {
        Doc {
            kind,
            id,
            name: name.to_owned(),
            secondary: secondary.iter().map(|s| (*s).to_owned()).collect(),
            popularity,
        }
    }

    fn ids(results: &Results) -> Vec<u128> {
        results.hits.iter().map(|h| h.id).collect()
    }

    fn ranked(results: &Results) -> Vec<(u128, MatchType)> {
        results.hits.iter().map(|h| (h.id, h.match_type)).collect()
    }

    #[test]
    fn name_ranks_order_ties_as_names_do() {
        let index = SearchIndex::new();
        let words = ["love", "Love", "lové", "night", "a love", "loving"];
        for i in 0..300u128 {
            let name = format!("{} {}", words[i as usize % words.len()], i % 7);
            let kind = [Kind::Artist, Kind::Album, Kind::Track][i as usize % 3];
            index.upsert(doc(kind, i, &name, &["Love Inc"], (i % 3) as u64));
        }
        index.remove(Kind::Track, 5);
        let inner = index.inner.read();
        let ranks = inner.name_ranks();
        let orders = Orders {
            walks: Some(Arc::new(inner.walks(&ranks))),
            ranks: Some(Arc::new(ranks)),
            dense: Some(Arc::new(inner.dense_words())),
        };
        let none = Orders::default();
        for q in ["love", "lov", "love 3", "o", "inc", "night 1", "a"] {
            let query = Query::new(q).unwrap();
            let Some(sets) = inner.select(&query, false, &none) else {
                continue;
            };
            // Dense words mark the same documents as their postings do.
            assert!(inner.select(&query, false, &orders).unwrap() == sets, "{q}");
            for (k, offset) in [(5, 0), (20, 3), (400, 0)] {
                for kinds in [&Kind::ALL[..], &[Kind::Track], &[Kind::Album]] {
                    let by_names = inner.rank_kinds(&query, &sets, kinds, k, offset, &none);
                    let by_ranks = inner.rank_kinds(&query, &sets, kinds, k, offset, &orders);
                    assert_eq!(by_names, by_ranks, "{q} {k} {offset}");
                }
            }
            let by_names = inner.suggest(&query, 10, &none);
            assert_eq!(by_names, inner.suggest(&query, 10, &orders), "{q}");
        }
    }

    #[test]
    fn search_each_gives_each_kind_its_own_page() {
        let index = SearchIndex::new();
        index.upsert(doc(Kind::Artist, 1, "Love Inc", &[], 0));
        index.upsert(doc(Kind::Album, 2, "Lovely Days", &["Love Inc"], 0));
        index.upsert(doc(Kind::Album, 3, "Other", &["Love Inc"], 0));
        for i in 0..30 {
            index.upsert(doc(
                Kind::Track,
                100 + i,
                &format!("Love {i}"),
                &["Love Inc"],
                0,
            ));
        }
        index.upsert(doc(Kind::Track, 999, "Nothing", &[], 0));
        let kinds = [Kind::Artist, Kind::Album, Kind::Track];
        for (limit, offset) in [(5, 0), (5, 3), (50, 0), (1, 40)] {
            let each = index.search_each("lov", &kinds, limit, offset);
            assert_eq!(each.len(), 3);
            for (kind, results) in each {
                assert_eq!(
                    results,
                    index.search("lov", &[kind], limit, offset),
                    "{kind:?}"
                );
            }
        }
        let each = index.search_each("zzz", &kinds, 5, 0);
        assert!(each
            .iter()
            .all(|(_, r)| r.hits.is_empty() && r.total_all() == 0));
    }

    #[test]
    fn index_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<SearchIndex>();
    }

    #[test]
    fn fold_examples() {
        let cases = [
            ("Beyoncé", "beyonce"),
            ("Sigur Rós", "sigur ros"),
            ("MOTÖRHEAD", "motorhead"),
            ("Motörhead", "motorhead"),
            ("Straße", "strasse"),
            ("STRAẞE", "strasse"),
            ("Æon Flux", "aeon flux"),
            ("Ærøskøbing", "aeroskobing"),
            ("Œuvre", "oeuvre"),
            ("Łódź", "lodz"),
            ("Đorđe Balašević", "dorde balasevic"),
            ("Þórsmörk", "thorsmork"),
            ("İstanbul", "istanbul"),
            ("ＡＢＣ　ｄｅｆ１２", "abc def12"),
            ("ﬁne", "fine"),
            ("  Hello,   World!! ", "hello world"),
            ("AC/DC", "ac dc"),
            ("a\t-\n b", "a b"),
            ("Don't Stop", "dont stop"),
            ("Don’t Stop", "dont stop"),
            ("ŉ", "n"),
            ("Ｄｏｎ＇ｔ", "dont"),
            ("Guns N' Roses", "guns n roses"),
            ("!!! ... ???", ""),
            ("", ""),
            ("東京事変", "東京事変"),
            ("ΣΟΦΟΣ", "σοφοσ"),
            ("σοφός", "σοφοσ"),
        ];
        for (input, expected) in cases {
            assert_eq!(fold(input), expected, "fold({input:?})");
        }
    }

    #[test]
    fn folding_applies_to_queries_and_names() {
        let index = SearchIndex::new();
        index.upsert(doc(Kind::Artist, 1, "Beyoncé", &[], 0));
        index.upsert(doc(Kind::Artist, 2, "Sigur Rós", &[], 0));
        index.upsert(doc(Kind::Artist, 3, "Motörhead", &[], 0));
        index.upsert(doc(Kind::Album, 4, "Straße der Ölsardinen", &[], 0));
        let exact = |q: &str| ranked(&index.search(q, &[], 10, 0));
        assert_eq!(exact("beyonce"), [(1, MatchType::Exact)]);
        assert_eq!(exact("BEYONCÉ"), [(1, MatchType::Exact)]);
        assert_eq!(exact("sigur ros"), [(2, MatchType::Exact)]);
        assert_eq!(exact("sigur-rós!"), [(2, MatchType::Exact)]);
        assert_eq!(exact("MOTORHEAD"), [(3, MatchType::Exact)]);
        assert_eq!(exact("strasse olsard"), [(4, MatchType::WordPrefix)]);
        assert_eq!(exact("ｂｅｙｏｎｃｅ"), [(1, MatchType::Exact)]);
    }

    #[test]
    fn exact_then_prefix_then_word_prefix_then_substring_then_secondary() {
        let index = SearchIndex::new();
        // Popularity runs against the expected order, so only the match type can explain it.
        index.upsert_many([
            doc(Kind::Track, 1, "Love", &["Artist A"], 1),
            doc(Kind::Track, 2, "Lovely Day", &["Artist B"], 2),
            doc(Kind::Track, 3, "Crazy in Love", &["Artist C"], 3),
            doc(Kind::Track, 4, "Glove Box", &["Artist D"], 4),
            doc(Kind::Track, 5, "Song X", &["Love", "Album"], 5),
            doc(Kind::Track, 6, "Song Y", &["Glovers"], 6),
            doc(Kind::Track, 7, "Nothing Here", &["Nobody"], 7),
        ]);
        let results = index.search("love", &[], 10, 0);
        assert_eq!(
            ranked(&results),
            [
                (1, MatchType::Exact),
                (2, MatchType::Prefix),
                (3, MatchType::WordPrefix),
                (4, MatchType::Substring),
                (5, MatchType::SecondaryWordPrefix),
                (6, MatchType::SecondarySubstring),
            ]
        );
        assert_eq!(results.total(Kind::Track), 6);
    }

    #[test]
    fn popularity_then_name_break_ties() {
        let index = SearchIndex::new();
        index.upsert_many([
            doc(Kind::Track, 1, "Lovesick", &[], 10),
            doc(Kind::Track, 2, "Lovers", &[], 30),
            doc(Kind::Track, 3, "Loveless", &[], 20),
            doc(Kind::Track, 4, "Lovebirds", &[], 20),
        ]);
        assert_eq!(ids(&index.search("love", &[], 10, 0)), [2, 4, 3, 1]);
        index.set_popularity(Kind::Track, 1, 100);
        assert_eq!(ids(&index.search("love", &[], 10, 0)), [1, 2, 4, 3]);
    }

    #[test]
    fn popularity_changes_reorder_broad_matches_at_once() {
        // The first index rebuilds its orders whenever they go stale; the second never after
        // its first search, so it must stop walking the stale one.
        for interval in [Duration::ZERO, Duration::from_secs(3600)] {
            let index = SearchIndex::with_rebuild_interval(interval);
            for i in 0..200 {
                index.upsert(doc(Kind::Track, i, &format!("Love song {i:03}"), &[], 0));
            }
            index.upsert(doc(Kind::Track, 900, "Other", &[], 50));
            let first = index.search("love", &[Kind::Track], 3, 0);
            assert_eq!(ids(&first), [0, 1, 2]);
            assert_eq!(first.total(Kind::Track), 200);
            index.set_popularity(Kind::Track, 150, 9);
            index.set_popularity(Kind::Track, 7, 3);
            let after = index.search_each("love", &[Kind::Track], 3, 0);
            assert_eq!(ids(&after[0].1), [150, 7, 0], "{interval:?}");
            let deeper = index.search("love", &[Kind::Track], 3, 100);
            // Offsets count the two popular tracks first: 0..=6, then 8.. from position 9.
            assert_eq!(ids(&deeper), [99, 100, 101], "{interval:?}");
        }
    }

    #[test]
    fn prepare_builds_stale_orders_at_once() {
        let index = SearchIndex::with_rebuild_interval(Duration::from_secs(3600));
        for i in 0..100 {
            index.upsert(doc(Kind::Track, i, &format!("Love song {i:03}"), &[], 0));
        }
        index.search("love", &[], 3, 0);
        index.upsert(doc(Kind::Track, 500, "Love after", &[], 0));
        // Built a moment ago: a search would go without orders for the next hour.
        assert!(index.orders(&index.inner.read()).ranks.is_none());
        index.prepare();
        let inner = index.inner.read();
        let d = index.derived.lock();
        assert_eq!(d.generation, inner.generation);
        assert!(d.ranks.is_some() && d.walks.is_some() && d.dense.is_some());
    }

    #[test]
    fn numbers_match_inside_longer_numbers() {
        let index = SearchIndex::new();
        for i in 0..3000 {
            index.upsert(doc(Kind::Track, i, &format!("Track {i}"), &[], 0));
        }
        let found = index.search("track 12", &[Kind::Track], 3, 0);
        // 12, 120-129 and 1200-1299 start with it; 48 more hold it inside a number.
        assert_eq!(found.total(Kind::Track), 1 + 10 + 100 + 48);
        assert_eq!(ranked(&found)[0], (12, MatchType::Exact));
        assert_eq!(ranked(&found)[1], (120, MatchType::Prefix));
        let inside = index.search("12", &[Kind::Track], 200, 0);
        let substrings: Vec<u128> = ranked(&inside)
            .into_iter()
            .filter(|&(_, m)| m == MatchType::Substring)
            .map(|(id, _)| id)
            .collect();
        assert!(substrings.contains(&312) && substrings.contains(&2120));
        assert!(!substrings.contains(&120));
    }

    #[test]
    fn every_query_word_must_match() {
        let index = SearchIndex::new();
        index.upsert_many([
            doc(Kind::Track, 1, "Crazy in Love", &["Beyoncé"], 0),
            doc(Kind::Track, 2, "Crazy Train", &["Ozzy Osbourne"], 0),
            doc(Kind::Track, 3, "Love Me Do", &["The Beatles"], 0),
            doc(Kind::Track, 4, "Creep", &["Radiohead", "Pablo Honey"], 0),
            doc(Kind::Artist, 5, "Radiohead", &[], 0),
        ]);
        assert_eq!(
            ranked(&index.search("crazy love", &[], 10, 0)),
            [(1, MatchType::WordPrefix)]
        );
        assert_eq!(
            ranked(&index.search("crazy in lo", &[], 10, 0)),
            [(1, MatchType::Prefix)]
        );
        assert_eq!(
            ranked(&index.search("razy ove", &[], 10, 0)),
            [(1, MatchType::Substring)]
        );
        assert_eq!(
            ranked(&index.search("love beyonce", &[], 10, 0)),
            [(1, MatchType::SecondaryWordPrefix)]
        );
        assert_eq!(
            ranked(&index.search("radiohead creep", &[], 10, 0)),
            [(4, MatchType::SecondaryWordPrefix)]
        );
        assert_eq!(
            ranked(&index.search("radiohead", &[], 10, 0)),
            [(5, MatchType::Exact), (4, MatchType::SecondaryWordPrefix)]
        );
        assert!(index.search("crazy nothing", &[], 10, 0).hits.is_empty());
    }

    #[test]
    fn rare_word_first_then_common_words_checked_per_candidate() {
        let index = SearchIndex::new();
        // Enough "common" documents that the two candidates of "zebra" are checked one by one
        // rather than through the postings of "common".
        index.upsert_many((0..200u128).map(|i| doc(Kind::Track, i, "Common Song", &["Common"], 0)));
        index.upsert_many([
            doc(Kind::Track, 1000, "Common Zebra", &[], 1),
            doc(Kind::Track, 1001, "Zebra", &["The Commoners"], 2),
            doc(Kind::Track, 1002, "Zebra Crossing", &[], 3),
            doc(Kind::Track, 1003, "Uncommon Zebras", &[], 4),
        ]);
        assert_eq!(
            ranked(&index.search("common zebra", &[], 10, 0)),
            [
                (1000, MatchType::Exact),
                (1003, MatchType::Substring),
                (1001, MatchType::SecondaryWordPrefix),
            ]
        );
        assert_eq!(
            ranked(&index.search("common ze", &[], 10, 0)),
            [
                (1000, MatchType::Prefix),
                (1003, MatchType::Substring),
                (1001, MatchType::SecondaryWordPrefix),
            ]
        );
        assert_eq!(
            ranked(&index.search("co ze", &[], 10, 0)),
            [
                (1000, MatchType::WordPrefix),
                (1003, MatchType::Substring),
                (1001, MatchType::SecondaryWordPrefix),
            ]
        );
        let suggested: Vec<u128> = index.suggest("zebra co", 10).iter().map(|s| s.id).collect();
        assert_eq!(suggested, [1000]);
    }

    #[test]
    fn kinds_filter_limits_hits_and_totals() {
        let index = SearchIndex::new();
        index.upsert_many([
            doc(Kind::Artist, 1, "Nirvana", &[], 0),
            doc(Kind::Album, 2, "Nirvana Unplugged", &["Nirvana"], 0),
            doc(Kind::Track, 3, "Lithium", &["Nirvana", "Nevermind"], 0),
            doc(Kind::Track, 4, "Nirvana Song", &[], 0),
            doc(Kind::User, 5, "nirvanafan", &[], 0),
        ]);
        let all = index.search("nirvana", &[], 10, 0);
        assert_eq!(all.total_all(), 5);
        assert_eq!(all.total(Kind::Track), 2);
        let some = index.search("nirvana", &[Kind::Album, Kind::Track], 10, 0);
        // Both names start with the query and are equally popular, so the name decides.
        assert_eq!(ids(&some), [4, 2, 3]);
        assert_eq!(some.total(Kind::Artist), 0);
        assert_eq!(some.total(Kind::Album), 1);
        assert_eq!(some.total(Kind::Track), 2);
        assert_eq!(some.total(Kind::User), 0);
        assert_eq!(some.total_all(), 3);
    }

    #[test]
    fn pages_partition_the_full_result() {
        let index = SearchIndex::new();
        index.upsert_many((0..25u64).map(|i| {
            let kind = if i % 3 == 0 { Kind::Album } else { Kind::Track };
            doc(kind, i.into(), &format!("Song {i}"), &[], i % 4)
        }));
        let full = index.search("song", &[], 100, 0);
        assert_eq!(full.hits.len(), 25);
        assert_eq!(full.total(Kind::Album), 9);
        assert_eq!(full.total(Kind::Track), 16);
        let mut paged = Vec::new();
        for page in 0..3 {
            let results = index.search("song", &[], 10, page * 10);
            assert_eq!(results.totals, full.totals);
            paged.extend(results.hits);
        }
        assert_eq!(paged, full.hits);
        assert!(index.search("song", &[], 10, 30).hits.is_empty());
        let counted = index.search("song", &[], 0, 0);
        assert!(counted.hits.is_empty());
        assert_eq!(counted.total_all(), 25);
        assert_eq!(
            index
                .search("song", &[], usize::MAX, usize::MAX)
                .total_all(),
            25
        );
    }

    #[test]
    fn upsert_replaces_and_remove_forgets() {
        let index = SearchIndex::new();
        index.upsert(doc(Kind::Track, 1, "Old Title", &["Someone"], 0));
        index.upsert(doc(Kind::Album, 1, "Old Title", &[], 0));
        assert_eq!(index.len(), 2);
        index.upsert(doc(Kind::Track, 1, "New Title", &["Someone"], 0));
        assert_eq!(index.len(), 2);
        let old = index.search("old", &[], 10, 0);
        assert_eq!(old.hits.len(), 1);
        assert_eq!(old.hits[0].kind, Kind::Album);
        assert_eq!(ids(&index.search("new title", &[], 10, 0)), [1]);
        assert!(index
            .suggest("ol", 10)
            .iter()
            .all(|s| s.kind == Kind::Album));

        index.remove(Kind::Track, 1);
        index.remove(Kind::Track, 1);
        index.remove(Kind::Artist, 99);
        assert_eq!(index.len(), 1);
        assert!(index.search("new", &[], 10, 0).hits.is_empty());
        assert!(index.search("someone", &[], 10, 0).hits.is_empty());
        index.remove(Kind::Album, 1);
        assert!(index.is_empty());
        assert!(index.search("title", &[], 10, 0).hits.is_empty());
        // Freed slots and words are reused without leaking old matches.
        index.upsert(doc(Kind::Artist, 7, "Fresh", &[], 0));
        assert_eq!(ids(&index.search("fresh", &[], 10, 0)), [7]);
        assert!(index.search("old", &[], 10, 0).hits.is_empty());
    }

    #[test]
    fn freed_words_are_compacted_away_and_the_rest_still_match() {
        let index = SearchIndex::new();
        // Three thousand distinct 40-byte words, then nearly all of them freed.
        let word = |i: u128| format!("w{i:039}");
        for i in 0..3000 {
            index.upsert(doc(Kind::Track, i, &word(i), &[], 0));
        }
        for i in 0..2900 {
            index.remove(Kind::Track, i);
        }
        assert!(index.inner.read().vocab.texts.text.len() < 3000 * 40 / 2);
        for i in [2900, 2950, 2999] {
            assert_eq!(ids(&index.search(&word(i), &[], 10, 0)), [i]);
            assert_eq!(ids(&index.search(&word(i)[30..], &[], 10, 0)), [i]);
        }
        assert!(index.search(&word(5), &[], 10, 0).hits.is_empty());
        // A freed word's id is reused for a new text.
        index.upsert(doc(Kind::Album, 5, "fresh words", &[], 0));
        assert_eq!(ids(&index.search("fresh", &[], 10, 0)), [5]);
        assert_eq!(ids(&index.search(&word(2999), &[], 10, 0)), [2999]);
    }

    #[test]
    fn suggest_matches_word_prefixes_of_names_only() {
        let index = SearchIndex::new();
        index.upsert_many([
            doc(Kind::Artist, 1, "Love", &[], 1),
            doc(Kind::Album, 2, "Lovesongs", &[], 5),
            doc(Kind::Track, 3, "Crazy in Love", &[], 9),
            doc(Kind::Track, 4, "Glove", &[], 100),
            doc(Kind::Track, 5, "Song", &["Love"], 100),
            doc(Kind::Track, 6, "Lovers Rock", &[], 7),
        ]);
        let names = |prefix: &str, limit| -> Vec<u128> {
            index.suggest(prefix, limit).iter().map(|s| s.id).collect()
        };
        assert_eq!(names("lov", 10), [6, 2, 1, 3]);
        assert_eq!(names("love", 10), [1, 6, 2, 3]);
        assert_eq!(names("love", 2), [1, 6]);
        assert_eq!(names("LOVE", 0), Vec::<u128>::new());
        assert!(names("ove", 10).is_empty());
        assert_eq!(names("crazy l", 10), [3]);
        assert_eq!(names("in cr", 10), [3]);
        let first = &index.suggest("crazy", 1)[0];
        assert_eq!(
            (first.kind, first.id, first.name.as_str()),
            (Kind::Track, 3, "Crazy in Love")
        );
    }

    #[test]
    fn blank_and_punctuation_queries_return_nothing() {
        let index = SearchIndex::new();
        index.upsert(doc(Kind::Artist, 1, "Anything", &[], 0));
        for q in ["", " ", "\t\n", "!!!", "...", " - / ? "] {
            assert_eq!(index.search(q, &[], 10, 0), Results::default(), "{q:?}");
            assert!(index.suggest(q, 10).is_empty(), "{q:?}");
        }
    }

    #[test]
    fn huge_queries_are_cheap() {
        let index = SearchIndex::new();
        index.upsert_many((0..2000u128).map(|i| doc(Kind::Track, i, &format!("aaa {i}"), &[], 0)));
        let queries = [
            "a".repeat(100_000),
            "a ".repeat(50_000),
            "!?".repeat(50_000),
            "é".repeat(50_000),
            (0..20_000).map(|i| format!("w{i} ")).collect(),
        ];
        for q in &queries {
            let started = std::time::Instant::now();
            let _ = index.search(q, &[], 10, 0);
            let _ = index.suggest(q, 10);
            assert!(started.elapsed() < std::time::Duration::from_millis(200));
        }
        assert!(index.search(&queries[0], &[], 10, 0).hits.is_empty());
        assert!(index.search(&queries[2], &[], 10, 0).hits.is_empty());
        assert_eq!(index.search(&queries[1], &[], 10, 0).total_all(), 2000);
    }

    #[test]
    fn concurrent_readers_and_a_writer_finish() {
        let index = std::sync::Arc::new(SearchIndex::new());
        index
            .upsert_many((0..1000u128).map(|i| doc(Kind::Track, i, &format!("track {i}"), &[], 0)));
        std::thread::scope(|scope| {
            for _ in 0..3 {
                let index = &index;
                scope.spawn(move || {
                    for i in 0..300 {
                        let results = index.search("track", &[], 5, i % 7);
                        assert!(results.total_all() >= 1000);
                        let _ = index.suggest("tr", 5);
                    }
                });
            }
            let index = &index;
            scope.spawn(move || {
                for i in 1000..1300u128 {
                    index.upsert(doc(Kind::Track, i, &format!("track {i}"), &[], 0));
                    index.set_popularity(Kind::Track, i - 1000, 5);
                    if i % 2 == 0 {
                        index.remove(Kind::Track, i);
                    }
                }
            });
        });
        assert_eq!(index.len(), 1150);
        assert_eq!(index.search("track", &[], 1, 0).total_all(), 1150);
    }

    /// The ranking rules restated directly on strings, to check the index against.
    fn reference_search(
        docs: &HashMap<(Kind, u128), Doc>,
        q: &str,
        kinds: &[Kind],
    ) -> (Vec<Hit>, [usize; 5]) {
        let mut totals = [0; 5];
        let Some(query) = Query::new(q) else {
            return (Vec::new(), totals);
        };
        const WORD_PREFIX: u8 = 2;
        const SUBSTRING: u8 = 1;
        let best = |text: &str, w: &str| -> u8 {
            if text.split(' ').any(|x| x.starts_with(w)) {
                WORD_PREFIX
            } else if text.contains(w) {
                SUBSTRING
            } else {
                0
            }
        };
        let mut found = Vec::new();
        for d in docs
            .values()
            .filter(|d| kinds.is_empty() || kinds.contains(&d.kind))
        {
            let name = fold(&d.name);
            let secondary: Vec<String> = d.secondary.iter().map(|s| fold(s)).collect();
            let in_name: Vec<u8> = query.words.iter().map(|w| best(&name, w)).collect();
            let anywhere: Vec<u8> = query
                .words
                .iter()
                .zip(&in_name)
                .map(|(w, &n)| secondary.iter().fold(n, |m, s| m.max(best(s, w))))
                .collect();
            if anywhere.contains(&0) {
                continue;
            }
            let tier = if !in_name.contains(&0) {
                if name == query.text {
                    0
                } else if name.starts_with(&query.text) {
                    1
                } else if in_name.iter().all(|&b| b == WORD_PREFIX) {
                    2
                } else {
                    3
                }
            } else if anywhere.iter().all(|&b| b == WORD_PREFIX) {
                4
            } else {
                5
            };
            totals[d.kind.index()] += 1;
            found.push((
                tier,
                Reverse(d.popularity),
                name,
                d.name.clone(),
                d.kind,
                d.id,
            ));
        }
        found.sort();
        let hits = found
            .into_iter()
            .map(|(tier, _, _, _, kind, id)| Hit {
                kind,
                id,
                match_type: MatchType::BY_TIER[tier],
            })
            .collect();
        (hits, totals)
    }

    fn reference_suggest(docs: &HashMap<(Kind, u128), Doc>, q: &str, limit: usize) -> Vec<u128> {
        let Some(query) = Query::new(q) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for d in docs.values() {
            let name = fold(&d.name);
            let every_word_starts_a_word = query
                .words
                .iter()
                .all(|w| name.split(' ').any(|x| x.starts_with(w.as_str())));
            if !every_word_starts_a_word {
                continue;
            }
            let tier = if name == query.text {
                0
            } else if name.starts_with(&query.text) {
                1
            } else {
                2
            };
            found.push((
                tier,
                Reverse(d.popularity),
                name,
                d.name.clone(),
                d.kind,
                d.id,
            ));
        }
        found.sort();
        found.into_iter().take(limit).map(|f| f.5).collect()
    }

    #[derive(Clone, Debug)]
    enum Op {
        Upsert(Doc),
        Remove(Kind, u128),
        Popularity(Kind, u128, u64),
        /// Gives back spare room, rehashing the slot table from the ids.
        Shrink,
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn kind() -> impl Strategy<Value = Kind> {
            prop::sample::select(vec![Kind::Artist, Kind::Album, Kind::Track])
        }

        // A tiny alphabet with diacritics, case and punctuation makes words collide often.
        fn text() -> impl Strategy<Value = String> {
            "[abcAÉé ,'-]{0,12}"
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (kind(), 0..40u128, text(), prop::collection::vec(text(), 0..3), 0..4u64)
                    .prop_map(|(kind, id, name, secondary, popularity)| Op::Upsert(Doc {
                        kind,
                        id,
                        name,
                        secondary,
                        popularity,
                    })),
                1 => (kind(), 0..40u128).prop_map(|(k, id)| Op::Remove(k, id)),
                1 => (kind(), 0..40u128, 0..4u64).prop_map(|(k, id, p)| Op::Popularity(k, id, p)),
                1 => Just(Op::Shrink),
            ]
        }

        proptest! {
            // No failure file: the test must not write into the source tree.
            #![proptest_config(ProptestConfig {
                cases: 300,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn index_agrees_with_reference(
                ops in prop::collection::vec(op(), 1..150),
                queries in prop::collection::vec("[abcé -]{1,6}", 1..6),
                kinds in prop::sample::subsequence(Kind::ALL.to_vec(), 0..=3),
                limit in 0..8usize,
                offset in 0..4usize,
            ) {
                // One index rebuilds its orders for every search, so that walks are taken
                // whenever they pay; the other mostly searches without them.
                let indexes = [SearchIndex::new(), SearchIndex::with_rebuild_interval(Duration::ZERO)];
                let mut model: HashMap<(Kind, u128), Doc> = HashMap::new();
                for (n, op) in ops.into_iter().enumerate() {
                    match op {
                        Op::Upsert(d) => {
                            model.insert((d.kind, d.id), d.clone());
                            indexes.iter().for_each(|i| i.upsert(d.clone()));
                        }
                        Op::Remove(k, id) => {
                            model.remove(&(k, id));
                            indexes.iter().for_each(|i| i.remove(k, id));
                        }
                        Op::Popularity(k, id, p) => {
                            if let Some(d) = model.get_mut(&(k, id)) {
                                d.popularity = p;
                            }
                            indexes.iter().for_each(|i| i.set_popularity(k, id, p));
                        }
                        Op::Shrink => indexes.iter().for_each(SearchIndex::shrink_to_fit),
                    }
                    // Orders built along the way go stale with the next change.
                    if n % 16 == 0 {
                        indexes.iter().for_each(|i| { i.search("a", &[], 1, 0); });
                    }
                }
                for index in &indexes {
                    prop_assert_eq!(index.len(), model.len());
                    for q in &queries {
                        let (expected, totals) = reference_search(&model, q, &kinds);
                        let page = index.search(q, &kinds, limit, offset);
                        prop_assert_eq!(page.totals, totals);
                        let expected_page: Vec<Hit> =
                            expected.into_iter().skip(offset).take(limit).collect();
                        prop_assert_eq!(page.hits, expected_page, "query {:?}", q);
                        for (kind, page) in index.search_each(q, &kinds, limit, offset) {
                            let (expected, totals) = reference_search(&model, q, &[kind]);
                            prop_assert_eq!(page.totals, totals);
                            let expected_page: Vec<Hit> =
                                expected.into_iter().skip(offset).take(limit).collect();
                            prop_assert_eq!(page.hits, expected_page, "query {:?} of {:?}", q, kind);
                        }
                        let suggested: Vec<u128> =
                            index.suggest(q, limit).iter().map(|s| s.id).collect();
                        prop_assert_eq!(suggested, reference_suggest(&model, q, limit), "prefix {:?}", q);
                    }
                }
            }

            #[test]
            fn fold_is_idempotent_and_canonical(s in "\\PC{0,40}") {
                let once = fold(&s);
                prop_assert_eq!(fold(&once), once.clone());
                prop_assert!(!once.starts_with(' ') && !once.ends_with(' '));
                prop_assert!(!once.contains("  "));
                prop_assert!(once.chars().all(|c| c == ' ' || c.is_alphanumeric()));
            }
        }
    }
}

/// Figures for a catalogue of 100,000 tracks, 10,000 albums and 3,000 artists. Run with
/// `cargo test --release --lib search::bench -- --ignored --nocapture`.
#[cfg(test)]
mod bench {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// SplitMix64: deterministic, so every run measures the same corpus.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        /// Skewed towards small indices, like word and play counts in a real library.
        fn skewed(&mut self, n: usize) -> usize {
            ((self.unit().powi(3) * n as f64) as usize).min(n - 1)
        }

        fn popularity(&mut self) -> u64 {
            (self.unit().powi(4) * 1e6) as u64
        }
    }

    const COMMON: &[&str] = &[
        "a",
        "the",
        "of",
        "in",
        "love",
        "night",
        "heart",
        "you",
        "me",
        "my",
        "i",
        "on",
        "to",
        "baby",
        "time",
        "dream",
        "fire",
        "girl",
        "world",
        "live",
        "remix",
        "feat",
        "version",
        "song",
        "blue",
        "day",
        "light",
        "home",
        "soul",
        "rain",
        "summer",
        "dance",
        "life",
        "no",
        "de",
        "la",
        "el",
        "le",
        "und",
        "der",
        "remastered",
        "edit",
        "mix",
        "part",
        "2",
    ];
    const SYLLABLES: &[&str] = &[
        "ka", "lo", "ve", "ri", "mo", "ta", "an", "el", "sun", "dor", "mi", "na", "ro", "be",
        "shi", "tor", "lia", "quen", "vi", "gar", "tho", "em", "is", "ul", "pra", "dre", "ko",
        "sé", "rø", "bjö", "ñu", "ça", "zé", "ú", "mär", "ß", "æl", "ló", "si", "gur",
    ];

    fn title(rng: &mut Rng, vocab: &[String], words: usize) -> String {
        let mut out = String::new();
        for i in 0..words {
            if i > 0 {
                out.push(if rng.below(20) == 0 { '-' } else { ' ' });
            }
            let word = if rng.below(10) < 4 {
                COMMON[rng.skewed(COMMON.len())]
            } else {
                &vocab[rng.skewed(vocab.len())]
            };
            let mut chars = word.chars();
            if let (true, Some(first)) = (rng.below(2) == 0, chars.next()) {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            } else {
                out.push_str(word);
            }
        }
        if rng.below(15) == 0 {
            out.push_str(" (Live)");
        }
        out
    }

    /// The synthetic catalogue, made lazily so that the memory measured is the index's.
    fn corpus() -> impl Iterator<Item = Doc> {
        let mut rng = Rng(0x5EED);
        let vocab: Vec<String> = (0..20_000)
            .map(|_| {
                (0..1 + rng.below(3))
                    .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
                    .collect()
            })
            .collect();
        let artists: Vec<String> = (0..3_000)
            .map(|_| {
                let n = 1 + rng.below(3);
                title(&mut rng, &vocab, n)
            })
            .collect();
        let albums: Vec<(usize, String)> = (0..10_000)
            .map(|_| {
                let (artist, n) = (rng.below(artists.len()), 1 + rng.below(4));
                (artist, title(&mut rng, &vocab, n))
            })
            .collect();
        let artist_docs: Vec<Doc> = artists
            .iter()
            .enumerate()
            .map(|(i, name)| Doc {
                kind: Kind::Artist,
                id: i as u128,
                name: name.clone(),
                secondary: Vec::new(),
                popularity: rng.popularity(),
            })
            .collect();
        let album_docs: Vec<Doc> = albums
            .iter()
            .enumerate()
            .map(|(i, (artist, name))| Doc {
                kind: Kind::Album,
                id: i as u128,
                name: name.clone(),
                secondary: vec![artists[*artist].clone()],
                popularity: rng.popularity(),
            })
            .collect();
        let tracks = (0..100_000u128).map(move |id| {
            let (artist, album) = &albums[rng.below(albums.len())];
            let n = 1 + rng.below(5);
            Doc {
                kind: Kind::Track,
                id,
                name: title(&mut rng, &vocab, n),
                secondary: vec![artists[*artist].clone(), album.clone()],
                popularity: rng.popularity(),
            }
        });
        artist_docs.into_iter().chain(album_docs).chain(tracks)
    }

    fn rss_bytes() -> usize {
        std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
            .map_or(0, |pages| pages * 4096)
    }

    fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(f());
                started.elapsed()
            })
            .collect()
    }

    fn line(mut samples: Vec<Duration>) -> String {
        samples.sort();
        let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
        let (p50, p99, max) = (at(0.5), at(0.99), samples[samples.len() - 1]);
        format!("{p50:>9.1?} {p99:>9.1?} {max:>9.1?}")
    }

    /// Searches, in turn, while another thread upserts, pausing `pause` between upserts.
    fn with_writer(
        index: &SearchIndex,
        searches: &[String],
        pause: Duration,
    ) -> (Vec<Duration>, u128) {
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                let mut n = 0u128;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    index.upsert(Doc {
                        kind: Kind::Track,
                        id: n * 53 % 100_000,
                        name: format!("rewritten {}", n % 1000),
                        secondary: vec!["Writer".to_owned()],
                        popularity: 1,
                    });
                    if !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                }
                n
            });
            let mut i = 0;
            let samples = time(3000, || {
                i += 1;
                index.search(&searches[i % searches.len()], &[], 20, 0)
            });
            stop.store(true, Ordering::Relaxed);
            (samples, writer.join().unwrap_or(0))
        })
    }

    #[test]
    #[ignore = "benchmark: run in release with --ignored --nocapture"]
    fn bench_100k_corpus() {
        let rss_before = rss_bytes();
        let index = SearchIndex::new();
        let started = Instant::now();
        index.upsert_many(corpus());
        let build = started.elapsed();
        println!(
            "build: {} docs in {build:.0?} (corpus generation included); heap estimate \
             {:.1} MB; RSS growth {:.1} MB",
            index.len(),
            index.heap_bytes() as f64 / 1e6,
            rss_bytes().saturating_sub(rss_before) as f64 / 1e6
        );
        let docs: Vec<Doc> = corpus().collect();
        let started = Instant::now();
        SearchIndex::new().upsert_many(docs);
        println!("build from ready documents: {:.0?}", started.elapsed());

        let artist = corpus().nth(17).map(|d| d.name).unwrap_or_default();
        let track = corpus()
            .skip(20_000)
            .find(|d| d.name.split(' ').count() >= 3)
            .map(|d| d.name)
            .unwrap_or_default();
        let rare = fold(&track)
            .split(' ')
            .next_back()
            .unwrap_or("x")
            .to_owned();
        let track_prefix: String = fold(&track).chars().take(6).collect();
        let searches: Vec<String> = [
            "a",
            "lo",
            "e",
            "love",
            "the night",
            "love of the",
            "lo ve",
            "sigur",
            "bjo",
            "remastered",
            "zzqxv",
            "ka mo",
            "in",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([artist.clone(), rare, track_prefix, track.clone()])
        .collect();

        const HEADER: &str = "      p50       p99       max";
        let mut all = Vec::new();
        println!("{:<26} {:>7} {HEADER}", "search (limit 20)", "matches");
        for q in &searches {
            let total = index.search(q, &[], 20, 0).total_all();
            let samples = time(300, || index.search(q, &[], 20, 0));
            all.extend_from_slice(&samples);
            println!("{:<26} {total:>7} {}", format!("{q:?}"), line(samples));
        }
        println!("{:<34} {}", "all searches", line(all));
        let samples = time(300, || index.search("a", &[Kind::Artist], 20, 0));
        println!("{:<34} {}", "\"a\", artists only", line(samples));
        let samples = time(300, || index.search("love", &[], 20, 2000));
        println!("{:<34} {}", "\"love\", offset 2000", line(samples));

        let prefixes = [
            "a", "l", "lo", "lov", "love", "the n", "s", "ka", "bj", "zz",
        ];
        let artist_prefix: String = artist.chars().take(3).collect();
        let mut all = Vec::new();
        println!("{:<34} {HEADER}", "suggest (limit 10)");
        for p in prefixes
            .iter()
            .map(|s| (*s).to_owned())
            .chain([artist_prefix])
        {
            let samples = time(300, || index.suggest(&p, 10));
            all.extend_from_slice(&samples);
            println!("{:<34} {}", format!("{p:?}"), line(samples));
        }
        println!("{:<34} {}", "all suggests", line(all));

        let mut n = 0u128;
        // Enough replacements to leave half the arenas garbage at least once, so the maximum
        // includes a compaction.
        let samples = time(150_000, || {
            n += 1;
            index.upsert(Doc {
                kind: Kind::Track,
                id: n * 37 % 100_000,
                // A bounded set of names: a real rescan renames to ordinary words, it does not
                // invent a new one per change.
                name: format!("renamed love track {}", n % 1000),
                secondary: vec!["Some Artist".to_owned(), "Some Album".to_owned()],
                popularity: 5,
            })
        });
        println!("{:<34} {}", "upsert (replace)", line(samples));

        // A scanner reading tags from disk writes perhaps a few thousand items a second; the
        // tight loop is the worst case, with both threads on the two cores.
        for (label, pause) in [
            (
                "all searches, writer every 250µs",
                Duration::from_micros(250),
            ),
            ("all searches, writer flat out", Duration::ZERO),
        ] {
            let (samples, writes) = with_writer(&index, &searches, pause);
            println!("{label:<34} {} ({writes} upserts meanwhile)", line(samples));
        }
    }
}
