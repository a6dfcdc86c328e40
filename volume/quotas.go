package volume

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// The quota resource beside those the database counts (a volume's size),
// and the class whose limits are every project's defaults.
const (
	QuotaPerVolumeGigabytes = "per_volume_gigabytes" // the size of one volume
	DefaultQuotaClass       = "default"
)

// Quota is one resource's limit in a project or class, with its usage when
// asked for: in use by the project's rows, reserved for changes under way.
type Quota struct {
	Resource        string
	Limit           int
	InUse, Reserved int
}

// quotaResource is a resource and its limit when no class sets one.
type quotaResource struct {
	name string
	def  int
}

// quotaResources are the resources of Cinder's QUOTAS and GROUP_QUOTAS
// engines in their order: volumes, per_volume_gigabytes, snapshots,
// gigabytes, backups, backup_gigabytes, then volumes_<type>,
// gigabytes_<type> and snapshots_<type> of each volume type (no limit by
// default), then groups.
func (a *API) quotaResources(ctx context.Context) ([]quotaResource, error) {
	c := a.cfg
	res := []quotaResource{{db.QuotaVolumes, c.QuotaVolumes}, {QuotaPerVolumeGigabytes, c.PerVolumeSizeLimit},
		{db.QuotaSnapshots, c.QuotaSnapshots}, {db.QuotaGigabytes, c.QuotaGigabytes}, {db.QuotaBackups, c.QuotaBackups},
		{db.QuotaBackupGigabytes, c.QuotaBackupGigabytes}}
	types, err := a.store.ListVolumeTypes(ctx, db.TypeFilter{})
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		for _, r := range db.PerTypeQuotas() {
			res = append(res, quotaResource{r + "_" + t.Name, -1})
		}
	}
	return append(res, quotaResource{db.QuotaGroups, c.QuotaGroups}), nil
}

// QuotaResources are the names of the quota resources, in Cinder's order:
// the keys a quota set or class may set.
func (a *API) QuotaResources(ctx context.Context) ([]string, error) {
	res, err := a.quotaResources(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(res))
	for i, r := range res {
		names[i] = r.name
	}
	return names, nil
}

// quotas lists the limit of each of res: the first of layers that sets it,
// else its option's default.
func quotas(res []quotaResource, layers ...map[string]int) []Quota {
	out := make([]Quota, len(res))
	for i, r := range res {
		out[i] = Quota{Resource: r.name, Limit: r.def}
		for _, l := range layers {
			if v, ok := l[r.name]; ok {
				out[i].Limit = v
				break
			}
		}
	}
	return out
}

// defaultLimits are the default class's limits when use_default_quota_class
// is set, else none: the quota_* options then give the defaults.
func (a *API) defaultLimits(ctx context.Context) (map[string]int, error) {
	if !a.cfg.UseDefaultQuotaClass {
		return nil, nil
	}
	return a.store.QuotaClass(ctx, DefaultQuotaClass)
}

// DefaultQuotas are the limits of a project that sets none, as
// QUOTAS.get_defaults.
func (a *API) DefaultQuotas(ctx context.Context) ([]Quota, error) {
	res, err := a.quotaResources(ctx)
	if err != nil {
		return nil, err
	}
	defaults, err := a.defaultLimits(ctx)
	if err != nil {
		return nil, err
	}
	return quotas(res, defaults), nil
}

// QuotaClass returns the limits of quota class name, the default class's
// (then the options') where it sets none, as get_class_quotas. Only the
// default class applies to projects: Cinder's requests carry no class.
func (a *API) QuotaClass(ctx context.Context, name string) ([]Quota, error) {
	res, err := a.quotaResources(ctx)
	if err != nil {
		return nil, err
	}
	own, err := a.store.QuotaClass(ctx, name)
	if err != nil {
		return nil, err
	}
	defaults, err := a.store.QuotaClass(ctx, DefaultQuotaClass)
	if err != nil {
		return nil, err
	}
	return quotas(res, own, defaults), nil
}

