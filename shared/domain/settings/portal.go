package settings

import (
	"context"

	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

// PortalService applies the settings rules to a request in the portal: it resolves
// whose settings the request is about (the caller's own, or a child's named
// by id or by the person selector's reference), checks the age limit of the
// setting and whether it is the person's own to change, then applies it.
// There is one method per setting, so an HTTP handler decodes, makes one
// call and encodes.
type PortalService struct {
	Service *Service
	Keys    *personkey.Keyer
	IDs     nin.Rules // which person ids the stack accepts in a request
	// ChildRecordAge is the age under which a parent may change a child's
	// patient-record access (0: DefaultChildPatientRecordAge).
	ChildRecordAge int
}

// Request is who asks in the portal, and the child they name, if any.
type Request struct {
	Caller   nin.ID
	Child    string // a person id, from the body
	ChildRef string // the person selector's reference
}

// Get returns the settings of the caller, or of their child under ChildAge.
func (p *PortalService) Get(ctx context.Context, r Request) (State, error) {
	key, _, err := p.target(ctx, r, ChildAge)
	if err != nil {
		return State{}, err
	}
	return p.Service.Get(ctx, key)
}

// SetEmergencyBlock blocks or reinstates the caller's or their child's
// logged-in services (SetEmergencyBlockInPortal).
func (p *PortalService) SetEmergencyBlock(ctx context.Context, r Request, blocked bool) (State, error) {
	key, by, err := p.target(ctx, r, ChildAge)
	if err != nil {
		return State{}, err
	}
	return p.Service.SetEmergencyBlockInPortal(ctx, key, blocked, by, r.Caller)
}

// SetPatientRecordAccess removes or restores digital access to the patient
// record, the caller's or their child's under ChildRecordAge.
func (p *PortalService) SetPatientRecordAccess(ctx context.Context, r Request, enabled bool) (State, error) {
	age := p.ChildRecordAge
	if age <= 0 {
		age = DefaultChildPatientRecordAge
	}
	key, by, err := p.target(ctx, r, age)
	if err != nil {
		return State{}, err
	}
	return p.Service.SetPatientRecordAccessInPortal(ctx, key, enabled, by, r.Caller, age)
}

// SetSCRAccess removes or restores health personnel's access to the
// summary care record, the caller's or their child's within the catalogue
// band of scr_settings (under 12).
func (p *PortalService) SetSCRAccess(ctx context.Context, r Request, enabled bool) (State, error) {
	key, by, err := p.target(ctx, r, SCRChildAge())
	if err != nil {
		return State{}, err
	}
	return p.Service.SetSCRAccess(ctx, key, enabled, Who{By: by, Channel: Portal})
}

// SetSCROptOut opts the caller, or their child within the catalogue band of
// scr_settings (under 12), out of the summary care record or restores it.
func (p *PortalService) SetSCROptOut(ctx context.Context, r Request, optedOut bool) (State, error) {
	key, by, err := p.target(ctx, r, SCRChildAge())
	if err != nil {
		return State{}, err
	}
	who := Who{By: by, Channel: Portal}
	if optedOut {
		return p.Service.OptOutSCR(ctx, key, who)
	}
	return p.Service.RestoreSCR(ctx, key, who)
}

// SCRChildAge is the age under which a parent may change a child's summary
// care record settings: the child band of the catalogue's scr_settings.
func SCRChildAge() int {
	svc, _ := access.Lookup("scr_settings")
	return svc.ParentAgeLimit()
}

// target resolves whose settings a request is about: the caller's, or a
// child's when the caller has parental responsibility and the child is
// under maxAge (ChildOf); a person registered dead is refused (Alive).
func (p *PortalService) target(ctx context.Context, r Request, maxAge int) (personkey.Key, By, error) {
	me := p.Keys.Key(r.Caller)
	var child personkey.Key
	switch {
	case r.Child != "" && r.ChildRef != "":
		return "", "", domain.Errorf(domain.EInvalid, "ambiguous_child", "Give child or childRef, not both.")
	case r.Child != "":
		id, err := p.IDs.Parse(r.Child)
		if err != nil {
			return "", "", domain.Errorf(domain.EInvalid, "invalid_child", "child is not a valid person id.")
		}
		child = p.Keys.Key(id)
	case r.ChildRef != "":
		k, ok := personkey.ParseRef(r.ChildRef)
		if !ok {
			return "", "", domain.Errorf(domain.EInvalid, "invalid_child", "childRef is not a valid reference.")
		}
		child = k
	default:
		return me, BySelf, p.Service.Alive(ctx, me)
	}
	if err := p.Service.ChildOf(ctx, me, child, maxAge); err != nil {
		return "", "", err
	}
	return child, ByParent, nil
}
