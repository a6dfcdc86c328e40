package volume

import (
	"cmp"
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/drivers"
)

// Statuses of a volume being managed (shown as creating and error) or
// unmanaged, as Cinder's.
const (
	StatusManaging      = "managing"
	StatusErrorManaging = "error_managing"
	StatusUnmanaging    = "unmanaging"
)

// ManageRequest is a validated os-volume-manage: the storage Ref names on
// Host (host@backend or host@backend#pool) or Cluster becomes a volume.
type ManageRequest struct {
	Host, Cluster     string
	Ref               map[string]any
	Name, Description string
	VolumeType        string // a type's id or name; "" for the default type
	AvailabilityZone  string // "" for the service's
	Metadata          map[string]string
	Bootable          bool
}

// Manage writes the volume req asks for, managing, size 0, on req's host,
// once its room in the volumes quota is held (the backend reserves its
// gigabytes when it knows them), and asks cinder-scheduler to check the
// host and cinder-volume to adopt the storage, as Cinder's manage_existing
// flow. When that cast cannot be sent the row is destroyed.
func (a *API) Manage(ctx context.Context, req ManageRequest) (*cinder.Volume, *cinder.VolumeType, error) {
	ctx = context.WithoutCancel(ctx)
	if err := checkRef(req.Ref); err != nil {
		return nil, nil, err
	}
	if id := managedID(req.Ref); id != "" {
		if _, err := a.store.GetVolume(ctx, id); err == nil {
			return nil, nil, cinder.InvalidVolume("Unable to manage existing volume. The volume is already managed")
		}
	}
	t, err := a.ResolveType(ctx, req.VolumeType)
	if cinder.IsNotFound(err) {
		return nil, nil, cinder.Errorf("InvalidVolumeType", 400, "Invalid volume type: Cannot find requested '%s' volume type", req.VolumeType)
	}
	if err != nil {
		return nil, nil, err
	}
	if t.Encrypted {
		return nil, nil, cinder.Errorf("InvalidVolumeType", 400, "Invalid volume type: Managing to an encrypted volume type is not supported.")
	}
	svc, err := a.manageService(ctx, req.Host, req.Cluster)
	if err != nil {
		return nil, nil, err
	}
	host := svc.Host
	if cinder.ExtractHost(req.Host, cinder.LevelPool) != "" {
		host = req.Host
	}
	rc := cinder.FromContext(ctx)
	v := &cinder.Volume{
		ID:                 uuid.NewString(),
		UserID:             rc.UserID,
		ProjectID:          rc.ProjectID,
		Host:               host,
		AvailabilityZone:   cmp.Or(req.AvailabilityZone, svc.AvailabilityZone),
		Status:             StatusManaging,
		AttachStatus:       "detached",
		DisplayName:        req.Name,
		DisplayDescription: req.Description,
		VolumeTypeID:       t.ID,
		Metadata:           req.Metadata,
		Bootable:           req.Bootable,
		Multiattach:        t.Multiattach(),
		UseQuota:           true,
	}
	if err := a.reserveVolume(ctx, v.ProjectID, v.ID, t.ID, 0); err != nil {
		return nil, nil, err
	}
	if err := a.store.CreateVolume(ctx, v); err != nil {
		a.rollbackQuota(ctx, v.ID)
		return nil, nil, err
	}
	spec := cinder.RequestSpec{VolumeID: v.ID, VolumeType: t, AvailabilityZone: v.AvailabilityZone}
	if err := a.sched.ManageExisting(ctx, v, spec, req.Ref); err != nil {
		if derr := a.store.DestroyVolume(ctx, v.ID); derr != nil {
			logFailure(ctx, "destroy volume "+v.ID+" after its manage cast failed", derr)
		}
		return nil, nil, unreachable(err, "Could not ask cinder-scheduler to manage volume %s", v.ID)
	}
	return v, t, nil
}

// checkRef refuses at once a reference no driver of this project can take
// (ManageExistingInvalidReference, 400): no source-name, or one that is no
// plain file name of a volumes directory (a path, a hidden file). Cinder
// leaves the check to the driver, which would fail the volume later.
func checkRef(ref map[string]any) error {
	_, err := drivers.SourceName(ref)
	return err
}

// managedID is the id the "source-name" of ref carries as volume-<id> or
// snapshot-<id>, or "".
func managedID(ref map[string]any) string {
	name, _ := ref["source-name"].(string)
	return drivers.ManagedID(name)
}

// manageService returns the cinder-volume service of host (its backend) or
// cluster, as _get_service_by_host_cluster: ServiceNotFound (404) when
// there is none, ServiceUnavailable (503) when it is disabled or down.
func (a *API) manageService(ctx context.Context, host, cluster string) (*cinder.Service, error) {
	what, value := "Host", host
	if cluster != "" {
		what, value = "Cluster", cluster
	}
	notFound := cinder.Errorf("ServiceNotFound", 404, "%s '%s' not found", what, value)
	if cluster != "" {
		return nil, notFound // this project runs no clusters
	}
	backend := cinder.ExtractHost(host, cinder.LevelBackend)
	if !strings.Contains(backend, "@") {
		return nil, notFound
	}
	svc, err := a.store.GetService(ctx, backend, cinder.BinaryVolume)
	if cinder.IsNotFound(err) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if svc.Disabled || !svc.Up(time.Now(), a.cfg.ServiceDownTime) {
		return nil, cinder.Errorf("ServiceUnavailable", 503, "Service is unavailable at this time.")
	}
	return svc, nil
}

