package rpc

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// fakeBrokers are the in-process brokers, one per fake:// URL host, so every
// transport dialled to the same URL in one process talks to the same broker.
var fakeBrokers = struct {
	sync.Mutex
	m map[string]*fakeBroker
}{m: map[string]*fakeBroker{}}

// fakeBroker models the part of RabbitMQ oslo uses: topic exchanges with
// exact routing-key bindings, fanout exchanges (auto-deleted with their
// last binding), the default exchange, queues with competing consumers,
// per-message expiration and RabbitMQ's equivalence checks on redeclaring.
// Queue x-expires is not modelled.
type fakeBroker struct {
	mu        sync.Mutex
	exchanges map[string]*fakeExchange
	queues    map[string]*fakeQueue
}

type fakeExchange struct {
	exchange
	bindings map[string]map[string]bool // routing key → queue names
}

type fakeQueue struct {
	args  amqp.Table
	msgs  []fakeMessage
	ready chan struct{} // signalled when msgs is not empty
	gone  chan struct{} // closed when the queue is deleted
}

type fakeMessage struct {
	amqp.Delivery
	expires time.Time // zero: never
}

// fake is one transport's handle on a shared fakeBroker.
type fake struct {
	b      *fakeBroker
	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
}

// dialFake returns a handle on the broker of the URL's host part.
func dialFake(raw string) *fake {
	host, _, _ := strings.Cut(strings.TrimPrefix(raw, "fake://"), "/")
	fakeBrokers.Lock()
	b := fakeBrokers.m[host]
	if b == nil {
		b = &fakeBroker{exchanges: map[string]*fakeExchange{}, queues: map[string]*fakeQueue{}}
		fakeBrokers.m[host] = b
	}
	fakeBrokers.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	return &fake{b: b, ctx: ctx, cancel: cancel}
}

// precondition is RabbitMQ's 406 on redeclaring with other properties.
func precondition(format string, args ...any) error {
	return &amqp.Error{Code: amqp.PreconditionFailed, Reason: "PRECONDITION_FAILED - " + fmt.Sprintf(format, args...), Recover: true}
}

// declareExchange creates ex or checks it matches the existing one. b.mu is held.
func (b *fakeBroker) declareExchange(ex exchange) (*fakeExchange, error) {
	e := b.exchanges[ex.Name]
	switch {
	case e == nil:
		e = &fakeExchange{exchange: ex, bindings: map[string]map[string]bool{}}
		b.exchanges[ex.Name] = e
	case e.Kind != ex.Kind:
		return nil, precondition("inequivalent arg 'type' for exchange '%s': received '%s' but current is '%s'", ex.Name, ex.Kind, e.Kind)
	case e.AutoDelete != ex.AutoDelete:
		return nil, precondition("inequivalent arg 'auto_delete' for exchange '%s': received '%t' but current is '%t'", ex.Name, ex.AutoDelete, e.AutoDelete)
	}
	return e, nil
}

// declareQueue creates q or checks its arguments match. b.mu is held.
func (b *fakeBroker) declareQueue(q queue) (*fakeQueue, error) {
	fq := b.queues[q.Name]
	if fq == nil {
		fq = &fakeQueue{args: maps.Clone(q.Args), ready: make(chan struct{}, 1), gone: make(chan struct{})}
		b.queues[q.Name] = fq
		return fq, nil
	}
	if fmt.Sprint(fq.args) != fmt.Sprint(q.Args) { // sorted keys, integer types alike
		return nil, precondition("inequivalent arguments for queue '%s': received %v but current is %v", q.Name, q.Args, fq.args)
	}
	return fq, nil
}

