package service

import (
	"context"
	"fmt"

	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/rpc"
)

// RunAll runs the scheduler, every backend's volume manager, cinder-backup
// and the API in one process, sharing one database and one transport, until
// ctx ends or one of them fails.
func RunAll(ctx context.Context, cfg *conf.Config, store *db.DB, t *rpc.Transport) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runs := map[string]Run{"cinder-scheduler": RunScheduler, "cinder-volume": RunVolume,
		"cinder-backup": RunBackup, "cinder-api": RunAPI}
	done := make(chan error, len(runs))
	for name, run := range runs {
		go func() {
			err := run(ctx, cfg, store, t)
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
				cancel() // one failed: stop the others
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
