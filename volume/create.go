package volume

import (
	"context"
	"slices"
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
	GroupID           string // in this generic volume group (3.13)
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
	group, err := a.createGroup(ctx, &req)
	if err != nil {
		return nil, nil, err
	}
	t, err := a.ResolveType(ctx, req.VolumeType)
	if err != nil {
		return nil, nil, err
	}
	if group != nil && !slices.Contains(group.VolumeTypeIDs, t.ID) {
		return nil, nil, cinder.InvalidInput("Invalid volume_type provided: %s (requested type must be supported by this group).", t.Name)
	}
	zone, zones, err := a.resolveZone(ctx, req.AvailabilityZone, typeZones(t))
	if err != nil {
		return nil, nil, err
	}
	if err := a.checkEncryption(ctx, t); err != nil {
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
		GroupID:            req.GroupID,
	}
	if src != nil && src.Bootable { // as Cinder's _handle_bootable_volume_glance_meta
		if v.GlanceMetadata, err = a.sourceImageMetadata(ctx, req, src); err != nil {
			return nil, nil, err
		}
		v.Bootable = true
	}
	if err := a.reserveVolume(ctx, v.ProjectID, v.ID, t.ID, v.Size); err != nil {
		return nil, nil, err
	}
	if err := a.store.CreateVolume(ctx, v); err != nil {
		a.rollbackQuota(ctx, v.ID)
		return nil, nil, err
	}
	spec := cinder.RequestSpec{VolumeID: v.ID, Size: v.Size, VolumeType: t, AvailabilityZone: zone,
		AvailabilityZones: zones, SnapshotID: req.SnapshotID, SourceVolID: req.SourceVolID}
	switch {
	case src != nil:
		spec.ResourceBackend = cinder.ExtractHost(src.Host, cinder.LevelBackend)
	case group != nil && group.Host != "":
		spec.ResourceBackend = cinder.ExtractHost(group.Host, cinder.LevelBackend)
	}
	if err := a.sched.CreateVolume(ctx, v, spec); err != nil {
		if derr := a.store.DestroyVolume(ctx, v.ID); derr != nil {
			logFailure(ctx, "destroy volume "+v.ID+" after its create cast failed", derr)
		}
		return nil, nil, unreachable(err, "Could not ask cinder-scheduler to create volume %s", v.ID)
	}
	return v, t, nil
}

// createGroup checks the group req puts the new volume in, as Cinder's
// create flow: the caller's, available or creating, and a volume type
// named; req takes the group's zone when it names none. It returns the
// group, or nil.
func (a *API) createGroup(ctx context.Context, req *CreateRequest) (*cinder.Group, error) {
	if req.GroupID == "" {
		return nil, nil
	}
	g, err := a.GetGroup(ctx, req.GroupID)
	if err != nil {
		return nil, err
	}
	if g.Status != cinder.GroupAvailable && g.Status != cinder.GroupCreating {
		return nil, cinder.InvalidGroup("Originating group status must be one of 'available', 'creating' values")
	}
	if req.VolumeType == "" {
		return nil, cinder.InvalidInput("volume_type must be provided when creating a volume in a group.")
	}
	if req.AvailabilityZone == "" {
		req.AvailabilityZone = g.AvailabilityZone
	}
	return g, nil
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

// ResolveType finds the volume type ref names, by id or name, among those
// the caller may see (a private type is not found from a project without
// access, whichever way it is named), or the caller's default type
// (DefaultType) when ref is "".
func (a *API) ResolveType(ctx context.Context, ref string) (*cinder.VolumeType, error) {
	if ref == "" {
		return a.DefaultType(ctx)
	}
	if _, err := uuid.Parse(ref); err == nil {
		return a.typeByID(ctx, ref)
	}
	t, err := a.store.GetVolumeTypeByName(ctx, ref)
	if err == nil {
		err = a.checkVisible(ctx, t, ref)
	}
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

// resolveZone returns the availability zone of a new volume, as Cinder's
// create flow: the one asked for, which must be a cinder-volume service's
// and, when the volume type restricts its volumes to typeZones
// (RESKEY:availability_zones), one of them; else storage_availability_zone,
// or with typeZones the one of them that has services, or when several do
// "" and those zones, for the scheduler to choose from.
func (a *API) resolveZone(ctx context.Context, zone string, typeZones []string) (string, []string, error) {
	if zone == "" && typeZones == nil {
		if a.cfg.StorageAvailabilityZone != "" {
			return a.cfg.StorageAvailabilityZone, nil, nil
		}
		return cinder.DefaultAvailabilityZone, nil, nil
	}
	zones, err := a.Zones(ctx)
	if err != nil {
		return "", nil, err
	}
	var safe []string
	for _, z := range zones {
		if typeZones == nil || slices.Contains(typeZones, z.Name) {
			safe = append(safe, z.Name)
		}
	}
	switch {
	case typeZones != nil && len(safe) == 0:
		return "", nil, cinder.Errorf("InvalidTypeAvailabilityZones", 400,
			"Volume type is only supported in these availability zones: %s", pyList(typeZones))
	case zone != "" && !slices.Contains(safe, zone):
		return "", nil, cinder.Errorf("InvalidAvailabilityZone", 400, "Availability zone '%s' is invalid.", zone)
	case zone != "":
		return zone, nil, nil
	case len(safe) == 1:
		return safe[0], nil, nil
	}
	return "", safe, nil
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
