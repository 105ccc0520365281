//! A cancel's arguments, as `cancel(inst_type, inst_id, *, order_id=None, client_oid=None,
//! tag=0, priority=0)` takes them, validated into a `Cancel` by the library's own rules before
//! anything is queued; and a cancel-all's, as `cancel_all(inst_type, inst_id=None, *, tag=0)`
//! takes them, into a `CancelAll`.

use bitget_cancel::{Cancel, CancelAll, InstId, InstType, InvalidField, OrderRef};
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
    priority: i128,
) -> PyResult<Cancel> {
    let build = || -> Result<Cancel, InvalidField> {
        let inst_type: InstType = (**inst_type).parse()?;
        let inst_id = InstId::new(inst_id)?;
        let order = OrderRef::from_parts(order_id.map(|s| &**s), client_oid.map(|s| &**s))?;
        let priority = u8::try_from(priority).map_err(|_| InvalidField {
            field: "priority",
            rule: "an integer from 0 to 255",
        })?;
        Ok(Cancel::new(inst_type, inst_id, order)
            .with_tag(tag)
            .priority(priority))
    };
    build().map_err(|e| crate::errors::invalid_field(py, e))
}

/// Checks a cancel-all's scope: a product line, and a symbol (required on SPOT).
pub(crate) fn validate_all(
    py: Python<'_>,
    inst_type: &PyBackedStr,
    inst_id: Option<&PyBackedStr>,
    tag: u64,
) -> PyResult<CancelAll> {
    let build = || -> Result<CancelAll, InvalidField> {
        let inst_type: InstType = (**inst_type).parse()?;
        let inst_id = inst_id.map(|s| InstId::new(s)).transpose()?;
        Ok(CancelAll::new(inst_type, inst_id)?.with_tag(tag))
    };
    build().map_err(|e| crate::errors::invalid_field(py, e))
}
