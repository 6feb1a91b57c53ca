//! The Subsonic envelope in XML, JSON and JSONP.
//!
//! Methods build one JSON tree; XML is written from it with quick-xml by fixed rules, so the
//! two formats cannot drift apart: scalars become attributes, objects become child elements,
//! arrays become repeated elements, and a `value` scalar becomes the element's text (a genre's
//! name, lyrics). Nulls are left out of both.

use http::header::{self, HeaderValue};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::{Map, Value};
use warp::reply::Response;

use super::dto::WriteJson;
use super::{Out, Params, Payload, Res};
use crate::http::json;
use crate::subsonic::{code, SubsonicError, API_VERSION};

const XMLNS: &str = "http://subsonic.org/restapi";

/// OpenSubsonic's nested elements inside a song or album, which old XML parsers (DSub) choke
/// on; left out for legacy clients.
const OPEN_SUBSONIC_NESTED: &[&str] = &[
    "genres",
    "artists",
    "albumArtists",
    "contributors",
    "replayGain",
    "moods",
    "recordLabels",
    "releaseTypes",
    "discTitles",
    "originalReleaseDate",
    "releaseDate",
];
/// Elements whose nested OpenSubsonic children are dropped for legacy clients.
const MEDIA_ELEMENTS: &[&str] = &["song", "child", "entry", "album", "artist", "directory"];

/// How to answer.
pub(super) enum Format {
    Xml { legacy: bool },
    Json,
    Jsonp(String),
}

/// `callback` must be a plain JavaScript name path (`cb`, `jQuery123.done`): anything else
/// could run as script in the page that loads it.
fn valid_callback(c: &str) -> bool {
    let ident = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    };
    !c.is_empty() && c.len() <= 128 && c.split('.').all(ident)
}

impl Format {
    /// The format asked for by `f` (and `callback`). An unusable JSONP request is refused in
    /// plain JSON, which no page can execute.
    pub fn of(p: &Params) -> Result<Format, (Format, SubsonicError)> {
        match p.get("f").unwrap_or("xml") {
            "json" => Ok(Format::Json),
            "jsonp" => match p.get("callback") {
                None => Err((Format::Json, SubsonicError::missing("callback"))),
                Some(c) if valid_callback(c) => Ok(Format::Jsonp(c.to_owned())),
                Some(_) => Err((
                    Format::Json,
                    SubsonicError::invalid("callback", "not a JavaScript identifier"),
                )),
            },
            _ => Ok(Format::Xml { legacy: false }),
        }
    }

    /// Marks an XML answer as for a legacy client.
    pub fn legacy(self, legacy: bool) -> Format {
        match self {
            Format::Xml { .. } => Format::Xml { legacy },
            other => other,
        }
    }
}

fn envelope(ok: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "status".into(),
        Value::from(if ok { "ok" } else { "failed" }),
    );
    m.insert("version".into(), Value::from(API_VERSION));
    m.insert("type".into(), Value::from("musewave"));
    m.insert(
        "serverVersion".into(),
        Value::from(env!("CARGO_PKG_VERSION")),
    );
    m.insert("openSubsonic".into(), Value::Bool(true));
    m
}

/// The answer to a method's result.
pub(super) fn render(format: &Format, out: Res) -> Response {
    let (mut env, payload) = match out {
        Ok(Out::Raw(res)) => return res,
        Ok(Out::Empty) => (envelope(true), None),
        Ok(Out::Body(key, value)) => (envelope(true), Some((key, value))),
        // Written as JSON only when the request asked for JSON or JSONP (`Ctx::json`).
        Ok(Out::Typed(_, Payload::Json(json))) => return json_reply(format, json),
        Ok(Out::Typed(key, Payload::Tree(value))) => (envelope(true), Some((key, value))),
        Err(e) => {
            let mut env = envelope(false);
            let error = serde_json::json!({"code": e.code, "message": e.message});
            env.insert("error".into(), error);
            (env, None)
        }
    };
    if let Some((key, value)) = payload {
        env.insert(key.into(), value);
    }
    match format {
        Format::Json | Format::Jsonp(_) => {
            let mut root = Map::new();
            prune_nulls_map(&mut env);
            root.insert("subsonic-response".into(), Value::Object(env));
            let json = json::to_vec(&Value::Object(root)).unwrap_or_default();
            json_reply(format, json)
        }
        Format::Xml { legacy } => match xml(&env, *legacy) {
            Ok(body) => reply(body, "text/xml; charset=utf-8"),
            Err(e) => {
                tracing::error!(error = %e, "writing a subsonic XML answer failed");
                let mut env = envelope(false);
                env.insert(
                    "error".into(),
                    serde_json::json!({"code": code::GENERIC, "message": "internal server error"}),
                );
                reply(
                    xml(&env, false).unwrap_or_default(),
                    "text/xml; charset=utf-8",
                )
            }
        },
    }
}

/// The whole JSON answer for `payload` named `key`: the envelope's fields, then the payload
/// serialised straight into the same buffer.
pub(super) fn json_document<T: WriteJson>(key: &str, payload: &T) -> Result<Vec<u8>, json::Error> {
    let mut body = Vec::with_capacity(payload.json_size() + 256);
    body.extend_from_slice(b"{\"subsonic-response\":");
    let head = json::to_vec(&Value::Object(envelope(true)))?;
    // The envelope's object without its closing brace, then `,"key":payload}`.
    body.extend_from_slice(&head[..head.len().saturating_sub(1)]);
    body.push(b',');
    json::write(&mut body, key)?;
    body.push(b':');
    payload.write_json(&mut body)?;
    body.extend_from_slice(b"}}");
    Ok(body)
}

