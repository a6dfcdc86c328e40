// Package api is cinder-api: Cinder's REST API v3 with its microversions,
// faults and views. Handlers decode and validate a request, call the volume
// rules (package volume) or read the database, and write Cinder's view.
// Every route answers with and without the project id in the URL.
package api

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/policy"
	"github.com/cinder-go/cinder/volume"
)

// server holds what the handlers share.
type server struct {
	cfg    *conf.Config
	store  *db.DB
	vol    *volume.API
	policy *policy.Enforcer
	tokens func(http.Handler) http.Handler // validates tokens first, as keystonemiddleware; nil for none
	filter resourceFilters                 // the list filters a non-admin may use (resource_query_filters_file)
}

// New returns the cinder-api HTTP handler: volumes apply the volume rules,
// store answers the reads of types, services and messages, rules says who
// may do what. With auth_strategy keystone, tokens stands in front of
// every route but the version documents, as keystonemiddleware's
// auth_token does in Cinder's pipeline; it sets the identity headers.
func New(cfg *conf.Config, store *db.DB, volumes *volume.API, rules *policy.Enforcer, tokens func(http.Handler) http.Handler) http.Handler {
	s := &server{cfg: cfg, store: store, vol: volumes, policy: rules, tokens: tokens,
		filter: loadResourceFilters(cfg.ResourceQueryFiltersFile)}
	// Paths are matched as sent, as Cinder's routes: a non-canonical one
	// such as volumes/x/.. is 404, never redirected to another resource.
	r := mux.NewRouter().SkipClean(true)
	r.Handle("/", versionsDoc(http.StatusMultipleChoices)).Methods(http.MethodGet)
	r.Handle("/v3/", versionsDoc(http.StatusOK)).Methods(http.MethodGet)
	r.HandleFunc("/v3", redirectV3).Methods(http.MethodGet)
	// The project-less form first: its literal segments never match a
	// project id. Full paths, not subrouters: a mux subrouter's prefix
	// match forgets an earlier method mismatch, turning 405s into 404s.
	s.routes(r, "/v3")
	s.routes(r, "/v3/{project_id}")
	r.NotFoundHandler = negotiateVersion(serve(func(r *http.Request) (reply, error) {
		return reply{}, newFault(http.StatusNotFound, "The resource could not be found.")
	}))
	r.MethodNotAllowedHandler = negotiateVersion(serve(func(r *http.Request) (reply, error) {
		return reply{}, newFault(http.StatusMethodNotAllowed, "The method %s is not allowed for this resource.", r.Method)
	}))
	return withRequestID(logRequests(recoverPanics(limitBody(r))))
}

