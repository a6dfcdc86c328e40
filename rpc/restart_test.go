package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testenv"
)

// TestBrokerRestart restarts RabbitMQ under a running server and client and
// expects calls to work again without recreating anything.
func TestBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: restarts RabbitMQ (about 10 s); run without -short")
	}
	url := testenv.RabbitURL(t)
	ctl, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		if testenv.Required() {
			t.Fatalf("rabbitmqctl is required (CINDER_TEST_REQUIRE_SERVICES=1): %v", err)
		}
		t.Skipf("SKIP: rabbitmqctl not found: %v", err)
	}
	rabbitmqctl := func(cmd string) {
		t.Helper()
		if out, err := exec.Command(ctl, cmd).CombinedOutput(); err != nil {
			t.Fatalf("rabbitmqctl %s: %v\n%s", cmd, err, out)
		}
	}
	e := newEnv(t, url)
	pings := make(chan struct{}, 1)
	e.serve(t, "h1", volumeEndpoint(), Endpoint{Methods: map[string]Handler{
		"ping": func(context.Context, json.RawMessage) (any, error) { pings <- struct{}{}; return nil, nil }}})
	c := NewClient(e.tr, Target{Topic: e.topic, Server: "h1", Version: "3.0"}, 2*time.Second)
	if err := c.Call(context.Background(), "get_capabilities", nil, nil); err != nil {
		t.Fatal(err)
	}

	rabbitmqctl("stop_app")
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			rabbitmqctl("start_app")
		}
	})
	start := time.Now()
	if err := c.Call(context.Background(), "get_capabilities", nil, nil); err == nil {
		t.Error("call with the broker stopped succeeded")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("call with the broker stopped took %v, want at most about its 2s timeout", d)
	}
	// Under a send timeout the broker's absence is ErrUnreachable, as soon.
	err = within(t, 2*time.Second, "cast with the broker stopped", func() error {
		return c.Cast(WithSendTimeout(context.Background(), time.Second), "get_capabilities", nil)
	})
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("cast with the broker stopped and a send timeout: %v, want ErrUnreachable", err)
	}
	rabbitmqctl("start_app")
	restarted = true

	deadline := time.Now().Add(60 * time.Second)
	for {
		var caps map[string]any
		err := c.Call(context.Background(), "get_capabilities", nil, &caps)
		if err == nil && caps["volume_backend_name"] == "thin" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful call 60s after the broker restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("calls work again %v after stop_app", time.Since(start))

	// The fanout queue was re-declared too.
	select {
	case <-pings:
		t.Fatal("ping before any fanout")
	default:
	}
	// A fanout cast sent before the consumer has bound its queue again is
	// dropped by the broker, as with oslo.messaging: cast until one arrives.
	fanout := NewClient(e.tr, Target{Topic: e.topic, Fanout: true}, 0)
	deadline = time.Now().Add(30 * time.Second)
	for {
		if err := fanout.Cast(context.Background(), "ping", nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-pings:
			return
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("fanout cast not delivered 30s after the broker restart")
		}
	}
}
