//! Integration tests: each starts the real server on 127.0.0.1:0 with a fresh data directory
//! and speaks HTTP to it with a real client.

mod accounts;
mod admin;
mod artists;
mod binary;
mod helpers;
mod http_errors;
mod library;
mod openapi;
mod ops;
mod persistence;
mod social;
mod streaming;
mod subsonic;
mod tokens;
mod transcoding;
mod uploads;
mod webui;
