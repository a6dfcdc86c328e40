package volume

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cinder-go/cinder"
)

// migratableReplication are the replication statuses a migration allows.
var migratableReplication = []string{"", "disabled", "not-capable"}

// Migration is what os-migrate_volume asks: a destination, Host
// (host@backend[#pool]) or Cluster, and how.
type Migration struct {
	Host, Cluster string
	ForceHostCopy bool // copy the bytes even when a driver could move them
	LockVolume    bool // keep the volume in maintenance while it moves
}

// Migrate starts moving volume id as volume/api.py migrate_volume: the
// destination must be an up, enabled cinder-volume backend other than the
// volume's own; the volume goes to migration_status starting (and
// maintenance when locked) and cinder-scheduler is asked to migrate it.
// When that cast cannot be sent the volume gets its statuses back.
func (a *API) Migrate(ctx context.Context, id string, m Migration) error {
	v, err := a.Get(ctx, id)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if m.Cluster != "" {
		// Services of this Cinder run unclustered.
		return cinder.InvalidHost("No available service named '%s'", m.Cluster)
	}
	if err := a.checkDestination(ctx, m.Host); err != nil {
		return err
	}
	// Cinder has Nova swap an attached volume's instances to the copy;
	// without Nova they would keep writing to the old storage.
	attached, err := a.attached(ctx, v.ID)
	if err != nil {
		return err
	}
	if attached {
		return cinder.InvalidVolume("Volume %s has attachments: migrating an attached volume needs Nova, which this cloud does not have.", v.ID)
	}
	before, v, err := a.claim(ctx, v.ID, func(v *cinder.Volume) error {
		// A destination without a pool on the volume's own backend is the
		// same place: Cinder lets it through and fails later; refuse it now.
		samePlace := v.Host == m.Host || cinder.ExtractHost(m.Host, cinder.LevelPool) == "" && cinder.SameBackend(v.Host, m.Host)
		if !slices.Contains([]string{cinder.StatusAvailable, cinder.StatusInUse}, v.Status) ||
			!slices.Contains(deletableMigration, v.MigrationStatus) ||
			!slices.Contains(migratableReplication, v.ReplicationStatus) || v.GroupID != "" || samePlace {
			return cinder.InvalidVolume("Volume %s status must be available or in-use, must not be migrating, have snapshots, be replicated, be part of a group and destination host/cluster must be different than the current one", v.ID)
		}
		return nil
	}, func(v *cinder.Volume) {
		v.MigrationStatus, v.PreviousStatus = cinder.MigrationStarting, v.Status
		if m.LockVolume && v.Status == cinder.StatusAvailable {
			v.Status = cinder.StatusMaintenance
		}
	})
	if err != nil {
		return err
	}
	t, err := a.typeOf(ctx, v)
	if err != nil {
		a.rollback(ctx, before, v)
		return err
	}
	spec := cinder.RequestSpec{VolumeID: v.ID, Size: v.Size, VolumeType: t, AvailabilityZone: v.AvailabilityZone}
	return a.castOrRollback(ctx, before, v, func() error { return a.sched.MigrateVolume(ctx, v, m.Host, m.ForceHostCopy, spec) },
		"Could not ask cinder-scheduler to migrate volume %s", v.ID)
}

// typeOf returns v's volume type, or nil when it has none or it is gone.
func (a *API) typeOf(ctx context.Context, v *cinder.Volume) (*cinder.VolumeType, error) {
	if v.VolumeTypeID == "" {
		return nil, nil
	}
	t, err := a.store.GetVolumeType(ctx, v.VolumeTypeID)
	if cinder.IsNotFound(err) {
		return nil, nil
	}
	return t, err
}

// checkDestination fails with InvalidHost unless host names a backend
// (host@backend[#pool]) that is an up, enabled cinder-volume service.
func (a *API) checkDestination(ctx context.Context, host string) error {
	backend := cinder.ExtractHost(host, cinder.LevelBackend)
	if !strings.Contains(backend, "@") {
		return cinder.InvalidHost("No available service named '%s'", host)
	}
	services, err := a.store.ListServices(ctx, backend, cinder.BinaryVolume)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, svc := range services {
		if !svc.Disabled && svc.Up(now, a.cfg.ServiceDownTime) {
			return nil
		}
	}
	return cinder.InvalidHost("No available service named '%s'", host)
}