// UpdateQuotaClass sets the limits of set in quota class name and returns
// the class's limits.
func (a *API) UpdateQuotaClass(ctx context.Context, name string, set []Quota) ([]Quota, error) {
	if err := a.store.SetQuotaClass(context.WithoutCancel(ctx), name, limitsOf(set)); err != nil {
		return nil, err
	}
	return a.QuotaClass(ctx, name)
}

// limitsOf is set's limits by resource.
func limitsOf(set []Quota) map[string]int {
	m := make(map[string]int, len(set))
	for _, q := range set {
		m[q.Resource] = q.Limit
	}
	return m
}

// ProjectQuotas returns project's limits (its own, else the defaults) and,
// with usage, how much of each it uses, as get_project_quotas.
func (a *API) ProjectQuotas(ctx context.Context, project string, usage bool) ([]Quota, error) {
	res, err := a.quotaResources(ctx)
	if err != nil {
		return nil, err
	}
	own, err := a.store.ProjectQuotas(ctx, project)
	if err != nil {
		return nil, err
	}
	defaults, err := a.defaultLimits(ctx)
	if err != nil {
		return nil, err
	}
	out := quotas(res, own, defaults)
	if !usage {
		return out, nil
	}
	var counted []string
	for _, q := range out {
		if q.Resource != QuotaPerVolumeGigabytes {
			counted = append(counted, q.Resource)
		}
	}
	usages, err := a.store.QuotaUsages(ctx, project, counted)
	if err != nil {
		return nil, err
	}
	for i, q := range out {
		out[i].InUse, out[i].Reserved = usages[q.Resource].InUse, usages[q.Resource].Reserved
	}
	return out, nil
}

// UpdateProjectQuotas sets the limits of set for project and returns its
// limits. As Cinder's quota update, a limit may not go below what the
// project uses and reserves, checked only for resources whose limit the
// project has set before (and never for per_volume_gigabytes or -1).
func (a *API) UpdateProjectQuotas(ctx context.Context, project string, set []Quota) ([]Quota, error) {
	ctx = context.WithoutCancel(ctx)
	own, err := a.store.ProjectQuotas(ctx, project)
	if err != nil {
		return nil, err
	}
	var checked []string
	for _, q := range set {
		if _, ok := own[q.Resource]; ok && q.Resource != QuotaPerVolumeGigabytes && q.Limit != -1 && !slices.Contains(checked, q.Resource) {
			checked = append(checked, q.Resource)
		}
	}
	usages, err := a.store.QuotaUsages(ctx, project, checked)
	if err != nil {
		return nil, err
	}
	for _, q := range set {
		if !slices.Contains(checked, q.Resource) {
			continue
		}
		if used := usages[q.Resource].InUse + usages[q.Resource].Reserved; q.Limit < used {
			return nil, cinder.Invalid("Quota %s limit must be equal or greater than existing resources. Current usage is %d and the requested limit is %d.",
				q.Resource, used, q.Limit)
		}
	}
	if err := a.store.SetProjectQuotas(ctx, project, limitsOf(set)); err != nil {
		return nil, err
	}
	return a.ProjectQuotas(ctx, project, false)
}

// DeleteProjectQuotas drops the limits set for project, which gets the
// defaults again; its usage stays.
func (a *API) DeleteProjectQuotas(ctx context.Context, project string) error {
	return a.store.DeleteProjectQuotas(context.WithoutCancel(ctx), project)
}

// projectLimits returns project's limit of each resource.
func (a *API) projectLimits(ctx context.Context, project string) (map[string]int, error) {
	q, err := a.ProjectQuotas(ctx, project, false)
	if err != nil {
		return nil, err
	}
	return limitsOf(q), nil
}

// reserve holds deltas in project's quotas, and the same under the twins
// for volume type typeID, for the change of object (a volume, snapshot or
// backup id) the caller writes next: the database ends the hold when it
// writes the change (see db.Reserve), and rollbackQuota when the change is
// given up. Over a limit it returns the *db.OverQuota.
func (a *API) reserve(ctx context.Context, project, object, typeID string, limits, deltas map[string]int) error {
	if err := a.typeDeltas(ctx, typeID, deltas); err != nil {
		return err
	}
	return a.store.Reserve(ctx, db.Reservation{Project: project, Object: object, Deltas: deltas, Limits: limits,
		Expire: a.reservationExpiry()})
}

