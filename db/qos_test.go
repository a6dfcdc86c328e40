package db

import (
	"context"
	"reflect"
	"testing"

	"github.com/cinder-go/cinder"
)

func TestQoSSpecs(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		fast := &cinder.QoSSpecs{Name: "fast", Consumer: cinder.ConsumerFrontEnd, Specs: map[string]string{"total_iops_sec": "1000"}}
		slow := &cinder.QoSSpecs{Name: "slow", Consumer: cinder.ConsumerBackEnd}
		for _, q := range []*cinder.QoSSpecs{fast, slow} {
			if err := db.CreateQoSSpecs(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.GetQoSSpecs(ctx, fast.ID)
		if err != nil || !reflect.DeepEqual(got, fast) {
			t.Fatalf("GetQoSSpecs = %+v, %v; want %+v", got, err, fast)
		}
		err = db.CreateQoSSpecs(ctx, &cinder.QoSSpecs{Name: "fast", Consumer: cinder.ConsumerBoth})
		wantCode(t, err, 409, "QoSSpecsExists")
		if err.Error() != "QoS Specs fast already exists." {
			t.Fatalf("duplicate message %q", err)
		}
		_, err = db.GetQoSSpecs(ctx, "no-such-specs")
		wantCode(t, err, 404, "QoSSpecsNotFound")

		list, err := db.ListQoSSpecs(ctx, QoSFilter{SortKey: "name"})
		if err != nil || len(list) != 2 || list[0].Name != "fast" || list[1].Name != "slow" {
			t.Fatalf("ListQoSSpecs by name = %v, %v", list, err)
		}
		list, err = db.ListQoSSpecs(ctx, QoSFilter{Consumer: cinder.ConsumerBackEnd})
		if err != nil || len(list) != 1 || list[0].ID != slow.ID {
			t.Fatalf("ListQoSSpecs of back-end = %v, %v", list, err)
		}
		list, err = db.ListQoSSpecs(ctx, QoSFilter{SortKey: "name", Marker: fast.ID, Limit: 5})
		if err != nil || len(list) != 1 || list[0].ID != slow.ID {
			t.Fatalf("ListQoSSpecs after fast = %v, %v", list, err)
		}

		if _, err := db.UpdateQoSSpecs(ctx, fast.ID, func(q *cinder.QoSSpecs) error {
			q.Consumer, q.Specs["read_iops_sec"] = cinder.ConsumerBoth, "500"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err = db.GetQoSSpecs(ctx, fast.ID)
		if err != nil || got.Consumer != cinder.ConsumerBoth || len(got.Specs) != 2 || got.UpdatedAt == nil {
			t.Fatalf("after UpdateQoSSpecs: %+v, %v", got, err)
		}

		// Associations: one QoS specs per type.
		gold, silver := &cinder.VolumeType{Name: "gold"}, &cinder.VolumeType{Name: "silver"}
		for _, vt := range []*cinder.VolumeType{gold, silver} {
			if err := db.CreateVolumeType(ctx, vt); err != nil {
				t.Fatal(err)
			}
			if err := db.AssociateQoSSpecs(ctx, fast.ID, vt.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.AssociateQoSSpecs(ctx, fast.ID, gold.ID); err != nil {
			t.Fatalf("associating again: %v", err)
		}
		wantCode(t, db.AssociateQoSSpecs(ctx, slow.ID, gold.ID), 400, "InvalidVolumeType")
		wantCode(t, db.AssociateQoSSpecs(ctx, slow.ID, "no-such-type"), 404, "VolumeTypeNotFound")
		wantCode(t, db.AssociateQoSSpecs(ctx, "no-such-specs", gold.ID), 404, "QoSSpecsNotFound")
		if q, err := db.TypeQoSSpecs(ctx, gold.ID); err != nil || q == nil || q.ID != fast.ID {
			t.Fatalf("TypeQoSSpecs(gold) = %+v, %v", q, err)
		}
		if vt, err := db.GetVolumeType(ctx, gold.ID); err != nil || vt.QoSSpecsID != fast.ID {
			t.Fatalf("gold's qos_specs_id: %+v, %v", vt, err)
		}
		associated, err := db.ListVolumeTypes(ctx, TypeFilter{QoSSpecsID: fast.ID})
		if err != nil || len(associated) != 2 {
			t.Fatalf("types of fast: %v, %v", associated, err)
		}

		if err := db.DisassociateQoSSpecs(ctx, fast.ID, gold.ID); err != nil {
			t.Fatal(err)
		}
		if q, err := db.TypeQoSSpecs(ctx, gold.ID); err != nil || q != nil {
			t.Fatalf("TypeQoSSpecs after disassociate = %+v, %v", q, err)
		}
		wantCode(t, db.DisassociateQoSSpecs(ctx, fast.ID, "no-such-type"), 404, "VolumeTypeNotFound")

		// In use: deleted only with force, which disassociates.
		wantCode(t, db.DeleteQoSSpecs(ctx, fast.ID, false), 400, "QoSSpecsInUse")
		if err := db.DeleteQoSSpecs(ctx, fast.ID, true); err != nil {
			t.Fatal(err)
		}
		_, err = db.GetQoSSpecs(ctx, fast.ID)
		wantCode(t, err, 404, "QoSSpecsNotFound")
		if vt, err := db.GetVolumeType(ctx, silver.ID); err != nil || vt.QoSSpecsID != "" {
			t.Fatalf("silver after its QoS specs' forced delete: %+v, %v", vt, err)
		}
		if err := db.DisassociateQoSSpecs(ctx, slow.ID, ""); err != nil {
			t.Fatalf("disassociating all of unassociated specs: %v", err)
		}
		if err := db.DeleteQoSSpecs(ctx, slow.ID, false); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateQoSSpecs(ctx, &cinder.QoSSpecs{Name: "fast", Consumer: cinder.ConsumerBoth}); err != nil {
			t.Fatalf("reusing a deleted name: %v", err)
		}
	})
}
