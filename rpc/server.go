package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cinder-go/cinder"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Limits of a server, as oslo's defaults.
const (
	maxHandlers      = 64               // executor_thread_pool_size
	replyRetryWindow = 60 * time.Second // kombu_missing_consumer_retry_timeout
	replyRetryEvery  = 250 * time.Millisecond
	dedupSize        = 16 // _MsgIdCache.DUP_MSG_CHECK_SIZE
)

// Server consumes the queues of its targets and dispatches to endpoints, as
// oslo_messaging's RPC server: for each target the <topic> and
// <topic>.<server> queues plus a <topic>_fanout queue.
type Server struct {
	t         *Transport
	targets   []Target
	endpoints []Endpoint

	mu       sync.Mutex
	started  bool
	stopped  bool
	stops    []func()
	fanouts  []string      // fanout queues, deleted on Stop
	stopping chan struct{} // closed by Stop

	handlers sync.WaitGroup
	slots    chan struct{} // bounds concurrent handlers
	seen     idCache
}

// NewServer returns a server for targets dispatching to endpoints.
func NewServer(t *Transport, targets []Target, endpoints ...Endpoint) *Server {
	return &Server{t: t, targets: targets, endpoints: endpoints,
		stopping: make(chan struct{}), slots: make(chan struct{}, maxHandlers)}
}

// Start declares the queues and begins consuming.
func (s *Server) Start(ctx context.Context) error {
	var queues []queue
	for _, tg := range s.targets {
		if tg.Topic == "" || tg.Server == "" {
			return fmt.Errorf("start RPC server: target %s must have a topic and a server", tg)
		}
		ex := s.t.exchange(tg)
		server := tg.Topic + "." + tg.Server
		queues = append(queues,
			queue{Name: tg.Topic, Bind: ex, Key: tg.Topic},
			queue{Name: server, Bind: ex, Key: server},
			queue{Name: tg.Topic + "_fanout_" + newID(), Args: transientArgs, Bind: fanoutExchange(tg.Topic), Key: tg.Topic})
	}
	if len(queues) == 0 {
		return errors.New("start RPC server: no targets")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("start RPC server: already started")
	}
	s.t.mu.Lock()
	closed := s.t.closed
	if !closed {
		s.t.servers[s] = struct{}{}
	}
	s.t.mu.Unlock()
	if closed {
		return fmt.Errorf("start RPC server: %w", ErrClosed)
	}
	s.started = true
	for _, q := range queues {
		stop, err := s.t.b.consume(ctx, q, s.receive)
		if err != nil {
			s.stopped = true
			s.shutdown()
			return fmt.Errorf("start RPC server: %w", err)
		}
		s.stops = append(s.stops, stop)
		if q.Bind.Kind == "fanout" {
			s.fanouts = append(s.fanouts, q.Name)
		}
	}
	return nil
}

// Stop stops consuming and waits for handlers in flight.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started && !s.stopped {
		s.shutdown()
	}
	s.stopped = true
}

// shutdown stops the consumers, waits for the handlers, deletes the fanout
// queues and leaves the transport. s.mu is held.
func (s *Server) shutdown() {
	close(s.stopping)
	for _, stop := range s.stops {
		stop()
	}
	s.handlers.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, q := range s.fanouts {
		if err := s.t.b.deleteQueue(ctx, q); err != nil {
			slog.Warn("rpc: delete fanout queue", "queue", q, "err", err)
		}
	}
	s.t.mu.Lock()
	delete(s.t.servers, s)
	s.t.mu.Unlock()
}

// receive acks a request before dispatching it, as oslo (at most once), and
// runs its handler in a goroutine; a malformed message is rejected.
func (s *Server) receive(d amqp.Delivery) {
	req, err := decodeDelivery(d, decodeRequest)
	if err != nil {
		slog.Error("rpc: rejecting malformed message", "exchange", d.Exchange, "routing_key", d.RoutingKey, "err", err)
		_ = d.Reject(false)
		return
	}
	if err := d.Ack(false); err != nil {
		slog.Warn("rpc: ack failed, dropping message", "method", req.Method, "err", err)
		return
	}
	if s.seen.repeated(req.UniqueID) {
		slog.Warn("rpc: ignoring duplicate message", "unique_id", req.UniqueID, "method", req.Method)
		return
	}
	s.slots <- struct{}{}
	s.handlers.Add(1)
	go func() {
		defer func() { <-s.slots; s.handlers.Done() }()
		s.handle(req)
	}()
}

