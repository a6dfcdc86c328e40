package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/volume"
)

// Paging defaults, as Cinder's osapi_max_limit.
const maxLimit = 1000

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
	"image_id": "an image",
	"imageRef": "an image", "backup_id": "a backup", "consistencygroup_id": "a consistency group",
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
	scope := s.scope(r)
	atts, err := s.attachmentsOf(r.Context(), v)
	if err != nil {
		return volumeView{}, err
	}
	return volumeView{scope: &scope, v: v, t: t, atts: atts[v.ID], adminAttrs: adminAttrs}, nil
}

func (s *server) listVolumes(r *http.Request) (reply, error)       { return s.volumeList(r, false) }
func (s *server) listVolumesDetail(r *http.Request) (reply, error) { return s.volumeList(r, true) }

// volumeList answers GET /volumes and /volumes/detail: paged by limit and
// marker, sorted, filtered by name and status (and all_tenants, project_id
// with it, and host for admins), with the total count from 3.45 when
// with_count is set.
func (s *server) volumeList(r *http.Request, detailed bool) (reply, error) {
	if err := s.authorize(r, "volume:get_all"); err != nil {
		return reply{}, err
	}
	f, limit, err := s.volumeFilter(r)
	if err != nil {
		return reply{}, err
	}
	withCount := false
	if ver(r).atLeast(mvCount) {
		if withCount, err = boolParam(r, "with_count", false); err != nil {
			return reply{}, err
		}
	}
	vols, count, err := s.volumePage(r.Context(), f, limit, withCount)
	if err != nil {
		return reply{}, err
	}
	collection, items := "volumes", any(nil)
	if detailed {
		collection = "volumes/detail"
		if items, err = s.details(r, vols); err != nil {
			return reply{}, err
		}
	} else {
		items = summaries(r, vols)
	}
	out := object{{"volumes", items}}
	// As Cinder's _get_collection_links: a next link when a full page came.
	if len(vols) > 0 && limit <= count {
		out = append(out, member{"volumes_links", nextLink(r, collection, vols[len(vols)-1].ID)})
	}
	if withCount {
		out = append(out, member{"count", count})
	}
	return reply{http.StatusOK, out}, nil
}

// volumePage returns up to limit volumes f selects and their count: of
// all of them when withCount, else of the page (a zero count meaning the page's).
func (s *server) volumePage(ctx context.Context, f db.VolumeFilter, limit int, withCount bool) ([]*cinder.Volume, int, error) {
	vols := []*cinder.Volume{}
	if limit > 0 {
		f.Limit = limit
		var err error
		if vols, err = s.store.ListVolumes(ctx, f); err != nil {
			return nil, 0, err
		}
	}
	if !withCount {
		return vols, len(vols), nil
	}
	count, err := s.store.CountVolumes(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	if count == 0 {
		count = len(vols)
	}
	return vols, count, nil
}

// summaries are the summary views of vols.
func summaries(r *http.Request, vols []*cinder.Volume) []object {
	out := make([]object, len(vols))
	for i, v := range vols {
		out[i] = volumeSummary(r, v)
	}
	return out
}

// details are the detailed views of vols, with admin attributes: one scope
// for the request, each volume type read once.
func (s *server) details(r *http.Request, vols []*cinder.Volume) ([]volumeView, error) {
	scope := s.scope(r)
	tn := &typeNames{store: s.store}
	atts, err := s.attachmentsOf(r.Context(), vols...)
	if err != nil {
		return nil, err
	}
	views := make([]volumeView, len(vols))
	for i, v := range vols {
		t, err := tn.of(r.Context(), v.VolumeTypeID)
		if err != nil {
			return nil, err
		}
		views[i] = volumeView{scope: &scope, v: v, t: t, atts: atts[v.ID], adminAttrs: true}
	}
	return views, nil
}

// listProject is the project a list is of: the caller's, or for an admin
// with all_tenants project_id ("" for every project).
func listProject(r *http.Request) (string, error) {
	rc := cinder.FromContext(r.Context())
	if !rc.IsAdmin {
		return rc.ProjectID, nil
	}
	all, err := boolParam(r, "all_tenants", false)
	if err != nil || !all {
		return rc.ProjectID, err
	}
	return r.URL.Query().Get("project_id"), nil
}

// listPage is a list's paging and sorting: created_at descending unless
// the request sorts otherwise.
type listPage struct {
	limit      int
	offset     int
	marker     string
	sortKey    string
	descending bool
}

// pageOf reads limit, marker, offset and sort (or the older sort_key and
// sort_dir) of r.
func pageOf(r *http.Request) (listPage, error) {
	q := r.URL.Query()
	p := listPage{limit: maxLimit, marker: q.Get("marker"), sortKey: "created_at", descending: true}
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil {
			return p, newFault(http.StatusBadRequest, "limit param must be an integer")
		}
		if n < 0 {
			return p, newFault(http.StatusBadRequest, "limit param must be positive")
		}
		p.limit = min(n, maxLimit)
	}
	if q.Has("offset") {
		n, err := strconv.Atoi(q.Get("offset"))
		if err != nil || n < 0 || n > maxInt {
			return p, cinder.InvalidInput("offset must be an integer between 0 and %d.", maxInt)
		}
		p.offset = n
	}
	return p, sortParams(q.Get("sort"), q.Get("sort_key"), q.Get("sort_dir"), &p)
}

