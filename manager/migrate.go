package manager

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"strings"
	"time"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/drivers/volcopy"
)

// Host-assisted ("generic") migration, as cinder/volume/manager.py's
// migrate_volume, _migrate_volume_generic, _copy_volume_data,
// migrate_volume_completion and update_migrated_volume. The source backend
// drives it: it creates the target volume on the destination, copies the
// bytes (sparse only when the destination's get_capabilities says its new
// volumes read as zeros), then swaps the two rows so that the volume keeps
// its id and the target row, now naming the old data, is deleted.

const (
	defaultCreateTimeout = 300 * time.Second    // migration_create_volume_timeout_secs
	maxCallTimeout       = 30 * time.Second     // bounds calls a migration can do without
	pollFirst            = 5 * time.Millisecond // a target is often ready within a few ms; tries² backoff after
	pollMax              = time.Second
	progressInterval     = 5 * time.Second // of copy logs and take-over checks
)

// errNotMigrating says a copy or a completion found the volume no longer
// migrating: someone else completed or failed it, or an admin took the
// migration over (os-reset_status of its migration_status).
var errNotMigrating = errors.New("volume is no longer migrating")

// notMigrating is errNotMigrating for v unless v is migrating.
func notMigrating(v *cinder.Volume) error {
	if v.MigrationStatus == cinder.MigrationMigrating {
		return nil
	}
	return fmt.Errorf("volume %s has migration_status %q: %w", v.ID, v.MigrationStatus, errNotMigrating)
}

// migrateVolume (cast: volume, host {host, cluster_name, capabilities},
// force_host_copy, new_type_id) moves a volume whose migration is starting
// to host (host@backend#pool) by copying its bytes; the driver-assisted path
// does not exist, so force_host_copy changes nothing. On failure the volume
// is left as it was, with migration_status error.
func (m *Manager) migrateVolume(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		volumeArgs
		Host struct {
			Host string `json:"host"`
		} `json:"host"`
		ForceHostCopy bool `json:"force_host_copy"`
	}
	if err := decode("migrate_volume", raw, &a); err != nil {
		return nil, err
	}
	dest := a.Host.Host
	v, err := m.load(ctx, a.volumeArgs)
	if cinder.IsNotFound(err) {
		slog.Warn("volume to migrate no longer exists", "volume_id", a.id(), "source", m.host, "destination", dest)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migrate_volume: %w", err)
	}
	m.migrate(ctx, v, dest, "", a.ForceHostCopy)
	return nil, nil
}

// migrate moves v, whose migration is starting, to dest, giving it the
// type newTypeID when set (a retype); on failure v is left as it was, with
// migration_status error.
func (m *Manager) migrate(ctx context.Context, v *cinder.Volume, dest, newTypeID string, forceHostCopy bool) {
	id := v.ID
	v, err := m.store.UpdateVolume(ctx, id, func(v *cinder.Volume) error {
		if v.MigrationStatus != cinder.MigrationStarting {
			return cinder.InvalidVolume("volume %s has migration_status %q, not %s", v.ID, v.MigrationStatus, cinder.MigrationStarting)
		}
		v.MigrationStatus = cinder.MigrationMigrating
		return nil
	})
	if err != nil {
		slog.Warn("not migrating volume", "volume_id", id, "source", m.host, "destination", dest, "err", err)
		return
	}
	logMigration(v.ID, cinder.MigrationMigrating, v.Host, dest, "force_host_copy", forceHostCopy)
	err = m.migrateGeneric(ctx, v, dest, newTypeID)
	switch {
	case errors.Is(err, errNotMigrating):
		slog.Warn("volume migration was taken over; leaving the volume as it is", "volume_id", v.ID, "source", v.Host, "destination", dest, "err", err)
	case err != nil:
		slog.Error("failed to migrate volume", "volume_id", v.ID, "source", v.Host, "destination", dest, "err", err)
		m.failMigration(ctx, v.ID, dest)
	}
}

// logMigration logs a volume's new migration_status.
func logMigration(id, status, source, dest string, attrs ...any) {
	slog.Info("volume migration status changed", append([]any{"volume_id", id, "migration_status", status,
		"source", source, "destination", dest}, attrs...)...)
}

