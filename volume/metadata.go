package volume

import (
	"context"
	"maps"
	"slices"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// metadataFrozen are the statuses in which a volume's metadata, user or
// image, stays as it is, as Cinder's update and delete of volume metadata.
var metadataFrozen = []string{cinder.StatusMaintenance, "uploading"}

// Metadata returns volume id's user metadata.
func (a *API) Metadata(ctx context.Context, id string) (map[string]string, error) {
	v, err := a.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return v.Metadata, nil
}

// SetMetadata replaces volume id's user metadata with md, or merges md into
// it when merge, and returns it as stored.
func (a *API) SetMetadata(ctx context.Context, id string, md map[string]string, merge bool) (map[string]string, error) {
	return a.setMetadata(ctx, id, userMetadata, md, merge)
}

// DeleteMetadata removes key from volume id's user metadata.
func (a *API) DeleteMetadata(ctx context.Context, id, key string) error {
	return a.deleteMetadata(ctx, id, userMetadata, key, MetadataNotFound)
}

// MetadataNotFound is VolumeMetadataNotFound (404): volume id has no
// metadata key.
func MetadataNotFound(id, key string) error {
	return cinder.Errorf("VolumeMetadataNotFound", 404, "Volume %s has no metadata with key %s.", id, key)
}

// SnapshotMetadataNotFound is SnapshotMetadataNotFound (404): snapshot id
// has no metadata key.
func SnapshotMetadataNotFound(id, key string) error {
	return cinder.Errorf("SnapshotMetadataNotFound", 404, "Snapshot %s has no metadata with key %s.", id, key)
}

// ImageMetadata returns volume id's image metadata (Cinder's
// volume_glance_metadata).
func (a *API) ImageMetadata(ctx context.Context, id string) (map[string]string, error) {
	v, err := a.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return v.GlanceMetadata, nil
}

// SetImageMetadata merges md into volume id's image metadata and returns
// it as stored.
func (a *API) SetImageMetadata(ctx context.Context, id string, md map[string]string) (map[string]string, error) {
	return a.setMetadata(ctx, id, imageMetadata, md, true)
}

// UnsetImageMetadata removes key from volume id's image metadata.
func (a *API) UnsetImageMetadata(ctx context.Context, id, key string) error {
	return a.deleteMetadata(ctx, id, imageMetadata, key, func(id, _ string) error {
		return cinder.Errorf("GlanceMetadataNotFound", 404, "Glance metadata for volume/snapshot %s cannot be found.", id)
	})
}

// userMetadata and imageMetadata select one of a volume's metadata maps.
func userMetadata(v *cinder.Volume) *map[string]string  { return &v.Metadata }
func imageMetadata(v *cinder.Volume) *map[string]string { return &v.GlanceMetadata }

// setMetadata merges md into the metadata of volume id that which selects,
// or replaces it with md, and returns it as stored.
func (a *API) setMetadata(ctx context.Context, id string, which func(*cinder.Volume) *map[string]string, md map[string]string, merge bool) (map[string]string, error) {
	v, err := a.changeMetadata(ctx, id, "Updating", func(v *cinder.Volume) error {
		*which(v) = mergeMetadata(*which(v), md, merge)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return *which(v), nil
}

// deleteMetadata removes key from the metadata of volume id that which
// selects; notFound is the error when it has no such key.
func (a *API) deleteMetadata(ctx context.Context, id string, which func(*cinder.Volume) *map[string]string, key string, notFound func(id, key string) error) error {
	_, err := a.changeMetadata(ctx, id, "Deleting", func(v *cinder.Volume) error {
		md := *which(v)
		if _, ok := md[key]; !ok {
			return notFound(v.ID, key)
		}
		delete(md, key)
		return nil
	})
	return err
}

// changeMetadata applies change to volume id in one update, refused while
// the volume is in maintenance or uploading (verb says what was refused);
// change's own refusal, such as a missing key, comes first, as in Cinder.
func (a *API) changeMetadata(ctx context.Context, id, verb string, change func(v *cinder.Volume) error) (*cinder.Volume, error) {
	v, err := a.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return a.store.UpdateVolume(context.WithoutCancel(ctx), v.ID, func(v *cinder.Volume) error {
		status := v.Status
		if err := change(v); err != nil {
			return err
		}
		if slices.Contains(metadataFrozen, status) {
			return cinder.InvalidVolume("%s volume metadata is not allowed for volumes in %s status.", verb, status)
		}
		return nil
	})
}

// mergeMetadata returns a new map: md merged into old when merge, else md alone.
func mergeMetadata(old, md map[string]string, merge bool) map[string]string {
	out := make(map[string]string, len(old)+len(md))
	if merge {
		maps.Copy(out, old)
	}
	maps.Copy(out, md)
	return out
}

// UpdateReadonlyFlag sets the admin metadata readonly of volume id, "True"
// or "False", which its connections then honour (access_mode ro). The
// volume must be available.
func (a *API) UpdateReadonlyFlag(ctx context.Context, id string, readonly bool) error {
	v, err := a.Get(ctx, id)
	if err != nil {
		return err
	}
	_, err = a.store.UpdateVolume(context.WithoutCancel(ctx), v.ID, func(v *cinder.Volume) error {
		if v.Status != cinder.StatusAvailable {
			return cinder.InvalidVolume("Volume %s status must be available to update readonly flag, but current status is: %s.", v.ID, v.Status)
		}
		flag := map[bool]string{true: "True", false: "False"}[readonly] // Python's str(bool), as Cinder stores it
		v.AdminMetadata = mergeMetadata(v.AdminMetadata, map[string]string{"readonly": flag}, true)
		return nil
	})
	return err
}

// Summary sums up the volumes f selects (see db.SummarizeVolumes): of
// f.ProjectID for an admin ("" for every project), of the caller's own
// project for anyone else.
func (a *API) Summary(ctx context.Context, f db.VolumeFilter) (db.VolumeSummary, error) {
	if rc := cinder.FromContext(ctx); !rc.IsAdmin {
		f.ProjectID = rc.ProjectID
	}
	return a.store.SummarizeVolumes(ctx, f)
}

// sourceImageMetadata is the image metadata a volume made from req's
// bootable source inherits: that of the snapshot, kept when it was taken,
// or of the source volume src.
func (a *API) sourceImageMetadata(ctx context.Context, req CreateRequest, src *cinder.Volume) (map[string]string, error) {
	if req.SnapshotID == "" {
		return src.GlanceMetadata, nil
	}
	s, err := a.store.GetSnapshot(ctx, req.SnapshotID)
	if err != nil {
		return nil, err
	}
	return s.GlanceMetadata, nil
}
