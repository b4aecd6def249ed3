package producers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/producers/jsonl"
	"github.com/prism-cqrs/prism/records"
)

// widgets is a test-only aggregate: its commands are JSON Lines objects
// {"type","commandId","widgetId","color"}, its record value is
// "<widgetId>/<color>", its results "<commandId>/<widgetId>/<accepted>".

type widgetCommand struct {
	Type, CommandID, WidgetID, Color, CorrelationID string
}

func (w *widgetCommand) CommandMeta() records.CommandMeta {
	return records.CommandMeta{Type: w.Type, CommandID: w.CommandID, AggregateID: w.WidgetID, CorrelationID: w.CorrelationID}
}

type widgetLine struct {
	Type      string `json:"type"`
	CommandID string `json:"commandId"`
	WidgetID  string `json:"widgetId"`
	Color     string `json:"color"`
}

var widgetObject = jsonl.NewObject[widgetLine](nil)

type widgetCodec struct{}

func (widgetCodec) CommandTypes() []string   { return []string{"CreateWidget", "PaintWidget"} }
func (widgetCodec) AggregateIDField() string { return "widgetId" }

func (widgetCodec) ParseCommand(line []byte) (records.Command, error) {
	var l widgetLine
	if err := widgetObject.Decode(line, &l); err != nil {
		return nil, err
	}
	if l.WidgetID == "" {
		return nil, &FieldError{Field: "widgetId", Reason: "required"}
	}
	return &widgetCommand{Type: l.Type, CommandID: l.CommandID, WidgetID: l.WidgetID, Color: l.Color}, nil
}

func (widgetCodec) EncodeCommand(cmd records.Command, _ time.Time) (records.EncodedCommand, error) {
	w, ok := cmd.(*widgetCommand)
	if !ok {
		return records.EncodedCommand{}, fmt.Errorf("not a widget command: %T", cmd)
	}
	c := *w
	if c.CorrelationID == "" {
		c.CorrelationID = c.CommandID
	}
	return records.EncodedCommand{Command: &c, Meta: c.CommandMeta(), Value: []byte(c.WidgetID + "/" + c.Color), Schema: []byte("00000000000000aa")}, nil
}

func (widgetCodec) DecodeResult(b []byte) (*records.Result, error) {
	parts := strings.Split(string(b), "/")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: widget result %q", records.ErrMalformed, b)
	}
	return &records.Result{CommandID: parts[0], AggregateID: parts[1], Accepted: parts[2] == "true", CorrelationID: parts[0]}, nil
}

const (
	widgetCommands = "t.widgets.commands"
	widgetResults  = "t.widgets.command-results"
)