// failMigration sets volume id's migration_status to error and gives back
// the status the migration took (maintenance, retyping), as Cinder.
func (m *Manager) failMigration(ctx context.Context, id, dest string) {
	v, err := m.store.UpdateVolume(ctx, id, func(v *cinder.Volume) error {
		v.MigrationStatus = cinder.MigrationError
		if v.Status == cinder.StatusMaintenance || v.Status == cinder.StatusRetyping {
			v.Status = cmp.Or(v.PreviousStatus, v.Status)
		}
		return nil
	})
	if err != nil {
		slog.Error("failed to record the failure of a volume migration", "volume_id", id, "source", m.host, "destination", dest, "err", err)
		return
	}
	logMigration(id, cinder.MigrationError, v.Host, dest, "status", v.Status)
}

// migrateGeneric creates the target volume on dest, of type newTypeID when
// set, else v's, copies v's bytes to it and completes the migration; on
// failure, or when the migration was taken over, the target is removed
// (see removeTakenOver).
func (m *Manager) migrateGeneric(ctx context.Context, v *cinder.Volume, dest, newTypeID string) error {
	if m.volumes == nil {
		return fmt.Errorf("backend %s has no RPC client to reach destination %s", m.host, dest)
	}
	nv, err := m.createTarget(ctx, v, dest, cmp.Or(newTypeID, v.VolumeTypeID))
	if err != nil {
		return err
	}
	err = m.copyVolumeData(ctx, v, nv)
	switch {
	case err == nil:
		err = m.completeMigration(ctx, v, nv) // removes nv when it fails, unless taken over
	case !errors.Is(err, errNotMigrating):
		m.removeTarget(ctx, nv)
	}
	if errors.Is(err, errNotMigrating) {
		m.removeTakenOver(ctx, v.ID, nv)
	}
	return err
}

// removeTakenOver removes nv, the target this backend created for the
// migration of volume id that someone took over, as a failed migration's:
// nothing else would, and the API refuses to delete a target. A completion
// that owns nv (the volume completing or migrated) keeps it, as in
// recoverTarget. The volume's row is only read: its statuses are the
// admin's now. A crash before removeTarget marks nv deleting leaves it
// available, one after leaves it deleting: nv's backend deletes either at
// its next start (recoverTarget).
func (m *Manager) removeTakenOver(ctx context.Context, id string, nv *cinder.Volume) {
	log := slog.With("volume_id", id, "new_volume_id", nv.ID, "destination", nv.Host)
	v, err := m.store.GetVolume(ctx, id)
	switch {
	case err != nil && !cinder.IsNotFound(err):
		log.Error("cannot read a volume whose migration was taken over; its destination volume stays until that backend restarts", "err", err)
		return
	case err == nil && (v.MigrationStatus == cinder.MigrationCompleting || v.MigrationStatus == cinder.MigrationSuccess):
		log.Warn("destination volume left to the migration's completion", "migration_status", v.MigrationStatus)
		return
	}
	log.Warn("deleting the destination volume of a migration taken over")
	m.removeTarget(ctx, nv)
}

