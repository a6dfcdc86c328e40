package volume

import (
	"context"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// GetGroupType returns group type id as the caller may see it: an admin
// every type, others the public ones (no API grants access to a private
// group type), as Cinder's _group_type_get_query.
func (a *API) GetGroupType(ctx context.Context, id string) (*cinder.GroupType, error) {
	t, err := a.store.GetGroupType(ctx, id)
	if err == nil && !t.IsPublic && !cinder.FromContext(ctx).IsAdmin {
		return nil, cinder.GroupTypeNotFound(id)
	}
	return t, err
}

// ListGroupTypes returns the group types f selects; a caller who is no
// admin sees only the public ones, whatever f asks.
func (a *API) ListGroupTypes(ctx context.Context, f db.GroupTypeFilter) ([]*cinder.GroupType, error) {
	if !cinder.FromContext(ctx).IsAdmin {
		public := true
		f.IsPublic = &public
	}
	return a.store.ListGroupTypes(ctx, f)
}

// GroupTypeChanges are what a group type update sets; nil members are
// left as they are.
type GroupTypeChanges struct {
	Name, Description *string
	IsPublic          *bool
}

// UpdateGroupType applies c to group type id.
func (a *API) UpdateGroupType(ctx context.Context, id string, c GroupTypeChanges) (*cinder.GroupType, error) {
	return a.store.UpdateGroupType(ctx, id, func(t *cinder.GroupType) error {
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
}

// SetGroupSpecs changes the group specs of group type id with change.
func (a *API) SetGroupSpecs(ctx context.Context, id string, change func(specs map[string]string) error) error {
	_, err := a.store.UpdateGroupType(ctx, id, func(t *cinder.GroupType) error {
		if t.GroupSpecs == nil {
			t.GroupSpecs = map[string]string{}
		}
		return change(t.GroupSpecs)
	})
	return err
}
