package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/cinder-go/cinder"
)

// finishExtend ends the extend of volume id to newSize GiB, as upstream
// Cinder's extend_volume_completion: a failure leaves it error_extending;
// otherwise it takes the new size and is available again (in-use when
// attached).
func (m *Manager) finishExtend(ctx context.Context, id string, newSize int, failed bool) error {
	if failed {
		m.setStatus(ctx, id, cinder.StatusErrorExtend)
		return nil
	}
	_, err := m.store.UpdateVolume(ctx, id, func(v *cinder.Volume) error {
		v.Size = newSize
		v.Status = cinder.StatusAvailable
		if v.AttachStatus == "attached" {
			v.Status = cinder.StatusInUse
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record new size of volume %s: %w", id, err)
	}
	slog.Info("extended volume", "volume_id", id, "host", m.host, "size_gb", newSize)
	return nil
}

// extendVolumeCompletion (cast: volume, new_size, reservations, error) ends
// an extend that waited for the hypervisor holding the volume
// (os-extend_volume_completion), as finishExtend. On success the storage
// is grown to the new size too, which leaves a file the hypervisor grew
// already as it is. A volume no longer extending (reset meanwhile) is left
// as it is.
func (m *Manager) extendVolumeCompletion(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		volumeArgs
		NewSize int  `json:"new_size"`
		Error   bool `json:"error"`
	}
	if err := decode("extend_volume_completion", raw, &a); err != nil {
		return nil, err
	}
	v, err := m.load(ctx, a.volumeArgs)
	if err != nil {
		return nil, fmt.Errorf("extend_volume_completion: %w", err)
	}
	if v.Status != cinder.StatusExtending {
		slog.Warn("volume to complete the extend of is no longer extending; leaving it", "volume_id", v.ID, "host", m.host, "status", v.Status)
		return nil, nil
	}
	failed := a.Error
	if failed {
		slog.Error("the extend of an attached volume failed on its hypervisor", "volume_id", v.ID, "host", m.host, "new_size_gb", a.NewSize)
	} else if err := m.drv.ExtendVolume(ctx, v, a.NewSize); err != nil {
		slog.Error("failed to extend volume", "volume_id", v.ID, "host", m.host, "new_size_gb", a.NewSize, "err", err)
		failed = true
	}
	return nil, m.finishExtend(ctx, v.ID, a.NewSize, failed)
}

// ExtendVolumeCompletion casts extend_volume_completion to the backend of
// v: v, extending, reaches newSize GiB, or error_extending when hasError.
func (c *Client) ExtendVolumeCompletion(ctx context.Context, v *cinder.Volume, newSize int, hasError bool) error {
	return c.castVersion(ctx, v, "extend_volume_completion", "3.20", map[string]any{
		"volume":       v,
		"new_size":     newSize,
		"reservations": []string{},
		"error":        hasError,
	})
}