// typeDeltas adds to deltas the twin of each of its per-type resources for
// volume type typeID ("" or a type gone: none).
func (a *API) typeDeltas(ctx context.Context, typeID string, deltas map[string]int) error {
	if typeID == "" {
		return nil
	}
	t, err := a.store.GetVolumeType(ctx, typeID)
	if cinder.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, r := range db.PerTypeQuotas() {
		if n, ok := deltas[r]; ok {
			deltas[r+"_"+t.Name] = n
		}
	}
	return nil
}

// reservationExpiry is when a reservation made now stops counting, should
// its object never be written: reservation_expire from now.
func (a *API) reservationExpiry() time.Time { return time.Now().Add(a.cfg.ReservationExpire) }

// rollbackQuota gives up what was reserved for object's change, which will
// not be written; a failure is logged (the hold lapses at
// reservation_expire).
func (a *API) rollbackQuota(ctx context.Context, object string) {
	if err := a.store.EndReservations(ctx, object); err != nil {
		logFailure(ctx, "roll back the quota reserved for "+object, err)
	}
}

// reserveVolume holds the room of new volume id of type typeID and size GiB
// in project's quotas (volumes and gigabytes), as the create flow's
// QuotaReserveTask, after checking size against per_volume_gigabytes.
func (a *API) reserveVolume(ctx context.Context, project, id, typeID string, size int) error {
	limits, err := a.projectLimits(ctx, project)
	if err != nil {
		return err
	}
	if err := volumeSizeLimit(limits, size); err != nil {
		return err
	}
	err = a.reserve(ctx, project, id, typeID, limits, map[string]int{db.QuotaVolumes: 1, db.QuotaGigabytes: size})
	return overQuota(err, db.QuotaVolumes, size)
}

// volumeSizeLimit is VolumeSizeExceedsLimit (413) when size is over the
// per_volume_gigabytes of limits.
func volumeSizeLimit(limits map[string]int, size int) error {
	if limit := limits[QuotaPerVolumeGigabytes]; limit >= 0 && size > limit {
		return cinder.Errorf("VolumeSizeExceedsLimit", 413, "Requested volume size %dG is larger than maximum allowed limit %dG.", size, limit)
	}
	return nil
}

// reserveExtend holds the GiB that extending v to newSize adds, as
// volume/api.py _extend; over the quota it names the gigabytes quota,
// whichever resource is over.
func (a *API) reserveExtend(ctx context.Context, v *cinder.Volume, newSize int) error {
	limits, err := a.projectLimits(ctx, v.ProjectID)
	if err != nil {
		return err
	}
	if err := volumeSizeLimit(limits, newSize); err != nil {
		return err
	}
	more := newSize - v.Size
	err = a.reserve(ctx, v.ProjectID, v.ID, v.VolumeTypeID, limits, map[string]int{db.QuotaGigabytes: more})
	var over *db.OverQuota
	if !errors.As(err, &over) {
		return err
	}
	u := over.Usages[db.QuotaGigabytes]
	return sizeExceeds(db.QuotaGigabytes, more, over.Quotas[db.QuotaGigabytes], u.InUse+u.Reserved)
}

// reserveSnapshot holds the room of snapshot id of v in project's quotas:
// snapshots, and v's size in gigabytes.
func (a *API) reserveSnapshot(ctx context.Context, project, id string, v *cinder.Volume) error {
	limits, err := a.projectLimits(ctx, project)
	if err != nil {
		return err
	}
	err = a.reserve(ctx, project, id, v.VolumeTypeID, limits, map[string]int{db.QuotaSnapshots: 1, db.QuotaGigabytes: v.Size})
	return overQuota(err, db.QuotaSnapshots, v.Size)
}

