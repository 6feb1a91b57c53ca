//! Routes are registered from their OpenAPI operation: the method and path a handler is served
//! at are read from its `#[utoipa::path]` attribute, so the router and the API document come
//! from one source and a route cannot be missing from the document.
//!
//! warp tries alternatives one after the other, and each one it passes costs a boxed future and
//! a rejection. With a hundred routes in one chain, a request for the last of them paid for all
//! the others. Routes are therefore grouped by the first [`KEY_SEGMENTS`] segments of their
//! path, and a request goes straight to its group ([`Site::filter`]).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use http::Method;
use percent_encoding::percent_decode_str;
use utoipa::openapi::path::{HttpMethod, Operation};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::reject;
use crate::error::Error;

/// Where the matched route's template is written, for request logs and metrics. The server
/// puts an empty slot into each request's extensions.
#[derive(Clone, Default)]
pub struct RouteSlot(Arc<OnceLock<Arc<str>>>);

impl RouteSlot {
    /// The matched template, if a route matched.
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(|s| &**s)
    }

    /// Records the template; the first match wins.
    pub fn set(&self, template: &str) {
        let _ = self.0.set(Arc::from(template));
    }
}

/// A route has the path but not the method. Kept apart from
/// [`ApiError`](super::error::ApiError) so that when a sibling route with the right method
/// fails (say, 401), that failure is what the client sees.
#[derive(Debug)]
pub struct MethodMismatch;

impl warp::reject::Reject for MethodMismatch {}

/// The `{param}` values of a matched path, in template order, percent-decoded.
#[derive(Debug, Clone)]
pub struct PathParams(Vec<String>);

impl PathParams {
    /// Parses parameter `index` as an id; an unparsable id names nothing, so it is a 404.
    pub fn id<T: std::str::FromStr>(
        &self,
        index: usize,
        what: &'static str,
    ) -> Result<T, Rejection> {
        self.0
            .get(index)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| reject(Error::NotFound(what)))
    }

    /// Parameter `index` as text.
    pub fn text(&self, index: usize) -> &str {
        self.0.get(index).map(String::as_str).unwrap_or("")
    }
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Param,
    /// `{name*}` as the last segment: the rest of the path, slashes included.
    Tail,
}

/// One documented endpoint.
#[derive(Clone)]
pub struct RouteDoc {
    /// Path template, e.g. `/api/v1/admin/users/{id}`.
    pub path: String,
    /// Methods it is served at.
    pub methods: Vec<HttpMethod>,
    /// Its OpenAPI operation.
    pub operation: Operation,
}

impl RouteDoc {
    /// The HTTP methods, as `http` knows them.
    pub fn http_methods(&self) -> Vec<Method> {
        self.methods.iter().map(to_method).collect()
    }
}

fn to_method(m: &HttpMethod) -> Method {
    match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

fn parse_template(template: &str) -> Vec<Segment> {
    template
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with("*}") {
                Segment::Tail
            } else if s.starts_with('{') && s.ends_with('}') {
                Segment::Param
            } else {
                Segment::Literal(s.to_owned())
            }
        })
        .collect()
}

fn match_path(segments: &[Segment], path: &str) -> Option<Vec<String>> {
    let mut params = Vec::new();
    let mut rest = path.strip_prefix('/')?;
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        if let Segment::Tail = seg {
            params.push(percent_decode_str(rest).decode_utf8().ok()?.into_owned());
            return Some(params);
        }
        let (part, tail) = match rest.split_once('/') {
            Some((p, t)) if !last => (p, t),
            Some(_) => return None,
            None if last => (rest, ""),
            None => return None,
        };
        match seg {
            Segment::Literal(l) if l == part => {}
            Segment::Literal(_) | Segment::Tail => return None,
            Segment::Param => {
                if part.is_empty() {
                    return None;
                }
                params.push(percent_decode_str(part).decode_utf8().ok()?.into_owned());
            }
        }
        rest = tail;
    }
    Some(params)
}

/// How many leading path segments pick a route's group: `/api/v1/tracks` for the track routes.
pub const KEY_SEGMENTS: usize = 3;

/// The group key of a request path (as sent, not decoded): its first [`KEY_SEGMENTS`]
/// segments, or all of them when it has fewer.
pub fn group_key(path: &str) -> &str {
    let path = path.strip_prefix('/').unwrap_or(path);
    match path.match_indices('/').nth(KEY_SEGMENTS - 1) {
        Some((end, _)) => &path[..end],
        None => path,
    }
}

/// The group key every path matching `segments` has, when the template fixes it: its leading
/// segments up to [`KEY_SEGMENTS`] are literal (a template `/{x}/...` or `/docs/{tail*}` has
/// none).
fn template_key(segments: &[Segment]) -> Option<String> {
    let lead = &segments[..segments.len().min(KEY_SEGMENTS)];
    let literals: Option<Vec<&str>> = lead
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => Some(l.as_str()),
            Segment::Param | Segment::Tail => None,
        })
        .collect();
    Some(literals?.join("/"))
}