// sortParams applies sort=key[:dir] or the older sort_key and sort_dir to p;
// one key is supported.
func sortParams(sortParam, key, dir string, p *listPage) error {
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
		p.sortKey = col
	}
	switch dir {
	case "", "desc":
		p.descending = true
	case "asc":
		p.descending = false
	default:
		return cinder.InvalidInput("Unknown sort direction, must be 'desc' or 'asc'.")
	}
	return nil
}

// showVolume answers GET /volumes/{id}.
func (s *server) showVolume(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume:get"); err != nil {
		return reply{}, err
	}
	v, err := s.vol.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	o, err := s.detail(r, v, true)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"volume", o}}}, nil
}

// parseCreate validates a volume create body as Cinder's schemas for the
// request's microversion, members in the order Cinder checks them.
func parseCreate(r *http.Request) (*volume.CreateRequest, error) {
	vol, err := createBody(r)
	if err != nil {
		return nil, err
	}
	req := &volume.CreateRequest{}
	if err := createTexts(vol, req); err != nil {
		return nil, err
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
	if err := refuseSources(vol); err != nil {
		return nil, err
	}
	for key, dst := range map[string]*string{"snapshot_id": &req.SnapshotID, "source_volid": &req.SourceVolID, "group_id": &req.GroupID} {
		if vol.present(key) {
			if *dst, err = stringOf(key, vol[key], true, maxNameLen); err != nil {
				return nil, err
			}
		}
	}
	// The source's size when a source is given and no size.
	if !vol.present("size") && req.SnapshotID == "" && req.SourceVolID == "" {
		return nil, cinder.InvalidInput("Volume size 'None' must be an integer and greater than 0")
	}
	if vol.present("size") {
		if req.Size, err = sizeOf("size", vol["size"]); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// createBody reads a create body {"volume": {…}, "OS-SCH-HNT:scheduler_hints": …}
// and returns the volume's members.
func createBody(r *http.Request) (fields, error) {
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
	return vol, nil
}

// createTexts decodes a create's name, description, volume type, metadata
// and availability zone into req; "name" wins over "display_name", as
// Cinder renames it over.
func createTexts(vol fields, req *volume.CreateRequest) error {
	var err error
	for _, k := range []string{"display_name", "name", "display_description", "description"} {
		raw, ok := vol[k]
		if !ok {
			continue
		}
		dst := &req.Description
		if strings.HasSuffix(k, "name") {
			dst = &req.Name
		}
		if *dst, err = nameOf(k, raw); err != nil {
			return err
		}
	}
	if raw, ok := vol["volume_type"]; ok {
		if req.VolumeType, err = stringOf("volume_type", raw, true, maxNameLen); err != nil {
			return err
		}
	}
	if vol.present("metadata") {
		if req.Metadata, err = specsOf("metadata", vol["metadata"], specKey, false); err != nil {
			return err
		}
	}
	if raw, ok := vol["availability_zone"]; ok {
		req.AvailabilityZone, err = stringOf("availability_zone", raw, true, maxNameLen)
	}
	return err
}

// refuseSources refuses a create from a source this Cinder cannot create
// volumes from; null or "" names none.
func refuseSources(vol fields) error {
	for _, k := range createFields {
		what, ok := unsupportedSources[k]
		if !ok || !vol.present(k) {
			continue
		}
		if s, err := stringOf(k, vol[k], true, maxNameLen); err != nil {
			return err
		} else if s != "" {
			return cinder.InvalidInput("creating a volume from %s (%s) is not supported.", what, k)
		}
	}
	return nil
}

// createVolume answers POST /volumes: the volume as written, creating,
// once cinder-scheduler has been asked to place it.
func (s *server) createVolume(r *http.Request) (reply, error) {
	req, err := parseCreate(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume:create"); err != nil {
		return reply{}, err
	}
	v, t, err := s.vol.Create(r.Context(), *req)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusAccepted, object{{"volume", s.volumeDetail(r, v, t, false)}}}, nil
}

// updateVolume answers PUT /volumes/{id}: name, description and metadata.
func (s *server) updateVolume(r *http.Request) (reply, error) {
	c, err := parseUpdate(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume:update"); err != nil {
		return reply{}, err
	}
	v, err := s.vol.Update(r.Context(), mux.Vars(r)["id"], c)
	if err != nil {
		return reply{}, err
	}
	o, err := s.detail(r, v, false)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"volume", o}}}, nil
}

