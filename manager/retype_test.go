package manager_test

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// TestRetypeInPlaceMovesQuota retypes a volume with a snapshot in place:
// the snapshot takes the volume's new type, as Cinder's retype gives it,
// and the per-type usage of both moves from the old type to the new.
func TestRetypeInPlaceMovesQuota(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	ctx := context.Background()
	var types []*cinder.VolumeType
	for _, name := range []string{"silver", "gold"} {
		vt := &cinder.VolumeType{Name: name}
		if err := e.store.CreateVolumeType(ctx, vt); err != nil {
			t.Fatal(err)
		}
		types = append(types, vt)
	}
	v := e.volume(t, e.pool(), cinder.StatusRetyping, 2)
	v, err := e.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		v.VolumeTypeID, v.UseQuota, v.PreviousStatus = types[0].ID, true, cinder.StatusAvailable
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s := e.snapshot(t, v, cinder.SnapshotAvailable)
	if _, err := e.store.UpdateSnapshot(ctx, s.ID, func(s *cinder.Snapshot) error {
		s.VolumeTypeID, s.UseQuota = types[0].ID, true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	usage := func(want map[string]db.Usage) {
		t.Helper()
		got, err := e.store.QuotaUsages(ctx, "p", slices.Sorted(maps.Keys(want)))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("usage %v, %v; want %v", got, err, want)
		}
	}
	usage(map[string]db.Usage{"volumes_silver": {InUse: 1}, "gigabytes_silver": {InUse: 4}, "snapshots_silver": {InUse: 1},
		"volumes_gold": {}, "gigabytes_gold": {}, "snapshots_gold": {}})

	if err := e.client.Retype(ctx, v, types[1].ID, e.pool(), nil, "never"); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, v.ID, cinder.StatusAvailable)
	deadline := time.Now().Add(10 * time.Second) // the snapshots follow the volume's write
	for {
		s, err := e.store.GetSnapshot(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.VolumeTypeID == types[1].ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot %+v: want of type gold", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	usage(map[string]db.Usage{"volumes_silver": {}, "gigabytes_silver": {}, "snapshots_silver": {},
		"volumes_gold": {InUse: 1}, "gigabytes_gold": {InUse: 4}, "snapshots_gold": {InUse: 1}})
}
