//! MLflow's run search language: the `filter_string` and `order_by` of `search_runs`, so a
//! query a learner writes here also works against a real MLflow server — plus `OR` and
//! parentheses, which MLflow lacks.
//!
//! The meaning follows MLflow's own evaluator (`SearchUtils` in `mlflow/utils/search_utils.py`)
//! and <https://mlflow.org/docs/latest/search-runs.html>: a param, tag or metric a run lacks
//! fails every comparison (even `!=` and `NOT IN`), as SQL's NULL does; `IS NULL` asks for it.
//! The parser is hand-written so each error can point at the exact byte that caused it.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::entities::{tags, Run};

/// Deeper nesting than this is never a real query; refusing it keeps recursion bounded.
const MAX_DEPTH: usize = 100;

/// A syntax or meaning error, with the byte offset where it is in the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} at position {position}\n{}", caret_text(input, *position))]
pub struct SearchError {
    pub message: String,
    pub position: usize,
    pub input: String,
}

impl SearchError {
    fn new(message: impl Into<String>, position: usize, input: &str) -> Self {
        SearchError { message: message.into(), position, input: input.to_string() }
    }

    /// The input with a `^` under the offending character, for a monospace error box.
    pub fn caret(&self) -> String {
        caret_text(&self.input, self.position)
    }
}

fn caret_text(input: &str, position: usize) -> String {
    // Control characters would shift or break the caret line, so they show as spaces.
    let shown: String = input.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let column = input.char_indices().take_while(|(at, _)| *at < position).count();
    format!("{shown}\n{}^", " ".repeat(column))
}

/// What a comparison or an order_by clause reads from a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    Metric(String),
    Param(String),
    Tag(String),
    Attribute(RunAttribute),
}

/// The run fields MLflow lets a query name (its `RunInfo` searchable attributes), plus
/// `lifecycle_stage`; `artifact_uri` is left out because runs here have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAttribute {
    RunId,
    RunName,
    Status,
    UserId,
    LifecycleStage,
    StartTime,
    EndTime,
}

impl RunAttribute {
    const VALID: &'static str =
        "run_id, run_name, status, user_id, lifecycle_stage, start_time, end_time, created";

    /// MLflow's spellings, including its aliases `created` and `run name`.
    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "run_id" => RunAttribute::RunId,
            "run_name" | "run name" | "Run name" | "Run Name" => RunAttribute::RunName,
            "status" => RunAttribute::Status,
            "user_id" => RunAttribute::UserId,
            "lifecycle_stage" => RunAttribute::LifecycleStage,
            "start_time" | "created" | "Created" => RunAttribute::StartTime,
            "end_time" => RunAttribute::EndTime,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunAttribute::RunId => "run_id",
            RunAttribute::RunName => "run_name",
            RunAttribute::Status => "status",
            RunAttribute::UserId => "user_id",
            RunAttribute::LifecycleStage => "lifecycle_stage",
            RunAttribute::StartTime => "start_time",
            RunAttribute::EndTime => "end_time",
        }
    }

    fn is_numeric(self) -> bool {
        matches!(self, RunAttribute::StartTime | RunAttribute::EndTime)
    }
}

/// Every comparator the language has; which ones a key takes is decided by [`allowed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
        }
    }

    /// `None` is a NaN metric: like in Python, only `!=` holds for it.
    fn orders(self, ordering: Option<Ordering>) -> bool {
        let Some(ordering) = ordering else { return self == Op::Ne };
        match self {
            Op::Eq => ordering.is_eq(),
            Op::Ne => ordering.is_ne(),
            Op::Lt => ordering.is_lt(),
            Op::Le => ordering.is_le(),
            Op::Gt => ordering.is_gt(),
            Op::Ge => ordering.is_ge(),
            _ => false,
        }
    }
}

/// MLflow's `VALID_*_COMPARATORS`, plus IN and IS NULL for params and tags (MLflow has IN only
/// for `run_id` and IS NULL only when searching experiments and models).
fn allowed(key: &SearchKey) -> &'static [Op] {
    use Op::*;
    match key {
        SearchKey::Metric(_) => &[Eq, Ne, Lt, Le, Gt, Ge, IsNull, IsNotNull],
        SearchKey::Param(_) | SearchKey::Tag(_) => &[Eq, Ne, Like, ILike, In, NotIn, IsNull, IsNotNull],
        SearchKey::Attribute(attribute) if attribute.is_numeric() => &[Eq, Ne, Lt, Le, Gt, Ge],
        SearchKey::Attribute(_) => &[Eq, Ne, Like, ILike, In, NotIn],
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    Number(Op, f64),
    /// `=`, `!=`, `LIKE` or `ILIKE`: strings never order.
    Text(Op, String),
    /// `IN` or `NOT IN`.
    List(Op, Vec<String>),
    /// `IS NULL` or `IS NOT NULL`.
    Null(Op),
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    All(Vec<Expr>),
    Any(Vec<Expr>),
    Test(SearchKey, Test),
}

/// A parsed filter. The default, like an empty filter string, matches every run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    expr: Option<Expr>,
}

impl Filter {
    pub fn matches(&self, run: &Run) -> bool {
        self.expr.as_ref().is_none_or(|expr| expr.matches(run))
    }

    /// True when the filter lets every run through, so callers can skip the scan.
    pub fn is_empty(&self) -> bool {
        self.expr.is_none()
    }
}

impl Expr {
    fn matches(&self, run: &Run) -> bool {
        match self {
            Expr::All(parts) => parts.iter().all(|part| part.matches(run)),
            Expr::Any(parts) => parts.iter().any(|part| part.matches(run)),
            Expr::Test(key, test) => test.holds(lookup(key, run)),
        }
    }
}

enum Value<'r> {
    Number(f64),
    Text(&'r str),
}

