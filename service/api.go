package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/cinder-go/cinder/api"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/manager"
	"github.com/cinder-go/cinder/rpc"
	"github.com/cinder-go/cinder/scheduler"
	"github.com/cinder-go/cinder/volume"
)

// The RPC clients are what the volume rules need of the services.
var (
	_ volume.Scheduler = (*scheduler.Client)(nil)
	_ volume.Backends  = (*manager.Client)(nil)
)

// RunAPI serves the REST API on osapi_volume_listen:osapi_volume_listen_port
// until ctx ends, then shuts down gracefully.
// Like Cinder's WSGI service it has no services row.
func RunAPI(ctx context.Context, cfg *conf.Config, store *db.DB, t *rpc.Transport) error {
	addr := net.JoinHostPort(cfg.APIListen, strconv.Itoa(cfg.APIPort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cinder-api: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           api.New(cfg, store, volume.New(cfg, store, scheduler.NewClient(t), manager.NewClient(t))),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			slog.Warn("cinder-api: connections still open at shutdown", "err", err)
		}
	}()
	slog.Info("cinder-api listening", "addr", l.Addr().String())
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("cinder-api: serve on %s: %w", l.Addr(), err)
	}
	return nil
}
