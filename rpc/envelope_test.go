package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cinder-go/cinder"
)

// inner unwraps an envelope as oslo's deserialize_msg, failing t if it is not one.
func inner(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	if env[versionKey] != "2.0" || len(env) != 2 {
		t.Fatalf("envelope = %v, want oslo.version 2.0 and oslo.message", env)
	}
	s, ok := env[messageKey].(string)
	if !ok {
		t.Fatalf("oslo.message is %T, want a JSON string", env[messageKey])
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("oslo.message is not a JSON object: %v", err)
	}
	return m
}

func TestEncodeRequest(t *testing.T) {
	rc := &cinder.RequestContext{UserID: "u1", ProjectID: "p1", IsAdmin: true, Roles: []string{"admin"}, RequestID: "req-1", ReadDeleted: "no", Timestamp: "2024-01-01T00:00:00.000000"}
	tests := []struct {
		name string
		req  request
		want map[string]any
	}{
		{"call", request{Method: "get_capabilities", Args: json.RawMessage(`{"discover":false}`), Version: "3.0", MsgID: "m1", ReplyQ: "reply_q1", UniqueID: "u1", Context: rc},
			map[string]any{"method": "get_capabilities", "args": map[string]any{"discover": false}, "version": "3.0",
				"_msg_id": "m1", "_reply_q": "reply_q1", "_timeout": nil, "_unique_id": "u1",
				"_context_user_id": "u1", "_context_project_id": "p1", "_context_is_admin": true, "_context_roles": []any{"admin"},
				"_context_request_id": "req-1", "_context_read_deleted": "no", "_context_timestamp": "2024-01-01T00:00:00.000000"}},
		{"cast without version or context", request{Method: "delete_volume", Args: json.RawMessage(`{}`), Namespace: "ns", UniqueID: "u2"},
			map[string]any{"method": "delete_volume", "args": map[string]any{}, "namespace": "ns", "_unique_id": "u2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := encodeRequest(&tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := inner(t, body); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("inner message\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestDecodeRequest(t *testing.T) {
	capture := `{"oslo.version": "2.0", "oslo.message": "{\"method\": \"get_capabilities\", \"args\": {\"discover\": false}, \"version\": \"3.0\", \"_msg_id\": \"14e4\", \"_reply_q\": \"reply_ae5f\", \"_timeout\": null, \"_unique_id\": \"d539\", \"_context_user_id\": \"u1\", \"_context_project_id\": \"p1\", \"_context_request_id\": \"req-test\", \"_context_roles\": [\"member\"], \"_context_is_admin\": false, \"_context_project_name\": \"demo\", \"_context_timestamp\": 5}"}`
	tests := []struct {
		name    string
		body    string
		want    *request
		wantErr string
	}{
		{"python capture", capture, &request{Method: "get_capabilities", Args: json.RawMessage(`{"discover": false}`), Version: "3.0",
			MsgID: "14e4", ReplyQ: "reply_ae5f", UniqueID: "d539",
			Context: &cinder.RequestContext{UserID: "u1", ProjectID: "p1", RequestID: "req-test", Roles: []string{"member"}}}, ""},
		{"1.0 format without envelope", `{"method": "ping", "args": {"a": 1}, "_timeout": 4}`,
			&request{Method: "ping", Args: json.RawMessage(`{"a": 1}`), Monitor: 4, Context: &cinder.RequestContext{}}, ""},
		{"no args", `{"method": "ping"}`, &request{Method: "ping", Args: json.RawMessage(`{}`), Context: &cinder.RequestContext{}}, ""},
		{"not JSON", `hello`, nil, "not a JSON object"},
		{"JSON array", `[1]`, nil, "not a JSON object"},
		{"null", `null`, nil, "null"},
		{"newer envelope", `{"oslo.version": "3.0", "oslo.message": "{}"}`, nil, "unsupported envelope version"},
		{"message not a string", `{"oslo.version": "2.0", "oslo.message": {}}`, nil, "oslo.message"},
		{"message not an object", `{"oslo.version": "2.0", "oslo.message": "[]"}`, nil, "not a JSON object"},
		{"no method", `{"args": {}}`, nil, "no method"},
		{"method not a string", `{"method": 3}`, nil, "field method"},
		{"args not an object", `{"method": "ping", "args": [1]}`, nil, "args"},
		{"call without reply queue", `{"method": "ping", "_msg_id": "m"}`, nil, "_reply_q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRequest([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("request\n got %+v %+v\nwant %+v %+v", got, got.Context, tt.want, tt.want.Context)
			}
		})
	}
}

func TestRequestRoundTrip(t *testing.T) {
	rc := cinder.AdminContext()
	rc.UserID, rc.GlobalRequestID, rc.AuthToken = "u", "req-g", "tok"
	in := &request{Method: "m", Args: json.RawMessage(`{"volume_id":"v"}`), Version: "3.1", MsgID: "id", ReplyQ: "reply_x", UniqueID: "uid", Context: rc}
	body, err := encodeRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip\n got %+v\nwant %+v", out, in)
	}
}

func TestEncodeArgs(t *testing.T) {
	type args struct {
		VolumeID string `json:"volume_id"`
	}
	tests := []struct {
		in      any
		want    string
		wantErr bool
	}{
		{nil, `{}`, false},
		{map[string]any{"a": 1}, `{"a":1}`, false},
		{args{"v"}, `{"volume_id":"v"}`, false},
		{(*args)(nil), `{}`, false},
		{[]int{1}, ``, true},
		{"x", ``, true},
		{make(chan int), ``, true},
	}
	for _, tt := range tests {
		got, err := encodeArgs(tt.in)
		if (err != nil) != tt.wantErr || string(got) != tt.want {
			t.Errorf("encodeArgs(%#v) = %s, %v; want %s, error %t", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestReplyEncoding(t *testing.T) {
	body, err := encodeReply(&reply{Result: json.RawMessage(`{"volume_backend_name":"thin"}`), Ending: true, MsgID: "m", UniqueID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"result": map[string]any{"volume_backend_name": "thin"}, "failure": nil, "ending": true, "_msg_id": "m", "_unique_id": "u"}
	if got := inner(t, body); !reflect.DeepEqual(got, want) {
		t.Errorf("reply\n got %v\nwant %v", got, want)
	}

	body, err = encodeReply(&reply{Failure: failureOf(cinder.VolumeNotFound("v1")), Ending: true, MsgID: "m", UniqueID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	m := inner(t, body)
	if m["result"] != nil {
		t.Errorf("result of a failure = %v, want null", m["result"])
	}
	var f map[string]any
	if err := json.Unmarshal([]byte(m["failure"].(string)), &f); err != nil {
		t.Fatalf("failure is not a JSON string of an object: %v", err)
	}
	wantF := map[string]any{"class": "VolumeNotFound", "module": "cinder.exception", "message": "Volume v1 could not be found.",
		"tb": []any{}, "args": []any{"Volume v1 could not be found."}, "kwargs": map[string]any{"code": 404.0}}
	if !reflect.DeepEqual(f, wantF) {
		t.Errorf("failure\n got %v\nwant %v", f, wantF)
	}

	r, err := decodeReply(body)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Ending || r.MsgID != "m" || r.Result != nil || r.Failure == nil || r.Failure.Class != "VolumeNotFound" {
		t.Errorf("decoded reply = %+v", r)
	}
}

func TestDecodeReply(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    *reply
		wantErr string
	}{
		{"heartbeat", `{"oslo.version": "2.0", "oslo.message": "{\"result\": null, \"failure\": null, \"ending\": false, \"_msg_id\": \"m\", \"_unique_id\": \"u\"}"}`,
			&reply{MsgID: "m", UniqueID: "u"}, ""},
		{"legacy result without ending", `{"result": 7, "_msg_id": "m"}`, &reply{Result: json.RawMessage(`7`), MsgID: "m"}, ""},
		{"python failure", `{"result": null, "failure": "{\"class\": \"ValueError\", \"module\": \"builtins\", \"message\": \"bad thing\", \"tb\": [\"Traceback\\n\"], \"args\": [\"bad thing\"], \"kwargs\": {}}", "ending": true, "_msg_id": "m"}`,
			&reply{Failure: &failure{Class: "ValueError", Module: "builtins", Message: "bad thing", Tb: []string{"Traceback\n"}, Args: []any{"bad thing"}, Kwargs: map[string]any{}}, Ending: true, MsgID: "m"}, ""},
		{"no msg_id", `{"result": 1, "ending": true}`, nil, "_msg_id"},
		{"failure not JSON", `{"failure": "oops", "_msg_id": "m"}`, nil, "failure"},
		{"ending not a bool", `{"ending": "yes", "_msg_id": "m"}`, nil, "ending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeReply([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("reply\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestFailure(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want failure
		back error // what a Go client rebuilds
	}{
		{"cinder error", fmt.Errorf("wrapped: %w", cinder.InvalidVolume("volume is busy")),
			failure{Class: "InvalidVolume", Module: "cinder.exception", Message: "Invalid volume: volume is busy", Tb: []string{},
				Args: []any{"Invalid volume: volume is busy"}, Kwargs: map[string]any{"code": 400}},
			&cinder.Error{Class: "InvalidVolume", Code: 400, Message: "Invalid volume: volume is busy"}},
		{"dispatcher error", &RemoteError{Class: "NoSuchMethod", Module: "oslo_messaging.rpc.dispatcher", Message: "Endpoint does not support RPC method x"},
			failure{Class: "NoSuchMethod", Module: "oslo_messaging.rpc.dispatcher", Message: "Endpoint does not support RPC method x", Tb: []string{},
				Args: []any{"Endpoint does not support RPC method x"}, Kwargs: map[string]any{}},
			&RemoteError{Class: "NoSuchMethod", Module: "oslo_messaging.rpc.dispatcher", Message: "Endpoint does not support RPC method x", Traceback: []string{}}},
		{"plain Go error", errors.New("disk full"),
			failure{Class: "Exception", Module: "builtins", Message: "disk full", Tb: []string{}, Args: []any{"disk full"}, Kwargs: map[string]any{}},
			&RemoteError{Class: "Exception", Module: "builtins", Message: "disk full", Traceback: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := failureOf(tt.err)
			if !reflect.DeepEqual(*f, tt.want) {
				t.Errorf("failureOf\n got %+v\nwant %+v", *f, tt.want)
			}
			// Through JSON, as it crosses the wire.
			b, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			var back failure
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if got := back.err(); !reflect.DeepEqual(got, tt.back) {
				t.Errorf("err()\n got %#v\nwant %#v", got, tt.back)
			}
		})
	}
	// A Python cinder exception without kwargs["code"] gets 500.
	f := failure{Class: "VolumeBackendAPIException", Module: "cinder.exception", Message: "m", Kwargs: map[string]any{"data": "x"}}
	if got := cinder.Code(f.err()); got != 500 {
		t.Errorf("code of a cinder failure without kwargs code = %d, want 500", got)
	}
}

func TestVersionCompatible(t *testing.T) {
	tests := []struct {
		served, requested string
		want              bool
	}{
		{"", "9.9", true},
		{"3.20", "3.0", true},
		{"3.20", "3.20", true},
		{"3.20", "3.21", false},
		{"3.20", "2.0", false},
		{"3.20", "4.0", false},
		{"3.20", "1.0", false},
		{"3.20.1", "3.20.1", true},
		{"3.20.1", "3.20.2", false},
		{"3.20", "3.20.1", false},
		{"3.20", "3.19.5", true},
		{"2.0", "2.0", true},
		{"3.20", "3", false},
		{"3.20", "three.0", false},
		{"3.20", "", false},
	}
	for _, tt := range tests {
		if got := versionCompatible(tt.served, tt.requested); got != tt.want {
			t.Errorf("versionCompatible(%q, %q) = %t, want %t", tt.served, tt.requested, got, tt.want)
		}
	}
}

func TestDispatch(t *testing.T) {
	h := func(name string) Handler {
		return func(context.Context, json.RawMessage) (any, error) { return name, nil }
	}
	endpoints := []Endpoint{
		{Version: "3.20", Methods: map[string]Handler{"create_volume": h("v3")}},
		{Version: "2.5", Methods: map[string]Handler{"create_volume": h("v2"), "old": h("old")}},
		{Namespace: "baseapi", Version: "1.1", Methods: map[string]Handler{"ping": h("ping")}},
	}
	tests := []struct {
		method, version, namespace string
		want                       string // handler name or failure class
		message                    string
	}{
		{"create_volume", "3.0", "", "v3", ""},
		{"create_volume", "2.1", "", "v2", ""},
		{"old", "2.0", "", "old", ""},
		{"old", "3.0", "", "NoSuchMethod", "Endpoint does not support RPC method old"},
		{"create_volume", "3.21", "", "UnsupportedVersion", "Endpoint does not support RPC version 3.21. Attempted method: create_volume"},
		{"create_volume", "", "", "UnsupportedVersion", "Endpoint does not support RPC version 1.0. Attempted method: create_volume"},
		{"ping", "1.0", "baseapi", "ping", ""},
		{"ping", "1.0", "", "UnsupportedVersion", "Endpoint does not support RPC version 1.0. Attempted method: ping"},
		{"create_volume", "1.0", "baseapi", "NoSuchMethod", "Endpoint does not support RPC method create_volume"},
	}
	for _, tt := range tests {
		hd, err := dispatch(endpoints, &request{Method: tt.method, Version: tt.version, Namespace: tt.namespace})
		var got, msg string
		if err != nil {
			var re *RemoteError
			if !errors.As(err, &re) || re.Module != "oslo_messaging.rpc.dispatcher" {
				t.Fatalf("dispatch error %#v is not a dispatcher RemoteError", err)
			}
			got, msg = re.Class, re.Message
		} else {
			r, _ := hd(context.Background(), nil)
			got = r.(string)
		}
		if got != tt.want || msg != tt.message {
			t.Errorf("dispatch(%s v%q ns%q) = %s %q, want %s %q", tt.method, tt.version, tt.namespace, got, msg, tt.want, tt.message)
		}
	}
}
