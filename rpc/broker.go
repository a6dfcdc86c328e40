package rpc

import (
	"context"
	"errors"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// exchange is an exchange as oslo declares it: never durable. Name "" is the
// default exchange, which routes to the queue named by the routing key.
type exchange struct {
	Name, Kind string // Kind is "topic" or "fanout"
	AutoDelete bool
}

// queue is a queue to declare (durable false, auto_delete false, exclusive
// false, as oslo), bind to Bind with Key unless Bind is the default
// exchange, and consume without auto-ack.
type queue struct {
	Name string
	Args amqp.Table
	Bind exchange
	Key  string
}

// broker is what the RPC layer needs of a message broker.
type broker interface {
	// publish declares ex (unless default) and publishes msg, returning once
	// the broker confirmed it; errUnroutable if mandatory and nothing took it.
	publish(ctx context.Context, ex exchange, key string, mandatory bool, msg amqp.Publishing) error
	// consume declares q and hands its deliveries, one at a time, to handle
	// until stop returns; it re-declares q and resumes after a reconnect.
	consume(ctx context.Context, q queue, handle func(amqp.Delivery)) (stop func(), err error)
	// deleteQueue deletes a queue.
	deleteQueue(ctx context.Context, name string) error
	// close closes the connection; stop every consumer first.
	close() error
}

var (
	// errUnroutable is a mandatory publish that the broker returned.
	errUnroutable = errors.New("message unroutable: no queue bound")
	// ErrClosed is returned by operations on a closed Transport.
	ErrClosed = errors.New("rpc: transport closed")
	// ErrUnreachable is a message the broker did not take within the send
	// timeout of its context (WithSendTimeout): it is down or reconnecting.
	ErrUnreachable = errors.New("message bus unreachable")
)

// Properties of every oslo message, as kombu's Producer.publish sets them.
const (
	contentType     = "application/json"
	contentEncoding = "utf-8"
)

// publishing wraps body in oslo's properties; expiration is set on calls only.
// amqp091-go leaves out an empty headers table and priority 0 on the wire,
// which a receiver reads as the same thing.
func publishing(body []byte, expiration time.Duration) amqp.Publishing {
	p := amqp.Publishing{
		ContentType:     contentType,
		ContentEncoding: contentEncoding,
		DeliveryMode:    amqp.Persistent,
		Headers:         amqp.Table{},
		Body:            body,
	}
	if expiration > 0 {
		p.Expiration = strconv.FormatInt(max(expiration.Milliseconds(), 1), 10)
	}
	return p
}

// backoff is the wait before retry number attempt (from 0): 0.5 s growing
// by 1 s a retry up to 30 s, like oslo's rabbit_retry_interval, _backoff
// and rabbit_interval_max.
func backoff(attempt int) time.Duration {
	return min(500*time.Millisecond+time.Duration(attempt)*time.Second, 30*time.Second)
}

// sleep waits d or until ctx is done, reporting whether the full wait elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
