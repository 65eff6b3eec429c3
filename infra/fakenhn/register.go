package fakenhn

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"privacycore/shared/domain/nin"
)

// Scope is the scope Persontjenesten's API requires (as in NHN's samples).
const Scope = "nhn:hgd-persontjenesten-api/full-access"

// PageSize is how many events the real API returns at most per page.
const PageSize = 1000

// Register is a fake Persontjenesten: a small in-memory population register
// with an event feed, served as the real API serves it (the legal-basis
// routes the core uses) and guarded by a HelseID fake.
type Register struct {
	Auth *HelseID
	// Strict makes a look-up of an id nobody added answer 404, as the real
	// register does. Off (the local default), every valid id is a living
	// resident on first look-up, so any test person can consent.
	Strict   bool
	PageSize int
	Now      func() time.Time
	// AfterRequest, if set, is called after each API answer with the count
	// so far (tests use it to expire tokens in the middle of a run).
	AfterRequest func(n int)
	// Delay, if set, holds every API answer this long (a slow register).
	Delay time.Duration

	mu       sync.Mutex
	persons  map[string]*person // by Persontjenesten person id
	byNIN    map[string]string  // every id a person ever had → person id
	events   []event
	throttle []throttled // answers queued ahead of the real ones (429, 5xx)
	requests int
}

type throttled struct {
	status     int
	retryAfter string
}

type event struct {
	Seq      int64
	PersonID string
	Type     string
}

type ninEntry struct {
	Number  string
	Current bool
}

type responsibility struct {
	Parent, Child string
	Valid         bool
	From, To      time.Time
}

type person struct {
	ID           string
	NINs         []ninEntry
	Dead         bool
	DeathDate    time.Time
	DeathValid   bool // false after an annulment
	Discontinued bool
	Resp         []responsibility
	Email, Phone string
	Malformed    bool
	Seq          int64
}

// NewRegister returns an empty register guarded by auth.
func NewRegister(auth *HelseID) *Register {
	return &Register{Auth: auth, PageSize: PageSize, Now: time.Now, persons: map[string]*person{}, byNIN: map[string]string{}}
}

// Throttle queues answers the API gives before answering normally again:
// status 429 (with retryAfter, seconds or empty) or a 5xx.
func (r *Register) Throttle(status int, retryAfter string, times int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if times == 0 {
		r.throttle = nil // clears what is queued
	}
	for range times {
		r.throttle = append(r.throttle, throttled{status, retryAfter})
	}
}

// Requests is how many API requests the register answered (any status).
func (r *Register) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// Latest is the highest sequence number, 0 if there are no events.
func (r *Register) Latest() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int64(len(r.events))
}

// Change is an admin change to the register; Apply turns it into the
// person data and the event the real register would publish.
type Change struct {
	Type   string `json:"type"`             // see Apply
	PID    string `json:"pid,omitempty"`    // the person
	NewPID string `json:"newPid,omitempty"` // id_change
	Parent string `json:"parent,omitempty"` // parental_responsibility_*
	Child  string `json:"child,omitempty"`
	Email  string `json:"email,omitempty"` // contact
	Phone  string `json:"phone,omitempty"`
}

// The change types Apply understands.
const (
	ChangeDeath          = "death"                         // PersonIsDeceased
	ChangeDeathAnnulled  = "death_annulled"                // ChangeInDeath (the death is withdrawn)
	ChangeParentSet      = "parental_responsibility_set"   // ChangeInParentalResponsibility
	ChangeParentEnded    = "parental_responsibility_ended" // ChangeInParentalResponsibility
	ChangeIDChange       = "id_change"                     // ChangeInNorwegianIdentificationNumber
	ChangeDiscontinued   = "discontinued"                  // PersonIsDiscontinued
	ChangeContact        = "contact"                       // ChangeInCommonContactRegisterInformation
	ChangePoison         = "poison"                        // PersonIsDeceased about a document that breaks the rules
	ChangeUnrelatedEvent = "address"                       // ChangeInResidentialAddress: an event type the core does not ask for
)