/// `None` is MLflow's missing value: no such param, tag or metric, or no `end_time` yet.
fn lookup<'r>(key: &SearchKey, run: &'r Run) -> Option<Value<'r>> {
    // MLflow keeps these attributes and their system tags in step; ours may only have the tag.
    let or_tag = |field: &'r str, tag: &str| match run.tags.get(tag) {
        Some(value) if field.is_empty() => value.as_str(),
        _ => field,
    };
    Some(match key {
        SearchKey::Metric(name) => Value::Number(run.metrics.get(name)?.value),
        SearchKey::Param(name) => Value::Text(run.params.get(name)?),
        SearchKey::Tag(name) => Value::Text(run.tags.get(name)?),
        SearchKey::Attribute(attribute) => match attribute {
            RunAttribute::RunId => Value::Text(&run.run_id),
            RunAttribute::RunName => Value::Text(or_tag(&run.run_name, tags::RUN_NAME)),
            RunAttribute::Status => Value::Text(run.status.as_str()),
            RunAttribute::UserId => Value::Text(or_tag(&run.user_id, tags::USER)),
            RunAttribute::LifecycleStage => Value::Text(run.lifecycle_stage.as_str()),
            RunAttribute::StartTime => Value::Number(run.start_time as f64),
            RunAttribute::EndTime => Value::Number(run.end_time? as f64),
        },
    })
}

impl Test {
    fn holds(&self, value: Option<Value<'_>>) -> bool {
        match (self, value) {
            (Test::Null(op), value) => value.is_none() == (*op == Op::IsNull),
            (Test::Number(op, right), Some(Value::Number(left))) => op.orders(left.partial_cmp(right)),
            (Test::Text(Op::Like, pattern), Some(Value::Text(left))) => like(left, pattern, false),
            (Test::Text(Op::ILike, pattern), Some(Value::Text(left))) => like(left, pattern, true),
            (Test::Text(op, right), Some(Value::Text(left))) => op.orders(Some(left.cmp(right))),
            (Test::List(op, list), Some(Value::Text(left))) => {
                list.iter().any(|item| item == left) == (*op == Op::In)
            }
            _ => false,
        }
    }
}

/// SQL LIKE without an escape character: `%` is any run of characters, `_` exactly one.
/// Backtracks only to the last `%`, so hostile patterns stay O(text × pattern).
fn like(text: &str, pattern: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.chars().flat_map(char::to_lowercase).collect()
        } else {
            s.chars().collect()
        }
    };
    let (text, pattern) = (fold(text), fold(pattern));
    let (mut t, mut p) = (0, 0);
    let mut last_percent: Option<(usize, usize)> = None;
    while let Some(&c) = text.get(t) {
        match pattern.get(p) {
            Some('%') => {
                p += 1;
                last_percent = Some((p, t));
            }
            Some(&wanted) if wanted == '_' || wanted == c => {
                p += 1;
                t += 1;
            }
            _ => match last_percent {
                Some((after, start)) => {
                    p = after;
                    t = start + 1;
                    last_percent = Some((after, start + 1));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|&c| c == '%'))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(char, String),
    Number(f64),
    Cmp(Op),
    Open,
    Close,
    Comma,
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    tok: Tok,
    pos: usize,
    end: usize,
}

fn lex(input: &str) -> Result<Vec<Token>, SearchError> {
    let err = |message: String, pos| Err(SearchError::new(message, pos, input));
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some((pos, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let tok = match c {
            _ if c.is_whitespace() => continue,
            '(' => Tok::Open,
            ')' => Tok::Close,
            ',' => Tok::Comma,
            '=' => Tok::Cmp(Op::Eq),
            '<' | '>' | '!' if c != '!' || next == Some('=') => {
                let or_equal = chars.next_if(|&(_, n)| n == '=').is_some();
                Tok::Cmp(match (c, or_equal) {
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    ('>', true) => Op::Ge,
                    _ => Op::Ne,
                })
            }
            '\'' | '"' | '`' => {
                // SQL's escape: a doubled quote stands for one quote character.
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some((_, q)) if q == c && chars.peek().map(|&(_, n)| n) == Some(c) => {
                            chars.next();
                            text.push(c);
                        }
                        Some((_, q)) if q == c => break,
                        Some((_, other)) => text.push(other),
                        None => return err(format!("unterminated {c}…{c}: the closing {c} is missing"), pos),
                    }
                }
                Tok::Quoted(c, text)
            }
            _ if starts_number(&input[pos..]) => {
                // A sign continues the literal only right after an exponent's `e`.
                let end = token_end(input, pos, &mut chars, |previous, n| {
                    n.is_alphanumeric()
                        || n == '.'
                        || n == '_'
                        || (matches!(n, '+' | '-') && "eE".contains(previous))
                });
                let literal = &input[pos..end];
                match literal.parse::<f64>() {
                    Ok(value) if value.is_finite() => Tok::Number(value),
                    _ => return err(format!("`{literal}` is not a number"), pos),
                }
            }
            _ if c.is_alphabetic() || c == '_' => {
                let end =
                    token_end(input, pos, &mut chars, |_, n| n.is_alphanumeric() || n == '_' || n == '.');
                Tok::Word(input[pos..end].to_string())
            }
            _ => {
                let hint = "keys with symbols or spaces need quotes, e.g. metrics.`f1-score`";
                return err(format!("unexpected character `{c}` ({hint})"), pos);
            }
        };
        let end = chars.peek().map_or(input.len(), |&(at, _)| at);
        tokens.push(Token { tok, pos, end });
    }
    Ok(tokens)
}

/// Consumes the rest of a token whose first character is already read; `keep` sees the
/// previous character too. Returns the byte offset where the token ends.
fn token_end(
    input: &str,
    start: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    mut keep: impl FnMut(char, char) -> bool,
) -> usize {
    let mut previous = input[start..].chars().next().unwrap_or_default();
    while let Some((_, n)) = chars.next_if(|&(_, n)| keep(previous, n)) {
        previous = n;
    }
    chars.peek().map_or(input.len(), |&(at, _)| at)
}

/// A sign or a dot only starts a number when a digit follows, so `-` in a bare key is an error.
fn starts_number(rest: &str) -> bool {
    let rest = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    rest.starts_with(|c: char| c.is_ascii_digit())
}

