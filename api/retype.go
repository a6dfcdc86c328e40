package api

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/cinder-go/cinder"
)

// migrationPolicies are the values of os-retype's migration_policy, in the
// order Cinder's schema lists them.
var migrationPolicies = []string{cinder.MigrationPolicyOnDemand, cinder.MigrationPolicyNever}

// retype is os-retype {"new_type": name or id, "migration_policy": "never"
// or "on-demand"}, allowed to the volume's owner: 202 once cinder-scheduler
// has been asked to retype the volume.
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
	if err := s.authorize(r, "volume:retype"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.Retype(r.Context(), id, ref, policy)
}
