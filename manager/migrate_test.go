package manager_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/internal/testdb"
	"github.com/cinder-go/cinder/internal/testfile"
	"github.com/cinder-go/cinder/rpc"
)

// logBuffer collects what slog writes during a test.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the lines logged so far holding every one of words.
func (l *logBuffer) lines(words ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range strings.Split(l.b.String(), "\n") {
		for _, w := range words {
			if !strings.Contains(line, w) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// captureLogs sends slog's output to a buffer until the test ends.
func captureLogs(t *testing.T) *logBuffer {
	buf := &logBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.MultiWriter(buf, os.Stderr), nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return buf
}

// copyLine returns the "copied volume" log line of volume id's one migration.
func copyLine(t *testing.T, logs *logBuffer, id string) string {
	t.Helper()
	lines := logs.lines(`msg="copied volume"`, "volume_id="+id)
	if len(lines) != 1 {
		t.Fatalf("copied volume lines of %s: %q, want one", id, lines)
	}
	return lines[0]
}

// created creates an available volume of size GiB on the backend with data
// written at its start, middle and last bytes, and returns it.
func (e *env) created(t *testing.T, size int) *cinder.Volume {
	t.Helper()
	ctx := context.Background()
	v := e.volume(t, e.pool(), cinder.StatusCreating, size)
	v, err := e.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		v.DisplayName, v.Metadata = "data", map[string]string{"kept": "yes"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.CreateVolume(ctx, v, nil); err != nil {
		t.Fatal(err)
	}
	v = e.waitStatus(t, v.ID, cinder.StatusAvailable)
	end := int64(size) << 30
	for _, off := range []int64{0, 5 << 20, end / 2, end - 1000} {
		data := make([]byte, min(64<<10, end-off))
		rand.Read(data)
		for i, b := range data {
			if b == 0xAA { // the stale byte of TestMigrateLeavesNoStaleData
				data[i] = 0x55
			}
		}
		clear(data[:min(len(data), 4096)]) // a zero block at the start of the data
		testfile.WriteAt(t, e.file(v), off, data)
	}
	return v
}

// volumeFiles names the volume files of the backend (released storage aside).
func (e *env) volumeFiles(t *testing.T) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(e.backend.VolumesDir, "volume-*"))
	if err != nil {
		t.Fatal(err)
	}
	return matches
}

// migrate starts v's migration to dest (see startMigration) and waits for
// it to end.
func migrate(t *testing.T, src *env, v *cinder.Volume, dest *env, lock bool) *cinder.Volume {
	t.Helper()
	startMigration(t, src, v, dest, lock)
	return testdb.WaitMigration(t, src.store, v.ID)
}

// startMigration starts v's migration to dest as the API and the scheduler
// do: previous_status, migration_status starting, status maintenance when
// lock.
func startMigration(t *testing.T, src *env, v *cinder.Volume, dest *env, lock bool) {
	t.Helper()
	ctx := context.Background()
	v, err := src.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		v.PreviousStatus, v.MigrationStatus = v.Status, cinder.MigrationStarting
		if lock {
			v.Status = cinder.StatusMaintenance
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	caps := map[string]any{"pool_name": dest.backend.VolumeBackendName}
	if err := src.client.MigrateVolume(ctx, v, dest.pool(), caps, true); err != nil {
		t.Fatal(err)
	}
}

// waitOnly polls until the only volume rows are ids.
func waitOnly(t *testing.T, store *db.DB, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		vols, err := store.ListVolumes(context.Background(), db.VolumeFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var have []string
		for _, v := range vols {
			have = append(have, v.ID)
		}
		if strings.Join(have, ",") == strings.Join(ids, ",") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume rows %v, want only %v", have, ids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitNoFiles polls until the backend holds no volume file.
func (e *env) waitNoFiles(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(e.volumeFiles(t)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("volume files left on %s: %v", e.mgr.Host(), e.volumeFiles(t))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLogged polls until a line holding every one of words is logged.
func waitLogged(t *testing.T, logs *logBuffer, words ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(logs.lines(words...)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no line logged with %q", words)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkMigrated checks that v, orig before its migration, moved to dest
// whole: same id, name, metadata and bytes (want), success, status back to
// orig's, no storage left on src and no other row. An available volume's
// storage takes its name; an in-use one keeps the target's (_name_id).
func checkMigrated(t *testing.T, src, dest *env, v *cinder.Volume, orig *cinder.Volume, want string) {
	t.Helper()
	if v.MigrationStatus != cinder.MigrationSuccess || v.Status != orig.Status || v.Host != dest.pool() {
		t.Fatalf("after migration: migration_status %q, status %q, host %q; want success, %s, %s",
			v.MigrationStatus, v.Status, v.Host, orig.Status, dest.pool())
	}
	if v.ID != orig.ID || v.DisplayName != orig.DisplayName || v.Metadata["kept"] != "yes" ||
		v.VolumeTypeID != orig.VolumeTypeID || v.Size != orig.Size || v.ProjectID != orig.ProjectID {
		t.Fatalf("migrated volume lost its identity: %+v, was %+v", v, orig)
	}
	if renamed := v.NameID == ""; renamed != (orig.Status == cinder.StatusAvailable) {
		t.Errorf("%s volume has _name_id %q after migration", orig.Status, v.NameID)
	}
	if got := testfile.Checksum(t, dest.file(v)); got != want {
		t.Fatalf("destination checksum %s, source was %s", got, want)
	}
	if files := src.volumeFiles(t); len(files) != 0 {
		t.Errorf("storage left on the source: %v", files)
	}
	if files := dest.volumeFiles(t); len(files) != 1 {
		t.Errorf("destination files %v, want the volume's only", files)
	}
	waitOnly(t, src.store, v.ID)
}

func TestMigrateAllPairs(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		toHost   string
		mode     string
	}{
		{"thin", "thick", "node1", "full"},
		{"thick", "thin", "node1", "sparse"},
		{"thin", "thin", "node2", "sparse"},
		{"thick", "thick", "node2", "full"},
	} {
		t.Run(tc.from+"-to-"+tc.to+"@"+tc.toHost, func(t *testing.T) {
			logs := captureLogs(t)
			s := newSite(t)
			src := s.add(t, "node1", "src", tc.from)
			dest := s.add(t, tc.toHost, "dest", tc.to)
			src.start(t)
			dest.start(t)
			v := src.created(t, 1)
			want := testfile.Checksum(t, src.file(v))

			got := migrate(t, src, v, dest, true)
			checkMigrated(t, src, dest, got, v, want)
			line := copyLine(t, logs, v.ID)
			if !strings.Contains(line, " mode="+tc.mode+" ") {
				t.Errorf("copy logged %q, want mode=%s", line, tc.mode)
			}
			if len(logs.lines("migration_status=completing", "volume_id="+v.ID)) != 1 {
				t.Error("the migration_status transitions are not logged with the volume id")
			}
		})
	}
}

// A volume migrates there and back, available then in use: the in-use
// one's storage keeps the target's name, which the next migration deletes.
func TestMigrateThereAndBack(t *testing.T) {
	s := newSite(t)
	a, b := s.add(t, "node1", "a", "thin"), s.add(t, "node2", "b", "thick")
	a.start(t)
	b.start(t)
	v := a.created(t, 1)
	want := testfile.Checksum(t, a.file(v))
	v = migrate(t, a, v, b, false)
	checkMigrated(t, a, b, v, v, want)

	v, err := s.store.UpdateVolume(context.Background(), v.ID, func(v *cinder.Volume) error {
		v.Status, v.AttachStatus = cinder.StatusInUse, "attached"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := migrate(t, b, v, a, false)
	checkMigrated(t, b, a, got, v, want)

	v, err = s.store.UpdateVolume(context.Background(), v.ID, func(v *cinder.Volume) error {
		v.Status, v.AttachStatus = cinder.StatusAvailable, "detached"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkMigrated(t, a, b, migrate(t, a, v, b, false), v, want)
}

// A thick destination whose released storage holds old bytes: a migration
// onto it (a full copy) leaves not one of them.
func TestMigrateLeavesNoStaleData(t *testing.T) {
	logs := captureLogs(t)
	s := newSite(t)
	src := s.add(t, "node1", "thin", "thin")
	dest := s.add(t, "node1", "thick", "thick") // volume_clear none
	src.start(t)
	dest.start(t)
	ctx := context.Background()

	old := dest.created(t, 1)
	f, err := os.OpenFile(dest.file(old), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	stale := bytes.Repeat([]byte{0xAA}, 16<<20)
	for off := int64(0); off < 1<<30; off += int64(len(stale)) {
		if _, err := f.WriteAt(stale, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dest.setStatus(t, old, cinder.StatusDeleting)
	if err := dest.client.DeleteVolume(ctx, old, false); err != nil {
		t.Fatal(err)
	}
	dest.waitStatus(t, old.ID, "gone")

	v := src.created(t, 1)
	want := testfile.Checksum(t, src.file(v))
	got := migrate(t, src, v, dest, false)
	checkMigrated(t, src, dest, got, v, want)
	data, err := os.ReadFile(dest.file(got))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte{0xAA}); n != 0 {
		t.Fatalf("%d stale 0xAA bytes on the destination", n)
	}
	if line := copyLine(t, logs, v.ID); !strings.Contains(line, "mode=full") ||
		!strings.Contains(line, `reason="destination reports sparse_copy_volume false"`) {
		t.Errorf("copy logged %q, want a full copy because of sparse_copy_volume false", line)
	}
}

// A destination that cannot vouch for zeroed volumes gets a full copy: its
// get_capabilities fails, hangs past the call timeout or lacks
// sparse_copy_volume. The migration still succeeds.
func TestMigrateCopiesInFullWhenInDoubt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer rpc.Handler
		reason string
	}{
		{"error", func(ctx context.Context, _ json.RawMessage) (any, error) {
			return nil, cinder.VolumeBackendAPIException("backend is busy")
		}, "destination did not answer get_capabilities: "},
		{"timeout", func(ctx context.Context, _ json.RawMessage) (any, error) {
			time.Sleep(time.Second)
			return map[string]any{"sparse_copy_volume": true}, nil
		}, "destination did not answer get_capabilities: call get_capabilities on \\\"node2@dest#dest\\\": timed out after"},
		{"missing", func(ctx context.Context, _ json.RawMessage) (any, error) {
			return map[string]any{"volume_backend_name": "dest"}, nil
		}, "answer lacks sparse_copy_volume"},
		{"not a bool", func(ctx context.Context, _ json.RawMessage) (any, error) {
			return map[string]any{"sparse_copy_volume": "True"}, nil
		}, "destination reports sparse_copy_volume True"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := captureLogs(t)
			s := newSite(t)
			src := s.add(t, "node1", "src", "thin", func(e *env) { e.cfg.RPCResponseTimeout = 300 * time.Millisecond })
			dest := s.add(t, "node2", "dest", "thin")
			src.start(t)
			dest.startWith(t, func(ep rpc.Endpoint) { ep.Methods["get_capabilities"] = tc.answer })
			v := src.created(t, 1)
			want := testfile.Checksum(t, src.file(v))

			checkMigrated(t, src, dest, migrate(t, src, v, dest, false), v, want)
			line := copyLine(t, logs, v.ID)
			if !strings.Contains(line, "mode=full") || !strings.Contains(line, tc.reason) {
				t.Errorf("copy logged %q, want mode=full and reason %q", line, tc.reason)
			}
		})
	}
}

// checkFailed checks that v's migration failed and left v as it was (bytes
// want, status back to available, on src) with nothing of it on dest.
func checkFailed(t *testing.T, src, dest *env, v *cinder.Volume, want string) {
	t.Helper()
	got := testdb.WaitMigration(t, src.store, v.ID)
	if got.MigrationStatus != cinder.MigrationError || got.Status != cinder.StatusAvailable ||
		got.Host != v.Host || got.NameID != "" {
		t.Fatalf("after a failed migration: migration_status %q, status %q, host %q, _name_id %q; want error, available, %s",
			got.MigrationStatus, got.Status, got.Host, got.NameID, v.Host)
	}
	if sum := testfile.Checksum(t, src.file(v)); sum != want {
		t.Fatal("the source's bytes changed")
	}
	waitOnly(t, src.store, v.ID)
	dest.waitNoFiles(t)
}

func TestMigrateCreateFailure(t *testing.T) {
	logs := captureLogs(t)
	s := newSite(t)
	src := s.add(t, "node1", "thin", "thin")
	dest := s.add(t, "node1", "thick", "thick", func(e *env) { e.backend.TotalCapacityGB = 1 })
	src.start(t)
	dest.start(t)
	v := src.created(t, 2)
	want := testfile.Checksum(t, src.file(v))

	migrate(t, src, v, dest, true)
	checkFailed(t, src, dest, v, want)
	if len(logs.lines(`msg="failed to migrate volume"`, "volume_id="+v.ID, "failed to create it")) != 1 {
		t.Error("the failure is not logged with the volume id and its cause")
	}
}

// A destination that stopped answering: create_volume waits in its queue,
// the source gives up after migration_create_volume_timeout_secs and
// nothing is left, not even once the destination comes back.
func TestMigrateCreateTimeout(t *testing.T) {
	logs := captureLogs(t)
	s := newSite(t)
	src := s.add(t, "node1", "thin", "thin", func(e *env) { e.cfg.MigrationCreateVolumeTimeout = 300 * time.Millisecond })
	dest := s.add(t, "node2", "thin", "thin")
	src.start(t)
	dest.startWith(t, nil).Stop()
	v := src.created(t, 1)
	want := testfile.Checksum(t, src.file(v))

	migrate(t, src, v, dest, false)
	checkFailed(t, src, dest, v, want)
	if len(logs.lines("volume_id="+v.ID, "after migration_create_volume_timeout_secs")) == 0 {
		t.Error("the timeout is not logged")
	}

	dest.serve(t, nil) // the queued create_volume now finds its volume gone
	waitLogged(t, logs, "volume to create no longer exists")
	dest.waitNoFiles(t)
}

// slowCreate is a driver that holds each volume it created until released,
// as a destination creating a volume too slowly.
type slowCreate struct {
	drivers.Driver
	created chan struct{}
	release chan struct{}
}

func (d *slowCreate) CreateVolume(ctx context.Context, v *cinder.Volume) error {
	err := d.Driver.CreateVolume(ctx, v)
	close(d.created)
	<-d.release
	return err
}

// A destination that creates the volume only after the source gave up
// removes that storage: the row it would make available is gone.
func TestMigrateLateCreateIsUndone(t *testing.T) {
	logs := captureLogs(t)
	s := newSite(t)
	src := s.add(t, "node1", "thin", "thin", func(e *env) { e.cfg.MigrationCreateVolumeTimeout = 300 * time.Millisecond })
	slow := &slowCreate{created: make(chan struct{}), release: make(chan struct{})}
	dest := s.add(t, "node1", "thick", "thick", func(e *env) { slow.Driver = e.drv; e.drv = slow })
	src.start(t)
	dest.start(t)
	ctx := context.Background()
	v := src.volume(t, src.pool(), cinder.StatusCreating, 1)
	if err := src.client.CreateVolume(ctx, v, nil); err != nil {
		t.Fatal(err)
	}
	v = src.waitStatus(t, v.ID, cinder.StatusAvailable)
	want := testfile.Checksum(t, src.file(v))

	migrate(t, src, v, dest, false)
	<-slow.created
	if len(dest.volumeFiles(t)) != 1 {
		t.Fatalf("the slow destination created %v", dest.volumeFiles(t))
	}
	close(slow.release)
	checkFailed(t, src, dest, v, want)
	if len(logs.lines("volume was destroyed while being created")) != 1 {
		t.Error("the destination did not log undoing its late create")
	}
}

// countTerminate is a driver counting TerminateConnection calls.
type countTerminate struct {
	drivers.Driver
	n atomic.Int32
}

func (d *countTerminate) TerminateConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) error {
	d.n.Add(1)
	return d.Driver.TerminateConnection(ctx, v, connector)
}

// A copy that fails (here the destination's device is too small) fails the
// migration, detaches both volumes and deletes the destination volume.
func TestMigrateCopyFailure(t *testing.T) {
	logs := captureLogs(t)
	s := newSite(t)
	srcDrv := &countTerminate{}
	src := s.add(t, "node1", "thin", "thin", func(e *env) { srcDrv.Driver = e.drv; e.drv = srcDrv })
	dest := s.add(t, "node2", "thick", "thick")
	src.start(t)
	small := filepath.Join(t.TempDir(), "small")
	if err := os.WriteFile(small, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	var destTerminated atomic.Int32
	dest.startWith(t, func(ep rpc.Endpoint) {
		ep.Methods["initialize_connection"] = func(ctx context.Context, raw json.RawMessage) (any, error) {
			return cinder.ConnectionInfo{DriverVolumeType: "local", Data: map[string]any{"device_path": small}}, nil
		}
		terminate := ep.Methods["terminate_connection"]
		ep.Methods["terminate_connection"] = func(ctx context.Context, raw json.RawMessage) (any, error) {
			destTerminated.Add(1)
			return terminate(ctx, raw)
		}
	})
	v := src.created(t, 1)
	want := testfile.Checksum(t, src.file(v))

	migrate(t, src, v, dest, false)
	checkFailed(t, src, dest, v, want)
	if srcDrv.n.Load() != 1 || destTerminated.Load() != 1 {
		t.Errorf("connections terminated: source %d, destination %d; want 1 each", srcDrv.n.Load(), destTerminated.Load())
	}
	if len(logs.lines(`msg="failed to copy volume"`, "volume_id="+v.ID)) != 1 {
		t.Error("the copy failure is not logged with the volume id")
	}
}

// An admin takes a migration over mid-copy, as os-reset_status does: a
// plain update of the source's migration_status to error. The source stops
// copying at its next progress check, deletes the target it created, row
// and storage, and leaves the source volume's bytes, host and statuses as
// they are: the admin's now.
func TestMigrateTakenOver(t *testing.T) {
	logs := captureLogs(t)
	s := newSite(t)
	// Paced so that the copy lasts seconds: the take-over comes mid-copy.
	src := s.add(t, "node1", "src", "thin", func(e *env) { e.backend.VolumeCopyBPSLimit = 64 << 10 })
	src.mgr.SetProgressInterval(20 * time.Millisecond)
	dest := s.add(t, "node2", "dest", "thin")
	src.start(t)
	dest.start(t)
	ctx := context.Background()
	v := src.created(t, 1)
	want := testfile.Checksum(t, src.file(v))

	startMigration(t, src, v, dest, true)
	waitLogged(t, logs, `msg="copying volume"`, "volume_id="+v.ID)
	targets, err := s.store.ListVolumes(ctx, db.VolumeFilter{Migrations: []string{cinder.MigrationTarget(v.ID)}})
	if err != nil || len(targets) != 1 {
		t.Fatalf("targets of the migration: %v, %v; want one", targets, err)
	}
	nv := targets[0]
	if _, err := s.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		v.MigrationStatus = cinder.MigrationError
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	waitLogged(t, logs, "volume migration was taken over", "volume_id="+v.ID)
	dest.waitStatus(t, nv.ID, "gone")
	dest.waitNoFiles(t)
	got, err := s.store.GetVolume(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != cinder.StatusMaintenance || got.MigrationStatus != cinder.MigrationError || got.Host != v.Host || got.NameID != "" {
		t.Errorf("source after the take-over: status %q, migration_status %q, host %q, _name_id %q; want maintenance, error, %s",
			got.Status, got.MigrationStatus, got.Host, got.NameID, v.Host)
	}
	if sum := testfile.Checksum(t, src.file(v)); sum != want {
		t.Error("the source's bytes changed")
	}
	waitOnly(t, s.store, v.ID)
	if len(logs.lines(`msg="stopped copying volume: its migration was taken over"`, "volume_id="+v.ID)) != 1 ||
		len(logs.lines(`msg="copied volume"`, "volume_id="+v.ID)) != 0 {
		t.Error("the copy did not stop at the take-over")
	}
}

// target creates v's migration target on dest as the source would, and
// waits until it is available.
func target(t *testing.T, src, dest *env, v *cinder.Volume) *cinder.Volume {
	t.Helper()
	ctx := context.Background()
	nv := &cinder.Volume{ProjectID: v.ProjectID, UserID: v.UserID, Size: v.Size, Status: cinder.StatusCreating,
		AttachStatus: "detached", Host: dest.pool(), AvailabilityZone: "nova", MigrationStatus: cinder.MigrationTarget(v.ID)}
	if err := dest.store.CreateVolume(ctx, nv); err != nil {
		t.Fatal(err)
	}
	if err := dest.client.CreateVolume(ctx, nv, nil); err != nil {
		t.Fatal(err)
	}
	return dest.waitStatus(t, nv.ID, cinder.StatusAvailable)
}

// os-migrate_volume_completion's RPC: the source swaps in a target whose
// bytes someone else copied, or deletes it when told of an error.
func TestMigrateVolumeCompletion(t *testing.T) {
	ctx := context.Background()
	s := newSite(t)
	src, dest := s.add(t, "node1", "thin", "thin"), s.add(t, "node2", "thick", "thick")
	src.start(t)
	dest.start(t)
	migrating := func(v *cinder.Volume) *cinder.Volume {
		v, err := s.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
			v.PreviousStatus, v.MigrationStatus = v.Status, cinder.MigrationMigrating
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	v := migrating(src.created(t, 1))
	nv := target(t, src, dest, v)
	if _, err := s.client.MigrateVolumeCompletion(ctx, v, v, false); cinder.Code(err) != 400 {
		t.Errorf("completion with a new volume that is not the target = %v, want 400", err)
	}
	id, err := s.client.MigrateVolumeCompletion(ctx, v, nv, true)
	if err != nil || id != v.ID {
		t.Fatalf("completion with error = %q, %v; want %s", id, err, v.ID)
	}
	checkFailed(t, src, dest, v, testfile.Checksum(t, src.file(v)))

	v = migrating(v)
	nv = target(t, src, dest, v)
	testfile.WriteAt(t, dest.file(nv), 1<<20, []byte("copied by someone else"))
	want := testfile.Checksum(t, dest.file(nv))
	id, err = s.client.MigrateVolumeCompletion(ctx, v, nv, false)
	if err != nil || id != v.ID {
		t.Fatalf("completion = %q, %v; want %s", id, err, v.ID)
	}
	got, err := s.store.GetVolume(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkMigrated(t, src, dest, got, v, want)
}

func TestInitRecoversMigrations(t *testing.T) {
	ctx := context.Background()
	s := newSite(t)
	e := s.add(t, "node1", "thin", "thin")
	other := s.add(t, "node2", "thick", "thick")
	set := func(v *cinder.Volume, change func(v *cinder.Volume)) *cinder.Volume {
		v, err := s.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error { change(v); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	locked := set(e.volume(t, e.pool(), cinder.StatusMaintenance, 1), func(v *cinder.Volume) {
		v.PreviousStatus, v.MigrationStatus = cinder.StatusAvailable, cinder.MigrationMigrating
	})
	starting := set(e.volume(t, e.pool(), cinder.StatusAvailable, 1), func(v *cinder.Volume) {
		v.PreviousStatus, v.MigrationStatus = cinder.StatusAvailable, cinder.MigrationStarting
	})
	source := set(other.volume(t, other.pool(), cinder.StatusAvailable, 1), func(v *cinder.Volume) {
		v.MigrationStatus = cinder.MigrationMigrating
	})
	interrupted := set(e.volume(t, e.pool(), cinder.StatusAvailable, 1), func(v *cinder.Volume) {
		v.MigrationStatus = cinder.MigrationTarget(source.ID)
	})
	completing := set(other.volume(t, other.pool(), cinder.StatusAvailable, 1), func(v *cinder.Volume) {
		v.MigrationStatus = cinder.MigrationCompleting
	})
	kept := set(e.volume(t, e.pool(), cinder.StatusAvailable, 1), func(v *cinder.Volume) {
		v.MigrationStatus = cinder.MigrationTarget(completing.ID)
	})
	if err := os.MkdirAll(e.backend.VolumesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range []*cinder.Volume{interrupted, kept} {
		if err := os.WriteFile(e.file(v), []byte("data"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.start(t)

	for _, tc := range []struct {
		v                 *cinder.Volume
		status, migration string
	}{
		{locked, cinder.StatusAvailable, cinder.MigrationError},
		{starting, cinder.StatusAvailable, cinder.MigrationError},
		{kept, cinder.StatusAvailable, cinder.MigrationTarget(completing.ID)},
	} {
		got, err := s.store.GetVolume(ctx, tc.v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != tc.status || got.MigrationStatus != tc.migration {
			t.Errorf("volume left %s/%s: now %s/%s, want %s/%s", tc.v.Status, tc.v.MigrationStatus,
				got.Status, got.MigrationStatus, tc.status, tc.migration)
		}
	}
	if _, err := s.store.GetVolume(ctx, interrupted.ID); !cinder.IsNotFound(err) {
		t.Errorf("target of an interrupted migration: %v, want gone", err)
	}
	if _, err := os.Stat(e.file(interrupted)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("storage of the interrupted target: %v, want gone", err)
	}
	if _, err := os.Stat(e.file(kept)); err != nil {
		t.Errorf("storage of the target of a completing migration: %v, want kept", err)
	}
}