// createTarget creates on dest the target volume of v's migration, as
// _migrate_volume_generic: a row like v's but of type typeID, creating,
// migration_status target:<v.id>, outside quota, cast to dest's
// create_volume, then polled until available. When it fails or times out
// nothing is left of it.
func (m *Manager) createTarget(ctx context.Context, v *cinder.Volume, dest, typeID string) (*cinder.Volume, error) {
	backend := cinder.ExtractHost(dest, cinder.LevelBackend)
	if !strings.Contains(backend, "@") {
		return nil, cinder.InvalidHost("destination %q is not a host@backend", dest)
	}
	services, err := m.store.ListServices(ctx, backend, cinder.BinaryVolume)
	if err != nil {
		return nil, fmt.Errorf("look up destination %s: %w", dest, err)
	}
	if len(services) == 0 {
		return nil, cinder.InvalidHost("no cinder-volume service named %s", backend)
	}
	svc := services[0]
	nv := &cinder.Volume{
		UserID: v.UserID, ProjectID: v.ProjectID, Size: v.Size,
		DisplayName: v.DisplayName, DisplayDescription: v.DisplayDescription,
		VolumeTypeID: typeID, Metadata: maps.Clone(v.Metadata),
		Bootable: v.Bootable, Multiattach: v.Multiattach,
		ReplicationStatus: v.ReplicationStatus, PreviousStatus: v.PreviousStatus,
		Host: dest, ClusterName: svc.ClusterName, AvailabilityZone: svc.AvailabilityZone, ServiceUUID: svc.UUID,
		Status: cinder.StatusCreating, AttachStatus: "detached",
		MigrationStatus: cinder.MigrationTarget(v.ID), UseQuota: false,
	}
	if err := m.store.CreateVolume(ctx, nv); err != nil {
		return nil, fmt.Errorf("create the row of the destination volume on %s: %w", dest, err)
	}
	slog.Info("creating destination volume", "volume_id", v.ID, "new_volume_id", nv.ID, "source", v.Host, "destination", dest)
	err = m.volumes.cast(ctx, nv, "create_volume", map[string]any{
		"volume":            nv,
		"request_spec":      nil,
		"filter_properties": nil,
		"allow_reschedule":  false,
	})
	var created *cinder.Volume
	if err == nil {
		created, err = m.waitCreated(ctx, nv)
	}
	if err != nil {
		m.abandonTarget(ctx, nv)
		return nil, fmt.Errorf("create destination volume %s on %s: %w", nv.ID, dest, err)
	}
	return created, nil
}

// waitCreated polls the target row until it is available, sleeping as
// Cinder's tries² but in tenths of a second and at most pollMax, for at most
// the create timeout.
func (m *Manager) waitCreated(ctx context.Context, nv *cinder.Volume) (*cinder.Volume, error) {
	deadline := time.Now().Add(m.createTimeout)
	for tries := 1; ; tries++ {
		cur, err := m.store.GetVolume(ctx, nv.ID)
		switch {
		case err != nil:
			return nil, err
		case cur.Status == cinder.StatusAvailable:
			return cur, nil
		case cur.Status == cinder.StatusError:
			return nil, errors.New("the destination failed to create it (status error)")
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("still %s after migration_create_volume_timeout_secs (%s)", cur.Status, m.createTimeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(pollFirst*time.Duration(tries*tries), pollMax, left)):
		}
	}
}

// abandonTarget removes a target that did not become available. One still
// creating is destroyed at once, atomically with that check, so that a
// destination creating it late finds it gone and removes its storage (see
// createVolume); one the destination finished with is deleted there.
func (m *Manager) abandonTarget(ctx context.Context, nv *cinder.Volume) {
	_, err := m.store.UpdateVolume(ctx, nv.ID, func(v *cinder.Volume) error {
		if v.Status != cinder.StatusCreating {
			return cinder.InvalidVolume("volume %s is %s", v.ID, v.Status)
		}
		now := time.Now()
		v.Status, v.MigrationStatus, v.Deleted, v.DeletedAt = cinder.StatusDeleted, "", true, &now
		return nil
	})
	if err == nil || cinder.IsNotFound(err) {
		slog.Info("destroyed the destination volume of a failed migration", "new_volume_id", nv.ID, "destination", nv.Host)
		return
	}
	m.removeTarget(ctx, nv)
}

// removeTarget has the destination delete a target volume (its storage and
// row). When the destination cannot be reached the row stays deleting,
// which the destination's next start finishes.
func (m *Manager) removeTarget(ctx context.Context, nv *cinder.Volume) {
	ctx = context.WithoutCancel(ctx)
	cur, err := m.store.UpdateVolume(ctx, nv.ID, func(v *cinder.Volume) error {
		v.Status = cinder.StatusDeleting
		return nil
	})
	if cinder.IsNotFound(err) {
		return
	}
	if err == nil {
		err = m.volumes.DeleteVolume(ctx, cur, false)
	}
	if err != nil {
		slog.Error("cannot have the destination delete the volume of a failed migration; it stays deleting until that backend restarts",
			"new_volume_id", nv.ID, "destination", nv.Host, "err", err)
		return
	}
	slog.Info("asked the destination to delete the volume of a failed migration", "new_volume_id", nv.ID, "destination", nv.Host)
}

