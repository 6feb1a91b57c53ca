//! Plays: listening history, idempotent recording, and the counters statistics and charts read.
//!
//! Recording a play (or a batch of them) is one transaction that writes the history row, the
//! idempotency key and every counter it moves: per item (track, album, artist) and UTC day,
//! all-time per item, per listener. Statistics then read a handful of counter rows instead of
//! scanning plays. Distinct listeners over any window come from one number per item and day:
//! how many listeners have their latest play of the item on that day. A listener counts in the
//! window's sum exactly once if their latest play falls in it, and a listener who played in the
//! window always has their latest play in it (windows end today).
//!
//! Plays are recorded one transaction at a time under a lock, so they never collide on the
//! counters they share, and charts for the last week are kept in memory, rebuilt from the store
//! at start-up. Every item's all-time plays also go to the catalog, whose search lists the
//! most played first among equal matches.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use uuid::Uuid;

use super::model::{day_of, DayCounts, Play, Privacy, Source, Totals, UserTotals};
use crate::catalog::search::Kind as SearchKind;
use crate::catalog::Catalog;
use crate::domain::{now, AlbumId, ArtistId, PlayId, TrackId, UnixTime, UserId};
use crate::error::{Error, Result};
use crate::store::tables::{
    CounterDefs, ALBUM_COUNTERS, ARTIST_COUNTERS, CHART_DAYS, PLAYS, PLAY_KEYS, TRACK_COUNTERS,
    USER_PRIVACY, USER_TOTALS, USER_TRACK_PLAYS,
};
use crate::store::{Store, Table, TxError};

/// Most plays in one batch.
pub const MAX_BATCH: usize = 2000;
/// Longest idempotency key, in bytes.
pub const MAX_KEY_BYTES: usize = 200;
/// How far in the future a start time may lie (clocks differ).
const FUTURE_SLACK_SECS: i64 = 300;
/// Days of per-day charts kept in memory: a week and today's predecessor for late reports.
const CHART_DAYS_KEPT: u32 = 8;

/// What a chart ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChartKind {
    /// Tracks.
    Tracks = 0,
    /// Albums.
    Albums = 1,
    /// Artists.
    Artists = 2,
}

impl ChartKind {
    /// The search index's kind for the same items.
    fn search_kind(self) -> SearchKind {
        match self {
            Self::Tracks => SearchKind::Track,
            Self::Albums => SearchKind::Album,
            Self::Artists => SearchKind::Artist,
        }
    }
}

const KINDS: [ChartKind; 3] = [ChartKind::Tracks, ChartKind::Albums, ChartKind::Artists];

/// The span a chart covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Today (UTC).
    Day,
    /// The last seven days, today included.
    Week,
    /// Since the beginning.
    All,
}

/// One play as reported.
#[derive(Debug, Clone)]
pub struct PlayInput {
    /// The track.
    pub track: TrackId,
    /// When it started.
    pub started_at: UnixTime,
    /// Seconds listened.
    pub seconds_played: u32,
    /// Whether the player reached the end.
    pub completed: bool,
    /// Where it started.
    pub source: Source,
    /// The client's key for this report; a retry carries the same key.
    pub idempotency_key: String,
}

/// What became of one reported play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded now.
    Recorded(PlayId),
    /// Recorded before, under this key.
    Duplicate(PlayId),
    /// Not recorded: the user is in a private session.
    Private,
}

/// What the catalog says about a played track, looked up before the transaction.
#[derive(Debug, Clone)]
pub struct TrackFacts {
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Its album.
    pub album: AlbumId,
    /// Its performing artists.
    pub artists: Vec<ArtistId>,
}

struct Counters {
    days: Table<(Uuid, u32), DayCounts>,
    latest: Table<(Uuid, UserId), u32>,
    totals: Table<Uuid, Totals>,
}

impl Counters {
    fn open(store: &Store, defs: CounterDefs) -> Result<Self> {
        Ok(Self {
            days: store.table(defs.days)?,
            latest: store.table(defs.latest)?,
            totals: store.table(defs.totals)?,
        })
    }
}

