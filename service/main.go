package service

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/rpc"
)

// DefaultConfigFile is read when no --config-file is given and it exists.
const DefaultConfigFile = "/etc/cinder/cinder.conf"

// configFiles is a repeatable --config-file flag.
type configFiles []string

func (f *configFiles) String() string     { return strings.Join(*f, ",") }
func (f *configFiles) Set(v string) error { *f = append(*f, v); return nil }

// Flags parses a binary's command line as oslo.config does: --config-file
// PATH, repeatable, later files winning; --debug for debug logs. It returns
// the loaded configuration and the remaining arguments.
func Flags(name string, args []string, stderr io.Writer) (*conf.Config, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files configFiles
	fs.Var(&files, "config-file", "path to a cinder.conf; repeatable, later files win")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("service", name))
	if len(files) == 0 {
		if _, err := os.Stat(DefaultConfigFile); err == nil {
			files = append(files, DefaultConfigFile)
		}
	}
	cfg, err := conf.Load(files...)
	if err != nil {
		return nil, nil, err
	}
	return cfg, fs.Args(), nil
}

// Run is a service's body: it serves until ctx ends.
type Run func(ctx context.Context, cfg *conf.Config, store *db.DB, t *rpc.Transport) error

// Main is the whole main of a service binary: parse flags, open the
// database (migrated) and the transport, run until SIGINT or SIGTERM, and
// exit non-zero with a one-line reason on failure. SIGUSR2 logs a Guru
// Meditation Report (see reportOnSIGUSR2).
func Main(name string, run Run) {
	cfg, _, err := Flags(name, os.Args[1:], os.Stderr)
	if err != nil {
		fail(name, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reportOnSIGUSR2(ctx, name, cfg.StatePath)
	if err := serveWith(ctx, cfg, run); err != nil && ctx.Err() == nil {
		fail(name, err)
	}
}

// serveWith opens what every service needs and runs run with it.
func serveWith(ctx context.Context, cfg *conf.Config, run Run) error {
	store, err := Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeLogged("database", store)
	t, err := Dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeLogged("transport", t)
	return run(ctx, cfg, store, t)
}

// closeLogged closes what a service used once it has stopped, logging a
// failure: nothing is left for the service to lose.
func closeLogged(what string, c io.Closer) {
	if err := c.Close(); err != nil {
		slog.Warn("close "+what+" at exit", "err", err)
	}
}

func fail(name string, err error) {
	if err == flag.ErrHelp {
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(1)
}
