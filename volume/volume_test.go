package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/internal/testdb"
	"github.com/cinder-go/cinder/rpc"
)

// fakeRPC stands in for the scheduler and volume RPC clients: it records
// each request as "method volume-id" and answers err, if set.
type fakeRPC struct {
	mu    sync.Mutex
	calls []string
	specs []cinder.RequestSpec // of the creates
	err   error
	// created, when set, runs on each volume whose create is cast, as a
	// scheduler and backend would later.
	created func(v *cinder.Volume)
}

func (f *fakeRPC) record(method, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method+" "+id)
	return f.err
}

func (f *fakeRPC) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeRPC) CreateVolume(_ context.Context, v *cinder.Volume, spec cinder.RequestSpec) error {
	f.mu.Lock()
	f.specs = append(f.specs, spec)
	f.mu.Unlock()
	if f.created != nil {
		f.created(v)
	}
	return f.record("create", v.ID)
}

// lastSpec is the request spec of the last create.
func (f *fakeRPC) lastSpec() cinder.RequestSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.specs[len(f.specs)-1]
}

func (f *fakeRPC) MigrateVolume(_ context.Context, v *cinder.Volume, backend string, _ bool, _ cinder.RequestSpec) error {
	return f.record("migrate", v.ID+">"+backend)
}

func (f *fakeRPC) Retype(_ context.Context, v *cinder.Volume, spec cinder.RequestSpec) error {
	return f.record("retype", v.ID+">"+spec.VolumeType.Name)
}

func (f *fakeRPC) CreateGroup(_ context.Context, g *cinder.Group) error {
	return f.record("create_group", g.ID)
}

func (f *fakeRPC) ValidateHostCapacity(_ context.Context, backend, groupID string, size int) (bool, error) {
	err := f.record("validate_host_capacity", fmt.Sprintf("%s %d GiB", backend, size))
	return err == nil, err
}

func (f *fakeRPC) DeleteGroup(_ context.Context, g *cinder.Group) error {
	return f.record("delete_group", g.ID)
}

func (f *fakeRPC) CreateGroupSnapshot(_ context.Context, gs *cinder.GroupSnapshot) error {
	return f.record("create_group_snapshot", gs.ID+"@"+gs.Host)
}

func (f *fakeRPC) DeleteGroupSnapshot(_ context.Context, gs *cinder.GroupSnapshot) error {
	return f.record("delete_group_snapshot", gs.ID)
}

func (f *fakeRPC) CreateGroupFromSrc(_ context.Context, g *cinder.Group, gs *cinder.GroupSnapshot, source *cinder.Group) error {
	from := ""
	if gs != nil {
		from += "snapshot:" + gs.ID
	}
	if source != nil {
		from += "group:" + source.ID
	}
	return f.record("create_group_from_src", g.ID+"<"+from)
}

func (f *fakeRPC) GetPools(context.Context) ([]cinder.Pool, error) {
	return nil, f.record("get_pools", "")
}

func (f *fakeRPC) DeleteVolume(_ context.Context, v *cinder.Volume, cascade bool) error {
	if cascade {
		return f.record("delete cascade", v.ID)
	}
	return f.record("delete", v.ID)
}

func (f *fakeRPC) CreateSnapshot(_ context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	return f.record("create_snapshot", v.ID+">"+s.ID)
}

func (f *fakeRPC) DeleteSnapshot(_ context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	return f.record("delete_snapshot", s.ID)
}

func (f *fakeRPC) RevertToSnapshot(_ context.Context, v *cinder.Volume, s *cinder.Snapshot) error {
	return f.record("revert", v.ID+">"+s.ID)
}

func (f *fakeRPC) ExtendVolume(_ context.Context, v *cinder.Volume, newSize int) error {
	return f.record("extend", fmt.Sprintf("%s>%d", v.ID, newSize))
}

func (f *fakeRPC) InitializeConnection(_ context.Context, v *cinder.Volume, _ map[string]any) (*cinder.ConnectionInfo, error) {
	return &cinder.ConnectionInfo{DriverVolumeType: "local"}, f.record("initialize", v.ID)
}

