package api

import (
	"encoding/json"
	"net/http"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/volume"
)

// Microversions of backup views and requests.
const (
	mvBackupUpdate   = 9  // PUT /backups/{id}
	mvBackupProject  = 18 // os-backup-project-attr:project_id
	mvBackupMetadata = 43 // metadata
	mvBackupAZ       = 51 // availability_zone in a backup create
	mvBackupUserID   = 56 // user_id
	mvEncryptionKey  = 64 // encryption_key_id
)

// backupView is Cinder's view of b (cinder/api/views/backups.py): id, name
// and links, and with detailed the rest, as show and detail answer, with
// the attributes of later microversions the policy shows.
func (s *server) backupView(r *http.Request, b *cinder.Backup, detailed bool) object {
	o := object{{"id", b.ID}, {"name", orNull(b.DisplayName)}, {"links", links(r, "backups", b.ID)}}
	if !detailed {
		return o
	}
	o = append(o, object{
		{"status", b.Status}, {"size", b.Size}, {"object_count", b.ObjectCount},
		{"availability_zone", orNull(b.AvailabilityZone)}, {"container", orNull(b.Container)},
		{"created_at", b.CreatedAt.UTC().Format(cinder.TimeLayout)}, {"updated_at", timeOrNull(b.UpdatedAt)},
		{"description", orNull(b.DisplayDescription)}, {"fail_reason", orNull(b.FailReason)},
		{"volume_id", b.VolumeID}, {"is_incremental", b.IsIncremental()},
		{"has_dependent_backups", b.NumDependentBackups > 0}, {"snapshot_id", orNull(b.SnapshotID)},
		{"data_timestamp", b.DataTimestamp.UTC().Format(cinder.TimeLayout)},
	}...)
	mv := ver(r)
	attrs := s.policy.Check(cinder.FromContext(r.Context()), "backup:backup_project_attribute", nil)
	if mv.atLeast(mvBackupProject) && attrs {
		o = append(o, member{"os-backup-project-attr:project_id", b.ProjectID})
	}
	if mv.atLeast(mvBackupMetadata) {
		o = append(o, member{"metadata", metadataOf(b.Metadata)})
	}
	if mv.atLeast(mvBackupUserID) && attrs {
		o = append(o, member{"user_id", b.UserID})
	}
	if mv.atLeast(mvEncryptionKey) {
		o = append(o, member{"encryption_key_id", nil})
	}
	return o
}

func (s *server) listBackups(r *http.Request) (reply, error)       { return s.backupList(r, false) }
func (s *server) listBackupsDetail(r *http.Request) (reply, error) { return s.backupList(r, true) }

// backupList answers GET /backups and /backups/detail: paged, sorted,
// filtered by name, status and volume_id (all_tenants for admins), with
// the count from 3.45 when with_count is set.
func (s *server) backupList(r *http.Request, detailed bool) (reply, error) {
	if err := s.authorize(r, "backup:get_all"); err != nil {
		return reply{}, err
	}
	f, withCount, err := s.backupFilter(r)
	if err != nil {
		return reply{}, err
	}
	backups := []*cinder.Backup{}
	if f.Limit > 0 {
		if backups, err = s.store.ListBackups(r.Context(), f); err != nil {
			return reply{}, err
		}
	}
	items := make([]object, len(backups))
	for i, b := range backups {
		items[i] = s.backupView(r, b, detailed)
	}
	out := object{{"backups", items}}
	if len(backups) > 0 && len(backups) == f.Limit {
		collection := map[bool]string{false: "backups", true: "backups/detail"}[detailed]
		out = append(out, member{"backups_links", nextLink(r, collection, backups[len(backups)-1].ID)})
	}
	if withCount {
		count, err := s.store.CountBackups(r.Context(), f)
		if err != nil {
			return reply{}, err
		}
		out = append(out, member{"count", count})
	}
	return reply{http.StatusOK, out}, nil
}

// backupFilterOptions are the filters a non-admin may use before 3.31
// (_get_backup_filter_options).
var backupFilterOptions = []string{"name", "status", "volume_id"}

