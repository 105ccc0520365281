//! What the V3 venue's codes mean to the engine. The login is V2's frame and its refusals are
//! read by V2's table (not verified for V3: no source lists V3's login codes apart).

use crate::venue::LoginRefusal;

/// "The account is in Classic Account mode": a classic key on a V3 endpoint.
pub(crate) const CLASSIC_ON_V3: i64 = 40084;
/// "The account is in Unified Account mode": a unified key on a V2 endpoint.
pub(crate) const UNIFIED_ON_V2: i64 = 40085;
/// "Service upgrade": the venue disconnects about 60 s later.
pub(crate) const SERVICE_UPGRADE: i64 = 30033;
/// "Request over limit, connection close" (V2's code; assumed the same on V3).
pub(crate) const OVER_LIMIT_CLOSE: i64 = 30007;

/// What a refused login's code means: V2's table.
pub(crate) fn login_refusal(code: i64) -> LoginRefusal {
    crate::venue::v2::codes::login_refusal(code)
}

/// Whether a REST reply's code refuses the request's credentials: V2's table.
pub(crate) fn rest_refuses_credentials(code: i64) -> bool {
    crate::venue::v2::codes::rest_refuses_credentials(code)
}

/// Whether an error that names no request says the venue will close the connection: the
/// service-upgrade notice (a drain signal) and the over-limit close.
pub(crate) fn closes_connection(code: i64) -> bool {
    code == SERVICE_UPGRADE || code == OVER_LIMIT_CLOSE
}