const KEYWORDS: [&str; 10] = ["AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"];
const KEY_EXAMPLE: &str = "a key such as metrics.rmse, params.alpha, tags.team or status";

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Result<Self, SearchError> {
        Ok(Parser { input, tokens: lex(input)?, at: 0, depth: 0 })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += usize::from(token.is_some());
        token
    }

    /// Where the next token starts, or the end of the input when there is none.
    fn here(&self) -> usize {
        self.peek().map_or(self.input.len(), |token| token.pos)
    }

    fn text(&self, token: &Token) -> &'a str {
        self.input.get(token.pos..token.end).unwrap_or_default()
    }

    fn error<T>(&self, message: impl Into<String>, position: usize) -> Result<T, SearchError> {
        Err(SearchError::new(message, position, self.input))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = matches!(self.peek(), Some(Token { tok: Tok::Word(word), .. }) if word.eq_ignore_ascii_case(keyword));
        self.at += usize::from(found);
        found
    }

    fn or_expr(&mut self) -> Result<Expr, SearchError> {
        let mut any = vec![self.and_expr()?];
        while self.eat_keyword("OR") {
            any.push(self.and_expr()?);
        }
        Ok(collapse(any, Expr::Any))
    }

    fn and_expr(&mut self) -> Result<Expr, SearchError> {
        let mut all = vec![self.primary()?];
        while self.eat_keyword("AND") {
            all.push(self.primary()?);
        }
        Ok(collapse(all, Expr::All))
    }

    fn primary(&mut self) -> Result<Expr, SearchError> {
        let Some(Token { tok: Tok::Open, pos: open, .. }) = self.peek().cloned() else {
            return self.comparison();
        };
        if self.depth >= MAX_DEPTH {
            return self.error(format!("parentheses nest deeper than {MAX_DEPTH} levels"), open);
        }
        self.at += 1;
        self.depth += 1;
        let inner = self.or_expr()?;
        self.depth -= 1;
        match self.next() {
            Some(Token { tok: Tok::Close, .. }) => Ok(inner),
            None => self.error("this `(` is never closed", open),
            Some(token) => {
                self.error(format!("expected AND, OR or `)` before `{}`", self.text(&token)), token.pos)
            }
        }
    }

    fn key(&mut self) -> Result<SearchKey, SearchError> {
        let token = self.next();
        let pos = token.as_ref().map_or(self.input.len(), |t| t.pos);
        let found = token.as_ref().map(|t| format!(", found `{}`", self.text(t))).unwrap_or_default();
        // No entity prefix means an attribute, as in MLflow (`status = 'FAILED'`).
        let (entity, name, name_pos) = match token.map(|t| t.tok) {
            Some(Tok::Word(word)) if !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&word)) => {
                match word.split_once('.') {
                    None => ("attributes".to_string(), word, pos),
                    Some((entity, "")) => match self.next() {
                        Some(Token { tok: Tok::Quoted('"' | '`', quoted), pos, .. }) => {
                            (entity.to_string(), quoted, pos)
                        }
                        other => {
                            let at = other.map_or(self.input.len(), |t| t.pos);
                            return self.error(
                                format!("expected a key after `{word}`; quote it with \"…\" or `…`"),
                                at,
                            );
                        }
                    },
                    Some((entity, name)) => (entity.to_string(), name.to_string(), pos + entity.len() + 1),
                }
            }
            Some(Tok::Quoted('"' | '`', quoted)) => ("attributes".to_string(), quoted, pos),
            _ => return self.error(format!("expected {KEY_EXAMPLE}{found}"), pos),
        };
        if name.is_empty() {
            return self.error("the key is empty", name_pos);
        }
        // MLflow's entity names, singular and plural, in exactly this case.
        match entity.as_str() {
            "metrics" | "metric" => Ok(SearchKey::Metric(name)),
            "params" | "param" | "parameters" | "parameter" => Ok(SearchKey::Param(name)),
            "tags" | "tag" => Ok(SearchKey::Tag(name)),
            "attributes" | "attribute" | "attr" | "run" => match RunAttribute::from_key(&name) {
                Some(attribute) => Ok(SearchKey::Attribute(attribute)),
                None => self.error(
                    format!(
                        "unknown attribute `{name}`; valid attributes are {} (metrics, params and tags \
                         need their prefix, e.g. metrics.rmse)",
                        RunAttribute::VALID
                    ),
                    name_pos,
                ),
            },
            _ => {
                self.error(format!("unknown entity `{entity}`; use metrics, params, tags or attributes"), pos)
            }
        }
    }

    fn comparison(&mut self) -> Result<Expr, SearchError> {
        let key = self.key()?;
        let op_pos = self.here();
        let op = self.operator()?;
        let what = match &key {
            SearchKey::Metric(name) => format!("metric `{name}`"),
            SearchKey::Param(name) => format!("param `{name}`"),
            SearchKey::Tag(name) => format!("tag `{name}`"),
            SearchKey::Attribute(attribute) => format!("attribute `{}`", attribute.as_str()),
        };
        let allowed = allowed(&key);
        if !allowed.contains(&op) {
            let names: Vec<&str> = allowed.iter().map(|op| op.as_str()).collect();
            return self
                .error(format!("{what} cannot use {}; it takes {}", op.as_str(), names.join(", ")), op_pos);
        }
        let whole = matches!(key, SearchKey::Attribute(attribute) if attribute.is_numeric());
        let test = match op {
            Op::IsNull | Op::IsNotNull => Test::Null(op),
            Op::In | Op::NotIn => Test::List(op, self.list(&what)?),
            _ if allowed.contains(&Op::Lt) => Test::Number(op, self.number(&what, whole)?),
            _ => Test::Text(op, self.string(&what)?),
        };
        Ok(Expr::Test(key, test))
    }

    fn operator(&mut self) -> Result<Op, SearchError> {
        let pos = self.here();
        let word = match self.next() {
            Some(Token { tok: Tok::Cmp(op), .. }) => return Ok(op),
            Some(Token { tok: Tok::Word(word), .. }) => word.to_ascii_uppercase(),
            _ => String::new(),
        };
        match word.as_str() {
            "LIKE" => Ok(Op::Like),
            "ILIKE" => Ok(Op::ILike),
            "IN" => Ok(Op::In),
            "NOT" if self.eat_keyword("IN") => Ok(Op::NotIn),
            "NOT" => self.error("NOT only appears in NOT IN and IS NOT NULL", pos),
            "IS" => {
                let negated = self.eat_keyword("NOT");
                if !self.eat_keyword("NULL") {
                    return self.error("expected NULL or NOT NULL after IS", self.here());
                }
                Ok(if negated { Op::IsNotNull } else { Op::IsNull })
            }
            _ => self.error(
                "expected an operator: =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL or IS NOT NULL",
                pos,
            ),
        }
    }

    fn number(&mut self, what: &str, whole: bool) -> Result<f64, SearchError> {
        let pos = self.here();
        match self.next() {
            Some(Token { tok: Tok::Number(value), .. }) if !whole || value.fract() == 0.0 => Ok(value),
            Some(Token { tok: Tok::Number(_), .. }) => {
                self.error(format!("{what} is in whole milliseconds since the epoch"), pos)
            }
            Some(Token { tok: Tok::Quoted(..), .. }) => {
                self.error(format!("{what} compares with a number, not a quoted string"), pos)
            }
            _ => self.error(format!("expected a number to compare {what} with"), pos),
        }
    }

    fn string(&mut self, what: &str) -> Result<String, SearchError> {
        let pos = self.here();
        match self.next() {
            Some(Token { tok: Tok::Quoted('\'' | '"', text), .. }) => Ok(text),
            Some(Token { tok: Tok::Quoted(..), .. }) => {
                self.error("backticks quote keys; quote values with '…' or \"…\"", pos)
            }
            Some(token @ Token { tok: Tok::Number(_), .. }) => {
                self.error(format!("{what} holds strings; quote the value: '{}'", self.text(&token)), pos)
            }
            _ => self.error(format!("expected a quoted string to compare {what} with"), pos),
        }
    }

    fn list(&mut self, what: &str) -> Result<Vec<String>, SearchError> {
        let open = self.here();
        if !matches!(self.next(), Some(Token { tok: Tok::Open, .. })) {
            return self.error("expected `(` and a list of quoted values after IN", open);
        }
        if matches!(self.peek(), Some(Token { tok: Tok::Close, .. })) {
            return self.error("an IN list needs at least one value", open);
        }
        let mut values = Vec::new();
        loop {
            if self.peek().is_none() {
                return self.error("this `(` is never closed", open);
            }
            values.push(self.string(what)?);
            match self.next() {
                Some(Token { tok: Tok::Comma, .. }) => continue,
                Some(Token { tok: Tok::Close, .. }) => return Ok(values),
                None => return self.error("this `(` is never closed", open),
                Some(token) => return self.error("expected `,` or `)` in the IN list", token.pos),
            }
        }
    }
}

