package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/internal/testenv"
	amqp "github.com/rabbitmq/amqp091-go"
)

// env is one transport under test with names of its own, so tests share
// neither exchanges nor queues with each other or with running services.
type env struct {
	url      string
	tr       *Transport
	exchange string
	topic    string
}

// eachTransport runs body against fake:// and against RabbitMQ.
func eachTransport(t *testing.T, body func(t *testing.T, e *env)) {
	for _, tc := range []struct {
		name string
		url  func(testing.TB) string
	}{
		{"fake", func(testing.TB) string { return "fake://" }},
		{"rabbit", testenv.RabbitURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body(t, newEnv(t, tc.url(t)))
		})
	}
}

// newEnv dials url with a unique control exchange and topic.
func newEnv(t *testing.T, url string) *env {
	t.Helper()
	id := newID()[:10]
	e := &env{url: url, exchange: "rpctest-" + id, topic: "rpctest-" + id}
	if strings.HasPrefix(url, "rabbit://") {
		t.Cleanup(func() { // after the transports close; unbinds whatever is left
			if err := rabbitChannel(t, url).ExchangeDelete(e.exchange, false, false); err != nil {
				t.Logf("delete exchange %s: %v", e.exchange, err)
			}
		})
	}
	e.tr = e.dial(t)
	return e
}

// rabbitChannel opens a channel on a connection of its own to url, closed
// when the test ends.
func rabbitChannel(t *testing.T, url string) *amqp.Channel {
	t.Helper()
	nodes, err := parseRabbitURL(url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := amqp.DialConfig(nodes[0].addr, nodes[0].config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
			t.Error(err)
		}
	})
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// dial opens another transport on e's broker and exchange.
func (e *env) dial(t *testing.T) *Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := Dial(ctx, e.url, Options{ControlExchange: e.exchange, ResponseTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("close transport: %v", err)
		}
	})
	return tr
}

// serve starts a server of e's topic on host with the endpoints; its topic
// queues (which oslo keeps) are deleted when the test ends.
func (e *env) serve(t *testing.T, host string, endpoints ...Endpoint) *Server {
	t.Helper()
	s := NewServer(e.tr, []Target{{Topic: e.topic, Server: host}}, endpoints...)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		e.deleteQueues(t, e.topic, e.topic+"."+host)
	})
	return s
}

// deleteQueues deletes queues on e's broker, even after e.tr is closed.
func (e *env) deleteQueues(t *testing.T, names ...string) {
	t.Helper()
	if !strings.HasPrefix(e.url, "rabbit://") {
		f := dialFake(e.url)
		defer func() { _ = f.close() }() // a fake's close never fails
		for _, q := range names {
			_ = f.deleteQueue(context.Background(), q)
		}
		return
	}
	ch := rabbitChannel(t, e.url)
	for _, q := range names {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Errorf("delete queue %s: %v", q, err)
		}
	}
}

// volumeEndpoint serves a few methods at version 3.20, as cinder-volume.
func volumeEndpoint() Endpoint {
	return Endpoint{Version: "3.20", Methods: map[string]Handler{
		"get_capabilities": func(ctx context.Context, args json.RawMessage) (any, error) {
			var a struct {
				Discover bool `json:"discover"`
			}
			if err := json.Unmarshal(args, &a); err != nil {
				return nil, cinder.InvalidInput("%v", err)
			}
			rc := cinder.FromContext(ctx)
			return map[string]any{"volume_backend_name": "thin", "discover": a.Discover,
				"ctxt_user": rc.UserID, "ctxt_project": rc.ProjectID, "ctxt_roles": rc.Roles, "ctxt_admin": rc.IsAdmin}, nil
		},
		"delete_volume": func(ctx context.Context, args json.RawMessage) (any, error) {
			var a struct {
				VolumeID string `json:"volume_id"`
			}
			_ = json.Unmarshal(args, &a)
			return nil, cinder.VolumeNotFound(a.VolumeID)
		},
		"crash": func(context.Context, json.RawMessage) (any, error) { return nil, errors.New("disk on fire") },
	}}
}

