package volume

import (
	"context"
	"slices"
	"strings"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// GetType returns volume type id if the caller may see it (checkVisible),
// or for "default" the caller's default type (DefaultType).
func (a *API) GetType(ctx context.Context, id string) (*cinder.VolumeType, error) {
	if id != "default" {
		return a.typeByID(ctx, id)
	}
	t, err := a.DefaultType(ctx)
	if ce, ok := err.(*cinder.Error); ok && ce.Class == "VolumeTypeDefaultMisconfiguredError" {
		return nil, cinder.Errorf("VolumeTypeNotFound", 404, "Default volume type can not be found.")
	}
	return t, err
}

// typeByID returns volume type id if the caller may see it, else
// VolumeTypeNotFound.
func (a *API) typeByID(ctx context.Context, id string) (*cinder.VolumeType, error) {
	t, err := a.store.GetVolumeType(ctx, id)
	if err == nil {
		err = a.checkVisible(ctx, t, id)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// checkVisible fails with VolumeTypeNotFound for ref unless the caller may
// see volume type t, as Cinder's type queries: an admin sees every type,
// others the public ones and the private ones their project has access to.
func (a *API) checkVisible(ctx context.Context, t *cinder.VolumeType, ref string) error {
	rc := cinder.FromContext(ctx)
	if t.IsPublic || rc.IsAdmin {
		return nil
	}
	projects, err := a.store.TypeProjects(ctx, t.ID)
	if err == nil && !slices.Contains(projects, rc.ProjectID) {
		err = cinder.VolumeTypeNotFound(ref)
	}
	return err
}

// DefaultType is the type of the caller's volumes created without one, as
// Cinder's get_default_volume_type: its project's default type (3.62),
// which it must be able to see, else default_volume_type.
func (a *API) DefaultType(ctx context.Context) (*cinder.VolumeType, error) {
	id, err := a.store.GetDefaultType(ctx, cinder.FromContext(ctx).ProjectID)
	switch {
	case err == nil:
		return a.typeByID(ctx, id)
	case !cinder.IsNotFound(err):
		return nil, err
	}
	name := a.DefaultTypeName()
	t, err := a.store.GetVolumeTypeByName(ctx, name)
	if cinder.IsNotFound(err) {
		return nil, cinder.Errorf("VolumeTypeDefaultMisconfiguredError", 500,
			"The request cannot be fulfilled as the default volume type %s cannot be found.", name)
	}
	return t, err
}

// userVisibleSpecs are the extra specs a caller without
// types_extra_specs:read_sensitive may read (and filter on).
var userVisibleSpecs = []string{"RESKEY:availability_zones", "multiattach", "replication_enabled"}

// UserVisibleSpec reports whether key is an extra spec every reader of
// types may read.
func UserVisibleSpec(key string) bool { return slices.Contains(userVisibleSpecs, key) }

// TypeQuery is what a type list asks for.
type TypeQuery struct {
	// IsPublic, for an admin: only public (true, the default) or private
	// (false) types, or all (nil). Others always list the public ones.
	// Public lists hold the private types the caller's project has
	// access to as well.
	IsPublic *bool
	// ExtraSpecs, when set, selects the types with these extra specs,
	// RESKEY:availability_zones by substring, the others equal.
	ExtraSpecs map[string]string
	// ReadSensitive says the caller may read every extra spec; filtering on
	// one it may not read selects nothing, as Cinder.
	ReadSensitive bool
}

// ListTypes returns the volume types q selects among those the caller
// may see, by name.
func (a *API) ListTypes(ctx context.Context, q TypeQuery) ([]*cinder.VolumeType, error) {
	rc := cinder.FromContext(ctx)
	public := true
	f := db.TypeFilter{IsPublic: &public, ProjectID: rc.ProjectID}
	if rc.IsAdmin {
		f.IsPublic = q.IsPublic
	}
	for k := range q.ExtraSpecs {
		if !q.ReadSensitive && !UserVisibleSpec(k) {
			return []*cinder.VolumeType{}, nil
		}
	}
	types, err := a.store.ListVolumeTypes(ctx, f)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(types, func(t *cinder.VolumeType) bool { return !specsMatch(t.ExtraSpecs, q.ExtraSpecs) }), nil
}

// specsMatch reports whether specs have every one of want, as Cinder's
// type filter: RESKEY:availability_zones, a list, contains the value.
func specsMatch(specs, want map[string]string) bool {
	for k, v := range want {
		got, ok := specs[k]
		if !ok || k == typeZonesSpec && !strings.Contains(got, v) || k != typeZonesSpec && got != v {
			return false
		}
	}
	return true
}

// typeZonesSpec is the extra spec restricting a type's volumes to some
// availability zones (3.52): a comma-separated list.
const typeZonesSpec = "RESKEY:availability_zones"

// typeZones are the availability zones type t restricts its volumes to,
// or nil when it does not, as Cinder's extract_availability_zones_from_volume_type.
func typeZones(t *cinder.VolumeType) []string {
	spec, ok := t.ExtraSpecs[typeZonesSpec]
	if !ok {
		return nil
	}
	zones := []string{}
	for z := range strings.SplitSeq(spec, ",") {
		if z != "" {
			zones = append(zones, strings.TrimSpace(z))
		}
	}
	return zones
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

// DeleteType deletes volume type id: not default_volume_type nor a
// project's default type, nor one that volumes use.
func (a *API) DeleteType(ctx context.Context, id string) error {
	t, err := a.store.GetVolumeType(ctx, id)
	if err != nil {
		return err
	}
	if t.Name == a.DefaultTypeName() {
		return cinder.Invalid("The volume type %s is a default volume type and cannot be deleted.", t.ID)
	}
	err = a.store.DeleteVolumeType(ctx, t.ID)
	if ce, ok := err.(*cinder.Error); ok && ce.Class == "VolumeTypeInUse" {
		return cinder.Errorf("VolumeTypeInUse", 400, "Target volume type is still in use.")
	}
	return err
}

// SetExtraSpecs changes the extra specs of volume type id with change
// while no volume uses the type; as Cinder, cacheable and multiattach
// cannot both be set.
func (a *API) SetExtraSpecs(ctx context.Context, id string, change func(specs map[string]string) error) error {
	if _, err := a.store.GetVolumeType(ctx, id); err != nil {
		return err
	}
	if err := a.typeUnused(ctx, id, "Volume Type is currently in use."); err != nil {
		return err
	}
	_, err := a.store.UpdateVolumeType(ctx, id, func(t *cinder.VolumeType) error {
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

// typeUnused fails with VolumeTypeInUse (400) saying inUse when a volume
// of any project has volume type id.
func (a *API) typeUnused(ctx context.Context, id, inUse string) error {
	n, err := a.store.CountVolumes(ctx, db.VolumeFilter{VolumeTypeID: id})
	if err == nil && n > 0 {
		err = cinder.Errorf("VolumeTypeInUse", 400, "%s", inUse)
	}
	return err
}

// TypeProjects returns private volume type id and the projects with access
// to it; a public type has no such list (VolumeTypeAccessNotFound).
func (a *API) TypeProjects(ctx context.Context, id string) (*cinder.VolumeType, []string, error) {
	t, err := a.typeByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if t.IsPublic {
		return nil, nil, cinder.Errorf("VolumeTypeAccessNotFound", 404, "Access list not available for public volume types.")
	}
	projects, err := a.store.TypeProjects(ctx, id)
	return t, projects, err
}

// SetTypeAccess gives project access to private volume type id, or takes
// it away.
func (a *API) SetTypeAccess(ctx context.Context, id, project string, access bool) error {
	t, err := a.store.GetVolumeType(ctx, id)
	if err != nil {
		return err
	}
	if t.IsPublic {
		return cinder.Errorf("InvalidVolumeType", 400, "Invalid volume type: Type access modification is not applicable to public volume type.")
	}
	if access {
		return a.store.AddTypeProject(ctx, id, project)
	}
	return a.store.RemoveTypeProject(ctx, id, project)
}

// SetDefaultType makes the type ref names (id or name) project's default
// type and returns its id; a type not found is 400, as Cinder.
func (a *API) SetDefaultType(ctx context.Context, project, ref string) (string, error) {
	t, err := a.ResolveType(ctx, ref)
	if ce, ok := err.(*cinder.Error); ok && ce.Code == 404 {
		return "", cinder.Errorf(ce.Class, 400, "%s", ce.Message)
	}
	if err != nil {
		return "", err
	}
	return t.ID, a.store.SetDefaultType(ctx, project, t.ID)
}

// GetDefaultType returns the id of project's default type, or
// VolumeTypeProjectDefaultNotFound.
func (a *API) GetDefaultType(ctx context.Context, project string) (string, error) {
	return a.store.GetDefaultType(ctx, project)
}

// ListDefaultTypes returns every project's default type, by project.
func (a *API) ListDefaultTypes(ctx context.Context) ([]*db.DefaultType, error) {
	return a.store.ListDefaultTypes(ctx)
}

// UnsetDefaultType forgets project's default type: its volumes created
// without a type get default_volume_type again.
func (a *API) UnsetDefaultType(ctx context.Context, project string) error {
	return a.store.UnsetDefaultType(ctx, project)
}

// pyList is strs as Python prints a list of strings, for Cinder's messages.
func pyList(strs []string) string {
	quoted := make([]string, len(strs))
	for i, s := range strs {
		quoted[i] = "'" + s + "'"
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
