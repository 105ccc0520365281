//! CONTRACT STUB: replaced by the real module.
#![allow(missing_docs)]
#[derive(Debug)]
pub struct Engine;
#[derive(Debug, Clone)]
pub struct Handle;
#[derive(Debug, Clone)]
pub struct Config;
