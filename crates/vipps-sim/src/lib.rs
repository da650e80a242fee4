//! vipps-sim
