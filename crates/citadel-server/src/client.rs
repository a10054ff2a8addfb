//! Where a request comes from: the peer address of the connection and the
//! `User-Agent` it sent, for the sign-in log, sessions, bans and throttling.
//!
//! The address is the TCP peer's. Behind a reverse proxy every client
//! would share the proxy's address; trusting `X-Forwarded-For` needs a
//! configured list of trusted proxies, which this server does not have yet.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use citadel_store::ClientInfo;

use crate::error::ApiError;
use crate::state::AppState;

/// The caller's address and user agent.
pub struct Client(pub ClientInfo);

/// The peer address of the request, or the unspecified address when the
/// server was built without connection info (only in-process tests).
pub fn peer_ip(parts: &Parts) -> IpAddr {
    peer_ip_in(&parts.extensions)
}

/// The same, for a whole request (the audit layer, before handing it on).
pub fn peer_ip_of<B>(request: &axum::http::Request<B>) -> IpAddr {
    peer_ip_in(request.extensions())
}

fn peer_ip_in(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Ok(Self(ClientInfo {
            ip: peer_ip(parts),
            user_agent,
        }))
    }
}
