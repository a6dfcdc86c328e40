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
// within the timeout as *TimeoutError naming method and target.
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
	if req.ReplyQ, err = c.t.replyQueue(ctx); err != nil {
		return fail(err)
	}
	req.MsgID = newID()
	w, done := c.t.wait(req.MsgID)
	defer done()
	if err := c.send(ctx, req, timeout); err != nil {
		return fail(err)
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

// Cast sends method with args and does not wait for an answer.
func (c *Client) Cast(ctx context.Context, method string, args any) error {
	timeout := c.timeout
	if timeout <= 0 {
		timeout = c.t.timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := c.request(ctx, method, args)
	if err == nil {
		err = c.send(ctx, req, 0)
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
// (after unroutableWait), not a silent loss; a fanout may reach nobody.
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
	deadline := time.Now().Add(unroutableWait)
	for {
		err := c.t.b.publish(ctx, ex, key, !c.target.Fanout, publishing(body, expiration))
		if err == nil {
			return nil
		}
		if !errors.Is(err, errUnroutable) || time.Now().After(deadline) {
			return fmt.Errorf("publish to exchange %s key %s: %w", ex.Name, key, err)
		}
		if !sleep(ctx, 250*time.Millisecond) {
			return fmt.Errorf("publish to exchange %s key %s: %w: %w", ex.Name, key, ctx.Err(), err)
		}
	}
}