// copyVolumeData copies v's bytes to nv, as _copy_volume_data: it attaches
// nv through the destination and v locally, asks the destination whether a
// sparse copy is safe, copies, and detaches both whatever happens. The copy
// stops with errNotMigrating when a progress check finds v no longer
// migrating.
func (m *Manager) copyVolumeData(ctx context.Context, v, nv *cinder.Volume) error {
	size, err := drivers.Bytes(v.Size)
	if err != nil {
		return err
	}
	connector := map[string]any{"host": m.server}
	dstInfo, err := m.volumes.InitializeConnection(ctx, nv, connector)
	if err != nil {
		return fmt.Errorf("attach destination volume %s: %w", nv.ID, err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.callTimeout)
		defer cancel()
		if err := m.volumes.TerminateConnection(ctx, nv, connector); err != nil {
			slog.Error("failed to detach destination volume", "volume_id", v.ID, "new_volume_id", nv.ID, "destination", nv.Host, "err", err)
		}
	}()
	srcInfo, err := m.drv.InitializeConnection(ctx, v, connector)
	if err != nil {
		return fmt.Errorf("attach source volume %s: %w", v.ID, err)
	}
	defer func() {
		if err := m.drv.TerminateConnection(context.WithoutCancel(ctx), v, connector); err != nil {
			slog.Error("failed to detach source volume", "volume_id", v.ID, "source", v.Host, "err", err)
		}
	}()
	src, err := srcInfo.DevicePath()
	if err != nil {
		return fmt.Errorf("source volume %s: %w", v.ID, err)
	}
	dst, err := dstInfo.DevicePath()
	if err != nil {
		return fmt.Errorf("destination volume %s: %w", nv.ID, err)
	}

	sparse, reason := m.sparseCopy(ctx, nv.Host)
	mode := map[bool]string{true: "sparse", false: "full"}[sparse]
	log := slog.With("volume_id", v.ID, "new_volume_id", nv.ID, "source", v.Host, "destination", nv.Host, "mode", mode, "reason", reason)
	log.Info("copying volume", "size_bytes", size)
	copyCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	st, err := volcopy.Copy(copyCtx, src, dst, volcopy.Options{
		Sparse:           sparse,
		BlockSize:        m.backend.VolumeDDBlocksize,
		BPSLimit:         m.backend.VolumeCopyBPSLimit,
		Size:             size,
		ProgressInterval: m.progressInterval,
		Progress: func(st volcopy.Stats) {
			done := st.Written + st.Zeroed + st.Skipped
			if done >= st.Size {
				return
			}
			log.Info("copy progress", "percent", 100*done/max(st.Size, 1), "done_bytes", done, "size_bytes", st.Size,
				"elapsed", st.Elapsed, "throughput_mib_s", mibPerSecond(done, st.Elapsed))
			// A failed read says nothing: the completion checks again.
			if cur, err := m.store.GetVolume(ctx, v.ID); err == nil {
				if err := notMigrating(cur); err != nil {
					stop(err)
				}
			}
		},
	})
	if cause := context.Cause(copyCtx); err != nil && errors.Is(cause, errNotMigrating) {
		log.Warn("stopped copying volume: its migration was taken over", "read_bytes", st.Read, "written_bytes", st.Written,
			"elapsed", st.Elapsed, "err", cause)
		return cause
	}
	if err != nil {
		log.Error("failed to copy volume", "read_bytes", st.Read, "written_bytes", st.Written, "elapsed", st.Elapsed, "err", err)
		return fmt.Errorf("copy volume %s to %s: %w", v.ID, nv.ID, err)
	}
	log.Info("copied volume", "size_bytes", st.Size, "read_bytes", st.Read, "written_bytes", st.Written,
		"zeroed_bytes", st.Zeroed, "skipped_bytes", st.Skipped, "elapsed", st.Elapsed,
		"throughput_mib_s", mibPerSecond(st.Size, st.Elapsed))
	return nil
}

