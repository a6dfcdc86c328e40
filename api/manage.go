package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/volume"
)

// Microversions of manage: the manageable lists (3.8) and a cluster in
// place of a host (3.16 for manage, 3.17 for the lists).
const (
	mvManageList        = 8
	mvManageListCluster = 17
)

// cinderHost is parameter_types.cinder_host's pattern.
var cinderHost = regexp.MustCompile(`^[a-zA-Z0-9-._#@:/+\[\]]*$`)

// manageVolume answers POST /os-volume-manage (and POST
// /manageable_volumes): 202 with the new volume, managing (shown creating).
func (s *server) manageVolume(r *http.Request) (reply, error) {
	req, err := parseManage(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume_extension:volume_manage"); err != nil {
		return reply{}, err
	}
	v, _, err := s.vol.Manage(r.Context(), req)
	if err != nil {
		return reply{}, err
	}
	o, err := s.detail(r, v, true)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusAccepted, object{{"volume", o}}}, nil
}

// parseManage validates a manage body as Cinder's volume_manage_create
// schemas: host or (from 3.16) cluster, exactly one of them.
func parseManage(r *http.Request) (volume.ManageRequest, error) {
	var req volume.ManageRequest
	vol, err := readMember(r, "volume")
	if err != nil {
		return req, err
	}
	allowed := []string{"description", "availability_zone", "bootable", "volume_type", "name", "host", "ref", "metadata"}
	clusters := ver(r).atLeast(mvMigrateCluster)
	if clusters {
		allowed = append(allowed, "cluster")
	}
	if err := vol.only("volume", allowed...); err != nil {
		return req, err
	}
	if err := vol.required("volume", "ref"); err != nil {
		return req, err
	}
	if req.Ref, err = refOf(vol["ref"], false); err != nil {
		return req, err
	}
	for key, dst := range map[string]*string{"name": &req.Name, "description": &req.Description,
		"volume_type": &req.VolumeType, "availability_zone": &req.AvailabilityZone} {
		if raw, ok := vol[key]; ok {
			if *dst, err = stringOf(key, raw, true, maxNameLen); err != nil {
				return req, err
			}
			*dst = strings.TrimSpace(*dst)
		}
	}
	if raw, ok := vol["bootable"]; ok {
		if req.Bootable, err = boolOf("bootable", raw); err != nil {
			return req, err
		}
	}
	if vol.present("metadata") && kind(vol["metadata"]) != "null" {
		if req.Metadata, err = specsOf("metadata", vol["metadata"], specKey, false); err != nil {
			return req, err
		}
	}
	if req.Host, err = hostOf("host", vol["host"]); err != nil {
		return req, err
	}
	if raw, ok := vol["cluster"]; ok {
		if req.Cluster, err = stringOf("cluster", raw, true, maxNameLen); err != nil {
			return req, err
		}
	}
	return req, oneOfHostCluster(req.Host, req.Cluster, clusters)
}

// hostOf decodes a cinder_host member: absent or null is "".
func hostOf(field string, raw json.RawMessage) (string, error) {
	if raw == nil || kind(raw) == "null" {
		return "", nil
	}
	h, err := stringOf(field, raw, false, maxNameLen)
	if err != nil {
		return "", err
	}
	if h == "" || !cinderHost.MatchString(h) {
		return "", invalidField(field, raw, "%s does not match '%s'", pyRepr(raw), cinderHost.String())
	}
	return h, nil
}

// oneOfHostCluster is common.get_cluster_host's check.
func oneOfHostCluster(host, cluster string, clusters bool) error {
	msg := "Host field is missing."
	if clusters {
		msg = "One and only one of cluster and host must be set."
	}
	if (host != "") == (cluster != "") {
		return cinder.InvalidInput("%s", msg)
	}
	return nil
}