// routes registers the API under prefix, /v3 or /v3/{project_id}.
func (s *server) routes(r *mux.Router, prefix string) {
	handle := func(path string, h handler, methods ...string) {
		r.Handle(prefix+path, s.api(h)).Methods(methods...)
	}
	get, post, put, del := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete

	handle("/volumes", s.listVolumes, get)
	handle("/volumes", s.createVolume, post)
	handle("/volumes/detail", s.listVolumesDetail, get)
	handle("/volumes/summary", s.summarizeVolumes, get)
	handle("/volumes/{id}", s.showVolume, get)
	handle("/volumes/{id}", s.updateVolume, put)
	handle("/volumes/{id}", s.deleteVolume, del)
	handle("/volumes/{id}/action", s.volumeAction, post)
	metadataRoutes(handle, "/volumes/{id}/metadata", s.volumeMetadata())
	s.manageRoutes(handle)

	handle("/types", s.listTypes, get)
	handle("/types", s.createType, post)
	handle("/types/{id}", s.showType, get)
	handle("/types/{id}", s.updateType, put)
	handle("/types/{id}", s.deleteType, del)
	handle("/types/{id}/extra_specs", s.listExtraSpecs, get)
	handle("/types/{id}/extra_specs", s.createExtraSpecs, post)
	handle("/types/{id}/extra_specs/{key}", s.showExtraSpec, get)
	handle("/types/{id}/extra_specs/{key}", s.updateExtraSpec, put)
	handle("/types/{id}/extra_specs/{key}", s.deleteExtraSpec, del)
	handle("/types/{id}/action", s.typeAction, post)
	handle("/types/{id}/os-volume-type-access", s.listTypeAccess, get)
	handle("/types/{id}/encryption", s.showTypeEncryption, get)
	handle("/types/{id}/encryption", s.createTypeEncryption, post)
	handle("/types/{id}/encryption/{key}", s.showTypeEncryptionItem, get)
	handle("/types/{id}/encryption/{key}", s.updateTypeEncryption, put)
	handle("/types/{id}/encryption/{key}", s.deleteTypeEncryption, del)
	handle("/volumes/{id}/encryption", s.showVolumeEncryption, get)
	handle("/volumes/{id}/encryption/{key}", s.showVolumeEncryptionItem, get)
	handle("/group_types", s.listGroupTypes, get)
	handle("/group_types", s.createGroupType, post)
	handle("/group_types/{id}", s.showGroupType, get)
	handle("/group_types/{id}", s.updateGroupType, put)
	handle("/group_types/{id}", s.deleteGroupType, del)
	handle("/group_types/{id}/group_specs", s.listGroupSpecs, get)
	handle("/group_types/{id}/group_specs", s.createGroupSpecs, post)
	handle("/group_types/{id}/group_specs/{key}", s.showGroupSpec, get)
	handle("/group_types/{id}/group_specs/{key}", s.updateGroupSpec, put)
	handle("/group_types/{id}/group_specs/{key}", s.deleteGroupSpec, del)
	handle("/groups", s.listGroups, get)
	handle("/groups", s.createGroup, post)
	handle("/groups/detail", s.listGroupsDetail, get)
	handle("/groups/action", s.createGroupFromSrc, post)
	handle("/groups/{id}", s.showGroup, get)
	handle("/groups/{id}", s.updateGroup, put)
	handle("/groups/{id}/action", s.groupAction, post)
	handle("/group_snapshots", s.listGroupSnapshots, get)
	handle("/group_snapshots", s.createGroupSnapshot, post)
	handle("/group_snapshots/detail", s.listGroupSnapshotsDetail, get)
	handle("/group_snapshots/{id}", s.showGroupSnapshot, get)
	handle("/group_snapshots/{id}", s.deleteGroupSnapshot, del)
	handle("/group_snapshots/{id}/action", s.groupSnapshotAction, post)
	handle("/default-types", s.listDefaultTypes, get)
	handle("/default-types/{id}", s.showDefaultType, get)
	handle("/default-types/{id}", s.setDefaultType, put)
	handle("/default-types/{id}", s.unsetDefaultType, del)
	handle("/qos-specs", s.listQoS, get)
	handle("/qos-specs", s.createQoS, post)
	handle("/qos-specs/{id}", s.showQoS, get)
	handle("/qos-specs/{id}", s.setQoSKeys, put)
	handle("/qos-specs/{id}", s.deleteQoS, del)
	handle("/qos-specs/{id}/delete_keys", s.deleteQoSKeys, put)
	handle("/qos-specs/{id}/associations", s.qosAssociations, get)
	handle("/qos-specs/{id}/associate", s.associateQoS, get)
	handle("/qos-specs/{id}/disassociate", s.disassociateQoS, get)
	handle("/qos-specs/{id}/disassociate_all", s.disassociateAllQoS, get)

	handle("/os-services", s.listServices, get)
	handle("/os-services/{action}", s.updateService, put)
	handle("/scheduler-stats/get_pools", s.getPools, get)
	handle("/capabilities/{host}", s.showCapabilities, get)
	handle("/os-availability-zone", s.listAvailabilityZones, get)
	handle("/messages", s.listMessages, get)
	handle("/messages/{id}", s.showMessage, get)
	handle("/messages/{id}", s.deleteMessage, del)
	handle("/snapshots", s.listSnapshots, get)
	handle("/snapshots", s.createSnapshot, post)
	handle("/snapshots/detail", s.listSnapshotsDetail, get)
	handle("/snapshots/{id}", s.showSnapshot, get)
	handle("/snapshots/{id}", s.updateSnapshot, put)
	handle("/snapshots/{id}", s.deleteSnapshot, del)
	handle("/snapshots/{id}/action", s.snapshotAction, post)
	metadataRoutes(handle, "/snapshots/{id}/metadata", s.snapshotMetadata())
	handle("/backups", s.listBackups, get)
	handle("/backups", s.createBackup, post)
	handle("/backups/detail", s.listBackupsDetail, get)
	handle("/backups/import_record", s.importBackup, post)
	handle("/backups/{id}", s.showBackup, get)
	handle("/backups/{id}", s.updateBackup, put)
	handle("/backups/{id}", s.deleteBackup, del)
	handle("/backups/{id}/restore", s.restoreBackup, post)
	handle("/backups/{id}/export_record", s.exportBackup, get)
	handle("/backups/{id}/action", s.backupAction, post)
	handle("/os-quota-sets/{id}", s.showQuotaSet, get)
	handle("/os-quota-sets/{id}", s.updateQuotaSet, put)
	handle("/os-quota-sets/{id}", s.deleteQuotaSet, del)
	handle("/os-quota-sets/{id}/defaults", s.showDefaultQuotaSet, get)
	handle("/os-quota-class-sets/{id}", s.showQuotaClass, get)
	handle("/os-quota-class-sets/{id}", s.updateQuotaClass, put)
	handle("/limits", s.showLimits, get)
	handle("/attachments", s.listAttachments, get)
	handle("/attachments", s.createAttachment, post)
	handle("/attachments/detail", s.listAttachmentsDetail, get)
	handle("/attachments/{id}", s.showAttachment, get)
	handle("/attachments/{id}", s.updateAttachment, put)
	handle("/attachments/{id}", s.deleteAttachment, del)
	handle("/attachments/{id}/action", s.attachmentAction, post)
	for _, c := range []string{"/os-volume-transfer", "/volume-transfers"} {
		handle(c, s.listTransfers, get)
		handle(c, s.createTransfer, post)
		handle(c+"/detail", s.listTransfersDetail, get)
		handle(c+"/{id}", s.showTransfer, get)
		handle(c+"/{id}", s.deleteTransfer, del)
		handle(c+"/{id}/accept", s.acceptTransfer, post)
	}
	handle("/os-hosts", s.listHosts, get)
	handle("/os-hosts/{host}", s.showHost, get)
	handle("/clusters", s.listClusters, get)
	handle("/clusters/detail", s.listClustersDetail, get)
	handle("/clusters/{name}", s.showCluster, get)
	handle("/clusters/{action}", s.updateCluster, put)
	handle("/workers/cleanup", s.cleanupWorkers, post)
	handle("/extensions", s.listExtensions, get)
	handle("/extensions/{alias}", s.showExtension, get)
	handle("/resource_filters", s.listResourceFilters, get)
}

// api wraps an API handler with authentication and microversion
// negotiation, and writes its reply or fault.
func (s *server) api(h handler) http.Handler {
	next := s.authenticate(negotiateVersion(serve(h)))
	if s.tokens != nil {
		return s.tokens(next)
	}
	return next
}
