package producers

import "sync"

// inOrder runs reports in the order they were added, each once it is
// marked ready: Run's results keep their arrival order (a command id sent
// twice prints its accepted result before its duplicate) even though an
// accepted one waits for its consistency token on another goroutine. A
// report that is not ready holds the ones after it.
type inOrder struct {
	mu    sync.Mutex
	queue []*inOrderItem
	wake  chan struct{} // capacity 1: something was added
	stop  chan struct{}
	done  chan struct{}
}

type inOrderItem struct {
	ready  chan struct{}
	report func()
}

func newInOrder() *inOrder {
	q := &inOrder{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go q.run()
	return q
}

// add queues report and returns the func that marks it ready (call it
// exactly once).
func (q *inOrder) add(report func()) (ready func()) {
	it := &inOrderItem{ready: make(chan struct{}), report: report}
	q.mu.Lock()
	q.queue = append(q.queue, it)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return func() { close(it.ready) }
}

func (q *inOrder) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.mu.Unlock()
			select {
			case <-q.wake:
				continue
			case <-q.stop:
				return
			}
		}
		it := q.queue[0]
		q.queue[0] = nil
		q.queue = q.queue[1:]
		q.mu.Unlock()
		select {
		case <-it.ready:
			it.report()
		case <-q.stop:
			return
		}
	}
}

// close stops the reporting (what is still queued is dropped) and waits
// for a report under way to end.
func (q *inOrder) close() {
	close(q.stop)
	<-q.done
}
