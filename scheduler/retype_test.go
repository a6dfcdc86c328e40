package scheduler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/internal/testdb"
)

// backendType creates a volume type that asks for volume_backend_name backend.
func (c *cloud) backendType(t *testing.T, name, backend string) *cinder.VolumeType {
	t.Helper()
	vt := &cinder.VolumeType{Name: name, ExtraSpecs: map[string]string{"volume_backend_name": backend}}
	if err := c.store.CreateVolumeType(context.Background(), vt); err != nil {
		t.Fatal(err)
	}
	return vt
}

// retype sets v up as the API does for os-retype (status retyping,
// previous_status) and asks the scheduler to give it type vt under policy,
// then waits until v is no longer retyping.
func (c *cloud) retype(t *testing.T, v *cinder.Volume, vt *cinder.VolumeType, policy string) *cinder.Volume {
	t.Helper()
	ctx := context.Background()
	v, err := c.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		v.PreviousStatus, v.Status = v.Status, cinder.StatusRetyping
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	spec := cinder.RequestSpec{VolumeID: v.ID, Size: v.Size, VolumeType: vt, AvailabilityZone: v.AvailabilityZone, MigrationPolicy: policy}
	if err := c.client.Retype(ctx, v, spec); err != nil {
		t.Fatal(err)
	}
	return testdb.WaitVolume(t, c.store, v.ID, 30*time.Second, "its retype to end", func(v *cinder.Volume) bool {
		return v.Status != cinder.StatusRetyping && v.MigrationStatus != cinder.MigrationStarting &&
			v.MigrationStatus != cinder.MigrationMigrating && v.MigrationStatus != cinder.MigrationCompleting
	})
}

// A volume retyped to a type its pool serves keeps its pool and storage, even
// when the pool could not take it again (its capacity holds it already).
func TestRetypeInPlace(t *testing.T) {
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thin", "thin")
	c.addBackend(t, "thick", "thick")
	c.pools(t, "node1@thick#thick", "node1@thin#thin")
	thick, thickToo := c.backendType(t, "thick", "thick"), c.backendType(t, "thick-too", "thick")
	v := c.wait(t, c.create(t, 8, thick).ID) // 8 of thick's 10 GiB: no room for it twice
	if v.Host != "node1@thick#thick" || v.Status != cinder.StatusAvailable {
		t.Fatalf("volume %s on %s, want available on node1@thick#thick", v.Status, v.Host)
	}
	c.pools(t, "node1@thick#thick", "node1@thin#thin")
	got := c.retype(t, v, thickToo, cinder.MigrationPolicyNever)
	if got.Status != cinder.StatusAvailable || got.VolumeTypeID != thickToo.ID || got.Host != v.Host || got.MigrationStatus != "" || got.NameID != "" {
		t.Fatalf("after retype: %s, type %s, on %s, migration_status %q, name_id %q; want available, %s, on %s, no migration",
			got.Status, got.VolumeTypeID, got.Host, got.MigrationStatus, got.NameID, thickToo.ID, v.Host)
	}
}

// A retype its pool cannot serve migrates the volume, bytes and all, when
// the policy is on-demand, and is refused with never.
func TestRetypeAcrossBackends(t *testing.T) {
	c := newCloud(t, time.Minute)
	c.addBackend(t, "thin", "thin")
	c.addBackend(t, "thick", "thick")
	c.pools(t, "node1@thick#thick", "node1@thin#thin")
	thin, thick := c.backendType(t, "thin", "thin"), c.backendType(t, "thick", "thick")
	v := c.wait(t, c.create(t, 1, thin).ID)
	c.mark(t, "thin", v, 0)

	got := c.retype(t, v, thick, cinder.MigrationPolicyNever)
	if got.Status != cinder.StatusAvailable || got.VolumeTypeID != thin.ID || got.Host != v.Host {
		t.Fatalf("after a refused retype: %s, type %s, on %s; want available, %s, on %s", got.Status, got.VolumeTypeID, got.Host, thin.ID, v.Host)
	}
	msgs, err := c.store.ListMessages(context.Background(), v.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	var told bool
	for _, m := range msgs {
		told = told || m.ResourceUUID == v.ID && strings.Contains(m.UserMessage, "Could not find any available weighted backend")
	}
	if !told {
		t.Errorf("no user message for the refused retype: %+v", msgs)
	}

	c.pools(t, "node1@thick#thick", "node1@thin#thin")
	got = c.retype(t, got, thick, cinder.MigrationPolicyOnDemand)
	if got.Status != cinder.StatusAvailable || got.VolumeTypeID != thick.ID || got.Host != "node1@thick#thick" || got.MigrationStatus != cinder.MigrationSuccess {
		t.Fatalf("after retype on demand: %s, type %s, on %s, migration_status %s; want available, %s, on node1@thick#thick, success",
			got.Status, got.VolumeTypeID, got.Host, got.MigrationStatus, thick.ID)
	}
	if !c.marked(t, "thick", got, 0) {
		t.Fatal("the volume's bytes did not move")
	}
}
