package api

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
)

// showSnapshotMetadata answers GET /snapshots/{id}/metadata.
func (s *server) showSnapshotMetadata(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume:get_snapshot_metadata"); err != nil {
		return reply{}, err
	}
	snap, err := s.vol.GetSnapshot(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"metadata", metadataOf(snap.Metadata)}}}, nil
}

func (s *server) mergeSnapshotMetadata(r *http.Request) (reply, error) {
	return s.setSnapshotMetadata(r, true)
}

func (s *server) replaceSnapshotMetadata(r *http.Request) (reply, error) {
	return s.setSnapshotMetadata(r, false)
}

// setSnapshotMetadata answers POST (merge) and PUT (replace)
// /snapshots/{id}/metadata {"metadata": {…}} with the metadata as stored.
func (s *server) setSnapshotMetadata(r *http.Request, merge bool) (reply, error) {
	md, err := metadataBody(r, "metadata")
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume:update_snapshot_metadata"); err != nil {
		return reply{}, err
	}
	all, err := s.vol.SetSnapshotMetadata(r.Context(), mux.Vars(r)["id"], md, merge)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"metadata", all}}}, nil
}

// showSnapshotMetadataKey answers GET /snapshots/{id}/metadata/{key}:
// {"meta": {key: value}}.
func (s *server) showSnapshotMetadataKey(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume:get_snapshot_metadata"); err != nil {
		return reply{}, err
	}
	snap, err := s.vol.GetSnapshot(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	key := mux.Vars(r)["key"]
	value, ok := snap.Metadata[key]
	if !ok {
		return reply{}, cinder.Errorf("SnapshotMetadataNotFound", http.StatusNotFound, "Metadata item was not found")
	}
	return reply{http.StatusOK, object{{"meta", map[string]string{key: value}}}}, nil
}

// updateSnapshotMetadataKey answers PUT /snapshots/{id}/metadata/{key}
// {"meta": {key: value}}: the one key of the URL.
func (s *server) updateSnapshotMetadataKey(r *http.Request) (reply, error) {
	key := mux.Vars(r)["key"]
	md, err := metadataBody(r, "meta")
	if err != nil {
		return reply{}, err
	}
	if _, ok := md[key]; !ok {
		return reply{}, newFault(http.StatusBadRequest, "Request body and URI mismatch")
	}
	if len(md) > 1 {
		return reply{}, newFault(http.StatusBadRequest, "Request body contains too many items")
	}
	if err := s.authorize(r, "volume:update_snapshot_metadata"); err != nil {
		return reply{}, err
	}
	if _, err := s.vol.SetSnapshotMetadata(r.Context(), mux.Vars(r)["id"], md, true); err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"meta", md}}}, nil
}

// deleteSnapshotMetadataKey answers DELETE /snapshots/{id}/metadata/{key}: 200.
func (s *server) deleteSnapshotMetadataKey(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume:delete_snapshot_metadata"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK}, s.vol.DeleteSnapshotMetadata(r.Context(), mux.Vars(r)["id"], mux.Vars(r)["key"])
}

// metadataBody reads a body {key: {metadata}}, as Cinder's metadata schemas.
func metadataBody(r *http.Request, key string) (map[string]string, error) {
	body, err := readObject(r, key)
	if err != nil {
		return nil, err
	}
	raw, ok := body[key]
	if !ok {
		return nil, missingElement(key)
	}
	return specsOf(key, raw, specKey, false)
}
