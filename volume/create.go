package volume

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
)

// CreateRequest is a validated volume create.
type CreateRequest struct {
	Name, Description string
	VolumeType        string // a type's id or name; "" for default_volume_type, or the source's
	AvailabilityZone  string // "" for storage_availability_zone, or the source's
	Size              int    // GiB; 0 for the source's size
	Metadata          map[string]string
	SnapshotID        string // from this snapshot
	SourceVolID       string // a clone of this volume
}

// Create writes volume req asks for, as creating, once its room is reserved
// in the caller's quotas (the row's insert ends the reservation), then asks
// cinder-scheduler to place it, and returns it with its type. When that
// cast cannot be sent the row is destroyed, which gives its quota back, as
// Cinder's create flow reverts; a crash in between leaves a creating row
// with no host, which the scheduler's periodic task fails after
// scheduler_create_volume_timeout.
func (a *API) Create(ctx context.Context, req CreateRequest) (*cinder.Volume, *cinder.VolumeType, error) {
	ctx = context.WithoutCancel(ctx)
	rc := cinder.FromContext(ctx)
	src, err := a.source(ctx, &req)
	if err != nil {
		return nil, nil, err
	}
	t, err := a.ResolveType(ctx, req.VolumeType)
	if err != nil {
		return nil, nil, err
	}
	zone, err := a.resolveZone(ctx, req.AvailabilityZone)
	if err != nil {
		return nil, nil, err
	}
	v := &cinder.Volume{
		ID:                 uuid.NewString(),
		UserID:             rc.UserID,
		ProjectID:          rc.ProjectID,
		Size:               req.Size,
		AvailabilityZone:   zone,
		Status:             cinder.StatusCreating,
		AttachStatus:       "detached",
		DisplayName:        req.Name,
		DisplayDescription: req.Description,
		VolumeTypeID:       t.ID,
		Metadata:           req.Metadata,
		Multiattach:        t.Multiattach(),
		UseQuota:           true,
		SnapshotID:         req.SnapshotID,
		SourceVolID:        req.SourceVolID,
	}
	if err := a.reserveVolume(ctx, v.ProjectID, v.ID, t.ID, v.Size); err != nil {
		return nil, nil, err
	}
	if err := a.store.CreateVolume(ctx, v); err != nil {
		a.rollbackQuota(ctx, v.ID)
		return nil, nil, err
	}
	spec := cinder.RequestSpec{VolumeID: v.ID, Size: v.Size, VolumeType: t, AvailabilityZone: zone,
		SnapshotID: req.SnapshotID, SourceVolID: req.SourceVolID}
	if src != nil {
		spec.ResourceBackend = cinder.ExtractHost(src.Host, cinder.LevelBackend)
	}
	if err := a.sched.CreateVolume(ctx, v, spec); err != nil {
		if derr := a.store.DestroyVolume(ctx, v.ID); derr != nil {
			logFailure(ctx, "destroy volume "+v.ID+" after its create cast failed", derr)
		}
		return nil, nil, unreachable(err, "Could not ask cinder-scheduler to create volume %s", v.ID)
	}
	return v, t, nil
}