// handle dispatches req and replies to a call, with heartbeats while the
// handler runs if the caller asked for a call monitor.
func (s *Server) handle(req *request) {
	ctx := cinder.WithRequestContext(context.Background(), req.Context)
	if every := req.heartbeatInterval(); every > 0 {
		done := make(chan struct{})
		defer close(done)
		go s.heartbeat(req, every, done)
	}
	result, err := s.invoke(ctx, req)
	if req.MsgID == "" {
		if err != nil {
			slog.Error("rpc: cast failed", "method", req.Method, "err", err)
		}
		return
	}
	rep := &reply{Ending: true, MsgID: req.MsgID, UniqueID: newID()}
	if err == nil {
		rep.Result, err = json.Marshal(result)
		if err != nil {
			err = fmt.Errorf("encode result of %s: %w", req.Method, err)
		}
	}
	if err != nil {
		rep.Result, rep.Failure = nil, failureOf(err)
	}
	s.reply(req, rep)
}

// invoke runs the handler of req; a panic becomes an error.
func (s *Server) invoke(ctx context.Context, req *request) (result any, err error) {
	h, err := dispatch(s.endpoints, req)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			slog.Error("rpc: handler panicked", "method", req.Method, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("%s panicked: %v", req.Method, p)
		}
	}()
	return h(ctx, req.Args)
}

// maxMonitor is the longest call-monitor timeout, in seconds, that a
// time.Duration holds; a longer one never expires and needs no heartbeats.
const maxMonitor = math.MaxInt64 / float64(time.Second)

// heartbeatInterval is how often a call is heartbeated while its handler
// runs: half its call-monitor timeout, if that is at least 2 s; 0 for none.
func (r *request) heartbeatInterval() time.Duration {
	if r.MsgID == "" || r.Monitor < 2 || r.Monitor > maxMonitor {
		return 0
	}
	return time.Duration(r.Monitor * float64(time.Second) / 2)
}

// heartbeat sends oslo's call-monitor replies (ending false) every interval until done.
func (s *Server) heartbeat(req *request, interval time.Duration, done <-chan struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s.reply(req, &reply{MsgID: req.MsgID, UniqueID: newID()})
		case <-done:
			return
		}
	}
}

// reply sends rep to the caller's reply queue, mandatory; while no queue
// takes it, it retries for up to a minute, as oslo, unless the server stops.
func (s *Server) reply(req *request, rep *reply) {
	body, err := encodeReply(rep)
	if err != nil {
		slog.Error("rpc: encode reply", "method", req.Method, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), replyRetryWindow)
	defer cancel()
	for {
		err := s.t.b.publish(ctx, exchange{}, req.ReplyQ, true, publishing(body, 0))
		if err == nil {
			return
		}
		if !errors.Is(err, errUnroutable) {
			slog.Error("rpc: send reply", "method", req.Method, "reply_q", req.ReplyQ, "err", err)
			return
		}
		select {
		case <-time.After(replyRetryEvery):
		case <-ctx.Done():
			slog.Warn("rpc: reply queue gone, dropping reply", "method", req.Method, "reply_q", req.ReplyQ)
			return
		case <-s.stopping:
			slog.Warn("rpc: server stopping, dropping undeliverable reply", "method", req.Method, "reply_q", req.ReplyQ)
			return
		}
	}
}

// idCache remembers the last unique ids received, as oslo's _MsgIdCache.
type idCache struct {
	mu  sync.Mutex
	ids [dedupSize]string
	n   int
}

// repeated reports whether id was seen among the last ones, and records it.
func (c *idCache) repeated(id string) bool {
	if id == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, seen := range c.ids {
		if seen == id {
			return true
		}
	}
	c.ids[c.n%dedupSize] = id
	c.n++
	return false
}
