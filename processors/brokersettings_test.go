package processors

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCheckBrokerSettingsWarnsAboutTheRetryPause: a broker whose
// add.partitions.to.txn.retry.backoff.ms is the default 20 ms gets a
// warning naming the broker, the setting and its value; 1 ms gets none; a
// broker that refuses to describe its configuration gets none either
// (only a debug line), and the check returns at once.
func TestCheckBrokerSettingsWarnsAboutTheRetryPause(t *testing.T) {
	for _, c := range []struct {
		name  string
		value string
		code  int16
		warn  bool
	}{
		{"default 20 ms", "20", 0, true},
		{"1 ms", "1", 0, false},
		{"refused", "", kerr.ClusterAuthorizationFailed.Code, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()
			var asked atomic.Int32
			cluster.ControlKey(int16(kmsg.DescribeConfigs), func(req kmsg.Request) (kmsg.Response, error, bool) {
				cluster.KeepControl()
				asked.Add(1)
				resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
				for _, r := range req.(*kmsg.DescribeConfigsRequest).Resources {
					rr := kmsg.NewDescribeConfigsResponseResource()
					rr.ResourceType, rr.ResourceName, rr.ErrorCode = r.ResourceType, r.ResourceName, c.code
					if c.code == 0 {
						cfg := kmsg.NewDescribeConfigsResponseResourceConfig()
						cfg.Name, cfg.Value = TxnRetryBackoffSetting, kmsg.StringPtr(c.value)
						rr.Configs = append(rr.Configs, cfg)
					}
					resp.Resources = append(resp.Resources, rr)
				}
				return resp, nil, true
			})
			cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			start := time.Now()
			checkBrokerSettings(context.Background(), kadm.NewClient(cl), log)
			if took := time.Since(start); took > brokerSettingsWait {
				t.Errorf("the check took %v, more than its bound %v", took, brokerSettingsWait)
			}
			if asked.Load() == 0 {
				t.Fatal("the brokers' settings were never asked for")
			}
			warned := strings.Contains(logs.String(), "level=WARN")
			if warned != c.warn {
				t.Fatalf("warned %v, want %v; logs:\n%s", warned, c.warn, logs.String())
			}
			if c.warn {
				for _, want := range []string{"setting=" + TxnRetryBackoffSetting, "value_ms=20", "broker=0", "set it to 1"} {
					if !strings.Contains(logs.String(), want) {
						t.Errorf("the warning does not say %q:\n%s", want, logs.String())
					}
				}
			}
			if c.code != 0 && !strings.Contains(logs.String(), "level=DEBUG") {
				t.Errorf("a refused reading left no debug line:\n%s", logs.String())
			}
		})
	}
}

// TestTxnRetryBackoffOfTheRealBroker: the real broker answers the setting
// from its static configuration; the broker of scripts/services.sh has 1
// ms (an engine against it logs no warning).
func TestTxnRetryBackoffOfTheRealBroker(t *testing.T) {
	brokers := testkit.KafkaBrokers(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := txnRetryBackoffs(ctx, kadm.NewClient(cl))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatalf("no broker reported %s", TxnRetryBackoffSetting)
	}
	for broker, v := range got {
		if v != time.Millisecond {
			t.Errorf("broker %s: %s = %v, want the 1 ms scripts/services.sh sets", broker, TxnRetryBackoffSetting, v)
		}
	}
}
