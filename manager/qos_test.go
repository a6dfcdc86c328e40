package manager_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/cinder-go/cinder"
)

// TestConnectionQoSSpecs: initialize_connection hands the connector the
// specs of its volume type's QoS specs when they are for the front end
// (per-GiB limits for the volume's size), and null otherwise, as Cinder's
// manager; the answer crosses RPC.
func TestConnectionQoSSpecs(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	ctx := context.Background()
	vt := &cinder.VolumeType{Name: "limited", IsPublic: true}
	if err := e.store.CreateVolumeType(ctx, vt); err != nil {
		t.Fatal(err)
	}
	q := &cinder.QoSSpecs{Name: "limits", Consumer: cinder.ConsumerBackEnd,
		Specs: map[string]string{"total_iops_sec_per_gb": "100", "read_bytes_sec": "1048576"}}
	if err := e.store.CreateQoSSpecs(ctx, q); err != nil {
		t.Fatal(err)
	}
	if err := e.store.AssociateQoSSpecs(ctx, q.ID, vt.ID); err != nil {
		t.Fatal(err)
	}
	v := e.volume(t, e.pool(), cinder.StatusCreating, 3)
	if _, err := e.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error { v.VolumeTypeID = vt.ID; return nil }); err != nil {
		t.Fatal(err)
	}
	v.VolumeTypeID = vt.ID
	if err := e.client.CreateVolume(ctx, v, nil); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, v.ID, cinder.StatusAvailable)

	qosOf := func() string {
		t.Helper()
		info, err := e.client.InitializeConnection(ctx, v, map[string]any{"host": "node1"})
		if err != nil {
			t.Fatal(err)
		}
		if info.Data["device_path"] != e.file(v) {
			t.Fatalf("connection info %+v", info)
		}
		raw, err := json.Marshal(info.Data["qos_specs"])
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	if got := qosOf(); got != "null" {
		t.Fatalf("qos_specs of back-end specs: %s", got)
	}
	if _, err := e.store.UpdateQoSSpecs(ctx, q.ID, func(q *cinder.QoSSpecs) error { q.Consumer = cinder.ConsumerFrontEnd; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, want := qosOf(), `{"read_bytes_sec":"1048576","total_iops_sec":300}`; got != want {
		t.Fatalf("qos_specs of front-end specs: %s, want %s", got, want)
	}
}
