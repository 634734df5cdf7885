//! The wasmtime engine transformations run in: component model, a pooling
//! allocator (instantiation reuses pre-reserved slots instead of mmapping), and
//! epoch interruption driven by one ticker thread (how deadlines are enforced
//! without instrumenting every loop with fuel).

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::config::TransformConfig;

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
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
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