#[derive(Default)]
struct ChartState {
    days: BTreeMap<u32, [HashMap<Uuid, u64>; 3]>,
    all: [HashMap<Uuid, u64>; 3],
}

/// Counters of one item over a window of days.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Each day with plays, oldest first.
    pub days: Vec<(u32, DayCounts)>,
    /// Plays, seconds and completions summed, and distinct listeners in the window.
    pub sum: DayCounts,
}

/// The plays service.
pub struct Plays {
    store: Store,
    plays: Table<(UserId, i64, PlayId), Play>,
    keys: Table<(UserId, String), PlayId>,
    user_tracks: Table<(UserId, TrackId), u64>,
    user_totals: Table<UserId, UserTotals>,
    privacy: Table<UserId, Privacy>,
    counters: [Counters; 3],
    chart_days: Table<(u32, u8, Uuid), u64>,
    // One recording at a time: see the module comment.
    write: Mutex<()>,
    charts: RwLock<ChartState>,
    /// Told every item's all-time plays, which search ranks by.
    catalog: Arc<Catalog>,
}

/// Validates one reported play.
pub fn validate(p: &PlayInput, now: UnixTime) -> Result<()> {
    if p.idempotency_key.is_empty() || p.idempotency_key.len() > MAX_KEY_BYTES {
        return Err(Error::invalid(
            "idempotency_key",
            format!("must be 1 to {MAX_KEY_BYTES} bytes"),
        ));
    }
    if p.started_at > now + FUTURE_SLACK_SECS {
        return Err(Error::invalid("started_at", "lies in the future"));
    }
    if p.started_at < 946_684_800 {
        return Err(Error::invalid("started_at", "lies before the year 2000"));
    }
    if p.seconds_played > 86_400 {
        return Err(Error::invalid("seconds_played", "must be at most a day"));
    }
    Ok(())
}

/// Whether a play went past 80 % of the track.
fn is_complete(seconds_played: u32, duration_ms: u64) -> bool {
    duration_ms > 0 && u64::from(seconds_played) * 1000 * 10 >= duration_ms * 8
}

impl Plays {
    /// Opens the trees, rebuilds the charts from them and gives `catalog` every item's plays.
    pub fn open(store: &Store, catalog: Arc<Catalog>) -> Result<Self> {
        let plays = Self {
            store: store.clone(),
            plays: store.table(PLAYS)?,
            keys: store.table(PLAY_KEYS)?,
            user_tracks: store.table(USER_TRACK_PLAYS)?,
            user_totals: store.table(USER_TOTALS)?,
            privacy: store.table(USER_PRIVACY)?,
            counters: [
                Counters::open(store, TRACK_COUNTERS)?,
                Counters::open(store, ALBUM_COUNTERS)?,
                Counters::open(store, ARTIST_COUNTERS)?,
            ],
            chart_days: store.table(CHART_DAYS)?,
            write: Mutex::new(()),
            charts: RwLock::new(ChartState::default()),
            catalog,
        };
        plays.load_charts()?;
        let charts = plays.charts.read();
        for kind in KINDS {
            let all = &charts.all[kind as usize];
            plays
                .catalog
                .set_popularity(kind.search_kind(), all.iter().map(|(i, n)| (*i, *n)));
        }
        drop(charts);
        Ok(plays)
    }

    fn load_charts(&self) -> Result<()> {
        let mut state = ChartState::default();
        for kind in KINDS {
            let all = &mut state.all[kind as usize];
            for entry in self.counters[kind as usize].totals.iter() {
                let (item, totals) = entry?;
                all.insert(item, totals.plays);
            }
        }
        let from = day_of(now()).saturating_sub(CHART_DAYS_KEPT - 1);
        for entry in self.chart_days.range((from, 0u8, Uuid::nil())..) {
            let ((day, kind, item), plays) = entry?;
            if let Some(map) = state
                .days
                .entry(day)
                .or_default()
                .get_mut(usize::from(kind))
            {
                map.insert(item, plays);
            }
        }
        *self.charts.write() = state;
        Ok(())
    }

