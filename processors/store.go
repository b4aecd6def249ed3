package processors

// partitionStore is the committed state of the aggregates of one partition:
// what the events topic holds for that partition up to the last committed
// transaction. It is only written after a transaction commits, so a batch
// that aborts leaves it untouched.
type partitionStore struct {
	epoch  uint64 // assignment epoch the store was restored under
	states map[string]State
}

// overlay holds the state changes of the open transaction, per partition
// and key (a nil State: the aggregate is gone). It is merged into the
// partition stores when the transaction commits and thrown away when it
// aborts.
type overlay map[int32]map[string]State

// mergeInto applies the overlay to the partition stores. Partitions with no
// store (dropped since) are skipped.
func (ov overlay) mergeInto(stores map[int32]*partitionStore) {
	for p, changed := range ov {
		st, ok := stores[p]
		if !ok {
			continue
		}
		for k, s := range changed {
			if s == nil {
				delete(st.states, k)
			} else {
				st.states[k] = s
			}
		}
	}
}
