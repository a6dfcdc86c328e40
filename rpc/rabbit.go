package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// rabbit is a broker on RabbitMQ. One connection carries a confirm-mode
// publishing channel and a channel per consumed queue; a watcher replaces
// the connection when it is lost, and consumers then re-declare their queues.
type rabbit struct {
	nodes  []node
	ctx    context.Context // cancelled by close
	cancel context.CancelFunc

	mu   sync.Mutex
	cur  *link         // nil while reconnecting
	up   chan struct{} // closed when cur is set
	next int           // node to try first on reconnect

	pubLock  chan struct{} // held by one publish at a time, so a return is matched to its publish
	pub      *amqp.Channel
	returns  chan amqp.Return // basic.return of pub
	declared map[string]bool  // exchanges declared on pub
}

// node is one broker address of a transport_url.
type node struct {
	addr   string // amqp://host:port/
	config amqp.Config
}

// link is one connection and a channel closed when it is lost.
type link struct {
	conn *amqp.Connection
	lost chan struct{}
}

// parseRabbitURL parses rabbit://user:pass@host:port[,user:pass@host:port...]/vhost.
// A host without credentials takes the previous host's; the default port is 5672.
func parseRabbitURL(raw string) ([]node, error) {
	rest, ok := strings.CutPrefix(raw, "rabbit://")
	if !ok {
		return nil, errors.New("scheme must be rabbit:// or fake://")
	}
	rest, _, _ = strings.Cut(rest, "?") // [oslo_messaging_rabbit] overrides are not supported
	hosts, path, _ := strings.Cut(rest, "/")
	vhost, err := url.PathUnescape(path)
	if err != nil {
		return nil, fmt.Errorf("vhost: %w", err)
	}
	if vhost == "" {
		vhost = "/"
	}
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(fmt.Sprintf("%s:%d:%s", filepath.Base(os.Args[0]), os.Getpid(), newID()))
	var nodes []node
	user, pass := "guest", "guest"
	for _, h := range strings.Split(hosts, ",") {
		if cred, host, ok := strings.Cut(h, "@"); ok {
			u, p, _ := strings.Cut(cred, ":")
			if user, err = url.PathUnescape(u); err == nil {
				pass, err = url.PathUnescape(p)
			}
			if err != nil {
				return nil, fmt.Errorf("credentials: %w", err)
			}
			h = host
		}
		if h == "" {
			return nil, errors.New("empty host")
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), "5672")
		}
		nodes = append(nodes, node{addr: "amqp://" + h + "/", config: amqp.Config{
			SASL:       []amqp.Authentication{&amqp.PlainAuth{Username: user, Password: pass}},
			Vhost:      vhost,
			Heartbeat:  10 * time.Second,
			Properties: props,
		}})
	}
	return nodes, nil
}

// dialRabbit connects to one of the URL's nodes and starts the watcher.
func dialRabbit(ctx context.Context, raw string) (*rabbit, error) {
	nodes, err := parseRabbitURL(raw)
	if err != nil {
		return nil, err
	}
	r := &rabbit{nodes: nodes, up: make(chan struct{}), pubLock: make(chan struct{}, 1)}
	l, err := r.connect(ctx)
	if err != nil {
		return nil, err
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.setLink(l)
	go r.watch(l)
	return r, nil
}

// connect dials the nodes in turn, starting at r.next.
func (r *rabbit) connect(ctx context.Context) (*link, error) {
	var errs []error
	for i := range r.nodes {
		n := r.nodes[(r.next+i)%len(r.nodes)]
		d := net.Dialer{Timeout: 5 * time.Second}
		cfg := n.config
		cfg.Dial = func(network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				err = c.SetDeadline(time.Now().Add(10 * time.Second)) // amqp091 clears it after the handshake
			}
			return c, err
		}
		conn, err := amqp.DialConfig(n.addr, cfg)
		if err != nil {
			errs = append(errs, fmt.Errorf("connect to %s: %w", n.addr, err))
			continue
		}
		r.next = (r.next + i) % len(r.nodes)
		l := &link{conn: conn, lost: make(chan struct{})}
		closed := conn.NotifyClose(make(chan *amqp.Error, 1))
		go func() {
			if err := <-closed; err != nil {
				slog.Warn("rpc: connection to RabbitMQ lost", "addr", n.addr, "err", err)
			}
			close(l.lost)
		}()
		return l, nil
	}
	return nil, errors.Join(errs...)
}

