//! Routes are registered from their OpenAPI operation: the method and path a handler is served
//! at are read from its `#[utoipa::path]` attribute, so the router and the API document come
//! from one source and a route cannot be missing from the document.

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

/// A route has the path but not the method. Kept apart from [`ApiError`] so that when a
/// sibling route with the right method fails (say, 401), that failure is what the client sees.
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
    filter: Option<BoxedFilter<(Response,)>>,
    docs: Vec<RouteDoc>,
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
        self.filter = Some(match self.filter.take() {
            None => route,
            Some(prev) => prev.or(route).unify().boxed(),
        });
        self.docs.push(doc);
        self
    }

    /// The combined filter and the documentation of every route in it.
    pub fn finish(self) -> (BoxedFilter<(Response,)>, Vec<RouteDoc>) {
        let filter = self.filter.unwrap_or_else(|| {
            warp::any()
                .and_then(|| async { Err::<Response, _>(warp::reject::not_found()) })
                .boxed()
        });
        (filter, self.docs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: &str, p: &str) -> Option<Vec<String>> {
        match_path(&parse_template(t), p)
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
