package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/scheduler"
)

// Paging defaults, as Cinder's osapi_max_limit.
const maxLimit = 1000

// Statuses from which a volume may be deleted without force, and the
// migration statuses that allow deleting (volume/api.py).
var (
	deletableStatuses  = []string{cinder.StatusAvailable, cinder.StatusError, "error_restoring", cinder.StatusErrorExtend, "error_managing"}
	deletableMigration = []string{"", cinder.MigrationDeleting, cinder.MigrationError, cinder.MigrationSuccess}
)

// sortKeys are the keys volumes sort on, by their API name.
var sortKeys = map[string]string{
	"created_at": "created_at", "id": "id", "size": "size", "status": "status",
	"name": "display_name", "display_name": "display_name", "updated_at": "updated_at",
}

// createFields are the members of a volume create from 3.53 on (earlier
// microversions ignore others).
var createFields = []string{"name", "description", "display_name", "display_description", "volume_type",
	"metadata", "snapshot_id", "source_volid", "consistencygroup_id", "size", "availability_zone",
	"multiattach", "image_id", "imageRef", "group_id", "backup_id"}

// unsupportedSources are the create members naming a source this Cinder
// cannot create volumes from.
var unsupportedSources = map[string]string{
	"snapshot_id": "a snapshot", "source_volid": "another volume", "image_id": "an image",
	"imageRef": "an image", "backup_id": "a backup", "consistencygroup_id": "a consistency group",
	"group_id": "a group",
}

