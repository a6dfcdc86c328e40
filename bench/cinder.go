package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder/internal/deploy"
	"github.com/cinder-go/cinder/internal/proc"
)

// backends are the bench deployments' backends: thin on hostA, thin2 on
// hostB, and thick on hostA, not scrubbed on delete so that migrations away
// from it cost nothing extra. thin's larger capacity makes the scheduler
// place new volumes there. Both thin backends take two 1 TiB volumes within
// max_over_subscription_ratio (20): L moves its volume back to thin2 before
// thin2's next stats report, so the scheduler still counts the last one.
var backends = []deploy.Backend{
	{Name: "thin", Options: "volume_driver = thin\ntotal_capacity_gb = 1000\n"},
	{Name: "thin2", Options: "volume_driver = thin\nbackend_host = hostB\ntotal_capacity_gb = 500\n"},
	{Name: "thick", Options: "volume_driver = thick\nvolume_clear = none\n"},
}

// Errors of the API that callers act on.
var (
	errNotFound = errors.New("not found") // 404
)

// cinder is a deployment the benchmark runs: cinder-all, or the services
// as separate processes.
type cinder struct {
	dir      string
	endpoint string // http://127.0.0.1:port/v3/admin
	procs    []*exec.Cmd
	client   *http.Client
}

// startCinder writes a cinder.conf for transport under dir, starts
// binaries from bins with it, and waits until every backend reports to the
// scheduler.
func startCinder(ctx context.Context, bins, dir, transport string, binaries ...string) (*cinder, error) {
	return startCinderOn(ctx, bins, dir, transport, "", binaries...)
}

// startCinderOn is startCinder with database as [database] connection
// ("" for SQLite in dir).
func startCinderOn(ctx context.Context, bins, dir, transport, database string, binaries ...string) (*cinder, error) {
	port, err := deploy.FreePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cinder state dir: %w", err)
	}
	conf := filepath.Join(dir, "cinder.conf")
	err = deploy.Conf{
		StatePath: dir,
		Transport: transport,
		Exchange:  "cinder-bench-" + uuid.NewString()[:8],
		Port:      port,
		Database:  database,
		Default:   "report_interval = 10\nservice_down_time = 60\nbackend_stats_polling_interval = 5\nrpc_response_timeout = 60\nquota_gigabytes = -1\n",
		Backends:  backends,
	}.Write(conf)
	if err != nil {
		return nil, fmt.Errorf("write cinder.conf: %w", err)
	}
	c := &cinder{dir: dir, endpoint: fmt.Sprintf("http://127.0.0.1:%d/v3/admin", port), client: &http.Client{Timeout: 60 * time.Second}}
	for _, name := range binaries {
		if err := c.start(filepath.Join(bins, name), conf); err != nil {
			c.stop()
			return nil, err
		}
	}
	if err := c.waitReady(ctx, len(backends)); err != nil {
		c.stop()
		return nil, c.failed(err)
	}
	return c, nil
}

// start runs binary with conf, logging to dir/<binary>.log.
func (c *cinder) start(binary, conf string) error {
	cmd, err := proc.Start(binary, filepath.Join(c.dir, filepath.Base(binary)+".log"), "--config-file", conf)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, cmd)
	return nil
}

// stop ends the processes with SIGTERM, then SIGKILL after 10 s.
func (c *cinder) stop() {
	for _, p := range c.procs {
		proc.Stop(p, 10*time.Second)
	}
	c.procs = nil
}

// failed logs the end of each process's log, to explain err, and returns err.
func (c *cinder) failed(err error) error {
	logs, _ := filepath.Glob(filepath.Join(c.dir, "*.log"))
	for _, l := range logs {
		text, _ := os.ReadFile(l)
		slog.Error("cinder failed", "err", err, "log", filepath.Base(l), "tail", string(text[max(0, len(text)-3000):]))
	}
	return err
}

