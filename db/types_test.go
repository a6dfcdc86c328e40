package db

import (
	"context"
	"reflect"
	"testing"

	"github.com/cinder-go/cinder"
)

func TestVolumeTypes(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		gold := &cinder.VolumeType{Name: "gold", Description: "fast", IsPublic: true,
			ExtraSpecs: map[string]string{"volume_backend_name": "lvm", "thin": "<is> True"}}
		if err := db.CreateVolumeType(ctx, gold); err != nil {
			t.Fatal(err)
		}
		if gold.ID == "" {
			t.Fatal("CreateVolumeType left the ID empty")
		}
		byID, err := db.GetVolumeType(ctx, gold.ID)
		if err != nil || !reflect.DeepEqual(byID, gold) {
			t.Fatalf("GetVolumeType = %+v, %v; want %+v", byID, err, gold)
		}
		byName, err := db.GetVolumeTypeByName(ctx, "gold")
		if err != nil || !reflect.DeepEqual(byName, gold) {
			t.Fatalf("GetVolumeTypeByName = %+v, %v; want %+v", byName, err, gold)
		}
		_, err = db.GetVolumeTypeByName(ctx, "silver")
		wantCode(t, err, 404, "VolumeTypeNotFound")

		err = db.CreateVolumeType(ctx, &cinder.VolumeType{Name: "gold"})
		wantCode(t, err, 409, "Duplicate")
		if err.Error() != "Volume Type gold already exists." {
			t.Fatalf("duplicate type message %q", err)
		}

		bronze := &cinder.VolumeType{Name: "bronze"}
		if err := db.CreateVolumeType(ctx, bronze); err != nil {
			t.Fatal(err)
		}
		list, err := db.ListVolumeTypes(ctx)
		if err != nil || len(list) != 3 || list[0].Name != cinder.DefaultVolumeType || list[1].Name != "bronze" || list[2].Name != "gold" {
			t.Fatalf("ListVolumeTypes = %v, %v; want __DEFAULT__, bronze, gold", list, err)
		}

		written, err := db.UpdateVolumeType(ctx, gold.ID, func(t *cinder.VolumeType) error {
			t.ExtraSpecs["replication"] = "<is> True"
			delete(t.ExtraSpecs, "thin")
			t.Name = "platinum"
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.GetVolumeType(ctx, gold.ID)
		want := map[string]string{"volume_backend_name": "lvm", "replication": "<is> True"}
		if err != nil || !reflect.DeepEqual(got, written) || !reflect.DeepEqual(got.ExtraSpecs, want) || got.Name != "platinum" || got.UpdatedAt == nil {
			t.Fatalf("after UpdateVolumeType: %+v, %v", got, err)
		}
		_, err = db.UpdateVolumeType(ctx, bronze.ID, func(t *cinder.VolumeType) error {
			t.Name = "platinum"
			return nil
		})
		wantCode(t, err, 409, "Duplicate")

		v := &cinder.Volume{VolumeTypeID: gold.ID}
		createVolumes(t, db, v)
		wantCode(t, db.DeleteVolumeType(ctx, gold.ID), 400, "Invalid")
		if _, err := db.GetVolumeType(ctx, gold.ID); err != nil {
			t.Fatalf("refused delete removed the type: %v", err)
		}
		if err := db.DestroyVolume(ctx, v.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteVolumeType(ctx, gold.ID); err != nil {
			t.Fatalf("delete of a type no longer in use: %v", err)
		}
		_, err = db.GetVolumeType(ctx, gold.ID)
		wantCode(t, err, 404, "VolumeTypeNotFound")
		wantCode(t, db.DeleteVolumeType(ctx, gold.ID), 404, "VolumeTypeNotFound")
		if err := db.CreateVolumeType(ctx, &cinder.VolumeType{Name: "platinum"}); err != nil {
			t.Fatalf("reusing a deleted type's name: %v", err)
		}
	})
}
