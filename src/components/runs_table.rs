//! The runs table: a virtualised grid that stays smooth with ten thousand runs.
//!
//! Rows have one fixed height, so the rows a scroll position shows follow by arithmetic
//! ([`visible_window`]); only those (plus a few above and below) exist in the DOM, with two
//! spacer rows standing in for the rest. Everything that decides something — which keys
//! become columns, how a header click changes the sort, how child runs nest under their
//! parents — is a plain function with a test at the end of the file.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use leptos::prelude::*;
use mlops_core::tracking::{LifecycleStage, Run};

use crate::routes::Route;

/// Every row is exactly this tall (CSS `.runs-grid tbody tr.run-row` agrees).
pub const ROW_HEIGHT_PX: f64 = 32.0;
/// The scroll container's height until the browser reports the real one.
pub const VIEWPORT_PX: f64 = 544.0;
/// Rows rendered above and below the visible ones, so a fast scroll shows no gap.
pub const OVERSCAN_ROWS: usize = 8;
/// Indentation stops growing here, so a deep chain of child runs keeps its name visible.
const MAX_SHOWN_DEPTH: u16 = 6;

/// Which rows to render for a scroll position: `first..last` (end exclusive), with the
/// heights of the spacers that stand in for the rows above and below.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VisibleWindow {
    pub first: usize,
    pub last: usize,
    pub top_pad: f64,
    pub bottom_pad: f64,
}

/// The rows a viewport of `viewport_height` pixels shows when scrolled to `scroll_top`,
/// widened by `overscan` rows each way. A scroll position past the end (the list just got
/// shorter) shows the last screenful rather than nothing.
pub fn visible_window(
    scroll_top: f64,
    viewport_height: f64,
    row_height: f64,
    total: usize,
    overscan: usize,
) -> VisibleWindow {
    if total == 0 || row_height.is_nan() || row_height <= 0.0 {
        return VisibleWindow { first: 0, last: 0, top_pad: 0.0, bottom_pad: 0.0 };
    }
    let scroll_top = if scroll_top.is_finite() { scroll_top.max(0.0) } else { 0.0 };
    let viewport_height = if viewport_height.is_finite() { viewport_height.max(0.0) } else { 0.0 };
    // One extra row: a viewport that starts mid-row shows part of one more row.
    let shown = (viewport_height / row_height).ceil() as usize + 1;
    let first_shown = ((scroll_top / row_height).floor() as usize).min(total.saturating_sub(shown));
    let first = first_shown.saturating_sub(overscan);
    let last = first_shown.saturating_add(shown).saturating_add(overscan).min(total);
    VisibleWindow {
        first,
        last,
        top_pad: first as f64 * row_height,
        bottom_pad: (total - last) as f64 * row_height,
    }
}

/// A user-picked column: the latest value of a metric, a param or a tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    Metric(String),
    Param(String),
    Tag(String),
}

impl Column {
    /// How the choice is remembered: `metrics.rmse`, `params.alpha`, `tags.team`.
    pub fn id(&self) -> String {
        let (entity, key) = self.parts();
        format!("{entity}.{key}")
    }

    pub fn from_id(id: &str) -> Option<Self> {
        let (entity, key) = id.split_once('.')?;
        if key.is_empty() {
            return None;
        }
        let key = key.to_string();
        match entity {
            "metrics" => Some(Column::Metric(key)),
            "params" => Some(Column::Param(key)),
            "tags" => Some(Column::Tag(key)),
            _ => None,
        }
    }

    fn parts(&self) -> (&'static str, &str) {
        match self {
            Column::Metric(key) => ("metrics", key),
            Column::Param(key) => ("params", key),
            Column::Tag(key) => ("tags", key),
        }
    }

    pub fn key(&self) -> &str {
        self.parts().1
    }

    /// The key as the filter and order_by language spells it, quoted when needed.
    pub fn search_key(&self) -> String {
        let (entity, key) = self.parts();
        search_key(entity, key)
    }

    /// `run-val-rmse` for the metric `val_rmse`; params and tags say what they are.
    pub fn testid(&self) -> String {
        let slug: String =
            self.key().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        match self {
            Column::Metric(_) => format!("run-{slug}"),
            Column::Param(_) => format!("run-param-{slug}"),
            Column::Tag(_) => format!("run-tag-{slug}"),
        }
    }

