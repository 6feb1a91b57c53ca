//! Transcoded streams through the real server: outputs probed for codec, bitrate and duration,
//! offsets, profiles, bad parameters, the cache (ranges on the second request, eviction), the
//! per-user maximum bitrate, and slots freed by clients that hang up.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::header;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestServer};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/transcode")
        .join(name)
}

/// Seconds of the generated long source: long enough that its MP3 at 320 kbps (2.4 MB) cannot
/// hide in socket buffers, so a transcode whose client stops reading is still running.
const LONG_SECS: u32 = 60;
/// Duration of the tone fixtures.
const TONE_SECS: f64 = 3.0;

/// A stereo 44.1 kHz 16-bit WAV of two sine tones.
fn sine_wav(secs: u32) -> Vec<u8> {
    let rate = 44_100u32;
    let frames = rate * secs;
    let data_len = frames * 4;
    let mut v = Vec::with_capacity(44 + data_len as usize);
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_len).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * 4).to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..frames {
        let t = f64::from(i) / f64::from(rate);
        for hz in [440.0, 660.0] {
            let s = (t * hz * std::f64::consts::TAU).sin() * 0.4 * f64::from(i16::MAX);
            v.extend_from_slice(&(s as i16).to_le_bytes());
        }
    }
    v
}

struct Library {
    /// tone.flac: 3 s, stereo, about 220 kbps.
    tone: String,
    tone_bytes: Vec<u8>,
    /// A generated WAV of [`LONG_SECS`].
    long: String,
    /// An Ogg file that is garbage on disk by the time it is streamed.
    broken: String,
}

