// Package backup is cinder-backup, as cinder/backup/manager.py with the
// posix driver: it copies a volume's bytes, read through its backend's
// initialize_connection, into backup/posix containers under
// backup_posix_path, restores them into volumes, and deletes them. Package
// backup/posix is the on-disk format; this package holds the service, its
// RPC client and the statuses of backups and their volumes.
package backup

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/backup/posix"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/internal/extents"
	"github.com/cinder-go/cinder/rpc"
)

// RPCAPIVersion is the version the backup endpoint serves: Cinder's 2.3,
// and 2.4 for restore_backup's volume_is_new.
const RPCAPIVersion = "2.4"

// Volumes is what the manager needs of the cinder-volume backends
// (*manager.Client): a connection to a volume's or a snapshot's bytes, and
// whether a backend's new volumes read as zeros.
type Volumes interface {
	InitializeConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) (*cinder.ConnectionInfo, error)
	TerminateConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) error
	InitializeConnectionSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot, connector map[string]any) (*cinder.ConnectionInfo, error)
	TerminateConnectionSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot, connector map[string]any) error
	RemoveExportSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error
	GetCapabilities(ctx context.Context, host string, discover bool) (map[string]any, error)
}

// Manager is one cinder-backup service.
type Manager struct {
	host    string
	az      string // storage_availability_zone, an imported backup's
	store   *db.DB
	volumes Volumes
	opts    posix.Options
}

// New returns the cinder-backup of cfg.Host, keeping backups as cfg's
// backup options say and reaching volumes through volumes.
func New(cfg *conf.Config, store *db.DB, volumes Volumes) *Manager {
	return &Manager{host: cfg.Host, az: cfg.StorageAvailabilityZone, store: store, volumes: volumes, opts: posix.Options{
		Path:         cfg.BackupPosixPath,
		FileSize:     cfg.BackupFileSize,
		SHABlockSize: cfg.BackupSHABlockSize,
		Compression:  cfg.BackupCompression,
	}}
}

// Host is the manager's service host.
func (m *Manager) Host() string { return m.host }

// Targets are what the service's RPC server listens on: cinder-backup,
// server host.
func (m *Manager) Targets() []rpc.Target {
	return []rpc.Target{{Topic: cinder.TopicBackup, Server: m.host}}
}

// Endpoint is the service's RPC API.
func (m *Manager) Endpoint() rpc.Endpoint {
	return rpc.Endpoint{
		Version: RPCAPIVersion,
		Methods: map[string]rpc.Handler{
			"create_backup":  m.createBackup,
			"delete_backup":  m.deleteBackup,
			"restore_backup": m.restoreBackup,
			"export_record":  m.exportRecord,
			"import_record":  m.importRecord,
		},
	}
}

// Init is init_host: it makes backup_posix_path and recovers the backups a
// previous run left, as _cleanup_incomplete_backup_operations: creating
// ones go to error with their volume back to its previous status (or their
// snapshot to available, which Cinder 21 leaves backing-up), restoring
// ones to available with their volume error_restoring, and deleting ones
// are deleted. A backup it cannot recover is logged and left.
func (m *Manager) Init(ctx context.Context) error {
	if err := os.MkdirAll(m.opts.Path, 0o750); err != nil {
		return fmt.Errorf("cinder-backup: backup_posix_path: %w", err)
	}
	list, err := m.store.ListBackups(ctx, db.BackupFilter{Host: m.host,
		Statuses: []string{cinder.BackupCreating, cinder.BackupRestoring, cinder.BackupDeleting}})
	if err != nil {
		return fmt.Errorf("cinder-backup: list backups to recover: %w", err)
	}
	for _, b := range list {
		log := slog.With("backup_id", b.ID, "status", b.Status)
		switch b.Status {
		case cinder.BackupCreating:
			log.Info("resetting backup to error (was creating)")
			m.endCreate(ctx, b, nil, errors.New("incomplete backup reset on manager restart"))
		case cinder.BackupRestoring:
			log.Info("resetting backup to available (was restoring)")
			m.endRestore(ctx, b, b.RestoreVolumeID, "", errors.New("restore interrupted by a manager restart"))
		case cinder.BackupDeleting:
			log.Info("resuming delete of backup")
			m.delete(ctx, b)
		}
	}
	slog.Info("cinder-backup initialized", "host", m.host, "backup_posix_path", m.opts.Path)
	return nil
}

