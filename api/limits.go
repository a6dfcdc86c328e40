package api

import (
	"net/http"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// mvLimitsProject lets an admin ask for another project's limits
// (project_id, or the older tenant_id).
const mvLimitsProject = 39

// limitName is the name /limits gives a quota resource.
type limitName struct{ resource, name string }

// absoluteLimits name a project's limits in /limits, in Cinder's order;
// usedLimits name what it uses of them (the used_limits extension).
var (
	absoluteLimits = []limitName{
		{db.QuotaVolumes, "maxTotalVolumes"}, {db.QuotaSnapshots, "maxTotalSnapshots"},
		{db.QuotaGigabytes, "maxTotalVolumeGigabytes"}, {db.QuotaBackups, "maxTotalBackups"},
		{db.QuotaBackupGigabytes, "maxTotalBackupGigabytes"},
	}
	usedLimits = []limitName{
		{db.QuotaVolumes, "totalVolumesUsed"}, {db.QuotaGigabytes, "totalGigabytesUsed"},
		{db.QuotaSnapshots, "totalSnapshotsUsed"}, {db.QuotaBackups, "totalBackupsUsed"},
		{db.QuotaBackupGigabytes, "totalBackupGigabytesUsed"},
	}
)

// showLimits answers GET /limits: the caller's project's absolute limits
// and, when limits_extension:used_limits allows, what it has in use of
// them. There are no rate limits. From 3.39 an admin names another project
// with project_id (or tenant_id).
func (s *server) showLimits(r *http.Request) (reply, error) {
	rc := cinder.FromContext(r.Context())
	project := rc.ProjectID
	if q := r.URL.Query(); ver(r).atLeast(mvLimitsProject) && rc.IsAdmin {
		if q.Has("tenant_id") {
			project = q.Get("tenant_id")
		}
		if q.Has("project_id") {
			project = q.Get("project_id")
		}
	}
	used := s.policy.Check(rc, "limits_extension:used_limits", nil)
	qs, err := s.vol.ProjectQuotas(r.Context(), project, used)
	if err != nil {
		return reply{}, err
	}
	limit, inUse := map[string]int{}, map[string]int{}
	for _, q := range qs {
		limit[q.Resource], inUse[q.Resource] = q.Limit, q.InUse
	}
	absolute := object{}
	for _, l := range absoluteLimits {
		absolute = append(absolute, member{l.name, limit[l.resource]})
	}
	if used {
		for _, l := range usedLimits {
			absolute = append(absolute, member{l.name, inUse[l.resource]})
		}
	}
	return reply{http.StatusOK, object{{"limits", object{{"rate", []any{}}, {"absolute", absolute}}}}}, nil
}
