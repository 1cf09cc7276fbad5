//! The EVM precompiled contracts (placeholder; being written).
