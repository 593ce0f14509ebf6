//! Lesson text is Markdown (in `content/`, so instructors can edit it without Rust).
//!
//! It is rendered by turning pulldown-cmark's events into DOM nodes, never through
//! `inner_html`: raw HTML in the source is shown as text, and only `#`, `http(s)` and
//! relative links are made clickable.

use leptos::prelude::*;
use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Paragraph(Vec<Node>),
    Heading(u8, Vec<Node>),
    Quote(Vec<Node>),
    CodeBlock(String),
    List(bool, Vec<Node>),
    Item(Vec<Node>),
    Emphasis(Vec<Node>),
    Strong(Vec<Node>),
    Link(String, Vec<Node>),
    Text(String),
    Code(String),
    Break,
    Rule,
}

fn heading_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        _ => 4,
    }
}

/// Link targets that cannot run script.
fn safe_href(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    let scheme = lower.split_once(':').map(|(s, _)| s);
    match scheme {
        None => Some(url.to_string()),
        Some("http" | "https" | "mailto") => Some(url.to_string()),
        Some(_) => None,
    }
}

fn parse(source: &str) -> Vec<Node> {
    let mut stack: Vec<(Option<Tag>, Vec<Node>)> = vec![(None, Vec::new())];
    for event in Parser::new(source) {
        match event {
            Event::Start(tag) => stack.push((Some(tag), Vec::new())),
            Event::End(end) => {
                let Some((Some(tag), children)) = stack.pop() else { continue };
                let node = match (tag, end) {
                    (Tag::Paragraph, _) => Node::Paragraph(children),
                    (Tag::Heading { level, .. }, _) => Node::Heading(heading_number(level), children),
                    (Tag::BlockQuote(_), _) => Node::Quote(children),
                    (Tag::CodeBlock(_), _) => Node::CodeBlock(
                        children
                            .into_iter()
                            .map(|n| if let Node::Text(t) = n { t } else { String::new() })
                            .collect(),
                    ),
                    (Tag::List(start), _) => Node::List(start.is_some(), children),
                    (Tag::Item, _) => Node::Item(children),
                    (Tag::Emphasis, _) => Node::Emphasis(children),
                    (Tag::Strong, _) => Node::Strong(children),
                    (Tag::Link { dest_url, .. }, TagEnd::Link) => match safe_href(&dest_url) {
                        Some(href) => Node::Link(href, children),
                        None => Node::Emphasis(children),
                    },
                    (_, _) => Node::Paragraph(children),
                };
                if let Some((_, parent)) = stack.last_mut() {
                    parent.push(node);
                }
            }
            Event::Text(text) | Event::Html(text) | Event::InlineHtml(text) => {
                if let Some((_, nodes)) = stack.last_mut() {
                    nodes.push(Node::Text(text.to_string()));
                }
            }
            Event::Code(code) => {
                if let Some((_, nodes)) = stack.last_mut() {
                    nodes.push(Node::Code(code.to_string()));
                }
            }
            Event::SoftBreak => {
                if let Some((_, nodes)) = stack.last_mut() {
                    nodes.push(Node::Text(" ".to_string()));
                }
            }
            Event::HardBreak => {
                if let Some((_, nodes)) = stack.last_mut() {
                    nodes.push(Node::Break);
                }
            }
            Event::Rule => {
                if let Some((_, nodes)) = stack.last_mut() {
                    nodes.push(Node::Rule);
                }
            }
            _ => {}
        }
    }
    stack.into_iter().next().map(|(_, nodes)| nodes).unwrap_or_default()
}

fn render(nodes: Vec<Node>) -> AnyView {
    nodes.into_iter().map(render_node).collect_view().into_any()
}

fn render_node(node: Node) -> AnyView {
    match node {
        Node::Paragraph(c) => view! { <p>{render(c)}</p> }.into_any(),
        Node::Heading(1, c) => view! { <h1>{render(c)}</h1> }.into_any(),
        Node::Heading(2, c) => view! { <h2>{render(c)}</h2> }.into_any(),
        Node::Heading(3, c) => view! { <h3>{render(c)}</h3> }.into_any(),
        Node::Heading(_, c) => view! { <h4>{render(c)}</h4> }.into_any(),
        Node::Quote(c) => view! { <blockquote>{render(c)}</blockquote> }.into_any(),
        Node::CodeBlock(text) => view! { <pre><code>{text}</code></pre> }.into_any(),
        Node::List(true, c) => view! { <ol>{render(c)}</ol> }.into_any(),
        Node::List(false, c) => view! { <ul>{render(c)}</ul> }.into_any(),
        Node::Item(c) => view! { <li>{render(c)}</li> }.into_any(),
        Node::Emphasis(c) => view! { <em>{render(c)}</em> }.into_any(),
        Node::Strong(c) => view! { <strong>{render(c)}</strong> }.into_any(),
        Node::Link(href, c) => view! { <a href=href>{render(c)}</a> }.into_any(),
        Node::Text(t) => t.into_any(),
        Node::Code(t) => view! { <code>{t}</code> }.into_any(),
        Node::Break => view! { <br/> }.into_any(),
        Node::Rule => view! { <hr/> }.into_any(),
    }
}

/// Renders trusted-or-not Markdown safely.
#[component]
pub fn Markdown(#[prop(into)] source: String) -> impl IntoView {
    render(parse(&source))
}

/// A lesson file. The copy built into the app shows at once; if the site serves
/// `content/<path>` (Trunk copies `content/` into `dist/`), that text replaces it — so an
/// instructor edits the lesson in `dist/content/` with no Rust toolchain.
pub fn lesson(path: &'static str, embedded: &'static str) -> impl IntoView {
    let served = LocalResource::new(move || async move {
        let response = gloo_net::http::Request::get(&format!("content/{path}")).send().await.ok()?;
        let content_type = response.headers().get("content-type").unwrap_or_default();
        // A host that answers every path with index.html must not replace the lesson.
        if !response.ok() || content_type.contains("html") {
            return None;
        }
        response.text().await.ok()
    });
    move || {
        let source = served.get().flatten().unwrap_or_else(|| embedded.to_string());
        view! { <Markdown source=source/> }
    }
}

/// `lesson!("chapter1/intro.md")`: a [`lesson`] with its built-in copy from `content/`.
#[macro_export]
macro_rules! lesson {
    ($path:literal) => {
        $crate::components::markdown::lesson(
            $path,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/content/", $path)),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_stays_text_and_script_links_are_dropped() {
        let nodes = parse("<script>alert(1)</script>\n\n[x](javascript:alert(1)) [ok](#/runs)");
        let text = format!("{nodes:?}");
        assert!(text.contains("Text(\"<script>alert(1)</script>"), "{text}");
        assert!(!text.contains("Link(\"javascript"), "{text}");
        assert!(text.contains("Link(\"#/runs\""), "{text}");
    }
}