    /// The cell text, or `None` when the run lacks the key.
    pub fn value(&self, run: &Run) -> Option<String> {
        match self {
            Column::Metric(key) => run.metric(key).map(format_metric),
            Column::Param(key) => run.params.get(key).cloned(),
            Column::Tag(key) => run.tags.get(key).cloned(),
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Column::Metric(_))
    }
}

/// `metrics.rmse`, or ``metrics.`f1-score` `` when the key is not a bare word.
pub fn search_key(entity: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && !key.ends_with('.');
    if bare {
        format!("{entity}.{key}")
    } else {
        format!("{entity}.`{}`", key.replace('`', "``"))
    }
}

/// Metrics with four decimals, as Chapter 1 shows them (so the two pages agree); large
/// whole numbers such as row counts without any, and tiny ones in scientific notation.
pub fn format_metric(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && (100.0..1e15).contains(&value.abs()) {
        format!("{value:.0}")
    } else if value != 0.0 && value.abs() < 1e-3 {
        format!("{value:.3e}")
    } else {
        format!("{value:.4}")
    }
}

/// Every metric, param and tag key the runs have, for the column picker.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ColumnKeys {
    pub metrics: BTreeSet<String>,
    pub params: BTreeSet<String>,
    pub tags: BTreeSet<String>,
}

impl ColumnKeys {
    pub fn contains(&self, column: &Column) -> bool {
        match column {
            Column::Metric(key) => self.metrics.contains(key),
            Column::Param(key) => self.params.contains(key),
            Column::Tag(key) => self.tags.contains(key),
        }
    }

    /// All columns, metrics first, then params, then tags.
    pub fn columns(&self) -> Vec<Column> {
        let metrics = self.metrics.iter().cloned().map(Column::Metric);
        let params = self.params.iter().cloned().map(Column::Param);
        let tags = self.tags.iter().cloned().map(Column::Tag);
        metrics.chain(params).chain(tags).collect()
    }
}

/// Collects keys without cloning a string twice, since this runs over every run.
pub fn collect_column_keys<'a>(runs: impl IntoIterator<Item = &'a Run>) -> ColumnKeys {
    fn add<'k>(set: &mut BTreeSet<String>, keys: impl Iterator<Item = &'k String>) {
        for key in keys {
            if !set.contains(key) {
                set.insert(key.clone());
            }
        }
    }
    let mut found = ColumnKeys::default();
    for run in runs {
        add(&mut found.metrics, run.metrics.keys());
        add(&mut found.params, run.params.keys());
        add(&mut found.tags, run.tags.keys());
    }
    found
}

/// The columns an experiment starts with: the course's headline numbers, when its runs
/// have them.
pub fn default_columns(keys: &ColumnKeys) -> Vec<Column> {
    [
        Column::Metric("rmse".into()),
        Column::Metric("val_rmse".into()),
        Column::Param("model".into()),
        Column::Param("alpha".into()),
    ]
    .into_iter()
    .filter(|column| keys.contains(column))
    .collect()
}

pub fn encode_columns(columns: &[Column]) -> String {
    let ids: Vec<String> = columns.iter().map(Column::id).collect();
    serde_json::to_string(&ids).unwrap_or_default()
}

/// `None` for anything that is not a saved column list (an old or hand-edited value).
pub fn decode_columns(text: &str) -> Option<Vec<Column>> {
    let ids: Vec<String> = serde_json::from_str(text).ok()?;
    ids.iter().map(|id| Column::from_id(id)).collect()
}

/// Adds the column at the end, or removes it.
pub fn toggle_column(columns: &[Column], column: &Column) -> Vec<Column> {
    if columns.contains(column) {
        columns.iter().filter(|c| *c != column).cloned().collect()
    } else {
        columns.iter().cloned().chain([column.clone()]).collect()
    }
}

/// One `order_by` clause as the table keeps it: the key's text and the direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortClause {
    pub key: String,
    pub ascending: bool,
}

impl SortClause {
    pub fn text(&self) -> String {
        format!("{} {}", self.key, if self.ascending { "ASC" } else { "DESC" })
    }
}