// sparseCopy asks destination host's get_capabilities (the cached snapshot)
// whether its new volumes read as zeros, as the blueprint
// efficient-volume-copy-for-cinder-assisted-migration: only a
// sparse_copy_volume of true allows a sparse copy. Any doubt (no answer in
// time, no such key, another value) means a full copy, which never leaves a
// stale byte. It returns the choice and why.
func (m *Manager) sparseCopy(ctx context.Context, host string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, m.callTimeout)
	defer cancel()
	caps, err := m.volumes.GetCapabilities(ctx, host, false)
	if err != nil {
		return false, "destination did not answer get_capabilities: " + err.Error()
	}
	v, ok := caps["sparse_copy_volume"]
	switch {
	case !ok:
		return false, "answer lacks sparse_copy_volume"
	case v == true:
		return true, "destination reports sparse_copy_volume true"
	}
	return false, fmt.Sprintf("destination reports sparse_copy_volume %v", v)
}

// completeMigration makes nv's bytes v's, as migrate_volume_completion: v
// goes completing, the destination gives nv's storage v's name
// (update_migrated_volume), then in one transaction, as
// finish_volume_migration, v's row moves to the destination with success
// and the target row becomes the record of the old data here, which is then
// deleted. A failure before that transaction removes the target and leaves
// v's data in place; a crash leaves either v completing on its source,
// whole, or v moved and the old data's row deleting, which a restart ends.
func (m *Manager) completeMigration(ctx context.Context, v, nv *cinder.Volume) error {
	v, err := m.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		if err := notMigrating(v); err != nil {
			return err
		}
		v.MigrationStatus = cinder.MigrationCompleting
		return nil
	})
	if err != nil {
		if !errors.Is(err, errNotMigrating) {
			m.removeTarget(ctx, nv)
		}
		return fmt.Errorf("complete migration: %w", err)
	}
	logMigration(v.ID, cinder.MigrationCompleting, v.Host, nv.Host)
	orig := cmp.Or(v.PreviousStatus, v.Status)
	callCtx, cancel := context.WithTimeout(ctx, m.callTimeout)
	model, err := m.volumes.UpdateMigratedVolume(callCtx, v, nv, orig)
	cancel()
	old := v // where the old data lives
	var tmp *cinder.Volume
	if err == nil {
		v, tmp, err = m.store.UpdateVolumes(ctx, v.ID, nv.ID, func(cur, t *cinder.Volume) error {
			if cur.MigrationStatus != cinder.MigrationCompleting || cur.Host != old.Host || cur.DataID() != old.DataID() {
				return cinder.InvalidVolume("volume %s changed while completing its migration", cur.ID)
			}
			cur.Host, cur.ClusterName, cur.AvailabilityZone, cur.ServiceUUID = nv.Host, nv.ClusterName, nv.AvailabilityZone, nv.ServiceUUID
			cur.NameID, cur.ProviderLocation = model.NameID, model.ProviderLocation
			cur.VolumeTypeID = nv.VolumeTypeID // a retype's new type
			cur.Status, cur.PreviousStatus = orig, cur.Status
			cur.MigrationStatus = cinder.MigrationSuccess
			// The target row now records the old data, to be deleted.
			t.Host, t.ClusterName, t.AvailabilityZone, t.ServiceUUID = old.Host, old.ClusterName, old.AvailabilityZone, old.ServiceUUID
			t.NameID, t.ProviderLocation = old.DataID(), old.ProviderLocation
			t.Status, t.MigrationStatus = cinder.StatusDeleting, cinder.MigrationDeleting
			t.DisplayDescription = "migration src for " + old.ID
			return nil
		})
	}
	if err != nil {
		m.removeTarget(ctx, nv)
		return fmt.Errorf("complete migration of volume %s to %s: %w", old.ID, nv.Host, err)
	}
	logMigration(v.ID, cinder.MigrationSuccess, old.Host, v.Host, "name_id", v.NameID)
	m.releaseOldData(ctx, old, tmp)
	return nil
}

