package db

import (
	"context"
	"errors"
	"maps"

	"github.com/cinder-go/cinder"
)

// VolumeAdminMetadata returns the admin metadata of volume id, never nil.
func (db *DB) VolumeAdminMetadata(ctx context.Context, id string) (map[string]string, error) {
	v, err := db.GetVolume(ctx, id)
	if err != nil {
		return nil, wrap(err, "admin metadata of volume %s", id)
	}
	md := maps.Clone(v.AdminMetadata)
	if md == nil {
		md = map[string]string{}
	}
	return md, nil
}

// SetVolumeAdminMetadata sets key to value in the admin metadata of volume id.
func (db *DB) SetVolumeAdminMetadata(ctx context.Context, id, key, value string) error {
	_, err := db.UpdateVolume(ctx, id, func(v *cinder.Volume) error {
		if v.AdminMetadata == nil {
			v.AdminMetadata = map[string]string{}
		}
		v.AdminMetadata[key] = value
		return nil
	})
	return wrap(err, "set admin metadata %s of volume %s", key, id)
}

// TakeVolumeAdminMetadata removes keys from the admin metadata of volume id
// and returns the values they had, or nil, taking none, unless all are
// there: of two callers, one takes them.
func (db *DB) TakeVolumeAdminMetadata(ctx context.Context, id string, keys ...string) (map[string]string, error) {
	var taken map[string]string
	_, err := db.UpdateVolume(ctx, id, func(v *cinder.Volume) error {
		taken = map[string]string{}
		for _, k := range keys {
			value, ok := v.AdminMetadata[k]
			if !ok {
				taken = nil
				return errNothingTaken
			}
			taken[k] = value
		}
		for _, k := range keys {
			delete(v.AdminMetadata, k)
		}
		return nil
	})
	if errors.Is(err, errNothingTaken) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err, "take admin metadata of volume %s", id)
	}
	return taken, nil
}

// errNothingTaken stops TakeVolumeAdminMetadata's update when a key is missing.
var errNothingTaken = cinder.Invalid("admin metadata keys missing")
