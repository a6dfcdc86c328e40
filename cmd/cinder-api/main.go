// Command cinder-api serves Cinder's REST API v3.
package main

import (
	"context"

	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/service"
)

func main() {
	service.Main("cinder-api", func(ctx context.Context, cfg *conf.Config) error {
		l, err := service.ListenAPI(cfg)
		if err != nil {
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
		return service.RunAPI(ctx, cfg, store, t, l)
	})
}
