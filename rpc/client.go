package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cinder-go/cinder"
)

// Client sends messages to one Target, as oslo_messaging.RPCClient.
type Client struct {
	t       *Transport
	target  Target
	timeout time.Duration
}

// NewClient returns a client for target; timeout 0 means rpc_response_timeout.
func NewClient(t *Transport, target Target, timeout time.Duration) *Client {
	return &Client{t: t, target: target, timeout: timeout}
}

// Prepare returns a copy of the client with a different server, topic,
// version or timeout, as RPCClient.prepare; empty values keep the current.
func (c *Client) Prepare(topic, server, version string, timeout time.Duration) *Client {
	p := *c
	if topic != "" {
		p.target.Topic = topic
	}
	if server != "" {
		p.target.Server = server
	}
	if version != "" {
		p.target.Version = version
	}
	if timeout > 0 {
		p.timeout = timeout
	}
	return &p
}

// Call sends method with args (a struct or map encoding to a JSON object of
// keyword arguments) and decodes the result into reply (may be nil). The
// request context is cinder.FromContext(ctx). A remote cinder exception comes
// back as *cinder.Error; other remote failures as *RemoteError; no answer
// within the timeout as *TimeoutError naming method and target; a request
// the broker did not take within ctx's send timeout as ErrUnreachable.
func (c *Client) Call(ctx context.Context, method string, args any, reply any) error {
	if c.target.Fanout {
		return fmt.Errorf("call %s on %s: a call cannot be fanout", method, c.target)
	}
	timeout := c.timeout
	if timeout <= 0 {
		timeout = c.t.timeout
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fail := func(err error) error {
		if errors.Is(err, context.DeadlineExceeded) {
			return &TimeoutError{Method: method, Target: c.target.String(), Timeout: timeout}
		}
		return fmt.Errorf("call %s on %s: %w", method, c.target, err)
	}

	req, err := c.request(ctx, method, args)
	if err != nil {
		return fail(err)
	}
	sctx, stop := sending(ctx)
	defer stop()
	if req.ReplyQ, err = c.t.replyQueue(sctx); err != nil {
		return fail(undelivered(ctx, sctx, err))
	}
	req.MsgID = newID()
	w, done := c.t.wait(req.MsgID)
	defer done()
	if err := c.send(sctx, req, timeout); err != nil {
		return fail(undelivered(ctx, sctx, err))
	}
	var result json.RawMessage
	for {
		select {
		case r := <-w.replies:
			if r.Failure != nil {
				return r.Failure.err()
			}
			if r.Result != nil {
				result = r.Result
			}
			if !r.Ending {
				continue
			}
			if reply == nil || result == nil {
				return nil
			}
			if err := json.Unmarshal(result, reply); err != nil {
				return fmt.Errorf("decode reply to %s from %s: %w", method, c.target, err)
			}
			return nil
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-c.t.ctx.Done():
			return fail(ErrClosed)
		}
	}
}

// Cast sends method with args and does not wait for an answer; it fails
// with ErrUnreachable when the broker did not take it within ctx's send
// timeout.
func (c *Client) Cast(ctx context.Context, method string, args any) error {
	timeout := c.timeout
	if timeout <= 0 {
		timeout = c.t.timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := c.request(ctx, method, args)
	if err == nil {
		sctx, stop := sending(ctx)
		defer stop()
		err = undelivered(ctx, sctx, c.send(sctx, req, 0))
	}
	if err != nil {
		return fmt.Errorf("cast %s to %s: %w", method, c.target, err)
	}
	return nil
}

// request builds the request of method, without the call fields.
func (c *Client) request(ctx context.Context, method string, args any) (*request, error) {
	if c.target.Topic == "" {
		return nil, errors.New("target has no topic")
	}
	if method == "" {
		return nil, errors.New("no method")
	}
	a, err := encodeArgs(args)
	if err != nil {
		return nil, err
	}
	return &request{Method: method, Args: a, Version: c.target.Version, Namespace: c.target.Namespace,
		UniqueID: newID(), Context: cinder.FromContext(ctx)}, nil
}

// unroutableWait bounds how long a call or cast to a topic waits for a queue
// to be bound: right after a broker restart the servers are re-declaring
// theirs, and a message published meanwhile would be dropped.
const unroutableWait = 10 * time.Second

// send publishes req where oslo's AMQPDriverBase._send would; expiration is
// set on calls. Unlike oslo, a call or cast nobody's queue takes is an error
// (after unroutableWait, or sooner when ctx ends), not a silent loss; a
// fanout may reach nobody.
func (c *Client) send(ctx context.Context, req *request, expiration time.Duration) error {
	body, err := encodeRequest(req)
	if err != nil {
		return err
	}
	ex, key := c.t.exchange(c.target), c.target.Topic
	switch {
	case c.target.Fanout:
		ex, key = fanoutExchange(c.target.Topic), ""
	case c.target.Server != "":
		key += "." + c.target.Server
	}
	start := time.Now()
	for {
		err := c.t.b.publish(ctx, ex, key, !c.target.Fanout, publishing(body, expiration))
		if err == nil {
			return nil
		}
		if !errors.Is(err, errUnroutable) || time.Since(start) > unroutableWait {
			return fmt.Errorf("publish to exchange %s key %s: %w", ex.Name, key, err)
		}
		if !sleep(ctx, 250*time.Millisecond) {
			if errors.Is(context.Cause(ctx), ErrUnreachable) {
				// The send timeout ended the wait, not the caller's deadline:
				// the refusal is the news.
				return fmt.Errorf("publish to exchange %s key %s: %w (for %v)", ex.Name, key, err, time.Since(start).Round(time.Millisecond))
			}
			return fmt.Errorf("publish to exchange %s key %s: %w: %w", ex.Name, key, ctx.Err(), err)
		}
	}
}

// sendTimeoutKey keys a context's send timeout.
type sendTimeoutKey struct{}

// WithSendTimeout returns ctx under which a call or cast waits at most d
// for the broker to take its message (while it reconnects, or until a
// server's queue is bound) and then fails, with ErrUnreachable unless the
// broker was up but nothing took the message. The wait for a call's reply
// is bounded by the call's timeout, not by d.
func WithSendTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, sendTimeoutKey{}, d)
}

// sending returns the context to send a message under: ctx bounded by its
// send timeout, if it has one.
func sending(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Value(sendTimeoutKey{}).(time.Duration); ok && d > 0 {
		return context.WithTimeoutCause(ctx, d, fmt.Errorf("%w: no broker took the message within %v", ErrUnreachable, d))
	}
	return ctx, func() {}
}

// undelivered returns err, the failure of a send under sctx, as the send
// timeout's ErrUnreachable when that timeout ran out first (ctx still
// live), unless the broker answered that no queue takes the message.
func undelivered(ctx, sctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil || sctx.Err() == nil || errors.Is(err, errUnroutable) {
		return err
	}
	return fmt.Errorf("%w (%v)", context.Cause(sctx), err)
}
