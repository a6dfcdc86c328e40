// Package volume holds Cinder's volume rules, as cinder/volume/api.py: which
// statuses allow an action, the conditional update that claims the volume,
// the cast to cinder-scheduler or a backend, and the statuses given back
// when that cast cannot be sent. It knows nothing of HTTP: cinder-api
// decodes a request, calls here and writes the view.
package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/rpc"
)

// Scheduler is what the rules need of cinder-scheduler (*scheduler.Client).
type Scheduler interface {
	CreateVolume(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec) error
	MigrateVolume(ctx context.Context, v *cinder.Volume, backend string, forceCopy bool, spec cinder.RequestSpec) error
	Retype(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec) error
	CreateGroup(ctx context.Context, g *cinder.Group) error
	ValidateHostCapacity(ctx context.Context, backend, groupID string, size int) (bool, error)
	GetPools(ctx context.Context) ([]cinder.Pool, error)
	WorkCleanup(ctx context.Context, req cinder.CleanupRequest) (cleaning, unavailable []*cinder.Service, err error)
	ManageExisting(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec, ref map[string]any) error
	ManageExistingSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot, ref map[string]any) error
}

// Backends is what the rules need of the cinder-volume managers (*manager.Client).
type Backends interface {
	DeleteVolume(ctx context.Context, v *cinder.Volume, cascade bool) error
	ExtendVolume(ctx context.Context, v *cinder.Volume, newSize int) error
	InitializeConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) (*cinder.ConnectionInfo, error)
	TerminateConnection(ctx context.Context, v *cinder.Volume, connector map[string]any) error
	GetCapabilities(ctx context.Context, host string, discover bool) (map[string]any, error)
	MigrateVolumeCompletion(ctx context.Context, v, newVolume *cinder.Volume, hasError bool) (string, error)
	CreateSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error
	DeleteSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error
	RevertToSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error
	UnmanageVolume(ctx context.Context, v *cinder.Volume) error
	UnmanageSnapshot(ctx context.Context, v *cinder.Volume, s *cinder.Snapshot) error
	GetManageable(ctx context.Context, host string, snapshots bool, marker string, limit, offset int, sortKeys, sortDirs []string) ([]map[string]any, error)
	DeleteGroup(ctx context.Context, g *cinder.Group) error
	CreateGroupSnapshot(ctx context.Context, gs *cinder.GroupSnapshot) error
	DeleteGroupSnapshot(ctx context.Context, gs *cinder.GroupSnapshot) error
	CreateGroupFromSrc(ctx context.Context, g *cinder.Group, gs *cinder.GroupSnapshot, source *cinder.Group) error
	Attacher
	AcceptTransfer(ctx context.Context, v *cinder.Volume, user, project string, noSnapshots bool) error
	FreezeHost(ctx context.Context, host string) error
	ThawHost(ctx context.Context, host string) error
	ExtendVolumeCompletion(ctx context.Context, v *cinder.Volume, newSize int, hasError bool) error
}

// API applies the volume rules over the database and the RPC clients.
// Every method takes the caller's cinder.RequestContext from ctx. Once a
// method has written a change it carries on even if ctx is canceled, so
// that a client going away never leaves a status half-changed.
type API struct {
	cfg      *conf.Config
	store    *db.DB
	sched    Scheduler
	backends Backends
	backups  Backups
}

// New returns the volume rules over store, sched, backends and backups.
func New(cfg *conf.Config, store *db.DB, sched Scheduler, backends Backends, backups Backups) *API {
	return &API{cfg: cfg, store: store, sched: sched, backends: backends, backups: backups}
}

// Statuses from which a volume may be deleted without force, and the
// migration statuses that allow deleting, migrating or retyping it.
var (
	deletableStatuses  = []string{cinder.StatusAvailable, cinder.StatusError, "error_restoring", cinder.StatusErrorExtend, "error_managing"}
	deletableMigration = []string{"", cinder.MigrationDeleting, cinder.MigrationError, cinder.MigrationSuccess}
)

