// Command cinder-volume runs one volume manager per enabled backend.
package main

import (
	"context"

	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/service"
)

func main() {
	service.Main("cinder-volume", func(ctx context.Context, cfg *conf.Config) error {
		if err := service.CheckDrivers(cfg); err != nil {
			return err
		}
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
		return service.RunVolume(ctx, cfg, store, t)
	})
}