fn collapse(mut parts: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    match parts.pop() {
        Some(only) if parts.is_empty() => only,
        Some(last) => {
            parts.push(last);
            join(parts)
        }
        None => join(parts),
    }
}

pub fn parse_filter(text: &str) -> Result<Filter, SearchError> {
    let mut parser = Parser::new(text)?;
    if parser.tokens.is_empty() {
        return Ok(Filter::default());
    }
    let expr = parser.or_expr()?;
    match parser.peek() {
        None => Ok(Filter { expr: Some(expr) }),
        Some(Token { tok: Tok::Close, pos, .. }) => parser.error("this `)` has no matching `(`", *pos),
        Some(token) => parser.error(format!("expected AND or OR before `{}`", parser.text(token)), token.pos),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub key: SearchKey,
    pub ascending: bool,
}

/// Each clause is parsed on its own, so an error's position is within that clause.
pub fn parse_order_by(clauses: &[String]) -> Result<Vec<OrderBy>, SearchError> {
    clauses.iter().map(|clause| parse_order_clause(clause)).collect()
}

fn parse_order_clause(clause: &str) -> Result<OrderBy, SearchError> {
    let mut parser = Parser::new(clause)?;
    let key = parser.key()?;
    let ascending = if parser.eat_keyword("DESC") {
        false
    } else {
        parser.eat_keyword("ASC");
        true
    };
    match parser.peek() {
        None => Ok(OrderBy { key, ascending }),
        Some(token) => {
            parser.error(format!("expected ASC or DESC, found `{}`", parser.text(token)), token.pos)
        }
    }
}

/// Sorts as MLflow: by each clause in turn; runs missing the key go last (for both ASC and DESC);
/// then start_time DESC, then run_id ASC as tie-breakers. Empty order => start_time DESC, run_id ASC.
pub fn sort_runs(runs: &mut [Run], order: &[OrderBy]) {
    runs.sort_by(|a, b| compare_runs(a, b, order));
}

fn compare_runs(a: &Run, b: &Run, order: &[OrderBy]) -> Ordering {
    // NaN metrics sort with the missing ones, as MLflow's sort key does.
    let present = |value: &Value<'_>| !matches!(value, Value::Number(n) if n.is_nan());
    for clause in order {
        let left = lookup(&clause.key, a).filter(present);
        let right = lookup(&clause.key, b).filter(present);
        let ordering = match (left, right) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(left), Some(right)) => {
                let ordering = match (left, right) {
                    (Value::Number(x), Value::Number(y)) => x.total_cmp(&y),
                    (Value::Text(x), Value::Text(y)) => x.cmp(y),
                    _ => Ordering::Equal, // one key always reads one type
                };
                if clause.ascending {
                    ordering
                } else {
                    ordering.reverse()
                }
            }
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    b.start_time.cmp(&a.start_time).then_with(|| a.run_id.cmp(&b.run_id))
}

/// Filters and sorts in one pass over borrowed runs, cloning only the ones that match;
/// the caller cuts the result to its page size (MLflow's `max_results`).
pub fn search<'a>(runs: impl IntoIterator<Item = &'a Run>, filter: &Filter, order: &[OrderBy]) -> Vec<Run> {
    let mut found: Vec<&Run> = runs.into_iter().filter(|run| filter.matches(run)).collect();
    found.sort_by(|a, b| compare_runs(a, b, order));
    found.into_iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::entities::{LifecycleStage, Metric, RunStatus};

    fn run(
        id: &str,
        start_time: i64,
        params: &[(&str, &str)],
        metrics: &[(&str, f64)],
        tags: &[(&str, &str)],
    ) -> Run {
        let pairs =
            |items: &[(&str, &str)]| items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Run {
            run_id: id.to_string(),
            experiment_id: "0".to_string(),
            run_name: String::new(),
            user_id: "ada".to_string(),
            status: RunStatus::Finished,
            start_time,
            end_time: Some(start_time + 1_000),
            lifecycle_stage: LifecycleStage::Active,
            params: pairs(params),
            metrics: metrics
                .iter()
                .map(|(k, value)| (k.to_string(), Metric { value: *value, timestamp: start_time, step: 0 }))
                .collect(),
            tags: pairs(tags),
            artifacts: Vec::new(),
            logged_models: Vec::new(),
        }
    }

    /// Three runs shaped after the examples in MLflow's search docs.
    fn fleet() -> Vec<Run> {
        let mut a = run(
            "a",
            1_670_628_787_000,
            &[("model", "LogisticRegression"), ("lambda", "0.001"), ("alpha", "0.3")],
            &[("accuracy", 0.95), ("error", 0.04), ("f1 score", 0.6), ("error rate", 0.1)],
            &[
                ("mlflow.user", "ada"),
                ("model", "sklearn-lr"),
                ("type", "LogisticRegression"),
                ("mlflow.source.type", "LOCAL"),
            ],
        );
        a.run_name = "alpha-1".to_string();
        let mut b = run(
            "b",
            1_670_628_788_000,
            &[("model", "Lasso"), ("lambda", "0.001"), ("model-type", "linear")],
            &[("accuracy", 0.80), ("error", 0.2), ("2019-04-02 error rate", 0.3)],
            &[("mlflow.user", "bob"), ("model", "xgboost"), ("mlflow.source.type", "NOTEBOOK")],
        );
        b.run_name = "beta".to_string();
        b.status = RunStatus::Failed;
        let mut c = run("c", 1_670_628_789_000, &[], &[("accuracy", 0.93)], &[(tags::RUN_NAME, "Alphabet")]);
        c.status = RunStatus::Running;
        c.end_time = None;
        vec![a, b, c]
    }

    fn ids(filter: &str) -> String {
        let parsed = parse_filter(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        let matching: Vec<String> =
            fleet().into_iter().filter(|r| parsed.matches(r)).map(|r| r.run_id).collect();
        matching.join(",")
    }

    fn assert_matches(cases: &[(&str, &str)]) {
        for (filter, expected) in cases {
            assert_eq!(ids(filter), *expected, "{filter}");
        }
    }

    fn error(filter: &str) -> SearchError {
        parse_filter(filter).err().unwrap_or_else(|| panic!("{filter} should not parse"))
    }

    #[test]
    fn documented_mlflow_examples_match_as_in_mlflow() {
        let cases = [
            ("metrics.accuracy > 0.92", "a,c"),
            (
                r#"params.model = "LogisticRegression" and params.lambda = "0.001" and metrics.error <= 0.05"#,
                "a",
            ),
            (r#"params.alpha = "0.3" and params.lambda = "0.001" and metrics.error <= 0.05"#, "a"),
            (r#"attributes.status = "FAILED""#, "b"),
            (r#"attributes.status = "FINISHED""#, "a"),
            ("attributes.created > 1670628787527", "b,c"),
            ("attributes.Created > 1670628787527", "b,c"),
            ("attributes.start_time > 1670628787527", "b,c"),
            ("metrics.`f1 score` > 0.5", "a"),
            ("tags.`mlflow.user` = 'ada'", "a"),
            ("tags.`model` LIKE 'sklearn%'", "a"),
            ("tags.`type` ILIKE '%logistic%'", "a"),
            (r#"attributes.`run_name` ILIKE "%alpha%""#, "a,c"),
            (r#"attributes.`run name` ILIKE "%alpha%""#, "a,c"),
            (r#"attributes.`Run name` ILIKE "%alpha%""#, "a,c"),
            (r#"attributes.`Run Name` ILIKE "%alpha%""#, "a,c"),
            (r#"params."model-type" = 'linear'"#, "b"),
            ("metrics.`error rate` < 1", "a"),
            (r#"metrics."2019-04-02 error rate" > 0"#, "b"),
            ("attributes.run_id IN ('a', 'c')", "a,c"),
            ("attributes.run_id NOT IN ('a', 'c')", "b"),
            ("metrics.accuracy < 0.9 and params.model = 'Lasso'", "b"),
            ("tags.`mlflow.source.type` = 'LOCAL'", "a"),
            ("params.model LIKE 'L%'", "a,b"),
            ("metrics.error IS NULL", "c"),
        ];
        for (filter, expected) in cases {
            assert_eq!(ids(filter), expected, "{filter}");
        }
    }

    #[test]
    fn missing_keys_fail_every_comparison_but_is_null() {
        assert_matches(&[
            ("params.model != 'Lasso'", "a"),
            ("params.model NOT IN ('Lasso')", "a"),
            ("params.model IS NULL", "c"),
            ("params.model IS NOT NULL", "a,b"),
            ("tags.model != 'x'", "a,b"),
            ("metrics.error != 0.04", "b"),
            ("metrics.error IS NOT NULL", "a,b"),
            ("attributes.end_time > 0", "a,b"),
            ("attributes.end_time != 0", "a,b"),
        ]);
    }

    #[test]
    fn entity_and_attribute_spellings_follow_mlflow() {
        assert_matches(&[
            ("metric.accuracy > 0.94", "a"),
            ("param.model = 'Lasso'", "b"),
            ("parameter.model = 'Lasso'", "b"),
            ("parameters.model = 'Lasso'", "b"),
            ("tag.model = 'xgboost'", "b"),
            ("attribute.status = 'RUNNING'", "c"),
            ("attr.status = 'RUNNING'", "c"),
            ("run.status = 'RUNNING'", "c"),
            ("status = 'RUNNING'", "c"),
            ("run_name = 'beta'", "b"),
            (r#""Run Name" = 'Alphabet'"#, "c"),
            ("created < 1670628788000", "a"),
            ("user_id = 'ada'", "a,b,c"),
            ("lifecycle_stage = 'active'", "a,b,c"),
            ("status ILIKE 'run%'", "c"),
            ("status IN ('FAILED', 'KILLED')", "b"),
            // MLflow splits at the first dot, so dotted tag keys need no quotes.
            ("tags.mlflow.source.type = 'LOCAL'", "a"),
        ]);
    }

    #[test]
    fn numbers_strings_and_like_patterns() {
        assert_matches(&[
            ("metrics.error > -1", "a,b"),
            ("metrics.error < 2e-1", "a"),
            ("metrics.accuracy >= .93", "a,c"),
            ("metrics.accuracy=0.93", "c"),
            ("metrics.accuracy>+9.3E-1", "a"),
            ("params.model LIKE 'L_sso'", "b"),
            ("params.model LIKE 'Lasso_'", ""),
            ("params.model LIKE 'l%'", ""),
            ("params.model ILIKE 'l%'", "a,b"),
            ("params.model LIKE '%Reg%'", "a"),
            ("params.lambda LIKE '0.00_'", "a,b"),
            ("params.lambda LIKE '0_001'", "a,b"),
            ("params.lambda = '0x001'", ""),
        ]);
        assert!(like("a.c", "a.c", false) && !like("abc", "a.c", false), "regex characters are literal");
        assert!(like("", "%", false) && like("aXbYc", "a%b%c", false) && !like("ab", "a_b", false));
        assert!(like("ÄBC", "ä_c", true) && !like("ÄBC", "ä_c", false));
        let quoted = parse_filter("tags.q = 'it''s' and tags.r = \"say \"\"hi\"\"\"").ok();
        let test = |key: &str, value: &str| {
            Expr::Test(SearchKey::Tag(key.to_string()), Test::Text(Op::Eq, value.to_string()))
        };
        let expected = Expr::All(vec![test("q", "it's"), test("r", "say \"hi\"")]);
        assert_eq!(quoted, Some(Filter { expr: Some(expected) }));
    }

    #[test]
    fn or_and_parentheses_with_and_binding_tighter() {
        assert_matches(&[
            ("params.model = 'Lasso' OR metrics.accuracy > 0.94", "a,b"),
            // (FINISHED) OR (FAILED AND accuracy < 0.9), not ((FINISHED OR FAILED) AND ...)
            ("status = 'FINISHED' or status = 'FAILED' and metrics.accuracy < 0.9", "a,b"),
            ("(status = 'FINISHED' or status = 'FAILED') and metrics.accuracy < 0.9", "b"),
            ("status = 'FAILED' and metrics.accuracy > 0.9 or status = 'RUNNING'", "c"),
            ("status = 'FAILED' and (metrics.accuracy > 0.9 or status = 'RUNNING')", ""),
            ("((status = 'RUNNING'))", "c"),
            ("(run_id = 'a' or (run_id = 'b' and (metrics.error > 0.1))) and tags.model IS NOT NULL", "a,b"),
        ]);
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let filter =
            "params.model LiKe 'L%' aNd metrics.error iS nOt NuLl Or run_id in ('c') AND tags.x is null";
        assert_eq!(ids(filter), "a,b,c");
        assert_eq!(ids("params.model not IN ('Lasso') or params.model ilike 'LASSO'"), "a,b");
    }

    #[test]
    fn empty_filter_matches_everything() {
        for text in ["", "   ", "\n\t"] {
            let filter = parse_filter(text).ok();
            assert_eq!(filter, Some(Filter::default()));
            assert!(filter.is_some_and(|f| f.is_empty() && fleet().iter().all(|r| f.matches(r))));
        }
        assert!(parse_filter("status = 'RUNNING'").is_ok_and(|f| !f.is_empty()));
    }

    #[test]
    fn every_error_names_its_position() {
        let cases = [
            ("params.model = 'tree", 15, "unterminated"),
            ("tags.x = \"a", 9, "unterminated"),
            ("metrics.`x < 1", 8, "unterminated"),
            ("foo.bar = 1", 0, "unknown entity `foo`"),
            ("Metrics.rmse < 1", 0, "unknown entity `Metrics`"),
            ("metrics.rmse 1", 13, "expected an operator"),
            ("metrics.rmse", 12, "expected an operator"),
            ("params.alpha < 3", 13, "param `alpha` cannot use <; it takes =, !=, LIKE, ILIKE, IN, NOT IN"),
            ("metrics.rmse LIKE '1%'", 13, "metric `rmse` cannot use LIKE"),
            ("metrics.rmse IN ('1')", 13, "cannot use IN"),
            ("attributes.status < 'x'", 18, "attribute `status` cannot use <"),
            ("attributes.end_time IS NULL", 20, "attribute `end_time` cannot use IS NULL"),
            ("metrics.rmse < '1'", 15, "compares with a number"),
            ("params.alpha = 0.5", 15, "quote the value: '0.5'"),
            ("attributes.start_time = 1.5", 24, "whole milliseconds"),
            ("tags.t = `x`", 9, "backticks quote keys"),
            ("(metrics.rmse < 1", 0, "never closed"),
            ("(metrics.a < 1 and (metrics.b < 2)", 0, "never closed"),
            ("metrics.rmse < 1)", 16, "no matching `(`"),
            ("(metrics.rmse < 1 metrics.b < 2)", 18, "expected AND, OR or `)`"),
            ("metrics.rmse < 1 junk", 17, "expected AND or OR before `junk`"),
            ("params.model IN ()", 16, "at least one value"),
            ("params.model IN ('a',", 16, "never closed"),
            ("params.model IN ('a' 'b')", 21, "expected `,` or `)`"),
            ("params.model IN ('a', 2)", 22, "quote the value"),
            ("params.model IN 'a'", 16, "expected `(`"),
            ("attributes.foo = 'x'", 11, "unknown attribute `foo`; valid attributes are run_id, run_name"),
            ("foo = 'x'", 0, "unknown attribute `foo`"),
            ("attributes.artifact_uri = 'x'", 11, "unknown attribute"),
            ("metrics.rmse < 1 and", 20, "expected a key"),
            ("metrics.rmse < 1 and and", 21, "found `and`"),
            ("metrics.f1-score > 1", 10, "unexpected character `-`"),
            ("metrics.rmse < 1 @", 17, "unexpected character `@`"),
            ("status = 'a' ! 'b'", 13, "unexpected character `!`"),
            ("metrics.rmse < 1e", 15, "`1e` is not a number"),
            ("metrics.rmse < 1e999", 15, "not a number"),
            ("metrics.rmse < 1.2.3", 15, "not a number"),
            ("params.x NOT LIKE 'a'", 9, "NOT only appears in NOT IN"),
            ("params.x IS 'a'", 12, "expected NULL or NOT NULL"),
            ("metrics. < 1", 9, "expected a key after `metrics.`"),
            ("metrics.'x' < 1", 8, "expected a key after"),
            ("metrics.\"\" < 1", 8, "the key is empty"),
            ("metrics < 1", 0, "need their prefix, e.g. metrics.rmse"),
            ("()", 1, "expected a key"),
            ("'x' = 'y'", 0, "expected a key"),
            ("NOT status = 'x'", 0, "found `NOT`"),
        ];
        for (filter, position, message) in cases {
            let err = error(filter);
            assert_eq!((err.position, err.input.as_str()), (position, filter), "{filter}: {err}");
            assert!(err.message.contains(message), "{filter}: {}", err.message);
        }
    }

    #[test]
    fn display_points_a_caret_at_the_character_not_the_byte() {
        let err = error("tags.é = 1");
        assert_eq!(err.position, 10);
        assert_eq!(err.caret(), "tags.é = 1\n         ^");
        assert_eq!(
            err.to_string(),
            "tag `é` holds strings; quote the value: '1' at position 10\ntags.é = 1\n         ^"
        );
        let at_end = error("metrics.rmse <\t");
        assert_eq!(at_end.caret(), "metrics.rmse < \n               ^");
    }

    #[test]
    fn nesting_is_capped_at_one_hundred_parentheses() {
        let nested = |depth: usize| format!("{}status = 'RUNNING'{}", "(".repeat(depth), ")".repeat(depth));
        assert_eq!(ids(&nested(MAX_DEPTH)), "c");
        let err = error(&nested(MAX_DEPTH + 1));
        assert_eq!(err.position, MAX_DEPTH);
        assert!(err.message.contains("deeper than 100"));
    }

    #[test]
    fn order_by_clauses_parse_with_default_ascending() {
        let clauses = ["metrics.rmse ASC", "params.alpha DESC", "attributes.start_time", "created desc"]
            .map(String::from);
        let metric = |name: &str| SearchKey::Metric(name.to_string());
        let expected = vec![
            OrderBy { key: metric("rmse"), ascending: true },
            OrderBy { key: SearchKey::Param("alpha".to_string()), ascending: false },
            OrderBy { key: SearchKey::Attribute(RunAttribute::StartTime), ascending: true },
            OrderBy { key: SearchKey::Attribute(RunAttribute::StartTime), ascending: false },
        ];
        assert_eq!(parse_order_by(&clauses), Ok(expected));
        let quoted = parse_order_by(&["metrics.`f1 score` DESC".to_string(), "tags.\"a b\"".to_string()]);
        assert_eq!(
            quoted.map(|o| o.into_iter().map(|o| o.key).collect::<Vec<_>>()),
            Ok(vec![metric("f1 score"), SearchKey::Tag("a b".to_string())])
        );
        for (clause, position) in
            [("metrics.rmse UP", 13), ("", 0), ("foo.x", 0), ("metrics.rmse DESC x", 18)]
        {
            let err = parse_order_by(&["status".to_string(), clause.to_string()]).err();
            assert_eq!(err.map(|e| (e.position, e.input)), Some((position, clause.to_string())), "{clause}");
        }
    }

    fn sorted(runs: &[Run], clauses: &[&str]) -> String {
        let clauses: Vec<String> = clauses.iter().map(|c| c.to_string()).collect();
        let order = parse_order_by(&clauses).unwrap_or_else(|e| panic!("{e}"));
        let mut runs = runs.to_vec();
        sort_runs(&mut runs, &order);
        runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>().join(",")
    }

    #[test]
    fn runs_missing_the_key_sort_last_in_both_directions() {
        let runs = [
            run("p", 5, &[("alpha", "9")], &[("rmse", 3.0)], &[]),
            run("q", 5, &[], &[], &[]),
            run("r", 5, &[("alpha", "10")], &[("rmse", 1.0)], &[]),
            run("s", 5, &[], &[("rmse", f64::NAN)], &[]),
            run("t", 5, &[("alpha", "8")], &[("rmse", 2.0)], &[]),
        ];
        assert_eq!(sorted(&runs, &["metrics.rmse"]), "r,t,p,q,s");
        assert_eq!(sorted(&runs, &["metrics.rmse DESC"]), "p,t,r,q,s");
        // Params are strings, so "10" sorts before "8" and "9".
        assert_eq!(sorted(&runs, &["params.alpha ASC"]), "r,t,p,q,s");
        assert_eq!(sorted(&runs, &["params.alpha DESC"]), "p,t,r,q,s");
    }

    #[test]
    fn ties_fall_to_later_clauses_then_newest_first_then_run_id() {
        let runs = [
            run("b", 10, &[("model", "tree")], &[("rmse", 1.0)], &[]),
            run("a", 10, &[("model", "tree")], &[("rmse", 2.0)], &[]),
            run("c", 30, &[("model", "tree")], &[], &[]),
            run("d", 20, &[("model", "linear")], &[], &[]),
        ];
        assert_eq!(sorted(&runs, &[]), "c,d,a,b");
        assert_eq!(sorted(&runs, &["params.model"]), "d,c,a,b");
        assert_eq!(sorted(&runs, &["params.model DESC", "metrics.rmse DESC"]), "a,b,c,d");
        assert_eq!(sorted(&runs, &["start_time ASC"]), "a,b,d,c");
        let mut finished = fleet();
        finished[0].end_time = Some(9);
        assert_eq!(sorted(&finished, &["end_time DESC"]), "b,a,c");
        assert_eq!(sorted(&finished, &["status"]), "b,a,c");
    }

    #[test]
    fn search_filters_then_sorts_clones() {
        let runs = fleet();
        let filter = parse_filter("metrics.accuracy > 0.9 or status = 'FAILED'").unwrap_or_default();
        let order = parse_order_by(&["metrics.accuracy ASC".to_string()]).unwrap_or_default();
        let found: Vec<String> = search(&runs, &filter, &order).into_iter().map(|r| r.run_id).collect();
        assert_eq!(found, ["b", "c", "a"]);
        let newest_first: Vec<String> =
            search(&runs, &Filter::default(), &[]).into_iter().map(|r| r.run_id).collect();
        assert_eq!(newest_first, ["c", "b", "a"]);
    }

    /// Random AND/OR combinations of atoms, printed three ways (plain, with extra spaces and
    /// parentheses that keep the meaning, in odd keyword case), must all match what the
    /// atoms' own predicates say.
    #[test]
    fn reformatted_filters_match_the_same_runs() {
        type Atom = (&'static str, fn(&Run) -> bool);
        let atoms: [Atom; 6] = [
            ("metrics.accuracy > 0.9", |r| r.metric("accuracy").is_some_and(|v| v > 0.9)),
            ("params.model LIKE 'L%'", |r| r.params.get("model").is_some_and(|m| m.starts_with('L'))),
            ("status = 'FAILED'", |r| r.status == RunStatus::Failed),
            ("tags.`mlflow.user` IS NULL", |r| !r.tags.contains_key("mlflow.user")),
            ("attributes.run_id IN ('a', 'd')", |r| r.run_id == "a" || r.run_id == "d"),
            ("metrics.error != 0.04", |r| r.metric("error").is_some_and(|v| v != 0.04)),
        ];
        let mut runs = fleet();
        runs.push(run("d", 1, &[("model", "Lin")], &[("error", 0.04)], &[("mlflow.user", "eve")]));
        let mut seed: u64 = 7;
        let mut next = |below: usize| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize % below
        };
        for _ in 0..60 {
            let groups: Vec<Vec<usize>> =
                (0..=next(3)).map(|_| (0..=next(3)).map(|_| next(atoms.len())).collect()).collect();
            // `loose` adds spaces everywhere and parentheses around every atom, group and the whole.
            let print = |and: &str, or: &str, loose: bool| {
                let wrap = |text: String| if loose { format!("(  {text}\t)") } else { text };
                let atom = |i: &usize| wrap(atoms[*i].0.replace(' ', if loose { "   " } else { " " }));
                let group = |g: &Vec<usize>| wrap(g.iter().map(atom).collect::<Vec<_>>().join(and));
                wrap(groups.iter().map(group).collect::<Vec<_>>().join(or))
            };
            let (plain, spaced, odd_case) = (
                print(" AND ", " OR ", false),
                print("\nand  ", "  or\n", true),
                print(" AnD ", " oR ", false),
            );
            for text in [&plain, &spaced, &odd_case] {
                let filter = parse_filter(text).unwrap_or_else(|e| panic!("{e}"));
                for r in &runs {
                    let expected = groups.iter().any(|g| g.iter().all(|&i| (atoms[i].1)(r)));
                    assert_eq!(filter.matches(r), expected, "{text} on {}", r.run_id);
                }
            }
        }
    }

    #[test]
    fn hostile_input_gives_errors_not_panics() {
        let long = "a".repeat(100_000);
        // One hostile input per `¦`-separated item.
        let listed = concat!(
            "( ¦ ) ¦ ' ¦ \" ¦ ` ¦ ''' ¦ `` ¦ \\ ¦ metrics. ¦ metrics.x < ¦ metrics.x < - ¦ 💥 ¦ ",
            "metrics.💥 < 1 ¦ tags.x = '💥 ¦ \u{0} ¦ \u{202e}status = 'x' ¦ '\u{1F600} ¦ - 1 ¦ --1 ¦ ",
            "+ ¦ . ¦ .. ¦ ...1 ¦ metrics..x < 1 ¦ metrics.x IN ( ¦ params.x IN ('a' ¦ ",
            "params.x IN ('a',) ¦ params.x IN (,) ¦ IS NULL ¦ NOT ¦ AND ¦ OR OR ¦ status = 'x' OR ¦ ",
            "`a`.b = 1 ¦ params.x = 'a' and (params.y = 'b' or ( ¦ ü.ä = 1 ¦ tags.é = 'ö' ¦ ",
            "metrics.x < 0x10 ¦ metrics.x < 1_000 ¦ metrics.x < nan ¦ metrics.x < inf ¦ ",
            "metrics.x <= >= 1 ¦ = = = ¦ ,,, ¦ status = 'a', ¦ status IN (('a')) ¦ ",
            "tags.\"\u{0}\" IS NULL",
        );
        let mut inputs: Vec<String> = listed.split(" ¦ ").map(String::from).collect();
        inputs.push("(".repeat(10_000));
        inputs.push(")".repeat(10_000));
        inputs.push(format!("metrics.x < {}", "9".repeat(400)));
        inputs.push(format!("params.x LIKE '{}b' or tags.{long} = '{long}'", "%_".repeat(500)));
        inputs.push(format!("status = '{long}"));
        let mut slow = fleet();
        slow[0].params.insert("x".to_string(), "a".repeat(5_000));
        for input in &inputs {
            match parse_filter(input) {
                Ok(filter) => assert!(slow.iter().filter(|r| filter.matches(r)).count() <= slow.len()),
                Err(err) => assert!(err.position <= input.len() && !err.to_string().is_empty(), "{input}"),
            }
            let _ = parse_order_by(std::slice::from_ref(input)).map_err(|e| e.to_string());
        }
        assert!(inputs.len() >= 50);
    }
}
