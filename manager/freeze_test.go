package manager_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/rpc"
)

// TestFreezeAndThawHost: freeze_host disables the backend's service with
// reason "frozen", thaw_host enables it again, over RPC.
func TestFreezeAndThawHost(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	ctx := context.Background()
	if err := e.client.FreezeHost(ctx, e.mgr.Host()); err != nil {
		t.Fatal(err)
	}
	svc, err := e.store.GetService(ctx, e.mgr.Host(), cinder.BinaryVolume)
	if err != nil || !svc.Disabled || svc.DisabledReason != "frozen" {
		t.Fatalf("after freeze_host: %+v, %v", svc, err)
	}
	if err := e.client.ThawHost(ctx, e.mgr.Host()); err != nil {
		t.Fatal(err)
	}
	svc, err = e.store.GetService(ctx, e.mgr.Host(), cinder.BinaryVolume)
	if err != nil || svc.Disabled || svc.DisabledReason != "" {
		t.Fatalf("after thaw_host: %+v, %v", svc, err)
	}
}

// TestAcceptTransferAndExtendCompletion: accept_transfer answers for a
// volume of the backend only; extend_volume_completion gives an extending
// volume its new size, or error_extending, and leaves one no longer
// extending.
func TestAcceptTransferAndExtendCompletion(t *testing.T) {
	s := newSite(t)
	e, other := s.add(t, "node1", "thin", "thin"), s.add(t, "node1", "thick", "thick")
	e.start(t)
	other.start(t)
	ctx := context.Background()
	v := e.created(t, 1)
	if err := e.client.AcceptTransfer(ctx, v, "u2", "p2", false); err != nil {
		t.Fatal(err)
	}
	elsewhere := *v
	elsewhere.Host = other.pool()
	if err := e.client.AcceptTransfer(ctx, &elsewhere, "u2", "p2", false); cinder.Code(err) != 400 {
		t.Fatalf("accept_transfer of a volume of another backend: %v", err)
	}

	e.setStatus(t, v, cinder.StatusExtending)
	if err := e.client.ExtendVolumeCompletion(ctx, v, 2, false); err != nil {
		t.Fatal(err)
	}
	if got := e.waitStatus(t, v.ID, cinder.StatusAvailable); got.Size != 2 {
		t.Fatalf("size %d after completion", got.Size)
	}
	e.setStatus(t, v, cinder.StatusExtending)
	if err := e.client.ExtendVolumeCompletion(ctx, v, 3, true); err != nil {
		t.Fatal(err)
	}
	if got := e.waitStatus(t, v.ID, cinder.StatusErrorExtend); got.Size != 2 {
		t.Fatalf("size %d after a failed completion", got.Size)
	}
	// A completion for a volume no longer extending changes nothing.
	e.call(t, "extend_volume_completion", map[string]any{"volume": v, "new_size": 4, "reservations": nil, "error": false})
	if got := e.waitStatus(t, v.ID, cinder.StatusErrorExtend); got.Size != 2 {
		t.Fatalf("size %d after a stale completion", got.Size)
	}
}

// TestDoCleanupRecoversTheWorkNamed: do_cleanup recovers, as the backend's
// start does, the volumes and snapshots last changed before until: all of
// them (a snapshot left creating on an available volume too), or the one
// named.
func TestDoCleanupRecoversTheWorkNamed(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	ctx := context.Background()
	left := e.volume(t, e.pool(), cinder.StatusCreating, 1)
	named := e.volume(t, e.pool(), cinder.StatusCreating, 1)
	avail := e.volume(t, e.pool(), cinder.StatusAvailable, 1)
	snap := e.snapshot(t, avail, cinder.SnapshotCreating)
	until := time.Now().UTC()
	later := e.volume(t, e.pool(), cinder.StatusCreating, 1)
	laterSnap := e.snapshot(t, avail, cinder.SnapshotCreating)
	if err := os.WriteFile(e.file(named), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}

	svc, err := e.store.GetService(ctx, e.mgr.Host(), cinder.BinaryVolume)
	if err != nil {
		t.Fatal(err)
	}
	req := cinder.CleanupRequest{ServiceID: &svc.ID, ResourceID: named.ID, ResourceType: cinder.CleanableVolume, Until: &until}
	if err := e.client.DoCleanup(ctx, e.mgr.Host(), req); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, named.ID, cinder.StatusError)
	if _, err := os.Stat(e.file(named)); !os.IsNotExist(err) {
		t.Fatalf("storage of the volume left creating: %v", err)
	}
	if s, err := e.store.GetSnapshot(ctx, snap.ID); err != nil || s.Status != cinder.SnapshotCreating {
		t.Fatalf("snapshot of a volume not named = %+v, %v; want it left creating", s, err)
	}
	req.ResourceID, req.ResourceType = "", ""
	e.call(t, "do_cleanup", map[string]any{"cleanup_request": req})
	e.waitStatus(t, left.ID, cinder.StatusError)
	e.waitSnapshot(t, snap.ID, cinder.SnapshotError)
	if got := e.waitStatus(t, later.ID, cinder.StatusCreating); got.Status != cinder.StatusCreating {
		t.Fatalf("volume changed after until: %s", got.Status)
	}
	if s, err := e.store.GetSnapshot(ctx, laterSnap.ID); err != nil || s.Status != cinder.SnapshotCreating {
		t.Fatalf("snapshot made after until = %+v, %v; want it left creating", s, err)
	}
}

// call calls method on the backend with args and waits for its answer, so
// that what a cast would do later is done when it returns.
func (e *env) call(t *testing.T, method string, args map[string]any) {
	t.Helper()
	c := rpc.NewClient(e.tr, rpc.Target{Topic: cinder.TopicVolume + "." + e.mgr.Host(), Server: "node1", Version: "3.20"}, 0)
	if err := c.Call(context.Background(), method, args, nil); err != nil {
		t.Fatalf("call %s: %v", method, err)
	}
}
