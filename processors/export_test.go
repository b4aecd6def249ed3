package processors

// FixedBatchWait gives cfg the batching of before group commit (every
// batch collects for BatchMaxWait unless it fills first), for the
// benchmarks that measure both in one run.
func FixedBatchWait(cfg *EngineConfig) { cfg.fixedWait = true }
