package api

import (
	"encoding/json"
	"net/http"

	"github.com/cinder-go/cinder/volume"
)

// volumeMetadata serves /volumes/{id}/metadata, as Cinder's v3 volume
// metadata controller: its schemas and, from 3.15, ETags.
func (s *server) volumeMetadata() metadataAPI {
	return metadataAPI{
		s: s,
		rules: metadataRules{read: "volume:get_volume_metadata", merge: "volume:create_volume_metadata",
			update: "volume:update_volume_metadata", remove: "volume:delete_volume_metadata"},
		get:      s.vol.Metadata,
		set:      s.vol.SetMetadata,
		remove:   s.vol.DeleteMetadata,
		notFound: volume.MetadataNotFound,
		strict:   true,
	}
}

// actionArg reads the one required member key of action name's arguments.
func actionArg(name string, raw json.RawMessage, key string) (json.RawMessage, error) {
	args, err := actionArgs(name, raw, key)
	if err == nil {
		err = args.required(name, key)
	}
	if err != nil {
		return nil, err
	}
	return args[key], nil
}

// setImageMetadata is os-set_image_metadata {"metadata": {…}}: 200 with the
// volume's image metadata as stored, md merged in.
func (s *server) setImageMetadata(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	arg, err := actionArg("os-set_image_metadata", raw, "metadata")
	if err != nil {
		return reply{}, err
	}
	md, err := specsOf("metadata", arg, specKey, false)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume_extension:volume_image_metadata:set"); err != nil {
		return reply{}, err
	}
	all, err := s.vol.SetImageMetadata(r.Context(), id, md)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"metadata", all}}}, nil
}

// unsetImageMetadata is os-unset_image_metadata {"key": k}: 200.
func (s *server) unsetImageMetadata(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	arg, err := actionArg("os-unset_image_metadata", raw, "key")
	if err != nil {
		return reply{}, err
	}
	key, err := stringOf("key", arg, false, maxNameLen)
	if err == nil && key == "" {
		err = invalidField("key", arg, "'' is too short")
	}
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume_extension:volume_image_metadata:remove"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK}, s.vol.UnsetImageMetadata(r.Context(), id, key)
}

// showImageMetadata is os-show_image_metadata: 200 {"metadata": {…}}, the
// volume's image metadata.
func (s *server) showImageMetadata(r *http.Request, id string, _ json.RawMessage) (reply, error) {
	if err := s.authorize(r, "volume:get_volume_metadata"); err != nil {
		return reply{}, err
	}
	md, err := s.vol.ImageMetadata(r.Context(), id)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"metadata", metadataOf(md)}}}, nil
}

// setBootable is os-set_bootable {"bootable": bool}: 200, through the
// volume update (refused in maintenance), as Cinder.
func (s *server) setBootable(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	bootable, err := s.flagAction(r, "os-set_bootable", raw, "bootable", "volume:update")
	if err != nil {
		return reply{}, err
	}
	_, err = s.vol.Update(r.Context(), id, volume.Changes{Bootable: &bootable})
	return reply{status: http.StatusOK}, err
}

// updateReadonlyFlag is os-update_readonly_flag {"readonly": bool}: 202
// once the available volume's admin metadata says so.
func (s *server) updateReadonlyFlag(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	readonly, err := s.flagAction(r, "os-update_readonly_flag", raw, "readonly", "volume:update_readonly_flag")
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.UpdateReadonlyFlag(r.Context(), id, readonly)
}

// flagAction reads the boolean member key of action name, and authorizes
// rule.
func (s *server) flagAction(r *http.Request, name string, raw json.RawMessage, key, rule string) (bool, error) {
	arg, err := actionArg(name, raw, key)
	if err != nil {
		return false, err
	}
	flag, err := boolOf(key, arg)
	if err == nil {
		err = s.authorize(r, rule)
	}
	return flag, err
}
