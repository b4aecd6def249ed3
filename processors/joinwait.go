package processors

import (
	"cmp"
	"time"
)

// joinWait logs, while the instance owns no partition, what it waits for,
// so that an instance waiting on the group (a rebalance that waits for a
// crashed dynamic member's session to expire, a coordinator that is not
// back yet) is never silent.
type joinWait struct {
	e     *Engine
	since time.Time
	next  time.Time
	done  bool
}

const joinWaitLogEvery = 5 * time.Second

func (e *Engine) newJoinWait(now time.Time) *joinWait {
	return &joinWait{e: e, since: now, next: now.Add(joinWaitLogEvery)}
}

// check is called between batches with the number of owned partitions.
func (w *joinWait) check(now time.Time, assigned int) {
	if w.done {
		return
	}
	log := w.e.cfg.Logger
	if assigned > 0 {
		w.done = true
		log.Info("got partitions from the group", "group", w.e.cfg.Group, "partitions", assigned,
			"waited_seconds", now.Sub(w.since).Seconds())
		return
	}
	if now.Before(w.next) {
		return
	}
	w.next = now.Add(joinWaitLogEvery)
	log.Info("still waiting for the group to assign partitions (a rebalance waits for every member to rejoin, or for a crashed member's session to expire; all partitions may also be owned by other instances)",
		"group", w.e.cfg.Group, "instance_id", w.e.cfg.InstanceID, "waited_seconds", int(now.Sub(w.since).Seconds()),
		"session_timeout", w.e.cfg.SessionTimeout, "health", cmp.Or(w.e.Health().Reason, "ok"))
}