/// A JSON document as the answer, wrapped in the callback for JSONP.
fn json_reply(format: &Format, json: Vec<u8>) -> Response {
    match format {
        Format::Jsonp(cb) => {
            let mut body = Vec::with_capacity(json.len() + cb.len() + 3);
            body.extend_from_slice(cb.as_bytes());
            body.push(b'(');
            body.extend_from_slice(&json);
            body.extend_from_slice(b");");
            reply(body, "text/javascript; charset=utf-8")
        }
        _ => reply(json, "application/json"),
    }
}

fn reply(body: Vec<u8>, content_type: &'static str) -> Response {
    let mut res = Response::new(body.into());
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

fn prune_nulls_map(m: &mut Map<String, Value>) {
    m.retain(|_, v| !v.is_null());
    m.values_mut().for_each(prune_nulls);
}

fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => prune_nulls_map(m),
        Value::Array(a) => a.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

type XmlResult<T> = std::io::Result<T>;

fn xml(env: &Map<String, Value>, legacy: bool) -> XmlResult<Vec<u8>> {
    let mut w = Writer::new(Vec::with_capacity(4096));
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut root = BytesStart::new("subsonic-response");
    root.push_attribute(("xmlns", XMLNS));
    element(&mut w, root, "subsonic-response", env, legacy)?;
    Ok(w.into_inner())
}

fn element(
    w: &mut Writer<Vec<u8>>,
    mut start: BytesStart<'_>,
    name: &str,
    fields: &Map<String, Value>,
    legacy: bool,
) -> XmlResult<()> {
    let drop_nested = legacy && MEDIA_ELEMENTS.contains(&name);
    let mut text = None;
    let mut has_children = false;
    for (k, v) in fields {
        if k == "value" {
            text = scalar(v);
        } else if let Some(s) = scalar(v) {
            start.push_attribute((k.as_str(), s.as_str()));
        } else {
            let dropped = drop_nested && OPEN_SUBSONIC_NESTED.contains(&k.as_str());
            has_children |= !v.is_null() && !dropped;
        }
    }
    if text.is_none() && !has_children {
        w.write_event(Event::Empty(start))?;
        return Ok(());
    }
    w.write_event(Event::Start(start))?;
    if let Some(t) = &text {
        w.write_event(Event::Text(BytesText::new(t)))?;
    }
    for (k, v) in fields {
        if drop_nested && OPEN_SUBSONIC_NESTED.contains(&k.as_str()) {
            continue;
        }
        match v {
            Value::Object(m) => element(w, BytesStart::new(k.as_str()), k, m, legacy)?,
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Object(m) => element(w, BytesStart::new(k.as_str()), k, m, legacy)?,
                        other => {
                            if let Some(s) = scalar(other) {
                                w.write_event(Event::Start(BytesStart::new(k.as_str())))?;
                                w.write_event(Event::Text(BytesText::new(&s)))?;
                                w.write_event(Event::End(BytesEnd::new(k.as_str())))?;
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    w.write_event(Event::End(BytesEnd::new(name.to_owned())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_must_be_identifiers() {
        assert!(valid_callback("cb"));
        assert!(valid_callback("jQuery_123.done$"));
        assert!(!valid_callback(""));
        assert!(!valid_callback("alert(1)//"));
        assert!(!valid_callback("a..b"));
        assert!(!valid_callback("1a"));
    }

    #[tokio::test]
    async fn typed_payloads_are_written_into_the_envelope() {
        use http_body_util::BodyExt;
        let payload = serde_json::json!({"id": "a1", "song": [{"id": "s1"}]});
        for (format, prefix, suffix) in [
            (Format::Json, "", ""),
            (Format::Jsonp("cb".into()), "cb(", ");"),
        ] {
            let json = json_document("album", &payload).unwrap();
            let res = render(&format, Ok(Out::Typed("album", Payload::Json(json))));
            let body = res.into_body().collect().await.unwrap().to_bytes();
            let text = std::str::from_utf8(&body).unwrap();
            let inner = text
                .strip_prefix(prefix)
                .and_then(|t| t.strip_suffix(suffix))
                .unwrap();
            let v: Value = serde_json::from_str(inner).unwrap();
            let env = &v["subsonic-response"];
            assert_eq!(env["status"], "ok");
            assert_eq!(env["type"], "musewave");
            assert_eq!(env["album"], payload);
        }
    }

    #[test]
    fn xml_follows_the_json_tree() {
        let mut env = envelope(true);
        env.insert(
            "album".into(),
            serde_json::json!({"id": "a1", "songCount": 2, "genres": [{"name": "Rock"}],
                "song": [{"id": "s1", "title": "A & B", "genres": [{"name": "Rock"}]}]}),
        );
        let out = String::from_utf8(xml(&env, false).unwrap()).unwrap();
        assert!(out.contains(r#"<album id="a1" songCount="2"><genres name="Rock"/><song id="s1" title="A &amp; B"><genres name="Rock"/></song></album>"#), "{out}");
        let legacy = String::from_utf8(xml(&env, true).unwrap()).unwrap();
        assert!(
            legacy.contains(
                r#"<album id="a1" songCount="2"><song id="s1" title="A &amp; B"/></album>"#
            ),
            "{legacy}"
        );
    }
}
