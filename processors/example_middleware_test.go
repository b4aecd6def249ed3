package processors_test

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/processors"
)

// tenantHeader is the record header this example authorizes on.
const tenantHeader = "tenant"

// authorize rejects, with reason UNAUTHORIZED, every command whose record
// does not carry one of the allowed tenants; the others go on down the
// chain to the aggregate.
func authorize(allowed ...string) processors.Middleware {
	return func(next processors.Handler) processors.Handler {
		return func(ctx context.Context, c processors.Call) processors.Outcome {
			for _, h := range c.Record.Headers {
				if h.Key == tenantHeader {
					for _, a := range allowed {
						if string(h.Value) == a {
							return next(ctx, c)
						}
					}
				}
			}
			out, err := c.Reject("UNAUTHORIZED", "tenant not allowed")
			if err != nil {
				panic(err) // the aggregate cannot reject: a deployment mistake
			}
			return out
		}
	}
}

// echo is a toy aggregate: it accepts every command.
type echo struct{}

func (echo) DecodeCommand(r *kgo.Record) (processors.Command, error) { return string(r.Value), nil }
func (echo) DecodeState([]byte) (processors.State, error)            { return nil, nil }
func (echo) ErrorClass(error) string                                 { return "" }
func (echo) Handle(s processors.State, c processors.Command, _ time.Time) processors.Outcome {
	return processors.Outcome{Result: processors.Output{Value: []byte("ok " + c.(string))}, NewState: s, Label: "accepted"}
}
func (echo) Reject(s processors.State, _ processors.Command, reason, msg string, _ time.Time) processors.Outcome {
	return processors.Outcome{Result: processors.Output{Value: []byte(reason + ": " + msg)}, NewState: s, Label: reason}
}

// A middleware wraps the aggregate's Handle: give the engine
// EngineConfig.Middleware and every command passes through it, inside
// Prism's own logging and timing middleware. Here an authorization
// middleware, called as the engine calls it.
func ExampleMiddleware() {
	mw := authorize("acme")
	handler := mw(func(_ context.Context, c processors.Call) processors.Outcome {
		return echo{}.Handle(c.State, c.Command, c.Now)
	})
	// processors.EngineConfig{..., Aggregate: echo{}, Middleware: []processors.Middleware{authorize("acme")}}
	for _, tenant := range []string{"acme", "globex"} {
		rec := &kgo.Record{Topic: "prism.things.commands", Value: []byte("create"),
			Headers: []kgo.RecordHeader{{Key: tenantHeader, Value: []byte(tenant)}}}
		call := processors.NewCall(rec, nil, "create", time.Now(), echo{})
		out := handler(context.Background(), call)
		fmt.Printf("%s: %s (%s)\n", tenant, out.Result.Value, out.Label)
	}
	// Output:
	// acme: ok create (accepted)
	// globex: UNAUTHORIZED: tenant not allowed (UNAUTHORIZED)
}
