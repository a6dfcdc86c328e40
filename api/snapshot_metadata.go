package api

import (
	"context"

	"github.com/cinder-go/cinder/volume"
)

// snapshotMetadata serves /snapshots/{id}/metadata, as Cinder's snapshot
// metadata controller: no ETags, and any body meta holding the URL's key.
func (s *server) snapshotMetadata() metadataAPI {
	return metadataAPI{
		s: s,
		rules: metadataRules{read: "volume:get_snapshot_metadata", merge: "volume:update_snapshot_metadata",
			update: "volume:update_snapshot_metadata", remove: "volume:delete_snapshot_metadata"},
		get: func(ctx context.Context, id string) (map[string]string, error) {
			snap, err := s.vol.GetSnapshot(ctx, id)
			if err != nil {
				return nil, err
			}
			return snap.Metadata, nil
		},
		set:      s.vol.SetSnapshotMetadata,
		remove:   s.vol.DeleteSnapshotMetadata,
		notFound: volume.SnapshotMetadataNotFound,
	}
}
