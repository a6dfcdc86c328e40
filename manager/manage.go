package manager

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/drivers"
	"github.com/cinder-go/cinder/volume"
)

// manageExisting (cast: volume, ref) adopts the storage ref names as a
// volume still managing, as the manage_existing flow: the driver's size
// (GiB, rounded up) is held in the project's gigabytes quota, the driver
// takes the storage, and the volume becomes available with that size; any
// failure leaves it error_managing and the storage as it was.
func (m *Manager) manageExisting(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		volumeArgs
		Ref map[string]any `json:"ref"`
	}
	if err := decode("manage_existing", raw, &a); err != nil {
		return nil, err
	}
	v, err := m.load(ctx, a.volumeArgs)
	if cinder.IsNotFound(err) {
		slog.Warn("volume to manage no longer exists", "volume_id", a.id(), "host", m.host)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("manage_existing: %w", err)
	}
	if v.Status != volume.StatusManaging {
		slog.Warn("volume to manage is no longer managing; leaving it", "volume_id", v.ID, "host", m.host, "status", v.Status)
		return nil, nil
	}
	size, err := m.adoptVolume(ctx, v, a.Ref)
	if err != nil {
		slog.Error("failed to manage existing volume", "volume_id", v.ID, "host", m.host, "ref", a.Ref, "err", err)
		if err := m.store.EndReservations(ctx, v.ID); err != nil {
			slog.Warn("could not give back the quota held for a volume that failed to manage", "volume_id", v.ID, "err", err)
		}
		if _, err := m.transition(ctx, v.ID, volume.StatusManaging, volume.StatusErrorManaging, nil); err != nil {
			slog.Warn("could not set volume to error_managing", "volume_id", v.ID, "host", m.host, "err", err)
		}
		return nil, nil
	}
	if _, err := m.transition(ctx, v.ID, volume.StatusManaging, cinder.StatusAvailable, func(v *cinder.Volume) { v.Size = size }); err != nil {
		return nil, fmt.Errorf("record managed volume %s: %w", v.ID, err)
	}
	slog.Info("managed existing volume", "volume_id", v.ID, "host", m.host, "ref", a.Ref, "size_gb", size)
	return nil, nil
}

// adoptVolume checks that ref names storage no volume or snapshot of the
// backend owns, holds its size in v's quota and has the driver take it.
func (m *Manager) adoptVolume(ctx context.Context, v *cinder.Volume, ref map[string]any) (int, error) {
	size, err := m.manageableSize(ctx, ref)
	if err != nil {
		return 0, err
	}
	if err := m.quotas.ReserveManaged(ctx, v, size); err != nil {
		return 0, err
	}
	return size, m.drv.ManageExisting(ctx, v, ref)
}

// manageableSize is the size in GiB of the storage ref names, refusing
// storage a volume or snapshot of the backend already owns.
func (m *Manager) manageableSize(ctx context.Context, ref map[string]any) (int, error) {
	name, err := drivers.SourceName(ref)
	if err != nil {
		return 0, err
	}
	known, err := m.known(ctx)
	if err != nil {
		return 0, err
	}
	if known[drivers.ManagedID(name)] {
		return 0, drivers.ManageExistingAlreadyManaged(name)
	}
	return m.drv.ManageExistingGetSize(ctx, ref)
}

// known maps the data ids of the backend's volumes and the ids of their
// snapshots: the storage Cinder owns there.
func (m *Manager) known(ctx context.Context) (map[string]bool, error) {
	vols, err := m.store.ListVolumes(ctx, db.VolumeFilter{Host: m.host})
	if err != nil {
		return nil, fmt.Errorf("list volumes of backend %s: %w", m.host, err)
	}
	snaps, err := m.store.ListSnapshots(ctx, db.SnapshotFilter{Host: m.host})
	if err != nil {
		return nil, fmt.Errorf("list snapshots of backend %s: %w", m.host, err)
	}
	known := make(map[string]bool, len(vols)+len(snaps))
	for _, v := range vols {
		known[v.DataID()] = true
	}
	for _, s := range snaps {
		known[s.ID] = true
	}
	return known, nil
}

