package manager_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/internal/testfile"
)

// group inserts a group row on the backend's pool with status and
// volumes of the sizes given, each created on the driver, and returns it
// and its volumes.
func (e *env) group(t *testing.T, status string, sizes ...int) (*cinder.Group, []*cinder.Volume) {
	t.Helper()
	ctx := context.Background()
	g := &cinder.Group{ProjectID: "p", UserID: "u", Host: e.pool(), AvailabilityZone: "nova", GroupTypeID: "gt", Status: status}
	if err := e.store.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	var vols []*cinder.Volume
	for _, size := range sizes {
		v := e.volume(t, e.pool(), cinder.StatusCreating, size)
		e.createAndWait(t, v)
		if err := e.store.SetGroupVolumes(ctx, g.ID, []string{v.ID}, nil); err != nil {
			t.Fatal(err)
		}
		vols = append(vols, v)
	}
	if _, err := e.store.UpdateGroup(ctx, g.ID, func(g *cinder.Group) error { g.Status = status; return nil }); err != nil {
		t.Fatal(err)
	}
	return g, vols
}

// groupSnapshot inserts group snapshot rows of g with status, a snapshot
// with snapStatus per volume of vols, and returns it.
func (e *env) groupSnapshot(t *testing.T, g *cinder.Group, vols []*cinder.Volume, status, snapStatus string) *cinder.GroupSnapshot {
	t.Helper()
	gs := &cinder.GroupSnapshot{GroupID: g.ID, ProjectID: g.ProjectID, GroupTypeID: g.GroupTypeID, Status: status, Host: g.Host}
	var snaps []*cinder.Snapshot
	for _, v := range vols {
		snaps = append(snaps, &cinder.Snapshot{VolumeID: v.ID, ProjectID: v.ProjectID, Status: snapStatus, VolumeSize: v.Size, Progress: "0%"})
	}
	if err := e.store.CreateGroupSnapshot(context.Background(), gs, snaps); err != nil {
		t.Fatal(err)
	}
	return gs
}

// groupFrom inserts a group, creating, made from gs or else from group
// src, with a volume, creating, per snapshot or volume of the source.
func (e *env) groupFrom(t *testing.T, gs *cinder.GroupSnapshot, src *cinder.Group) (*cinder.Group, []*cinder.Volume) {
	t.Helper()
	ctx := context.Background()
	g := &cinder.Group{ProjectID: "p", Host: e.pool(), AvailabilityZone: "nova", GroupTypeID: "gt", Status: cinder.GroupCreating}
	var from []*cinder.Volume
	var snaps []*cinder.Snapshot
	if gs != nil {
		g.GroupSnapshotID = gs.ID
		var err error
		if snaps, err = e.store.ListSnapshots(ctx, db.SnapshotFilter{GroupSnapshot: gs.ID}); err != nil {
			t.Fatal(err)
		}
	} else {
		g.SourceGroupID = src.ID
		var err error
		if from, err = e.store.GroupVolumes(ctx, src.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	var vols []*cinder.Volume
	for i := range max(len(snaps), len(from)) {
		v := &cinder.Volume{ProjectID: "p", Size: 1, Status: cinder.StatusCreating, AttachStatus: "detached", Host: e.pool(),
			AvailabilityZone: "nova", GroupID: g.ID}
		if gs != nil {
			v.SnapshotID, v.Size = snaps[i].ID, snaps[i].VolumeSize
		} else {
			v.SourceVolID, v.Size = from[i].ID, from[i].Size
		}
		if err := e.store.CreateVolume(ctx, v); err != nil {
			t.Fatal(err)
		}
		vols = append(vols, v)
	}
	return g, vols
}

// waitGroupSnapshot polls until group snapshot id has status ("gone" for destroyed).
func (e *env) waitGroupSnapshot(t *testing.T, id, status string) {
	t.Helper()
	waitUntil(t, "group snapshot "+id+" "+status, func() bool {
		gs, err := e.store.GetGroupSnapshot(context.Background(), id)
		return status == "gone" && cinder.IsNotFound(err) || err == nil && gs.Status == status
	})
}

// waitGroup polls until group id has status.
func (e *env) waitGroup(t *testing.T, id, status string) {
	t.Helper()
	waitUntil(t, "group "+id+" "+status, func() bool {
		g, err := e.store.GetGroup(context.Background(), id)
		return err == nil && g.Status == status
	})
}

// waitUntil polls ok for ten seconds at most, failing t with what.
func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestGroupSnapshotFlows takes a group snapshot of two volumes, makes a
// group of it and a group from the group, and deletes the group snapshot,
// on thin and thick, comparing bytes by checksum: the new volumes hold
// their sources' bytes as they were when snapshotted, or are now.
func TestGroupSnapshotFlows(t *testing.T) {
	for _, kind := range []string{"thin", "thick"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind)
			e.start(t)
			ctx := context.Background()
			g, vols := e.group(t, cinder.GroupAvailable, 1, 1)
			var before, after []string
			for i, v := range vols {
				e.write(t, v, []byte("before the group snapshot "+v.ID), int64(i)<<20)
				before = append(before, testfile.Checksum(t, e.file(v)))
			}
			gs := e.groupSnapshot(t, g, vols, cinder.GroupSnapshotCreating, cinder.SnapshotCreating)
			if err := e.client.CreateGroupSnapshot(ctx, gs); err != nil {
				t.Fatal(err)
			}
			e.waitGroupSnapshot(t, gs.ID, cinder.GroupSnapshotAvailable)
			snaps, err := e.store.ListSnapshots(ctx, db.SnapshotFilter{GroupSnapshot: gs.ID})
			if err != nil || len(snaps) != 2 {
				t.Fatalf("snapshots %v, %v", snaps, err)
			}
			for _, s := range snaps {
				if s.Status != cinder.SnapshotAvailable || s.Progress != "100%" {
					t.Fatalf("snapshot %+v", s)
				}
			}
			for i, v := range vols {
				e.write(t, v, []byte("after the group snapshot!"), int64(i)<<20)
				after = append(after, testfile.Checksum(t, e.file(v)))
			}

			for _, tc := range []struct {
				name string
				gs   *cinder.GroupSnapshot
				src  *cinder.Group
				want []string
			}{{"from the group snapshot", gs, nil, before}, {"from the group", nil, g, after}} {
				made, madeVols := e.groupFrom(t, tc.gs, tc.src)
				if err := e.client.CreateGroupFromSrc(ctx, made, tc.gs, tc.src); err != nil {
					t.Fatal(err)
				}
				e.waitGroup(t, made.ID, cinder.GroupAvailable)
				for _, v := range madeVols {
					e.waitStatus(t, v.ID, cinder.StatusAvailable)
					src := v.SourceVolID
					if i := slices.IndexFunc(snaps, func(s *cinder.Snapshot) bool { return s.ID == v.SnapshotID }); i >= 0 {
						src = snaps[i].VolumeID
					}
					i := slices.IndexFunc(vols, func(from *cinder.Volume) bool { return from.ID == src })
					if got := testfile.Checksum(t, e.file(v)); i < 0 || got != tc.want[i] {
						t.Fatalf("%s: volume %s differs from its source %s", tc.name, v.ID, src)
					}
				}
			}

			for _, s := range snaps {
				if _, err := e.store.UpdateSnapshot(ctx, s.ID, func(s *cinder.Snapshot) error { s.Status = cinder.SnapshotDeleting; return nil }); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.store.UpdateGroupSnapshot(ctx, gs.ID, func(gs *cinder.GroupSnapshot) error { gs.Status = cinder.GroupSnapshotDeleting; return nil }); err != nil {
				t.Fatal(err)
			}
			if err := e.client.DeleteGroupSnapshot(ctx, gs); err != nil {
				t.Fatal(err)
			}
			e.waitGroupSnapshot(t, gs.ID, "gone")
			for _, s := range snaps {
				e.waitSnapshot(t, s.ID, "gone")
			}
			left, err := filepath.Glob(filepath.Join(e.backend.VolumesDir, "snapshot-*"))
			if err != nil || len(left) != 0 {
				t.Fatalf("snapshot storage left: %v, %v", left, err)
			}
		})
	}
}

