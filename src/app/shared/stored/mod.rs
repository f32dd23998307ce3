//! The stored forms of the workflow's records: their own versioned types, separate
//! from the domain types, with the conversions and migrations between them. What is
//! on disk changes only when one of these types changes (and its version with it).

pub mod break_glass;
pub mod request;