// waitReady waits until get_pools lists n pools.
func (c *cinder) waitReady(ctx context.Context, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		var out struct{ Pools []any }
		err := c.call(ctx, "GET", "/scheduler-stats/get_pools", nil, &out)
		if err == nil && len(out.Pools) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cinder not ready after 60 s: get_pools %v, %d pools", err, len(out.Pools))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// call sends a request as admin and decodes a 2xx answer into out (if not nil).
func (c *cinder) call(ctx context.Context, method, path string, body, out any) error {
	status, raw, err := deploy.Request(ctx, c.client, "admin:admin", method, c.endpoint+path, body)
	switch {
	case err != nil:
		return err
	case status == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w: %s", method, path, errNotFound, raw)
	case status/100 != 2:
		return fmt.Errorf("%s %s: status %d: %s", method, path, status, raw)
	case out == nil || len(raw) == 0:
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// volume is the part of a volume's admin view the benchmark reads.
type volume struct {
	ID              string `json:"id"`
	Status          string `json:"status"`
	MigrationStatus string `json:"migration_status"`
	Host            string `json:"os-vol-host-attr:host"`
}

// createVolume asks for a volume of gib GiB and returns its id.
func (c *cinder) createVolume(ctx context.Context, gib int) (string, error) {
	var out struct{ Volume volume }
	body := map[string]any{"volume": map[string]any{"size": gib, "name": "bench-" + uuid.NewString()[:8]}}
	if err := c.call(ctx, "POST", "/volumes", body, &out); err != nil {
		return "", err
	}
	return out.Volume.ID, nil
}

// volume returns volume id's current state.
func (c *cinder) volume(ctx context.Context, id string) (volume, error) {
	var out struct{ Volume volume }
	err := c.call(ctx, "GET", "/volumes/"+id, nil, &out)
	return out.Volume, err
}

// poll reads volume id every interval until done says it is finished,
// failing after timeout.
func (c *cinder) poll(ctx context.Context, id string, interval, timeout time.Duration, done func(volume) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		v, err := c.volume(ctx, id)
		if err != nil {
			return err
		}
		if ok, err := done(v); ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("volume %s: still %s (migration %q) after %s", id, v.Status, v.MigrationStatus, timeout)
		}
		time.Sleep(interval)
	}
}

// waitAvailable polls volume id every interval until it is available.
func (c *cinder) waitAvailable(ctx context.Context, id string, interval time.Duration) error {
	return c.poll(ctx, id, interval, time.Minute, func(v volume) (bool, error) {
		if strings.HasPrefix(v.Status, "error") {
			return false, fmt.Errorf("volume %s went to %s", id, v.Status)
		}
		return v.Status == "available", nil
	})
}

// deleteVolume deletes volume id and waits until it is gone.
func (c *cinder) deleteVolume(ctx context.Context, id string) error {
	if err := c.call(ctx, "DELETE", "/volumes/"+id, nil, nil); err != nil {
		return err
	}
	err := c.poll(ctx, id, 10*time.Millisecond, time.Minute, func(v volume) (bool, error) {
		if v.Status == "error_deleting" {
			return false, fmt.Errorf("volume %s: error_deleting", id)
		}
		return false, nil
	})
	if errors.Is(err, errNotFound) {
		return nil
	}
	return err
}

// devicePath returns the path holding volume id's bytes, from os-initialize_connection.
func (c *cinder) devicePath(ctx context.Context, id string) (string, error) {
	var out struct {
		ConnectionInfo struct {
			Data struct {
				DevicePath string `json:"device_path"`
			} `json:"data"`
		} `json:"connection_info"`
	}
	body := map[string]any{"os-initialize_connection": map[string]any{"connector": map[string]any{"host": "bench"}}}
	if err := c.call(ctx, "POST", "/volumes/"+id+"/action", body, &out); err != nil {
		return "", err
	}
	if out.ConnectionInfo.Data.DevicePath == "" {
		return "", fmt.Errorf("volume %s: connection info without a device_path", id)
	}
	return out.ConnectionInfo.Data.DevicePath, nil
}

// migrate moves volume id to host and returns the time from the action to
// migration_status success.
func (c *cinder) migrate(ctx context.Context, id, host string) (time.Duration, error) {
	start := time.Now()
	body := map[string]any{"os-migrate_volume": map[string]any{"host": host}}
	if err := c.call(ctx, "POST", "/volumes/"+id+"/action", body, nil); err != nil {
		return 0, err
	}
	err := c.poll(ctx, id, 5*time.Millisecond, 10*time.Minute, func(v volume) (bool, error) {
		if v.MigrationStatus == "error" {
			return false, fmt.Errorf("migration of %s to %s ended in error", id, host)
		}
		return v.MigrationStatus == "success", nil
	})
	return time.Since(start), err
}

// place makes sure volume id is on backend host (host@backend), migrating
// it there if the scheduler put it elsewhere.
func (c *cinder) place(ctx context.Context, id, host string) error {
	v, err := c.volume(ctx, id)
	if err != nil || strings.HasPrefix(v.Host, host+"#") {
		return err
	}
	_, err = c.migrate(ctx, id, host)
	return err
}
