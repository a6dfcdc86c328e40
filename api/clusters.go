package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/volume"
)

// Cluster list filters, as Cinder's ClusterController.allowed_list_keys;
// the replication ones from 3.26.
var (
	clusterFilterKeys      = []string{"name", "binary", "is_up", "disabled", "num_hosts", "num_down_hosts"}
	clusterReplicationKeys = []string{"replication_status", "frozen", "active_backend_id"}
)

// A cluster's replication fields: no backend here replicates.
const clusterReplicationStatus = "not-capable"

// clusterSummary is Cinder's summary view of c (cinder/api/v3/views/clusters.py).
func (s *server) clusterSummary(c *cinder.Cluster) object {
	state, status := "down", "enabled"
	if s.vol.ClusterUp(c) {
		state = "up"
	}
	if c.Disabled {
		status = "disabled"
	}
	return object{{"name", c.Name}, {"binary", c.Binary}, {"state", state}, {"status", status}}
}

// clusterDetail is Cinder's detailed view of c: its services summary,
// times ("" when none) and, from 3.26, its replication fields.
func (s *server) clusterDetail(r *http.Request, c *cinder.Cluster) object {
	orEmpty := func(t any) any {
		if t == nil {
			return ""
		}
		return t
	}
	o := append(s.clusterSummary(c), member{"num_hosts", c.NumHosts}, member{"num_down_hosts", c.NumDownHosts},
		member{"last_heartbeat", orEmpty(timeOrNull(c.LastHeartbeat))},
		member{"created_at", c.CreatedAt.UTC().Format(cinder.TimeLayout)},
		member{"updated_at", orEmpty(timeOrNull(c.UpdatedAt))}, member{"disabled_reason", orNull(c.DisabledReason)})
	if ver(r).atLeast(mvReplicationCluster) {
		o = append(o, member{"replication_status", clusterReplicationStatus}, member{"frozen", c.Frozen},
			member{"active_backend_id", nil})
	}
	return o
}

func (s *server) listClusters(r *http.Request) (reply, error) { return s.clusterList(r, false) }
func (s *server) listClustersDetail(r *http.Request) (reply, error) {
	return s.clusterList(r, true)
}

// clusterList answers GET /clusters and /clusters/detail (3.7, admin),
// filtered as Cinder's: a key it does not know is 400.
func (s *server) clusterList(r *http.Request, detailed bool) (reply, error) {
	if err := since(r, mvClusterSupport); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "clusters:get_all"); err != nil {
		return reply{}, err
	}
	f, selects, err := clusterFilter(r)
	if err != nil {
		return reply{}, err
	}
	clusters := []*cinder.Cluster{}
	if selects {
		if clusters, err = s.vol.Clusters(r.Context(), f); err != nil {
			return reply{}, err
		}
	}
	items := make([]object, len(clusters))
	for i, c := range clusters {
		if detailed {
			items[i] = s.clusterDetail(r, c)
		} else {
			items[i] = s.clusterSummary(c)
			if ver(r).atLeast(mvReplicationCluster) {
				items[i] = append(items[i], member{"replication_status", clusterReplicationStatus})
			}
		}
	}
	return reply{http.StatusOK, object{{"clusters", items}}}, nil
}

// clusterFilter reads a cluster list's query, and whether it can select
// any cluster: one asking for a replication status or active backend
// other than every cluster's selects none.
func clusterFilter(r *http.Request) (volume.ClusterFilter, bool, error) {
	var f volume.ClusterFilter
	q := r.URL.Query()
	allowed := clusterFilterKeys
	if ver(r).atLeast(mvReplicationCluster) {
		allowed = append(slices.Clip(allowed), clusterReplicationKeys...)
	}
	var invalid []string
	for k := range q {
		if !slices.Contains(allowed, k) {
			invalid = append(invalid, k)
		}
	}
	if len(invalid) > 0 {
		slices.Sort(invalid)
		return f, false, cinder.InvalidInput("Invalid filter keys: %s", strings.Join(invalid, ", "))
	}
	for k, dst := range map[string]**string{"name": &f.Name, "binary": &f.Binary} {
		if q.Has(k) {
			v := q.Get(k)
			*dst = &v
		}
	}
	for k, dst := range map[string]**bool{"is_up": &f.IsUp, "disabled": &f.Disabled, "frozen": &f.Frozen} {
		if q.Has(k) {
			b, err := boolParam(r, k, false)
			if err != nil {
				return f, false, err
			}
			*dst = &b
		}
	}
	for k, dst := range map[string]**int{"num_hosts": &f.NumHosts, "num_down_hosts": &f.NumDownHosts} {
		if q.Has(k) {
			n, err := strconv.Atoi(q.Get(k))
			if err != nil {
				n = -1 // a count that is no number matches no cluster
			}
			*dst = &n
		}
	}
	selects := (!q.Has("active_backend_id") || q.Get("active_backend_id") == "") &&
		(!q.Has("replication_status") || q.Get("replication_status") == clusterReplicationStatus)
	return f, selects, nil
}

// showCluster answers GET /clusters/{name} (3.7, admin): the cluster of
// cinder-volume services of that name.
func (s *server) showCluster(r *http.Request) (reply, error) {
	if err := since(r, mvClusterSupport); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "clusters:get"); err != nil {
		return reply{}, err
	}
	c, err := s.vol.Cluster(r.Context(), mux.Vars(r)["name"], cinder.BinaryVolume)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"cluster", s.clusterDetail(r, c)}}}, nil
}

// updateCluster answers PUT /clusters/{enable,disable} (3.7, admin)
// {"name", "binary", "disabled_reason"}: the cluster's summary and reason.
func (s *server) updateCluster(r *http.Request) (reply, error) {
	if err := since(r, mvClusterSupport); err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "clusters:update"); err != nil {
		return reply{}, err
	}
	act := mux.Vars(r)["action"]
	if act != "enable" && act != "disable" {
		return reply{}, cinder.NotFound("Unknown action")
	}
	disabled := act == "disable"
	body, err := readObject(r, "name")
	if err != nil {
		return reply{}, err
	}
	allowed := []string{"name", "binary"}
	if disabled {
		allowed = append(allowed, "disabled_reason")
	}
	if err := body.only("", allowed...); err != nil {
		return reply{}, err
	}
	if err := body.required("", "name"); err != nil {
		return reply{}, err
	}
	name, err := stringOf("name", body["name"], false, maxNameLen)
	if err == nil && strings.TrimSpace(name) == "" {
		err = invalidField("name", body["name"], "%s is too short", pyRepr(body["name"]))
	}
	if err != nil {
		return reply{}, err
	}
	binary := cinder.BinaryVolume
	if raw, ok := body["binary"]; ok && kind(raw) != "null" {
		if binary, err = stringOf("binary", raw, true, maxNameLen); err != nil {
			return reply{}, err
		}
	}
	reason := ""
	if raw, ok := body["disabled_reason"]; ok && kind(raw) != "null" {
		text, err := disabledReason(body)
		if err != nil {
			return reply{}, err
		}
		reason = strings.TrimSpace(*text)
	}
	c, err := s.vol.SetClusterDisabled(r.Context(), name, binary, disabled, reason)
	if err != nil {
		return reply{}, err
	}
	o := s.clusterSummary(c)
	if ver(r).atLeast(mvReplicationCluster) {
		o = append(o, member{"replication_status", clusterReplicationStatus})
	}
	return reply{http.StatusOK, object{{"cluster", append(o, member{"disabled_reason", orNull(reason)})}}}, nil
}
