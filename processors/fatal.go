package processors

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// IsFatalKafkaError reports whether err is one that waiting cannot heal: a
// newer instance took over this instance's transactional id or group
// instance id, or Kafka refuses this client the transactional id, the
// group, a topic or the cluster. Everything else that breaks a
// transaction (broker down, coordinator or leader moved, a rebalance, a
// timeout) is transient: the engine aborts and starts over from the
// committed offsets.
func IsFatalKafkaError(err error) bool {
	for _, f := range []error{
		kerr.ProducerFenced,
		kerr.InvalidProducerEpoch,
		kerr.FencedInstanceID,
		kerr.TransactionalIDAuthorizationFailed,
		kerr.GroupAuthorizationFailed,
		kerr.TopicAuthorizationFailed,
		kerr.ClusterAuthorizationFailed,
		kerr.SaslAuthenticationFailed,
	} {
		if errors.Is(err, f) {
			return true
		}
	}
	return false
}