// refOf decodes a manage reference: an object, or a string taken as its
// source-name (as LVM's manage_existing_snapshot does); null only where
// nullable.
func refOf(raw json.RawMessage, nullable bool) (map[string]any, error) {
	switch kind(raw) {
	case "object":
		var ref map[string]any
		if err := json.Unmarshal(raw, &ref); err != nil {
			return nil, invalidField("ref", raw, "%s is not of type 'object', 'string'", pyRepr(raw))
		}
		return ref, nil
	case "string":
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return nil, invalidField("ref", raw, "%s is not of type 'object', 'string'", pyRepr(raw))
		}
		return map[string]any{"source-name": name}, nil
	case "null":
		if nullable {
			return map[string]any{}, nil
		}
	}
	return nil, invalidField("ref", raw, "%s is not of type 'object', 'string'", pyRepr(raw))
}

// unmanageVolume is the volume action os-unmanage: 202 once the volume's
// backend has been asked to forget it, its storage kept.
func (s *server) unmanageVolume(r *http.Request, id string, _ json.RawMessage) (reply, error) {
	if _, err := s.vol.Get(r.Context(), id); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume_extension:volume_unmanage"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.Unmanage(r.Context(), id)
}

// manageSnapshot answers POST /os-snapshot-manage (and POST
// /manageable_snapshots): 202 with the new snapshot, creating.
func (s *server) manageSnapshot(r *http.Request) (reply, error) {
	snap, err := readMember(r, "snapshot")
	if err != nil {
		return reply{}, err
	}
	if err := snap.only("snapshot", "description", "metadata", "name", "volume_id", "ref"); err != nil {
		return reply{}, err
	}
	if err := snap.required("snapshot", "ref"); err != nil {
		return reply{}, err
	}
	if err := snap.required("snapshot", "volume_id"); err != nil {
		return reply{}, err
	}
	var req volume.ManageSnapshotRequest
	if req.VolumeID, err = stringOf("volume_id", snap["volume_id"], false, 0); err != nil {
		return reply{}, err
	}
	if _, err := uuid.Parse(req.VolumeID); err != nil {
		return reply{}, invalidField("volume_id", snap["volume_id"], "%s is not a 'uuid'", pyRepr(snap["volume_id"]))
	}
	if req.Ref, err = refOf(snap["ref"], true); err != nil {
		return reply{}, err
	}
	if req.Name, req.Description, err = namesOf(snap); err != nil {
		return reply{}, err
	}
	if snap.present("metadata") && kind(snap["metadata"]) != "null" {
		if req.Metadata, err = specsOf("metadata", snap["metadata"], specKey, false); err != nil {
			return reply{}, err
		}
	}
	if _, err := s.vol.Get(r.Context(), req.VolumeID); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "snapshot_extension:snapshot_manage"); err != nil {
		return reply{}, err
	}
	created, err := s.vol.ManageSnapshot(r.Context(), req)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusAccepted, object{{"snapshot", s.snapshotView(r, created, false)}}}, nil
}

// unmanageSnapshot is the snapshot action os-unmanage: 202 once the
// snapshot's backend has been asked to forget it, its storage kept.
func (s *server) unmanageSnapshot(r *http.Request, id string) (reply, error) {
	if _, err := s.vol.GetSnapshot(r.Context(), id); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "snapshot_extension:snapshot_unmanage"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.UnmanageSnapshot(r.Context(), id)
}

// manageableVolumes, manageableVolumesDetail, manageableSnapshots and
// manageableSnapshotsDetail answer GET /manageable_volumes[/detail] and
// /manageable_snapshots[/detail] (3.8).
func (s *server) manageableVolumes(r *http.Request) (reply, error) {
	return s.manageable(r, false, false)
}
func (s *server) manageableVolumesDetail(r *http.Request) (reply, error) {
	return s.manageable(r, false, true)
}
func (s *server) manageableSnapshots(r *http.Request) (reply, error) {
	return s.manageable(r, true, false)
}
func (s *server) manageableSnapshotsDetail(r *http.Request) (reply, error) {
	return s.manageable(r, true, true)
}

