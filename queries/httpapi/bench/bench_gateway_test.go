package bench

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// BenchmarkGatewayRoundTrip: POST /v1/commands?wait=10s, each a new
// CreatePayment of benchOrg, through the HTTP layer and the gateway to
// Kafka, decided by the real payment processor (in process, `prism
// process`'s batching defaults), its result and events awaited: every
// answer must be 200 accepted with a consistency token.
func BenchmarkGatewayRoundTrip(b *testing.B) {
	f := env(b)
	p := f.pipeline(b)
	s := f.serve(b, serverOptions{redis: true, gateway: p.gw})
	var nonce [4]byte
	_, _ = rand.Read(nonce[:])
	run := hex.EncodeToString(nonce[:])
	var n atomic.Uint64
	next := func() request {
		i := n.Add(1)
		body := fmt.Sprintf(`{"type":"CreatePayment","commandId":"bench-cmd-%s-%d","paymentId":"bench-gw-%s-%d",`+
			`"organizationId":%q,"userId":"u-1","amount":"12.50","currency":"EUR","description":"GPU hours"}`, run, i, run, i, benchOrg)
		return request{method: http.MethodPost, url: s.url + "/v1/commands?wait=10s", body: []byte(body),
			header: http.Header{"Authorization": {"Bearer " + benchToken}, "Content-Type": {"application/json"}}}
	}
	// The processor joins its group and restores its partitions first:
	// wait until a command is accepted.
	for deadline := time.Now().Add(60 * time.Second); ; {
		code, body := send(next())
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("no command accepted within 60 s: last answer %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	o := attack(b, load{"gateway round trip", next, func(r *vegeta.Result) (string, error) {
		if !bytes.Contains(r.Body, []byte(`"accepted":true`)) || !bytes.Contains(r.Body, []byte(`"consistencyToken":"`)) {
			return "", errors.New("not accepted with a token: " + string(r.Body))
		}
		return "accepted", nil
	}})
	report(b, "", o)
}

// send posts r once and returns the status and body (0 when it failed).
func send(r request) (int, []byte) {
	req, err := http.NewRequest(r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		return 0, []byte(err.Error())
	}
	req.Header = r.header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	return res.StatusCode, buf.Bytes()
}
