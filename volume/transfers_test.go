package volume

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

func (f *fakeRPC) AcceptTransfer(_ context.Context, v *cinder.Volume, user, project string, noSnapshots bool) error {
	return f.record("accept_transfer", fmt.Sprintf("%s>%s/%s", v.ID, project, user))
}

func (f *fakeRPC) FreezeHost(_ context.Context, host string) error {
	return f.record("freeze_host", host)
}
func (f *fakeRPC) ThawHost(_ context.Context, host string) error { return f.record("thaw_host", host) }

func (f *fakeRPC) ExtendVolumeCompletion(_ context.Context, v *cinder.Volume, newSize int, hasError bool) error {
	return f.record("extend_completion", fmt.Sprintf("%s>%d error=%t", v.ID, newSize, hasError))
}

func (f *fakeRPC) WorkCleanup(_ context.Context, req cinder.CleanupRequest) (cleaning, unavailable []*cinder.Service, err error) {
	id := "any"
	if req.ServiceID != nil {
		id = fmt.Sprint(*req.ServiceID)
	}
	return nil, nil, f.record("work_cleanup", fmt.Sprintf("service=%s type=%s until=%t", id, req.ResourceType, req.Until != nil))
}

// memberOf is a request context of a member of project.
func memberOf(project string) context.Context {
	return cinder.WithRequestContext(context.Background(), &cinder.RequestContext{UserID: "u-" + project, ProjectID: project})
}

