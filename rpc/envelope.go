package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cinder-go/cinder"
	"github.com/google/uuid"
)

// The 2.0 envelope of oslo_messaging._drivers.common.serialize_msg.
const (
	envelopeVersion = "2.0"
	versionKey      = "oslo.version"
	messageKey      = "oslo.message"
	contextPrefix   = "_context_"
)

// Modules of the failures this package serializes and understands.
const (
	cinderModule     = "cinder.exception"
	builtinsModule   = "builtins"
	dispatcherModule = "oslo_messaging.rpc.dispatcher"
)

// request is the inner dict of an RPC request.
type request struct {
	Method    string
	Args      json.RawMessage // a JSON object of keyword arguments
	Version   string          // "" when absent
	Namespace string          // "" when absent
	MsgID     string          // calls only
	ReplyQ    string          // calls only
	Monitor   float64         // _timeout: call-monitor seconds, 0 when null
	UniqueID  string
	Context   *cinder.RequestContext
}

// reply is the inner dict of a reply to a call.
type reply struct {
	Result   json.RawMessage // nil means null
	Failure  *failure
	Ending   bool
	MsgID    string
	UniqueID string
}

// failure is a serialized Python exception, as serialize_remote_exception.
type failure struct {
	Class   string         `json:"class"`
	Module  string         `json:"module"`
	Message string         `json:"message"`
	Tb      []string       `json:"tb"`
	Args    []any          `json:"args"`
	Kwargs  map[string]any `json:"kwargs"`
}

// newID returns a uuid4 in hex, as oslo's msg_id, unique_id and queue suffixes.
func newID() string { return strings.ReplaceAll(uuid.NewString(), "-", "") }

// encodeArgs marshals a call's keyword arguments, which must form a JSON object.
func encodeArgs(args any) (json.RawMessage, error) {
	if args == nil {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("encode args: %w", err)
	}
	if bytes.Equal(b, []byte("null")) {
		return json.RawMessage("{}"), nil
	}
	if b[0] != '{' {
		return nil, fmt.Errorf("encode args: %T does not encode to a JSON object", args)
	}
	return b, nil
}

// encodeRequest serializes r in the 2.0 envelope.
func encodeRequest(r *request) ([]byte, error) {
	m := map[string]any{"method": r.Method, "args": r.Args}
	if r.Version != "" {
		m["version"] = r.Version
	}
	if r.Namespace != "" {
		m["namespace"] = r.Namespace
	}
	if r.MsgID != "" {
		m["_msg_id"] = r.MsgID
		m["_reply_q"] = r.ReplyQ
		m["_timeout"] = nil
	}
	if r.UniqueID != "" {
		m["_unique_id"] = r.UniqueID
	}
	if r.Context != nil {
		b, err := json.Marshal(r.Context)
		if err != nil {
			return nil, fmt.Errorf("encode request context: %w", err)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, fmt.Errorf("encode request context: %w", err)
		}
		for k, v := range fields {
			m[contextPrefix+k] = v
		}
	}
	return seal(m)
}

// encodeReply serializes r in the 2.0 envelope.
func encodeReply(r *reply) ([]byte, error) {
	m := map[string]any{"result": r.Result, "failure": nil, "ending": r.Ending, "_msg_id": r.MsgID, "_unique_id": r.UniqueID}
	if r.Result == nil {
		m["result"] = nil
	}
	if r.Failure != nil {
		b, err := json.Marshal(r.Failure)
		if err != nil {
			return nil, fmt.Errorf("encode failure: %w", err)
		}
		m["failure"] = string(b)
	}
	return seal(m)
}

// seal wraps an inner dict in the envelope: its JSON becomes a string.
func seal(m map[string]any) ([]byte, error) {
	inner, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	return json.Marshal(map[string]string{versionKey: envelopeVersion, messageKey: string(inner)})
}

// open returns the inner dict of body, with or without the envelope.
func open(body []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("message is not a JSON object: %w", err)
	}
	if m == nil {
		return nil, errors.New("message is null")
	}
	raw, ok := m[versionKey]
	if !ok {
		return m, nil // the 1.0 format: no envelope
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("envelope %s: %w", versionKey, err)
	}
	if !versionCompatible(envelopeVersion, v) {
		return nil, fmt.Errorf("unsupported envelope version %q", v)
	}
	var s string
	if err := json.Unmarshal(m[messageKey], &s); err != nil {
		return nil, fmt.Errorf("envelope %s: %w", messageKey, err)
	}
	m = nil
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return nil, fmt.Errorf("envelope %s is not a JSON object", messageKey)
	}
	return m, nil
}

// field decodes m[key] into v; an absent key or null leaves v unchanged.
func field(m map[string]json.RawMessage, key string, v any) error {
	raw, ok := m[key]
	if !ok || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("field %s: %w", key, err)
	}
	return nil
}

