// Command cinder-scheduler places new volumes on backends and checks
// migration destinations.
package main

import (
	"context"

	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/service"
)

func main() {
	service.Main("cinder-scheduler", func(ctx context.Context, cfg *conf.Config) error {
		store, err := service.Open(ctx, cfg)
		if err != nil {
			return err
		}
		defer store.Close()
		t, err := service.Dial(ctx, cfg)
		if err != nil {
			return err
		}
		defer t.Close()
		return service.RunScheduler(ctx, cfg, store, t)
	})
}