func userContext() context.Context {
	return cinder.WithRequestContext(context.Background(), &cinder.RequestContext{
		UserID: "u1", ProjectID: "p1", Roles: []string{"member", "reader"}, RequestID: cinder.NewRequestID(), ReadDeleted: "no"})
}

func TestCall(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		e.serve(t, "hostA@thin", volumeEndpoint())
		want := map[string]any{"volume_backend_name": "thin", "discover": true, "ctxt_user": "u1", "ctxt_project": "p1",
			"ctxt_roles": []any{"member", "reader"}, "ctxt_admin": false}
		for _, server := range []string{"hostA@thin", ""} {
			c := NewClient(e.tr, Target{Topic: e.topic, Server: server, Version: "3.0"}, 0)
			var got map[string]any
			if err := c.Call(userContext(), "get_capabilities", map[string]bool{"discover": true}, &got); err != nil {
				t.Fatalf("call via server %q: %v", server, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("call via server %q = %v, want %v", server, got, want)
			}
		}
		// A transport of its own, as another service process would have.
		c := NewClient(e.dial(t), Target{Topic: e.topic, Server: "hostA@thin", Version: "3.0"}, 0)
		var got map[string]any
		if err := c.Call(context.Background(), "get_capabilities", nil, &got); err != nil {
			t.Fatal(err)
		}
		if got["ctxt_admin"] != true || got["discover"] != false {
			t.Errorf("call without request context = %v, want the admin context and discover false", got)
		}
	})
}

func TestCast(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		got := make(chan string, 1)
		e.serve(t, "h1", Endpoint{Methods: map[string]Handler{"notify": func(ctx context.Context, args json.RawMessage) (any, error) {
			got <- cinder.FromContext(ctx).UserID + " " + string(args)
			return nil, errors.New("a cast's failure goes nowhere")
		}}})
		c := NewClient(e.tr, Target{Topic: e.topic, Server: "h1"}, 0)
		if err := c.Cast(userContext(), "notify", map[string]int{"n": 1}); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-got:
			if s != `u1 {"n":1}` {
				t.Errorf("handler got %q", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("cast not delivered")
		}
	})
}

// A cast sent before any server has bound its queue (as right after a broker
// restart) waits for the queue instead of being dropped; one that no queue
// ever takes is an error, not a silent loss.
func TestCastWaitsForAQueue(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		got := make(chan struct{}, 1)
		go func() {
			time.Sleep(500 * time.Millisecond)
			e.serve(t, "late", Endpoint{Methods: map[string]Handler{"notify": func(context.Context, json.RawMessage) (any, error) {
				got <- struct{}{}
				return nil, nil
			}}})
		}()
		c := NewClient(e.tr, Target{Topic: e.topic, Server: "late"}, 0)
		if err := c.Cast(context.Background(), "notify", nil); err != nil {
			t.Fatalf("cast before the server bound its queue: %v", err)
		}
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("cast sent before the queue existed was lost")
		}

		nobody := NewClient(e.tr, Target{Topic: e.topic, Server: "nobody"}, 0)
		err := nobody.Cast(context.Background(), "notify", nil)
		if !errors.Is(err, errUnroutable) {
			t.Fatalf("cast to a topic no queue takes: %v, want errUnroutable", err)
		}
	})
}

func TestFanout(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		var mu sync.Mutex
		hosts := map[string]int{}
		var wg sync.WaitGroup
		wg.Add(2)
		for _, h := range []string{"h1", "h2"} {
			e.serve(t, h, Endpoint{Methods: map[string]Handler{"update_service_capabilities": func(context.Context, json.RawMessage) (any, error) {
				mu.Lock()
				hosts[h]++
				mu.Unlock()
				wg.Done()
				return nil, nil
			}}})
		}
		c := NewClient(e.tr, Target{Topic: e.topic, Fanout: true}, 0)
		if err := c.Cast(context.Background(), "update_service_capabilities", nil); err != nil {
			t.Fatal(err)
		}
		waitGroup(t, &wg, 5*time.Second)
		mu.Lock()
		defer mu.Unlock()
		if hosts["h1"] != 1 || hosts["h2"] != 1 {
			t.Errorf("fanout deliveries = %v, want one per server", hosts)
		}
		if err := c.Call(context.Background(), "update_service_capabilities", nil, nil); err == nil {
			t.Error("a fanout call succeeded, want an error")
		}
	})
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatal("timed out waiting for handlers")
	}
}