// backupFilter reads the list parameters of a backup list as Cinder's
// backup lists: like and metadata filters and exact matches on columns.
func (s *server) backupFilter(r *http.Request) (db.BackupFilter, bool, error) {
	var f db.BackupFilter
	p, err := pageOf(r)
	if err != nil {
		return f, false, err
	}
	f.Limit, f.Marker, f.Offset, f.SortKey, f.SortDescending = p.limit, p.marker, p.offset, p.sortKey, p.descending
	if f.ProjectID, err = listProject(r); err != nil {
		return f, false, err
	}
	filters, err := s.listFilters(r, "backup", backupFilterOptions, nil)
	if err != nil {
		return f, false, err
	}
	popFilters(filters)
	if err := matchFilters(&f.Match, filters, false, nil, true); err != nil {
		return f, false, err
	}
	withCount := false
	if ver(r).atLeast(mvCount) {
		withCount, err = boolParam(r, "with_count", false)
	}
	return f, withCount, err
}

// showBackup answers GET /backups/{id}.
func (s *server) showBackup(r *http.Request) (reply, error) {
	if err := s.authorize(r, "backup:get"); err != nil {
		return reply{}, err
	}
	b, err := s.vol.GetBackup(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"backup", s.backupView(r, b, true)}}}, nil
}

// createBackup answers POST /backups: 202 with the backup's summary once
// a cinder-backup has been asked to take it.
func (s *server) createBackup(r *http.Request) (reply, error) {
	req, err := parseBackupCreate(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "backup:create"); err != nil {
		return reply{}, err
	}
	b, err := s.vol.CreateBackup(r.Context(), req)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusAccepted, object{{"backup", s.backupView(r, b, false)}}}, nil
}

// parseBackupCreate validates a backup create body as Cinder's schemas
// of each microversion.
func parseBackupCreate(r *http.Request) (volume.BackupRequest, error) {
	var req volume.BackupRequest
	b, err := readMember(r, "backup")
	if err != nil {
		return req, err
	}
	allowed := []string{"volume_id", "container", "description", "incremental", "force", "name", "snapshot_id"}
	if ver(r).atLeast(mvBackupMetadata) {
		allowed = append(allowed, "metadata")
	}
	if ver(r).atLeast(mvBackupAZ) {
		allowed = append(allowed, "availability_zone")
	}
	if err := b.only("backup", allowed...); err != nil {
		return req, err
	}
	if err := b.required("backup", "volume_id"); err != nil {
		return req, err
	}
	if req.VolumeID, err = uuidOf("volume_id", b["volume_id"], false); err != nil {
		return req, err
	}
	if b.present("snapshot_id") {
		if req.SnapshotID, err = uuidOf("snapshot_id", b["snapshot_id"], true); err != nil {
			return req, err
		}
	}
	if req.Name, req.Description, err = namesOf(b); err == nil && b.present("container") {
		req.Container, err = stringOf("container", b["container"], true, maxNameLen)
	}
	if err == nil && b.present("availability_zone") {
		req.AvailabilityZone, err = stringOf("availability_zone", b["availability_zone"], true, maxNameLen)
	}
	for _, f := range []struct {
		key string
		dst *bool
	}{{"incremental", &req.Incremental}, {"force", &req.Force}} {
		if err == nil && b.present(f.key) {
			*f.dst, err = boolOf(f.key, b[f.key])
		}
	}
	if err == nil && b.present("metadata") {
		req.Metadata, err = specsOf("metadata", b["metadata"], specKey, false)
	}
	return req, err
}

// uuidOf decodes raw, the value of field, as a UUID; null is "" when
// nullable, and then anything else is refused as Cinder's oneOf
// uuid_allow_null refuses it.
func uuidOf(field string, raw json.RawMessage, nullable bool) (string, error) {
	if nullable {
		if kind(raw) == "null" {
			return "", nil
		}
		s, err := uuidOf(field, raw, false)
		if err != nil {
			return "", invalidField(field, raw, "%s is not valid under any of the given schemas", pyRepr(raw))
		}
		return s, nil
	}
	s, err := stringOf(field, raw, false, 0)
	if err != nil {
		return "", err
	}
	if _, err := uuid.Parse(s); err != nil {
		return "", invalidField(field, raw, "%s is not a 'uuid'", pyRepr(raw))
	}
	return s, nil
}

// updateBackup answers PUT /backups/{id} (3.9): name, description and,
// from 3.43, metadata.
func (s *server) updateBackup(r *http.Request) (reply, error) {
	if !ver(r).atLeast(mvBackupUpdate) {
		return reply{}, newFault(http.StatusNotFound, "The resource could not be found.")
	}
	upd, err := readMember(r, "backup")
	if err != nil {
		return reply{}, err
	}
	c, err := parseBackupChanges(r, upd)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "backup:update"); err != nil {
		return reply{}, err
	}
	b, err := s.vol.UpdateBackup(r.Context(), mux.Vars(r)["id"], c)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"backup", s.backupView(r, b, false)}}}, nil
}