// TestCreateGroupFromSrcFailures: a group snapshot with a snapshot not
// available, or a source group with a volume not available, fails the new
// group and all its volumes, as Cinder.
func TestCreateGroupFromSrcFailures(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	ctx := context.Background()
	g, vols := e.group(t, cinder.GroupAvailable, 1)
	gs := e.groupSnapshot(t, g, vols, cinder.GroupSnapshotAvailable, cinder.SnapshotError)
	made, madeVols := e.groupFrom(t, gs, nil)
	if err := e.client.CreateGroupFromSrc(ctx, made, gs, nil); err != nil {
		t.Fatal(err)
	}
	e.waitGroup(t, made.ID, cinder.GroupError)
	e.waitStatus(t, madeVols[0].ID, cinder.StatusError)

	e.setStatus(t, vols[0], cinder.StatusInUse)
	made, madeVols = e.groupFrom(t, nil, g)
	if err := e.client.CreateGroupFromSrc(ctx, made, nil, g); err != nil {
		t.Fatal(err)
	}
	e.waitGroup(t, made.ID, cinder.GroupError)
	e.waitStatus(t, madeVols[0].ID, cinder.StatusError)
}

// TestInitRecoversGroups: a backend restarted with groups and group
// snapshots left creating or deleting sets them to error; those of
// another backend stay as they are.
func TestInitRecoversGroups(t *testing.T) {
	s := newSite(t)
	e := s.add(t, "node1", "thin", "thin")
	other := s.add(t, "node1", "other", "thin")
	e.start(t)
	creating, _ := e.group(t, cinder.GroupCreating)
	deleting, _ := e.group(t, cinder.GroupDeleting)
	available, vols := e.group(t, cinder.GroupAvailable, 1)
	elsewhere := &cinder.Group{ProjectID: "p", Host: other.pool(), GroupTypeID: "gt", Status: cinder.GroupCreating}
	if err := e.store.CreateGroup(context.Background(), elsewhere); err != nil {
		t.Fatal(err)
	}
	gsCreating := e.groupSnapshot(t, available, vols, cinder.GroupSnapshotCreating, cinder.SnapshotCreating)
	gsDeleting := e.groupSnapshot(t, available, vols, cinder.GroupSnapshotDeleting, cinder.SnapshotAvailable)
	gsAvailable := e.groupSnapshot(t, available, vols, cinder.GroupSnapshotAvailable, cinder.SnapshotAvailable)
	if err := e.mgr.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.waitGroup(t, creating.ID, cinder.GroupError)
	e.waitGroup(t, deleting.ID, cinder.GroupError)
	e.waitGroup(t, available.ID, cinder.GroupAvailable)
	e.waitGroup(t, elsewhere.ID, cinder.GroupCreating)
	e.waitGroupSnapshot(t, gsCreating.ID, cinder.GroupSnapshotError)
	e.waitGroupSnapshot(t, gsDeleting.ID, cinder.GroupSnapshotError)
	e.waitGroupSnapshot(t, gsAvailable.ID, cinder.GroupSnapshotAvailable)
}