// reserveBackup holds the room of backup id of size GiB in project's
// quotas: backups and backup_gigabytes.
func (a *API) reserveBackup(ctx context.Context, project, id string, size int) error {
	limits, err := a.projectLimits(ctx, project)
	if err != nil {
		return err
	}
	err = a.reserve(ctx, project, id, "", limits, map[string]int{db.QuotaBackups: 1, db.QuotaBackupGigabytes: size})
	return overQuota(err, db.QuotaBackups, size)
}

// reserveRetype holds what retyping v to t adds to t's resources: the
// volume, and its snapshots, as quota_utils.get_volume_type_reservation
// with reserve_vol_type_only. What leaves v's old type is given back when
// the new type is written.
func (a *API) reserveRetype(ctx context.Context, v *cinder.Volume, t *cinder.VolumeType) error {
	limits, err := a.projectLimits(ctx, v.ProjectID)
	if err != nil {
		return err
	}
	snaps, err := a.store.ListSnapshots(ctx, db.SnapshotFilter{VolumeID: v.ID})
	if err != nil {
		return err
	}
	deltas := map[string]int{db.QuotaVolumes + "_" + t.Name: 1, db.QuotaGigabytes + "_" + t.Name: v.Size}
	if len(snaps) > 0 {
		deltas[db.QuotaSnapshots+"_"+t.Name] = len(snaps)
		for _, s := range snaps {
			deltas[db.QuotaGigabytes+"_"+t.Name] += s.VolumeSize
		}
	}
	err = a.reserve(ctx, v.ProjectID, v.ID, "", limits, deltas)
	return overQuota(err, db.QuotaVolumes, v.Size)
}

// overQuota turns a reservation's *db.OverQuota into Cinder's exception for
// creating a resource of kind (volumes, snapshots or backups) of size GiB,
// as quota_utils.process_reserve_over_quota: the first resource over
// decides. Any other error comes back as it is.
func overQuota(err error, kind string, size int) error {
	var over *db.OverQuota
	if !errors.As(err, &over) {
		return err
	}
	var unexpected []string
	for _, r := range over.Overs {
		u := over.Usages[r]
		switch {
		case strings.Contains(r, db.QuotaGigabytes) && kind == db.QuotaBackups:
			return cinder.Errorf("VolumeBackupSizeExceedsAvailableQuota", 413,
				"Requested backup exceeds allowed Backup gigabytes quota. Requested %dG, quota is %dG and %dG has been consumed.",
				size, over.Quotas[r], u.InUse+u.Reserved)
		case strings.Contains(r, db.QuotaGigabytes):
			return sizeExceeds(r, size, over.Quotas[r], u.InUse+u.Reserved)
		case strings.Contains(r, kind):
			return limitExceeded(kind, r, over.Quotas[r])
		}
		unexpected = append(unexpected, r)
	}
	return cinder.Errorf("UnexpectedOverQuota", 413, "Unexpected over quota on %s.", strings.Join(unexpected, ", "))
}

// sizeExceeds is VolumeSizeExceedsAvailableQuota for resource name.
func sizeExceeds(name string, requested, quota, consumed int) error {
	return cinder.Errorf("VolumeSizeExceedsAvailableQuota", 413,
		"Requested volume or snapshot exceeds allowed %s quota. Requested %dG, quota is %dG and %dG has been consumed.",
		name, requested, quota, consumed)
}

// limitExceeded is the exception of a count of kind over resource's limit.
func limitExceeded(kind, resource string, allowed int) error {
	switch kind {
	case db.QuotaSnapshots:
		return cinder.Errorf("SnapshotLimitExceeded", 413, "Maximum number of snapshots allowed (%d) exceeded", allowed)
	case db.QuotaBackups:
		return cinder.Errorf("BackupLimitExceeded", 413, "Maximum number of backups allowed (%d) exceeded", allowed)
	case db.QuotaGroups:
		return cinder.Errorf("GroupLimitExceeded", 413, "Maximum number of groups allowed (%d) exceeded", allowed)
	}
	return cinder.Errorf("VolumeLimitExceeded", 413, "Maximum number of volumes allowed (%d) exceeded for quota '%s'.", allowed, resource)
}