// setLink makes l current, or marks the connection lost when l is nil. A
// link made while close ran is closed instead.
func (r *rabbit) setLink(l *link) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case l == nil:
		r.cur, r.up = nil, make(chan struct{})
	case r.ctx.Err() != nil:
		_ = l.conn.Close()
	default:
		r.cur = l
		close(r.up)
	}
}

// watch reconnects with backoff each time the connection is lost, until close.
func (r *rabbit) watch(l *link) {
	for {
		select {
		case <-l.lost:
		case <-r.ctx.Done():
			return
		}
		r.setLink(nil)
		for attempt := 0; ; attempt++ {
			var err error
			if l, err = r.connect(r.ctx); err == nil {
				break
			}
			slog.Warn("rpc: reconnecting to RabbitMQ", "attempt", attempt+1, "err", err)
			if !sleep(r.ctx, backoff(attempt)) {
				return
			}
		}
		slog.Info("rpc: reconnected to RabbitMQ", "addr", r.nodes[r.next].addr)
		r.setLink(l)
	}
}

// connection returns the live connection, waiting for a reconnect if needed.
func (r *rabbit) connection(ctx context.Context) (*amqp.Connection, error) {
	for {
		if r.ctx.Err() != nil {
			return nil, ErrClosed
		}
		r.mu.Lock()
		l, up := r.cur, r.up
		r.mu.Unlock()
		if l != nil {
			select {
			case <-l.lost:
				// The watcher is about to swap the link; wait for it.
				if !sleep(ctx, 20*time.Millisecond) {
					return nil, fmt.Errorf("wait for RabbitMQ: %w", ctx.Err())
				}
				continue
			default:
				return l.conn, nil
			}
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, fmt.Errorf("RabbitMQ unreachable: %w", ctx.Err())
		case <-r.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// retryable reports whether an operation failed because the connection or
// channel went away, rather than because the broker refused it.
func retryable(err error) bool {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		return !ae.Recover // soft (channel-level) errors are refusals
	}
	return errors.Is(err, amqp.ErrClosed)
}

func (r *rabbit) publish(ctx context.Context, ex exchange, key string, mandatory bool, msg amqp.Publishing) error {
	select {
	case r.pubLock <- struct{}{}:
		defer func() { <-r.pubLock }()
	case <-ctx.Done():
		return fmt.Errorf("wait to publish: %w", ctx.Err())
	}
	for {
		err := r.tryPublish(ctx, ex, key, mandatory, msg)
		if err == nil || !retryable(err) {
			return err
		}
		if !sleep(ctx, 250*time.Millisecond) {
			return fmt.Errorf("%w (after %v)", ctx.Err(), err)
		}
	}
}

func (r *rabbit) tryPublish(ctx context.Context, ex exchange, key string, mandatory bool, msg amqp.Publishing) error {
	if r.pub == nil || r.pub.IsClosed() {
		conn, err := r.connection(ctx)
		if err != nil {
			return err
		}
		ch, err := conn.Channel()
		if err != nil {
			return fmt.Errorf("open channel: %w", err)
		}
		if err := ch.Confirm(false); err != nil {
			_ = ch.Close()
			return fmt.Errorf("enable publisher confirms: %w", err)
		}
		// amqp091 closes a channel's return listeners with it: a fresh one each time.
		r.pub, r.returns, r.declared = ch, ch.NotifyReturn(make(chan amqp.Return, 16)), map[string]bool{}
	}
	if ex.Name != "" && !r.declared[ex.Name] {
		if err := r.pub.ExchangeDeclare(ex.Name, ex.Kind, false, ex.AutoDelete, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %s: %w", ex.Name, err)
		}
		r.declared[ex.Name] = true
	}
	dc, err := r.pub.PublishWithDeferredConfirmWithContext(ctx, ex.Name, key, mandatory, false, msg)
	if err != nil {
		return err
	}
	acked, err := dc.WaitContext(ctx)
	switch {
	case err != nil:
		return err
	case !acked && r.pub.IsClosed():
		return amqp.ErrClosed
	case !acked:
		return errors.New("broker refused the message (nack)")
	}
	// The broker sends basic.return before the confirm, so a return of this
	// publish is already queued.
	select {
	case _, ok := <-r.returns:
		if !ok {
			return amqp.ErrClosed
		}
		return errUnroutable
	default:
		return nil
	}
}

func (r *rabbit) consume(ctx context.Context, q queue, handle func(amqp.Delivery)) (func(), error) {
	conn, err := r.connection(ctx)
	if err != nil {
		return nil, err
	}
	ch, deliveries, err := declareConsumer(conn, q)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			serve(sctx, deliveries, handle)
			_ = ch.Close()
			if sctx.Err() != nil {
				return
			}
			slog.Warn("rpc: consumer lost, re-declaring", "queue", q.Name)
			for attempt := 0; ; attempt++ {
				conn, err := r.connection(sctx)
				if err == nil {
					if ch, deliveries, err = declareConsumer(conn, q); err == nil {
						break
					}
				}
				slog.Warn("rpc: re-declare consumer", "queue", q.Name, "attempt", attempt+1, "err", err)
				if !sleep(sctx, backoff(attempt)) {
					return
				}
			}
			slog.Info("rpc: consuming again", "queue", q.Name)
		}
	}()
	return func() { cancel(); <-done }, nil
}

