package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// The fuzz targets below feed arbitrary AMQP message bodies to the decoders
// of requests and replies. A body must decode to an error or to a message
// that encodes and decodes back to itself. Their seed corpora run as
// ordinary tests under go test; make fuzz explores further.

// sameJSON reports whether a and b hold the same JSON value, numbers
// compared as written; nil stands for no value.
func sameJSON(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	va, errA := decodeNumbers(a)
	vb, errB := decodeNumbers(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

// decodeNumbers decodes raw keeping numbers as json.Number.
func decodeNumbers(raw json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"oslo.version": "2.0", "oslo.message": "{\"method\": \"get_capabilities\", \"args\": {\"discover\": false}, \"version\": \"3.0\", \"_msg_id\": \"14e4\", \"_reply_q\": \"reply_ae5f\", \"_timeout\": null, \"_unique_id\": \"d539\", \"_context_user_id\": \"u1\", \"_context_project_id\": \"p1\", \"_context_request_id\": \"req-test\"}"}`))
	f.Add([]byte(`{"method": "ping", "args": {"a": 1}, "_msg_id": "m", "_reply_q": "reply_q", "_timeout": 4}`))
	f.Add([]byte(`{"method": "delete_volume", "args": {"volume_id": "v"}, "namespace": "ns", "_unique_id": "u"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeRequest(body)
		if err != nil {
			return
		}
		// The server heartbeats a call every interval: never less than 1 s.
		if every := req.heartbeatInterval(); every < 0 || every > 0 && every < time.Second {
			t.Fatalf("%q: _timeout %g gives heartbeats every %v", body, req.Monitor, every)
		}
		enc, err := encodeRequest(req)
		if err != nil {
			t.Fatalf("%q decodes to %+v, which does not encode: %v", body, req, err)
		}
		again, err := decodeRequest(enc)
		if err != nil {
			t.Fatalf("%q re-encodes to %q, which does not decode: %v", body, enc, err)
		}
		if !sameJSON(req.Args, again.Args) {
			t.Fatalf("%q: args %s re-encode as %s", body, req.Args, again.Args)
		}
		// Only calls carry _reply_q and _timeout, and requests this package
		// sends never ask for a call monitor.
		want, got := *req, *again
		want.Args, want.Monitor, got.Args = nil, 0, nil
		if want.MsgID == "" {
			want.ReplyQ = ""
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%q: request\n%+v %+v\nre-encodes as\n%+v %+v", body, want, want.Context, got, got.Context)
		}
	})
}

func FuzzDecodeReply(f *testing.F) {
	f.Add([]byte(`{"oslo.version": "2.0", "oslo.message": "{\"result\": null, \"failure\": null, \"ending\": false, \"_msg_id\": \"m\", \"_unique_id\": \"u\"}"}`))
	f.Add([]byte(`{"oslo.version": "2.0", "oslo.message": "{\"result\": {\"volume_backend_name\": \"thin\"}, \"failure\": null, \"ending\": true, \"_msg_id\": \"m\", \"_unique_id\": \"u\"}"}`))
	f.Add([]byte(`{"result": null, "failure": "{\"class\": \"VolumeNotFound\", \"module\": \"cinder.exception\", \"message\": \"Volume v1 could not be found.\", \"tb\": [], \"args\": [], \"kwargs\": {\"code\": 404}}", "ending": true, "_msg_id": "m"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rep, err := decodeReply(body)
		if err != nil {
			return
		}
		if rep.Failure != nil && rep.Failure.err() == nil {
			t.Fatalf("%q: failure %+v stands for no error", body, rep.Failure)
		}
		enc, err := encodeReply(rep)
		if err != nil {
			t.Fatalf("%q decodes to %+v, which does not encode: %v", body, rep, err)
		}
		again, err := decodeReply(enc)
		if err != nil {
			t.Fatalf("%q re-encodes to %q, which does not decode: %v", body, enc, err)
		}
		if !sameJSON(rep.Result, again.Result) {
			t.Fatalf("%q: result %s re-encodes as %s", body, rep.Result, again.Result)
		}
		want, got := *rep, *again
		want.Result, got.Result = nil, nil
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%q: reply\n%+v %+v\nre-encodes as\n%+v %+v", body, want, want.Failure, got, got.Failure)
		}
	})
}

// TestCallMonitorTooLong is the call-monitor-huge seed of FuzzDecodeRequest
// end to end: a _timeout too long for a time.Duration used to make the
// heartbeat ticker panic, killing the server; the call is now answered.
func TestCallMonitorTooLong(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		e.serve(t, "h1", Endpoint{Methods: map[string]Handler{"ping": func(context.Context, json.RawMessage) (any, error) {
			time.Sleep(100 * time.Millisecond) // the heartbeats would have started
			return "pong", nil
		}}})
		replyQ, err := e.tr.replyQueue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		w, done := e.tr.wait("m-1")
		defer done()
		body, _ := json.Marshal(map[string]any{"method": "ping", "args": map[string]any{}, "_msg_id": "m-1", "_reply_q": replyQ, "_timeout": 1e10})
		rawPublish(t, e, e.topic+".h1", contentType, body)
		select {
		case r := <-w.replies:
			if !r.Ending || string(r.Result) != `"pong"` || r.Failure != nil {
				t.Fatalf("reply %+v, want the result pong", r)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no reply to a call with _timeout 1e10")
		}
	})
}