// Unmanage takes volume id out of Cinder's hands, its storage kept, as a
// delete with unmanage_only: the same conditions, status unmanaging, and
// cinder-volume lets the storage go and destroys the row. A volume of an
// encrypted type (whose key the storage would lose) is refused, as Cinder.
func (a *API) Unmanage(ctx context.Context, id string) error {
	v, err := a.Get(ctx, id)
	if err != nil {
		return err
	}
	if v.VolumeTypeID != "" {
		t, err := a.store.GetVolumeType(ctx, v.VolumeTypeID)
		if err != nil && !cinder.IsNotFound(err) {
			return err
		}
		if t != nil && t.Encrypted {
			return cinder.Invalid("Unmanaging encrypted volumes is not supported.")
		}
	}
	return a.remove(ctx, id, false, false, true)
}

// ManageSnapshotRequest is a validated os-snapshot-manage: the storage Ref
// names on the backend of volume VolumeID becomes a snapshot of it.
type ManageSnapshotRequest struct {
	VolumeID          string
	Ref               map[string]any
	Name, Description string
	Metadata          map[string]string
}

// ManageSnapshot writes the snapshot req asks for, creating, with the
// volume's size held in the snapshots and gigabytes quotas, and asks
// cinder-scheduler to check the volume's backend and cinder-volume to adopt
// the storage (manage_existing_snapshot). When that cast cannot be sent the
// row is destroyed.
func (a *API) ManageSnapshot(ctx context.Context, req ManageSnapshotRequest) (*cinder.Snapshot, error) {
	v, err := a.Get(ctx, req.VolumeID)
	if err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	if v.Host == "" {
		return nil, cinder.InvalidVolume("The snapshot cannot be created because volume has not been scheduled to any host.")
	}
	if _, err := a.manageService(ctx, v.Host, ""); err != nil {
		return nil, err
	}
	if err := checkRef(req.Ref); err != nil {
		return nil, err
	}
	if id := managedID(req.Ref); id != "" {
		if _, err := a.store.GetSnapshot(ctx, id); err == nil {
			return nil, cinder.Errorf("InvalidSnapshot", 400, "Invalid snapshot: Unable to manage existing snapshot. The snapshot is already managed")
		}
	}
	rc := cinder.FromContext(ctx)
	s := &cinder.Snapshot{ID: uuid.NewString(), VolumeID: v.ID, UserID: rc.UserID, ProjectID: rc.ProjectID, Status: cinder.SnapshotCreating,
		Progress: "0%", VolumeSize: v.Size, DisplayName: req.Name, DisplayDescription: req.Description,
		Metadata: req.Metadata, VolumeTypeID: v.VolumeTypeID, UseQuota: true}
	if err := a.reserveSnapshot(ctx, s.ProjectID, s.ID, v); err != nil {
		return nil, err
	}
	if err := a.store.CreateSnapshot(ctx, s); err != nil {
		a.rollbackQuota(ctx, s.ID)
		return nil, err
	}
	if err := a.sched.ManageExistingSnapshot(ctx, v, s, req.Ref); err != nil {
		if derr := a.store.DestroySnapshot(ctx, s.ID); derr != nil {
			logFailure(ctx, "destroy snapshot "+s.ID+" after its manage cast failed", derr)
		}
		return nil, unreachable(err, "Could not ask cinder-scheduler to manage snapshot %s", s.ID)
	}
	return s, nil
}

// UnmanageSnapshot takes snapshot id out of Cinder's hands, its storage
// kept: available or error, it becomes unmanaging and cinder-volume
// destroys its row without calling the driver.
func (a *API) UnmanageSnapshot(ctx context.Context, id string) error {
	return a.removeSnapshot(ctx, id, false, true)
}

// ManageableQuery asks for the storage of a backend that volumes or
// snapshots could take, as GET /manageable_volumes: Cinder's paging
// (marker: a reference, as JSON) and sort keys (reference, size).
type ManageableQuery struct {
	Host, Cluster      string
	Marker             string
	Limit, Offset      int
	SortKeys, SortDirs []string
}

// Manageable lists what volumes, or with snapshots snapshots, could take on
// q's backend, asking its cinder-volume (get_manageable_volumes or
// get_manageable_snapshots).
func (a *API) Manageable(ctx context.Context, snapshots bool, q ManageableQuery) ([]map[string]any, error) {
	svc, err := a.manageService(ctx, q.Host, q.Cluster)
	if err != nil {
		return nil, err
	}
	list, err := a.backends.GetManageable(ctx, svc.Host, snapshots, q.Marker, q.Limit, q.Offset, q.SortKeys, q.SortDirs)
	if err != nil {
		return nil, unreachable(err, "Could not ask cinder-volume %s for its manageable storage", svc.Host)
	}
	return list, nil
}

// ReserveManaged holds size GiB in the gigabytes quotas of v's project for
// v, a volume being managed whose size the backend just learned, after
// checking per_volume_gigabytes: cinder-volume's QuotaReserveTask. Writing
// v's size ends the hold. A volume not counted in quotas holds nothing.
func (a *API) ReserveManaged(ctx context.Context, v *cinder.Volume, size int) error {
	if !v.UseQuota {
		return nil
	}
	limits, err := a.projectLimits(ctx, v.ProjectID)
	if err != nil {
		return err
	}
	if err := volumeSizeLimit(limits, size); err != nil {
		return err
	}
	err = a.reserve(ctx, v.ProjectID, v.ID, v.VolumeTypeID, limits, map[string]int{db.QuotaGigabytes: size})
	return overQuota(err, db.QuotaVolumes, size)
}
