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
		list, err := db.ListVolumeTypes(ctx, TypeFilter{})
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
		wantCode(t, db.DeleteVolumeType(ctx, gold.ID), 400, "VolumeTypeInUse")
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

func TestTypeAccess(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		private := &cinder.VolumeType{Name: "private"}
		other := &cinder.VolumeType{Name: "other"}
		for _, vt := range []*cinder.VolumeType{private, other} {
			if err := db.CreateVolumeType(ctx, vt); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{"p1", "p2"} {
			if err := db.AddTypeProject(ctx, private.ID, p); err != nil {
				t.Fatal(err)
			}
		}
		err := db.AddTypeProject(ctx, private.ID, "p1")
		wantCode(t, err, 409, "VolumeTypeAccessExists")
		if want := "Volume type access for " + private.ID + " / p1 combination already exists."; err.Error() != want {
			t.Fatalf("duplicate access message %q", err)
		}
		wantCode(t, db.AddTypeProject(ctx, "no-such-type", "p1"), 404, "VolumeTypeNotFound")
		if got, err := db.TypeProjects(ctx, private.ID); err != nil || !reflect.DeepEqual(got, []string{"p1", "p2"}) {
			t.Fatalf("TypeProjects = %v, %v", got, err)
		}

		names := func(f TypeFilter) []string {
			t.Helper()
			types, err := db.ListVolumeTypes(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, vt := range types {
				out = append(out, vt.Name)
			}
			return out
		}
		yes, no := true, false
		for _, c := range []struct {
			f    TypeFilter
			want []string
		}{
			{TypeFilter{}, []string{cinder.DefaultVolumeType, "other", "private"}},
			{TypeFilter{IsPublic: &yes}, []string{cinder.DefaultVolumeType}},
			{TypeFilter{IsPublic: &yes, ProjectID: "p2"}, []string{cinder.DefaultVolumeType, "private"}},
			{TypeFilter{IsPublic: &yes, ProjectID: "p3"}, []string{cinder.DefaultVolumeType}},
			{TypeFilter{IsPublic: &no, ProjectID: "p3"}, []string{"other", "private"}},
		} {
			if got := names(c.f); !reflect.DeepEqual(got, c.want) {
				t.Errorf("ListVolumeTypes(%+v) = %v, want %v", c.f, got, c.want)
			}
		}

		if err := db.RemoveTypeProject(ctx, private.ID, "p1"); err != nil {
			t.Fatal(err)
		}
		err = db.RemoveTypeProject(ctx, private.ID, "p1")
		wantCode(t, err, 404, "VolumeTypeAccessNotFound")
		if want := "Volume type access not found for " + private.ID + " / p1 combination."; err.Error() != want {
			t.Fatalf("missing access message %q", err)
		}
		// A deleted type's access list goes with it.
		if err := db.DeleteVolumeType(ctx, private.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := db.TypeProjects(ctx, private.ID); err != nil || len(got) != 0 {
			t.Fatalf("TypeProjects of a deleted type = %v, %v", got, err)
		}
	})
}

func TestDefaultTypes(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		gold, silver := &cinder.VolumeType{Name: "gold"}, &cinder.VolumeType{Name: "silver"}
		for _, vt := range []*cinder.VolumeType{gold, silver} {
			if err := db.CreateVolumeType(ctx, vt); err != nil {
				t.Fatal(err)
			}
		}
		_, err := db.GetDefaultType(ctx, "p1")
		wantCode(t, err, 404, "VolumeTypeProjectDefaultNotFound")
		if err.Error() != "Default type for project p1 not found." {
			t.Fatalf("missing default message %q", err)
		}
		for _, set := range [][2]string{{"p1", silver.ID}, {"p2", gold.ID}, {"p1", gold.ID}} {
			if err := db.SetDefaultType(ctx, set[0], set[1]); err != nil {
				t.Fatal(err)
			}
		}
		if id, err := db.GetDefaultType(ctx, "p1"); err != nil || id != gold.ID {
			t.Fatalf("GetDefaultType(p1) = %q, %v; want gold, set last", id, err)
		}
		all, err := db.ListDefaultTypes(ctx)
		if err != nil || len(all) != 2 || *all[0] != (DefaultType{"p1", gold.ID}) || *all[1] != (DefaultType{"p2", gold.ID}) {
			t.Fatalf("ListDefaultTypes = %v, %v", all, err)
		}
		wantCode(t, db.SetDefaultType(ctx, "p3", "no-such-type"), 404, "VolumeTypeNotFound")

		// A project's default type is not deleted; unset, it is.
		err = db.DeleteVolumeType(ctx, gold.ID)
		wantCode(t, err, 400, "VolumeTypeDefaultDeletionError")
		for _, p := range []string{"p1", "p2", "p2"} { // a second unset is no error
			if err := db.UnsetDefaultType(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.DeleteVolumeType(ctx, gold.ID); err != nil {
			t.Fatalf("delete of a type no project defaults to: %v", err)
		}
		if all, err := db.ListDefaultTypes(ctx); err != nil || len(all) != 0 {
			t.Fatalf("ListDefaultTypes after unsets = %v, %v", all, err)
		}
	})
}

func TestEncryption(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		vt := &cinder.VolumeType{Name: "secret"}
		if err := db.CreateVolumeType(ctx, vt); err != nil {
			t.Fatal(err)
		}
		_, err := db.GetEncryption(ctx, vt.ID)
		wantCode(t, err, 404, "VolumeTypeEncryptionNotFound")

		cipher, size := "aes-xts-plain64", 256
		e := &cinder.Encryption{VolumeTypeID: vt.ID, Provider: "luks", Cipher: &cipher, KeySize: &size, ControlLocation: "front-end"}
		if err := db.CreateEncryption(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetEncryption(ctx, vt.ID)
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("GetEncryption = %+v, %v; want %+v", got, err, e)
		}
		if withEnc, err := db.GetVolumeType(ctx, vt.ID); err != nil || !withEnc.Encrypted {
			t.Fatalf("type with an encryption: %+v, %v", withEnc, err)
		}
		wantCode(t, db.CreateEncryption(ctx, &cinder.Encryption{VolumeTypeID: vt.ID, Provider: "p", ControlLocation: "back-end"}),
			400, "VolumeTypeEncryptionExists")
		wantCode(t, db.CreateEncryption(ctx, &cinder.Encryption{VolumeTypeID: "no-such-type", Provider: "p", ControlLocation: "back-end"}),
			404, "VolumeTypeNotFound")

		// Cipher and key size may become null.
		updated, err := db.UpdateEncryption(ctx, vt.ID, func(e *cinder.Encryption) error {
			e.Cipher, e.KeySize, e.ControlLocation = nil, nil, "back-end"
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err = db.GetEncryption(ctx, vt.ID)
		if err != nil || !reflect.DeepEqual(got, updated) || got.Cipher != nil || got.KeySize != nil || got.UpdatedAt == nil || got.ID != e.ID {
			t.Fatalf("after UpdateEncryption: %+v, %v", got, err)
		}

		if err := db.DeleteEncryption(ctx, vt.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.DeleteEncryption(ctx, vt.ID), 404, "VolumeTypeEncryptionNotFound")
		_, err = db.UpdateEncryption(ctx, vt.ID, func(*cinder.Encryption) error { return nil })
		wantCode(t, err, 404, "VolumeTypeEncryptionNotFound")
		if types, err := db.ListVolumeTypes(ctx, TypeFilter{}); err != nil || types[1].Name != "secret" || types[1].Encrypted {
			t.Fatalf("types after the encryption's delete: %v, %v", types, err)
		}
	})
}