// serve hands deliveries to handle until they end or ctx is done.
func serve(ctx context.Context, deliveries <-chan amqp.Delivery, handle func(amqp.Delivery)) {
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return
			}
			handle(d)
		case <-ctx.Done():
			return
		}
	}
}

// declareConsumer opens a channel, declares and binds q and consumes it.
func declareConsumer(conn *amqp.Connection, q queue) (*amqp.Channel, <-chan amqp.Delivery, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("open channel for queue %s: %w", q.Name, err)
	}
	fail := func(what string, err error) (*amqp.Channel, <-chan amqp.Delivery, error) {
		_ = ch.Close()
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if q.Bind.Name != "" {
		if err := ch.ExchangeDeclare(q.Bind.Name, q.Bind.Kind, false, q.Bind.AutoDelete, false, false, nil); err != nil {
			return fail("declare exchange "+q.Bind.Name, err)
		}
	}
	if _, err := ch.QueueDeclare(q.Name, false, false, false, false, q.Args); err != nil {
		return fail("declare queue "+q.Name, err)
	}
	if q.Bind.Name != "" {
		if err := ch.QueueBind(q.Name, q.Key, q.Bind.Name, false, nil); err != nil {
			return fail("bind queue "+q.Name+" to "+q.Bind.Name, err)
		}
	}
	deliveries, err := ch.Consume(q.Name, "", false, false, false, false, nil)
	if err != nil {
		return fail("consume queue "+q.Name, err)
	}
	return ch, deliveries, nil
}

func (r *rabbit) deleteQueue(ctx context.Context, name string) error {
	conn, err := r.connection(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer func() { _ = ch.Close() }() // the deletion's outcome is known by then
	if _, err := ch.QueueDelete(name, false, false, false); err != nil {
		return fmt.Errorf("delete queue %s: %w", name, err)
	}
	return nil
}

func (r *rabbit) close() error {
	r.cancel()
	r.mu.Lock()
	l := r.cur
	r.cur = nil
	r.mu.Unlock()
	if l == nil {
		return nil
	}
	if err := l.conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("close RabbitMQ connection: %w", err)
	}
	return nil
}