// Get returns volume id if the caller may see it: its own project's, or
// any for an admin; otherwise VolumeNotFound, as Cinder.
func (a *API) Get(ctx context.Context, id string) (*cinder.Volume, error) {
	v, err := a.store.GetVolume(ctx, id)
	if err != nil {
		return nil, err
	}
	if rc := cinder.FromContext(ctx); !rc.IsAdmin && v.ProjectID != rc.ProjectID {
		return nil, cinder.VolumeNotFound(id)
	}
	return v, nil
}

// claim is Cinder's conditional_update of volume id: check, which returns
// nil when v may go on, then change. It returns v as it was before the
// change and as it is after.
func (a *API) claim(ctx context.Context, id string, check func(v *cinder.Volume) error, change func(v *cinder.Volume)) (before, after *cinder.Volume, err error) {
	after, err = a.store.UpdateVolume(ctx, id, func(v *cinder.Volume) error {
		if err := check(v); err != nil {
			return err
		}
		b := *v
		before = &b
		change(v)
		return nil
	})
	return before, after, err
}

// rollback gives a volume back the status, previous_status and
// migration_status of before, as they were until a request whose RPC could
// not be sent wrote after, unless something changed them since.
func (a *API) rollback(ctx context.Context, before, after *cinder.Volume) {
	_, err := a.store.UpdateVolume(ctx, after.ID, func(v *cinder.Volume) error {
		if v.Status != after.Status || v.PreviousStatus != after.PreviousStatus || v.MigrationStatus != after.MigrationStatus {
			return cinder.InvalidVolume("Volume %s changed meanwhile: status %s, migration status %q.", v.ID, v.Status, v.MigrationStatus)
		}
		v.Status, v.PreviousStatus, v.MigrationStatus = before.Status, before.PreviousStatus, before.MigrationStatus
		return nil
	})
	if err != nil {
		logFailure(ctx, "roll back status of volume "+after.ID+" to "+before.Status, err)
	}
}

// castOrRollback runs cast, an RPC that acts on a volume claimed from
// before to after; when it cannot be sent the volume gets its statuses
// back and the error says what could not be asked.
func (a *API) castOrRollback(ctx context.Context, before, after *cinder.Volume, cast func() error, format string, args ...any) error {
	if err := cast(); err != nil {
		a.rollback(ctx, before, after)
		return unreachable(err, format, args...)
	}
	return nil
}

// unreachable says that an RPC could not be sent: a Cinder exception,
// timeout or remote failure stays as it is; any other error is
// ServiceUnavailable (503) naming what, and saying so when the message bus
// is unreachable.
func unreachable(err error, format string, args ...any) error {
	var ce *cinder.Error
	var timeout *rpc.TimeoutError
	var remote *rpc.RemoteError
	if errors.As(err, &ce) || errors.As(err, &timeout) || errors.As(err, &remote) {
		return err
	}
	what := fmt.Sprintf(format, args...)
	slog.Error("volume: RPC failed", "what", what, "err", err)
	if errors.Is(err, rpc.ErrUnreachable) {
		return cinder.Errorf("ServiceUnavailable", 503, "%s: the message bus is unreachable. Try again later.", what)
	}
	return cinder.Errorf("ServiceUnavailable", 503, "%s: %v", what, err)
}

// backendFailure reports whether err is the backend's own failure: a
// Cinder exception of code 500 or a remote error.
func backendFailure(err error) bool {
	var ce *cinder.Error
	var remote *rpc.RemoteError
	return errors.As(err, &ce) && ce.Code == 500 || errors.As(err, &remote)
}

// logFailure logs a failure the caller's answer does not detail.
func logFailure(ctx context.Context, what string, err error) {
	slog.Error("volume: "+what+" failed", "request_id", cinder.FromContext(ctx).RequestID, "err", err)
}

// migrating reports whether a migration holds v: as its source between
// starting and completing, or as a migration's destination.
func migrating(v *cinder.Volume) bool {
	return slices.Contains([]string{cinder.MigrationStarting, cinder.MigrationMigrating, cinder.MigrationCompleting}, v.MigrationStatus) ||
		cinder.IsMigrationTarget(v.MigrationStatus)
}