// Apply records a change and publishes its event; it returns the event's
// sequence number.
func (r *Register) Apply(c Change) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.Now().UTC()
	get := func(pid string) (*person, error) {
		id, err := nin.Parse(pid)
		if err != nil {
			return nil, errors.New("not a valid person id")
		}
		return r.personLocked(id.Digits()), nil
	}
	var p *person
	var typ string
	var err error
	switch c.Type {
	case ChangeDeath:
		if p, err = get(c.PID); err == nil {
			p.Dead, p.DeathValid, p.DeathDate, typ = true, true, now.Truncate(24*time.Hour), "PersonIsDeceased"
		}
	case ChangeDeathAnnulled:
		if p, err = get(c.PID); err == nil {
			p.DeathValid, typ = false, "ChangeInDeath"
		}
	case ChangeParentSet, ChangeParentEnded:
		var parent *person
		if parent, err = get(c.Parent); err != nil {
			return 0, err
		}
		if p, err = get(c.Child); err != nil {
			return 0, err
		}
		if parent == p {
			return 0, errors.New("parent and child are the same person")
		}
		pn, cn := parent.current(), p.current()
		found := false
		for i := range p.Resp {
			if p.Resp[i].Parent == pn && p.Resp[i].Valid {
				found = true
				if c.Type == ChangeParentEnded {
					p.Resp[i].Valid, p.Resp[i].To = false, now
				}
			}
		}
		if c.Type == ChangeParentSet && !found {
			p.Resp = append(p.Resp, responsibility{Parent: pn, Child: cn, Valid: true, From: now})
		}
		if c.Type == ChangeParentEnded && !found {
			return 0, errors.New("no parental responsibility to end")
		}
		typ = "ChangeInParentalResponsibility"
	case ChangeIDChange:
		if p, err = get(c.PID); err != nil {
			return 0, err
		}
		next, perr := nin.Parse(c.NewPID)
		if perr != nil {
			return 0, errors.New("newPid is not a valid person id")
		}
		if _, taken := r.byNIN[next.Digits()]; taken {
			return 0, errors.New("newPid is in use")
		}
		for i := range p.NINs {
			p.NINs[i].Current = false
		}
		p.NINs = append(p.NINs, ninEntry{Number: next.Digits(), Current: true})
		r.byNIN[next.Digits()] = p.ID
		typ = "ChangeInNorwegianIdentificationNumber"
	case ChangeDiscontinued:
		if p, err = get(c.PID); err == nil {
			p.Discontinued, typ = true, "PersonIsDiscontinued"
		}
	case ChangeContact:
		if p, err = get(c.PID); err == nil {
			p.Email, p.Phone, typ = c.Email, c.Phone, "ChangeInCommonContactRegisterInformation"
		}
	case ChangePoison:
		p = &person{ID: newPersonID(), Malformed: true, NINs: []ninEntry{{Number: "0000000000", Current: true}}}
		r.persons[p.ID] = p
		typ = "PersonIsDeceased"
	case ChangeUnrelatedEvent:
		if p, err = get(c.PID); err == nil {
			typ = "ChangeInResidentialAddress"
		}
	default:
		return 0, fmt.Errorf("unknown change type %q", c.Type)
	}
	if err != nil {
		return 0, err
	}
	seq := int64(len(r.events)) + 1
	p.Seq = seq
	r.events = append(r.events, event{Seq: seq, PersonID: p.ID, Type: typ})
	return seq, nil
}