func TestRemoteErrors(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		e.serve(t, "h1", volumeEndpoint())
		c := NewClient(e.tr, Target{Topic: e.topic, Server: "h1", Version: "3.0"}, 0)
		ctx := context.Background()

		err := c.Call(ctx, "delete_volume", map[string]string{"volume_id": "v9"}, nil)
		var ce *cinder.Error
		if !errors.As(err, &ce) || *ce != (cinder.Error{Class: "VolumeNotFound", Code: 404, Message: "Volume v9 could not be found."}) {
			t.Errorf("cinder exception came back as %#v", err)
		}

		checkRemote := func(err error, module, class, message string) {
			t.Helper()
			var re *RemoteError
			if !errors.As(err, &re) || re.Module != module || re.Class != class || re.Message != message {
				t.Errorf("error = %#v, want RemoteError %s.%s %q", err, module, class, message)
			}
		}
		checkRemote(c.Call(ctx, "crash", nil, nil), "builtins", "Exception", "disk on fire")
		checkRemote(c.Call(ctx, "no_such", nil, nil), "oslo_messaging.rpc.dispatcher", "NoSuchMethod",
			"Endpoint does not support RPC method no_such")
		checkRemote(c.Prepare("", "", "3.21", 0).Call(ctx, "get_capabilities", nil, nil), "oslo_messaging.rpc.dispatcher", "UnsupportedVersion",
			"Endpoint does not support RPC version 3.21. Attempted method: get_capabilities")
		checkRemote(c.Prepare("", "", "4.0", 0).Call(ctx, "get_capabilities", nil, nil), "oslo_messaging.rpc.dispatcher", "UnsupportedVersion",
			"Endpoint does not support RPC version 4.0. Attempted method: get_capabilities")

		if err := c.Call(ctx, "get_capabilities", []int{1}, nil); err == nil || !strings.Contains(err.Error(), "JSON object") {
			t.Errorf("call with array args: %v, want an args error", err)
		}
		var wrong []string
		if err := c.Call(ctx, "get_capabilities", nil, &wrong); err == nil || !strings.Contains(err.Error(), "decode reply") {
			t.Errorf("decode into a mismatched reply: %v, want a decode error", err)
		}
	})
}

func TestTimeout(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		release := make(chan struct{})
		defer close(release)
		e.serve(t, "h1", Endpoint{Methods: map[string]Handler{"slow": func(context.Context, json.RawMessage) (any, error) {
			<-release
			return "late", nil
		}}})
		check := func(err error, want time.Duration, elapsed time.Duration) {
			t.Helper()
			var te *TimeoutError
			if !errors.As(err, &te) || te.Method != "slow" || !strings.Contains(te.Target, e.topic) {
				t.Fatalf("error = %#v, want a TimeoutError naming slow and %s", err, e.topic)
			}
			if te.Timeout > want || elapsed > want+2*time.Second {
				t.Errorf("timed out after %v (reported %v), want about %v", elapsed, te.Timeout, want)
			}
		}
		c := NewClient(e.tr, Target{Topic: e.topic, Server: "h1"}, 300*time.Millisecond)
		start := time.Now()
		check(c.Call(context.Background(), "slow", nil, nil), 300*time.Millisecond, time.Since(start))

		// The context's deadline wins over a longer client timeout.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start = time.Now()
		check(c.Prepare("", "", "", time.Minute).Call(ctx, "slow", nil, nil), 200*time.Millisecond, time.Since(start))

		// Nobody listens on this server's queue at all.
		start = time.Now()
		err := NewClient(e.tr, Target{Topic: e.topic, Server: "nobody"}, 300*time.Millisecond).Call(context.Background(), "slow", nil, nil)
		check(err, 300*time.Millisecond, time.Since(start))
	})
}