/// A server on a media folder with the tone, the long WAV and a file that will not decode. The
/// folder is a symlink, switched after the scan to a copy where the Ogg file is garbage: the
/// catalog keeps the track and the watcher sees nothing.
async fn start(env: &[(&str, &str)]) -> (TestServer, String, Library, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    let broken = dir.path().join("broken");
    for d in [&real, &broken] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::copy(fixture("tone.flac"), d.join("tone.flac")).unwrap();
    }
    std::fs::write(real.join("long.wav"), sine_wav(LONG_SECS)).unwrap();
    std::fs::hard_link(real.join("long.wav"), broken.join("long.wav")).unwrap();
    std::fs::copy(fixture("tone.ogg"), real.join("bad.ogg")).unwrap();
    std::fs::write(broken.join("bad.ogg"), b"OggS but not really ".repeat(500)).unwrap();
    let music = dir.path().join("music");
    std::os::unix::fs::symlink(&real, &music).unwrap();

    let s = TestServer::start_in(dir.path(), env).await;
    let admin = s.admin_token().await;
    let tracks = s.tracks_when(&admin, 3).await;
    let find = |format: &str| {
        tracks["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["format"] == format)
            .unwrap_or_else(|| panic!("no {format} track in {tracks}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (tone, long) = (find("flac"), find("wav"));
    let bad = tracks["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .find(|id| *id != tone && *id != long)
        .unwrap();
    // Swap the folder for the copy with the broken Ogg file.
    let tmp = dir.path().join("music.new");
    std::os::unix::fs::symlink(&broken, &tmp).unwrap();
    std::fs::rename(&tmp, &music).unwrap();
    let lib = Library {
        tone,
        tone_bytes: std::fs::read(fixture("tone.flac")).unwrap(),
        long,
        broken: bad,
    };
    (s, admin, lib, dir)
}

fn stream(id: &str, query: &str) -> String {
    format!("/api/v1/tracks/{id}/stream?{query}")
}

async fn get(s: &TestServer, token: &str, id: &str, query: &str) -> Response {
    s.get(&stream(id, query))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn header_of<'a>(res: &'a Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).map(|v| v.to_str().unwrap())
}

/// Asserts a live transcode's headers and returns its body.
async fn live_body(res: Response, content_type: &str) -> Vec<u8> {
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header_of(&res, "content-type"), Some(content_type));
    assert_eq!(header_of(&res, "accept-ranges"), Some("none"));
    assert_eq!(header_of(&res, "content-length"), None, "live: chunked");
    res.bytes().await.unwrap().to_vec()
}

#[derive(Debug)]
struct Probe {
    secs: f64,
    kbps: f64,
}

/// Parses Ogg Opus as the core's own tests do: OpusHead, OpusTags, every packet decoded with
/// libopus, duration from the last granule position minus pre-skip.
fn probe_opus(bytes: &[u8]) -> Probe {
    let mut reader = ogg::PacketReader::new(Cursor::new(bytes));
    let head = reader.read_packet_expected().expect("OpusHead packet");
    assert_eq!(&head.data[..8], b"OpusHead");
    let channels = head.data[9] as usize;
    let pre_skip = u64::from(u16::from_le_bytes([head.data[10], head.data[11]]));
    let tags = reader.read_packet_expected().expect("OpusTags packet");
    assert_eq!(&tags.data[..8], b"OpusTags");
    let ch = if channels == 1 {
        opus::Channels::Mono
    } else {
        opus::Channels::Stereo
    };
    let mut decoder = opus::Decoder::new(48_000, ch).unwrap();
    let mut pcm = vec![0f32; 5760 * channels];
    let (mut audio_bytes, mut last_granule, mut eos) = (0usize, 0u64, false);
    while let Some(p) = reader.read_packet().expect("valid Ogg") {
        audio_bytes += p.data.len();
        decoder
            .decode_float(&p.data, &mut pcm, false)
            .expect("decodable packet");
        last_granule = p.absgp_page();
        eos |= p.last_in_stream();
    }
    assert!(eos, "the stream ends with an EOS page");
    let secs = (last_granule - pre_skip) as f64 / 48_000.0;
    Probe {
        secs,
        kbps: audio_bytes as f64 * 8.0 / secs / 1000.0,
    }
}

/// Decodes MP3 with symphonia, as the core's own tests do.
fn probe_mp3(bytes: &[u8]) -> Probe {
    use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_MP3};
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::probe::Hint;

    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let mut hint = Hint::new();
    hint.with_extension("mp3");
    let mut format = symphonia::default::get_probe()
        .format(&hint, mss, &Default::default(), &Default::default())
        .expect("an MP3 stream")
        .format;
    let track = format.default_track().unwrap().clone();
    assert_eq!(track.codec_params.codec, CODEC_TYPE_MP3);
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .unwrap();
    let (mut frames, mut rate) = (0u64, 0u32);
    while let Ok(packet) = format.next_packet() {
        let decoded = decoder.decode(&packet).expect("decodable frame");
        frames += decoded.frames() as u64;
        rate = decoded.spec().rate;
    }
    let secs = frames as f64 / f64::from(rate);
    Probe {
        secs,
        kbps: bytes.len() as f64 * 8.0 / secs / 1000.0,
    }
}

fn assert_probe(p: &Probe, secs: f64, kbps: f64) {
    assert!(
        (p.secs - secs).abs() <= 0.5,
        "duration {p:?}, want {secs} s"
    );
    assert!(
        (p.kbps - kbps).abs() <= kbps * 0.25,
        "bitrate {p:?}, want {kbps} kbps"
    );
}

#[tokio::test]
async fn opus_and_mp3_have_the_codec_bitrate_and_duration_asked_for() {
    let (s, token, lib, _dir) = start(&[]).await;
    let body = live_body(
        get(&s, &token, &lib.tone, "format=opus&bitrate=64").await,
        "audio/ogg",
    )
    .await;
    assert_probe(&probe_opus(&body), TONE_SECS, 64.0);
    let body = live_body(
        get(&s, &token, &lib.tone, "format=mp3&bitrate=128").await,
        "audio/mpeg",
    )
    .await;
    assert_probe(&probe_mp3(&body), TONE_SECS, 128.0);

    // A stream token for the track opens its transcodes too (an offset keeps it off the cache).
    let t: Value = s
        .post(&format!("/api/v1/tracks/{}/stream-token", lib.tone))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "{}&format=opus&offset=0.5",
        t["stream_url"].as_str().unwrap()
    );
    let body = live_body(s.get(&url).send().await.unwrap(), "audio/ogg").await;
    assert_probe(&probe_opus(&body), TONE_SECS - 0.5, 96.0);
}