// backupArgs are the arguments naming a backup, of which only the id is read.
type backupArgs struct {
	Backup *struct {
		ID string `json:"id"`
	} `json:"backup"`
}

// load reads the backup a request names.
func (m *Manager) load(ctx context.Context, method string, raw json.RawMessage, args any) (*cinder.Backup, error) {
	var a backupArgs
	for _, dst := range []any{&a, args} {
		if dst == nil {
			continue
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return nil, cinder.InvalidInput("%s arguments: %v", method, err)
		}
	}
	if a.Backup == nil || a.Backup.ID == "" {
		return nil, cinder.InvalidInput("%s: no backup named", method)
	}
	return m.store.GetBackup(ctx, a.Backup.ID)
}

// posixBackup is b as the posix driver names it, with its parents.
func (m *Manager) posixBackup(ctx context.Context, b *cinder.Backup) (posix.Backup, error) {
	pb := posix.Backup{ID: b.ID, VolumeID: b.VolumeID, Name: b.DisplayName, Description: b.DisplayDescription,
		CreatedAt: b.CreatedAt, Container: b.Container, Prefix: b.ServiceMetadata}
	if b.ParentID != "" {
		parent, err := m.store.GetBackup(ctx, b.ParentID)
		if err != nil {
			return pb, fmt.Errorf("parent of backup %s: %w", b.ID, err)
		}
		pp, err := m.posixBackup(ctx, parent)
		if err != nil {
			return pb, err
		}
		pb.Parent = &pp
	}
	return pb, nil
}

// attach runs use on the path of v's bytes, connected through v's backend
// and disconnected after, whatever happens.
func (m *Manager) attach(ctx context.Context, v *cinder.Volume, use func(path string) error) error {
	connector := map[string]any{"host": m.host}
	info, detach, err := m.connect(ctx, v, nil, connector)
	if err != nil {
		return err
	}
	defer detach(connector)
	path, err := info.DevicePath()
	if err != nil {
		return fmt.Errorf("volume %s: %w", v.ID, err)
	}
	return use(path)
}

// connect connects to v's bytes, or to s's, v's snapshot, when s is not
// nil, through v's backend with connector. It returns the connection's
// info and its disconnect, to call whatever happens with the connector to
// disconnect with (a snapshot is unexported too, as _detach_device); the
// disconnect logs its failure.
func (m *Manager) connect(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot, connector map[string]any) (
	*cinder.ConnectionInfo, func(connector map[string]any), error) {
	what := "volume " + v.ID
	var info *cinder.ConnectionInfo
	var err error
	if s == nil {
		info, err = m.volumes.InitializeConnection(ctx, v, connector)
	} else {
		what = "snapshot " + s.ID
		info, err = m.volumes.InitializeConnectionSnapshot(ctx, v, s, connector)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("attach %s: %w", what, err)
	}
	return info, func(connector map[string]any) {
		ctx := context.WithoutCancel(ctx)
		var err error
		if s == nil {
			err = m.volumes.TerminateConnection(ctx, v, connector)
		} else {
			err = errors.Join(m.volumes.TerminateConnectionSnapshot(ctx, v, s, connector), m.volumes.RemoveExportSnapshot(ctx, v, s))
		}
		if err != nil {
			slog.Error("failed to detach "+what, "err", err)
		}
	}, nil
}