func TestHandlersRunConcurrently(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		release := make(chan struct{})
		e.serve(t, "h1", Endpoint{Methods: map[string]Handler{
			"slow": func(context.Context, json.RawMessage) (any, error) { <-release; return "slow", nil },
			"fast": func(context.Context, json.RawMessage) (any, error) { return "fast", nil },
		}})
		c := NewClient(e.tr, Target{Topic: e.topic, Server: "h1"}, 0)
		slow := make(chan error, 1)
		go func() {
			var r string
			err := c.Call(context.Background(), "slow", nil, &r)
			if err == nil && r != "slow" {
				err = fmt.Errorf("slow returned %q", r)
			}
			slow <- err
		}()
		var r string
		if err := c.Call(context.Background(), "fast", nil, &r); err != nil || r != "fast" {
			t.Fatalf("fast call behind a slow one = %q, %v", r, err)
		}
		close(release)
		if err := <-slow; err != nil {
			t.Fatal(err)
		}
	})
}

func TestStopWaitsForHandlers(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		started, finished := make(chan struct{}), atomic.Bool{}
		s := e.serve(t, "h1", Endpoint{Methods: map[string]Handler{"work": func(context.Context, json.RawMessage) (any, error) {
			close(started)
			time.Sleep(300 * time.Millisecond)
			finished.Store(true)
			return nil, nil
		}}})
		c := NewClient(e.tr, Target{Topic: e.topic, Server: "h1"}, 0)
		if err := c.Cast(context.Background(), "work", nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("handler did not start")
		}
		s.Stop()
		if !finished.Load() {
			t.Error("Stop returned before the handler in flight finished")
		}
		// Stopped: nothing consumes the server's queue any more.
		err := c.Prepare("", "", "", 300*time.Millisecond).Call(context.Background(), "work", nil, nil)
		var te *TimeoutError
		if !errors.As(err, &te) {
			t.Errorf("call to a stopped server = %v, want a timeout", err)
		}
	})
}

// rawPublish puts body straight onto queue with the given content type.
func rawPublish(t *testing.T, e *env, queue, ctype string, body []byte) {
	t.Helper()
	msg := publishing(body, 0)
	msg.ContentType = ctype
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.tr.b.publish(ctx, exchange{}, queue, true, msg); err != nil {
		t.Fatalf("publish raw message to %s: %v", queue, err)
	}
}

func TestMalformedMessageRejected(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		var calls atomic.Int32
		s := e.serve(t, "h1", Endpoint{Methods: map[string]Handler{"ping": func(context.Context, json.RawMessage) (any, error) {
			calls.Add(1)
			return "pong", nil
		}}})
		queue := e.topic + ".h1"
		good, err := encodeRequest(&request{Method: "ping", Args: json.RawMessage(`{}`), UniqueID: newID()})
		if err != nil {
			t.Fatal(err)
		}
		rawPublish(t, e, queue, contentType, []byte("not json at all"))
		rawPublish(t, e, queue, contentType, []byte(`{"oslo.version": "2.0", "oslo.message": "{broken"}`))
		rawPublish(t, e, queue, contentType, []byte(`{"args": {}}`))
		rawPublish(t, e, queue, "", good) // kombu drops a message without content type
		var r string
		c := NewClient(e.tr, Target{Topic: e.topic, Server: "h1"}, 0)
		if err := c.Call(context.Background(), "ping", nil, &r); err != nil || r != "pong" {
			t.Fatalf("call after malformed messages = %q, %v", r, err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("handler ran %d times, want once (only for the good call)", n)
		}
		// Rejected without requeue: once the server stops, nothing is left.
		if strings.HasPrefix(e.url, "rabbit://") {
			s.Stop()
			q, err := rabbitChannel(t, e.url).QueueDeclarePassive(queue, false, false, false, false, nil)
			if err != nil || q.Messages != 0 {
				t.Errorf("queue %s after stop: %d messages, %v; want 0", queue, q.Messages, err)
			}
		}
	})
}

