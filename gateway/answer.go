package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/records"
)

// answer is one HTTP answer of the gateway: its status and JSON body.
type answer struct {
	status int
	body   []byte
}

// The JSON bodies of CONTRACT "Gateway", fields in this order.
type acceptedBody struct {
	CommandID        string `json:"commandId"`
	Aggregate        string `json:"aggregate"`
	AggregateID      string `json:"aggregateId"`
	Accepted         bool   `json:"accepted"`
	Duplicate        bool   `json:"duplicate"`
	EventVersion     int64  `json:"eventVersion"`
	CorrelationID    string `json:"correlationId"`
	ConsistencyToken string `json:"consistencyToken,omitempty"`
}

type rejectedBody struct {
	CommandID     string `json:"commandId"`
	Aggregate     string `json:"aggregate"`
	AggregateID   string `json:"aggregateId"`
	Accepted      bool   `json:"accepted"`
	Reason        string `json:"reason"`
	Message       string `json:"message"`
	Field         string `json:"field,omitempty"`
	EventVersion  int64  `json:"eventVersion"`
	CorrelationID string `json:"correlationId"`
}

type pendingBody struct {
	CommandID string `json:"commandId"`
	Status    string `json:"status"`
}

type errorBody struct {
	Error     string `json:"error"`
	Parameter string `json:"parameter,omitempty"`
}

// resultAnswer is the 200 (accepted) or 422 (rejected) answer of res, a
// result of the aggregate plural; tok is its consistency token, if known.
func resultAnswer(plural string, res *records.Result, tok *queries.Token) answer {
	if !res.Accepted {
		return jsonAnswer(http.StatusUnprocessableEntity, rejectedBody{
			CommandID: res.CommandID, Aggregate: plural, AggregateID: res.AggregateID,
			Reason: res.Reason, Message: res.Message, Field: res.Field,
			EventVersion: res.EventVersion, CorrelationID: res.CorrelationID,
		})
	}
	b := acceptedBody{
		CommandID: res.CommandID, Aggregate: plural, AggregateID: res.AggregateID, Accepted: true,
		Duplicate: res.Duplicate, EventVersion: res.EventVersion, CorrelationID: res.CorrelationID,
	}
	if tok != nil {
		b.ConsistencyToken = tok.String()
	}
	return jsonAnswer(http.StatusOK, b)
}

func pendingAnswer(commandID string) answer {
	return jsonAnswer(http.StatusAccepted, pendingBody{CommandID: commandID, Status: "pending"})
}

// errorAnswer is an error body; parameter is "body" for a bad command.
func errorAnswer(status int, msg, parameter string) answer {
	return jsonAnswer(status, errorBody{Error: msg, Parameter: parameter})
}

func jsonAnswer(status int, v any) answer {
	b, err := json.Marshal(v)
	if err != nil { // the bodies are plain structs of strings and numbers
		panic("gateway: marshal answer: " + err.Error())
	}
	return answer{status: status, body: b}
}