// createBackup (cast: backup) backs up the volume of a creating backup,
// backing-up, or its snapshot_id, backing-up: full, or incremental to its
// parent_id. The backup becomes available, or error with fail_reason; the
// volume gets its previous status back, or the snapshot available. A crash
// midway leaves the backup creating, which Init sets to error;
// posix.Delete later removes whatever files it left.
func (m *Manager) createBackup(ctx context.Context, raw json.RawMessage) (any, error) {
	b, err := m.load(ctx, "create_backup", raw, nil)
	if err != nil {
		return nil, ignoreGone("create_backup", err)
	}
	if b.Status != cinder.BackupCreating {
		slog.Warn("backup to create is no longer creating; leaving it", "backup_id", b.ID, "status", b.Status)
		return nil, nil
	}
	v, err := m.store.GetVolume(ctx, b.VolumeID)
	var s *cinder.Snapshot
	switch {
	case err != nil:
	case b.SnapshotID != "":
		s, err = m.store.GetSnapshot(ctx, b.SnapshotID)
		if err == nil && s.Status != cinder.SnapshotBackingUp {
			err = cinder.Errorf("InvalidSnapshot", 400, "Invalid snapshot: Create backup aborted, expected snapshot status %s but got %s.",
				cinder.SnapshotBackingUp, s.Status)
		}
	case v.Status != cinder.StatusBackingUp:
		err = cinder.InvalidVolume("Create backup aborted, expected volume status %s but got %s.", cinder.StatusBackingUp, v.Status)
	}
	var st posix.Stats
	detach := func(bool) {}
	if err == nil {
		st, detach, err = m.create(ctx, b, v, s)
	}
	detach(m.endCreate(ctx, b, &st, err))
	return nil, nil
}

// create writes backup b of volume v, or of s, v's snapshot, when not nil,
// and returns the disconnect of the volume, to call once b has ended with
// whether it became available (a snapshot is disconnected already). A volume's connector carries the backup
// ({"backup": {"id", "parent_id"}}): a backend that tracks changes (the
// thin driver on reflink, drivers/thin) then exposes a point-in-time clone
// and may report the ranges changed since the parent, which Create reads
// alone; disconnecting with keep true makes the clone the next one's base.
func (m *Manager) create(ctx context.Context, b *cinder.Backup, v *cinder.Volume, s *cinder.Snapshot) (posix.Stats, func(available bool), error) {
	none := func(bool) {}
	sizeGB := v.Size
	if s != nil {
		sizeGB = s.VolumeSize
	}
	size, err := drivers.Bytes(sizeGB)
	if err != nil {
		return posix.Stats{}, none, err
	}
	pb, err := m.posixBackup(ctx, b)
	if err == nil {
		pb.VolumeMeta, err = encodeVolumeMeta(v)
	}
	if err != nil {
		return posix.Stats{}, none, err
	}
	connector := map[string]any{"host": m.host}
	if s == nil {
		connector["backup"] = map[string]any{"id": b.ID, "parent_id": b.ParentID}
	}
	info, disconnect, err := m.connect(ctx, v, s, connector)
	if err != nil {
		return posix.Stats{}, none, err
	}
	detach := func(available bool) {
		if s == nil {
			connector["backup"] = map[string]any{"id": b.ID, "keep": available}
		}
		disconnect(connector)
	}
	path, err := info.DevicePath()
	if err != nil {
		return posix.Stats{}, detach, fmt.Errorf("volume %s: %w", v.ID, err)
	}
	if pb.Parent != nil && s == nil {
		pb.Changed = changedRanges(info, b.ParentID)
	}
	st, err := posix.Create(ctx, m.opts, pb, path, size)
	if s != nil { // a snapshot keeps no base: detached at once, as before its status changes
		detach(false)
		return st, none, err
	}
	return st, detach, err
}

// changedRanges are the ranges info reports changed since backup parent,
// nil when it reports none (a full scan finds them).
func changedRanges(info *cinder.ConnectionInfo, parent string) []extents.Range {
	raw, ok := info.Data["changed_ranges"]
	if !ok || info.Data["changed_since"] != parent {
		return nil
	}
	data, err := json.Marshal(raw)
	var rs []extents.Range
	if err == nil {
		err = json.Unmarshal(data, &rs)
	}
	if err != nil {
		slog.Warn("changed ranges unreadable; reading the whole volume", "err", err)
		return nil
	}
	if rs == nil {
		rs = []extents.Range{} // nothing changed
	}
	return rs
}

