package backup

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/cinder-go/cinder"
)

// volumeMeta is Cinder's serialized volume metadata, a backup's volume_meta
// (BackupMetadataAPI.get, version 2): the volume's base fields a restore
// may give back, and its metadata.
type volumeMeta struct {
	Version int               `json:"version"`
	Base    map[string]any    `json:"volume-base-metadata,omitempty"`
	Meta    map[string]string `json:"volume-metadata,omitempty"`
}

// encodeVolumeMeta returns the volume_meta of a backup of v.
func encodeVolumeMeta(v *cinder.Volume) (string, error) {
	data, err := json.Marshal(volumeMeta{Version: 2,
		Base: map[string]any{"display_name": v.DisplayName, "display_description": v.DisplayDescription, "encryption_key_id": nil},
		Meta: v.Metadata})
	if err != nil {
		return "", fmt.Errorf("encode the metadata of volume %s: %w", v.ID, err)
	}
	return string(data), nil
}

// applyVolumeMeta returns the changes that restoring a backup whose
// volume_meta is s makes to v, as BackupMetadataAPI.put: v's metadata
// becomes the backup's, and its name and description the backup volume's
// when v's name is empty or restore_backup_<id>. An empty s changes nothing.
func applyVolumeMeta(s string) (func(v *cinder.Volume), error) {
	if s == "" {
		return func(*cinder.Volume) {}, nil
	}
	var m volumeMeta
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("backup volume metadata: %w", err)
	}
	if m.Version != 1 && m.Version != 2 {
		return nil, fmt.Errorf("unsupported backup metadata version (%d)", m.Version)
	}
	name, _ := m.Base["display_name"].(string)
	description, _ := m.Base["display_description"].(string)
	return func(v *cinder.Volume) {
		if m.Meta != nil {
			v.Metadata = maps.Clone(m.Meta)
		}
		if name != "" && (v.DisplayName == "" || strings.HasPrefix(v.DisplayName, "restore_backup_")) {
			v.DisplayName, v.DisplayDescription = name, description
		}
	}, nil
}