// CompleteMigration is os-migrate_volume_completion: newID must be volume
// id's migration target; the source backend completes the migration (or
// discards the target when hasError) and names the id to keep.
func (a *API) CompleteMigration(ctx context.Context, id, newID string, hasError bool) (string, error) {
	v, err := a.Get(ctx, id)
	if err != nil {
		return "", err
	}
	nv, err := a.Get(ctx, newID)
	if err != nil {
		return "", err
	}
	if v.MigrationStatus == "" && nv.MigrationStatus == "" {
		// Not a migration: only attachments would move, and there are none.
		return nv.ID, nil
	}
	switch want := cinder.MigrationTarget(v.ID); {
	case v.MigrationStatus == "":
		return "", cinder.InvalidVolume("Source volume not mid-migration.")
	case nv.MigrationStatus == "":
		return "", cinder.InvalidVolume("Destination volume not mid-migration.")
	case nv.MigrationStatus != want:
		return "", cinder.InvalidVolume("Destination has migration_status %s, expected %s.", nv.MigrationStatus, want)
	}
	saved, err := a.backends.MigrateVolumeCompletion(context.WithoutCancel(ctx), v, nv, hasError)
	if err != nil {
		return "", unreachable(err, "Could not reach cinder-volume to complete the migration of volume %s", v.ID)
	}
	return saved, nil
}

// Retype gives volume id the type typeRef names (by name or id), as
// volume/api.py retype: the volume must be available or in-use, not
// migrating, and of another type; a change of multiattach only while
// available. It goes to retyping, its room in the new type's quotas is
// reserved (its statuses back when over quota) and cinder-scheduler is
// asked to retype it, migrating it only when policy is on-demand; the
// reservation ends when it leaves retyping. When that cast cannot be sent
// the volume gets its statuses back.
func (a *API) Retype(ctx context.Context, id, typeRef, policy string) error {
	v, err := a.Get(ctx, id)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if typeRef == "" {
		// ResolveType would take it for the default type; Cinder looks up
		// the name "" and finds none.
		return typeNotFoundByName(typeRef)
	}
	t, err := a.ResolveType(ctx, typeRef)
	if err != nil {
		return err
	}
	multiattach := t.Multiattach()
	// An attached volume retypes in place only: see Migrate.
	attached, err := a.attached(ctx, v.ID)
	if err != nil {
		return err
	}
	if attached {
		policy = cinder.MigrationPolicyNever
	}
	before, v, err := a.claim(ctx, v.ID, func(v *cinder.Volume) error {
		if v.Multiattach != multiattach && v.Status != cinder.StatusAvailable {
			return cinder.InvalidInput("Invalid volume_type passed, retypes affecting multiattach are only allowed on available volumes, the specified volume however currently has a status of: %s.", v.Status)
		}
		if !slices.Contains([]string{cinder.StatusAvailable, cinder.StatusInUse}, v.Status) ||
			!slices.Contains(deletableMigration, v.MigrationStatus) || v.GroupID != "" || v.VolumeTypeID == t.ID {
			return cinder.InvalidVolume("Retype needs volume to be in available or in-use state, not be part of an active migration or a consistency group, requested type has to be different that the one from the volume, and for in-use volumes front-end qos specs cannot change.")
		}
		return nil
	}, func(v *cinder.Volume) {
		v.PreviousStatus, v.Status = v.Status, cinder.StatusRetyping
	})
	if err != nil {
		return err
	}
	if err := a.reserveRetype(ctx, v, t); err != nil {
		a.rollback(ctx, before, v)
		return err
	}
	spec := cinder.RequestSpec{VolumeID: v.ID, Size: v.Size, VolumeType: t,
		AvailabilityZone: v.AvailabilityZone, MigrationPolicy: policy}
	if err := a.castOrRollback(ctx, before, v, func() error { return a.sched.Retype(ctx, v, spec) },
		"Could not ask cinder-scheduler to retype volume %s", v.ID); err != nil {
		return err
	}
	if v.Multiattach == multiattach {
		return nil
	}
	// As Cinder, once the retype is cast.
	_, err = a.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		v.Multiattach = multiattach
		return nil
	})
	return err
}