func (f *fake) publish(ctx context.Context, ex exchange, key string, mandatory bool, msg amqp.Publishing) error {
	if err := f.ctx.Err(); err != nil {
		return ErrClosed
	}
	b := f.b
	b.mu.Lock()
	defer b.mu.Unlock()
	var targets []string
	if ex.Name == "" {
		if b.queues[key] != nil {
			targets = []string{key}
		}
	} else {
		e, err := b.declareExchange(ex)
		if err != nil {
			return fmt.Errorf("declare exchange %s: %w", ex.Name, err)
		}
		for k, qs := range e.bindings {
			if e.Kind == "fanout" || k == key {
				for q := range qs {
					targets = append(targets, q)
				}
			}
		}
	}
	if len(targets) == 0 && mandatory {
		return errUnroutable
	}
	m := fakeMessage{Delivery: amqp.Delivery{
		Acknowledger:    fakeAck{},
		ContentType:     msg.ContentType,
		ContentEncoding: msg.ContentEncoding,
		DeliveryMode:    msg.DeliveryMode,
		Priority:        msg.Priority,
		Headers:         maps.Clone(msg.Headers),
		Expiration:      msg.Expiration,
		Exchange:        ex.Name,
		RoutingKey:      key,
		Body:            append([]byte(nil), msg.Body...),
	}}
	if msg.Expiration != "" {
		ms, err := strconv.ParseInt(msg.Expiration, 10, 64)
		if err != nil || ms < 0 {
			return &amqp.Error{Code: amqp.SyntaxError, Reason: "invalid expiration " + msg.Expiration}
		}
		m.expires = time.Now().Add(time.Duration(ms) * time.Millisecond)
	}
	for _, name := range targets {
		q := b.queues[name]
		q.msgs = append(q.msgs, m)
		signal(q.ready)
	}
	return nil
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (f *fake) consume(ctx context.Context, q queue, handle func(amqp.Delivery)) (func(), error) {
	if err := f.ctx.Err(); err != nil {
		return nil, ErrClosed
	}
	b := f.b
	b.mu.Lock()
	if q.Bind.Name != "" {
		if _, err := b.declareExchange(q.Bind); err != nil {
			b.mu.Unlock()
			return nil, fmt.Errorf("declare exchange %s: %w", q.Bind.Name, err)
		}
	}
	fq, err := b.declareQueue(q)
	if err != nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("declare queue %s: %w", q.Name, err)
	}
	if q.Bind.Name != "" {
		e := b.exchanges[q.Bind.Name]
		if e.bindings[q.Key] == nil {
			e.bindings[q.Key] = map[string]bool{}
		}
		e.bindings[q.Key][q.Name] = true
	}
	b.mu.Unlock()
	sctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			d, ok := b.take(sctx, fq)
			if !ok {
				return
			}
			handle(d)
		}
	}()
	return func() { cancel(); <-done }, nil
}

// take waits for the next unexpired message of q.
func (b *fakeBroker) take(ctx context.Context, q *fakeQueue) (amqp.Delivery, bool) {
	for {
		b.mu.Lock()
		now := time.Now()
		for len(q.msgs) > 0 {
			m := q.msgs[0]
			q.msgs = q.msgs[1:]
			if m.expires.IsZero() || m.expires.After(now) {
				if len(q.msgs) > 0 {
					signal(q.ready) // wake another consumer
				}
				b.mu.Unlock()
				return m.Delivery, true
			}
		}
		b.mu.Unlock()
		select {
		case <-q.ready:
		case <-q.gone:
			return amqp.Delivery{}, false
		case <-ctx.Done():
			return amqp.Delivery{}, false
		}
	}
}

func (f *fake) deleteQueue(ctx context.Context, name string) error {
	b := f.b
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queues[name]
	if q == nil {
		return nil
	}
	delete(b.queues, name)
	close(q.gone)
	for en, e := range b.exchanges {
		unbound := false
		for k, qs := range e.bindings {
			if qs[name] {
				unbound = true
				delete(qs, name)
			}
			if len(qs) == 0 {
				delete(e.bindings, k)
			}
		}
		if unbound && e.AutoDelete && len(e.bindings) == 0 {
			delete(b.exchanges, en)
		}
	}
	return nil
}

func (f *fake) close() error {
	f.cancel()
	return nil
}

// fakeAck acknowledges fake deliveries: acked and rejected messages alike
// are gone, and nothing is redelivered.
type fakeAck struct{}

func (fakeAck) Ack(tag uint64, multiple bool) error           { return nil }
func (fakeAck) Nack(tag uint64, multiple, requeue bool) error { return nil }
func (fakeAck) Reject(tag uint64, requeue bool) error         { return nil }
