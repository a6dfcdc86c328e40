package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/drivers/thick"
	"github.com/cinder-go/cinder/drivers/thin"
	"github.com/cinder-go/cinder/manager"
	"github.com/cinder-go/cinder/rpc"
	"github.com/cinder-go/cinder/scheduler"
)

// NewDriver builds the driver a backend section's volume_driver names.
func NewDriver(b *conf.Backend, host string) (drivers.Driver, error) {
	switch b.VolumeDriver {
	case "thin":
		return thin.New(b, host), nil
	case "thick":
		return thick.New(b, host), nil
	default:
		return nil, fmt.Errorf("backend %s: unknown volume_driver %q (want thin or thick)", b.Name, b.VolumeDriver)
	}
}

// RunVolume runs cinder-volume: one manager per enabled backend, each
// registered as host@backend, serving RPC and reporting stats until ctx
// ends. Backends start in turn; one that fails to start or to run cancels
// the others' context, and RunVolume returns its error once their loops ended.
func RunVolume(ctx context.Context, cfg *conf.Config, store *db.DB, t *rpc.Transport) error {
	if len(cfg.Backends) == 0 {
		return errors.New("cinder-volume: enabled_backends is empty")
	}
	reporter := scheduler.NewClient(t)
	volumes := manager.NewClient(t) // migrations reach the destination backends
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		for _, b := range cfg.Backends {
			host := cfg.ServiceHost(b)
			drv, err := NewDriver(b, host)
			if err != nil {
				return err
			}
			m := manager.New(cfg, b, store, drv, reporter, volumes)
			if err := m.Init(ctx); err != nil {
				return fmt.Errorf("init backend %s: %w", host, err)
			}
			svc, err := Register(ctx, store, m.Host(), cinder.BinaryVolume, cinder.TopicVolume, b.AvailabilityZone)
			if err != nil {
				return err
			}
			if err := serve(ctx, t, m.Targets(), m.Endpoint()); err != nil {
				return err
			}
			g.Go(func() error { Heartbeat(ctx, store, svc, cfg.ReportInterval); return nil })
			g.Go(func() error { return m.Run(ctx) })
			slog.Info("cinder-volume backend started", "host", m.Host(), "driver", b.VolumeDriver, "volumes_dir", b.VolumesDir)
		}
		return nil
	})
	return g.Wait()
}

// RunScheduler runs cinder-scheduler and its periodic task until ctx ends.
func RunScheduler(ctx context.Context, cfg *conf.Config, store *db.DB, t *rpc.Transport) error {
	volumes := manager.NewClient(t)
	s, err := scheduler.New(cfg, store, volumes)
	if err != nil {
		return err
	}
	svc, err := Register(ctx, store, cfg.Host, cinder.BinaryScheduler, cinder.TopicScheduler, cfg.StorageAvailabilityZone)
	if err != nil {
		return err
	}
	if err := serve(ctx, t, s.Targets(), s.Endpoint()); err != nil {
		return err
	}
	// Ask every backend for its stats now rather than wait a polling interval.
	if err := volumes.PublishServiceCapabilities(ctx); err != nil {
		slog.Warn("cannot ask backends for their capabilities", "err", err)
	}
	go s.Run(ctx)
	slog.Info("cinder-scheduler started", "host", cfg.Host)
	Heartbeat(ctx, store, svc, cfg.ReportInterval)
	return nil
}
