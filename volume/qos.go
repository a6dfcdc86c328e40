package volume

import (
	"context"
	"slices"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// consumers are the valid consumers of QoS specs.
var consumers = []string{cinder.ConsumerBackEnd, cinder.ConsumerFrontEnd, cinder.ConsumerBoth}

// invalidConsumer is InvalidQoSSpecs for a consumer not in consumers, in
// Cinder's words (its message prints the field that refused the value).
var invalidConsumer = cinder.Errorf("InvalidQoSSpecs", 400, "Invalid qos specs: Valid consumer of QoS specs are: "+
	"QoSConsumerValues(default=<class 'oslo_versionedobjects.fields.UnspecifiedDefault'>,nullable=False,valid_values=('back-end', 'front-end', 'both'))")

// CreateQoS creates QoS specs name with specs, whose "consumer", if any,
// is the consumer (back-end when absent), as Cinder's qos_specs.create.
func (a *API) CreateQoS(ctx context.Context, name string, specs map[string]string) (*cinder.QoSSpecs, error) {
	q := &cinder.QoSSpecs{Name: name, Consumer: cinder.ConsumerBackEnd, Specs: map[string]string{}}
	if err := setQoSSpecs(q, specs); err != nil {
		return nil, err
	}
	return q, a.store.CreateQoSSpecs(ctx, q)
}

// setQoSSpecs sets specs on q: "consumer" is q's consumer, the others are specs.
func setQoSSpecs(q *cinder.QoSSpecs, specs map[string]string) error {
	for k, v := range specs {
		switch {
		case k != "consumer":
			q.Specs[k] = v
		case !slices.Contains(consumers, v):
			return invalidConsumer
		default:
			q.Consumer = v
		}
	}
	return nil
}

// GetQoS returns QoS specs id, or QoSSpecsNotFound.
func (a *API) GetQoS(ctx context.Context, id string) (*cinder.QoSSpecs, error) {
	return a.store.GetQoSSpecs(ctx, id)
}

// ListQoS returns the QoS specs f selects.
func (a *API) ListQoS(ctx context.Context, f db.QoSFilter) ([]*cinder.QoSSpecs, error) {
	return a.store.ListQoSSpecs(ctx, f)
}

// SetQoSKeys sets specs on QoS specs id ("consumer" sets its consumer).
func (a *API) SetQoSKeys(ctx context.Context, id string, specs map[string]string) error {
	_, err := a.store.UpdateQoSSpecs(ctx, id, func(q *cinder.QoSSpecs) error { return setQoSSpecs(q, specs) })
	return err
}

// UnsetQoSKeys removes keys from QoS specs id in order, as Cinder: up to
// the first it lacks (QoSSpecsKeyNotFound), keeping those removed before.
func (a *API) UnsetQoSKeys(ctx context.Context, id string, keys []string) error {
	var missing error
	_, err := a.store.UpdateQoSSpecs(ctx, id, func(q *cinder.QoSSpecs) error {
		for _, k := range keys {
			if _, ok := q.Specs[k]; !ok {
				missing = cinder.Errorf("QoSSpecsKeyNotFound", 404, "QoS spec %s has no spec with key %s.", id, k)
				break
			}
			delete(q.Specs, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return missing
}

// DeleteQoS deletes QoS specs id: with force even when volume types are
// associated with them (they no longer are), else not.
func (a *API) DeleteQoS(ctx context.Context, id string, force bool) error {
	err := a.store.DeleteQoSSpecs(ctx, id, force)
	if ce, ok := err.(*cinder.Error); ok && ce.Class == "QoSSpecsInUse" {
		return cinder.Errorf("QoSSpecsInUse", 400, "Qos specs still in use.")
	}
	return err
}

// QoSAssociations returns the volume types associated with QoS specs id.
func (a *API) QoSAssociations(ctx context.Context, id string) ([]*cinder.VolumeType, error) {
	if _, err := a.store.GetQoSSpecs(ctx, id); err != nil {
		return nil, err
	}
	return a.store.ListVolumeTypes(ctx, db.TypeFilter{QoSSpecsID: id})
}

// AssociateQoS associates volume type typeID with QoS specs id; a type
// may have only one.
func (a *API) AssociateQoS(ctx context.Context, id, typeID string) error {
	return a.store.AssociateQoSSpecs(ctx, id, typeID)
}

// DisassociateQoS disassociates volume type typeID from QoS specs id, or
// every type when typeID is "".
func (a *API) DisassociateQoS(ctx context.Context, id, typeID string) error {
	return a.store.DisassociateQoSSpecs(ctx, id, typeID)
}