// endCreate ends the create of b: available with what st says, or error
// with err's reason; b's snapshot, when backing-up, becomes available, or
// else b's volume, when backing-up, gets its previous status. It reports
// whether b became available.
func (m *Manager) endCreate(ctx context.Context, b *cinder.Backup, st *posix.Stats, err error) bool {
	log := slog.With("backup_id", b.ID, "volume_id", b.VolumeID, "snapshot_id", b.SnapshotID, "host", m.host)
	if b.SnapshotID != "" {
		if _, serr := m.store.UpdateSnapshot(ctx, b.SnapshotID, func(s *cinder.Snapshot) error {
			if s.Status != cinder.SnapshotBackingUp {
				return cinder.Invalid("snapshot %s is %s, not backing-up", s.ID, s.Status)
			}
			s.Status = cinder.SnapshotAvailable
			return nil
		}); serr != nil {
			log.Warn("cannot give the backed-up snapshot its status back", "err", serr)
		}
	} else if _, verr := m.store.UpdateVolume(ctx, b.VolumeID, func(v *cinder.Volume) error {
		if v.Status != cinder.StatusBackingUp {
			return cinder.InvalidVolume("volume %s is %s, not backing-up", v.ID, v.Status)
		}
		v.Status, v.PreviousStatus = v.PreviousStatus, ""
		return nil
	}); verr != nil {
		log.Warn("cannot give the backed-up volume its status back", "err", verr)
	}
	if !m.finish(ctx, b.ID, "create", err, func(b *cinder.Backup) {
		b.ServiceMetadata, b.ObjectCount = st.Prefix, st.Objects
		b.Service, b.Container = cinder.BackupServicePosix, cmp.Or(b.Container, posix.DefaultContainer(b.ID))
	}) {
		return false
	}
	log.Info("created backup", "prefix", st.Prefix, "objects", st.Objects, "read_bytes", st.Read, "stored_bytes", st.Stored)
	return true
}

// finish ends the create or import (what) of backup id, still creating:
// error with err's reason, or, when err is nil, available with fill's
// changes. It reports whether the backup became available.
func (m *Manager) finish(ctx context.Context, id, what string, err error, fill func(b *cinder.Backup)) bool {
	log := slog.With("backup_id", id, "host", m.host)
	if _, uerr := m.store.UpdateBackup(ctx, id, func(b *cinder.Backup) error {
		if b.Status != cinder.BackupCreating {
			return cinder.Invalid("backup %s is %s, no longer creating", b.ID, b.Status)
		}
		if err != nil {
			b.Status, b.FailReason = cinder.BackupError, failReason(err)
			return nil
		}
		fill(b)
		b.Status, b.FailReason = cinder.BackupAvailable, ""
		return nil
	}); uerr != nil {
		log.Warn("backup changed during its "+what, "err", uerr)
		return false
	}
	if err != nil {
		log.Error(what+" of backup failed", "err", err)
		return false
	}
	return true
}

// restoreBackup (cast: backup, volume_id, volume_is_new) writes a restoring
// backup into a volume restoring-backup, sparse when the volume is new and
// its backend reports sparse_copy_volume. The volume becomes available, or
// error_restoring; the backup available again. A crash midway leaves both
// as they were, which Init ends as a failure.
func (m *Manager) restoreBackup(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		VolumeID    string `json:"volume_id"`
		VolumeIsNew bool   `json:"volume_is_new"`
	}
	b, err := m.load(ctx, "restore_backup", raw, &a)
	if err != nil {
		return nil, ignoreGone("restore_backup", err)
	}
	v, err := m.store.GetVolume(ctx, a.VolumeID)
	switch {
	case err != nil:
	case v.Status != cinder.StatusRestoringBackup:
		err = cinder.InvalidVolume("Restore backup aborted, expected volume status %s but got %s.", cinder.StatusRestoringBackup, v.Status)
	case b.Status != cinder.BackupRestoring:
		err = cinder.Errorf("InvalidBackup", 400, "Invalid backup: Restore backup aborted: expected backup status %s but got %s.", cinder.BackupRestoring, b.Status)
	default:
		var meta string
		if meta, err = m.restore(ctx, b, v, a.VolumeIsNew); err == nil {
			m.endRestore(ctx, b, a.VolumeID, meta, nil)
			return nil, nil
		}
	}
	m.endRestore(ctx, b, a.VolumeID, "", err)
	return nil, nil
}

