// Package rpc is oslo.messaging's RPC over AMQP 0-9-1 in its exact rabbit
// wire format: targets, the 2.0 envelope, call/cast/fanout, reply queues,
// failures serialized as oslo does, and version negotiation. Transports are
// rabbit:// (RabbitMQ) and fake:// (in process, same serialization).
package rpc

import (
	"context"
	"encoding/json"
	"time"
)

// Target names where a message goes or what a server listens on, as
// oslo_messaging.Target.
type Target struct {
	Exchange  string // "" means the transport's control_exchange
	Topic     string
	Server    string
	Fanout    bool
	Version   string // requested version (client) or served version (endpoint)
	Namespace string
}

// Options configure a transport.
type Options struct {
	ControlExchange string        // default "openstack"
	ResponseTimeout time.Duration // rpc_response_timeout, default 60s
}

// Transport carries serialized oslo messages to and from a broker. Dial
// returns one for rabbit://user:pass@host:port/vhost or fake://.
type Transport struct{ /* owner: rpc helper */ }

// Dial connects to transport_url. Over rabbit:// it reconnects by itself
// after a broker restart and re-declares every consumer's queues.
func Dial(ctx context.Context, url string, opts Options) (*Transport, error) { panic("rpc: TODO") }

// Close stops every server and client of the transport and closes the connection.
func (t *Transport) Close() error { panic("rpc: TODO") }

// Client sends messages to one Target, as oslo_messaging.RPCClient.
type Client struct{ /* owner: rpc helper */ }

// NewClient returns a client for target; timeout 0 means rpc_response_timeout.
func NewClient(t *Transport, target Target, timeout time.Duration) *Client { panic("rpc: TODO") }

// Prepare returns a copy of the client with a different server, topic,
// version or timeout, as RPCClient.prepare; empty values keep the current.
func (c *Client) Prepare(topic, server, version string, timeout time.Duration) *Client {
	panic("rpc: TODO")
}

// Call sends method with args (a struct or map encoding to a JSON object of
// keyword arguments) and decodes the result into reply (may be nil). The
// request context is cinder.FromContext(ctx). A remote cinder exception comes
// back as *cinder.Error; other remote failures as *RemoteError; no answer
// within the timeout as *TimeoutError naming method and target.
func (c *Client) Call(ctx context.Context, method string, args any, reply any) error {
	panic("rpc: TODO")
}

// Cast sends method with args and does not wait for an answer.
func (c *Client) Cast(ctx context.Context, method string, args any) error { panic("rpc: TODO") }

// Handler serves one method: args is the JSON object of keyword arguments;
// the request context is cinder.FromContext(ctx).
type Handler func(ctx context.Context, args json.RawMessage) (any, error)

// Endpoint is a set of methods served at one version and namespace.
type Endpoint struct {
	Namespace string
	Version   string // e.g. "3.20": serves requests of major 3, minor ≤ 20
	Methods   map[string]Handler
}

// Server consumes the queues of its targets and dispatches to endpoints, as
// oslo_messaging's RPC server: for each target the <topic> and
// <topic>.<server> queues plus a <topic>_fanout queue.
type Server struct{ /* owner: rpc helper */ }

// NewServer returns a server for targets dispatching to endpoints.
func NewServer(t *Transport, targets []Target, endpoints ...Endpoint) *Server {
	panic("rpc: TODO")
}

// Start declares the queues and begins consuming.
func (s *Server) Start(ctx context.Context) error { panic("rpc: TODO") }

// Stop stops consuming and waits for handlers in flight.
func (s *Server) Stop() { panic("rpc: TODO") }

// RemoteError is a failure reply whose exception is not a cinder exception.
type RemoteError struct {
	Class, Module, Message string
	Traceback              []string
}

func (e *RemoteError) Error() string { return "remote error: " + e.Class + " " + e.Message }

// TimeoutError is oslo's MessagingTimeout: no reply in time.
type TimeoutError struct {
	Method, Target string
	Timeout        time.Duration
}

func (e *TimeoutError) Error() string {
	return "timed out after " + e.Timeout.String() + " waiting for a reply to " + e.Method + " on " + e.Target
}
