//! A cancel's arguments, as `cancel(inst_type, inst_id, *, order_id=None, client_oid=None,
//! tag=0)` takes them, validated into a `Cancel` by the library's own rules before anything is
//! queued.

use bitget_cancel::{Cancel, InstId, InstType, InvalidField, OrderRef};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;

/// Checks every field; the first that breaks the venue's rules is an `InvalidFieldError`.
pub(crate) fn validate(
    py: Python<'_>,
    inst_type: &PyBackedStr,
    inst_id: &PyBackedStr,
    order_id: Option<&PyBackedStr>,
    client_oid: Option<&PyBackedStr>,
    tag: u64,
) -> PyResult<Cancel> {
    let build = || -> Result<Cancel, InvalidField> {
        let inst_type: InstType = (**inst_type).parse()?;
        let inst_id = InstId::new(inst_id)?;
        let order = OrderRef::from_parts(order_id.map(|s| &**s), client_oid.map(|s| &**s))?;
        Ok(Cancel::new(inst_type, inst_id, order).with_tag(tag))
    };
    build().map_err(|e| crate::errors::invalid_field(py, e))
}
