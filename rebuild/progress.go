package rebuild

import (
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress shows how far a rebuild is: a bar with records done / to do,
// rate and ETA on a terminal (schollz/progressbar), a log line every
// LogEvery otherwise. Safe for concurrent use.
type Progress struct {
	mu       sync.Mutex
	label    string
	total    int64
	done     int64
	started  time.Time
	lastLog  time.Time
	logEvery time.Duration
	bar      *progressbar.ProgressBar
	log      *slog.Logger
}

// LogEvery is how often Progress logs when it draws no bar.
const LogEvery = 5 * time.Second

// NewProgress starts the progress of label over total records (an upper
// bound: see Plan.Total); bar draws on w when terminal is true.
func NewProgress(label string, total int64, w io.Writer, terminal bool, log *slog.Logger) *Progress {
	p := &Progress{label: label, total: total, started: time.Now(), logEvery: LogEvery, log: log}
	p.lastLog = p.started
	if terminal {
		p.bar = progressbar.NewOptions64(max(total, 1),
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("records"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
			progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(w, "\n") }),
		)
	}
	return p
}

// Add counts n more records done.
func (p *Progress) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += int64(n)
	if p.done > p.total {
		// The total was an upper bound planned earlier; records produced
		// since then move it.
		p.total = p.done
		if p.bar != nil {
			p.bar.ChangeMax64(p.total)
		}
	}
	if p.bar != nil {
		_ = p.bar.Set64(p.done)
		return
	}
	if time.Since(p.lastLog) >= p.logEvery {
		p.lastLog = time.Now()
		p.logLine("rebuild progress")
	}
}

// Done returns the records done so far.
func (p *Progress) Done() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Finish ends the bar (or logs the last line).
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Set64(p.total)
		_ = p.bar.Finish()
		return
	}
	p.logLine("rebuild progress: done")
}

func (p *Progress) logLine(msg string) {
	elapsed := time.Since(p.started)
	rate := float64(p.done) / max(elapsed.Seconds(), 1e-9)
	var eta time.Duration
	if rate > 0 && p.total > p.done {
		eta = time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second)
	}
	p.log.Info(msg, "what", p.label, "done", p.done, "total", p.total,
		"rate_per_second", int64(rate), "elapsed", elapsed.Round(time.Millisecond), "eta", eta)
}
