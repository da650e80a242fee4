//! vipps
