//! Getting connected, whatever will be said over the connection: the resolver thread that turns
//! host names into addresses ([`Resolver`]), and the one connect ladder every connection climbs
//! (address, TCP with `TCP_NODELAY`, TLS, and the WebSocket upgrade where one is wanted). The
//! engine's links and the REST client both dial through here; neither knows a venue byte.

mod dial;
mod resolve;

pub(crate) use dial::{Dial, Dialer, Dialing, NetError};
pub use resolve::Resolver;
pub(crate) use resolve::{HostAddrs, start as start_resolver};