    /// Whether `user` is in a private session.
    pub fn privacy(&self, user: UserId) -> Result<Privacy> {
        Ok(self.privacy.get(&user)?.unwrap_or_default())
    }

    /// Turns `user`'s private session on or off.
    pub fn set_privacy(&self, user: UserId, privacy: Privacy) -> Result<()> {
        if privacy == Privacy::default() {
            self.privacy.remove(&user)?;
        } else {
            self.privacy.insert(&user, &privacy)?;
        }
        Ok(())
    }

    /// Records `inputs` for `user`, each with the facts of its track, in one transaction.
    /// Inputs must be valid ([`validate`]). Blocking.
    pub fn record(&self, user: UserId, inputs: &[(PlayInput, TrackFacts)]) -> Result<Vec<Outcome>> {
        if self.privacy(user)?.private_session {
            return Ok(vec![Outcome::Private; inputs.len()]);
        }
        // Made outside the closure, which sled may run more than once.
        let ids: Vec<PlayId> = inputs.iter().map(|_| PlayId::new()).collect();
        let c = &self.counters;
        let _one_at_a_time = self.write.lock();
        let (outcomes, chart) = self
            .store
            .transaction(
                &[
                    &self.plays,
                    &self.keys,
                    &self.user_tracks,
                    &self.user_totals,
                    &c[0].days,
                    &c[0].latest,
                    &c[0].totals,
                    &c[1].days,
                    &c[1].latest,
                    &c[1].totals,
                    &c[2].days,
                    &c[2].latest,
                    &c[2].totals,
                    &self.chart_days,
                ],
                |tx| {
                    let keys = tx.table(&self.keys);
                    let plays = tx.table(&self.plays);
                    let user_tracks = tx.table(&self.user_tracks);
                    let latest = [
                        tx.table(&c[0].latest),
                        tx.table(&c[1].latest),
                        tx.table(&c[2].latest),
                    ];
                    let mut outcomes = Vec::with_capacity(inputs.len());
                    // Changes are summed per row first, so a batch writes each counter once.
                    let mut days: HashMap<(usize, Uuid, u32), DayCounts> = HashMap::new();
                    let mut totals: HashMap<(usize, Uuid), Totals> = HashMap::new();
                    let mut chart: HashMap<(u32, u8, Uuid), u64> = HashMap::new();
                    let mut me = UserTotals::default();
                    for ((p, facts), id) in inputs.iter().zip(&ids) {
                        let key = (user, p.idempotency_key.clone());
                        if let Some(existing) = keys.get(&key)? {
                            outcomes.push(Outcome::Duplicate(existing));
                            continue;
                        }
                        keys.insert(&key, id)?;
                        plays.insert(
                            &(user, p.started_at, *id),
                            &Play {
                                id: *id,
                                track: p.track,
                                started_at: p.started_at,
                                seconds_played: p.seconds_played,
                                completed: p.completed,
                                source: p.source,
                            },
                        )?;
                        outcomes.push(Outcome::Recorded(*id));
                        let day = day_of(p.started_at);
                        let seconds = u64::from(p.seconds_played);
                        let complete = u64::from(is_complete(p.seconds_played, facts.duration_ms));
                        let mut items: Vec<(usize, Uuid)> =
                            vec![(0, *p.track.as_uuid()), (1, *facts.album.as_uuid())];
                        for a in &facts.artists {
                            if !items.contains(&(2, *a.as_uuid())) {
                                items.push((2, *a.as_uuid()));
                            }
                        }
                        for (kind, item) in items {
                            let total = totals.entry((kind, item)).or_default();
                            total.plays += 1;
                            total.seconds += seconds;
                            total.complete += complete;
                            match latest[kind].get(&(item, user))? {
                                None => {
                                    total.listeners += 1;
                                    latest[kind].insert(&(item, user), &day)?;
                                    days.entry((kind, item, day)).or_default().latest_listeners +=
                                        1;
                                }
                                Some(prev) if day > prev => {
                                    latest[kind].insert(&(item, user), &day)?;
                                    days.entry((kind, item, prev)).or_default().latest_listeners -=
                                        1;
                                    days.entry((kind, item, day)).or_default().latest_listeners +=
                                        1;
                                }
                                Some(_) => {}
                            }
                            let d = days.entry((kind, item, day)).or_default();
                            d.plays += 1;
                            d.seconds += seconds;
                            d.complete += complete;
                            *chart.entry((day, kind as u8, item)).or_default() += 1;
                        }
                        let plays_of_track = user_tracks.get(&(user, p.track))?.unwrap_or(0);
                        if plays_of_track == 0 {
                            me.tracks += 1;
                        }
                        user_tracks.insert(&(user, p.track), &(plays_of_track + 1))?;
                        me.plays += 1;
                        me.seconds += seconds;
                        me.first_play =
                            Some(me.first_play.map_or(p.started_at, |f| f.min(p.started_at)));
                        me.last_play =
                            Some(me.last_play.map_or(p.started_at, |l| l.max(p.started_at)));
                    }
                    for ((kind, item, day), delta) in &days {
                        let t = tx.table(&c[*kind].days);
                        let mut row = t.get(&(*item, *day))?.unwrap_or_default();
                        row.plays += delta.plays;
                        row.seconds += delta.seconds;
                        row.complete += delta.complete;
                        row.latest_listeners += delta.latest_listeners;
                        t.insert(&(*item, *day), &row)?;
                    }
                    for ((kind, item), delta) in &totals {
                        let t = tx.table(&c[*kind].totals);
                        let mut row = t.get(item)?.unwrap_or_default();
                        row.plays += delta.plays;
                        row.seconds += delta.seconds;
                        row.complete += delta.complete;
                        row.listeners += delta.listeners;
                        t.insert(item, &row)?;
                    }
                    let chart_days = tx.table(&self.chart_days);
                    for (key, n) in &chart {
                        let now = chart_days.get(key)?.unwrap_or(0);
                        chart_days.insert(key, &(now + n))?;
                    }
                    if me.plays > 0 {
                        let t = tx.table(&self.user_totals);
                        let mut row = t.get(&user)?.unwrap_or_default();
                        row.plays += me.plays;
                        row.seconds += me.seconds;
                        row.tracks += me.tracks;
                        row.first_play = match (row.first_play, me.first_play) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        row.last_play = match (row.last_play, me.last_play) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            (a, b) => a.or(b),
                        };
                        t.insert(&user, &row)?;
                    }
                    Ok::<_, TxError<Error>>((outcomes, chart))
                },
            )
            .map_err(TxError::flatten)?;
        self.add_to_charts(chart);
        Ok(outcomes)
    }

    fn add_to_charts(&self, chart: HashMap<(u32, u8, Uuid), u64>) {
        if chart.is_empty() {
            return;
        }
        let oldest = day_of(now()).saturating_sub(CHART_DAYS_KEPT - 1);
        let mut state = self.charts.write();
        let mut popular: [Vec<(Uuid, u64)>; 3] = Default::default();
        for ((day, kind, item), n) in chart {
            let kind = usize::from(kind).min(2);
            let all = state.all[kind].entry(item).or_default();
            *all += n;
            popular[kind].push((item, *all));
            if day >= oldest {
                *state.days.entry(day).or_default()[kind]
                    .entry(item)
                    .or_default() += n;
            }
        }
        while state
            .days
            .first_key_value()
            .is_some_and(|(d, _)| *d < oldest)
        {
            state.days.pop_first();
        }
        drop(state);
        // Called under the recording lock, so the catalog learns counts in the order they grew.
        for (kind, plays) in KINDS.into_iter().zip(popular) {
            if !plays.is_empty() {
                self.catalog.set_popularity(kind.search_kind(), plays);
            }
        }
    }

    /// The top `limit` items of `kind` over `period`, most played first, with their plays.
    pub fn chart(&self, kind: ChartKind, period: Period, limit: usize) -> Vec<(Uuid, u64)> {
        let today = day_of(now());
        let state = self.charts.read();
        let k = kind as usize;
        let mut ranked: Vec<(Uuid, u64)> = match period {
            Period::All => state.all[k].iter().map(|(i, n)| (*i, *n)).collect(),
            Period::Day => state
                .days
                .get(&today)
                .map(|d| d[k].iter().map(|(i, n)| (*i, *n)).collect())
                .unwrap_or_default(),
            Period::Week => {
                let mut sum: HashMap<Uuid, u64> = HashMap::new();
                for (_, d) in state.days.range(today.saturating_sub(6)..=today) {
                    for (i, n) in &d[k] {
                        *sum.entry(*i).or_default() += n;
                    }
                }
                sum.into_iter().collect()
            }
        };
        drop(state);
        let order = |a: &(Uuid, u64), b: &(Uuid, u64)| b.1.cmp(&a.1).then(a.0.cmp(&b.0));
        if ranked.len() > limit && limit > 0 {
            ranked.select_nth_unstable_by(limit - 1, order);
            ranked.truncate(limit);
        }
        ranked.sort_unstable_by(order);
        ranked.truncate(limit);
        ranked
    }

    /// The counters of one item (`kind`) over the last `days` days, today included.
    pub fn window(&self, kind: ChartKind, item: Uuid, days: u32) -> Result<Window> {
        let today = day_of(now());
        let from = today.saturating_sub(days.saturating_sub(1));
        let mut w = Window::default();
        for entry in self.counters[kind as usize]
            .days
            .range((item, from)..=(item, today))
        {
            let ((_, day), counts) = entry?;
            w.sum.plays += counts.plays;
            w.sum.seconds += counts.seconds;
            w.sum.complete += counts.complete;
            w.sum.latest_listeners += counts.latest_listeners;
            if counts.plays > 0 {
                w.days.push((day, counts));
            }
        }
        Ok(w)
    }

    /// All-time counters of one item.
    pub fn totals(&self, kind: ChartKind, item: Uuid) -> Result<Totals> {
        Ok(self.counters[kind as usize]
            .totals
            .get(&item)?
            .unwrap_or_default())
    }

    /// A listener's totals.
    pub fn user_totals(&self, user: UserId) -> Result<UserTotals> {
        Ok(self.user_totals.get(&user)?.unwrap_or_default())
    }

    /// A listener's most played tracks.
    pub fn user_top_tracks(&self, user: UserId, limit: usize) -> Result<Vec<(TrackId, u64)>> {
        let mut all: Vec<(TrackId, u64)> = self
            .user_tracks
            .scan_prefix(&user)
            .map(|r| r.map(|((_, t), n)| (t, n)))
            .collect::<Result<_, _>>()?;
        all.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(limit);
        Ok(all)
    }

    /// A page of `user`'s history, newest first, with the total.
    pub fn history(&self, user: UserId, offset: u64, limit: u64) -> Result<(Vec<Play>, u64)> {
        let total = self.user_totals(user)?.plays;
        let items = self
            .plays
            .scan_prefix(&user)
            .rev()
            .skip(offset as usize)
            .take(limit as usize)
            .map(|r| r.map(|(_, p)| p))
            .collect::<Result<_, _>>()?;
        Ok((items, total))
    }

    /// Forgets `user`'s history and personal totals. Track, album and artist counters keep
    /// the plays: statistics are not personal data. Blocking.
    pub fn clear_history(&self, user: UserId) -> Result<u64> {
        let _one_at_a_time = self.write.lock();
        let mut removed = 0;
        loop {
            let chunk: Vec<(UserId, i64, PlayId)> = self
                .plays
                .scan_prefix_keys(&user)
                .take(1000)
                .collect::<Result<_, _>>()?;
            if chunk.is_empty() {
                break;
            }
            for key in &chunk {
                self.plays.remove(key)?;
            }
            removed += chunk.len() as u64;
        }
        let tracks: Vec<(UserId, TrackId)> = self
            .user_tracks
            .scan_prefix_keys(&user)
            .collect::<Result<_, _>>()?;
        for key in &tracks {
            self.user_tracks.remove(key)?;
        }
        self.user_totals.remove(&user)?;
        Ok(removed)
    }
}