// personLocked returns the person with id digits, creating a living resident.
func (r *Register) personLocked(digits string) *person {
	if id, ok := r.byNIN[digits]; ok {
		return r.persons[id]
	}
	// Like most people, a new person has contact details in the contact
	// register: made up, stable per id, on example.invalid (never deliverable).
	sum := sha256.Sum256([]byte("fakenhn-contact\x00" + digits))
	n := (uint32(sum[0])<<16 | uint32(sum[1])<<8 | uint32(sum[2])) % 10_000_000
	p := &person{ID: newPersonID(), NINs: []ninEntry{{Number: digits, Current: true}},
		Phone: fmt.Sprintf("+479%07d", n), Email: fmt.Sprintf("person-%x@example.invalid", sum[3:7])}
	r.persons[p.ID] = p
	r.byNIN[digits] = p.ID
	return p
}

func (p *person) current() string {
	for _, n := range p.NINs {
		if n.Current {
			return n.Number
		}
	}
	return ""
}

func newPersonID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// API paths the fake serves (the "legal basis" variants the core uses).
const (
	EventsPath    = "/api/legal-basis/event"
	LatestPath    = "/api/legal-basis/event/latest"
	BulkByIDPath  = "/api/legal-basis/person/bulk-by-id"
	GetByNINPath  = "/api/legal-basis/person/get-by-nin"
	apiVersion    = "2"
	maxBulkPerson = 100
)

// ServeHTTP serves the API: HelseID-authorised, api-version 2.
func (r *Register) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	delay := r.Delay
	r.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return
		}
	}
	r.mu.Lock()
	r.requests++
	if after, n := r.AfterRequest, r.requests; after != nil {
		defer after(n)
	}
	if len(r.throttle) > 0 {
		t := r.throttle[0]
		r.throttle = r.throttle[1:]
		r.mu.Unlock()
		if t.retryAfter != "" {
			w.Header().Set("Retry-After", t.retryAfter)
		}
		problemDetails(w, t.status, "Throttled", "try again later")
		return
	}
	r.mu.Unlock()
	self := "http://" + req.Host + req.URL.Path
	if err := r.Auth.Authorize(req, self, Scope); err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, errScope) {
			status = http.StatusForbidden
		}
		w.Header().Set("WWW-Authenticate", `DPoP error="invalid_token"`)
		w.WriteHeader(status) // the real API answers 401/403 without a body
		return
	}
	if req.Header.Get("api-version") != apiVersion {
		problemDetails(w, http.StatusBadRequest, "Bad request", "api-version 2 is required")
		return
	}
	switch {
	case req.Method == http.MethodGet && req.URL.Path == EventsPath:
		r.serveEvents(w, req)
	case req.Method == http.MethodGet && req.URL.Path == LatestPath:
		r.serveLatest(w)
	case req.Method == http.MethodPost && req.URL.Path == BulkByIDPath:
		r.serveBulk(w, req)
	case req.Method == http.MethodPost && req.URL.Path == GetByNINPath:
		r.serveByNIN(w, req)
	default:
		problemDetails(w, http.StatusNotFound, "Not found", "no such route")
	}
}

func (r *Register) serveEvents(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	from := int64(1)
	if s := q.Get("sequenceNumber"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			problemDetails(w, http.StatusBadRequest, "Bad request", "sequenceNumber")
			return
		}
		from = n
	}
	types := map[string]bool{}
	for _, t := range q["eventTypes"] {
		if !knownEventTypes[t] {
			problemDetails(w, http.StatusBadRequest, "Bad request", "eventTypes")
			return
		}
		types[t] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []map[string]any{}
	for _, e := range r.events {
		if e.Seq < from || len(types) > 0 && !types[e.Type] {
			continue
		}
		out = append(out, map[string]any{"sequenceNumber": strconv.FormatInt(e.Seq, 10), "personId": e.PersonID, "eventType": e.Type})
		if len(out) == r.PageSize {
			break
		}
	}
	writeJSON(w, map[string]any{"results": out})
}

func (r *Register) serveLatest(w http.ResponseWriter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		problemDetails(w, http.StatusNotFound, "Not found", "no events")
		return
	}
	e := r.events[len(r.events)-1]
	writeJSON(w, map[string]any{"sequenceNumber": strconv.FormatInt(e.Seq, 10), "personId": e.PersonID, "eventType": e.Type})
}

