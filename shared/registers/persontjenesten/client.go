// Package persontjenesten adapts Norsk helsenett's Persontjenesten (API
// version 2), through which the health sector reads the population register:
// the event feed, bulk look-ups by register id, a look-up by national id,
// and the contact register's part. Calls are authorised by HelseID (a
// DPoP-bound token, see package helseid). The API's own description is
// Norsk helsenett's; infra/persontjenesten.yaml is ours, in small, of the
// part used here.
//
// Robustness: a 429 is honoured (Retry-After, seconds or a date) when the
// wait fits the caller's deadline, else the call fails with
// registerfeed.ErrThrottled; a 5xx or a network error is retried with
// exponential backoff. A person id appears only in a POST body, never in a
// URL, a log line or an error.
package persontjenesten

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/registerfeed"
)

// Paths of the "legal basis" routes the core uses (it has a legal basis to
// read its users' data: their consent).
const (
	eventsPath   = "/api/legal-basis/event"
	latestPath   = "/api/legal-basis/event/latest"
	bulkByIDPath = "/api/legal-basis/person/bulk-by-id"
	byNINPath    = "/api/legal-basis/person/get-by-nin"
	apiVersion   = "2"
	maxBody      = 16 << 20 // a page of 1,000 events or 100 persons is far below
)

// Doer sends an authorised request (helseid.Client).
type Doer interface {
	Do(ctx context.Context, req *http.Request) (*http.Response, error)
}

// Client calls Persontjenesten.
type Client struct {
	BaseURL string
	Auth    Doer
	// Retries is how many times a 429/5xx/network failure is retried.
	Retries int
	// Backoff is the first wait after a 5xx; it doubles each retry.
	Backoff time.Duration
	Sleep   func(ctx context.Context, d time.Duration) error
	Now     func() time.Time // for Retry-After dates (wall time)
}

// New returns a client with the default retry policy: 4 retries, backoff
// from 200 ms.
func New(baseURL string, auth Doer) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Auth: auth, Retries: 4, Backoff: 200 * time.Millisecond, Sleep: sleep, Now: time.Now}
}

// ErrNotFound is a person the register does not have.
var ErrNotFound = errors.New("person not found in the population register")

// StatusError is an answer the client does not retry.
type StatusError struct{ Status int }

func (e StatusError) Error() string { return fmt.Sprintf("persontjenesten answered %d", e.Status) }

// wire types: the fields read; other fields are ignored.
type eventDoc struct {
	SequenceNumber *string `json:"sequenceNumber"`
	PersonID       *string `json:"personId"`
	EventType      *string `json:"eventType"`
}

type personDoc struct {
	ID  *string `json:"id"`
	IDs []struct {
		Number  *string `json:"identificationNumber"`
		Status  *string `json:"status"`
		IsValid *bool   `json:"isValid"`
	} `json:"norwegianIdentificationNumber"`
	Death *struct {
		IsValid      *bool      `json:"isValid"`
		DeceasedDate *time.Time `json:"deceasedDate"`
	} `json:"death"`
	Status []struct {
		Status  *string `json:"status"`
		IsValid *bool   `json:"isValid"`
	} `json:"status"`
	Responsibility []struct {
		Responsible *string    `json:"responsible"`
		Subject     *string    `json:"subjectOfResponsibility"`
		IsValid     *bool      `json:"isValid"`
		ValidFrom   *time.Time `json:"validFrom"`
		ValidTo     *time.Time `json:"validTo"`
	} `json:"parentalResponsibility"`
	Contact *struct {
		Info *struct {
			Email *string `json:"email"`
			Phone *string `json:"phoneNumber"`
		} `json:"contactInformation"`
	} `json:"commonContactRegisterInformation"`
}

// Events implements registerfeed.Register.
func (c *Client) Events(ctx context.Context, from int64, types []string) ([]registerfeed.Event, error) {
	q := url.Values{"sequenceNumber": {strconv.FormatInt(from, 10)}, "eventTypes": types}
	var res struct {
		Results []eventDoc `json:"results"`
	}
	if err := c.call(ctx, http.MethodGet, eventsPath, q, nil, &res); err != nil {
		return nil, err
	}
	out := make([]registerfeed.Event, 0, len(res.Results))
	for _, d := range res.Results {
		ev := registerfeed.Event{RawSeq: deref(d.SequenceNumber), PersonID: deref(d.PersonID), Type: deref(d.EventType)}
		if n, err := strconv.ParseInt(ev.RawSeq, 10, 64); err == nil && n > 0 {
			ev.Seq = n
		}
		out = append(out, ev)
	}
	return out, nil
}