/// What a header click does: a plain click sorts by that key alone (flipping it when it
/// already is the only key); a shift-click adds it as the next key, or flips it in place.
pub fn click_sort(current: &[SortClause], key: &str, add: bool, first_ascending: bool) -> Vec<SortClause> {
    let existing = current.iter().position(|c| c.key == key);
    match (add, existing) {
        (true, Some(at)) => {
            let mut next = current.to_vec();
            next[at].ascending = !next[at].ascending;
            next
        }
        (true, None) => {
            let mut next = current.to_vec();
            next.push(SortClause { key: key.to_string(), ascending: first_ascending });
            next
        }
        (false, Some(at)) if current.len() == 1 => {
            vec![SortClause { key: key.to_string(), ascending: !current[at].ascending }]
        }
        (false, _) => vec![SortClause { key: key.to_string(), ascending: first_ascending }],
    }
}

/// The order to show runs in when child runs sit under their parents: each run is followed
/// by its children (in the order given), recursively. A run whose parent is not in the list
/// is a root. Returns `(index into runs, depth)`; every run appears exactly once, even in a
/// (corrupt) cycle of parents.
pub fn nest_under_parents(runs: &[Run]) -> Vec<(usize, u16)> {
    let index: HashMap<&str, usize> = runs.iter().enumerate().map(|(i, r)| (r.run_id.as_str(), i)).collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        match run.parent_run_id().and_then(|p| index.get(p)).filter(|&&p| p != i) {
            Some(&parent) => children.entry(parent).or_default().push(i),
            None => roots.push(i),
        }
    }
    let mut order = Vec::with_capacity(runs.len());
    let mut placed = vec![false; runs.len()];
    let walk = |start: usize, order: &mut Vec<(usize, u16)>, placed: &mut [bool]| {
        // An explicit stack: a hostile import could chain thousands of parents.
        let mut stack = vec![(start, 0u16)];
        while let Some((at, depth)) = stack.pop() {
            if std::mem::replace(&mut placed[at], true) {
                continue;
            }
            order.push((at, depth));
            if let Some(kids) = children.get(&at) {
                stack.extend(kids.iter().rev().map(|&kid| (kid, depth.saturating_add(1))));
            }
        }
    };
    for root in roots {
        walk(root, &mut order, &mut placed);
    }
    // Runs in a cycle of parents have no root; show them rather than lose them.
    for i in 0..runs.len() {
        if !placed[i] {
            walk(i, &mut order, &mut placed);
        }
    }
    order
}

/// The name a run is shown under: its name, else the start of its id.
pub fn display_name(run: &Run) -> String {
    if !run.run_name.is_empty() {
        return run.run_name.clone();
    }
    match run.tags.get(mlops_core::tracking::tags::RUN_NAME) {
        Some(name) if !name.is_empty() => name.clone(),
        _ => run.run_id.chars().take(8).collect(),
    }
}

/// `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub fn format_duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1_000.0)
    } else if ms < 3_600_000 {
        format!("{} min {:02} s", ms / 60_000, ms % 60_000 / 1_000)
    } else {
        format!("{} h {:02} min", ms / 3_600_000, ms % 3_600_000 / 60_000)
    }
}

/// `2024-03-05 14:07:09` for a Unix time in ms, shifted by `offset_minutes` east of UTC.
pub fn format_timestamp(ms: i64, offset_minutes: i64) -> String {
    let shifted = ms.saturating_add(offset_minutes.saturating_mul(60_000));
    mlops_core::summary::format_timestamp(shifted.saturating_mul(1_000))
}

fn local_time(ms: i64) -> String {
    #[cfg(target_arch = "wasm32")]
    let offset =
        -(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64)).get_timezone_offset() as i64);
    #[cfg(not(target_arch = "wasm32"))]
    let offset = 0;
    format_timestamp(ms, offset)
}

/// The parent a child run names, as the table shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParentRef {
    pub run_id: String,
    pub name: String,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub run: Arc<Run>,
    /// How many parents up the chain are shown above it (0 when not nested).
    pub depth: u16,
    pub parent: Option<ParentRef>,
}

