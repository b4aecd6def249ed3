package integration

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/topology"
)

// prismProc is one `prism` process started by a test: its output goes to a
// log file whose tail is shown when the test fails, and it is killed at
// cleanup if still running.
type prismProc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // after done
}

// startPrismProc runs bin with args, logging to <tempdir>/<name>.log.
func startPrismProc(t testing.TB, bin, name string, args ...string) *prismProc {
	t.Helper()
	return startPrismProcEnv(t, bin, name, nil, args...)
}

// startPrismProcEnv is startPrismProc with the environment env (nil: this
// process's).
func startPrismProcEnv(t testing.TB, bin, name string, env []string, args ...string) *prismProc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &prismProc{name: name, cmd: exec.Command(bin, args...), log: logPath, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- last lines of %s ---\n%s", filepath.Base(p.log), tailFile(p.log, 40))
		}
	})
	return p
}

// kill sends SIGKILL: no transaction end, no batch commit, no group leave.
func (p *prismProc) kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL %s: %v", p.name, err)
	}
	<-p.done
}

// stop sends SIGTERM and requires a clean exit (status 0) within 60 s.
func (p *prismProc) stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("%s after SIGTERM: %v, want exit 0\n%s", p.name, p.err, tailFile(p.log, 20))
		}
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("%s did not exit within 60s of SIGTERM", p.name)
	}
}

// tailFile returns the last n lines of the file at path.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// testTopics declares the topology of namespace ns with the given partition
// count on the real broker and returns it with a producing client; both the
// topics and the client go away when the test ends.
func testTopics(t testing.TB, brokers []string, ns string, partitions int32, linger time.Duration) (topology.Spec, *kgo.Client) {
	t.Helper()
	spec, err := topology.NewSpec(topology.SpecConfig{Aggregates: registeredPlurals(t), Namespace: ns, Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(linger), kgo.MaxBufferedRecords(200_000))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := topology.DeleteTopics(ctx, cl, spec); err != nil {
			t.Logf("delete the test's topics: %v", err)
		}
		cl.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := topology.EnsureTopics(ctx, cl, spec); err != nil {
		t.Fatal(err)
	}
	return spec, cl
}
