package localrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"privacycore/infra/fakenhn"
	"privacycore/shared/wire"
)

// The local admin routes live under adminPrefix on the runner's own server.
// They are not part of the template and need no token; they answer only
// requests addressed to a loopback host and refuse cross-origin browser
// requests, so a web page cannot move the clock or run a sweep.
//
//	GET  /_local/                     routes, tables, queues, schedules and the clock
//	POST /_local/schedules/{Function} run a scheduled function now
//	GET  /_local/clock                the clock: {"now": RFC 3339, "offset": "720h0m0s"}
//	POST /_local/clock?advance=720h   move it forward (a Go duration; or ?days=30)
//	POST /_local/register/events?type=death&pid=...
//	                                  add a change to the fake population register and
//	                                  publish its event (type, pid, newPid, parent, child,
//	                                  email, phone: see fakenhn.Change)
const adminPrefix = "/_local/"

// isAdminPath reports whether a path belongs to the admin routes.
func isAdminPath(p string) bool {
	return p+"/" == adminPrefix || strings.HasPrefix(p, adminPrefix)
}

var adminCrossOrigin = http.NewCrossOriginProtection()

// RouteInfo describes an HttpApi route of the template.
type RouteInfo struct {
	Method   string `json:"method"`
	Path     string `json:"path"`
	Function string `json:"function"`
}

// QueueInfo describes a queue of the template and the functions it feeds.
type QueueInfo struct {
	LogicalID       string         `json:"logicalId"`
	Name            string         `json:"name"`
	URL             string         `json:"url"`
	ARN             string         `json:"arn"`
	DeadLetterQueue string         `json:"deadLetterQueue,omitempty"` // logical id
	Consumers       []ConsumerInfo `json:"consumers"`
}

// ConsumerInfo describes one SQS event source.
type ConsumerInfo struct {
	Function           string `json:"function"`
	Event              string `json:"event"`
	BatchSize          int    `json:"batchSize"`
	ReportItemFailures bool   `json:"reportBatchItemFailures"`
}

// TriggerResult is what POST /_local/schedules/{Function} answers: the
// function's own result (what it did) under "result".
type TriggerResult struct {
	Function  string              `json:"function"`
	OK        bool                `json:"ok"`
	RequestID string              `json:"requestId"`
	Result    wire.ScheduleResult `json:"result"`
}

// ClockState is the clock as the admin routes show it.
type ClockState struct {
	Now    string `json:"now"`    // RFC 3339, UTC
	Offset string `json:"offset"` // ahead of real time, a Go duration
}

// Index is what GET /_local/ answers.
type Index struct {
	// Emulator is the endpoint of the local DynamoDB and SQS (for the AWS CLI).
	Emulator string `json:"emulator"`
	// Tables maps each table's logical id to its name (for the AWS CLI).
	Tables    map[string]string `json:"tables"`
	Routes    []RouteInfo       `json:"routes"`
	Queues    []QueueInfo       `json:"queues"`
	Schedules []ScheduleInfo    `json:"schedules"`
	Clock     ClockState        `json:"clock"`
}

// Queues lists the template's queues in template order, dead-letter queues
// included, each with the functions that consume it.
func (r *Runner) Queues() []QueueInfo {
	out := make([]QueueInfo, 0, len(r.Local.Resolved.Queues))
	for _, q := range r.Local.Resolved.Queues {
		qi := QueueInfo{
			LogicalID: q.LogicalID, Name: q.Name, URL: r.Local.QueueURLs[q.LogicalID], ARN: queueARN(q.Name),
			DeadLetterQueue: q.DeadLetterQueue, Consumers: []ConsumerInfo{},
		}
		for _, c := range r.consumers {
			if c.Queue.LogicalID == q.LogicalID {
				qi.Consumers = append(qi.Consumers, ConsumerInfo{Function: c.Function, Event: c.Event, BatchSize: c.BatchSize, ReportItemFailures: c.ReportItemFailures})
			}
		}
		out = append(out, qi)
	}
	return out
}

// ClockState returns the clock's current reading and offset.
func (r *Runner) ClockState() ClockState {
	return ClockState{Now: r.Clock.Now().UTC().Format(time.RFC3339), Offset: r.Clock.Offset().String()}
}

func (r *Runner) index() Index {
	ix := Index{Emulator: r.Local.Server.Endpoint, Tables: map[string]string{}, Routes: make([]RouteInfo, 0, len(r.routes)), Queues: r.Queues(), Schedules: r.Schedules(), Clock: r.ClockState()}
	for _, t := range r.Local.Resolved.Tables {
		ix.Tables[t.LogicalID] = t.Name
	}
	for _, rt := range r.routes {
		ix.Routes = append(ix.Routes, RouteInfo{Method: rt.Method, Path: rt.Path, Function: rt.Function})
	}
	return ix
}