#[tokio::test]
async fn offset_shortens_the_output() {
    let (s, token, lib, _dir) = start(&[]).await;
    for (query, codec) in [
        ("format=opus&bitrate=64&offset=1.5", "opus"),
        ("format=mp3&bitrate=128&offset=1.5", "mp3"),
    ] {
        let res = get(&s, &token, &lib.tone, query).await;
        let p = if codec == "opus" {
            probe_opus(&live_body(res, "audio/ogg").await)
        } else {
            probe_mp3(&live_body(res, "audio/mpeg").await)
        };
        assert!((p.secs - 1.5).abs() <= 0.5, "{query}: {p:?}");
    }
    // At or past the end: 400 naming the offset.
    let res = get(&s, &token, &lib.tone, "format=opus&offset=30").await;
    let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(body["error"]["field"], "offset");
}

#[tokio::test]
async fn quality_profiles_pick_format_and_bitrate() {
    let (s, token, lib, _dir) = start(&[]).await;
    let body = live_body(get(&s, &token, &lib.tone, "quality=low").await, "audio/ogg").await;
    assert_probe(&probe_opus(&body), TONE_SECS, 48.0);
    let body = live_body(
        get(&s, &token, &lib.tone, "quality=compatible").await,
        "audio/mpeg",
    )
    .await;
    assert_probe(&probe_mp3(&body), TONE_SECS, 192.0);
    // `original` and no parameter at all are the untouched file.
    for query in ["quality=original", ""] {
        let res = get(&s, &token, &lib.tone, query).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header_of(&res, "accept-ranges"), Some("bytes"));
        assert_eq!(
            header_of(&res, "content-length"),
            Some(lib.tone_bytes.len().to_string().as_str())
        );
        assert_eq!(res.bytes().await.unwrap().to_vec(), lib.tone_bytes);
    }
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_the_parameter_and_undecodable_files_422() {
    let (s, token, lib, _dir) = start(&[]).await;
    for (query, field) in [
        ("format=aac", "format"),
        ("format=opus&bitrate=100000", "bitrate"),
        ("format=mp3&bitrate=8", "bitrate"),
        ("format=opus&bitrate=abc", "bitrate"),
        ("bitrate=99999999999999", "bitrate"),
        ("quality=ultra", "quality"),
        ("quality=low&format=mp3", "quality"),
        ("format=opus&offset=-1", "offset"),
        ("format=opus&offset=NaN", "offset"),
        ("format=opus&offset=soon", "offset"),
        ("offset=5", "offset"),
    ] {
        let res = get(&s, &token, &lib.tone, query).await;
        let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    // Without credentials: 401, as for the original.
    let res = s
        .get(&stream(&lib.tone, "format=opus"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let res = get(&s, &token, &lib.broken, "format=opus").await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "undecodable_audio").await;
}

#[tokio::test]
async fn the_second_identical_request_is_served_from_the_cache_with_ranges() {
    let (s, token, lib, _dir) = start(&[]).await;
    let query = "format=mp3&bitrate=96";
    let first = live_body(get(&s, &token, &lib.tone, query).await, "audio/mpeg").await;

    let res = get(&s, &token, &lib.tone, query).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header_of(&res, "content-type"), Some("audio/mpeg"));
    assert_eq!(header_of(&res, "accept-ranges"), Some("bytes"));
    assert_eq!(
        header_of(&res, "content-length"),
        Some(first.len().to_string().as_str())
    );
    let etag = header_of(&res, "etag").unwrap().to_owned();
    assert!(etag.starts_with('"'), "{etag}");
    assert_eq!(res.bytes().await.unwrap().to_vec(), first);

    let res = s
        .get(&stream(&lib.tone, query))
        .bearer_auth(&token)
        .header(header::RANGE, "bytes=100-299")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header_of(&res, "content-range").unwrap(),
        format!("bytes 100-299/{}", first.len())
    );
    assert_eq!(res.bytes().await.unwrap()[..], first[100..300]);

    let res = s
        .get(&stream(&lib.tone, query))
        .bearer_auth(&token)
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    // An offset is never served from (or put in) the cache.
    let offset = format!("{query}&offset=0.5");
    for _ in 0..2 {
        live_body(get(&s, &token, &lib.tone, &offset).await, "audio/mpeg").await;
    }
    let entries = std::fs::read_dir(s.data_dir.join("transcodes"))
        .unwrap()
        .count();
    assert_eq!(entries, 1);
}

