package volume

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// wantUsage fails unless project's usage of the resources of want is want.
func (c *cloud) wantUsage(project string, want map[string]db.Usage) {
	c.t.Helper()
	got, err := c.store.QuotaUsages(context.Background(), project, slices.Sorted(maps.Keys(want)))
	if err != nil || !reflect.DeepEqual(got, want) {
		c.t.Fatalf("usage of %s = %v, %v; want %v", project, got, err, want)
	}
}

// limit sets project's limits.
func (c *cloud) limit(project string, limits map[string]int) {
	c.t.Helper()
	if err := c.store.SetProjectQuotas(context.Background(), project, limits); err != nil {
		c.t.Fatal(err)
	}
}

// wantFault fails unless err is a Cinder exception of class and message.
func wantFault(t *testing.T, what string, err error, class, message string) {
	t.Helper()
	ce, ok := err.(*cinder.Error)
	if !ok || ce.Class != class || ce.Message != message {
		t.Fatalf("%s: %v (%T), want %s %q", what, err, err, class, message)
	}
}

// TestVolumeQuota creates volumes up to the project's volumes limit: the
// next is refused with Cinder's VolumeLimitExceeded, a deleted volume gives
// its room back, and a create whose cast fails leaves no usage behind.
func TestVolumeQuota(t *testing.T) {
	c := newCloud(t)
	c.limit("admin", map[string]int{db.QuotaVolumes: 2})
	var ids []string
	for range 2 {
		v, _, err := c.api.Create(admin(), CreateRequest{Size: 3})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	_, _, err := c.api.Create(admin(), CreateRequest{Size: 1})
	wantFault(t, "third volume", err, "VolumeLimitExceeded", "Maximum number of volumes allowed (2) exceeded for quota 'volumes'.")
	c.wantUsage("admin", map[string]db.Usage{db.QuotaVolumes: {InUse: 2}, db.QuotaGigabytes: {InUse: 6},
		"volumes___DEFAULT__": {InUse: 2}, "gigabytes___DEFAULT__": {InUse: 6}})

	if err := c.api.Delete(admin(), ids[0], true, false); err != nil { // no host: destroyed at once
		t.Fatal(err)
	}
	c.wantUsage("admin", map[string]db.Usage{db.QuotaVolumes: {InUse: 1}, db.QuotaGigabytes: {InUse: 3}})
	c.rpc.err = errBusDown
	_, _, err = c.api.Create(admin(), CreateRequest{Size: 1})
	wantCode(t, "create with the bus down", err, 503)
	c.wantUsage("admin", map[string]db.Usage{db.QuotaVolumes: {InUse: 1}, db.QuotaGigabytes: {InUse: 3}})
	c.rpc.err = nil
	if _, _, err := c.api.Create(admin(), CreateRequest{Size: 1}); err != nil {
		t.Fatalf("create after a delete: %v", err)
	}
}

// TestGigabytesQuota refuses a volume larger than per_volume_gigabytes or
// than the gigabytes left, in Cinder's words, and counts snapshots in
// gigabytes.
func TestGigabytesQuota(t *testing.T) {
	c := newCloud(t)
	c.limit("admin", map[string]int{QuotaPerVolumeGigabytes: 5, db.QuotaGigabytes: 10})
	_, _, err := c.api.Create(admin(), CreateRequest{Size: 6})
	wantFault(t, "volume over per_volume_gigabytes", err, "VolumeSizeExceedsLimit", "Requested volume size 6G is larger than maximum allowed limit 5G.")
	for range 2 {
		if _, _, err := c.api.Create(admin(), CreateRequest{Size: 4}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = c.api.Create(admin(), CreateRequest{Size: 3})
	wantFault(t, "volume over gigabytes", err, "VolumeSizeExceedsAvailableQuota",
		"Requested volume or snapshot exceeds allowed gigabytes quota. Requested 3G, quota is 10G and 8G has been consumed.")
}

// TestSnapshotQuota refuses a snapshot past the snapshots limit with
// SnapshotLimitExceeded, and past gigabytes with the volume's size.
func TestSnapshotQuota(t *testing.T) {
	c := newCloud(t)
	c.limit("admin", map[string]int{db.QuotaSnapshots: 1, db.QuotaGigabytes: 3})
	vol := c.volume(func(v *cinder.Volume) { v.Size = 1 })
	if _, err := c.api.CreateSnapshot(admin(), SnapshotRequest{VolumeID: vol}); err != nil {
		t.Fatal(err)
	}
	_, err := c.api.CreateSnapshot(admin(), SnapshotRequest{VolumeID: vol})
	wantFault(t, "second snapshot", err, "SnapshotLimitExceeded", "Maximum number of snapshots allowed (1) exceeded")
	c.limit("admin", map[string]int{db.QuotaSnapshots: 5})
	big := c.volume(func(v *cinder.Volume) { v.Size = 2 })
	_, err = c.api.CreateSnapshot(admin(), SnapshotRequest{VolumeID: big})
	wantFault(t, "snapshot over gigabytes", err, "VolumeSizeExceedsAvailableQuota",
		"Requested volume or snapshot exceeds allowed gigabytes quota. Requested 2G, quota is 3G and 4G has been consumed.")
	c.wantUsage("admin", map[string]db.Usage{db.QuotaSnapshots: {InUse: 1}, db.QuotaGigabytes: {InUse: 4}})
}

// TestExtendQuota holds the GiB an extend adds from the request until the
// backend writes the new size (or fails), refusing it past gigabytes with
// the volume's status back.
func TestExtendQuota(t *testing.T) {
	c := newCloud(t)
	c.limit("admin", map[string]int{db.QuotaGigabytes: 4})
	id := c.volume(nil)
	err := c.api.Extend(admin(), id, 6, false)
	wantFault(t, "extend over gigabytes", err, "VolumeSizeExceedsAvailableQuota",
		"Requested volume or snapshot exceeds allowed gigabytes quota. Requested 5G, quota is 4G and 1G has been consumed.")
	if v := c.get(id); v.Status != cinder.StatusAvailable {
		t.Fatalf("status after an extend over quota: %s", v.Status)
	}
	if err := c.api.Extend(admin(), id, 3, false); err != nil {
		t.Fatal(err)
	}
	c.wantUsage("admin", map[string]db.Usage{db.QuotaGigabytes: {InUse: 1, Reserved: 2}})
	// The backend's answer, as the manager writes it.
	c.setVolume(id, func(v *cinder.Volume) { v.Size, v.Status = 3, cinder.StatusAvailable })
	c.wantUsage("admin", map[string]db.Usage{db.QuotaGigabytes: {InUse: 3}})

	if err := c.api.Extend(admin(), id, 4, false); err != nil {
		t.Fatal(err)
	}
	c.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusErrorExtend }) // the driver failed
	c.wantUsage("admin", map[string]db.Usage{db.QuotaGigabytes: {InUse: 3}})
}

// TestTypeQuota limits the volumes of one type and moves a retyped
// volume's usage from its old type to its new one.
func TestTypeQuota(t *testing.T) {
	c := newCloud(t)
	gold := &cinder.VolumeType{Name: "gold"}
	if err := c.store.CreateVolumeType(context.Background(), gold); err != nil {
		t.Fatal(err)
	}
	c.limit("admin", map[string]int{"volumes_gold": 1})
	if _, _, err := c.api.Create(admin(), CreateRequest{Size: 1, VolumeType: "gold"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.api.Create(admin(), CreateRequest{Size: 1, VolumeType: "gold"})
	wantFault(t, "second gold volume", err, "VolumeLimitExceeded", "Maximum number of volumes allowed (1) exceeded for quota 'volumes_gold'.")

	def, err := c.api.ResolveType(admin(), "")
	if err != nil {
		t.Fatal(err)
	}
	id := c.volume(func(v *cinder.Volume) { v.VolumeTypeID = def.ID })
	err = c.api.Retype(admin(), id, "gold", "never")
	wantFault(t, "retype into a full type", err, "VolumeLimitExceeded", "Maximum number of volumes allowed (1) exceeded for quota 'volumes_gold'.")
	if v := c.get(id); v.Status != cinder.StatusAvailable {
		t.Fatalf("status after a retype over quota: %s", v.Status)
	}
	c.limit("admin", map[string]int{"volumes_gold": 2})
	if err := c.api.Retype(admin(), id, "gold", "never"); err != nil {
		t.Fatal(err)
	}
	c.wantUsage("admin", map[string]db.Usage{"volumes_gold": {InUse: 1, Reserved: 1}, "volumes___DEFAULT__": {InUse: 1}})
	// The backend retypes in place, as the manager writes it.
	c.setVolume(id, func(v *cinder.Volume) {
		v.VolumeTypeID = gold.ID
		if err := cinder.EndRetype(v); err != nil {
			t.Fatal(err)
		}
	})
	c.wantUsage("admin", map[string]db.Usage{"volumes_gold": {InUse: 2}, "volumes___DEFAULT__": {}, db.QuotaVolumes: {InUse: 2}})
}

// TestUpdateProjectQuotas refuses a limit below what the project uses, as
// Cinder does only once the project has a limit of its own for it.
func TestUpdateProjectQuotas(t *testing.T) {
	c := newCloud(t)
	c.volume(nil)
	c.volume(nil)
	set := []Quota{{Resource: db.QuotaVolumes, Limit: 1}}
	if _, err := c.api.UpdateProjectQuotas(admin(), "admin", set); err != nil {
		t.Fatalf("first limit below usage: %v", err)
	}
	_, err := c.api.UpdateProjectQuotas(admin(), "admin", set)
	wantFault(t, "own limit below usage", err, "Invalid",
		"Quota volumes limit must be equal or greater than existing resources. Current usage is 2 and the requested limit is 1.")
	qs, err := c.api.UpdateProjectQuotas(admin(), "admin", []Quota{{Resource: db.QuotaVolumes, Limit: -1}, {Resource: QuotaPerVolumeGigabytes, Limit: 0}})
	if err != nil {
		t.Fatal(err)
	}
	if got := limitsOf(qs); got[db.QuotaVolumes] != -1 || got[QuotaPerVolumeGigabytes] != 0 || got[db.QuotaGigabytes] != 50 {
		t.Fatalf("limits %v", got)
	}
	if err := c.api.DeleteProjectQuotas(admin(), "admin"); err != nil {
		t.Fatal(err)
	}
	if qs, _ := c.api.ProjectQuotas(admin(), "admin", false); limitsOf(qs)[db.QuotaVolumes] != -1 || limitsOf(qs)[QuotaPerVolumeGigabytes] != -1 {
		t.Fatalf("limits after delete %v", limitsOf(qs))
	}
}

// TestDefaultQuotaClass: the default class's limits are the defaults with
// use_default_quota_class, and the quota_* options are without it.
func TestDefaultQuotaClass(t *testing.T) {
	c := newCloud(t)
	if _, err := c.api.UpdateQuotaClass(admin(), DefaultQuotaClass, []Quota{{Resource: db.QuotaGigabytes, Limit: 7}}); err != nil {
		t.Fatal(err)
	}
	for _, use := range []bool{true, false} {
		c.api.cfg.UseDefaultQuotaClass = use
		want := map[bool]int{true: 7, false: 50}[use]
		defaults, err := c.api.DefaultQuotas(admin())
		if err != nil || limitsOf(defaults)[db.QuotaGigabytes] != want {
			t.Errorf("use_default_quota_class %v: defaults %v, %v; want gigabytes %d", use, defaults, err, want)
		}
		qs, err := c.api.ProjectQuotas(admin(), "p", false)
		if err != nil || limitsOf(qs)[db.QuotaGigabytes] != want {
			t.Errorf("use_default_quota_class %v: project quotas %v, %v; want gigabytes %d", use, qs, err, want)
		}
	}
	class, err := c.api.QuotaClass(admin(), "gold-class")
	if err != nil || limitsOf(class)[db.QuotaGigabytes] != 7 || limitsOf(class)[db.QuotaBackups] != 4 {
		t.Errorf("another class: %v, %v; want the default class's gigabytes, backups from the option", class, err)
	}
	names := make([]string, len(class))
	for i, q := range class {
		names[i] = q.Resource
	}
	want := []string{"volumes", "per_volume_gigabytes", "snapshots", "gigabytes", "backups", "backup_gigabytes",
		"volumes___DEFAULT__", "gigabytes___DEFAULT__", "snapshots___DEFAULT__", "groups"}
	if !slices.Equal(names, want) {
		t.Errorf("resources %v, want %v", names, want)
	}
}
