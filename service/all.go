package service

import (
	"context"
	"fmt"

	"github.com/cinder-go/cinder/conf"
)

// RunAll runs the scheduler, every backend's volume manager and the API in
// one process, sharing one database and one transport, until ctx ends or one
// of them fails.
func RunAll(ctx context.Context, cfg *conf.Config) error {
	if err := CheckDrivers(cfg); err != nil {
		return err
	}
	l, err := ListenAPI(cfg)
	if err != nil {
		return err
	}
	store, err := Open(ctx, cfg)
	if err != nil {
		l.Close()
		return err
	}
	defer store.Close()
	t, err := Dial(ctx, cfg)
	if err != nil {
		l.Close()
		return err
	}
	defer t.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	runs := map[string]func(context.Context) error{
		"cinder-scheduler": func(ctx context.Context) error { return RunScheduler(ctx, cfg, store, t) },
		"cinder-volume":    func(ctx context.Context) error { return RunVolume(ctx, cfg, store, t) },
		"cinder-api":       func(ctx context.Context) error { return RunAPI(ctx, cfg, store, t, l) },
	}
	done := make(chan error, len(runs))
	for name, run := range runs {
		go func() {
			err := run(ctx)
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
				cancel(err)
			}
			done <- err
		}()
	}
	var first error
	for range runs {
		if err := <-done; err != nil && first == nil {
			first = err
		}
	}
	return first
}
