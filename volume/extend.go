package volume

import (
	"context"
	"strconv"

	"github.com/cinder-go/cinder"
)

// ExtendNewSize is the admin metadata key holding the size an extend left
// extending waits to reach: the driver extended what it could, and the
// hypervisor that has the volume attached finishes (upstream Cinder's
// extend_new_size; Nova reports with os-extend_volume_completion).
const ExtendNewSize = "extend_new_size"

// ExtendVolumeCompletion finishes the extend volume id awaits, as upstream
// Cinder's extend_volume_completion (3.71): the volume must be extending
// with a pending size in its admin metadata, which is taken, and its
// backend is asked to give it that size and its status back, or to set it
// error_extending when hasError.
func (a *API) ExtendVolumeCompletion(ctx context.Context, id string, hasError bool) error {
	v, err := a.Get(ctx, id)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	md, err := a.store.VolumeAdminMetadata(ctx, v.ID)
	if err != nil {
		return err
	}
	size, err := strconv.Atoi(md[ExtendNewSize])
	if v.Status != cinder.StatusExtending || err != nil || size <= v.Size {
		return cinder.InvalidVolume("Volume %s status must be %s, and its admin metadata must hold %s, larger than its size %d; status is %s.",
			v.ID, cinder.StatusExtending, ExtendNewSize, v.Size, v.Status)
	}
	taken, err := a.store.TakeVolumeAdminMetadata(ctx, v.ID, ExtendNewSize)
	if err != nil {
		return err
	}
	if taken == nil {
		return cinder.InvalidVolume("Volume %s: its extend was completed meanwhile.", v.ID)
	}
	if err := a.backends.ExtendVolumeCompletion(ctx, v, size, hasError); err != nil {
		if rerr := a.store.SetVolumeAdminMetadata(ctx, v.ID, ExtendNewSize, taken[ExtendNewSize]); rerr != nil {
			logFailure(ctx, "give volume "+v.ID+" back its "+ExtendNewSize, rerr)
		}
		return unreachable(err, "Could not ask cinder-volume to complete the extend of volume %s", v.ID)
	}
	return nil
}