// restore writes b into v and returns the backup's volume_meta.
func (m *Manager) restore(ctx context.Context, b *cinder.Backup, v *cinder.Volume, isNew bool) (string, error) {
	size, err := drivers.Bytes(b.Size)
	if err != nil {
		return "", err
	}
	pb, err := m.posixBackup(ctx, b)
	if err != nil {
		return "", err
	}
	sparse := isNew && m.sparse(ctx, v.Host)
	var st posix.Stats
	err = m.attach(ctx, v, func(path string) error {
		st, err = posix.Restore(ctx, m.opts, pb, path, size, sparse)
		return err
	})
	if err == nil {
		slog.Info("restored backup", "backup_id", b.ID, "volume_id", v.ID, "sparse", sparse,
			"objects", st.Objects, "written_bytes", st.Written, "zero_bytes", st.ZeroBytes)
	}
	return st.VolumeMeta, err
}

// sparse reports whether the backend of host says its new volumes read as
// zeros (sparse_copy_volume true); any doubt means no.
func (m *Manager) sparse(ctx context.Context, host string) bool {
	caps, err := m.volumes.GetCapabilities(ctx, host, false)
	if err != nil {
		slog.Warn("no answer to get_capabilities; restoring every byte", "host", host, "err", err)
		return false
	}
	return caps["sparse_copy_volume"] == true
}

// endRestore ends the restore of b into volume volumeID: the volume, when
// restoring-backup, becomes available with the backup's volume_meta
// (metadata, and the name of a volume made for the restore) and
// src_backup_id, or error_restoring after err; b, when restoring, available.
func (m *Manager) endRestore(ctx context.Context, b *cinder.Backup, volumeID, meta string, err error) {
	log := slog.With("backup_id", b.ID, "volume_id", volumeID, "host", m.host)
	var apply func(v *cinder.Volume)
	if err == nil {
		apply, err = applyVolumeMeta(meta)
	}
	status := cinder.StatusAvailable
	if err != nil {
		log.Error("failed to restore backup", "err", err)
		status = cinder.StatusErrorRestoring
	}
	if _, verr := m.store.UpdateVolume(ctx, volumeID, func(v *cinder.Volume) error {
		if v.Status != cinder.StatusRestoringBackup {
			return cinder.InvalidVolume("volume %s is %s, not restoring-backup", v.ID, v.Status)
		}
		v.Status = status
		if apply != nil {
			apply(v)
			if b.VolumeID != v.ID {
				v.Metadata = maps.Clone(v.Metadata)
				if v.Metadata == nil {
					v.Metadata = map[string]string{}
				}
				v.Metadata["src_backup_id"] = b.ID
			}
		}
		return nil
	}); verr != nil {
		log.Warn("cannot end the restored volume's status", "err", verr)
	}
	if _, berr := m.store.UpdateBackup(ctx, b.ID, func(b *cinder.Backup) error {
		if b.Status != cinder.BackupRestoring {
			return cinder.Invalid("backup %s is %s, no longer restoring", b.ID, b.Status)
		}
		b.Status = cinder.BackupAvailable
		return nil
	}); berr != nil {
		log.Warn("backup changed while being restored", "err", berr)
	}
}

// deleteBackup (cast: backup) removes a deleting backup's files, then its
// row; a failure leaves it error with fail_reason. A crash midway leaves
// it deleting, which Init deletes again.
func (m *Manager) deleteBackup(ctx context.Context, raw json.RawMessage) (any, error) {
	b, err := m.load(ctx, "delete_backup", raw, nil)
	if err != nil {
		return nil, ignoreGone("delete_backup", err)
	}
	if b.Status != cinder.BackupDeleting {
		slog.Warn("backup to delete is no longer deleting; leaving it", "backup_id", b.ID, "status", b.Status)
		return nil, nil
	}
	m.delete(ctx, b)
	return nil, nil
}