// TestTransferLifecycle offers a volume with its snapshots, refuses a
// wrong key, and gives the volume and its snapshots to the accepting
// project; the transfer is gone after.
func TestTransferLifecycle(t *testing.T) {
	c := newCloud(t)
	vol := c.volume(nil)
	snap := c.snapshot(vol, nil)

	tr, key, err := c.api.CreateTransfer(admin(), TransferRequest{VolumeID: vol, Name: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(key) || len(tr.Salt) != 8 || tr.CryptHash != cryptHash(tr.Salt, key) {
		t.Fatalf("key %q, salt %q, hash %q", key, tr.Salt, tr.CryptHash)
	}
	if strings.Contains(tr.CryptHash, key) || tr.SourceProjectID != "admin" {
		t.Fatalf("transfer %+v", tr)
	}
	if st := c.get(vol).Status; st != cinder.StatusAwaitingTransfer {
		t.Fatalf("volume %s after create", st)
	}
	_, _, err = c.api.CreateTransfer(admin(), TransferRequest{VolumeID: vol})
	wantCode(t, "a second transfer", err, 400)
	if err := c.api.Delete(admin(), vol, false, false); cinder.Code(err) != 400 {
		t.Fatalf("delete of a volume awaiting transfer: %v", err)
	}

	// The donor's project sees it; another project does not, until it accepts.
	if _, err := c.api.GetTransfer(memberOf("admin"), tr.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.api.GetTransfer(memberOf("p2"), tr.ID)
	wantCode(t, "another project's transfer", err, 404)
	if list, err := c.api.ListTransfers(memberOf("p2"), db.TransferFilter{}, true); err != nil || len(list) != 0 {
		t.Fatalf("p2 lists %v, %v", list, err)
	}

	_, err = c.api.AcceptTransfer(memberOf("p2"), tr.ID, "0123456789abcdef")
	wantCode(t, "a wrong key", err, 400)
	if !strings.Contains(err.Error(), "Invalid auth key") {
		t.Fatalf("wrong key: %v", err)
	}
	got, err := c.api.AcceptTransfer(memberOf("p2"), tr.ID, key)
	if err != nil || got.ID != tr.ID || got.DisplayName != "t1" {
		t.Fatalf("accept: %+v, %v", got, err)
	}
	v := c.get(vol)
	if v.Status != cinder.StatusAvailable || v.ProjectID != "p2" || v.UserID != "u-p2" {
		t.Fatalf("volume after accept: %s %s %s", v.Status, v.ProjectID, v.UserID)
	}
	if s := c.snap(snap); s.ProjectID != "p2" || s.UserID != "u-p2" {
		t.Fatalf("snapshot after accept: %s %s", s.ProjectID, s.UserID)
	}
	if !slices.Contains(c.rpc.called(), "accept_transfer "+vol+">p2/u-p2") {
		t.Fatalf("backend not told: %v", c.rpc.called())
	}
	_, err = c.api.GetTransfer(admin(), tr.ID)
	wantCode(t, "an accepted transfer", err, 404)
	_, err = c.api.AcceptTransfer(memberOf("p3"), tr.ID, key)
	wantCode(t, "accepting twice", err, 404)
}

// TestTransferRules: without its snapshots a volume leaves them with its
// donor; with them, each must be available when offered and accepted, and
// a refused accept changes nothing; the accepting project's quota must
// hold the volume and its snapshots; a delete gives the volume back.
func TestTransferRules(t *testing.T) {
	c := newCloud(t) // quota_gigabytes 50
	vol := c.volume(func(v *cinder.Volume) { v.Size = 10 })
	snap := c.snapshot(vol, func(s *cinder.Snapshot) { s.Status = cinder.SnapshotCreating })

	_, _, err := c.api.CreateTransfer(admin(), TransferRequest{VolumeID: vol})
	wantCode(t, "a snapshot creating", err, 400)
	tr, key, err := c.api.CreateTransfer(admin(), TransferRequest{VolumeID: vol, NoSnapshots: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.api.AcceptTransfer(memberOf("p2"), tr.ID, key); err != nil {
		t.Fatal(err)
	}
	if v, s := c.get(vol), c.snap(snap); v.ProjectID != "p2" || s.ProjectID != "admin" {
		t.Fatalf("no_snapshots: volume of %s, snapshot of %s", v.ProjectID, s.ProjectID)
	}
	noneReserved(t, c, "p2") // the move ended the hold

	// Back to admin with the snapshot, available now; it goes bad before
	// the accept, which then changes nothing.
	c.setVolume(vol, func(v *cinder.Volume) { v.ProjectID = "admin" })
	if _, err := c.store.UpdateSnapshot(context.Background(), snap, func(s *cinder.Snapshot) error {
		s.Status = cinder.SnapshotAvailable
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tr, key, err = c.api.CreateTransfer(admin(), TransferRequest{VolumeID: vol})
	if err != nil {
		t.Fatal(err)
	}
	c.setSnapshot(snap, cinder.SnapshotError)
	_, err = c.api.AcceptTransfer(memberOf("p3"), tr.ID, key)
	wantCode(t, "a snapshot in error at accept", err, 400)
	if v := c.get(vol); v.ProjectID != "admin" || v.Status != cinder.StatusAwaitingTransfer {
		t.Fatalf("refused accept changed the volume: %s %s", v.ProjectID, v.Status)
	}
	noneReserved(t, c, "p3") // the refused accept gave the hold up
	c.setSnapshot(snap, cinder.SnapshotAvailable)

	// p4 holds 35 GiB: the volume fits (45), with its snapshot (55) not.
	c.volume(func(v *cinder.Volume) { v.ProjectID, v.Size = "p4", 35 })
	_, err = c.api.AcceptTransfer(memberOf("p4"), tr.ID, key)
	wantCode(t, "over quota", err, 413)

	if err := c.api.DeleteTransfer(memberOf("p4"), tr.ID); cinder.Code(err) != 404 {
		t.Fatalf("delete by another project: %v", err)
	}
	if err := c.api.DeleteTransfer(admin(), tr.ID); err != nil {
		t.Fatal(err)
	}
	if v := c.get(vol); v.Status != cinder.StatusAvailable || v.ProjectID != "admin" {
		t.Fatalf("after delete: %s %s", v.Status, v.ProjectID)
	}
	_, err = c.api.GetTransfer(admin(), tr.ID)
	wantCode(t, "a deleted transfer", err, 404)
}

// noneReserved fails unless project holds no quota reservation.
func noneReserved(t *testing.T, c *cloud, project string) {
	t.Helper()
	u, err := c.store.QuotaUsages(context.Background(), project, []string{db.QuotaVolumes, db.QuotaSnapshots, db.QuotaGigabytes})
	if err != nil {
		t.Fatal(err)
	}
	for res, usage := range u {
		if usage.Reserved != 0 {
			t.Fatalf("%s still reserves %d %s", project, usage.Reserved, res)
		}
	}
}

// TestFreezeAndThaw: a frozen backend refuses deleting volumes and
// creating or deleting snapshots until thawed; freezing twice, an unknown
// host or a host of two backends are refused.
func TestFreezeAndThaw(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	vol := c.volume(nil)
	snap := c.snapshot(vol, nil)

	if err := c.api.FreezeHost(ctx, "hostA@fake1", ""); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.rpc.called(), "freeze_host hostA@fake1") {
		t.Fatalf("backend not told: %v", c.rpc.called())
	}
	svc, err := c.store.GetService(ctx, "hostA@fake1", cinder.BinaryVolume)
	if err != nil || !svc.Frozen {
		t.Fatalf("service after freeze: %+v, %v", svc, err)
	}
	err = c.api.FreezeHost(ctx, "hostA@fake1", "")
	wantCode(t, "freezing twice", err, 400)
	if want := "Invalid input received: No service could be changed: frozen in ['hostA@fake1'] must be False to failover."; err.Error() != want {
		t.Fatalf("freezing twice: %q", err)
	}
	for what, err := range map[string]error{
		"delete volume":   c.api.Delete(ctx, vol, false, false),
		"create snapshot": func() error { _, err := c.api.CreateSnapshot(ctx, SnapshotRequest{VolumeID: vol}); return err }(),
		"delete snapshot": c.api.DeleteSnapshot(ctx, snap, false),
	} {
		if err == nil || err.Error() != "Invalid input received: Modification operations are not allowed on frozen storage backends." {
			t.Errorf("%s on a frozen backend: %v", what, err)
		}
	}
	other := c.volume(func(v *cinder.Volume) { v.Host = "hostA@fake2#fake" })
	if err := c.api.Delete(ctx, other, false, false); err != nil {
		t.Fatalf("delete on the other backend: %v", err)
	}

	err = c.api.FreezeHost(ctx, "nohost", "")
	wantCode(t, "an unknown host", err, 400)
	err = c.api.FreezeHost(ctx, "hostA", "")
	if err == nil || err.Error() != "Services from different clusters found." {
		t.Fatalf("a host of two backends: %v", err)
	}
	err = c.api.ThawHost(ctx, "", "c1")
	if err == nil || err.Error() != "Invalid input received: No service found with cluster=c1" {
		t.Fatalf("an unknown cluster: %v", err)
	}

	if err := c.api.ThawHost(ctx, "hostA@fake1", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.api.DeleteSnapshot(ctx, snap, false); err != nil {
		t.Fatalf("delete snapshot once thawed: %v", err)
	}
	err = c.api.ThawHost(ctx, "hostA@fake1", "")
	wantCode(t, "thawing twice", err, 400)
}

// TestWorkCleanupFindsTheResource: a resource named alone is looked up
// among those left pending, and the request then names its backend's
// service and type; one not pending is refused.
func TestWorkCleanupFindsTheResource(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	creating := c.volume(func(v *cinder.Volume) { v.Status = cinder.StatusCreating; v.Host = "hostA@fake2#fake" })
	svc, err := c.store.GetService(ctx, "hostA@fake2", cinder.BinaryVolume)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.api.WorkCleanup(ctx, cinder.CleanupRequest{ResourceID: creating}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("work_cleanup service=%d type=Volume until=true", svc.ID)
	if calls := c.rpc.called(); calls[len(calls)-1] != want {
		t.Fatalf("calls %v, want %s", calls, want)
	}
	deleting := c.snapshot(c.volume(nil), func(s *cinder.Snapshot) { s.Status = cinder.SnapshotDeleting })
	if _, _, err := c.api.WorkCleanup(ctx, cinder.CleanupRequest{ResourceID: deleting}); err != nil {
		t.Fatal(err)
	}
	if calls := c.rpc.called(); !strings.HasSuffix(calls[len(calls)-1], "type=Snapshot until=true") {
		t.Fatalf("calls %v", calls)
	}
	for what, req := range map[string]cinder.CleanupRequest{
		"an available volume":          {ResourceID: c.volume(nil)},
		"a volume named as a snapshot": {ResourceID: creating, ResourceType: cinder.CleanableSnapshot},
		"a scheduler's resource":       {ResourceID: creating, Binary: cinder.BinaryScheduler},
	} {
		_, _, err := c.api.WorkCleanup(ctx, req)
		if err == nil || !strings.Contains(err.Error(), "pending cleanup") {
			t.Errorf("%s: %v", what, err)
		}
	}
}

// TestExtendVolumeCompletion: only a volume extending with a pending size
// completes; the size is taken, and given back when the backend cannot be
// asked.
func TestExtendVolumeCompletion(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	vol := c.volume(func(v *cinder.Volume) { v.Status = cinder.StatusExtending; v.Size = 2 })
	wantCode(t, "no pending size", c.api.ExtendVolumeCompletion(ctx, vol, false), 400)
	for _, size := range []string{"2", "x"} {
		if err := c.store.SetVolumeAdminMetadata(ctx, vol, ExtendNewSize, size); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "pending size "+size, c.api.ExtendVolumeCompletion(ctx, vol, false), 400)
	}
	if err := c.store.SetVolumeAdminMetadata(ctx, vol, ExtendNewSize, "5"); err != nil {
		t.Fatal(err)
	}
	c.rpc.err = errBusDown
	wantCode(t, "bus down", c.api.ExtendVolumeCompletion(ctx, vol, true), 503)
	c.rpc.err = nil
	if err := c.api.ExtendVolumeCompletion(ctx, vol, true); err != nil {
		t.Fatal(err)
	}
	if calls := c.rpc.called(); calls[len(calls)-1] != "extend_completion "+vol+">5 error=true" {
		t.Fatalf("calls %v", calls)
	}
	md, err := c.store.VolumeAdminMetadata(ctx, vol)
	if err != nil || len(md) != 0 {
		t.Fatalf("admin metadata left: %v, %v", md, err)
	}
	wantCode(t, "completed twice", c.api.ExtendVolumeCompletion(ctx, vol, false), 400)
	c.setVolume(vol, func(v *cinder.Volume) { v.Status = cinder.StatusAvailable })
	if err := c.store.SetVolumeAdminMetadata(ctx, vol, ExtendNewSize, "5"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "a volume not extending", c.api.ExtendVolumeCompletion(ctx, vol, false), 400)
}

// TestHostsAndClusters: os-hosts lists enabled services only, a host's
// usage counts per project; clusters summarize their services.
func TestHostsAndClusters(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	c.volume(func(v *cinder.Volume) { v.Size = 3 })
	v2 := c.volume(func(v *cinder.Volume) { v.ProjectID, v.Size = "p2", 5 })
	c.snapshot(v2, nil)
	c.volume(func(v *cinder.Volume) { v.Host = "hostA@fake2#fake" })
	svc, err := c.store.GetService(ctx, "hostA@fake2", cinder.BinaryVolume)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.store.UpdateService(ctx, svc.ID, func(s *cinder.Service) error { s.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	hosts, up, err := c.api.Hosts(ctx, "")
	if err != nil || len(hosts) != 2 || !up[hosts[0].ID] {
		t.Fatalf("hosts %v, %v, %v", hosts, up, err)
	}
	if hosts, _, _ := c.api.Hosts(ctx, "elsewhere"); len(hosts) != 0 {
		t.Fatalf("hosts of another zone: %v", hosts)
	}
	usages, err := c.api.HostUsages(ctx, "hostA")
	if err != nil || len(usages) != 2 {
		t.Fatalf("usages %v, %v", usages, err)
	}
	if u := usages[1]; u.ProjectID != "p2" || u.Volumes != 1 || u.VolumeGigabytes != 5 || u.Snapshots != 1 || u.SnapshotGigabytes != 5 {
		t.Fatalf("p2 on hostA: %+v", u)
	}
	_, err = c.api.HostUsages(ctx, "hostA@fake2")
	wantCode(t, "a disabled backend", err, 404)

	cl := &cinder.Cluster{Name: "c1", Binary: cinder.BinaryVolume}
	if err := c.store.CreateCluster(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if _, err := c.store.UpdateService(ctx, svc.ID, func(s *cinder.Service) error { s.ClusterName = "c1"; return nil }); err != nil {
		t.Fatal(err)
	}
	yes, one := true, 1
	list, err := c.api.Clusters(ctx, ClusterFilter{IsUp: &yes, NumHosts: &one})
	if err != nil || len(list) != 1 || list[0].NumHosts != 1 || list[0].NumDownHosts != 0 || !c.api.ClusterUp(list[0]) {
		t.Fatalf("clusters %v, %v", list, err)
	}
	if list, _ := c.api.Clusters(ctx, ClusterFilter{Disabled: &yes}); len(list) != 0 {
		t.Fatalf("disabled clusters: %v", list)
	}
	if got, err := c.api.SetClusterDisabled(ctx, "c1", cinder.BinaryVolume, true, "maintenance"); err != nil || !got.Disabled {
		t.Fatalf("disable: %+v, %v", got, err)
	}
	if got, err := c.api.Cluster(ctx, "c1", cinder.BinaryVolume); err != nil || got.DisabledReason != "maintenance" {
		t.Fatalf("cluster: %+v, %v", got, err)
	}
	_, err = c.api.SetClusterDisabled(ctx, "c2", cinder.BinaryVolume, false, "")
	if err == nil || err.Error() != "Cluster {'binary': 'cinder-volume', 'name': 'c2'} could not be found." {
		t.Fatalf("an unknown cluster: %v", err)
	}
}