// serveAdmin answers the admin routes.
func (r *Runner) serveAdmin(w http.ResponseWriter, req *http.Request) {
	if !loopbackHost(req.Host) {
		problem(w, http.StatusForbidden, "non_loopback_host", "The local admin routes answer only on a loopback address.")
		return
	}
	if err := adminCrossOrigin.Check(req); err != nil {
		problem(w, http.StatusForbidden, "cross_origin_request", "Cross-origin requests to the local admin routes are refused.")
		return
	}
	path := req.URL.Path
	switch {
	case path == adminPrefix || path+"/" == adminPrefix:
		if allow(w, req, http.MethodGet) {
			writeJSON(w, http.StatusOK, r.index())
		}
	case path == adminPrefix+"clock":
		if !allow(w, req, http.MethodGet, http.MethodPost) {
			return
		}
		if req.Method == http.MethodPost {
			r.advanceClock(w, req)
			return
		}
		writeJSON(w, http.StatusOK, r.ClockState())
	case strings.HasPrefix(path, adminPrefix+"schedules/"):
		fn := strings.TrimPrefix(path, adminPrefix+"schedules/")
		if fn == "" || strings.Contains(fn, "/") {
			problem(w, http.StatusNotFound, "route_not_found", "No such route.")
			return
		}
		if allow(w, req, http.MethodPost) {
			r.serveTrigger(w, req, fn)
		}
	case path == adminPrefix+"register/events":
		if allow(w, req, http.MethodPost) {
			r.serveRegisterEvent(w, req)
		}
	default:
		problem(w, http.StatusNotFound, "route_not_found", "No such route.")
	}
}

// serveRegisterEvent adds a change to the fake register (Runner.Register).
func (r *Runner) serveRegisterEvent(w http.ResponseWriter, req *http.Request) {
	if r.Register == nil {
		problem(w, http.StatusNotFound, "no_fake_register", "This runner has no fake population register.")
		return
	}
	q := req.URL.Query()
	seq, err := r.Register.Apply(fakenhn.Change{Type: q.Get("type"), PID: q.Get("pid"), NewPID: q.Get("newPid"),
		Parent: q.Get("parent"), Child: q.Get("child"), Email: q.Get("email"), Phone: q.Get("phone")})
	if err != nil {
		problem(w, http.StatusBadRequest, "bad_register_change", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"type": q.Get("type"), "sequenceNumber": seq})
}

// allow answers 405 unless the request's method is one of methods.
func allow(w http.ResponseWriter, req *http.Request, methods ...string) bool {
	for _, m := range methods {
		if req.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	problem(w, http.StatusMethodNotAllowed, "method_not_allowed", "The method is not allowed here.")
	return false
}

func (r *Runner) serveTrigger(w http.ResponseWriter, req *http.Request, fn string) {
	id, res, err := r.trigger(req.Context(), fn)
	switch {
	case errors.Is(err, ErrUnknownFunction):
		problem(w, http.StatusNotFound, "unknown_function", err.Error())
	case err != nil:
		// A local tool: the developer sees the handler's error.
		problem(w, http.StatusInternalServerError, "handler_failed", err.Error())
	default:
		writeJSON(w, http.StatusOK, TriggerResult{Function: fn, OK: true, RequestID: id, Result: res})
	}
}

func (r *Runner) advanceClock(w http.ResponseWriter, req *http.Request) {
	d, err := parseAdvance(req.URL.Query())
	if err == nil {
		_, err = r.Clock.Advance(d)
	}
	if err != nil {
		problem(w, http.StatusBadRequest, "invalid_advance", err.Error())
		return
	}
	st := r.ClockState()
	r.Log.Info("local clock advanced", "by", d.String(), "offset", st.Offset, "now", st.Now)
	writeJSON(w, http.StatusOK, st)
}

// parseAdvance reads ?advance=<Go duration> or ?days=<whole days>.
func parseAdvance(q url.Values) (time.Duration, error) {
	adv, hasAdv := q["advance"]
	days, hasDays := q["days"]
	switch {
	case hasAdv && hasDays:
		return 0, errors.New("give advance or days, not both")
	case hasAdv:
		d, err := time.ParseDuration(adv[0])
		if err != nil {
			return 0, fmt.Errorf("advance %q is not a Go duration such as 720h", adv[0])
		}
		if d < 0 {
			return 0, fmt.Errorf("advance %s: %w", d, ErrClockBackwards)
		}
		return d, nil
	case hasDays:
		n, err := strconv.Atoi(days[0])
		if err != nil {
			return 0, fmt.Errorf("days %q is not a whole number", days[0])
		}
		if n < 0 {
			return 0, fmt.Errorf("days %d: %w", n, ErrClockBackwards)
		}
		if n > int(MaxClockOffset/(24*time.Hour)) {
			return 0, fmt.Errorf("days %d: the clock can be at most %d days ahead", n, MaxClockOffset/(24*time.Hour))
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return 0, errors.New("say how far: ?advance=720h or ?days=30")
}

// loopbackHost reports whether a Host header names a loopback address.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