func (f *fakeRPC) TerminateConnection(_ context.Context, v *cinder.Volume, _ map[string]any) error {
	return f.record("terminate", v.ID)
}

func (f *fakeRPC) GetCapabilities(_ context.Context, host string, _ bool) (map[string]any, error) {
	return map[string]any{}, f.record("capabilities", host)
}

func (f *fakeRPC) MigrateVolumeCompletion(_ context.Context, v, nv *cinder.Volume, _ bool) (string, error) {
	return v.ID, f.record("complete", v.ID+">"+nv.ID)
}

func (f *fakeRPC) CreateBackup(_ context.Context, b *cinder.Backup) error {
	return f.record("create_backup", b.VolumeID+">"+b.ID)
}

func (f *fakeRPC) DeleteBackup(_ context.Context, b *cinder.Backup) error {
	return f.record("delete_backup", b.ID)
}

func (f *fakeRPC) RestoreBackup(_ context.Context, host string, b *cinder.Backup, volumeID string, isNew bool) error {
	return f.record("restore_backup", fmt.Sprintf("%s>%s@%s new=%v", b.ID, volumeID, host, isNew))
}

func (f *fakeRPC) ExportRecord(_ context.Context, b *cinder.Backup) (*cinder.BackupRecord, error) {
	r, err := cinder.ExportBackup(b)
	if err == nil {
		err = f.record("export_record", b.ID)
	}
	return &r, err
}

func (f *fakeRPC) ImportRecord(_ context.Context, host string, b *cinder.Backup, _ cinder.BackupRecord) error {
	return f.record("import_record", b.ID+"@"+host)
}

// errBusDown is a cast that cannot be sent.
var errBusDown = fmt.Errorf("publish: %w", rpc.ErrUnreachable)

// cloud is the volume rules over SQLite and a fakeRPC, with the backends
// hostA@fake1 and hostA@fake2 up.
type cloud struct {
	t     *testing.T
	store *db.DB
	rpc   *fakeRPC
	api   *API
}

