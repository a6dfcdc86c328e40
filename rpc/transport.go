package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// transientArgs give reply and fanout queues oslo's x-expires,
// rabbit_transient_queues_ttl (1800 s).
var transientArgs = amqp.Table{"x-expires": int32(1800000)}

// Transport carries serialized oslo messages to and from a broker. Dial
// returns one for rabbit://user:pass@host:port/vhost or fake://.
type Transport struct {
	b       broker
	control string
	timeout time.Duration
	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc

	mu        sync.Mutex
	closed    bool
	replyQ    string
	stopReply func()
	servers   map[*Server]struct{}

	wmu     sync.Mutex
	waiters map[string]*waiter // by _msg_id
}

// waiter is a call waiting for its replies.
type waiter struct {
	replies chan *reply
	done    chan struct{} // closed when the call returns
}

// Dial connects to transport_url. Over rabbit:// it reconnects by itself
// after a broker restart and re-declares every consumer's queues.
func Dial(ctx context.Context, url string, opts Options) (*Transport, error) {
	var b broker
	switch {
	case strings.HasPrefix(url, "fake://"):
		b = dialFake(url)
	case strings.HasPrefix(url, "rabbit://"):
		r, err := dialRabbit(ctx, url)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", redact(url), err)
		}
		b = r
	default:
		return nil, fmt.Errorf("dial %s: transport_url must start with rabbit:// or fake://", redact(url))
	}
	t := &Transport{b: b, control: opts.ControlExchange, timeout: opts.ResponseTimeout,
		servers: map[*Server]struct{}{}, waiters: map[string]*waiter{}}
	if t.control == "" {
		t.control = "openstack"
	}
	if t.timeout <= 0 {
		t.timeout = 60 * time.Second
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t, nil
}

// redact hides the passwords of a transport_url.
func redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	hosts, path, _ := strings.Cut(rest, "/")
	parts := strings.Split(hosts, ",")
	for i, h := range parts {
		if cred, host, ok := strings.Cut(h, "@"); ok {
			user, _, _ := strings.Cut(cred, ":")
			parts[i] = user + ":***@" + host
		}
	}
	return scheme + "://" + strings.Join(parts, ",") + "/" + path
}

// Close stops every server and client of the transport and closes the connection.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	servers := make([]*Server, 0, len(t.servers))
	for s := range t.servers {
		servers = append(servers, s)
	}
	stopReply := t.stopReply
	t.mu.Unlock()
	for _, s := range servers {
		s.Stop()
	}
	if stopReply != nil {
		stopReply()
	}
	t.cancel()
	return t.b.close()
}

// exchange returns the topic exchange of target.
func (t *Transport) exchange(target Target) exchange {
	name := target.Exchange
	if name == "" {
		name = t.control
	}
	return exchange{Name: name, Kind: "topic"}
}

// fanoutExchange returns the fanout exchange of topic.
func fanoutExchange(topic string) exchange {
	return exchange{Name: topic + "_fanout", Kind: "fanout", AutoDelete: true}
}

// replyQueue returns the transport's reply queue, declaring it and starting
// to consume it on first use.
func (t *Transport) replyQueue(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return "", ErrClosed
	}
	if t.replyQ != "" {
		return t.replyQ, nil
	}
	name := "reply_" + newID()
	stop, err := t.b.consume(ctx, queue{Name: name, Args: transientArgs}, t.receiveReply)
	if err != nil {
		return "", fmt.Errorf("declare reply queue %s: %w", name, err)
	}
	t.replyQ, t.stopReply = name, stop
	return name, nil
}

// receiveReply hands a reply to the call waiting for it.
func (t *Transport) receiveReply(d amqp.Delivery) {
	r, err := decodeDelivery(d, decodeReply)
	if err != nil {
		slog.Error("rpc: rejecting malformed reply", "queue", d.RoutingKey, "err", err)
		_ = d.Reject(false)
		return
	}
	_ = d.Ack(false)
	t.wmu.Lock()
	w := t.waiters[r.MsgID]
	t.wmu.Unlock()
	if w == nil {
		slog.Debug("rpc: no call waiting for reply", "msg_id", r.MsgID)
		return
	}
	select {
	case w.replies <- r:
	case <-w.done:
	}
}

// decodeDelivery checks the content type, as kombu does, and decodes the body.
func decodeDelivery[T any](d amqp.Delivery, decode func([]byte) (T, error)) (T, error) {
	if d.ContentType != contentType {
		var zero T
		return zero, fmt.Errorf("content type %q is not %s", d.ContentType, contentType)
	}
	return decode(d.Body)
}

// wait registers a call waiting for replies to msgID; call the returned
// function when done.
func (t *Transport) wait(msgID string) (*waiter, func()) {
	w := &waiter{replies: make(chan *reply, 4), done: make(chan struct{})}
	t.wmu.Lock()
	t.waiters[msgID] = w
	t.wmu.Unlock()
	return w, func() {
		t.wmu.Lock()
		delete(t.waiters, msgID)
		t.wmu.Unlock()
		close(w.done)
	}
}