// source checks the snapshot or volume req copies, as Cinder's create
// flow: it must be the caller's, available (a volume in-use too), and no
// larger than req.Size; req takes its size, type and zone when it names
// none. It returns the volume whose backend holds the source, or nil.
func (a *API) source(ctx context.Context, req *CreateRequest) (*cinder.Volume, error) {
	var src *cinder.Volume
	var size int
	var what string
	switch {
	case req.SnapshotID != "" && req.SourceVolID != "":
		return nil, cinder.InvalidInput("Only one of snapshot_id and source_volid may be given.")
	case req.SnapshotID != "":
		s, err := a.GetSnapshot(ctx, req.SnapshotID)
		if err != nil {
			return nil, err
		}
		if s.Status != cinder.SnapshotAvailable {
			return nil, cinder.Errorf("InvalidSnapshot", 400, "Invalid snapshot: Originating snapshot status must be one of 'available' values")
		}
		if src, err = a.store.GetVolume(ctx, s.VolumeID); err != nil {
			return nil, err
		}
		size, what = s.VolumeSize, "snapshot"
	case req.SourceVolID != "":
		var err error
		if src, err = a.Get(ctx, req.SourceVolID); err != nil {
			return nil, err
		}
		if src.Status != cinder.StatusAvailable && src.Status != cinder.StatusInUse {
			return nil, cinder.InvalidVolume("Unable to create a volume from an originating source volume when its status is not one of available, in-use values")
		}
		size, what = src.Size, "source volume"
	default:
		return nil, nil
	}
	if req.Size == 0 {
		req.Size = size
	}
	if req.Size < size {
		return nil, cinder.InvalidInput("Volume size '%d'GB cannot be smaller than the %s size %dGB. They must be >= original %s size.", req.Size, what, size, what)
	}
	if req.VolumeType == "" {
		req.VolumeType = src.VolumeTypeID
	}
	if req.AvailabilityZone == "" {
		req.AvailabilityZone = src.AvailabilityZone
	}
	return src, nil
}

// ResolveType finds the volume type ref names, by id or name, or the
// default_volume_type when ref is "".
func (a *API) ResolveType(ctx context.Context, ref string) (*cinder.VolumeType, error) {
	if ref == "" {
		name := a.DefaultTypeName()
		t, err := a.store.GetVolumeTypeByName(ctx, name)
		if cinder.IsNotFound(err) {
			return nil, cinder.Errorf("VolumeTypeDefaultMisconfiguredError", 500,
				"The request cannot be fulfilled as the default volume type %s cannot be found.", name)
		}
		return t, err
	}
	if _, err := uuid.Parse(ref); err == nil {
		return a.store.GetVolumeType(ctx, ref)
	}
	t, err := a.store.GetVolumeTypeByName(ctx, ref)
	if cinder.IsNotFound(err) {
		return nil, typeNotFoundByName(ref)
	}
	return t, err
}

// DefaultTypeName is default_volume_type, or Cinder's __DEFAULT__.
func (a *API) DefaultTypeName() string {
	if a.cfg.DefaultVolumeType != "" {
		return a.cfg.DefaultVolumeType
	}
	return cinder.DefaultVolumeType
}

func typeNotFoundByName(name string) error {
	return cinder.Errorf("VolumeTypeNotFoundByName", 404, "Volume type with name %s could not be found.", name)
}

// resolveZone returns the availability zone of a new volume: the one asked
// for, which must be a cinder-volume service's, or storage_availability_zone.
func (a *API) resolveZone(ctx context.Context, zone string) (string, error) {
	if zone == "" {
		if a.cfg.StorageAvailabilityZone != "" {
			return a.cfg.StorageAvailabilityZone, nil
		}
		return cinder.DefaultAvailabilityZone, nil
	}
	zones, err := a.Zones(ctx)
	if err != nil {
		return "", err
	}
	for _, z := range zones {
		if z.Name == zone {
			return zone, nil
		}
	}
	return "", cinder.Errorf("InvalidAvailabilityZone", 400, "Availability zone '%s' is invalid.", zone)
}

// Zone is an availability zone and whether a backend there can take volumes.
type Zone struct {
	Name      string
	Available bool
}

// Zones are the availability zones of the cinder-volume services, in the
// order first seen; one is available when a service there is up and enabled.
func (a *API) Zones(ctx context.Context) ([]Zone, error) {
	services, err := a.store.ListServices(ctx, "", cinder.BinaryVolume)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var zones []Zone
	index := map[string]int{}
	for _, svc := range services {
		i, ok := index[svc.AvailabilityZone]
		if !ok {
			i = len(zones)
			index[svc.AvailabilityZone] = i
			zones = append(zones, Zone{Name: svc.AvailabilityZone})
		}
		zones[i].Available = zones[i].Available || !svc.Disabled && svc.Up(now, a.cfg.ServiceDownTime)
	}
	return zones, nil
}