func newCloud(t *testing.T) *cloud {
	t.Helper()
	store := testdb.SQLite(t)
	cfg := &conf.Config{DefaultVolumeType: cinder.DefaultVolumeType, StorageAvailabilityZone: "nova",
		ServiceDownTime: time.Minute, QuotaVolumes: -1, QuotaSnapshots: -1, QuotaGigabytes: 50, QuotaBackups: 4,
		QuotaBackupGigabytes: 50, QuotaGroups: -1, PerVolumeSizeLimit: -1, ReservationExpire: time.Hour}
	c := &cloud{t: t, store: store, rpc: &fakeRPC{}}
	c.api = New(cfg, store, c.rpc, c.rpc, c.rpc)
	now := time.Now().UTC()
	for _, svc := range []*cinder.Service{
		{Host: "hostA@fake1", Binary: cinder.BinaryVolume}, {Host: "hostA@fake2", Binary: cinder.BinaryVolume},
		{Host: "hostA", Binary: cinder.BinaryBackup},
	} {
		svc.Topic, svc.AvailabilityZone, svc.CreatedAt, svc.UpdatedAt = svc.Binary, "nova", now, &now
		if err := store.CreateService(context.Background(), svc); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// admin is a request context of project admin, as an administrator.
func admin() context.Context {
	return cinder.WithRequestContext(context.Background(), &cinder.RequestContext{UserID: "admin", ProjectID: "admin", IsAdmin: true})
}

// volume writes a 1 GiB volume of project admin on hostA@fake1, as set
// changes it, and returns its id.
func (c *cloud) volume(set func(v *cinder.Volume)) string {
	c.t.Helper()
	v := &cinder.Volume{ProjectID: "admin", UserID: "admin", Size: 1, AvailabilityZone: "nova",
		Status: cinder.StatusAvailable, AttachStatus: "detached", Host: "hostA@fake1#fake", UseQuota: true}
	if set != nil {
		set(v)
	}
	if err := c.store.CreateVolume(context.Background(), v); err != nil {
		c.t.Fatal(err)
	}
	return v.ID
}

// setVolume changes volume id's row with set.
func (c *cloud) setVolume(id string, set func(v *cinder.Volume)) {
	c.t.Helper()
	if _, err := c.store.UpdateVolume(context.Background(), id, func(v *cinder.Volume) error { set(v); return nil }); err != nil {
		c.t.Fatal(err)
	}
}

// get reads volume id, which must exist.
func (c *cloud) get(id string) *cinder.Volume {
	c.t.Helper()
	v, err := c.store.GetVolume(context.Background(), id)
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

// wantCode fails unless err is a Cinder exception of code.
func wantCode(t *testing.T, what string, err error, code int) {
	t.Helper()
	if got := cinder.Code(err); err == nil || got != code {
		t.Fatalf("%s: %v (code %d), want code %d", what, err, got, code)
	}
}

func TestGetScopedToProject(t *testing.T) {
	c := newCloud(t)
	id := c.volume(nil)
	other := cinder.WithRequestContext(context.Background(), &cinder.RequestContext{UserID: "u", ProjectID: "other"})
	_, err := c.api.Get(other, id)
	wantCode(t, "another project's volume", err, 404)
	if err := c.api.Delete(other, id, false, false); cinder.Code(err) != 404 {
		t.Fatalf("delete of another project's volume: %v", err)
	}
	if v, err := c.api.Get(admin(), id); err != nil || v.ID != id {
		t.Fatalf("admin: %v, %v", v, err)
	}
}

func TestDeleteStatuses(t *testing.T) {
	for _, tc := range []struct {
		status, migration, attach string
		force                     bool
		ok                        bool
	}{
		{status: "available", ok: true},
		{status: "error", ok: true},
		{status: "error_extending", ok: true},
		{status: "in-use"},
		{status: "creating"},
		{status: "extending"},
		{status: "creating", force: true, ok: true},
		{status: "in-use", force: true, ok: true},
		{status: "available", migration: "migrating"},
		{status: "available", migration: "migrating", force: true},
		{status: "available", migration: "target:x", force: true},
		{status: "available", migration: "error", ok: true},
		{status: "available", attach: "attached", force: true},
	} {
		name := fmt.Sprintf("%s/%s/%s/force=%v", tc.status, tc.migration, tc.attach, tc.force)
		t.Run(name, func(t *testing.T) {
			c := newCloud(t)
			id := c.volume(func(v *cinder.Volume) {
				v.Status, v.MigrationStatus = tc.status, tc.migration
				if tc.attach != "" {
					v.AttachStatus = tc.attach
				}
			})
			err := c.api.Delete(admin(), id, tc.force, false)
			if !tc.ok {
				wantCode(t, "delete", err, 400)
				if v := c.get(id); v.Status != tc.status || len(c.rpc.called()) != 0 {
					t.Fatalf("refused delete changed %+v or cast %v", v, c.rpc.called())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v := c.get(id); v.Status != cinder.StatusDeleting || !slices.Equal(c.rpc.called(), []string{"delete " + id}) {
				t.Fatalf("after delete: status %s, casts %v", v.Status, c.rpc.called())
			}
		})
	}
}

func TestDeleteRevertsWhenCastFails(t *testing.T) {
	c := newCloud(t)
	id := c.volume(func(v *cinder.Volume) { v.Status = cinder.StatusError })
	c.rpc.err = errBusDown
	wantCode(t, "delete", c.api.Delete(admin(), id, false, false), 503)
	if v := c.get(id); v.Status != cinder.StatusError {
		t.Fatalf("status %s after a failed delete cast, want error", v.Status)
	}
}

// TestDeleteWhileScheduling force-deletes volumes while a scheduler places
// them, as cinder-scheduler does (a creating volume gets a host, and its
// backend storage). Whichever wins, no storage is left without a row: a
// placed volume is deleted through its backend, an unplaced one is never
// placed. Deleting the row of a volume read as unplaced, without first
// claiming it, leaked storage here under load.
func TestDeleteWhileScheduling(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	for i := range 100 {
		id := c.volume(func(v *cinder.Volume) { v.Status, v.Host = cinder.StatusCreating, "" })
		placed := make(chan bool, 1)
		go func() {
			_, err := c.store.UpdateVolume(ctx, id, func(v *cinder.Volume) error {
				if v.Status != cinder.StatusCreating {
					return cinder.InvalidVolume("no longer creating")
				}
				v.Host = "hostA@fake1#fake"
				return nil
			})
			placed <- err == nil
		}()
		if err := c.api.Delete(ctx, id, true, false); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		deleted := slices.Contains(c.rpc.called(), "delete "+id)
		if <-placed && !deleted {
			t.Fatalf("round %d: volume %s was placed, its row destroyed and its backend never asked to delete it", i, id)
		}
	}
}

func TestExtendRules(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	for _, tc := range []struct {
		status, migration string
		size              int
		inUse             bool
		code              int
	}{
		{status: "available", size: 2},
		{status: "in-use", size: 2, inUse: true},
		{status: "in-use", size: 2, code: 400},
		{status: "available", size: 1, code: 400},
		{status: "available", size: 60, code: 413}, // quota_gigabytes 50
		{status: "error", size: 2, code: 400},
		{status: "available", migration: cinder.MigrationStarting, size: 2, code: 400},
		{status: "in-use", migration: cinder.MigrationMigrating, size: 2, inUse: true, code: 400},
		{status: "available", migration: cinder.MigrationCompleting, size: 2, code: 400},
		{status: "available", migration: cinder.MigrationTarget("x"), size: 2, code: 400},
		{status: "available", migration: cinder.MigrationSuccess, size: 2},
	} {
		id := c.volume(func(v *cinder.Volume) { v.Status, v.MigrationStatus = tc.status, tc.migration })
		err := c.api.Extend(ctx, id, tc.size, tc.inUse)
		v := c.get(id)
		if tc.code != 0 {
			wantCode(t, fmt.Sprintf("extend %+v", tc), err, tc.code)
			if v.Status != tc.status || slices.Contains(c.rpc.called(), fmt.Sprintf("extend %s>%d", id, tc.size)) {
				t.Fatalf("refused extend %+v: status %s, casts %v", tc, v.Status, c.rpc.called())
			}
			continue
		}
		if err != nil || v.Status != cinder.StatusExtending || v.PreviousStatus != tc.status {
			t.Fatalf("extend %+v: %v, %+v", tc, err, v)
		}
	}
}

func TestExtendRevertsWhenCastFails(t *testing.T) {
	c := newCloud(t)
	id := c.volume(func(v *cinder.Volume) { v.Status = cinder.StatusInUse })
	c.rpc.err = errBusDown
	wantCode(t, "extend", c.api.Extend(admin(), id, 2, true), 503)
	if v := c.get(id); v.Status != cinder.StatusInUse || v.PreviousStatus != "" || v.Size != 1 {
		t.Fatalf("after a failed extend cast: %+v", v)
	}
}

// TestClaimLosesRace extends one volume from many goroutines at once: the
// conditional update lets one through, the others find it extending.
func TestClaimLosesRace(t *testing.T) {
	c := newCloud(t)
	id := c.volume(nil)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { errs <- c.api.Extend(admin(), id, 2, false) })
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		if err == nil {
			won++
		} else if cinder.Code(err) != 400 {
			t.Fatalf("losing extend: %v", err)
		}
	}
	if casts := c.rpc.called(); won != 1 || len(casts) != 1 {
		t.Fatalf("%d extends won, casts %v; want one", won, casts)
	}
}

// TestRollbackLeavesLaterChanges: a rollback after a failed cast does not
// undo an admin's reset made meanwhile; it applies only while the volume
// is as the request left it.
func TestRollbackLeavesLaterChanges(t *testing.T) {
	c := newCloud(t)
	id := c.volume(nil)
	before := c.get(id)
	after, err := c.store.UpdateVolume(context.Background(), id, func(v *cinder.Volume) error {
		v.Status, v.MigrationStatus = cinder.StatusMaintenance, cinder.MigrationStarting
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.store.UpdateVolume(context.Background(), id, func(v *cinder.Volume) error {
		v.MigrationStatus = cinder.MigrationError // an admin's reset meanwhile
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.api.rollback(context.Background(), before, after)
	if v := c.get(id); v.MigrationStatus != cinder.MigrationError || v.Status != cinder.StatusMaintenance {
		t.Fatalf("rollback undid a later change: %+v", v)
	}
}

func TestMigrateRules(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	for _, tc := range []struct {
		status, migration, host string
		code                    int
	}{
		{status: "error", host: "hostA@fake2", code: 400},
		{status: "available", migration: cinder.MigrationMigrating, host: "hostA@fake2", code: 400},
		{status: "available", host: "hostA@fake1", code: 400}, // its own backend
		{status: "available", host: "hostA@nowhere", code: 400},
		{status: "in-use", host: "hostA@fake2#fake"},
		{status: "available", migration: cinder.MigrationError, host: "hostA@fake2"},
	} {
		id := c.volume(func(v *cinder.Volume) { v.Status, v.MigrationStatus = tc.status, tc.migration })
		err := c.api.Migrate(ctx, id, Migration{Host: tc.host, LockVolume: true})
		v := c.get(id)
		if tc.code != 0 {
			wantCode(t, fmt.Sprintf("migrate %+v", tc), err, tc.code)
			if v.Status != tc.status || v.MigrationStatus != tc.migration {
				t.Fatalf("refused migrate %+v changed %+v", tc, v)
			}
			continue
		}
		if err != nil || v.MigrationStatus != cinder.MigrationStarting || v.PreviousStatus != tc.status {
			t.Fatalf("migrate %+v: %v, %+v", tc, err, v)
		}
		if want := map[string]string{"available": "maintenance", "in-use": "in-use"}[tc.status]; v.Status != want {
			t.Fatalf("locked migration of a volume %s: status %s, want %s", tc.status, v.Status, want)
		}
	}
	id := c.volume(nil)
	c.rpc.err = errBusDown
	wantCode(t, "migrate", c.api.Migrate(ctx, id, Migration{Host: "hostA@fake2", LockVolume: true}), 503)
	if v := c.get(id); v.Status != cinder.StatusAvailable || v.MigrationStatus != "" || v.PreviousStatus != "" {
		t.Fatalf("after a failed migrate cast: %+v", v)
	}
}

func TestCompleteMigration(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	src := c.volume(func(v *cinder.Volume) { v.MigrationStatus = cinder.MigrationMigrating })
	dst := c.volume(func(v *cinder.Volume) { v.Host = "hostA@fake2#fake" })
	_, err := c.api.CompleteMigration(ctx, src, dst, false)
	wantCode(t, "completion to a volume not migrating", err, 400)
	other := c.volume(func(v *cinder.Volume) { v.MigrationStatus = cinder.MigrationTarget("x") })
	_, err = c.api.CompleteMigration(ctx, src, other, false)
	wantCode(t, "completion to another migration's target", err, 400)
	if _, err := c.store.UpdateVolume(ctx, dst, func(v *cinder.Volume) error {
		v.MigrationStatus = cinder.MigrationTarget(src)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if kept, err := c.api.CompleteMigration(ctx, src, dst, false); err != nil || kept != src {
		t.Fatalf("completion: %q, %v", kept, err)
	}
	if casts := c.rpc.called(); !slices.Equal(casts, []string{"complete " + src + ">" + dst}) {
		t.Fatalf("casts %v", casts)
	}
}

func TestRetypeRules(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	gold := &cinder.VolumeType{Name: "gold", IsPublic: true, ExtraSpecs: map[string]string{}}
	multi := &cinder.VolumeType{Name: "multi", IsPublic: true, ExtraSpecs: map[string]string{"multiattach": "<is> True"}}
	for _, vt := range []*cinder.VolumeType{gold, multi} {
		if err := c.store.CreateVolumeType(ctx, vt); err != nil {
			t.Fatal(err)
		}
	}
	inUse := c.volume(func(v *cinder.Volume) { v.Status = cinder.StatusInUse })
	wantCode(t, "retype of an in-use volume to multiattach", c.api.Retype(ctx, inUse, "multi", cinder.MigrationPolicyNever), 400)
	wantCode(t, "retype to no type", c.api.Retype(ctx, inUse, "", cinder.MigrationPolicyNever), 404)
	wantCode(t, "retype to an unknown type", c.api.Retype(ctx, inUse, "tin", cinder.MigrationPolicyNever), 404)
	same := c.volume(func(v *cinder.Volume) { v.VolumeTypeID = gold.ID })
	wantCode(t, "retype to its own type", c.api.Retype(ctx, same, gold.ID, cinder.MigrationPolicyNever), 400)

	if err := c.api.Retype(ctx, inUse, "gold", cinder.MigrationPolicyOnDemand); err != nil {
		t.Fatal(err)
	}
	if v := c.get(inUse); v.Status != cinder.StatusRetyping || v.PreviousStatus != cinder.StatusInUse {
		t.Fatalf("after retype: %+v", v)
	}
	avail := c.volume(nil)
	if err := c.api.Retype(ctx, avail, multi.ID, cinder.MigrationPolicyNever); err != nil {
		t.Fatal(err)
	}
	if v := c.get(avail); !v.Multiattach {
		t.Fatalf("retyped to a multiattach type, multiattach still %v", v.Multiattach)
	}
	c.rpc.err = errBusDown
	failing := c.volume(nil)
	wantCode(t, "retype", c.api.Retype(ctx, failing, "gold", cinder.MigrationPolicyNever), 503)
	if v := c.get(failing); v.Status != cinder.StatusAvailable || v.PreviousStatus != "" {
		t.Fatalf("after a failed retype cast: %+v", v)
	}
}

func TestCreate(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	v, vt, err := c.api.Create(ctx, CreateRequest{Name: "v", Size: 2})
	if err != nil || v.Status != cinder.StatusCreating || vt.Name != cinder.DefaultVolumeType || v.AvailabilityZone != "nova" {
		t.Fatalf("create: %+v, %+v, %v", v, vt, err)
	}
	_, _, err = c.api.Create(ctx, CreateRequest{Size: 49}) // 2 of 50 GiB used
	wantCode(t, "create over quota", err, 413)
	_, _, err = c.api.Create(ctx, CreateRequest{Size: 1, AvailabilityZone: "mars"})
	wantCode(t, "create in an unknown zone", err, 400)
	c.rpc.err = errBusDown
	_, _, err = c.api.Create(ctx, CreateRequest{Name: "lost", Size: 1})
	wantCode(t, "create", err, 503)
	vols, err := c.store.ListVolumes(ctx, db.VolumeFilter{})
	if err != nil || len(vols) != 1 {
		t.Fatalf("after a failed create cast %d volumes (%v), want the first alone", len(vols), err)
	}
}

func TestResetStatus(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	id := c.volume(func(v *cinder.Volume) { v.MigrationStatus = cinder.MigrationMigrating })
	for _, st := range []string{cinder.StatusDeleting, cinder.StatusErrorDelete, cinder.StatusDetaching, cinder.StatusInUse} {
		wantCode(t, "reset to "+st, c.api.ResetStatus(ctx, id, Reset{Status: st}), 400)
	}
	if err := c.api.ResetStatus(ctx, id, Reset{Status: "error", MigrationStatus: "none"}); err != nil {
		t.Fatal(err)
	}
	if v := c.get(id); v.Status != cinder.StatusError || v.MigrationStatus != "" || v.AttachStatus != "detached" {
		t.Fatalf("after reset: %+v", v)
	}
}

func TestConnectionsNeedAPlacedVolume(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	unplaced := c.volume(func(v *cinder.Volume) { v.Host, v.Status = "", cinder.StatusCreating })
	_, err := c.api.InitializeConnection(ctx, unplaced, nil)
	wantCode(t, "initialize an unplaced volume", err, 400)
	locked := c.volume(func(v *cinder.Volume) { v.Status = cinder.StatusMaintenance })
	wantCode(t, "terminate a volume in maintenance", c.api.TerminateConnection(ctx, locked, nil), 400)
	id := c.volume(nil)
	c.rpc.err = &rpc.RemoteError{Class: "VolumeBackendAPIException", Message: "boom"}
	_, err = c.api.InitializeConnection(ctx, id, nil)
	wantCode(t, "initialize on a failing backend", err, 500)
	var ce *cinder.Error
	if !errors.As(err, &ce) || ce.Message != "Unable to fetch connection information from backend." {
		t.Fatalf("backend failure answered %v", err)
	}
}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	m.Run()
}