/// A filter matching operation `P`'s method and path and extracting its path parameters.
/// A matching path with another method is rejected as 405.
fn matcher(doc: &RouteDoc) -> BoxedFilter<(PathParams,)> {
    let segments = Arc::new(parse_template(&doc.path));
    let methods: Arc<Vec<Method>> = Arc::new(doc.methods.iter().map(to_method).collect());
    let template: Arc<str> = Arc::from(doc.path.as_str());
    warp::path::full()
        .and(warp::method())
        .and(warp::ext::optional::<RouteSlot>())
        .and_then(
            move |full: warp::path::FullPath, method: Method, slot: Option<RouteSlot>| {
                // Decided synchronously: every request walks the route list, so a miss must
                // cost no allocation.
                std::future::ready((|| {
                    let Some(params) = match_path(&segments, full.as_str()) else {
                        return Err(warp::reject::not_found());
                    };
                    if !methods.contains(&method) {
                        return Err(warp::reject::custom(MethodMismatch));
                    }
                    if let Some(slot) = slot {
                        slot.set(&template);
                    }
                    Ok(PathParams(params))
                })())
            },
        )
        .boxed()
}

/// Collects routes and their documentation.
#[derive(Default)]
pub struct Router {
    routes: Routes,
    docs: Vec<RouteDoc>,
}

/// The routes, grouped by the key every path they match has.
#[derive(Default)]
pub struct Routes {
    /// By [`group_key`], each group a chain in registration order.
    pub groups: HashMap<String, BoxedFilter<(Response,)>>,
    /// Routes whose leading segments are not all literal, in registration order.
    pub ungrouped: Option<BoxedFilter<(Response,)>>,
}

/// A site's filters: each group's on its own, and what answers every other path.
#[derive(Clone)]
pub struct Site {
    groups: Arc<HashMap<String, BoxedFilter<(Response,)>>>,
    rest: BoxedFilter<(Response,)>,
}

impl Site {
    /// Paths with a key in `groups` go to that group's filter alone, all others to `rest`.
    /// Each filter must render its own rejections.
    pub fn new(
        groups: HashMap<String, BoxedFilter<(Response,)>>,
        rest: BoxedFilter<(Response,)>,
    ) -> Self {
        Self {
            groups: Arc::new(groups),
            rest,
        }
    }

    /// One filter for every path.
    pub fn single(filter: BoxedFilter<(Response,)>) -> Self {
        Self::new(HashMap::new(), filter)
    }

    /// The filter that answers `path`.
    pub fn filter(&self, path: &str) -> &BoxedFilter<(Response,)> {
        self.groups.get(group_key(path)).unwrap_or(&self.rest)
    }
}

/// `route` tried after `chain`.
fn chain(
    chain: Option<BoxedFilter<(Response,)>>,
    route: BoxedFilter<(Response,)>,
) -> BoxedFilter<(Response,)> {
    match chain {
        None => route,
        Some(prev) => prev.or(route).unify().boxed(),
    }
}

impl Router {
    /// Adds the operation `P` (a `#[utoipa::path]` handler's generated type); `build` turns
    /// the matched parameters into a response.
    pub fn route<P: utoipa::Path>(
        mut self,
        build: impl FnOnce(BoxedFilter<(PathParams,)>) -> BoxedFilter<(Response,)>,
    ) -> Self {
        let doc = RouteDoc {
            path: P::path(),
            methods: P::methods(),
            operation: P::operation(),
        };
        let route = build(matcher(&doc));
        match template_key(&parse_template(&doc.path)) {
            Some(key) => {
                let prev = self.routes.groups.remove(&key);
                self.routes.groups.insert(key, chain(prev, route));
            }
            None => self.routes.ungrouped = Some(chain(self.routes.ungrouped.take(), route)),
        }
        self.docs.push(doc);
        self
    }

    /// The routes and the documentation of every one of them.
    pub fn finish(self) -> (Routes, Vec<RouteDoc>) {
        (self.routes, self.docs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: &str, p: &str) -> Option<Vec<String>> {
        match_path(&parse_template(t), p)
    }

    #[test]
    fn a_path_matching_a_template_has_the_template_group_key() {
        let key = |t: &str| template_key(&parse_template(t));
        for (template, path) in [
            ("/api/v1/tracks/{id}/stream", "/api/v1/tracks/x%2F/stream"),
            ("/api/v1/tracks", "/api/v1/tracks"),
            ("/api/v1/me", "/api/v1/me"),
            ("/healthz", "/healthz"),
            ("/api/v1/users/{id}", "/api/v1/users/a"),
        ] {
            assert!(m(template, path).is_some(), "{template} {path}");
            assert_eq!(
                key(template).as_deref(),
                Some(group_key(path)),
                "{template}"
            );
        }
        assert_eq!(key("/docs/{tail*}"), None);
        assert_eq!(key("/{a}/b"), None);
        assert_eq!(key("/a/{b}"), None);
        assert_eq!(group_key("/api/v1/tracks/1/stream"), "api/v1/tracks");
        assert_eq!(group_key("/"), "");
        assert_eq!(group_key("/rest/ping.view"), "rest/ping.view");
    }

    #[test]
    fn templates_match_exactly() {
        assert_eq!(m("/api/v1/me", "/api/v1/me"), Some(vec![]));
        assert_eq!(m("/api/v1/me", "/api/v1/me/"), None);
        assert_eq!(m("/api/v1/me", "/api/v1/mee"), None);
        assert_eq!(m("/api/v1/me", "/api/v1"), None);
        assert_eq!(
            m("/api/v1/users/{id}", "/api/v1/users/ab%20c"),
            Some(vec!["ab c".into()])
        );
        assert_eq!(m("/api/v1/users/{id}", "/api/v1/users/"), None);
        assert_eq!(m("/api/v1/users/{id}", "/api/v1/users/a/b"), None);
        assert_eq!(
            m("/api/v1/users/{id}/avatar", "/api/v1/users/x/avatar"),
            Some(vec!["x".into()])
        );
        assert_eq!(
            m("/docs/{tail*}", "/docs/a/b.js"),
            Some(vec!["a/b.js".into()])
        );
    }
}
