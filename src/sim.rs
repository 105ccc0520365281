//! CONTRACT STUB: replaced by the real module.
