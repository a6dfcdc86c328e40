package volume

import (
	"context"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// GetType returns volume type id, or default_volume_type for "default"; a
// caller other than an admin sees public types only.
func (a *API) GetType(ctx context.Context, id string) (*cinder.VolumeType, error) {
	var t *cinder.VolumeType
	var err error
	if id == "default" {
		t, err = a.store.GetVolumeTypeByName(ctx, a.DefaultTypeName())
		if cinder.IsNotFound(err) {
			return nil, cinder.Errorf("VolumeTypeNotFound", 404, "Default volume type can not be found.")
		}
	} else {
		t, err = a.store.GetVolumeType(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	if !t.IsPublic && !cinder.FromContext(ctx).IsAdmin {
		return nil, cinder.VolumeTypeNotFound(id)
	}
	return t, nil
}

// TypeChanges are what a type update sets; nil members are left as they are.
type TypeChanges struct {
	Name, Description *string
	IsPublic          *bool
}

// UpdateType applies c to volume type id; the default type keeps its name.
// A new name renames the type's quota resources, as Cinder's.
func (a *API) UpdateType(ctx context.Context, id string, c TypeChanges) (*cinder.VolumeType, error) {
	defaultName := a.DefaultTypeName()
	var old string
	t, err := a.store.UpdateVolumeType(ctx, id, func(t *cinder.VolumeType) error {
		if c.Name != nil && *c.Name != t.Name && t.Name == defaultName {
			return cinder.Invalid("The volume type %s is the default volume type %s; its name cannot change.", t.ID, t.Name)
		}
		old = t.Name
		if c.Name != nil {
			t.Name = *c.Name
		}
		if c.Description != nil {
			t.Description = *c.Description
		}
		if c.IsPublic != nil {
			t.IsPublic = *c.IsPublic
		}
		return nil
	})
	if err == nil && t.Name != old {
		err = a.store.RenameQuotaType(context.WithoutCancel(ctx), old, t.Name)
	}
	return t, err
}

// DeleteType deletes volume type id: not the default type, nor one that
// volumes use.
func (a *API) DeleteType(ctx context.Context, id string) error {
	t, err := a.store.GetVolumeType(ctx, id)
	if err != nil {
		return err
	}
	if t.Name == a.DefaultTypeName() {
		return cinder.Invalid("The volume type %s is a default volume type and cannot be deleted.", t.ID)
	}
	if err := a.store.DeleteVolumeType(ctx, t.ID); err != nil {
		if cinder.Code(err) == 400 {
			return cinder.Errorf("VolumeTypeInUse", 400, "Target volume type is still in use.")
		}
		return err
	}
	return nil
}

// SetExtraSpecs changes the extra specs of volume type id with change
// while no volume uses the type; as Cinder, cacheable and multiattach
// cannot both be set.
func (a *API) SetExtraSpecs(ctx context.Context, id string, change func(specs map[string]string) error) error {
	if _, err := a.store.GetVolumeType(ctx, id); err != nil {
		return err
	}
	n, err := a.store.CountVolumes(ctx, db.VolumeFilter{VolumeTypeID: id})
	if err != nil {
		return err
	}
	if n > 0 {
		return cinder.Errorf("VolumeTypeInUse", 400, "Volume Type is currently in use.")
	}
	_, err = a.store.UpdateVolumeType(ctx, id, func(t *cinder.VolumeType) error {
		if t.ExtraSpecs == nil {
			t.ExtraSpecs = map[string]string{}
		}
		if err := change(t.ExtraSpecs); err != nil {
			return err
		}
		if t.Multiattach() && t.ExtraSpecs["cacheable"] == "<is> True" {
			return cinder.Invalid("cacheable cannot be set with multiattach.")
		}
		return nil
	})
	return err
}