func parts(w http.ResponseWriter, req *http.Request) (map[string]bool, bool, bool) {
	q := req.URL.Query()
	ps := map[string]bool{}
	for _, p := range q["informationParts"] {
		if !knownParts[p] {
			problemDetails(w, http.StatusBadRequest, "Bad request", "informationParts")
			return nil, false, false
		}
		ps[p] = true
	}
	if len(ps) == 0 {
		problemDetails(w, http.StatusBadRequest, "Bad request", "informationParts is required")
		return nil, false, false
	}
	history := false
	if h := q.Get("includeHistory"); h != "" {
		b, err := strconv.ParseBool(h)
		if err != nil {
			problemDetails(w, http.StatusBadRequest, "Bad request", "includeHistory")
			return nil, false, false
		}
		history = b
	}
	return ps, history, true
}

func (r *Register) serveBulk(w http.ResponseWriter, req *http.Request) {
	ps, history, ok := parts(w, req)
	if !ok {
		return
	}
	if err := req.ParseForm(); err != nil {
		problemDetails(w, http.StatusBadRequest, "Bad request", "form")
		return
	}
	ids := req.PostForm["personIds"]
	if len(ids) == 0 || len(ids) > maxBulkPerson {
		problemDetails(w, http.StatusBadRequest, "Bad request", "personIds: 1 to 100")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []map[string]any{}
	for _, id := range ids {
		if p, ok := r.persons[id]; ok {
			out = append(out, r.document(p, ps, history))
		}
	}
	writeJSON(w, out)
}

func (r *Register) serveByNIN(w http.ResponseWriter, req *http.Request) {
	ps, history, ok := parts(w, req)
	if !ok {
		return
	}
	if err := req.ParseForm(); err != nil {
		problemDetails(w, http.StatusBadRequest, "Bad request", "form")
		return
	}
	id, err := nin.Parse(req.PostForm.Get("nin"))
	if err != nil {
		problemDetails(w, http.StatusBadRequest, "Bad request", "nin")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, known := r.byNIN[id.Digits()]; !known && r.Strict {
		problemDetails(w, http.StatusNotFound, "Not found", "person not found")
		return
	}
	writeJSON(w, r.document(r.personLocked(id.Digits()), ps, history))
}

// document renders the person as the API does, with only the parts asked
// for. Parental responsibility shows on both sides: the child's own entries
// and, on a parent's document, those that name them as responsible. Call
// with r.mu held.
func (r *Register) document(p *person, ps map[string]bool, history bool) map[string]any {
	resp := append([]responsibility(nil), p.Resp...)
	for _, o := range r.persons {
		for _, x := range o.Resp {
			if o != p && x.Parent == p.current() {
				resp = append(resp, x)
			}
		}
	}
	doc := map[string]any{"id": p.ID, "sequenceNumber": p.Seq}
	if ps["NorwegianIdentificationNumber"] {
		var ns []map[string]any
		for _, n := range p.NINs {
			if !n.Current && !history {
				continue
			}
			status, typ := "InUse", "NationalIdentityNumber"
			if !n.Current {
				status = "Discontinued"
			}
			if len(n.Number) == 11 && n.Number[0] >= '4' && n.Number[0] <= '7' {
				typ = "DNumber"
			}
			ns = append(ns, map[string]any{"identificationNumber": n.Number, "identificationNumberType": typ, "status": status, "isValid": n.Current})
		}
		doc["norwegianIdentificationNumber"] = ns
	}
	if ps["Death"] && p.Dead && (p.DeathValid || history) {
		doc["death"] = map[string]any{"deceasedDate": p.DeathDate.Format(time.RFC3339), "isValid": p.DeathValid}
	}
	if ps["Status"] {
		status := "Resident"
		switch {
		case p.Discontinued:
			status = "Discontinued"
		case p.Dead && p.DeathValid:
			status = "Deceased"
		}
		doc["status"] = []map[string]any{{"status": status, "isValid": true}}
	}
	if ps["ParentalResponsibility"] {
		var rs []map[string]any
		for _, x := range resp {
			if !x.Valid && !history {
				continue
			}
			e := map[string]any{"responsible": x.Parent, "subjectOfResponsibility": x.Child, "responsibilityType": "Joint",
				"isValid": x.Valid, "validFrom": x.From.Format(time.RFC3339)}
			if !x.To.IsZero() {
				e["validTo"] = x.To.Format(time.RFC3339)
			}
			rs = append(rs, e)
		}
		doc["parentalResponsibility"] = rs
	}
	if ps["CommonContactRegisterInformation"] {
		ci := map[string]any{}
		if p.Email != "" {
			ci["email"] = p.Email
		}
		if p.Phone != "" {
			ci["phoneNumber"] = p.Phone
		}
		doc["commonContactRegisterInformation"] = map[string]any{"status": "Active", "reservation": "No", "contactInformation": ci}
	}
	return doc
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func problemDetails(w http.ResponseWriter, status int, title, detail string) {
	// The published description gives ProblemDetails as application/json.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": title, "status": status, "detail": detail})
}

var knownEventTypes = setOf(strings.Fields(`Unknown PersonIsCreated PersonIsReactivated PersonIsUpdated PersonIsDiscontinued
PersonIsContinuedAsValidUponMerger PersonIsDiscontinuedAsDuplicate PersonIsChangedBySplitting PersonIsRestoredBySplitting
PersonIsDeceased PersonIsResident PersonIsEmigrated ChangeInStatus ChangeInIdentityVerification
ChangeInForeignPersonIdentificationNumber ChangeInImmigrationAuthoritiesIdentificationNumber ChangeInIdentificationDocument
ChangeInNorwegianIdentificationNumber ChangeInFalseIdentity ChangeInResiduaryEstateContactInformation ChangeInSharedResidence
ChangeInBirth ChangeInBirthInNorway ChangeInGender ChangeInFamilyRelation ChangeInMaritalStatus ChangeInDeath ChangeInName
ChangeInAddressProtection ChangeInResidentialAddress ChangeInResidentialAddressWithoutRelocation ChangeInPresentAddress
ChangeInImmigrationToNorway ChangeInEmigrationFromNorway ChangeInUseOfSamiLanguage ChangeInSamiParliamentElectoralRegistryStatus
ChangeInContactinformation ChangeInParentalResponsibility ChangeInCitizenship ChangeInResidency ChangeInResidencyOnSvalbard
ChangeInGuardianship ChangeInPerson PersonCorrected PersonPopulated ChangeInPostalAddress ChangeInForeignPostalAddress
ChangeInResidencePermit ChangeInDeprivedLegalAuthority CreatedAlternateIdentificationNumber UpdatedAlternateIdentificationNumber
ChangeInLegalAuthority ChangeInCommonContactRegisterInformation`))

var knownParts = setOf(strings.Fields(`AddressProtection CitizenshipRetention ResidentialAddress UseOfSamiLanguage SharedResidence
Death FalseIdentity FamilyRelation Birth BirthInNorway ParentalResponsibility SamiParliamentElectoralRegistryStatus
NorwegianIdentificationNumber IdentityVerification ImmigrationToNorway Gender ResiduaryEstateContactInformation
IdentificationDocument Name ResidencePermit StayOnSvalbard PresentAddress PostalAddress ForeignPostalAddress
PreferredContactAddress MaritalStatus Citizenship Status ForeignPersonIdentificationNumber EmigrationFromNorway
ImmigrationAuthoritiesIdentificationNumber GuardianshipOrFuturePowerOfAttorney DeprivedLegalAuthority
CommonContactRegisterInformation LegalAuthority`))

func setOf(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}
