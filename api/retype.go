package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/scheduler"
)

// migrationPolicies are the values of os-retype's migration_policy, in the
// order Cinder's schema lists them.
var migrationPolicies = []string{cinder.MigrationPolicyOnDemand, cinder.MigrationPolicyNever}

// retype is os-retype {"new_type": name or id, "migration_policy": "never"
// or "on-demand"}, as volume/api.py retype, allowed to the volume's owner:
// the volume must be available or in-use, not migrating, and of another
// type; a change of multiattach only while available. It goes to retyping
// and cinder-scheduler is asked to retype it, 202; when that cast cannot be
// sent the volume gets its statuses back, 503.
func (s *server) retype(r *http.Request, id string, raw json.RawMessage) (reply, error) {
	const name = "os-retype"
	args, err := objectOf(name, raw)
	if err != nil {
		return reply{}, err
	}
	// jsonschema's best match: a member's error first, then a missing or
	// an unexpected member.
	var ref string
	if raw, ok := args["new_type"]; ok {
		if ref, err = stringOf("new_type", raw, false, 0); err != nil {
			return reply{}, err
		}
	}
	policy := cinder.MigrationPolicyNever // Cinder's scheduler takes none as never
	if raw, ok := args["migration_policy"]; ok {
		if policy, err = stringOf("migration_policy", raw, true, 0); err != nil {
			return reply{}, err
		}
		if !slices.Contains(migrationPolicies, policy) { // null ("") too, as the schema's enum
			return reply{}, invalidField("migration_policy", raw, "%s is not one of ['on-demand', 'never']", pyRepr(raw))
		}
	}
	if err := args.required(name, "new_type"); err != nil {
		return reply{}, err
	}
	if err := args.only(name, "new_type", "migration_policy"); err != nil {
		return reply{}, err
	}
	rt, ok := s.sched.(Retyper)
	if !ok {
		return reply{}, newFault(http.StatusNotImplemented, "os-retype is not available: the scheduler client cannot retype volumes.")
	}
	v, err := s.getVolume(r, id)
	if err != nil {
		return reply{}, err
	}
	ctx := context.WithoutCancel(r.Context())
	if ref == "" {
		// resolveType would take it for the default type; Cinder looks up
		// the name "" and finds none.
		return reply{}, cinder.Errorf("VolumeTypeNotFoundByName", http.StatusNotFound, "Volume type with name %s could not be found.", ref)
	}
	t, err := s.resolveType(ctx, ref)
	if err != nil {
		return reply{}, err
	}
	multiattach := multiattachType(t)
	var before cinder.Volume
	v, err = s.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		if v.Multiattach != multiattach && v.Status != cinder.StatusAvailable {
			return cinder.InvalidInput("Invalid volume_type passed, retypes affecting multiattach are only allowed on available volumes, the specified volume however currently has a status of: %s.", v.Status)
		}
		if !slices.Contains([]string{cinder.StatusAvailable, cinder.StatusInUse}, v.Status) ||
			!slices.Contains(deletableMigration, v.MigrationStatus) || v.VolumeTypeID == t.ID {
			return cinder.InvalidVolume("Retype needs volume to be in available or in-use state, not be part of an active migration or a consistency group, requested type has to be different that the one from the volume, and for in-use volumes front-end qos specs cannot change.")
		}
		before = *v
		v.PreviousStatus, v.Status = v.Status, cinder.StatusRetyping
		return nil
	})
	if err != nil {
		return reply{}, err
	}
	spec := scheduler.RequestSpec{VolumeID: v.ID, Size: v.Size, VolumeType: t,
		AvailabilityZone: v.AvailabilityZone, MigrationPolicy: policy}
	if err := rt.Retype(ctx, v, spec); err != nil {
		s.rollback(ctx, &before, v)
		return reply{}, unreachable(err, "Could not ask cinder-scheduler to retype volume %s", v.ID)
	}
	if v.Multiattach != multiattach {
		// As Cinder, once the retype is cast.
		if _, err := s.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
			v.Multiattach = multiattach
			return nil
		}); err != nil {
			return reply{}, err
		}
	}
	return reply{status: http.StatusAccepted}, nil
}