// Latest implements registerfeed.Register.
func (c *Client) Latest(ctx context.Context) (int64, error) {
	var d eventDoc
	err := c.call(ctx, http.MethodGet, latestPath, nil, nil, &d)
	if errors.Is(err, ErrNotFound) {
		return 0, nil // no events at all
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(deref(d.SequenceNumber), 10, 64)
	if err != nil {
		return 0, errors.New("persontjenesten: latest event has no numeric sequence number")
	}
	return n, nil
}

// Persons implements registerfeed.Register (up to 100 ids per call).
func (c *Client) Persons(ctx context.Context, ids []string, parts []string, history bool) (map[string]registerfeed.Person, error) {
	var docs []personDoc
	q := url.Values{"informationParts": parts, "includeHistory": {strconv.FormatBool(history)}}
	if err := c.call(ctx, http.MethodPost, bulkByIDPath, q, url.Values{"personIds": ids}, &docs); err != nil {
		return nil, err
	}
	out := make(map[string]registerfeed.Person, len(docs))
	for _, d := range docs {
		p := d.person()
		out[p.ID] = p
	}
	return out, nil
}

// ByNIN looks one person up by national id.
func (c *Client) ByNIN(ctx context.Context, id nin.ID, parts []string) (registerfeed.Person, error) {
	if id == (nin.ID{}) {
		return registerfeed.Person{}, errors.New("persontjenesten: no national id to look up")
	}
	var d personDoc
	q := url.Values{"informationParts": parts, "includeHistory": {"false"}}
	if err := c.call(ctx, http.MethodPost, byNINPath, q, url.Values{"nin": {id.Digits()}}, &d); err != nil {
		return registerfeed.Person{}, err
	}
	return d.person(), nil
}

func (d personDoc) person() registerfeed.Person {
	p := registerfeed.Person{ID: deref(d.ID)}
	for _, r := range d.IDs {
		cur := (r.IsValid == nil || *r.IsValid) && deref(r.Status) != "Discontinued"
		p.IDs = append(p.IDs, registerfeed.RegisteredID{Number: deref(r.Number), Current: cur})
	}
	if d.Death != nil {
		p.Death = &registerfeed.Death{Valid: d.Death.IsValid == nil || *d.Death.IsValid}
		if d.Death.DeceasedDate != nil {
			p.Death.Date = *d.Death.DeceasedDate
		}
	}
	for _, s := range d.Status {
		if s.IsValid == nil || *s.IsValid {
			p.Status = deref(s.Status)
		}
	}
	for _, r := range d.Responsibility {
		x := registerfeed.Responsibility{Parent: deref(r.Responsible), Child: deref(r.Subject), Valid: r.IsValid == nil || *r.IsValid}
		if r.ValidFrom != nil {
			x.From = *r.ValidFrom
		}
		if r.ValidTo != nil {
			x.To = *r.ValidTo
		}
		p.Responsibilities = append(p.Responsibilities, x)
	}
	if d.Contact != nil {
		p.Contact = &registerfeed.Contact{}
		if d.Contact.Info != nil {
			p.Contact.Email, p.Contact.Phone = deref(d.Contact.Info.Email), deref(d.Contact.Info.Phone)
		}
	}
	return p
}

// call sends one request with retries and decodes a 200 into out.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, form url.Values, out any) error {
	u := c.BaseURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	wait := c.Backoff
	for attempt := 0; ; attempt++ {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return fmt.Errorf("persontjenesten: %w", err)
		}
		req.Header.Set("api-version", apiVersion)
		req.Header.Set("Accept", "application/json")
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Auth.Do(ctx, req)
		var retryAfter time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return fmt.Errorf("persontjenesten %s: %w", path, ctx.Err())
			}
			err = fmt.Errorf("persontjenesten %s: %w", path, err)
		case resp.StatusCode == http.StatusOK:
			defer resp.Body.Close()
			if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
				return fmt.Errorf("persontjenesten %s: decode: %w", path, err)
			}
			return nil
		default:
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusNotFound:
				return ErrNotFound
			case resp.StatusCode == http.StatusTooManyRequests:
				retryAfter = c.retryAfter(resp.Header.Get("Retry-After"), wait)
				err = fmt.Errorf("persontjenesten %s: %w", path, registerfeed.ErrThrottled)
			case resp.StatusCode >= 500:
				err = fmt.Errorf("persontjenesten %s: %w", path, StatusError{resp.StatusCode})
			default:
				return fmt.Errorf("persontjenesten %s: %w", path, StatusError{resp.StatusCode})
			}
		}
		if attempt >= c.Retries {
			return err
		}
		d := wait
		if retryAfter > 0 {
			d = retryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return err // the wait does not fit the run: the next run goes on
		}
		if err := c.Sleep(ctx, d); err != nil {
			return fmt.Errorf("persontjenesten %s: %w", path, err)
		}
		wait *= 2
	}
}

// retryAfter reads Retry-After (delta seconds or an HTTP date).
func (c *Client) retryAfter(h string, def time.Duration) time.Duration {
	if h == "" {
		return def
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(0, t.Sub(c.Now()))
	}
	return def
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
