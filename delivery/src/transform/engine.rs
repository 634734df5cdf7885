//! The wasmtime engine transformations run in: component model, a pooling
//! allocator (instantiation reuses pre-reserved slots instead of mmapping), and
//! epoch interruption driven by one ticker thread (how deadlines are enforced
//! without instrumenting every loop with fuel).

use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::config::TransformConfig;

/// Bytes of a linear memory that a free pool slot keeps resident: a call's dirty
/// pages up to this much are copied back from the module's image (or zeroed)
/// instead of being unmapped with `madvise`, so the next call in that slot takes
/// no page faults for them. Only with `PAGEMAP_SCAN`, which finds the dirty pages;
/// without it wasmtime would `memset` this many bytes whatever the call touched.
const KEEP_RESIDENT_MEMORY: usize = 1 << 20;
/// The same for a slot's tables (function tables: a few KiB each).
const KEEP_RESIDENT_TABLE: usize = 64 << 10;

/// Builds the engine and starts its epoch ticker. The ticker thread holds only a
/// weak reference, so it ends when the engine is dropped.
pub fn build(cfg: &TransformConfig) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    let slots = cfg.pool_instances.max(1);
    // A Rust component is a handful of core instances (the program plus
    // wit-component's shims), with one memory and a few tables.
    pool.total_component_instances(slots)
        .total_core_instances(slots * 8)
        .total_memories(slots * 2)
        .total_tables(slots * 8)
        .total_stacks(slots)
        .max_memories_per_component(2)
        .max_core_instances_per_component(16)
        .max_tables_per_component(16)
        .max_memory_size(cfg.max_memory_limit_bytes);
    // Linux 6.7+: reset a used slot by copying back only the pages the call
    // dirtied (and keep them mapped), the cheapest part of a call to give back.
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(Enabled::Yes)
            .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
            .table_keep_resident(KEEP_RESIDENT_TABLE);
    }
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        // The default, said out loud: a component's data segments are mapped
        // copy-on-write from its image rather than copied at each instantiation.
        .memory_init_cow(true)
        .max_wasm_stack(cfg.max_wasm_stack_bytes)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config)?;
    // Without the ticker no deadline would ever fire: no engine rather than
    // one that runs code unbounded.
    start_ticker(&engine, Duration::from_millis(cfg.epoch_tick_ms.max(1)))?;
    Ok(engine)
}

fn start_ticker(engine: &Engine, tick: Duration) -> std::io::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(tick);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        })?;
    Ok(())
}
