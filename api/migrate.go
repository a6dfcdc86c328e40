package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/scheduler"
)

// migratableReplication are the replication statuses a migration allows.
var migratableReplication = []string{"", "disabled", "not-capable"}

// migrateVolume is os-migrate_volume (admin) {"host": "host@backend[#pool]",
// "force_host_copy": bool, "lock_volume": bool}, as volume/api.py
// migrate_volume: the destination must be an up, enabled cinder-volume
// backend other than the volume's own; the volume goes to migration_status
// starting (and maintenance when locked) and cinder-scheduler is asked to
// migrate it, 202; when that cast cannot be sent the volume gets its
// statuses back, 503.
func (s *server) migrateVolume(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	const name = "os-migrate_volume"
	allowed := []string{"host", "force_host_copy", "lock_volume"}
	withCluster := ver(r).atLeast(mvMigrateCluster)
	if withCluster {
		allowed = append(allowed, "cluster")
	}
	args, err := actionArgs(name, raw, allowed...)
	if err != nil {
		return reply{}, err
	}
	if !withCluster {
		if err := args.required(name, "host"); err != nil {
			return reply{}, err
		}
	}
	host, err := stringOf("host", rawOr(args, "host", json.RawMessage("null")), withCluster, maxNameLen)
	if err != nil {
		return reply{}, err
	}
	cluster, err := stringOf("cluster", rawOr(args, "cluster", json.RawMessage("null")), true, maxNameLen)
	if err != nil {
		return reply{}, err
	}
	var force, lock bool
	for key, dst := range map[string]*bool{"force_host_copy": &force, "lock_volume": &lock} {
		if raw, ok := args[key]; ok {
			if *dst, err = boolOf(key, raw); err != nil {
				return reply{}, err
			}
		}
	}
	switch {
	case withCluster && (host == "") == (cluster == ""):
		return reply{}, cinder.InvalidInput("One and only one of cluster and host must be set.")
	case host == "" && cluster == "":
		return reply{}, cinder.InvalidInput("Host field is missing.")
	}
	if err := requireAdmin(r, "volume_extension:volume_admin_actions:migrate_volume"); err != nil {
		return reply{}, err
	}
	m, ok := s.sched.(Migrator)
	if !ok {
		return reply{}, newFault(http.StatusNotImplemented, "os-migrate_volume is not available: the scheduler client cannot migrate volumes.")
	}
	v, err := s.getVolume(r, id)
	if err != nil {
		return reply{}, err
	}
	ctx := context.WithoutCancel(r.Context())
	if cluster != "" {
		// Services of this Cinder run unclustered.
		return reply{}, cinder.InvalidHost("No available service named '%s'", cluster)
	}
	if err := s.checkDestination(ctx, host); err != nil {
		return reply{}, err
	}
	var before cinder.Volume
	v, err = s.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		// A destination without a pool on the volume's own backend is the
		// same place: Cinder lets it through and fails later; refuse it now.
		samePlace := v.Host == host || cinder.ExtractHost(host, cinder.LevelPool) == "" && cinder.SameBackend(v.Host, host)
		if !slices.Contains([]string{cinder.StatusAvailable, cinder.StatusInUse}, v.Status) ||
			!slices.Contains(deletableMigration, v.MigrationStatus) ||
			!slices.Contains(migratableReplication, v.ReplicationStatus) || samePlace {
			return cinder.InvalidVolume("Volume %s status must be available or in-use, must not be migrating, have snapshots, be replicated, be part of a group and destination host/cluster must be different than the current one", v.ID)
		}
		before = *v
		v.MigrationStatus, v.PreviousStatus = cinder.MigrationStarting, v.Status
		if lock && v.Status == cinder.StatusAvailable {
			v.Status = cinder.StatusMaintenance
		}
		return nil
	})
	if err != nil {
		return reply{}, err
	}
	t, err := (&typeNames{store: s.store}).of(ctx, v.VolumeTypeID)
	if err != nil {
		return reply{}, err
	}
	spec := scheduler.RequestSpec{VolumeID: v.ID, Size: v.Size, VolumeType: t, AvailabilityZone: v.AvailabilityZone}
	if err := m.MigrateVolume(ctx, v, host, force, spec); err != nil {
		s.rollback(ctx, &before, v)
		return reply{}, unreachable(err, "Could not ask cinder-scheduler to migrate volume %s", v.ID)
	}
	return reply{status: http.StatusAccepted}, nil
}

// checkDestination fails with InvalidHost unless host's backend is an up,
// enabled cinder-volume service.
func (s *server) checkDestination(ctx context.Context, host string) error {
	services, err := s.store.ListServices(ctx, cinder.ExtractHost(host, cinder.LevelBackend), cinder.BinaryVolume)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, svc := range services {
		if !svc.Disabled && svc.Up(now, s.cfg.ServiceDownTime) {
			return nil
		}
	}
	return cinder.InvalidHost("No available service named '%s'", host)
}

// migrateVolumeCompletion is os-migrate_volume_completion (admin)
// {"new_volume": uuid, "error": bool}: the destination must be this
// volume's migration target; the source backend completes the migration
// and names the id to keep. 200 {"save_volume_id": id}.
func (s *server) migrateVolumeCompletion(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	const name = "os-migrate_volume_completion"
	args, err := actionArgs(name, raw, "new_volume", "error")
	if err != nil {
		return reply{}, err
	}
	if err := args.required(name, "new_volume"); err != nil {
		return reply{}, err
	}
	newID, err := stringOf("new_volume", args["new_volume"], false, 0)
	if err != nil {
		return reply{}, err
	}
	if _, err := uuid.Parse(newID); err != nil {
		return reply{}, invalidField("new_volume", args["new_volume"], "%s is not a 'uuid'", pyRepr(args["new_volume"]))
	}
	hasError := false
	if raw, ok := args["error"]; ok && kind(raw) != "null" {
		if hasError, err = boolOf("error", raw); err != nil {
			return reply{}, err
		}
	}
	if err := requireAdmin(r, "volume_extension:volume_admin_actions:migrate_volume_completion"); err != nil {
		return reply{}, err
	}
	c, ok := s.volumes.(MigrationCompleter)
	if !ok {
		return reply{}, newFault(http.StatusNotImplemented, "os-migrate_volume_completion is not available: the volume client cannot complete migrations.")
	}
	v, err := s.getVolume(r, id)
	if err != nil {
		return reply{}, err
	}
	nv, err := s.getVolume(r, newID)
	if err != nil {
		return reply{}, err
	}
	if v.MigrationStatus == "" && nv.MigrationStatus == "" {
		// Not a migration: only attachments would move, and there are none.
		return reply{http.StatusOK, object{{"save_volume_id", nv.ID}}}, nil
	}
	switch want := cinder.MigrationTarget(v.ID); {
	case v.MigrationStatus == "":
		return reply{}, cinder.InvalidVolume("Source volume not mid-migration.")
	case nv.MigrationStatus == "":
		return reply{}, cinder.InvalidVolume("Destination volume not mid-migration.")
	case nv.MigrationStatus != want:
		return reply{}, cinder.InvalidVolume("Destination has migration_status %s, expected %s.", nv.MigrationStatus, want)
	}
	saved, err := c.MigrateVolumeCompletion(context.WithoutCancel(r.Context()), v, nv, hasError)
	if err != nil {
		return reply{}, unreachable(err, "Could not reach cinder-volume to complete the migration of volume %s", v.ID)
	}
	return reply{http.StatusOK, object{{"save_volume_id", saved}}}, nil
}