/// Changes whenever anything shown in the row changes, so a keyed row is rebuilt when its
/// run is updated (a metric logged, a rename) and kept when it only moves.
pub fn row_fingerprint(row: &RunRow) -> u64 {
    let run = &row.run;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&run.run_id, &run.run_name, &run.user_id, run.status, run.start_time, run.end_time).hash(&mut hasher);
    (run.lifecycle_stage, &run.params, &run.tags, row.depth).hash(&mut hasher);
    row.parent.as_ref().map(|p| (&p.run_id, &p.name)).hash(&mut hasher);
    for (key, metric) in &run.metrics {
        (key, metric.value.to_bits(), metric.step, metric.timestamp).hash(&mut hasher);
    }
    hasher.finish()
}

/// Fixed columns before the picked ones: (label, order_by key if sortable, first direction,
/// width in px).
const FIXED_COLUMNS: [(&str, Option<&str>, bool, u32); 5] = [
    ("Run", Some("attributes.run_name"), true, 240),
    ("Status", Some("attributes.status"), true, 96),
    ("Started", Some("attributes.start_time"), false, 176),
    ("Duration", None, true, 96),
    ("User", Some("attributes.user_id"), true, 110),
];
const CHECKBOX_WIDTH: u32 = 36;
const PICKED_WIDTH: u32 = 118;

#[component]
fn SortHeader(
    label: String,
    sort_key: Option<String>,
    first_ascending: bool,
    sort: RwSignal<Vec<SortClause>>,
    #[prop(optional)] class: &'static str,
    #[prop(optional)] title: String,
) -> impl IntoView {
    let Some(key) = sort_key else {
        return view! { <th class=class title="Not sortable">{label}</th> }.into_any();
    };
    let key = StoredValue::new(key);
    let marker = move || {
        sort.with(|clauses| {
            key.with_value(|key| {
                let at = clauses.iter().position(|c| &c.key == key)?;
                let arrow = if clauses[at].ascending { "▲" } else { "▼" };
                Some(if clauses.len() > 1 { format!(" {arrow}{}", at + 1) } else { format!(" {arrow}") })
            })
        })
    };
    let title = if title.is_empty() {
        "Click to sort; shift-click to add as the next sort key".to_string()
    } else {
        format!("{title} — click to sort; shift-click to add as the next sort key")
    };
    view! {
        <th class=format!("sortable {class}") title=title aria-sort=move || sort.with(|clauses| key.with_value(|key| {
                match clauses.iter().find(|c| &c.key == key) {
                    Some(c) if c.ascending => "ascending",
                    Some(_) => "descending",
                    None => "none",
                }
            }))
            on:click=move |ev: leptos::ev::MouseEvent| {
                let add = ev.shift_key();
                sort.update(|clauses| *clauses = key.with_value(|key| click_sort(clauses, key, add, first_ascending)));
            }>
            {label}<span class="sort-marker">{marker}</span>
        </th>
    }
    .into_any()
}