// twoAggregates is a fake cluster with the topics of payments and widgets,
// and a producer of both.
func twoAggregates(t *testing.T) (*fakeKafka, *CommandProducer, *CommandSet) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(testPartitions, testCommands, widgetCommands),
		kfake.SeedTopics(3, testResults, widgetResults))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeKafka{brokers: c.ListenAddrs(), codec: codec}
	pay := f.agg(testCommands, testResults)
	p, err := NewCommandProducer(Config{
		Kafka: kafkaconn.Config{Brokers: f.brokers},
		Aggregates: []Aggregate{pay, {Name: "widget", CommandsTopic: widgetCommands, ResultsTopic: widgetResults,
			Commands: widgetCodec{}, Results: widgetCodec{}}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	set, err := NewCommandSet(pay.Commands, widgetCodec{})
	if err != nil {
		t.Fatal(err)
	}
	return f, p, set
}

// A JSON Lines file mixing two aggregates' commands: each line goes to its
// aggregate's commands topic, keyed by its aggregate id; an unknown type is
// a line error naming every known type.
func TestJSONLinesOfTwoAggregatesGoToTheirTopics(t *testing.T) {
	f, p, set := twoAggregates(t)
	file := strings.Join([]string{
		`{"type":"CreatePayment","commandId":"c-1","paymentId":"p-1","organizationId":"o","userId":"u","amount":"1.00","currency":"EUR"}`,
		`{"type":"CreateWidget","commandId":"c-2","widgetId":"w-1","color":"red"}`,
		`{"type":"RefundPayment","commandId":"c-3","paymentId":"p-1","organizationId":"o","userId":"u"}`,
		`{"type":"PaintWidget","commandId":"c-4","widgetId":"w-1","color":"blue"}`,
		`{"type":"DeletePayment","commandId":"c-5","paymentId":"p-1","organizationId":"o","userId":"u"}`,
		`{"type":"PaintWidget","commandId":"c-6","widgetId":"w-2","colour":"green"}`,
	}, "\n")
	valid, invalid, err := ReadJSONL(strings.NewReader(file), set)
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for _, le := range invalid {
		bad = append(bad, le.Error())
	}
	want := []string{
		`line 3: field type: unknown command type "RefundPayment" (want CreatePayment, UpdatePayment, ChangePaymentStatus, DeletePayment, CreateWidget or PaintWidget)`,
		`line 6: field colour: unknown field`,
	}
	if strings.Join(bad, "\n") != strings.Join(want, "\n") {
		t.Fatalf("line errors:\n%s\nwant:\n%s", strings.Join(bad, "\n"), strings.Join(want, "\n"))
	}
	cmds := make([]records.Command, len(valid))
	for i, l := range valid {
		cmds[i] = l.Command
	}
	if _, err := p.SendAll(context.Background(), cmds); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := map[string][]string{}
	for _, topic := range []string{testCommands, widgetCommands} {
		for _, r := range f.consume(t, ctx, topic, 2) {
			typ, _ := header(r, records.HeaderType)
			id, _ := header(r, records.HeaderCommandID)
			got[topic] = append(got[topic], fmt.Sprintf("%s %s key=%s", id, typ, r.Key))
		}
	}
	for topic, want := range map[string]string{
		testCommands:   "c-1 CreatePayment key=p-1|c-5 DeletePayment key=p-1",
		widgetCommands: "c-2 CreateWidget key=w-1|c-4 PaintWidget key=w-1",
	} {
		if g := strings.Join(got[topic], "|"); g != want {
			t.Errorf("%s holds %s, want %s", topic, g, want)
		}
	}
}

// The same command id sent to two aggregates waits for each one's result,
// on its own results topic, and reports it with its aggregate's id field.
func TestRunWaitReadsEachAggregatesResultsTopic(t *testing.T) {
	f, p, _ := twoAggregates(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fakeProcessor(t, f, ctx) // answers the payments
	cl := f.client(t, kgo.ConsumeTopics(widgetCommands), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var answering sync.WaitGroup
	answering.Add(1)
	t.Cleanup(answering.Wait) // before the client's cleanup closes it
	go func() {               // answers the widgets
		defer answering.Done()
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				id, _ := header(r, records.HeaderCommandID)
				res := &kgo.Record{Topic: widgetResults, Key: []byte(id), Value: []byte(id + "/" + string(r.Key) + "/false")}
				_ = cl.ProduceSync(ctx, res).FirstErr()
			})
		}
	}()
	cmds := []records.Command{sampleCommand("c-1", "p-1"), &widgetCommand{Type: "CreateWidget", CommandID: "c-1", WidgetID: "w-1"}}
	i := 0
	src := func() (records.Command, bool, error) {
		if i == len(cmds) {
			return nil, false, nil
		}
		i++
		return cmds[i-1], true, nil
	}
	var lines []string
	stats, err := p.Run(ctx, src, RunConfig{Wait: true, WaitTimeout: 20 * time.Second, OnResult: func(r Result) {
		b, err := json.Marshal(r)
		if err != nil {
			t.Error(err)
		}
		lines = append(lines, string(b))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (RunStats{Produced: 2, Accepted: 1, Rejected: 1}); stats != want {
		t.Fatalf("stats %+v, want %+v", stats, want)
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		`{"commandId":"c-1","paymentId":"p-1","accepted":true,"eventVersion":1,"correlationId":"wf-p-1"}`,
		`{"commandId":"c-1","widgetId":"w-1","accepted":false,"eventVersion":0,"correlationId":"c-1"}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("results printed:\n%s\nwant the line %s", got, want)
		}
	}
}

// The --wait line of a payment result is what encoding/json printed for
// schemas.CommandResult before the producer was generic, byte for byte.
func TestResultJSONMatchesPaymentsCommandResult(t *testing.T) {
	for _, r := range []schemas.CommandResult{
		{CommandID: "c-1", PaymentID: "p-1", Accepted: true, EventVersion: 1, CorrelationID: "wf-9"},
		{CommandID: "c-2", PaymentID: "p<&>", Accepted: false, Reason: "INVALID_FIELD", Message: "say \"hi\" \u2028 é\x01", Field: "description", CorrelationID: "w"},
		{CommandID: "c-1", PaymentID: "p-1", Accepted: true, EventVersion: 7, Duplicate: true, CorrelationID: ""},
	} {
		var want, got bytes.Buffer
		if err := json.NewEncoder(&want).Encode(&r); err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(&got).Encode(Result{Result: r.Record(), IDField: "paymentId"}); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("result line\n got %s\nwant %s", got.String(), want.String())
		}
	}
}

// A producer of several aggregates cannot route a command of no known type.
func TestSendUnknownTypeToSeveralAggregates(t *testing.T) {
	_, p, _ := twoAggregates(t)
	_, _, err := p.Send(context.Background(), &widgetCommand{Type: "Frobnicate", CommandID: "c", WidgetID: "w"})
	if err == nil || !strings.Contains(err.Error(), `unknown command type "Frobnicate" (want CreatePayment, UpdatePayment, ChangePaymentStatus, DeletePayment, CreateWidget or PaintWidget)`) {
		t.Fatalf("err %v", err)
	}
	if _, err := NewCommandSet(widgetCodec{}, widgetCodec{}); err == nil || !strings.Contains(err.Error(), `"CreateWidget"`) {
		t.Fatalf("two codecs owning the same types: %v", err)
	}
	w := Aggregate{Name: "widget", CommandsTopic: "a", ResultsTopic: "b", Commands: widgetCodec{}, Results: widgetCodec{}}
	err = Config{Kafka: kafkaconn.Config{Brokers: []string{"x:1"}}, Aggregates: []Aggregate{w, w}}.Validate()
	if err == nil || !strings.Contains(err.Error(), `aggregates widget and widget both own the command type "CreateWidget"`) {
		t.Fatalf("Validate with a type owned twice: %v", err)
	}
}
