package processors

// partitionStore is the committed state of the aggregates of one partition:
// what the events topic holds for that partition up to the last committed
// transaction. It is only written after a transaction commits, so a batch
// that aborts leaves it untouched.
type partitionStore struct {
	epoch  uint64 // assignment epoch the store was restored under
	states map[string]State
}

// overlayKey names one aggregate of one partition.
type overlayKey struct {
	partition int32
	key       string
}

// overlay holds the state changes of the open transaction. It is merged
// into the partition stores when the transaction commits and thrown away
// when it aborts.
type overlay map[overlayKey]State

// lookup returns the state of key in partition p as of the last command
// handled in this batch: the overlay wins over the committed store.
func lookup(ov overlay, st *partitionStore, p int32, key string) State {
	if s, ok := ov[overlayKey{p, key}]; ok {
		return s
	}
	return st.states[key]
}

// mergeInto applies the overlay to the partition stores. A nil state removes
// the aggregate. Partitions with no store (dropped since) are skipped.
func (ov overlay) mergeInto(stores map[int32]*partitionStore) {
	for k, s := range ov {
		st, ok := stores[k.partition]
		if !ok {
			continue
		}
		if s == nil {
			delete(st.states, k.key)
		} else {
			st.states[k.key] = s
		}
	}
}
