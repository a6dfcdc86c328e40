package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/cinder-go/cinder/api"
	"github.com/cinder-go/cinder/backup"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/identity"
	"github.com/cinder-go/cinder/keystone"
	"github.com/cinder-go/cinder/manager"
	"github.com/cinder-go/cinder/policy"
	"github.com/cinder-go/cinder/rpc"
	"github.com/cinder-go/cinder/scheduler"
	"github.com/cinder-go/cinder/volume"
)

// The RPC clients are what the volume rules need of the services.
var (
	_ volume.Scheduler = (*scheduler.Client)(nil)
	_ volume.Backends  = (*manager.Client)(nil)
	_ volume.Backups   = (*backup.Client)(nil)
	_ backup.Volumes   = (*manager.Client)(nil)
)

// apiHandler is cinder-api's handler for cfg: the volume rules over the
// RPC clients, Cinder's policy with policy_file's rules, and with
// auth_strategy keystone the tokens validated at [keystone_authtoken].
func apiHandler(cfg *conf.Config, store *db.DB, t *rpc.Transport) (http.Handler, error) {
	rules, err := policy.New(cfg.PolicyFile)
	if err != nil {
		return nil, fmt.Errorf("cinder-api: %w", err)
	}
	var tokens func(http.Handler) http.Handler
	if cfg.AuthStrategy == conf.AuthKeystone {
		m, err := keystone.New(cfg.Keystone, http.NotFoundHandler())
		if err != nil {
			return nil, fmt.Errorf("cinder-api: [keystone_authtoken]: %w", err)
		}
		tokens = m.Wrap
	}
	volumes := volume.New(cfg, store, scheduler.NewClient(t), manager.NewClient(t), backup.NewClient(t))
	h := api.New(cfg, store, volumes, rules, tokens)
	if cfg.IdentityFile == "" {
		return h, nil
	}
	return withIdentity(cfg.IdentityFile, h)
}

// identityPrefix is where cinder-api serves the embedded identity endpoint.
const identityPrefix = "/identity"

// withIdentity serves Keystone's v3 token API from the users of file
// under /identity and everything else with h: the embedded default's
// Keystone, so that clients and Tempest authenticate with no other service.
func withIdentity(file string, h http.Handler) (http.Handler, error) {
	d, err := identity.Load(file)
	if err != nil {
		return nil, fmt.Errorf("cinder-api: [identity] data_file: %w", err)
	}
	ih, err := identity.New(d, identity.Config{})
	if err != nil {
		return nil, fmt.Errorf("cinder-api: identity: %w", err)
	}
	stripped := http.StripPrefix(identityPrefix, ih)
	// Not a ServeMux: it would redirect the API's unclean paths.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == identityPrefix || strings.HasPrefix(p, identityPrefix+"/"):
			stripped.ServeHTTP(w, r)
		case p == identity.ImagePath || strings.HasPrefix(p, identity.ImagePath+"/"):
			identity.ImageVersions.ServeHTTP(w, r)
		default:
			h.ServeHTTP(w, r)
		}
	}), nil
}

// apiGCPercent is the garbage collector's GOGC while serving the API, unless
// the environment sets GOGC. A page of 100 volumes allocates some 300 KB
// over a live heap near 5 MB: at Go's default of 100 the collector ran 54
// times a second under case P's load, and a list took a fifth more CPU
// than at 400, which holds some 25 MB more heap.
const apiGCPercent = 400

// tuneGC sets apiGCPercent unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(apiGCPercent)
	}
}

// RunAPI serves the REST API on osapi_volume_listen:osapi_volume_listen_port
// until ctx ends, then shuts down gracefully.
// Like Cinder's WSGI service it has no services row.
func RunAPI(ctx context.Context, cfg *conf.Config, store *db.DB, t *rpc.Transport) error {
	tuneGC()
	addr := net.JoinHostPort(cfg.APIListen, strconv.Itoa(cfg.APIPort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cinder-api: listen on %s: %w", addr, err)
	}
	h, err := apiHandler(cfg, store, t)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
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
