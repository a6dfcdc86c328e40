// Command cinder-manage administers a Cinder deployment: schema migrations
// and the services table, as Cinder's cinder-manage, audits the volumes,
// snapshots and backups tables against the storage, and copies volumes
// with the copy engine on its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/service"
)

const usage = `usage: cinder-manage [--config-file PATH]... CATEGORY ACTION
  db sync        apply every pending schema migration
  db version     print the applied schema version
  service list   list the services and whether they are up
  volume audit   print each difference between the volumes, snapshots and
                 backups tables and the backends' storage and backup_posix_path;
                 exit 0 when none, 1 when some, 2 on failure
  volume copy [--sparse] [--blocksize 1M] [--bps-limit N] [--size BYTES] SRC DST
                 copy SRC to DST with the copy engine; no database needed`

func main() {
	cfg, args, err := service.Flags("cinder-manage", os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cinder-manage: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	failed := 1 // the exit status of a failure; volume audit keeps 1 for "they differ"
	switch {
	case len(args) >= 2 && args[0] == "volume" && args[1] == "copy":
		err = volumeCopy(ctx, args[2:], os.Stdout, newMeter(os.Stderr))
	case len(args) >= 2 && args[0] == "volume" && args[1] == "audit":
		failed = 2
		err = volumeAudit(ctx, cfg, args[2:], os.Stdout)
	default:
		err = run(ctx, cfg, args, os.Stdout)
	}
	stop()
	switch {
	case errors.Is(err, errDiffer):
		os.Exit(1)
	case err != nil:
		fmt.Fprintf(os.Stderr, "cinder-manage: %v\n", err)
		os.Exit(failed)
	}
}

// run runs the commands that work on the database.
func run(ctx context.Context, cfg *conf.Config, args []string, out io.Writer) (err error) {
	cmd := strings.Join(args, " ")
	switch cmd {
	case "db sync", "db version", "service list":
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	store, err := db.Open(ctx, cfg.DatabaseConnection)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); err == nil {
			err = cerr
		}
	}()
	switch cmd {
	case "db sync":
		v, err := store.Sync(ctx)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "database schema at version %d\n", v)
		return err
	case "db version":
		v, err := store.Version(ctx)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, v)
		return err
	}
	return listServices(ctx, cfg, store, out)
}

// listServices prints the services table as Cinder's cinder-manage does.
func listServices(ctx context.Context, cfg *conf.Config, store *db.DB, out io.Writer) error {
	services, err := store.ListServices(ctx, "", "")
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "Binary\tHost\tZone\tStatus\tState\tUpdated At\tCluster")
	now := time.Now()
	for _, s := range services {
		status, state := "enabled", ":-)"
		if s.Disabled {
			status = "disabled"
		}
		if !s.Up(now, cfg.ServiceDownTime) {
			state = "XXX"
		}
		updated := "None"
		if s.UpdatedAt != nil {
			updated = s.UpdatedAt.UTC().Format("2006-01-02 15:04:05")
		}
		cluster := s.ClusterName
		if cluster == "" {
			cluster = "None"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Binary, s.Host, s.AvailabilityZone, status, state, updated, cluster)
	}
	return w.Flush()
}