#[tokio::test]
async fn the_per_user_maximum_bitrate_caps_transcodes_and_originals() {
    let (s, admin, lib, _dir) = start(&[]).await;
    let token = s.user_with_role("listener1", "listener").await;
    let settings = |body: Value| {
        s.req(reqwest::Method::PUT, "/api/v1/me/settings")
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let res = s
        .get("/api/v1/me/settings")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"max_bitrate_kbps": null, "private_session": false})
    );
    for bad in [
        json!({"max_bitrate_kbps": 5}),
        json!({"max_bitrate_kbps": 1000}),
    ] {
        let res = settings(bad).await.unwrap();
        let body = assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert_eq!(body["error"]["field"], "max_bitrate_kbps");
    }
    let res = settings(json!({"max_bitrate_kbps": 64})).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["max_bitrate_kbps"], 64);

    // A transcode above the cap is lowered to it.
    let body = live_body(
        get(&s, &token, &lib.tone, "format=mp3&bitrate=320").await,
        "audio/mpeg",
    )
    .await;
    assert_probe(&probe_mp3(&body), TONE_SECS, 64.0);
    // The original (about 220 kbps) is above it: the default profile's format at the cap.
    let body = live_body(get(&s, &token, &lib.tone, "").await, "audio/ogg").await;
    assert_probe(&probe_opus(&body), TONE_SECS, 64.0);
    // Another user is not capped.
    let res = get(&s, &admin, &lib.tone, "").await;
    assert_eq!(header_of(&res, "content-type"), Some("audio/flac"));

    let res = settings(json!({"max_bitrate_kbps": null})).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = get(&s, &token, &lib.tone, "").await;
    assert_eq!(header_of(&res, "content-type"), Some("audio/flac"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), lib.tone_bytes);
}

/// Files in the transcode cache directory, finished or not.
fn cache_files(s: &TestServer) -> Vec<String> {
    std::fs::read_dir(s.data_dir.join("transcodes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn a_client_that_hangs_up_frees_its_slot_and_leaves_no_cache_entry() {
    let (s, token, lib, _dir) = start(&[("MUSEWAVE_TRANSCODE__MAX_CONCURRENT", "1")]).await;
    let query = "format=mp3&bitrate=320";
    let mut first = get(&s, &token, &lib.long, query).await;
    assert_eq!(first.status(), StatusCode::OK);
    let chunk = first.chunk().await.unwrap().unwrap();
    assert!(!chunk.is_empty());

    // The only slot is taken: 503 with Retry-After.
    let res = get(&s, &token, &lib.long, "format=opus").await;
    let retry: u64 = header_of(&res, "retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "transcoder_busy").await;

    // Hanging up ends the transcode and frees the slot.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(20);
    let second = loop {
        let res = get(&s, &token, &lib.long, query).await;
        if res.status() == StatusCode::OK {
            break res;
        }
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(header_of(&second, "accept-ranges"), Some("none"));
    drop(second);

    // Neither abandoned transcode leaves a file behind, finished or not.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cache_files(&s).is_empty() {
        assert!(
            Instant::now() < deadline,
            "left in the cache: {:?}",
            cache_files(&s)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And the slot is free again for anyone.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let res = get(&s, &token, &lib.tone, "format=opus&offset=1").await;
        if res.status() == StatusCode::OK {
            live_body(res, "audio/ogg").await;
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_cache_cap_evicts_the_least_recently_used() {
    // 60 s at 96 kbps is 720 kB: one fits in 1 MiB, two do not.
    let (s, token, lib, _dir) = start(&[("MUSEWAVE_TRANSCODE__CACHE_MAX_MB", "1")]).await;
    let (a, b) = ("format=mp3&bitrate=96", "format=opus&bitrate=96");
    live_body(get(&s, &token, &lib.long, a).await, "audio/mpeg").await;
    assert_eq!(cache_files(&s).len(), 1);
    live_body(get(&s, &token, &lib.long, b).await, "audio/ogg").await;
    assert_eq!(cache_files(&s).len(), 1, "the older entry was evicted");
    // b is served from the cache, a is transcoded again.
    let res = get(&s, &token, &lib.long, b).await;
    assert!(header_of(&res, "content-length").is_some());
    assert_eq!(header_of(&res, "accept-ranges"), Some("bytes"));
    drop(res);
    let res = get(&s, &token, &lib.long, a).await;
    assert_eq!(header_of(&res, "accept-ranges"), Some("none"));
}