// getVolume returns volume id if the caller may see it: its own project's,
// or any for an admin; otherwise VolumeNotFound, as Cinder.
func (s *server) getVolume(r *http.Request, id string) (*cinder.Volume, error) {
	v, err := s.store.GetVolume(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if rc := cinder.FromContext(r.Context()); !rc.IsAdmin && v.ProjectID != rc.ProjectID {
		return nil, cinder.VolumeNotFound(id)
	}
	return v, nil
}

// typeNames looks up the volume types of volumes being shown, once each.
type typeNames struct {
	store *db.DB
	seen  map[string]*cinder.VolumeType
}

// of returns type id, or nil when the volume has none or it is gone.
func (tn *typeNames) of(ctx context.Context, id string) (*cinder.VolumeType, error) {
	if id == "" {
		return nil, nil
	}
	if t, ok := tn.seen[id]; ok {
		return t, nil
	}
	t, err := tn.store.GetVolumeType(ctx, id)
	if err != nil && !cinder.IsNotFound(err) {
		return nil, err
	}
	if tn.seen == nil {
		tn.seen = map[string]*cinder.VolumeType{}
	}
	tn.seen[id] = t
	return t, nil
}

// detail is v's detailed view; adminAttrs adds the admin extension attributes.
func (s *server) detail(r *http.Request, v *cinder.Volume, adminAttrs bool) (volumeView, error) {
	tn := &typeNames{store: s.store}
	t, err := tn.of(r.Context(), v.VolumeTypeID)
	if err != nil {
		return volumeView{}, err
	}
	return volumeDetail(r, v, t, adminAttrs), nil
}

func (s *server) listVolumes(r *http.Request) (reply, error)       { return s.volumeList(r, false) }
func (s *server) listVolumesDetail(r *http.Request) (reply, error) { return s.volumeList(r, true) }

// volumeList answers GET /volumes and /volumes/detail: paged by limit and
// marker, sorted, filtered by name and status (and all_tenants, host for
// admins), with the total count from 3.45 when with_count is set.
func (s *server) volumeList(r *http.Request, detailed bool) (reply, error) {
	ctx := r.Context()
	f, limit, err := volumeFilter(r)
	if err != nil {
		return reply{}, err
	}
	withCount := false
	if ver(r).atLeast(mvCount) {
		if withCount, err = boolParam(r, "with_count", false); err != nil {
			return reply{}, err
		}
	}
	vols := []*cinder.Volume{}
	if limit > 0 {
		f.Limit = limit
		if vols, err = s.store.ListVolumes(ctx, f); err != nil {
			return reply{}, err
		}
	}
	count := len(vols)
	if withCount {
		if count, err = s.store.CountVolumes(ctx, f); err != nil {
			return reply{}, err
		}
	}
	var items any
	if detailed {
		if items, err = s.details(r, vols); err != nil {
			return reply{}, err
		}
	} else {
		summaries := make([]object, len(vols))
		for i, v := range vols {
			summaries[i] = volumeSummary(r, v)
		}
		items = summaries
	}
	out := object{{"volumes", items}}
	collection := "volumes"
	if detailed {
		collection = "volumes/detail"
	}
	if count == 0 {
		count = len(vols)
	}
	// As Cinder's _get_collection_links: a next link when a full page came.
	if len(vols) > 0 && limit <= count {
		out = append(out, member{"volumes_links", nextLink(r, collection, vols[len(vols)-1].ID)})
	}
	if withCount {
		out = append(out, member{"count", count})
	}
	return reply{http.StatusOK, out}, nil
}

// details are the detailed views of vols, with admin attributes: one scope
// for the request, each volume type read once.
func (s *server) details(r *http.Request, vols []*cinder.Volume) ([]volumeView, error) {
	scope := scopeOf(r)
	tn := &typeNames{store: s.store}
	views := make([]volumeView, len(vols))
	for i, v := range vols {
		t, err := tn.of(r.Context(), v.VolumeTypeID)
		if err != nil {
			return nil, err
		}
		views[i] = volumeView{scope: &scope, v: v, t: t, adminAttrs: true}
	}
	return views, nil
}

// volumeFilter reads the list parameters of r; limit is the page size.
func volumeFilter(r *http.Request) (db.VolumeFilter, int, error) {
	q := r.URL.Query()
	rc := cinder.FromContext(r.Context())
	f := db.VolumeFilter{ProjectID: rc.ProjectID, HideTargets: !rc.IsAdmin, SortKey: "created_at", SortDescending: true}
	limit := maxLimit
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil {
			return f, 0, newFault(http.StatusBadRequest, "limit param must be an integer")
		}
		if n < 0 {
			return f, 0, newFault(http.StatusBadRequest, "limit param must be positive")
		}
		limit = min(n, maxLimit)
	}
	if o := q.Get("offset"); o != "" && o != "0" {
		return f, 0, cinder.InvalidInput("offset is not supported; page with marker.")
	}
	f.Marker = q.Get("marker")
	if err := sortParams(q.Get("sort"), q.Get("sort_key"), q.Get("sort_dir"), &f); err != nil {
		return f, 0, err
	}
	if rc.IsAdmin {
		all, err := boolParam(r, "all_tenants", false)
		if err != nil {
			return f, 0, err
		}
		if all {
			f.ProjectID = ""
		}
		if h := q.Get("host"); h != "" {
			f.Host = cinder.ExtractHost(h, cinder.LevelBackend)
		}
	}
	f.Name = q.Get("name")
	if st := q.Get("status"); st != "" {
		f.Statuses = []string{st}
	}
	return f, limit, nil
}

// sortParams applies sort=key[:dir] or the older sort_key and sort_dir to f;
// one key is supported.
func sortParams(sortParam, key, dir string, f *db.VolumeFilter) error {
	if sortParam != "" {
		if key != "" || dir != "" {
			return newFault(http.StatusBadRequest, "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.")
		}
		key, dir, _ = strings.Cut(sortParam, ":")
	}
	key, dir = strings.TrimSpace(key), strings.ToLower(strings.TrimSpace(dir))
	if strings.Contains(key, ",") || strings.Contains(dir, ",") {
		return cinder.InvalidInput("sorting on more than one key is not supported.")
	}
	if key != "" {
		col, ok := sortKeys[key]
		if !ok {
			return cinder.InvalidInput("Invalid sort key %s.", key)
		}
		f.SortKey = col
	}
	switch dir {
	case "", "desc":
		f.SortDescending = true
	case "asc":
		f.SortDescending = false
	default:
		return cinder.InvalidInput("Unknown sort direction, must be 'desc' or 'asc'.")
	}
	return nil
}

