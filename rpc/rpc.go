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

// String names the target as oslo logs it.
func (t Target) String() string {
	s := "<Target topic=" + t.Topic
	if t.Server != "" {
		s += ", server=" + t.Server
	}
	if t.Exchange != "" {
		s += ", exchange=" + t.Exchange
	}
	if t.Fanout {
		s += ", fanout=True"
	}
	if t.Version != "" {
		s += ", version=" + t.Version
	}
	return s + ">"
}

// Options configure a transport.
type Options struct {
	ControlExchange string        // default "openstack"
	ResponseTimeout time.Duration // rpc_response_timeout, default 60s
}

// Handler serves one method: args is the JSON object of keyword arguments;
// the request context is cinder.FromContext(ctx).
type Handler func(ctx context.Context, args json.RawMessage) (any, error)

// Endpoint is a set of methods served at one version and namespace.
type Endpoint struct {
	Namespace string
	Version   string // e.g. "3.20": serves requests of major 3, minor ≤ 20
	Methods   map[string]Handler
}

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