func TestDuplicateIgnored(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		got := make(chan string, 4)
		e.serve(t, "h1", Endpoint{Methods: map[string]Handler{"note": func(_ context.Context, args json.RawMessage) (any, error) {
			got <- string(args)
			return nil, nil
		}}})
		dup, _ := encodeRequest(&request{Method: "note", Args: json.RawMessage(`{"n":1}`), UniqueID: "same-id"})
		other, _ := encodeRequest(&request{Method: "note", Args: json.RawMessage(`{"n":2}`), UniqueID: "other-id"})
		for _, b := range [][]byte{dup, dup, other} {
			rawPublish(t, e, e.topic+".h1", contentType, b)
		}
		seen := map[string]int{}
		for range 2 {
			select {
			case s := <-got:
				seen[s]++
			case <-time.After(5 * time.Second):
				t.Fatalf("only got %v", seen)
			}
		}
		select {
		case s := <-got:
			seen[s]++
		case <-time.After(300 * time.Millisecond):
		}
		if seen[`{"n":1}`] != 1 || seen[`{"n":2}`] != 1 {
			t.Errorf("deliveries = %v, want the duplicate handled once", seen)
		}
	})
}

// spy binds a queue of its own to ex with key and returns what arrives.
func spy(t *testing.T, e *env, ex exchange, key string) <-chan amqp.Delivery {
	t.Helper()
	got := make(chan amqp.Delivery, 8)
	name := "rpctest-spy-" + newID()
	stop, err := e.tr.b.consume(context.Background(), queue{Name: name, Bind: ex, Key: key}, func(d amqp.Delivery) {
		_ = d.Ack(false)
		got <- d
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		_ = e.tr.b.deleteQueue(context.Background(), name)
	})
	return got
}

func TestWireFormat(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		e.serve(t, "hostA@thin", volumeEndpoint())
		requests := spy(t, e, exchange{Name: e.exchange, Kind: "topic"}, e.topic+".hostA@thin")
		c := NewClient(e.tr, Target{Topic: e.topic, Server: "hostA@thin", Version: "3.0"}, 10*time.Second)
		if err := c.Call(userContext(), "get_capabilities", map[string]bool{"discover": false}, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Cast(userContext(), "get_capabilities", nil); err != nil {
			t.Fatal(err)
		}
		for i, kind := range []string{"call", "cast"} {
			var d amqp.Delivery
			select {
			case d = <-requests:
			case <-time.After(5 * time.Second):
				t.Fatalf("no %s seen on the exchange", kind)
			}
			wantExp := map[string]string{"call": "10000", "cast": ""}[kind]
			if d.ContentType != "application/json" || d.ContentEncoding != "utf-8" || d.DeliveryMode != 2 || d.Priority != 0 ||
				d.Expiration != wantExp || d.ReplyTo != "" || d.CorrelationId != "" || d.MessageId != "" || len(d.Headers) != 0 {
				t.Errorf("%s properties: type %q encoding %q mode %d priority %d expiration %q reply_to %q headers %v",
					kind, d.ContentType, d.ContentEncoding, d.DeliveryMode, d.Priority, d.Expiration, d.ReplyTo, d.Headers)
			}
			m := inner(t, d.Body)
			if m["method"] != "get_capabilities" || m["version"] != "3.0" || m["_context_user_id"] != "u1" || len(m["_unique_id"].(string)) != 32 {
				t.Errorf("%s message %v", kind, m)
			}
			_, hasMsgID := m["_msg_id"]
			timeout, hasTimeout := m["_timeout"]
			if hasMsgID != (i == 0) || hasTimeout != (i == 0) || timeout != nil || (i == 0 && !strings.HasPrefix(m["_reply_q"].(string), "reply_")) {
				t.Errorf("%s message call fields: %v", kind, m)
			}
		}
	})
}

