// Package service runs Cinder's binaries: it registers each in the services
// table, heartbeats every report_interval, and wires the API, the scheduler
// and one volume manager per backend to the database and the RPC transport.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/rpc"
)

// Register finds or creates the services row of binary on host and returns
// it, re-enabling nothing: an operator's disable survives restarts.
func Register(ctx context.Context, store *db.DB, host, binary, topic, zone string) (*cinder.Service, error) {
	s, err := store.GetService(ctx, host, binary)
	if err == nil {
		return s, nil
	}
	if !cinder.IsNotFound(err) {
		return nil, fmt.Errorf("look up service %s on %s: %w", binary, host, err)
	}
	s = &cinder.Service{Host: host, Binary: binary, Topic: topic, AvailabilityZone: zone}
	if err := store.CreateService(ctx, s); err != nil {
		return nil, fmt.Errorf("register service %s on %s: %w", binary, host, err)
	}
	return s, nil
}

// Heartbeat reports service id alive every interval until ctx is done. A
// failed report is logged and retried at the next tick: a database hiccup
// must not kill the service.
func Heartbeat(ctx context.Context, store *db.DB, s *cinder.Service, interval time.Duration) {
	report := func() {
		if err := store.Heartbeat(ctx, s.ID); err != nil && ctx.Err() == nil {
			slog.Warn("heartbeat failed", "binary", s.Binary, "host", s.Host, "err", err)
		}
	}
	report()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			report()
		}
	}
}

// Open connects to the database named by cfg and applies pending schema
// migrations, as every Cinder service does at start.
func Open(ctx context.Context, cfg *conf.Config) (*db.DB, error) {
	store, err := db.Open(ctx, cfg.DatabaseConnection)
	if err != nil {
		return nil, err
	}
	store.LimitPool(cfg.DatabaseMaxPoolSize, cfg.DatabaseMaxOverflow)
	if _, err := store.Sync(ctx); err != nil {
		closeLogged("database", store)
		return nil, err
	}
	return store, nil
}

// Dial opens the RPC transport named by cfg.
func Dial(ctx context.Context, cfg *conf.Config) (*rpc.Transport, error) {
	t, err := rpc.Dial(ctx, cfg.TransportURL, rpc.Options{
		ControlExchange: cfg.ControlExchange,
		ResponseTimeout: cfg.RPCResponseTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to transport_url %s: %w", redact(cfg.TransportURL), err)
	}
	return t, nil
}

// redact hides the password of a transport URL for logs and errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable transport_url)"
	}
	return u.Redacted()
}

// serve starts an RPC server and stops it when ctx is done.
func serve(ctx context.Context, t *rpc.Transport, targets []rpc.Target, ep rpc.Endpoint) error {
	srv := rpc.NewServer(t, targets, ep)
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("start rpc server on %v: %w", targets, err)
	}
	go func() {
		<-ctx.Done()
		srv.Stop()
	}()
	return nil
}