// parseUpdate validates a volume update body as Cinder's schema for the
// request's microversion.
func parseUpdate(r *http.Request) (volume.Changes, error) {
	var c volume.Changes
	upd, err := readMember(r, "volume")
	if err != nil {
		return c, err
	}
	allowed := []string{"name", "description", "display_name", "display_description", "metadata"}
	if err := upd.only("volume", allowed...); err != nil {
		return c, err
	}
	if len(upd) == 0 && ver(r).atLeast(mvSchemaChanges) {
		return c, newFault(http.StatusBadRequest, "Invalid input for field/attribute volume. Value: {}. {} is not valid under any of the given schemas")
	}
	// "name" wins over "display_name", as Cinder renames it over.
	for _, k := range []string{"display_name", "name", "display_description", "description"} {
		raw, ok := upd[k]
		if !ok {
			continue
		}
		text, err := nameOf(k, raw)
		if err != nil {
			return c, err
		}
		if strings.HasSuffix(k, "name") {
			c.Name = &text
		} else {
			c.Description = &text
		}
	}
	if raw, ok := upd["metadata"]; ok {
		if c.Metadata, err = specsOf("metadata", raw, specKey, false); err != nil {
			return c, err
		}
	}
	return c, nil
}

// deleteVolume answers DELETE /volumes/{id}: cascade=true deletes its
// snapshots too; force=true (from 3.23, admin) in any status.
func (s *server) deleteVolume(r *http.Request) (reply, error) {
	cascade, err := boolParam(r, "cascade", false)
	if err != nil {
		return reply{}, err
	}
	force := false
	if ver(r).atLeast(mvDeleteForce) {
		if force, err = boolParam(r, "force", false); err != nil {
			return reply{}, err
		}
	}
	rule := "volume:delete"
	if force {
		rule = "volume_extension:volume_admin_actions:force_delete"
	}
	if err := s.authorize(r, rule); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.Delete(r.Context(), mux.Vars(r)["id"], force, cascade)
}
