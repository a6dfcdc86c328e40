package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// downBroker is a broker whose connection is lost: publishing and
// declaring wait for a reconnect until their context ends, as rabbit's do.
type downBroker struct{ broker }

func (downBroker) publish(ctx context.Context, _ exchange, _ string, _ bool, _ amqp.Publishing) error {
	<-ctx.Done()
	return fmt.Errorf("RabbitMQ unreachable: %w", ctx.Err())
}

func (downBroker) consume(ctx context.Context, _ queue, _ func(amqp.Delivery)) (func(), error) {
	<-ctx.Done()
	return nil, fmt.Errorf("RabbitMQ unreachable: %w", ctx.Err())
}

// within runs f and fails t unless it took less than limit.
func within(t *testing.T, limit time.Duration, what string, f func() error) error {
	t.Helper()
	start := time.Now()
	err := f()
	if d := time.Since(start); d > limit {
		t.Errorf("%s took %v, want under %v", what, d, limit)
	}
	return err
}

func TestSendTimeout(t *testing.T) {
	e := newEnv(t, "fake://")
	e.serve(t, "h1", Endpoint{Methods: map[string]Handler{"slow": func(context.Context, json.RawMessage) (any, error) {
		time.Sleep(300 * time.Millisecond)
		return "done", nil
	}}})
	c := NewClient(e.tr, Target{Topic: e.topic, Server: "h1"}, 5*time.Second)
	ctx := WithSendTimeout(context.Background(), 100*time.Millisecond)

	// The send timeout bounds sending only: a reply slower than it arrives.
	var got string
	if err := c.Call(ctx, "slow", nil, &got); err != nil || got != "done" {
		t.Fatalf("call slower than the send timeout: %q, %v", got, err)
	}

	// Nobody consumes: the broker's refusal, not the bus, once the send timeout ends.
	nobody := c.Prepare("", "nobody", "", 0)
	err := within(t, time.Second, "cast nobody takes", func() error { return nobody.Cast(ctx, "slow", nil) })
	if !errors.Is(err, errUnroutable) || errors.Is(err, ErrUnreachable) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cast nobody takes: %v, want errUnroutable only", err)
	}
	err = within(t, time.Second, "call nobody takes", func() error { return nobody.Call(ctx, "slow", nil, nil) })
	var te *TimeoutError
	if !errors.Is(err, errUnroutable) || errors.As(err, &te) {
		t.Errorf("call nobody takes: %v, want errUnroutable, no timeout", err)
	}

	e.tr.b = downBroker{e.tr.b}
	err = within(t, time.Second, "cast while down", func() error { return c.Cast(ctx, "slow", nil) })
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cast while the broker is down: %v, want ErrUnreachable", err)
	}
	err = within(t, time.Second, "call while down", func() error { return c.Call(ctx, "slow", nil, nil) })
	if !errors.Is(err, ErrUnreachable) || errors.As(err, &te) {
		t.Errorf("call while the broker is down: %v, want ErrUnreachable, no timeout", err)
	}

	// A new transport's first call also declares its reply queue: bounded too.
	fresh := NewClient(e.dial(t), Target{Topic: e.topic, Server: "h1"}, 5*time.Second)
	fresh.t.b = downBroker{fresh.t.b}
	err = within(t, time.Second, "first call while down", func() error { return fresh.Call(ctx, "slow", nil, nil) })
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("first call while the broker is down: %v, want ErrUnreachable", err)
	}

	// Without a send timeout a cast waits for the broker until its own timeout.
	short := c.Prepare("", "", "", 200*time.Millisecond)
	err = within(t, time.Second, "cast without send timeout", func() error { return short.Cast(context.Background(), "slow", nil) })
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnreachable) {
		t.Errorf("cast without a send timeout: %v, want its deadline", err)
	}
}