// releaseOldData deletes the old data and its row tmp after the migration
// succeeded, as Cinder does: a delete_volume cast to this backend, so that
// the migration's end does not wait for it (a large volume's storage takes
// seconds to release). If the cast fails it deletes in place; a crash before
// the delete ends leaves tmp deleting, which recovery at start finishes.
func (m *Manager) releaseOldData(ctx context.Context, old, tmp *cinder.Volume) {
	if err := m.volumes.DeleteVolume(ctx, tmp, false); err == nil {
		return
	}
	if err := m.delete(ctx, tmp, false); err != nil {
		slog.Error("failed to delete the old data of a migrated volume", "volume_id", old.ID, "source", old.Host, "err", err)
	}
}

// migrateVolumeCompletion (call: volume, new_volume, error) completes the
// migration of volume to new_volume, its target, or with error abandons it:
// the target is deleted and the volume keeps its data, migration_status
// error. It answers the id to keep, volume's.
func (m *Manager) migrateVolumeCompletion(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		volumeArgs
		NewVolume *idArg `json:"new_volume"`
		Error     bool   `json:"error"`
	}
	if err := decode("migrate_volume_completion", raw, &a); err != nil {
		return nil, err
	}
	if a.NewVolume == nil || a.NewVolume.ID == "" {
		return nil, cinder.InvalidInput("migrate_volume_completion names no new_volume")
	}
	v, err := m.load(ctx, a.volumeArgs)
	if err != nil {
		return nil, err
	}
	nv, err := m.store.GetVolume(ctx, a.NewVolume.ID)
	if err != nil {
		return nil, err
	}
	if want := cinder.MigrationTarget(v.ID); nv.MigrationStatus != want {
		return nil, cinder.InvalidVolume("Destination has migration_status %s, expected %s.", nv.MigrationStatus, want)
	}
	if a.Error {
		slog.Warn("migration completed with an error; deleting its destination volume", "volume_id", v.ID, "new_volume_id", nv.ID, "destination", nv.Host)
		m.removeTarget(ctx, nv)
		m.failMigration(ctx, v.ID, nv.Host)
		return v.ID, nil
	}
	if err := m.completeMigration(ctx, v, nv); err != nil {
		if !errors.Is(err, errNotMigrating) {
			slog.Error("failed to complete volume migration", "volume_id", v.ID, "source", v.Host, "destination", nv.Host, "err", err)
			m.failMigration(ctx, v.ID, nv.Host)
		}
		return nil, err
	}
	return v.ID, nil
}

// updateMigratedVolume (call: volume, new_volume, volume_status) runs on
// the destination once new_volume, volume's migration target here, holds
// volume's bytes: the driver gives the storage volume's name when it can.
// It answers the model update volume must take, {_name_id,
// provider_location}; unlike Cinder it writes no row, the source does.
func (m *Manager) updateMigratedVolume(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		Volume       *idArg `json:"volume"`
		NewVolume    *idArg `json:"new_volume"`
		VolumeStatus string `json:"volume_status"`
	}
	if err := decode("update_migrated_volume", raw, &a); err != nil {
		return nil, err
	}
	if a.Volume == nil || a.Volume.ID == "" {
		return nil, cinder.InvalidInput("update_migrated_volume names no volume")
	}
	nv, err := m.load(ctx, volumeArgs{Volume: a.NewVolume})
	if err != nil {
		return nil, err
	}
	if want := cinder.MigrationTarget(a.Volume.ID); nv.MigrationStatus != want {
		return nil, cinder.InvalidVolume("Destination has migration_status %s, expected %s.", nv.MigrationStatus, want)
	}
	nameID, err := m.drv.UpdateMigratedVolume(ctx, &cinder.Volume{ID: a.Volume.ID}, nv, a.VolumeStatus)
	if err != nil {
		slog.Error("failed to update migrated volume", "volume_id", a.Volume.ID, "new_volume_id", nv.ID, "host", m.host, "err", err)
		return nil, backendError(err, "update_migrated_volume of volume %s", a.Volume.ID)
	}
	if err := m.renamedTarget(ctx, nv, cmp.Or(nameID, a.Volume.ID)); err != nil {
		return nil, err
	}
	slog.Info("updated migrated volume", "volume_id", a.Volume.ID, "new_volume_id", nv.ID, "host", m.host, "name_id", nameID)
	return map[string]any{"_name_id": nullable(nameID), "provider_location": nullable(nv.ProviderLocation)}, nil
}