// delete removes backup b's files and row.
func (m *Manager) delete(ctx context.Context, b *cinder.Backup) {
	log := slog.With("backup_id", b.ID, "host", m.host)
	pb, err := m.posixBackup(ctx, b)
	if cinder.IsNotFound(err) {
		err = nil // the parent is only needed to restore
	}
	if err == nil {
		err = posix.Delete(ctx, m.opts, pb)
	}
	if err == nil {
		err = m.store.DestroyBackup(ctx, b.ID)
	}
	if err == nil {
		log.Info("deleted backup")
		return
	}
	log.Error("failed to delete backup", "err", err)
	if _, uerr := m.store.UpdateBackup(ctx, b.ID, func(b *cinder.Backup) error {
		b.Status, b.FailReason = cinder.BackupError, failReason(err)
		return nil
	}); uerr != nil {
		log.Warn("cannot set the backup to error", "err", uerr)
	}
}

// exportRecord (call: backup) answers the record of an available backup.
func (m *Manager) exportRecord(ctx context.Context, raw json.RawMessage) (any, error) {
	b, err := m.load(ctx, "export_record", raw, nil)
	if err != nil {
		return nil, err
	}
	if b.Status != cinder.BackupAvailable {
		return nil, cinder.Errorf("InvalidBackup", 400, "Invalid backup: Backup status must be available and not %s.", b.Status)
	}
	return cinder.ExportBackup(b)
}

// importRecord (cast: backup, backup_service, backup_url, backup_hosts)
// fills a creating backup row from the record, in this service's host and
// zone, and makes it available once its metadata is found under
// backup_posix_path, else error.
func (m *Manager) importRecord(ctx context.Context, raw json.RawMessage) (any, error) {
	var r cinder.BackupRecord
	b, err := m.load(ctx, "import_record", raw, &r)
	if err != nil {
		return nil, ignoreGone("import_record", err)
	}
	rec, err := r.Backup()
	if err == nil && rec.ID != b.ID {
		err = cinder.InvalidInput("record of backup %s imported as %s", rec.ID, b.ID)
	}
	if err == nil {
		rec.Container = cmp.Or(rec.Container, posix.DefaultContainer(rec.ID))
		_, err = os.Stat(filepath.Join(m.opts.Path, rec.Container, rec.ServiceMetadata+"_metadata"))
	}
	if m.finish(ctx, b.ID, "import", err, func(b *cinder.Backup) {
		// The row keeps its id and owner; the rest is the record's.
		id, project, user := b.ID, b.ProjectID, b.UserID
		*b = *rec
		b.ID, b.ProjectID, b.UserID, b.Host, b.AvailabilityZone, b.RestoreVolumeID = id, project, user, m.host, m.az, ""
		b.Deleted, b.DeletedAt, b.UpdatedAt = false, nil, nil
	}) {
		slog.Info("imported backup", "backup_id", b.ID, "host", m.host)
	}
	return nil, nil
}

// maxFailReason is the length of the fail_reason column, in characters.
const maxFailReason = 255

// failReason is err's text as fail_reason keeps it. Cinder cuts a longer
// reason to the column's length; a path makes ours long, so the middle
// goes rather than the end, which names the cause (no space left on device).
func failReason(err error) string {
	r := []rune(err.Error())
	if len(r) <= maxFailReason {
		return string(r)
	}
	const cut = " … "
	head := (maxFailReason - len([]rune(cut))) / 3
	tail := maxFailReason - len([]rune(cut)) - head
	return string(r[:head]) + cut + string(r[len(r)-tail:])
}

// ignoreGone logs and drops the error of a request whose backup no longer
// exists: there is nothing left to do. Other errors are returned.
func ignoreGone(method string, err error) error {
	if cinder.IsNotFound(err) {
		slog.Warn("backup of a request no longer exists", "method", method, "err", err)
		return nil
	}
	return fmt.Errorf("%s: %w", method, err)
}