// decodeRequest parses a request body, enveloped or not.
func decodeRequest(body []byte) (*request, error) {
	m, err := open(body)
	if err != nil {
		return nil, err
	}
	r := &request{Args: json.RawMessage("{}")}
	for key, v := range map[string]any{
		"method": &r.Method, "args": &r.Args, "version": &r.Version, "namespace": &r.Namespace,
		"_msg_id": &r.MsgID, "_reply_q": &r.ReplyQ, "_timeout": &r.Monitor, "_unique_id": &r.UniqueID,
	} {
		if err := field(m, key, v); err != nil {
			return nil, err
		}
	}
	if r.Method == "" {
		return nil, errors.New("message has no method")
	}
	if r.Args[0] != '{' {
		return nil, errors.New("args of the message is not a JSON object")
	}
	if r.MsgID != "" && r.ReplyQ == "" {
		return nil, errors.New("call has no _reply_q")
	}
	r.Context = unpackContext(m)
	return r, nil
}

// unpackContext builds the request context from the _context_* keys. Keys
// this package does not know are ignored, and so is a value of a foreign
// type (json.Unmarshal skips it and fills the rest).
func unpackContext(m map[string]json.RawMessage) *cinder.RequestContext {
	fields := map[string]json.RawMessage{}
	for k, v := range m {
		if name, ok := strings.CutPrefix(k, contextPrefix); ok {
			fields[name] = v
		}
	}
	rc := &cinder.RequestContext{}
	b, _ := json.Marshal(fields) // cannot fail: every value is valid JSON
	_ = json.Unmarshal(b, rc)
	return rc
}

// decodeReply parses a reply body, enveloped or not.
func decodeReply(body []byte) (*reply, error) {
	m, err := open(body)
	if err != nil {
		return nil, err
	}
	r := &reply{}
	var fail string
	for key, v := range map[string]any{"ending": &r.Ending, "_msg_id": &r.MsgID, "_unique_id": &r.UniqueID, "failure": &fail} {
		if err := field(m, key, v); err != nil {
			return nil, err
		}
	}
	if raw, ok := m["result"]; ok && !bytes.Equal(raw, []byte("null")) {
		r.Result = raw
	}
	if fail != "" {
		r.Failure = &failure{}
		if err := json.Unmarshal([]byte(fail), r.Failure); err != nil {
			return nil, fmt.Errorf("field failure: %w", err)
		}
	}
	if r.MsgID == "" {
		return nil, errors.New("reply has no _msg_id")
	}
	return r, nil
}

// failureOf serializes a handler's error: a *cinder.Error as its class in
// cinder.exception with kwargs {"code": Code}; a *RemoteError as itself; any
// other error as builtins.Exception.
func failureOf(err error) *failure {
	msg := err.Error()
	f := &failure{Class: "Exception", Module: builtinsModule, Message: msg, Tb: []string{}, Args: []any{msg}, Kwargs: map[string]any{}}
	var ce *cinder.Error
	var re *RemoteError
	switch {
	case errors.As(err, &ce):
		f.Class, f.Module, f.Message, f.Args = ce.Class, cinderModule, ce.Message, []any{ce.Message}
		f.Kwargs["code"] = ce.Code
	case errors.As(err, &re):
		f.Class, f.Module, f.Message, f.Args = re.Class, re.Module, re.Message, []any{re.Message}
		if re.Traceback != nil {
			f.Tb = re.Traceback
		}
	}
	return f
}

// err rebuilds the error a failure stands for: a *cinder.Error for module
// cinder.exception, a *RemoteError for anything else.
func (f *failure) err() error {
	if f.Module == cinderModule {
		code := 500
		if c, ok := f.Kwargs["code"].(float64); ok && c == float64(int(c)) {
			code = int(c)
		}
		return &cinder.Error{Class: f.Class, Code: code, Message: f.Message}
	}
	return &RemoteError{Class: f.Class, Module: f.Module, Message: f.Message, Traceback: f.Tb}
}

// versionCompatible is oslo's version_is_compatible: served "" serves any
// version; otherwise the requested major must equal the served one and the
// requested minor (and revision) not exceed it. Malformed versions never match.
func versionCompatible(served, requested string) bool {
	if served == "" {
		return true
	}
	s, ok1 := parseVersion(served)
	r, ok2 := parseVersion(requested)
	if !ok1 || !ok2 || r[0] != s[0] || r[1] > s[1] {
		return false
	}
	return r[1] < s[1] || r[2] <= s[2]
}

// parseVersion parses "major.minor[.revision]".
func parseVersion(v string) ([3]int, bool) {
	var out [3]int
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

// dispatch finds the handler of req as oslo's RPCDispatcher: the first
// endpoint of the request's namespace and a compatible version that has the
// method; otherwise NoSuchMethod if some endpoint was compatible, else
// UnsupportedVersion.
func dispatch(endpoints []Endpoint, req *request) (Handler, error) {
	version := req.Version
	if version == "" {
		version = "1.0"
	}
	compatible := false
	for _, ep := range endpoints {
		if ep.Namespace != req.Namespace || !versionCompatible(ep.Version, version) {
			continue
		}
		if h, ok := ep.Methods[req.Method]; ok && h != nil {
			return h, nil
		}
		compatible = true
	}
	if compatible {
		return nil, &RemoteError{Module: dispatcherModule, Class: "NoSuchMethod",
			Message: "Endpoint does not support RPC method " + req.Method}
	}
	return nil, &RemoteError{Module: dispatcherModule, Class: "UnsupportedVersion",
		Message: "Endpoint does not support RPC version " + version + ". Attempted method: " + req.Method}
}
