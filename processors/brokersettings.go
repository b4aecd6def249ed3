package processors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TxnRetryBackoffSetting is the broker setting that decides a command's
// latency under group commit: each transaction's first produce reaches the
// broker while the previous transaction's markers are still being written,
// and the broker retries adding its partitions after this pause (default
// 20 ms). docs/processor.md ("Round three") has the measurements.
const TxnRetryBackoffSetting = "add.partitions.to.txn.retry.backoff.ms"

// TxnRetryBackoffAdvice is the largest value of TxnRetryBackoffSetting the
// engine does not warn about (the services of scripts/services.sh use 1).
const TxnRetryBackoffAdvice = 5 * time.Millisecond

// brokerSettingsWait bounds the start-up reading of the brokers' settings.
const brokerSettingsWait = 3 * time.Second

// txnRetryBackoffs reads TxnRetryBackoffSetting from every broker, by
// broker id. A broker that refuses to describe its configuration (no
// DescribeConfigs ACL) is missing from the result and named in the error.
func txnRetryBackoffs(ctx context.Context, adm *kadm.Client) (map[string]time.Duration, error) {
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the brokers: %w", err)
	}
	configs, err := adm.DescribeBrokerConfigs(ctx, brokers.NodeIDs()...)
	if err != nil && len(configs) == 0 {
		return nil, fmt.Errorf("describe the brokers' configuration: %w", err)
	}
	out := map[string]time.Duration{}
	var errs []error
	for _, rc := range configs {
		if rc.Err != nil {
			errs = append(errs, fmt.Errorf("broker %s: %w", rc.Name, rc.Err))
			continue
		}
		for _, c := range rc.Configs {
			if c.Key != TxnRetryBackoffSetting || c.Value == nil {
				continue
			}
			ms, err := strconv.ParseInt(*c.Value, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("broker %s: %s=%q: %w", rc.Name, c.Key, *c.Value, err))
				continue
			}
			out[rc.Name] = time.Duration(ms) * time.Millisecond
		}
	}
	return out, errors.Join(errs...)
}

// checkBrokerSettings logs a warning naming each broker whose
// TxnRetryBackoffSetting is above TxnRetryBackoffAdvice. It only advises:
// what it cannot read within brokerSettingsWait is left unchecked with a
// debug line, and the engine starts either way.
func checkBrokerSettings(ctx context.Context, adm *kadm.Client, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, brokerSettingsWait)
	defer cancel()
	values, err := txnRetryBackoffs(ctx, adm)
	if err != nil {
		log.Debug("could not read the brokers' settings", "setting", TxnRetryBackoffSetting, "err", err)
	}
	for broker, v := range values {
		if v > TxnRetryBackoffAdvice {
			log.Warn("a broker setting adds up to its value to every command's latency: each transaction's first produce waits this long for the previous transaction's markers; set it to 1 on the brokers (docs/processor.md)",
				"broker", broker, "setting", TxnRetryBackoffSetting, "value_ms", v.Milliseconds(), "advised_max_ms", TxnRetryBackoffAdvice.Milliseconds())
		}
	}
}