// manageable lists what volumes, or with snapshots snapshots, could take on
// the backend the query names (host, or cluster from 3.17), as Cinder's
// resource_common_manage: paging, sort keys reference and size.
func (s *server) manageable(r *http.Request, snapshots, detailed bool) (reply, error) {
	if !ver(r).atLeast(mvManageList) {
		return reply{}, newFault(http.StatusNotFound, "API version %s is not supported on this method.", ver(r))
	}
	rule, key := "volume_extension:list_manageable", "manageable-volumes"
	if snapshots {
		rule, key = "snapshot_extension:list_manageable", "manageable-snapshots"
	}
	if err := s.authorize(r, rule); err != nil {
		return reply{}, err
	}
	q, err := manageableQuery(r)
	if err != nil {
		return reply{}, err
	}
	list, err := s.vol.Manageable(r.Context(), snapshots, q)
	if err != nil {
		return reply{}, err
	}
	items := make([]object, 0, len(list))
	for _, m := range list {
		o := object{{"reference", m["reference"]}, {"size", m["size"]}, {"safe_to_manage", m["safe_to_manage"]}}
		if snapshots {
			o = append(o, member{"source_reference", m["source_reference"]})
		}
		if detailed {
			o = append(o, member{"reason_not_safe", m["reason_not_safe"]}, member{"cinder_id", m["cinder_id"]}, member{"extra_info", m["extra_info"]})
		}
		items = append(items, o)
	}
	return reply{http.StatusOK, object{{key, items}}}, nil
}

// manageableQuery reads a manageable list's query: host or cluster, limit,
// marker, offset and sort (sort_key, sort_dir) with keys reference and size.
func manageableQuery(r *http.Request) (volume.ManageableQuery, error) {
	qs := r.URL.Query()
	q := volume.ManageableQuery{Host: qs.Get("host")}
	clusters := ver(r).atLeast(mvManageListCluster)
	if clusters {
		q.Cluster = qs.Get("cluster")
	}
	if err := oneOfHostCluster(q.Host, q.Cluster, clusters); err != nil {
		return q, err
	}
	// Paging as the volume lists; the sort is this list's own.
	paging := r.Clone(r.Context())
	u := *r.URL
	rest := r.URL.Query()
	for _, k := range []string{"sort", "sort_key", "sort_dir"} {
		rest.Del(k)
	}
	u.RawQuery = rest.Encode()
	paging.URL = &u
	p, err := pageOf(paging)
	if err != nil {
		return q, err
	}
	q.Limit, q.Offset, q.Marker = p.limit, p.offset, p.marker
	sort := qs.Get("sort")
	if sort == "" && qs.Has("sort_key") {
		sort = qs.Get("sort_key") + ":" + qs.Get("sort_dir")
	}
	if sort == "" {
		sort = "reference"
	}
	for _, item := range strings.Split(sort, ",") {
		k, d, _ := strings.Cut(item, ":")
		k, d = strings.TrimSpace(k), strings.ToLower(strings.TrimSpace(d))
		if k != "reference" && k != "size" {
			return q, cinder.Errorf("InvalidParameterValue", 400, "Invalid sort keys passed: %s", k)
		}
		if d == "" {
			d = "desc"
		}
		if d != "asc" && d != "desc" {
			return q, cinder.Errorf("InvalidParameterValue", 400, "Invalid sort dirs passed: %s", d)
		}
		q.SortKeys, q.SortDirs = append(q.SortKeys, k), append(q.SortDirs, d)
	}
	return q, nil
}

// manageRoutes registers the manage, unmanage and manageable routes.
func (s *server) manageRoutes(handle func(path string, h handler, methods ...string)) {
	handle("/os-volume-manage", s.manageVolume, http.MethodPost)
	handle("/manageable_volumes", s.manageVolume, http.MethodPost)
	handle("/manageable_volumes", s.manageableVolumes, http.MethodGet)
	handle("/manageable_volumes/detail", s.manageableVolumesDetail, http.MethodGet)
	handle("/os-snapshot-manage", s.manageSnapshot, http.MethodPost)
	handle("/manageable_snapshots", s.manageSnapshot, http.MethodPost)
	handle("/manageable_snapshots", s.manageableSnapshots, http.MethodGet)
	handle("/manageable_snapshots/detail", s.manageableSnapshotsDetail, http.MethodGet)
}
