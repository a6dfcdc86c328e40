package service

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/internal/testdb"
	"github.com/cinder-go/cinder/internal/testrpc"
	"github.com/cinder-go/cinder/manager"
	"github.com/cinder-go/cinder/rpc"
)

// volumeConfig is a cinder-volume configuration of thin backends named
// names on host node1, each with a volumes_dir of its own.
func volumeConfig(t *testing.T, names ...string) *conf.Config {
	cfg := &conf.Config{Host: "node1", ReportInterval: 50 * time.Millisecond, BackendStatsPollingInterval: time.Hour}
	for _, name := range names {
		cfg.Backends = append(cfg.Backends, &conf.Backend{Name: name, VolumeDriver: "thin", VolumeBackendName: name,
			VolumesDir: filepath.Join(t.TempDir(), "volumes"), MaxOverSubscriptionRatio: 20, VolumeClear: "none"})
	}
	return cfg
}

// runVolume runs RunVolume on a SQLite database and a fake transport whose
// calls time out after 200 ms, and returns the transport and RunVolume's
// error. It fails t when RunVolume returns only once ctx ended, or before
// starting the first backend.
func runVolume(ctx context.Context, t *testing.T, cfg *conf.Config) (*rpc.Transport, error) {
	t.Helper()
	store := testdb.SQLite(t)
	tr := testrpc.Dial(t, "", 200*time.Millisecond)
	err := RunVolume(ctx, cfg, store, tr)
	if ctx.Err() != nil {
		t.Fatalf("RunVolume returned %v only once its context ended", err)
	}
	if _, serr := store.GetService(ctx, "node1@"+cfg.Backends[0].Name, cinder.BinaryVolume); serr != nil {
		t.Fatalf("the first backend never registered: %v", serr)
	}
	return tr, err
}

// The second of two backends fails to start (its volumes_dir lies under a
// file): RunVolume returns that error without waiting for its context, and
// the first backend, which was serving, stops answering RPC.
func TestRunVolumeStopsBackendsWhenOneFailsToStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := volumeConfig(t, "good", "bad")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Backends[1].VolumesDir = filepath.Join(file, "volumes")

	tr, err := runVolume(ctx, t, cfg)
	if err == nil || !strings.Contains(err.Error(), "init backend node1@bad") {
		t.Fatalf("RunVolume = %v, want the failure to init node1@bad", err)
	}
	client := manager.NewClient(tr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := client.GetCapabilities(ctx, "node1@good", false); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node1@good still answers RPC after RunVolume returned")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A backend whose goroutine fails (its stats loop refuses a polling
// interval of 0) ends RunVolume with that error.
func TestRunVolumeReturnsWhenABackendFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := volumeConfig(t, "a", "b")
	cfg.BackendStatsPollingInterval = 0

	if _, err := runVolume(ctx, t, cfg); err == nil || !strings.Contains(err.Error(), "backend_stats_polling_interval must be positive") {
		t.Fatalf("RunVolume = %v, want the stats loop's failure", err)
	}
}