// parseBackupChanges validates the members of a backup update.
func parseBackupChanges(r *http.Request, upd fields) (volume.BackupChanges, error) {
	var c volume.BackupChanges
	allowed := []string{"name", "description"}
	if ver(r).atLeast(mvBackupMetadata) {
		allowed = append(allowed, "metadata")
	}
	if err := upd.only("backup", allowed...); err != nil {
		return c, err
	}
	name, description, err := namesOf(upd)
	if err != nil {
		return c, err
	}
	if _, ok := upd["name"]; ok {
		c.Name = &name
	}
	if _, ok := upd["description"]; ok {
		c.Description = &description
	}
	if upd.present("metadata") {
		c.Metadata, err = specsOf("metadata", upd["metadata"], specKey, false)
	}
	return c, err
}

// deleteBackup answers DELETE /backups/{id}: 202.
func (s *server) deleteBackup(r *http.Request) (reply, error) {
	if err := s.authorize(r, "backup:delete"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.DeleteBackup(r.Context(), mux.Vars(r)["id"], false)
}

// restoreBackup answers POST /backups/{id}/restore {"restore": {volume_id,
// name}}: 202 with the backup, volume and volume name once cinder-backup
// has been asked to restore; without volume_id into a new volume.
func (s *server) restoreBackup(r *http.Request) (reply, error) {
	body, err := readObject(r, "restore")
	if err != nil {
		return reply{}, err
	}
	if err := body.only("", "restore"); err != nil {
		return reply{}, err
	}
	var volumeID, name string
	if body.present("restore") {
		req, err := objectOf("restore", body["restore"])
		if err == nil {
			err = req.only("restore", "volume_id", "name")
		}
		if err == nil && req.present("volume_id") {
			volumeID, err = uuidOf("volume_id", req["volume_id"], true)
		}
		if err == nil && req.present("name") {
			name, err = nameOf("name", req["name"])
		}
		if err != nil {
			return reply{}, err
		}
	}
	if err := s.authorize(r, "backup:restore"); err != nil {
		return reply{}, err
	}
	id := mux.Vars(r)["id"]
	v, err := s.vol.RestoreBackup(r.Context(), id, volumeID, name)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusAccepted, object{{"restore", object{
		{"backup_id", id}, {"volume_id", v.ID}, {"volume_name", v.DisplayName}}}}}, nil
}

// exportBackup answers GET /backups/{id}/export_record (admin).
func (s *server) exportBackup(r *http.Request) (reply, error) {
	if err := s.authorize(r, "backup:export-import"); err != nil {
		return reply{}, err
	}
	rec, err := s.vol.ExportBackup(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"backup-record", object{
		{"backup_service", rec.Service}, {"backup_url", rec.URL}}}}}, nil
}

// importBackup answers POST /backups/import_record (admin): 201 with the
// backup's summary, creating until cinder-backup finds its files.
func (s *server) importBackup(r *http.Request) (reply, error) {
	rec, err := readMember(r, "backup-record")
	if err == nil {
		err = rec.only("backup-record", "backup_service", "backup_url")
	}
	var rc cinder.BackupRecord
	for _, f := range []struct {
		key string
		dst *string
	}{{"backup_service", &rc.Service}, {"backup_url", &rc.URL}} {
		if err == nil {
			err = rec.required("backup-record", f.key)
		}
		if err == nil {
			*f.dst, err = stringOf(f.key, rec[f.key], false, 0)
		}
	}
	if err == nil {
		err = s.authorize(r, "backup:export-import")
	}
	if err != nil {
		return reply{}, err
	}
	b, err := s.vol.ImportBackup(r.Context(), rc)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusCreated, object{{"backup", s.backupView(r, b, false)}}}, nil
}

// backupAction answers POST /backups/{id}/action: os-reset_status and
// os-force_delete (admin).
func (s *server) backupAction(r *http.Request) (reply, error) {
	name, args, err := actionOf(r)
	if err != nil {
		return reply{}, err
	}
	id := mux.Vars(r)["id"]
	switch name {
	case "os-force_delete":
		if err := s.authorize(r, "volume_extension:backup_admin_actions:force_delete"); err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusAccepted}, s.vol.DeleteBackup(r.Context(), id, true)
	case "os-reset_status":
		status, err := statusArg(name, args)
		if err == nil {
			err = s.authorize(r, "volume_extension:backup_admin_actions:reset_status")
		}
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusAccepted}, s.vol.ResetBackupStatus(r.Context(), id, status)
	}
	return reply{}, noSuchAction(name)
}