// TestCallMonitorHeartbeat sends a request with _timeout 2, as a Python client
// with call_monitor_timeout does, and expects ending-false replies while the
// handler runs, then the result.
func TestCallMonitorHeartbeat(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		e.serve(t, "h1", Endpoint{Methods: map[string]Handler{"slow": func(context.Context, json.RawMessage) (any, error) {
			time.Sleep(1300 * time.Millisecond)
			return "done", nil
		}}})
		replyQ, err := e.tr.replyQueue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		w, done := e.tr.wait("m-1")
		defer done()
		body, _ := json.Marshal(map[string]any{"method": "slow", "args": map[string]any{}, "_msg_id": "m-1", "_reply_q": replyQ, "_timeout": 2})
		rawPublish(t, e, e.topic+".h1", contentType, body)
		var got []string
		for {
			select {
			case r := <-w.replies:
				got = append(got, fmt.Sprintf("%t:%s", r.Ending, r.Result))
				if !r.Ending {
					continue
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("replies so far: %v", got)
			}
			break
		}
		if want := []string{"false:", `true:"done"`}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("replies = %v, want %v", got, want)
		}
	})
}

func TestDialErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, url := range []string{"amqp://localhost/", "rabbit://guest:secret@/", "rabbit://guest:secret@127.0.0.1:1/"} {
		_, err := Dial(ctx, url, Options{})
		if err == nil {
			t.Errorf("Dial(%q) succeeded", url)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("Dial(%q) error shows the password: %v", url, err)
		}
	}
}

func TestParseRabbitURL(t *testing.T) {
	nodes, err := parseRabbitURL("rabbit://u%40x:p%2Fw@h1:5673,h2/my%2Fvhost?ssl=0")
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].addr != "amqp://h1:5673/" || nodes[1].addr != "amqp://h2:5672/" {
		t.Fatalf("nodes = %+v", nodes)
	}
	for _, n := range nodes {
		auth := n.config.SASL[0].(*amqp.PlainAuth)
		if auth.Username != "u@x" || auth.Password != "p/w" || n.config.Vhost != "my/vhost" {
			t.Errorf("node %s: user %q password %q vhost %q", n.addr, auth.Username, auth.Password, n.config.Vhost)
		}
	}
	for url, vhost := range map[string]string{"rabbit://guest:guest@localhost:5672/": "/", "rabbit://guest:guest@localhost": "/", "rabbit://a:b@h/nova": "nova"} {
		nodes, err := parseRabbitURL(url)
		if err != nil || nodes[0].config.Vhost != vhost {
			t.Errorf("parseRabbitURL(%q) vhost = %+v, %v; want %q", url, nodes, err, vhost)
		}
	}
}

func TestTransportClose(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		e.serve(t, "h1", volumeEndpoint())
		c := NewClient(e.tr, Target{Topic: e.topic, Server: "h1"}, 0)
		if err := e.tr.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Call(context.Background(), "get_capabilities", nil, nil); !errors.Is(err, ErrClosed) {
			t.Errorf("call on a closed transport = %v, want ErrClosed", err)
		}
		if err := NewServer(e.tr, []Target{{Topic: e.topic, Server: "h2"}}).Start(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("start on a closed transport = %v, want ErrClosed", err)
		}
	})
}

// TestRedeclareMismatch redeclares the control exchange and a topic queue
// with other properties, which RabbitMQ refuses (406), and expects the
// transport to carry on after it.
func TestRedeclareMismatch(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		e.serve(t, "h1", volumeEndpoint())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		check := func(what string, err error) {
			t.Helper()
			var ae *amqp.Error
			if !errors.As(err, &ae) || ae.Code != amqp.PreconditionFailed {
				t.Fatalf("%s = %v, want 406 PRECONDITION_FAILED", what, err)
			}
		}
		check("redeclare the exchange with auto_delete", e.tr.b.publish(ctx,
			exchange{Name: e.exchange, Kind: "topic", AutoDelete: true}, e.topic, false, publishing([]byte("{}"), 0)))
		_, err := e.tr.b.consume(ctx, queue{Name: e.topic, Args: transientArgs}, func(amqp.Delivery) {})
		check("redeclare the topic queue with x-expires", err)
		if err := NewClient(e.tr, Target{Topic: e.topic, Server: "h1", Version: "3.0"}, 0).Call(ctx, "get_capabilities", nil, nil); err != nil {
			t.Errorf("call after the refusals: %v", err)
		}
	})
}
