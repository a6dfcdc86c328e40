package manager_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/internal/testfile"
)

// snapshot inserts a snapshot row of v with status.
func (e *env) snapshot(t *testing.T, v *cinder.Volume, status string) *cinder.Snapshot {
	t.Helper()
	s := &cinder.Snapshot{VolumeID: v.ID, ProjectID: v.ProjectID, Status: status, VolumeSize: v.Size, Progress: "0%"}
	if err := e.store.CreateSnapshot(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitSnapshot polls until snapshot id has status ("gone" for destroyed).
func (e *env) waitSnapshot(t *testing.T, id, status string) *cinder.Snapshot {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := e.store.GetSnapshot(context.Background(), id)
		switch {
		case status == "gone" && cinder.IsNotFound(err):
			return nil
		case err != nil && !cinder.IsNotFound(err):
			t.Fatal(err)
		case err == nil && s.Status == status:
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot %s: want %s, have %+v (err %v)", id, status, s, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// write puts b at off of v's storage.
func (e *env) write(t *testing.T, v *cinder.Volume, b []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(e.file(v), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// createAndWait casts create_volume for a creating row and waits until available.
func (e *env) createAndWait(t *testing.T, v *cinder.Volume) {
	t.Helper()
	if err := e.client.CreateVolume(context.Background(), v, map[string]any{"volume_id": v.ID}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, v.ID, cinder.StatusAvailable)
}

// TestSnapshotFlows takes a snapshot, makes a volume of it and a clone of
// the volume, reverts the volume to the snapshot and deletes it all, on
// thin and thick, comparing bytes by checksum at each step.
func TestSnapshotFlows(t *testing.T) {
	for _, kind := range []string{"thin", "thick"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind)
			e.start(t)
			ctx := context.Background()
			pool := e.pool()
			v := e.volume(t, pool, cinder.StatusCreating, 1)
			e.createAndWait(t, v)
			e.write(t, v, []byte("before the snapshot"), 1<<20)
			before := testfile.Checksum(t, e.file(v))

			s := e.snapshot(t, v, cinder.SnapshotCreating)
			if err := e.client.CreateSnapshot(ctx, v, s); err != nil {
				t.Fatal(err)
			}
			if s = e.waitSnapshot(t, s.ID, cinder.SnapshotAvailable); s.Progress != "100%" {
				t.Fatalf("snapshot progress %q", s.Progress)
			}
			e.write(t, v, []byte("after the snapshot!"), 1<<20)
			after := testfile.Checksum(t, e.file(v))

			fromSnap := e.volume(t, pool, cinder.StatusCreating, 1)
			fromSnap.SnapshotID = s.ID
			if _, err := e.store.UpdateVolume(ctx, fromSnap.ID, func(x *cinder.Volume) error { x.SnapshotID = s.ID; return nil }); err != nil {
				t.Fatal(err)
			}
			e.createAndWait(t, fromSnap)
			if got := testfile.Checksum(t, e.file(fromSnap)); got != before {
				t.Fatal("volume from the snapshot differs from the volume when snapshotted")
			}
			clone := e.volume(t, pool, cinder.StatusCreating, 1)
			if _, err := e.store.UpdateVolume(ctx, clone.ID, func(x *cinder.Volume) error { x.SourceVolID = v.ID; return nil }); err != nil {
				t.Fatal(err)
			}
			e.createAndWait(t, clone)
			if got := testfile.Checksum(t, e.file(clone)); got != after {
				t.Fatal("clone differs from its source")
			}

			e.setStatus(t, v, cinder.StatusReverting)
			if err := e.client.RevertToSnapshot(ctx, v, s); err != nil {
				t.Fatal(err)
			}
			e.waitStatus(t, v.ID, cinder.StatusAvailable)
			e.waitSnapshot(t, s.ID, cinder.SnapshotAvailable)
			if got := testfile.Checksum(t, e.file(v)); got != before {
				t.Fatal("reverted volume differs from its snapshot")
			}

			// A cascade delete takes the snapshot with the volume.
			e.setStatus(t, v, cinder.StatusDeleting)
			if err := e.client.DeleteVolume(ctx, v, true); err != nil {
				t.Fatal(err)
			}
			e.waitStatus(t, v.ID, "gone")
			e.waitSnapshot(t, s.ID, "gone")
			left, err := filepath.Glob(filepath.Join(e.backend.VolumesDir, "snapshot-*"))
			if err != nil || len(left) != 0 {
				t.Fatalf("snapshot storage left: %v, %v", left, err)
			}
		})
	}
}

func TestDeleteSnapshot(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	ctx := context.Background()
	v := e.volume(t, e.pool(), cinder.StatusCreating, 1)
	e.createAndWait(t, v)
	s := e.snapshot(t, v, cinder.SnapshotCreating)
	if err := e.client.CreateSnapshot(ctx, v, s); err != nil {
		t.Fatal(err)
	}
	e.waitSnapshot(t, s.ID, cinder.SnapshotAvailable)
	if _, err := e.store.UpdateSnapshot(ctx, s.ID, func(s *cinder.Snapshot) error { s.Status = cinder.SnapshotDeleting; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := e.client.DeleteSnapshot(ctx, v, s); err != nil {
		t.Fatal(err)
	}
	e.waitSnapshot(t, s.ID, "gone")
	if _, err := os.Stat(filepath.Join(e.backend.VolumesDir, s.Name())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("snapshot storage after delete: %v", err)
	}
}

// TestInitRecoversSnapshots: a backend restarted with a snapshot left
// creating sets it to error without storage, one left deleting deletes it,
// and a volume left reverting goes to error with its snapshot available.
// Another backend's snapshot left creating is that backend's to recover.
func TestInitRecoversSnapshots(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	v := e.volume(t, e.pool(), cinder.StatusCreating, 1)
	e.createAndWait(t, v)
	creating := e.snapshot(t, v, cinder.SnapshotCreating)
	deleting := e.snapshot(t, v, cinder.SnapshotDeleting)
	restoring := e.snapshot(t, v, cinder.SnapshotRestoring)
	e.setStatus(t, v, cinder.StatusReverting)
	other := e.snapshot(t, e.volume(t, "hostB@thin#thin", cinder.StatusAvailable, 1), cinder.SnapshotCreating)
	if err := e.mgr.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.waitSnapshot(t, creating.ID, cinder.SnapshotError)
	e.waitSnapshot(t, deleting.ID, "gone")
	e.waitSnapshot(t, restoring.ID, cinder.SnapshotAvailable)
	e.waitStatus(t, v.ID, cinder.StatusError)
	if s, err := e.store.GetSnapshot(context.Background(), other.ID); err != nil || s.Status != cinder.SnapshotCreating {
		t.Errorf("another backend's snapshot left creating = %+v, %v; want it left creating", s, err)
	}
}

// TestRecoveryDoesNotWaitOnASibling: in cinder-all the backends start one
// after another, so a source recovering an interrupted migration finds its
// target's backend not serving yet. Its recovery must not wait for that
// backend (it used to wait 10 s for a queue, holding its own start and
// answering 503 meanwhile): the target stays deleting, and the sibling's
// own start deletes it.
func TestRecoveryDoesNotWaitOnASibling(t *testing.T) {
	s := newSite(t)
	src := s.add(t, "node1", "a", "thin")
	dst := s.add(t, "node1", "b", "thin")
	v := src.volume(t, src.pool(), cinder.StatusAvailable, 1)
	if _, err := s.store.UpdateVolume(context.Background(), v.ID, func(v *cinder.Volume) error {
		v.MigrationStatus, v.PreviousStatus = cinder.MigrationMigrating, cinder.StatusAvailable
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	target := dst.volume(t, dst.pool(), cinder.StatusAvailable, 1)
	if _, err := s.store.UpdateVolume(context.Background(), target.ID, func(t *cinder.Volume) error {
		t.MigrationStatus = cinder.MigrationTarget(v.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Well under the 10 s an unserved queue is waited for.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := src.mgr.Init(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("the source's start waited on its sibling: %v, %v", err, ctx.Err())
	}
	if got := src.waitStatus(t, v.ID, cinder.StatusAvailable); got.MigrationStatus != cinder.MigrationError {
		t.Fatalf("source after recovery: %+v", got)
	}
	dst.waitStatus(t, target.ID, cinder.StatusDeleting)
	dst.start(t)
	dst.waitStatus(t, target.ID, "gone")
}

// TestSnapshotConnection: initialize_connection_snapshot answers the path
// of a snapshot's bytes as they were when it was taken, though its volume
// changed since; terminate_connection_snapshot and remove_export_snapshot
// withdraw it, and an unknown snapshot is SnapshotNotFound.
func TestSnapshotConnection(t *testing.T) {
	for _, kind := range []string{"thin", "thick"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind)
			e.start(t)
			ctx := context.Background()
			v := e.volume(t, e.pool(), cinder.StatusCreating, 1)
			e.createAndWait(t, v)
			e.write(t, v, []byte("before the snapshot"), 1<<20)
			before := testfile.Checksum(t, e.file(v))
			s := e.snapshot(t, v, cinder.SnapshotCreating)
			if err := e.client.CreateSnapshot(ctx, v, s); err != nil {
				t.Fatal(err)
			}
			e.waitSnapshot(t, s.ID, cinder.SnapshotAvailable)
			e.write(t, v, []byte("after the snapshot!"), 1<<20)

			connector := map[string]any{"host": "backup-node"}
			info, err := e.client.InitializeConnectionSnapshot(ctx, v, s, connector)
			if err != nil {
				t.Fatal(err)
			}
			path, err := info.DevicePath()
			if err != nil || info.DriverVolumeType != "local" {
				t.Fatalf("connection info %+v: %v", info, err)
			}
			if got := testfile.Checksum(t, path); got != before {
				t.Fatal("the snapshot's connection does not hold the volume's bytes when snapshotted")
			}
			if err := e.client.TerminateConnectionSnapshot(ctx, v, s, connector); err != nil {
				t.Fatal(err)
			}
			if err := e.client.RemoveExportSnapshot(ctx, v, s); err != nil {
				t.Fatal(err)
			}
			unknown := &cinder.Snapshot{ID: v.ID}
			if _, err := e.client.InitializeConnectionSnapshot(ctx, v, unknown, connector); cinder.Code(err) != 404 {
				t.Fatalf("connection to an unknown snapshot: %v; want SnapshotNotFound", err)
			}
		})
	}
}