// manageExistingSnapshot (cast: snapshot, ref) adopts the storage ref names
// as a snapshot still creating: it becomes available at 100% with the
// storage's size, or error, the storage as it was.
func (m *Manager) manageExistingSnapshot(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		Ref map[string]any `json:"ref"`
	}
	if err := decode("manage_existing_snapshot", raw, &a); err != nil {
		return nil, err
	}
	s, _, err := m.loadSnapshot(ctx, "manage_existing_snapshot", raw)
	if cinder.IsNotFound(err) {
		slog.Warn("snapshot to manage no longer exists", "host", m.host, "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("manage_existing_snapshot: %w", err)
	}
	if s.Status != cinder.SnapshotCreating {
		slog.Warn("snapshot to manage is no longer creating; leaving it", "snapshot_id", s.ID, "host", m.host, "status", s.Status)
		return nil, nil
	}
	size, err := m.manageableSize(ctx, a.Ref)
	if err == nil {
		err = m.drv.ManageExistingSnapshot(ctx, s, a.Ref)
	}
	_, uerr := m.store.UpdateSnapshot(ctx, s.ID, func(s *cinder.Snapshot) error {
		if s.Status != cinder.SnapshotCreating {
			return cinder.Errorf("InvalidSnapshot", 400, "snapshot %s is %s, not creating", s.ID, s.Status)
		}
		if err != nil {
			s.Status = cinder.SnapshotError
			return nil
		}
		s.Status, s.Progress, s.VolumeSize = cinder.SnapshotAvailable, "100%", size
		return nil
	})
	if err != nil {
		slog.Error("failed to manage existing snapshot", "snapshot_id", s.ID, "host", m.host, "ref", a.Ref, "err", err)
	} else {
		slog.Info("managed existing snapshot", "snapshot_id", s.ID, "volume_id", s.VolumeID, "host", m.host, "ref", a.Ref, "size_gb", size)
	}
	if uerr != nil {
		return nil, fmt.Errorf("record managed snapshot %s: %w", s.ID, uerr)
	}
	return nil, nil
}

// manageableArgs are get_manageable_volumes' and get_manageable_snapshots'
// arguments. marker is a reference, or a JSON string of one, as Cinder's
// paginate_entries_list takes it; want_objects (3.10) is accepted and the
// answer stays a list of dicts.
type manageableArgs struct {
	Marker   json.RawMessage `json:"marker"`
	Limit    *int            `json:"limit"`
	Offset   int             `json:"offset"`
	SortKeys []string        `json:"sort_keys"`
	SortDirs []string        `json:"sort_dirs"`
}

// getManageableVolumes (call) lists one page of the storage volumes could take.
func (m *Manager) getManageableVolumes(ctx context.Context, raw json.RawMessage) (any, error) {
	return m.manageable(ctx, "get_manageable_volumes", false, raw)
}

// getManageableSnapshots (call) lists one page of the storage snapshots could take.
func (m *Manager) getManageableSnapshots(ctx context.Context, raw json.RawMessage) (any, error) {
	return m.manageable(ctx, "get_manageable_snapshots", true, raw)
}

// manageable lists the driver's manageable storage, sorted and paged as
// Cinder's paginate_entries_list.
func (m *Manager) manageable(ctx context.Context, method string, snapshots bool, raw json.RawMessage) (any, error) {
	var a manageableArgs
	if err := decode(method, raw, &a); err != nil {
		return nil, err
	}
	known, err := m.known(ctx)
	if err != nil {
		return nil, err
	}
	list, err := m.drv.Manageable(ctx, snapshots, known)
	if err != nil {
		return nil, backendError(err, "%s of backend %s", method, m.host)
	}
	return paginate(list, a)
}

// paginate sorts list by a's keys and directions (reference by its
// source-name, size) and returns the page after a's marker: offset entries
// skipped, at most limit kept.
func paginate(list []drivers.Manageable, a manageableArgs) ([]drivers.Manageable, error) {
	slices.SortStableFunc(list, func(x, y drivers.Manageable) int {
		for i, key := range a.SortKeys {
			c := 0
			switch key {
			case "reference":
				c = cmp.Compare(fmt.Sprint(x.Reference["source-name"]), fmt.Sprint(y.Reference["source-name"]))
			case "size":
				c = cmp.Compare(x.Size, y.Size)
			}
			if i < len(a.SortDirs) && a.SortDirs[i] == "desc" {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	start := 0
	if marker, err := markerOf(a.Marker); err != nil {
		return nil, err
	} else if marker != nil {
		i := slices.IndexFunc(list, func(e drivers.Manageable) bool { return maps.Equal(e.Reference, marker) })
		if i < 0 {
			return nil, cinder.InvalidInput("marker not found: %s", a.Marker)
		}
		start = i + 1
	}
	start = min(start+max(a.Offset, 0), len(list))
	end := len(list)
	if a.Limit != nil {
		end = min(start+max(*a.Limit, 0), end)
	}
	return list[start:end], nil
}

// markerOf reads a marker: null, a reference, or a string holding one as JSON.
func markerOf(raw json.RawMessage) (map[string]any, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, nil
		}
		raw = json.RawMessage(s)
	}
	var ref map[string]any
	if len(raw) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		return nil, cinder.InvalidInput("marker %s can not be analysed, please use json like format", raw)
	}
	return ref, nil
}