/// The grid. `selected` may hold ids that are not in `rows`; the page decides what they mean.
#[component]
pub fn RunsTable(
    #[prop(into)] rows: Signal<Arc<Vec<RunRow>>>,
    #[prop(into)] columns: Signal<Vec<Column>>,
    sort: RwSignal<Vec<SortClause>>,
    selected: RwSignal<HashSet<String>>,
    /// When this changes (another experiment, filter or view), the table scrolls back to the
    /// top, as it does when the sort changes; a run being updated does not move it.
    #[prop(into)]
    scroll_reset: Signal<String>,
) -> impl IntoView {
    let scroller = NodeRef::<leptos::html::Div>::new();
    // Moves the DOM only; the scroll event that follows updates `scroll_top`.
    Effect::new(move |previous: Option<()>| {
        sort.track();
        scroll_reset.track();
        if let (Some(()), Some(element)) = (previous, scroller.get_untracked()) {
            element.set_scroll_top(0);
        }
    });
    let scroll_top = RwSignal::new(0.0);
    let viewport = RwSignal::new(VIEWPORT_PX);
    let window = Memo::new(move |_| {
        let total = rows.with(|rows| rows.len());
        visible_window(scroll_top.get(), viewport.get(), ROW_HEIGHT_PX, total, OVERSCAN_ROWS)
    });
    let visible = move || {
        let range = window.get();
        rows.with(|rows| rows.get(range.first..range.last).map(<[RunRow]>::to_vec).unwrap_or_default())
    };
    // The row last clicked, so shift-click can select a range.
    let anchor = StoredValue::new(None::<String>);

    let all_checked = move || {
        rows.with(|rows| {
            selected.with(|s| !rows.is_empty() && rows.iter().all(|r| s.contains(&r.run.run_id)))
        })
    };
    let some_checked =
        move || rows.with(|rows| selected.with(|s| rows.iter().any(|r| s.contains(&r.run.run_id))));
    let toggle_all = move |_| {
        let select = !all_checked();
        rows.with_untracked(|rows| {
            selected.update(|s| {
                for row in rows.iter() {
                    if select {
                        s.insert(row.run.run_id.clone());
                    } else {
                        s.remove(&row.run.run_id);
                    }
                }
            })
        });
    };
    let on_row_check = move |run_id: String, checked: bool, shift: bool| {
        let range = anchor.get_value().filter(|_| shift).and_then(|from| {
            rows.with_untracked(|rows| {
                let at = |id: &str| rows.iter().position(|r| r.run.run_id == id);
                let (a, b) = (at(&from)?, at(&run_id)?);
                Some(rows[a.min(b)..=a.max(b)].iter().map(|r| r.run.run_id.clone()).collect::<Vec<_>>())
            })
        });
        selected.update(|s| {
            for id in range.unwrap_or_else(|| vec![run_id.clone()]) {
                if checked {
                    s.insert(id);
                } else {
                    s.remove(&id);
                }
            }
        });
        anchor.set_value(Some(run_id));
    };

    let width = move || {
        let fixed: u32 = FIXED_COLUMNS.iter().map(|c| c.3).sum();
        let picked = columns.with(Vec::len) as u32 * PICKED_WIDTH;
        format!("{}px", CHECKBOX_WIDTH + fixed + picked)
    };
    let column_count = move || (1 + FIXED_COLUMNS.len() + columns.with(Vec::len)).to_string();

    view! {
        <div class="runs-scroll" data-testid="runs-table" node_ref=scroller role="region" aria-label="Runs" tabindex="0"
            style=format!("max-height: {VIEWPORT_PX}px")
            on:scroll=move |ev| {
                let element = event_target::<web_sys::Element>(&ev);
                scroll_top.set(f64::from(element.scroll_top()));
                viewport.set(f64::from(element.client_height()));
            }>
            <table class="runs-grid" style:width=width>
                <colgroup>
                    <col style=format!("width: {CHECKBOX_WIDTH}px")/>
                    {FIXED_COLUMNS.iter().map(|c| view! { <col style=format!("width: {}px", c.3)/> }).collect_view()}
                    {move || columns.with(|columns| columns.iter().map(|_| view! { <col style=format!("width: {PICKED_WIDTH}px")/> }).collect_view())}
                </colgroup>
                <thead>
                    <tr>
                        <th class="check">
                            <input type="checkbox" data-testid="select-all" title="Select every matching run"
                                prop:checked=all_checked
                                prop:indeterminate=move || some_checked() && !all_checked()
                                on:change=toggle_all/>
                        </th>
                        {FIXED_COLUMNS.iter().map(|&(label, key, ascending, _)| view! {
                            <SortHeader label=label.to_string() sort_key=key.map(str::to_string) first_ascending=ascending sort/>
                        }).collect_view()}
                        {move || columns.get().into_iter().map(|column| {
                            let class = if column.is_numeric() { "num kind-metric" } else if matches!(column, Column::Param(_)) { "kind-param" } else { "kind-tag" };
                            // Smaller is better for the losses this course logs.
                            view! {
                                <SortHeader label=column.key().to_string() sort_key=Some(column.search_key())
                                    first_ascending=true sort class title=column.id()/>
                            }
                        }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    <tr class="spacer" aria-hidden="true">
                        <td colspan=column_count style:height=move || format!("{}px", window.get().top_pad)></td>
                    </tr>
                    <For each=visible key=|row| (row.run.run_id.clone(), row_fingerprint(row)) let(row)>
                        <RunRowView row columns selected on_check=on_row_check/>
                    </For>
                    <tr class="spacer" aria-hidden="true">
                        <td colspan=column_count style:height=move || format!("{}px", window.get().bottom_pad)></td>
                    </tr>
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn RunRowView(
    row: RunRow,
    columns: Signal<Vec<Column>>,
    selected: RwSignal<HashSet<String>>,
    on_check: impl Fn(String, bool, bool) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let run = row.run.clone();
    let run_id = run.run_id.clone();
    let name = display_name(&run);
    let status = run.status.as_str().to_ascii_lowercase();
    let deleted = run.lifecycle_stage == LifecycleStage::Deleted;
    let duration = match run.duration_ms() {
        Some(ms) => format_duration(ms),
        None if run.status.is_terminated() => "—".to_string(),
        None => "running…".to_string(),
    };
    let user = if run.user_id.is_empty() {
        run.tags.get(mlops_core::tracking::tags::USER).cloned().unwrap_or_default()
    } else {
        run.user_id.clone()
    };
    let nested = row.depth > 0;
    let indent = format!("padding-left: {:.1}em", 0.4 + 1.1 * f64::from(row.depth.min(MAX_SHOWN_DEPTH)));
    let parent = row.parent.clone();
    let nested_marker = parent.as_ref().map(|p| {
        view! { <span class="child-marker" title=format!("Child run of {}", p.name)>"↳ "</span> }
    });
    // A child shown away from its parent (grouping off, or the parent filtered out) says whose it is.
    let far_parent = parent.filter(|_| row.depth == 0).map(|p| {
        view! { <a class="parent-link muted" href=Route::Run(p.run_id.clone()).path() title="Parent run">{format!(" ↑ {}", p.name)}</a> }
    });
    let checked_id = run_id.clone();
    let click_id = run_id.clone();
    let cells_run = run.clone();
    view! {
        <tr class="run-row" class:deleted=deleted class:child=nested data-testid="run-row" data-run-id=run_id.clone()>
            <td class="check">
                <input type="checkbox" data-testid="select-run" aria-label=format!("Select {name}")
                    prop:checked=move || selected.with(|s| s.contains(&checked_id))
                    on:click=move |ev: leptos::ev::MouseEvent| {
                        on_check(click_id.clone(), event_target_checked(&ev), ev.shift_key());
                    }/>
            </td>
            <td class="name" style=indent title=name.clone()>
                {nested_marker}
                <a href=Route::Run(run_id.clone()).path() data-testid="run-link">{name.clone()}</a>
                {deleted.then(|| view! { <span class="badge deleted-badge">"deleted"</span> })}
                {far_parent}
            </td>
            <td><span class=format!("status status-{status}")>{status.clone()}</span></td>
            <td class="num" title=format!("{} ms since 1970 (UTC)", run.start_time)>{local_time(run.start_time)}</td>
            <td class="num">{duration}</td>
            <td title=user.clone()>{user.clone()}</td>
            {move || columns.get().into_iter().map(|column| {
                let value = column.value(&cells_run);
                let class = if column.is_numeric() { "num" } else { "" };
                let title = value.clone().unwrap_or_else(|| format!("no {}", column.id()));
                view! { <td class=class data-testid=column.testid() title=title>{value}</td> }
            }).collect_view()}
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlops_core::tracking::{tags, Metric, RunStatus};

    fn run(id: &str, parent: Option<&str>) -> Run {
        let mut tag_map = std::collections::BTreeMap::new();
        if let Some(parent) = parent {
            tag_map.insert(tags::PARENT_RUN_ID.to_string(), parent.to_string());
        }
        Run {
            run_id: id.to_string(),
            experiment_id: "0".to_string(),
            run_name: String::new(),
            user_id: "ada".to_string(),
            status: RunStatus::Finished,
            start_time: 0,
            end_time: Some(1_000),
            lifecycle_stage: LifecycleStage::Active,
            params: Default::default(),
            metrics: Default::default(),
            tags: tag_map,
            artifacts: Vec::new(),
            logged_models: Vec::new(),
        }
    }

    #[test]
    fn window_at_the_top_renders_the_viewport_and_overscan_below() {
        let w = visible_window(0.0, 320.0, 32.0, 10_000, 5);
        assert_eq!((w.first, w.last), (0, 16));
        assert_eq!(w.top_pad, 0.0);
        assert_eq!(w.bottom_pad, (10_000 - 16) as f64 * 32.0);
    }

    #[test]
    fn window_in_the_middle_has_overscan_both_ways_and_pads_add_up() {
        let w = visible_window(32.0 * 5_000.0 + 10.0, 320.0, 32.0, 10_000, 5);
        assert_eq!((w.first, w.last), (4_995, 5_016));
        let rendered = (w.last - w.first) as f64 * 32.0;
        assert_eq!(w.top_pad + rendered + w.bottom_pad, 10_000.0 * 32.0);
        assert!(w.last - w.first < 40, "only a window of rows is rendered");
    }

    #[test]
    fn window_past_the_end_shows_the_last_screenful() {
        // The list shrank from 10,000 to 20 rows while scrolled far down.
        let w = visible_window(300_000.0, 320.0, 32.0, 20, 5);
        // 11 rows fill the viewport (10 plus a partial one), 5 more above.
        assert_eq!((w.first, w.last), (4, 20));
        assert_eq!(w.bottom_pad, 0.0);
    }

    #[test]
    fn window_handles_empty_short_and_nonsense_input() {
        assert_eq!(
            visible_window(0.0, 320.0, 32.0, 0, 5),
            VisibleWindow { first: 0, last: 0, top_pad: 0.0, bottom_pad: 0.0 }
        );
        let short = visible_window(0.0, 320.0, 32.0, 3, 5);
        assert_eq!((short.first, short.last, short.bottom_pad), (0, 3, 0.0));
        for (top, height, row) in [(f64::NAN, 320.0, 32.0), (-50.0, f64::INFINITY, 32.0), (0.0, 320.0, 0.0)] {
            let w = visible_window(top, height, row, 100, 5);
            assert!(w.first <= w.last && w.last <= 100, "{top} {height} {row}: {w:?}");
        }
    }

    #[test]
    fn column_keys_collect_every_key_once_and_defaults_pick_the_course_numbers() {
        let mut a = run("a", None);
        a.metrics.insert("val_rmse".into(), Metric { value: 7.0, timestamp: 0, step: 0 });
        a.metrics.insert("rmse".into(), Metric { value: 7.0, timestamp: 0, step: 0 });
        a.params.insert("model".into(), "Lasso".into());
        let mut b = run("b", Some("a"));
        b.metrics.insert("val_mae".into(), Metric { value: 5.0, timestamp: 0, step: 0 });
        b.params.insert("model".into(), "Ridge".into());
        let keys = collect_column_keys([&a, &b]);
        assert_eq!(keys.metrics.iter().collect::<Vec<_>>(), ["rmse", "val_mae", "val_rmse"]);
        assert_eq!(keys.params.iter().collect::<Vec<_>>(), ["model"]);
        assert_eq!(keys.tags.iter().collect::<Vec<_>>(), [tags::PARENT_RUN_ID]);
        assert_eq!(
            default_columns(&keys),
            [Column::Metric("rmse".into()), Column::Metric("val_rmse".into()), Column::Param("model".into())]
        );
        assert_eq!(default_columns(&ColumnKeys::default()), []);
        assert_eq!(keys.columns().len(), 5);
    }

    #[test]
    fn columns_round_trip_through_storage_and_reject_junk() {
        let columns = vec![Column::Metric("val_rmse".into()), Column::Tag("mlflow.parentRunId".into())];
        assert_eq!(decode_columns(&encode_columns(&columns)), Some(columns.clone()));
        assert_eq!(decode_columns("not json"), None);
        assert_eq!(decode_columns("[\"bogus.x\"]"), None);
        assert_eq!(decode_columns("[\"metrics.\"]"), None);
        let toggled = toggle_column(&columns, &Column::Param("alpha".into()));
        assert_eq!(toggled.len(), 3);
        assert_eq!(toggle_column(&toggled, &Column::Param("alpha".into())), columns);
    }

    #[test]
    fn search_keys_quote_what_the_parser_would_misread() {
        assert_eq!(Column::Metric("rmse".into()).search_key(), "metrics.rmse");
        assert_eq!(Column::Tag("mlflow.parentRunId".into()).search_key(), "tags.mlflow.parentRunId");
        assert_eq!(Column::Metric("f1-score".into()).search_key(), "metrics.`f1-score`");
        assert_eq!(Column::Param("a`b".into()).search_key(), "params.`a``b`");
        assert_eq!(Column::Param("1st".into()).search_key(), "params.`1st`");
        for column in
            [Column::Metric("f1-score".into()), Column::Param("a`b c".into()), Column::Tag("x.y".into())]
        {
            let clause = format!("{} DESC", column.search_key());
            assert!(
                mlops_core::tracking::search::parse_order_by(std::slice::from_ref(&clause)).is_ok(),
                "{clause}"
            );
        }
    }

    #[test]
    fn the_val_rmse_cell_has_the_id_the_end_to_end_test_reads_and_chapter_1s_format() {
        let column = Column::Metric("val_rmse".into());
        assert_eq!(column.testid(), "run-val-rmse");
        assert_eq!(Column::Param("model".into()).testid(), "run-param-model");
        let mut r = run("a", None);
        r.metrics.insert("val_rmse".into(), Metric { value: 6.123_456, timestamp: 0, step: 0 });
        assert_eq!(column.value(&r).as_deref(), Some("6.1235"));
        assert_eq!(format_metric(12_345.0), "12345");
        assert_eq!(format_metric(5.0), "5.0000", "a small whole RMSE still reads like the others");
        assert_eq!(format_metric(0.000_012_5), "1.250e-5");
        assert_eq!(Column::Param("alpha".into()).value(&r), None);
    }

    #[test]
    fn header_clicks_sort_flip_and_add_keys() {
        let rmse = "metrics.rmse";
        let one = click_sort(&[], rmse, false, true);
        assert_eq!(one, [SortClause { key: rmse.into(), ascending: true }]);
        let flipped = click_sort(&one, rmse, false, true);
        assert_eq!(flipped, [SortClause { key: rmse.into(), ascending: false }]);
        let two = click_sort(&flipped, "params.alpha", true, true);
        assert_eq!(
            two.iter().map(SortClause::text).collect::<Vec<_>>(),
            ["metrics.rmse DESC", "params.alpha ASC"]
        );
        let two_flipped = click_sort(&two, rmse, true, true);
        assert!(two_flipped[0].ascending && two_flipped.len() == 2);
        let replaced = click_sort(&two, "attributes.start_time", false, false);
        assert_eq!(replaced.iter().map(SortClause::text).collect::<Vec<_>>(), ["attributes.start_time DESC"]);
    }

    #[test]
    fn children_follow_their_parents_and_cycles_lose_nothing() {
        // Sorted order: c1 (child of p), p, orphan (parent missing), c2 (child of p), g (child of c1).
        let runs = vec![
            run("c1", Some("p")),
            run("p", None),
            run("orphan", Some("gone")),
            run("c2", Some("p")),
            run("g", Some("c1")),
        ];
        let order: Vec<(&str, u16)> =
            nest_under_parents(&runs).into_iter().map(|(i, d)| (runs[i].run_id.as_str(), d)).collect();
        assert_eq!(order, [("p", 0), ("c1", 1), ("g", 2), ("c2", 1), ("orphan", 0)]);

        let cycle = vec![run("a", Some("b")), run("b", Some("a")), run("self", Some("self"))];
        let order = nest_under_parents(&cycle);
        let mut seen: Vec<usize> = order.iter().map(|&(i, _)| i).collect();
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2]);
    }

    #[test]
    fn durations_and_times_read_like_a_person_wrote_them() {
        assert_eq!(format_duration(850), "850 ms");
        assert_eq!(format_duration(12_345), "12.3 s");
        assert_eq!(format_duration(245_000), "4 min 05 s");
        assert_eq!(format_duration(7_380_000), "2 h 03 min");
        assert_eq!(format_duration(-5), "0 ms");
        assert_eq!(format_timestamp(0, 0), "1970-01-01 00:00:00");
        // 2024-02-29 12:34:56 UTC, a leap day.
        assert_eq!(format_timestamp(1_709_210_096_000, 0), "2024-02-29 12:34:56");
        assert_eq!(format_timestamp(1_709_210_096_000, 120), "2024-02-29 14:34:56");
        assert_eq!(format_timestamp(-1_000, 0), "1969-12-31 23:59:59");
    }

    #[test]
    fn a_changed_run_changes_its_row_key() {
        let row = RunRow { run: Arc::new(run("a", None)), depth: 0, parent: None };
        let mut changed = run("a", None);
        changed.metrics.insert("rmse".into(), Metric { value: 1.0, timestamp: 0, step: 0 });
        let changed = RunRow { run: Arc::new(changed), ..row.clone() };
        assert_eq!(row_fingerprint(&row), row_fingerprint(&row.clone()));
        assert_ne!(row_fingerprint(&row), row_fingerprint(&changed));
    }
}