// renamedTarget records on target nv that its storage now carries data id
// dataID, so that whoever deletes an abandoned target (a source whose
// completion died before moving its row) deletes that storage, not the
// name it had. A target abandoned meanwhile (deleting or gone) has its
// renamed storage removed here, as nothing else names it.
func (m *Manager) renamedTarget(ctx context.Context, nv *cinder.Volume, dataID string) error {
	if dataID == nv.DataID() {
		return nil
	}
	want := nv.MigrationStatus
	_, err := m.store.UpdateVolume(ctx, nv.ID, func(t *cinder.Volume) error {
		if t.Status != cinder.StatusAvailable || t.MigrationStatus != want {
			return cinder.InvalidVolume("Destination %s is %s with migration_status %s, no longer an available %s.", t.ID, t.Status, t.MigrationStatus, want)
		}
		t.NameID = dataID
		return nil
	})
	if err == nil {
		return nil
	}
	slog.Warn("migration target abandoned while being renamed; removing its storage", "new_volume_id", nv.ID, "host", m.host, "data_id", dataID, "err", err)
	renamed := *nv
	renamed.NameID = dataID
	if derr := m.drv.DeleteVolume(ctx, &renamed); derr != nil {
		slog.Error("failed to remove the renamed storage of an abandoned migration target", "new_volume_id", nv.ID, "host", m.host, "data_id", dataID, "err", derr)
	}
	return err
}

// nullable is s, or nil (JSON null, Python None) when empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// recoverMigration fails a migration of v that a restart of this backend,
// its source, interrupted. v's row names the old data here, whole: it moves
// to the destination only together with success. The targets on other
// hosts are abandoned (see abandonTarget); one on v's own host may hold v's
// data and is left to recoverTarget.
func (m *Manager) recoverMigration(ctx context.Context, v *cinder.Volume) error {
	slog.Warn("volume migration was interrupted; failing it", "volume_id", v.ID, "host", m.host, "migration_status", v.MigrationStatus)
	m.failMigration(ctx, v.ID, "")
	targets, err := m.store.ListVolumes(ctx, db.VolumeFilter{Migrations: []string{cinder.MigrationTarget(v.ID)}})
	if err != nil {
		return fmt.Errorf("list the migration targets of volume %s: %w", v.ID, err)
	}
	for _, t := range targets {
		if t.Host != v.Host {
			m.abandonTarget(ctx, t)
		}
	}
	return nil
}

// recoverTarget deletes the target of a migration a restart interrupted
// (its storage and row), unless its source is completing: the source's
// completion, or its recovery if it died, ends that target. Storage the
// source names here is never deleted.
func (m *Manager) recoverTarget(ctx context.Context, t *cinder.Volume) error {
	srcID := strings.TrimPrefix(t.MigrationStatus, cinder.MigrationTarget(""))
	src, err := m.store.GetVolume(ctx, srcID)
	if err != nil && !cinder.IsNotFound(err) {
		return err
	}
	if err == nil && src.MigrationStatus == cinder.MigrationCompleting {
		slog.Warn("target of a migration being completed left to its source", "volume_id", srcID, "new_volume_id", t.ID, "host", m.host)
		return nil
	}
	shared := err == nil && cinder.SameBackend(src.Host, m.host) && src.DataID() == t.DataID()
	slog.Info("deleting the destination volume of an interrupted migration", "volume_id", srcID, "new_volume_id", t.ID, "host", m.host)
	return m.delete(ctx, t, shared)
}

// mibPerSecond is n bytes over d, in MiB/s, for the copy logs.
func mibPerSecond(n int64, d time.Duration) float64 {
	return math.Round(float64(n)/(1<<20)/max(d.Seconds(), 1e-6)*10) / 10
}