// showVolume answers GET /volumes/{id}.
func (s *server) showVolume(r *http.Request) (reply, error) {
	v, err := s.getVolume(r, mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	o, err := s.detail(r, v, true)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"volume", o}}}, nil
}

// volumeRequest is a validated volume create.
type volumeRequest struct {
	name, description, volumeType, zone string
	size                                int
	metadata                            map[string]string
}

// parseCreate validates a volume create body as Cinder's schemas for the
// request's microversion.
func parseCreate(r *http.Request) (*volumeRequest, error) {
	body, err := readObject(r, "volume")
	if err != nil {
		return nil, err
	}
	if err := body.only("", "volume", "OS-SCH-HNT:scheduler_hints"); err != nil {
		return nil, err
	}
	if hints, ok := body["OS-SCH-HNT:scheduler_hints"]; ok && kind(hints) != "object" && kind(hints) != "null" {
		return nil, invalidField("OS-SCH-HNT:scheduler_hints", hints, "%s is not of type 'object', 'null'", pyRepr(hints))
	}
	raw, ok := body["volume"]
	if !ok {
		return nil, missingElement("volume")
	}
	vol, err := objectOf("volume", raw)
	if err != nil {
		return nil, err
	}
	if ver(r).atLeast(mvSchemaChanges) {
		if err := vol.only("volume", createFields...); err != nil {
			return nil, err
		}
	}
	req := &volumeRequest{}
	// "name" wins over "display_name", as Cinder renames it over.
	for _, k := range []string{"display_name", "name"} {
		if raw, ok := vol[k]; ok {
			if req.name, err = nameOf(k, raw); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range []string{"display_description", "description"} {
		if raw, ok := vol[k]; ok {
			if req.description, err = nameOf(k, raw); err != nil {
				return nil, err
			}
		}
	}
	if raw, ok := vol["volume_type"]; ok {
		if req.volumeType, err = stringOf("volume_type", raw, true, maxNameLen); err != nil {
			return nil, err
		}
	}
	if vol.present("metadata") {
		if req.metadata, err = specsOf("metadata", vol["metadata"], specKey, false); err != nil {
			return nil, err
		}
	}
	if raw, ok := vol["availability_zone"]; ok {
		if req.zone, err = stringOf("availability_zone", raw, true, maxNameLen); err != nil {
			return nil, err
		}
	}
	if raw, ok := vol["multiattach"]; ok && kind(raw) != "null" {
		multi, err := boolOf("multiattach", raw)
		if err != nil {
			return nil, err
		}
		if multi {
			return nil, newFault(http.StatusBadRequest, "multiattach parameter has been removed. The default behavior is to use multiattach enabled volume types. Contact your administrator to create a multiattach enabled volume type and use it to create multiattach volumes.")
		}
	}
	for _, k := range createFields {
		what, ok := unsupportedSources[k]
		if !ok || !vol.present(k) {
			continue
		}
		if s, err := stringOf(k, vol[k], true, maxNameLen); err != nil {
			return nil, err
		} else if s != "" {
			return nil, cinder.InvalidInput("creating a volume from %s (%s) is not supported.", what, k)
		}
	}
	if !vol.present("size") {
		return nil, cinder.InvalidInput("Volume size 'None' must be an integer and greater than 0")
	}
	if req.size, err = sizeOf("size", vol["size"]); err != nil {
		return nil, err
	}
	return req, nil
}

// createVolume answers POST /volumes: the volume row is written as
// creating, then cinder-scheduler is asked to place it. When that cast
// cannot be sent the row is destroyed, which gives its quota back, as
// Cinder's create flow reverts, and the answer is 503.
func (s *server) createVolume(r *http.Request) (reply, error) {
	req, err := parseCreate(r)
	if err != nil {
		return reply{}, err
	}
	ctx := context.WithoutCancel(r.Context())
	rc := cinder.FromContext(ctx)
	t, err := s.resolveType(ctx, req.volumeType)
	if err != nil {
		return reply{}, err
	}
	zone, err := s.resolveZone(ctx, req.zone)
	if err != nil {
		return reply{}, err
	}
	if err := s.checkQuota(ctx, rc.ProjectID, req.size); err != nil {
		return reply{}, err
	}
	v := &cinder.Volume{
		UserID:             rc.UserID,
		ProjectID:          rc.ProjectID,
		Size:               req.size,
		AvailabilityZone:   zone,
		Status:             cinder.StatusCreating,
		AttachStatus:       "detached",
		DisplayName:        req.name,
		DisplayDescription: req.description,
		VolumeTypeID:       t.ID,
		Metadata:           req.metadata,
		Multiattach:        multiattachType(t),
		UseQuota:           true,
	}
	if err := s.store.CreateVolume(ctx, v); err != nil {
		return reply{}, err
	}
	spec := scheduler.RequestSpec{VolumeID: v.ID, Size: v.Size, VolumeType: t, AvailabilityZone: zone}
	if err := s.sched.CreateVolume(ctx, v, spec); err != nil {
		if derr := s.store.DestroyVolume(ctx, v.ID); derr != nil {
			logFailure(ctx, "destroy volume "+v.ID+" after its create cast failed", derr)
		}
		return reply{}, unreachable(err, "Could not ask cinder-scheduler to create volume %s", v.ID)
	}
	return reply{http.StatusAccepted, object{{"volume", volumeDetail(r, v, t, false)}}}, nil
}

// multiattachType reports whether volumes of type t are multiattach.
func multiattachType(t *cinder.VolumeType) bool { return t.ExtraSpecs["multiattach"] == "<is> True" }

// resolveType finds the type a create names, by id or name, or the
// default_volume_type when none.
func (s *server) resolveType(ctx context.Context, ref string) (*cinder.VolumeType, error) {
	if ref == "" {
		name := s.cfg.DefaultVolumeType
		if name == "" {
			name = cinder.DefaultVolumeType
		}
		t, err := s.store.GetVolumeTypeByName(ctx, name)
		if cinder.IsNotFound(err) {
			return nil, cinder.Errorf("VolumeTypeDefaultMisconfiguredError", http.StatusInternalServerError,
				"The request cannot be fulfilled as the default volume type %s cannot be found.", name)
		}
		return t, err
	}
	if _, err := uuid.Parse(ref); err == nil {
		return s.store.GetVolumeType(ctx, ref)
	}
	t, err := s.store.GetVolumeTypeByName(ctx, ref)
	if cinder.IsNotFound(err) {
		return nil, cinder.Errorf("VolumeTypeNotFoundByName", http.StatusNotFound, "Volume type with name %s could not be found.", ref)
	}
	return t, err
}

// resolveZone returns the availability zone of a new volume: the one asked
// for, which must be a cinder-volume service's, or storage_availability_zone.
func (s *server) resolveZone(ctx context.Context, zone string) (string, error) {
	if zone == "" {
		if s.cfg.StorageAvailabilityZone != "" {
			return s.cfg.StorageAvailabilityZone, nil
		}
		return cinder.DefaultAvailabilityZone, nil
	}
	zones, err := s.zones(ctx)
	if err != nil {
		return "", err
	}
	for _, z := range zones {
		if z.name == zone {
			return zone, nil
		}
	}
	return "", cinder.Errorf("InvalidAvailabilityZone", http.StatusBadRequest, "Availability zone '%s' is invalid.", zone)
}

// checkQuota fails with 413 when project's volumes would hold more than
// quota_gigabytes with more GiB, as Cinder's VolumeSizeExceedsAvailableQuota;
// a quota of -1 is no limit.
func (s *server) checkQuota(ctx context.Context, project string, more int) error {
	quota := s.cfg.QuotaGigabytes
	if quota < 0 {
		return nil
	}
	used, err := s.store.QuotaGigabytes(ctx, project)
	if err != nil {
		return err
	}
	if more > quota-used {
		return cinder.Errorf("VolumeSizeExceedsAvailableQuota", http.StatusRequestEntityTooLarge,
			"Requested volume or snapshot exceeds allowed gigabytes quota. Requested %dG, quota is %dG and %dG has been consumed.",
			more, quota, used)
	}
	return nil
}

// rollback gives a volume back the status, previous_status and
// migration_status of before, as they were until a request whose RPC could
// not be sent wrote after, unless something changed them since.
func (s *server) rollback(ctx context.Context, before, after *cinder.Volume) {
	_, err := s.store.UpdateVolume(ctx, after.ID, func(v *cinder.Volume) error {
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

// updateVolume answers PUT /volumes/{id}: name, description and metadata.
func (s *server) updateVolume(r *http.Request) (reply, error) {
	upd, err := readMember(r, "volume")
	if err != nil {
		return reply{}, err
	}
	allowed := []string{"name", "description", "display_name", "display_description", "metadata"}
	if err := upd.only("volume", allowed...); err != nil {
		return reply{}, err
	}
	if len(upd) == 0 && ver(r).atLeast(mvSchemaChanges) {
		return reply{}, newFault(http.StatusBadRequest, "Invalid input for field/attribute volume. Value: {}. {} is not valid under any of the given schemas")
	}
	var set []func(v *cinder.Volume)
	for _, k := range []string{"display_name", "name", "display_description", "description"} {
		raw, ok := upd[k]
		if !ok {
			continue
		}
		text, err := nameOf(k, raw)
		if err != nil {
			return reply{}, err
		}
		if strings.HasSuffix(k, "name") {
			set = append(set, func(v *cinder.Volume) { v.DisplayName = text })
		} else {
			set = append(set, func(v *cinder.Volume) { v.DisplayDescription = text })
		}
	}
	if raw, ok := upd["metadata"]; ok {
		md, err := specsOf("metadata", raw, specKey, false)
		if err != nil {
			return reply{}, err
		}
		set = append(set, func(v *cinder.Volume) { v.Metadata = md })
	}
	v, err := s.getVolume(r, mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	v, err = s.store.UpdateVolume(r.Context(), v.ID, func(v *cinder.Volume) error {
		if v.Status == cinder.StatusMaintenance {
			return cinder.InvalidVolume("The volume cannot be updated during maintenance.")
		}
		for _, f := range set {
			f(v)
		}
		return nil
	})
	if err != nil {
		return reply{}, err
	}
	o, err := s.detail(r, v, false)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"volume", o}}}, nil
}

// deleteVolume answers DELETE /volumes/{id} (force=true from 3.23, admin).
func (s *server) deleteVolume(r *http.Request) (reply, error) {
	force := false
	if ver(r).atLeast(mvDeleteForce) {
		var err error
		if force, err = boolParam(r, "force", false); err != nil {
			return reply{}, err
		}
		if _, err := boolParam(r, "cascade", false); err != nil {
			return reply{}, err
		}
	}
	if force {
		if err := requireAdmin(r, "volume_extension:volume_admin_actions:force_delete"); err != nil {
			return reply{}, err
		}
	}
	v, err := s.getVolume(r, mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.removeVolume(context.WithoutCancel(r.Context()), v, force)
}

// removeVolume deletes v as volume/api.py delete: a volume never placed on
// a backend is destroyed at once; otherwise it must be in a deletable
// state (any, with force) and not migrating or attached, goes to deleting
// and its backend is asked to delete it. When that cast cannot be sent the
// volume gets its status back.
func (s *server) removeVolume(ctx context.Context, v *cinder.Volume, force bool) error {
	if v.Host == "" {
		return s.store.DestroyVolume(ctx, v.ID)
	}
	var before cinder.Volume
	v, err := s.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		if v.AttachStatus == "attached" || !slices.Contains(deletableMigration, v.MigrationStatus) ||
			(!force && !slices.Contains(deletableStatuses, v.Status)) {
			status := ""
			if !force {
				status = " status must be " + strings.Join(deletableStatuses, " or ") + " and"
			}
			return cinder.InvalidVolume("Volume%s must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.", status)
		}
		before = *v
		if v.Status == "error_managing" {
			v.Status = "error_managing_deleting"
		} else {
			v.Status = cinder.StatusDeleting
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.volumes.DeleteVolume(ctx, v); err != nil {
		s.rollback(ctx, &before, v)
		return unreachable(err, "Could not ask cinder-volume to delete volume %s", v.ID)
	}
	return nil
}
